/* A program for the options and guard tests: runs one scenario against
 * the debug build, whose options come from the environment the test sets
 * (run_scenario.h). */
#include "segalloc_debug.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void overflow_then_free(void) {
  char *p = segalloc_malloc(10);
  ((volatile char *)p)[10] = 1;
  segalloc_free(p);
}

/* SEGALLOC_CHECK_EVERY: found at a later call, before any free. */
static void overflow_then_malloc(void) {
  char *p = segalloc_malloc(10);
  ((volatile char *)p)[10] = 1;
  for (int i = 0; i < 10; i++)
    segalloc_malloc(10);
}

/* 32 bytes past an 8-byte block: past its footer, into the next block. */
static void overflow_32_never_freed(void) {
  volatile char *p = segalloc_malloc(8);
  segalloc_malloc(8);
  for (int i = 8; i < 8 + 32; i++)
    p[i] = 'x';
}

static void underflow_never_freed(void) {
  char *p = segalloc_malloc(24);
  ((volatile char *)p)[-1] ^= 1; /* the canary is keyed: flip, never guess */
}

static void free_flush_free(void) {
  char *p = segalloc_malloc(10);
  segalloc_free(p);
  segalloc_free(p);
}

static void print_new_byte(void) {
  unsigned char *p = segalloc_malloc(64);
  printf("0x%02x\n", p[63]);
  segalloc_free(p);
}

/* Written after free, still in quarantine when the program ends. */
static void write_after_free(void) {
  char *p = segalloc_malloc(40);
  segalloc_free(p);
  ((volatile char *)p)[5] = 1;
}

static void leak_one(void) {
  segalloc_malloc(42);
}

/* ---- guard pages (guard_test) ---- */

static void write_at(char *p, ptrdiff_t at) {
  ((volatile char *)p)[at] = 1;
}

static void read_at(const char *p, ptrdiff_t at) {
  (void)((const volatile char *)p)[at];
}

static void overflow_write(void) {
  write_at(segalloc_malloc(13), 16);
}

static void overflow_read(void) {
  read_at(segalloc_malloc(13), 20);
}

/* With SEGALLOC_GUARD_SIDE=left. */
static void underflow_write(void) {
  char *p = segalloc_malloc(13);
  write_at(p, -1);
  segalloc_free(p); /* with the guard on the right, found here */
}

static void underflow_read(void) {
  read_at(segalloc_malloc(100), -4);
}

/* A block that fills its pages exactly: with the guard on the right, the
 * bytes before it are the previous block's guard page, yet the underflow
 * is blamed on the nearer block, this one. */
static void underflow_into_the_previous_guard(void) {
  segalloc_malloc(100);
  write_at(segalloc_malloc(4096), -2);
}

/* The first guarded block, with the guard on the right: the page before
 * it is the pool's first, no block's. */
static void underflow_of_the_first_block(void) {
  write_at(segalloc_malloc(4096), -2);
}

/* The last guarded block, with the guard on the left: the page after it
 * is no block's yet. */
static void overflow_of_the_last_block(void) {
  write_at(segalloc_malloc(4096), 4097);
}

/* With SEGALLOC_GUARD_SIDE=left: a write far into the rest of the page
 * after the block, which stays accessible: found at free, since a guarded
 * block's footer is all of that slack. */
static void overflow_far_into_the_footer(void) {
  char *p = segalloc_malloc(100);
  write_at(p, 100 + 3000);
  segalloc_free(p);
}

/* The bytes between p + n and the guard page (the next page boundary). */
static size_t slack_of(const char *p, size_t n) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  return (page - (uintptr_t)(p + n) % page) % page;
}

/* 0 if p, a guarded block of n bytes, is aligned to `align` and ends as
 * near its guard page as that allows; else says what is wrong. */
static int misplaced(const char *call, size_t n, const char *p, size_t align) {
  size_t want = (align - n % align) % align;
  if ((uintptr_t)p % align == 0 && slack_of(p, n) == want)
    return 0;
  printf("%s(%zu) = %p: %zu bytes before the guard page, %zu expected\n", call,
         n, (const void *)p, slack_of(p, n), want);
  return 1;
}

/* With SEGALLOC_GUARD=all: malloc, calloc and realloc of n < 16 bytes are
 * aligned only as C asks, for the types no larger than n (the largest
 * power of two <= n), so that their end is nearer the guard; from 16
 * bytes on, and for the aligned calls of any size, 16. */
