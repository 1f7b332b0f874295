/* A write through a dangling pointer: a session is closed (freed), then
 * its request counter is bumped, and the server goes on serving. Plain
 * malloc doesn't notice. The segalloc debug build fills freed blocks with
 * poison and keeps them in a quarantine (SEGALLOC_QUARANTINE_BYTES, 4 MiB
 * per thread by default) instead of reusing them; when the freed session
 * leaves the quarantine, its poison is checked and the write is reported
 * as "use-after-free", with the block's allocation and free backtraces.
 * (segalloc_check_heap(), segalloc_flush_quarantine() and
 * SEGALLOC_CHECK_EVERY=<n> check the quarantine too.)
 *
 *   gcc -g -O0 -o use_after_free examples/use_after_free.c
 *   LD_PRELOAD=$PWD/bazel-bin/debug/libsegalloc_debug.so ./use_after_free */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUFFER_SIZE 16384
#define SESSIONS 4096 /* 64 MiB of buffers, freed one after another */

struct session {
  char user[32];
  long requests;
  char *buffer;
};

static struct session *open_session(const char *user) {
  struct session *s = calloc(1, sizeof *s);
  if (s == NULL || (s->buffer = malloc(BUFFER_SIZE)) == NULL)
    exit(1);
  strncpy(s->user, user, sizeof s->user - 1);
  memset(s->buffer, 0, BUFFER_SIZE);
  return s;
}

static void close_session(struct session *s) {
  free(s->buffer);
  free(s);
}

int main(void) {
  struct session *s = open_session("alice");
  close_session(s);
  s->requests++; /* bug: s was freed */
  printf("closed the session of alice\n");
  fflush(stdout);

  long served = 0;
  for (int i = 0; i < SESSIONS; i++) {
    struct session *t = open_session("bob");
    t->requests++;
    served += t->requests;
    close_session(t);
  }
  printf("served %ld more sessions\n", served);
  return 0;
}
