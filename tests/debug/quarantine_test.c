/* The memory of the quarantine: freed blocks leave it oldest first, back
 * into the core, which hands them out again as they are. */
#include "tests/debug/capture.h"
#include "tests/test_util.h"

#include <sys/resource.h>

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