static void guarded_alignment(void) {
  int bad = 0;
  for (size_t n = 0; n <= 40; n++) {
    size_t align = 16;
    while (align > 1 && n < align)
      align /= 2;
    char *p = segalloc_malloc(n);
    bad += misplaced("malloc", n, p, align);
    char *q = segalloc_calloc(1, n);
    bad += misplaced("calloc", n, q, align);
    if (n != 0) {
      char *r = segalloc_realloc(segalloc_malloc(100), n);
      bad += misplaced("realloc", n, r, align);
      segalloc_free(r);
    }
    void *a = NULL;
    bad += segalloc_posix_memalign(&a, 16, n) != 0 ||
           misplaced("posix_memalign", n, a, 16);
    char *b = segalloc_aligned_alloc(16, n);
    bad += misplaced("aligned_alloc", n, b, 16);
    char *c = segalloc_memalign(8, n);
    bad += misplaced("memalign", n, c, 16);
    segalloc_free(p), segalloc_free(q), segalloc_free(a);
    segalloc_free(b), segalloc_free(c);
  }
  printf(bad == 0 ? "aligned as C asks\n" : "%d misplaced\n", bad);
}

/* An 8-byte block ends at its guard: a read 1 byte past it faults. */
static void overflow_read_8_by_1(void) {
  read_at(segalloc_malloc(8), 8);
}

/* 1 MiB before the first guarded block: where the pool's tables were. */
static void underflow_1m_of_the_first_block(void) {
  write_at(segalloc_malloc(100), -(ptrdiff_t)(1 << 20));
}

static void use_after_free_read(void) {
  char *p = segalloc_malloc(40);
  segalloc_free(p);
  read_at(p, 39);
}

static void use_after_free_write(void) {
  char *p = segalloc_malloc(5000);
  segalloc_free(p);
  write_at(p, 0);
}

static void malloc0_read(void) {
  read_at(segalloc_malloc(0), 0);
}

static void malloc0_write_after_free(void) {
  char *p = segalloc_malloc(0);
  segalloc_free(p);
  write_at(p, 0);
}

static void realloc_stale(void) {
  char *p = segalloc_malloc(8);
  char *q = segalloc_realloc(p, 1024);
  if (q == p)
    printf("realloc did not move\n");
  write_at(p, 0);
  /* Without guards the quarantine finds it, here or at exit. */
  segalloc_flush_quarantine();
}

/* A huge block whose mapping went back to the OS. */
static void huge_double_free(void) {
  char *p = segalloc_malloc(3 << 20);
  segalloc_free(p);
  segalloc_flush_quarantine();
  segalloc_free(p);
}

/* An address no allocator hands out (volatile: no compiler warning). */
static char *volatile wild = (char *)16;

static void exit_42(int sig) {
  (void)sig;
  _exit(42);
}

/* A fault in no guarded block goes to the program's own handler. */
static void foreign_fault_chains(void) {
  signal(SIGSEGV, exit_42);
  segalloc_free(segalloc_malloc(10)); /* installs the guard handler */
  write_at(wild, 0);
}

/* ... or, with none, kills the process as it would without segalloc. */
static void foreign_fault_default(void) {
  segalloc_free(segalloc_malloc(10));
  write_at(wild, 0);
}

/* Far more guarded blocks than vm.max_map_count (65530 by default)
 * allows: canaries take over, said once, and all blocks work. */
static void many_blocks(void) {
  enum { N = 40000 };
  static char *blocks[N];
  for (int i = 0; i < N; i++) {
    blocks[i] = segalloc_malloc(24);
    memset(blocks[i], i, 24);
  }
  for (int i = 0; i < N; i++)
    segalloc_free(blocks[i]);
  if (segalloc_check_heap() == 0)
    printf("all blocks fine\n");
}

/* SEGALLOC_GUARD=sites:N guards the first block of each call site: the
 * loop's blocks come from one site, the last block from another. */
static void sites(void) {
  char *p = NULL;
  for (int i = 0; i < 1000; i++) {
    segalloc_free(p);
    p = segalloc_malloc(13);
  }
  read_at(p, 19); /* unguarded: no fault */
  read_at(segalloc_malloc(13), 20);
}

/* SEGALLOC_ON_ERROR=report: the access completes and the program goes on. */
static void overflow_then_continue(void) {
  char *p = segalloc_malloc(13);
  read_at(p, 16);
  write_at(p, 17);
  segalloc_free(p);
  printf("continued\n");
}

typedef struct thread_arg_s {
  char **slot;
  int overflow;
} thread_arg_t;

