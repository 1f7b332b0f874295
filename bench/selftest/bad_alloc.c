/* bad_alloc: a deliberately broken malloc for bench/selftest.sh.
 *
 * The runner must turn allocator bugs into FAIL cells, not silently drop
 * them or hang. Preloaded as "segalloc", this shim wraps glibc's malloc
 * and misbehaves per program (by /proc/self/comm):
 *   - prodcons:      SIGSEGV after 100000 frees           -> "signal:11"
 *   - cache_scratch: blocks forever after 5000 mallocs    -> "timeout"
 *   - everything:    flips a byte in 1 of 10000 reallocs  -> "wrong output"
 *                    (realloc_grow hashes its buffers)
 * Other workloads (churn) run correctly and must stay clean. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* glibc's own entry points, so the shim needs no dlsym() bootstrapping. */
extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_calloc(size_t, size_t);

static int mode; /* 1: hang in malloc, 2: crash in free */
static unsigned long calls;

__attribute__((constructor)) static void pick_mode(void) {
  char comm[32] = {0};
  FILE *f = fopen("/proc/self/comm", "r");
  if (f != NULL) {
    if (fgets(comm, sizeof comm, f) == NULL) {
      comm[0] = '\0';
    }
    fclose(f);
  }
  if (strncmp(comm, "cache_scratch", 13) == 0) {
    mode = 1;
  } else if (strncmp(comm, "prodcons", 8) == 0) {
    mode = 2;
  }
}

void *malloc(size_t n) {
  if (mode == 1 && __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED) > 5000) {
    for (;;) {
      pause();
    }
  }
  return __libc_malloc(n);
}

void free(void *p) {
  if (mode == 2 && __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED) > 100000) {
    raise(SIGSEGV);
  }
  __libc_free(p);
}

void *calloc(size_t n, size_t size) {
  return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n) {
  static unsigned long reallocs;
  unsigned char *q = __libc_realloc(p, n);
  if (q != NULL && n > 100 &&
      __atomic_add_fetch(&reallocs, 1, __ATOMIC_RELAXED) % 10000 == 0) {
    q[50] ^= 1;
  }
  return q;
}
