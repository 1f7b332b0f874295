/* A write through a dangling pointer: a session object is freed, then its
 * counter is bumped. Plain malloc doesn't notice; the segalloc debug build
 * poisons freed blocks and keeps them in quarantine, and reports
 * "use-after-free" when the poison has changed.
 *
 *   gcc -g -O0 -o use_after_free examples/use_after_free.c
 *   LD_PRELOAD=$PWD/bazel-bin/debug/libsegalloc_debug.so ./use_after_free */
#include <stdio.h>
#include <stdlib.h>

struct session {
  char user[32];
  long requests;
};

static void close_session(struct session *s) {
  free(s);
}

int main(void) {
  struct session *s = calloc(1, sizeof *s);
  if (s == NULL)
    return 1;
  close_session(s);
  s->requests++; /* bug: s was freed */
  printf("session at %p closed\n", (void *)s);
  return 0;
}