static void *churn(void *arg) {
  thread_arg_t *a = arg;
  if (a->overflow)
    write_at(*a->slot, 320); /* 299 bytes, 5 of slack, then the guard */
  for (int i = 0; i < 2000; i++) {
    char *fresh = segalloc_malloc((size_t)(i % 300));
    memset(fresh, i, (size_t)(i % 300));
    segalloc_free(__atomic_exchange_n(a->slot, fresh, __ATOMIC_ACQ_REL));
  }
  return NULL;
}

/* Threads allocate and free each other's guarded blocks; then one
 * overflows a block, reported on its own alternate stack. */
static void threads_then_overflow(void) {
  enum { T = 4 };
  static char *shared;
  pthread_t t[T];
  thread_arg_t args[T];
  for (int i = 0; i < T; i++) {
    args[i] = (thread_arg_t){&shared, 0};
    pthread_create(&t[i], NULL, churn, &args[i]);
  }
  for (int i = 0; i < T; i++)
    pthread_join(t[i], NULL);
  if (segalloc_check_heap() != 0)
    return;
  segalloc_free(shared);
  shared = segalloc_malloc(299);
  args[0].overflow = 1;
  pthread_create(&t[0], NULL, churn, &args[0]);
  pthread_join(t[0], NULL);
}

/* A child inherits the guarded blocks, and the handler. */
static void fork_then_overflow(void) {
  char *p = segalloc_malloc(13);
  pid_t pid = fork();
  if (pid == 0) {
    segalloc_free(segalloc_malloc(10));
    write_at(p, 16);
    _exit(0);
  }
  int status;
  waitpid(pid, &status, 0);
  segalloc_free(p);
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT)
    printf("child aborted\n");
}

static int print_block(void *ptr, size_t size, const void *site, void *ctx) {
  (void)ptr, (void)site, (void)ctx;
  printf("walked %zu\n", size);
  return 0;
}

/* Guarded blocks are in the heap walk, usable_size and the leak check. */
static void walk_and_leak(void) {
  char *p = segalloc_malloc(42);
  char *q = segalloc_realloc(segalloc_malloc(10), 20000);
  segalloc_walk_heap(print_block, NULL);
  printf("usable %zu %zu\n", segalloc_usable_size(p), segalloc_usable_size(q));
  segalloc_free(q);
}

int main(int argc, char **argv) {
  static const struct {
    const char *name;
    void (*run)(void);
  } scenarios[] = {
      {"overflow-then-free", overflow_then_free},
      {"overflow-then-malloc", overflow_then_malloc},
      {"double-free", free_flush_free},
      {"print-new-byte", print_new_byte},
      {"leak-one", leak_one},
      {"write-after-free", write_after_free},
      {"overflow-32-never-freed", overflow_32_never_freed},
      {"underflow-never-freed", underflow_never_freed},
      {"overflow-write", overflow_write},
      {"overflow-read", overflow_read},
      {"underflow-write", underflow_write},
      {"underflow-read", underflow_read},
      {"underflow-into-the-previous-guard", underflow_into_the_previous_guard},
      {"underflow-of-the-first-block", underflow_of_the_first_block},
      {"overflow-of-the-last-block", overflow_of_the_last_block},
      {"overflow-far-into-the-footer", overflow_far_into_the_footer},
      {"guarded-alignment", guarded_alignment},
      {"overflow-read-8-by-1", overflow_read_8_by_1},
      {"underflow-1m-of-the-first-block", underflow_1m_of_the_first_block},
      {"use-after-free-read", use_after_free_read},
      {"use-after-free-write", use_after_free_write},
      {"malloc0-read", malloc0_read},
      {"malloc0-write-after-free", malloc0_write_after_free},
      {"realloc-stale", realloc_stale},
      {"huge-double-free", huge_double_free},
      {"foreign-fault-chains", foreign_fault_chains},
      {"foreign-fault-default", foreign_fault_default},
      {"many-blocks", many_blocks},
      {"sites", sites},
      {"overflow-then-continue", overflow_then_continue},
      {"threads-then-overflow", threads_then_overflow},
      {"fork-then-overflow", fork_then_overflow},
      {"walk-and-leak", walk_and_leak},
  };
  for (size_t i = 0; argc == 2 && i < sizeof(scenarios) / sizeof(*scenarios);
       i++) {
    if (strcmp(argv[1], scenarios[i].name) == 0) {
      scenarios[i].run();
      printf("survived\n");
      return 0;
    }
  }
  fprintf(stderr, "usage: %s SCENARIO\n", argv[0]);
  return 2;
}
