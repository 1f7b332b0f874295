/* The memory of the quarantine: freed blocks leave it oldest first, back
 * into the core, which hands them out again as they are. */
#include "tests/debug/capture.h"
#include "tests/test_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <time.h>

TestSuite(quarantine, .init = capture_start, .fini = capture_stop);

static long minor_faults(void) {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

/* One buffer grown by realloc in 200 steps to 64 KiB, `reps` times, as
 * bench/src/realloc_steps.c does: in the debug build every step moves the
 * block, so the quarantine cycles megabytes through a few segments. */
static void grow(int reps) {
  for (int rep = 0; rep < reps; rep++) {
    unsigned char *p = segalloc_malloc(16);
    cr_assert_not_null(p);
    for (size_t i = 1; i <= 200; i++) {
      size_t size = 16 + (65536 - 16) * i / 200;
      p = segalloc_realloc(p, size);
      cr_assert_not_null(p);
      p[size - 1] = (unsigned char)i;
    }
    segalloc_free(p);
  }
}

/* Once failed: the core purged a segment whenever it was mostly empty,
 * which the quarantine's cycle makes it again and again, and each cycle
 * faulted the pages back in (2,218 faults here; half the time of bench
 * realloc-steps). Now about 200: the pages of the blocks that happen to be
 * guarded (SEGALLOC_GUARD's sampling). */
Test(quarantine, cycling_through_it_costs_no_page_faults) {
  grow(20); /* the quarantine is full, its segments are mapped */
  long before = minor_faults();
  grow(100); /* 20,000 reallocs */
  long faults = minor_faults() - before;
  cr_log_info("%ld page faults in 20,000 reallocs", faults);
  cr_assert_lt(faults, 1000, "%ld page faults in 20,000 reallocs", faults);
  cr_assert_eq(captured.count, 0);
}

static size_t blocks_in_use(void) {
  segalloc_stats_t s;
  segalloc_get_stats(&s);
  return s.in_use_blocks;
}

/* A block larger than the whole quarantine (4 MiB by default) pushes
 * itself out at once, back to the core, which unmaps a huge block larger
 * than its cache (64 MiB). Once crashed: the free read the block's header
 * after that. Its second free is still named. */
Test(quarantine, a_block_larger_than_it_leaves_at_once) {
  segalloc_flush_quarantine();
  size_t base = blocks_in_use();
  unsigned char *p = segalloc_malloc((size_t)96 << 20);
  cr_assert_not_null(p);
  p[0] = 1;
  segalloc_free(p);
  cr_assert_eq(blocks_in_use(), base, "the block left the quarantine");
  cr_assert_eq(captured.count, 0);
  segalloc_free(p);
  cr_assert_eq(captured.count, 1);
  cr_assert_eq(captured.errors[0].kind, SEGALLOC_ERR_DOUBLE_FREE);
  cr_assert_eq(captured.errors[0].address, p);
}

/* Two threads freeing one block at once: one free quarantines it, the
 * other is reported as a double free (the block found freed by its
 * lookup, or found unlisted under the owner's lock: "freed twice at
 * once"), never both quarantining it nor both reported. The block's owner
 * races another thread, so that either free path (a thread's own block,
 * another's) may win. */
#define RACE_ROUNDS 2000

typedef struct race_s {
  pthread_barrier_t go;
  void *volatile block;
  _Atomic size_t double_frees, others;
} race_t;

static void count_report(const segalloc_error_t *err, void *ctx) {
  race_t *r = ctx;
  if (err->kind == SEGALLOC_ERR_DOUBLE_FREE && err->address == r->block)
    r->double_frees++;
  else
    r->others++;
}

static void *free_in_step(void *arg) {
  race_t *r = arg;
  for (int i = 0; i < RACE_ROUNDS; i++) {
    pthread_barrier_wait(&r->go);
    segalloc_free(r->block);
    pthread_barrier_wait(&r->go);
  }
  return NULL;
}

Test(quarantine, a_block_freed_by_two_threads_at_once_is_queued_once,
     .timeout = 60) {
  static race_t r;
  pthread_barrier_init(&r.go, NULL, 2);
  segalloc_set_error_handler(count_report, &r);
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, free_in_step, &r), 0);
  for (int i = 0; i < RACE_ROUNDS; i++) {
    r.block = segalloc_malloc(48);
    pthread_barrier_wait(&r.go);
    segalloc_free(r.block);
    pthread_barrier_wait(&r.go);
    cr_assert_eq(r.double_frees, (size_t)i + 1, "round %d", i);
  }
  pthread_join(th, NULL);
  pthread_barrier_destroy(&r.go);
  cr_assert_eq(r.others, 0);
  segalloc_set_error_handler(capture_record, &captured);
  cr_assert_eq(segalloc_check_now(), 0, "each block was queued once");
  cr_assert_eq(captured.count, 0);
}

/* The same race made likely: a heap walk holds the block's owner's lock
 * while two threads free the block; both find it live, then wait for the
 * lock (given 200 ms once both have started); when the walk lets go, the
 * second to get the lock finds the block unlisted. The report, by default,
 * aborts: a double-free, its detail saying so (or, should a thread come
 * late to the lookup, that the block was already freed). */
typedef struct held_s {
  void *block;
  pthread_t threads[2];
  _Atomic int started;
} held_t;

static void *free_held(void *arg) {
  held_t *held = arg;
  held->started++;
  segalloc_free(held->block);
  return NULL;
}

static int free_twice_while_held(void *ptr, size_t size, const void *site,
                                 void *ctx) {
  (void)size, (void)site;
  held_t *held = ctx;
  if (ptr != held->block)
    return 0;
  for (int i = 0; i < 2; i++)
    pthread_create(&held->threads[i], NULL, free_held, held);
  while (held->started < 2)
    sched_yield();
  struct timespec wait = {.tv_nsec = 200 * 1000 * 1000};
  nanosleep(&wait, NULL);
  return 1;
}

static void free_twice_at_once(void *arg) {
  segalloc_set_error_handler(NULL, NULL);
  held_t held = {.block = arg};
  segalloc_walk_heap(free_twice_while_held, &held);
  for (int i = 0; i < 2; i++)
    pthread_join(held.threads[i], NULL);
}

Test(quarantine, a_block_freed_twice_at_once_is_a_double_free) {
  void *p = segalloc_malloc(40);
  death_result_t r;
  death_run(free_twice_at_once, p, &r);
  death_assert_report(&r, "double-free", p);
  cr_assert(strstr(r.output, "was freed twice at once") != NULL ||
                strstr(r.output, "was already freed") != NULL,
            "%s", r.output);
  segalloc_free(p);
}
