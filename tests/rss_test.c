/* Memory goes back to the OS: after a burst of allocations is freed, the
 * resident set falls back to near where it was. What segalloc may keep
 * (types.h, segment.c, huge.c): up to SA_SEGMENT_CACHE empty segments
 * (4 x 4 MiB) and SA_HUGE_CACHE_BYTES (64 MiB) of freed huge mappings, both
 * without purging, plus the few empty pages heaps keep for reuse.
 * Production only: the debug build's quarantine holds freed memory on
 * purpose. */
#include "tests/test_util.h"

#include <pthread.h>
#include <sys/resource.h>

enum { BURST = 200 << 20 };

/* What the allocator may keep resident after everything is freed:
 * its documented caches plus slack for page tables, stdio and Criterion. */
#define SEGMENT_CACHE_BYTES ((size_t)4 * 4 * MiB)
#define HUGE_CACHE_BYTES ((size_t)64 * MiB)
#define SLACK ((size_t)24 * MiB)

typedef struct burst_s {
  void **blocks;
  size_t count;
  size_t bytes;
} burst_t;

/* Allocates about BURST bytes in blocks of min..max bytes and writes
 * every page of each block, so it is resident. */
static burst_t burst_alloc(size_t min, size_t max, uint64_t seed) {
  burst_t b = {0};
  size_t cap = BURST / (min ? min : 1) + 1;
  b.blocks = malloc(cap * sizeof(void *)); /* system malloc: not measured */
  cr_assert_not_null(b.blocks);
  rng_t rng = rng_new(seed);
  while (b.bytes < BURST && b.count < cap) {
    size_t size = min + rng_below(&rng, max - min + 1);
    uint8_t *p = segalloc_malloc(size);
    cr_assert_not_null(p, "malloc(%zu) after %zu bytes", size, b.bytes);
    for (size_t i = 0; i < size; i += 4096)
      p[i] = 1;
    p[size - 1] = 1;
    b.blocks[b.count++] = p;
    b.bytes += size;
  }
  return b;
}

/* Frees the blocks in a random order (so pages empty out of order). */
static void burst_free(burst_t *b, uint64_t seed) {
  rng_t rng = rng_new(seed);
  for (size_t i = b->count; i > 1; i--) {
    size_t j = rng_below(&rng, i);
    void *t = b->blocks[i - 1];
    b->blocks[i - 1] = b->blocks[j];
    b->blocks[j] = t;
  }
  for (size_t i = 0; i < b->count; i++)
    segalloc_free(b->blocks[i]);
  free(b->blocks);
  b->blocks = NULL;
}

/* Two bursts: each must be resident while live, and after each is freed
 * RSS must fall back to within `kept` of where it started. */
static void burst_and_check(size_t min, size_t max, size_t kept) {
  size_t start = rss_bytes();
  for (int round = 0; round < 2; round++) {
    burst_t b = burst_alloc(min, max, (uint64_t)round + 1);
    size_t peak = rss_bytes();
    cr_assert_geq(peak, start + BURST / 2,
                  "burst not resident? RSS %zu MiB at start, %zu MiB live",
                  start / MiB, peak / MiB);
    burst_free(&b, (uint64_t)round + 7);
    size_t after = rss_bytes();
    cr_log_info("blocks %zu..%zu, round %d: RSS %zu MiB start, %zu MiB live, "
                "%zu MiB freed",
                min, max, round, start / MiB, peak / MiB, after / MiB);
    cr_assert_lt(after, start + kept,
                 "blocks of %zu..%zu bytes, round %d: RSS %zu MiB at start, "
                 "%zu MiB live, still %zu MiB after freeing all (limit %zu)",
                 min, max, round, start / MiB, peak / MiB, after / MiB,
                 (start + kept) / MiB);
  }
  heap_assert_ok();
}

/* Once failed: each small class's kept empty page held its 4 MiB segment,
 * whose other released pages were never purged (now they are). */
Test(rss, small_blocks_given_back) {
  burst_and_check(16, 8 * KiB, SEGMENT_CACHE_BYTES + SLACK);
}

Test(rss, medium_blocks_given_back) {
  burst_and_check(8 * KiB, 64 * KiB, SEGMENT_CACHE_BYTES + SLACK);
}

/* Once failed: each large class kept its empty page, then a whole
 * resident 4 MiB segment (now the classes above 64 KiB share medium
 * pages). */
Test(rss, large_blocks_given_back) {
  /* Blocks above 128 KiB are huge: the huge cache may keep some. */
  burst_and_check(64 * KiB, MiB,
                  SEGMENT_CACHE_BYTES + HUGE_CACHE_BYTES + SLACK);
}

Test(rss, huge_blocks_given_back) {
  burst_and_check(MiB + 1, 16 * MiB, HUGE_CACHE_BYTES + SLACK);
}

/* A huge malloc takes the cached range that fits best (huge.c): the
 * smallest that holds it; so the freed block it gets back is the one of
 * the nearest size at or above. */
Test(rss, huge_cache_reuses_best_fit) {
  const size_t sizes[] = {4 * MiB, MiB, 2 * MiB, 3 * MiB};
  void *freed[4];
  for (size_t i = 0; i < 4; i++) {
    freed[i] = segalloc_malloc(sizes[i]);
    cr_assert_not_null(freed[i]);
    memset(freed[i], 1, sizes[i]);
  }
  for (size_t i = 0; i < 4; i++)
    segalloc_free(freed[i]);
  const struct {
    size_t size, range; /* index in sizes of the range it reuses */
  } wants[] = {{2 * MiB - 4 * KiB, 2},
               {900 * KiB, 1},
               {3 * MiB + 512 * KiB, 0},
               {3 * MiB - 100 * KiB, 3}};
  void *got[4];
  for (size_t i = 0; i < 4; i++) {
    got[i] = segalloc_malloc(wants[i].size);
    cr_assert_eq(got[i], freed[wants[i].range],
                 "malloc(%zu KiB) did not reuse the freed %zu KiB block",
                 wants[i].size / KiB, sizes[wants[i].range] / KiB);
    memset(got[i], 2, wants[i].size);
  }
  heap_assert_ok();
  for (size_t i = 0; i < 4; i++)
    segalloc_free(got[i]);
}

static long minor_faults(void) {
  struct rusage ru;
  cr_assert_eq(getrusage(RUSAGE_SELF, &ru), 0);
  return ru.ru_minflt;
}

/* Pages released by a phase of frees stay resident a while (the purge is
 * delayed, SA_PURGE_DELAY_MS): the next phase, allocating as much again
 * at once, reuses them without page faults. Purged at once, as before,
 * the 3 MiB would fault back in (768 faults). */
Test(rss, pages_freed_then_reused_are_not_refaulted) {
  enum { BLOCK = 1024, COUNT = 3 * MiB / BLOCK, KEEP = COUNT / 16 };
  static uint8_t *blocks[COUNT];
  for (size_t i = 0; i < COUNT; i++) {
    blocks[i] = segalloc_malloc(BLOCK);
    cr_assert_not_null(blocks[i]);
    memset(blocks[i], 1, BLOCK);
  }
  long before = minor_faults();
  for (size_t i = KEEP; i < COUNT; i++) /* the segment keeps a few pages */
    segalloc_free(blocks[i]);
  heap_assert_ok(); /* with a purge pending */
  for (size_t i = KEEP; i < COUNT; i++) {
    blocks[i] = segalloc_malloc(BLOCK);
    cr_assert_not_null(blocks[i]);
    memset(blocks[i], 2, BLOCK);
  }
  long faults = minor_faults() - before;
  cr_assert_lt(faults, 64, "%ld page faults to reallocate %d KiB just freed",
               faults, (COUNT - KEEP) * BLOCK / 1024);
  for (size_t i = 0; i < COUNT; i++)
    segalloc_free(blocks[i]);
  heap_assert_ok();
}

/* With no cached range large enough, a huge malloc grows the largest
 * smaller one rather than mapping afresh: the block starts on that
 * range's resident pages, which still hold what was written there (a
 * fresh mapping would read zeros). */
Test(rss, huge_cache_grows_a_smaller_range) {
  uint8_t *small = segalloc_malloc(MiB);
  cr_assert_not_null(small);
  memset(small, 0xab, MiB);
  segalloc_free(small);
  uint8_t *big = segalloc_malloc(10 * MiB);
  cr_assert_not_null(big);
  for (size_t i = 0; i < MiB; i += 4096)
    cr_assert_eq(big[i], 0xab,
                 "byte %zu of the 10 MiB block is not the freed "
                 "1 MiB block's",
                 i);
  memset(big, 1, 10 * MiB);
  heap_assert_ok();
  segalloc_free(big);
}

/* A thread allocates and exits; the main thread frees its blocks. */
static void *alloc_burst_thread(void *arg) {
  burst_t *b = arg;
  *b = burst_alloc(16, 64 * KiB, 3);
  return NULL;
}

Test(rss, exited_threads_blocks_given_back) {
  size_t start = rss_bytes();
  burst_t b;
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, alloc_burst_thread, &b), 0);
  cr_assert_eq(pthread_join(t, NULL), 0);
  burst_free(&b, 4);
  size_t after = rss_bytes();
  cr_log_info("exited thread: RSS %zu MiB start, %zu MiB freed", start / MiB,
              after / MiB);
  cr_assert_lt(after, start + SEGMENT_CACHE_BYTES + SLACK,
               "RSS %zu MiB at start, %zu MiB after freeing all", start / MiB,
               after / MiB);
  heap_assert_ok();
}

/* The main thread allocates; another thread frees everything (remote
 * frees). The owner then allocates and frees a little, as a program
 * that goes on does. */
static void *free_burst_thread(void *arg) {
  burst_free(arg, 5);
  return NULL;
}

Test(rss, remotely_freed_blocks_given_back) {
  size_t start = rss_bytes();
  burst_t b = burst_alloc(16, 64 * KiB, 6);
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, free_burst_thread, &b), 0);
  cr_assert_eq(pthread_join(t, NULL), 0);
  rng_t rng = rng_new(8);
  for (int i = 0; i < 100000; i++)
    segalloc_free(segalloc_malloc(rng_size(&rng, 0) % (64 * KiB)));
  size_t after = rss_bytes();
  cr_log_info("remote frees: RSS %zu MiB start, %zu MiB freed", start / MiB,
              after / MiB);
  cr_assert_lt(after, start + SEGMENT_CACHE_BYTES + SLACK,
               "RSS %zu MiB at start, %zu MiB after another thread freed all",
               start / MiB, after / MiB);
  heap_assert_ok();
}
