/* Helpers shared by the segalloc test files: a random generator, block fill
 * patterns, an overlap check, stats snapshots and an RSS reader.
 *
 * The same test sources build against the production library and the
 * debug build; tests/BUILD sets SEGALLOC_TEST_DEBUG=1 for the latter.
 * Facts that only hold in production (exact block sizes, in-place realloc,
 * what the cheap checks catch) are guarded by !SEGALLOC_TEST_DEBUG. */
#ifndef SEGALLOC_TESTS_TEST_UTIL_H
#define SEGALLOC_TESTS_TEST_UTIL_H

#include "death.h"
#include "segalloc.h"

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SEGALLOC_TEST_DEBUG
#define SEGALLOC_TEST_DEBUG 0
#endif
#if SEGALLOC_TEST_DEBUG
#include "segalloc_debug.h"
#endif

/* The alignment malloc, calloc and realloc give n bytes: 16; in the debug
 * build, a guarded block under 16 bytes gets only what C asks, the
 * largest power of two <= n (debug/src/guard.c). */
static inline size_t malloc_alignment(size_t n) {
  size_t align = 16;
  while (SEGALLOC_TEST_DEBUG && align > 1 && n < align)
    align /= 2;
  return align;
}

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

/* ---- random numbers (xorshift64*: fixed seeds give fixed runs) ---- */
typedef struct rng_s {
  uint64_t state;
} rng_t;

static inline rng_t rng_new(uint64_t seed) {
  rng_t r = {seed * 0x9E3779B97F4A7C15ull + 1};
  return r;
}

static inline uint64_t rng_next(rng_t *r) {
  uint64_t x = r->state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  r->state = x;
  return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [0, n). */
static inline size_t rng_below(rng_t *r, size_t n) {
  return (size_t)(rng_next(r) % n);
}

/* A size from tiny to 1 MiB, mostly small (as real programs are), and with
 * probability huge_per_mille/1000 a huge one (1..8 MiB). */
static inline size_t rng_size(rng_t *r, unsigned huge_per_mille) {
  unsigned pick = (unsigned)rng_below(r, 1000);
  if (pick < huge_per_mille)
    return MiB + 1 + rng_below(r, 7 * MiB);
  pick = (unsigned)rng_below(r, 100);
  if (pick < 55)
    return rng_below(r, 129);
  if (pick < 85)
    return 129 + rng_below(r, 4 * KiB);
  if (pick < 96)
    return 4 * KiB + rng_below(r, 60 * KiB);
  return 64 * KiB + rng_below(r, MiB - 64 * KiB + 1);
}

/* ---- fill patterns ----
 * Byte i of a block with seed s depends on both, so a block that moved,
 * overlaps another or was partly overwritten shows. Blocks above
 * PATTERN_FULL_MAX are patterned only at the head, the tail and 64 bytes
 * of every 4 KiB, which keeps megabyte blocks cheap and still catches any
 * page that went missing or got shared. */
#define PATTERN_FULL_MAX (64 * KiB)

static inline uint8_t pattern_byte(uint32_t seed, size_t i) {
  return (uint8_t)(((seed ^ (uint32_t)(i >> 4)) * 2654435761u) >> 24) ^
         (uint8_t)i;
}

/* Writes (write=true) or checks bytes [from, to) of the pattern, stopping
 * at `limit`; returns the first bad offset, or SIZE_MAX. */
static inline size_t pattern_range(uint8_t *p, size_t from, size_t to,
                                   size_t limit, uint32_t seed, bool write) {
  if (to > limit)
    to = limit;
  for (size_t i = from; i < to; i++) {
    if (write)
      p[i] = pattern_byte(seed, i);
    else if (p[i] != pattern_byte(seed, i))
      return i;
  }
  return SIZE_MAX;
}

/* Writes or checks the pattern of an n-byte block, limited to its first
 * `limit` bytes; returns the first bad offset, or SIZE_MAX. */
static inline size_t pattern_apply(uint8_t *p, size_t n, size_t limit,
                                   uint32_t seed, bool write) {
  if (n <= PATTERN_FULL_MAX)
    return pattern_range(p, 0, n, limit, seed, write);
  size_t bad = pattern_range(p, 0, 4 * KiB, limit, seed, write);
  for (size_t at = 4 * KiB; bad == SIZE_MAX && at + 64 <= n - 4 * KiB;
       at += 4 * KiB)
    bad = pattern_range(p, at, at + 64, limit, seed, write);
  if (bad == SIZE_MAX)
    bad = pattern_range(p, n - 4 * KiB, n, limit, seed, write);
  return bad;
}

static inline void pattern_fill(void *p, size_t n, uint32_t seed) {
  pattern_apply(p, n, n, seed, true);
}

/* Asserts the pattern of an n-byte block is intact in its first `limit`
 * bytes (limit < n after a shrinking realloc). Optional printf-style
 * context follows. */
#define pattern_assert(p, n, limit, seed, ...)                                 \
  do {                                                                         \
    size_t bad_ = pattern_apply((uint8_t *)(p), (n), (limit), (seed), false);  \
    if (bad_ != SIZE_MAX)                                                      \
      cr_log_error("block %p (%zu bytes, seed %u): byte %zu damaged",          \
                   (void *)(p), (size_t)(n), (unsigned)(seed), bad_);          \
    cr_assert_eq(bad_, SIZE_MAX, "pattern damaged " __VA_ARGS__);              \
  } while (0)

/* ---- overlap check ---- */
typedef struct interval_s {
  uintptr_t start, end;
} interval_t;

static inline int interval_cmp(const void *a, const void *b) {
  uintptr_t x = ((const interval_t *)a)->start;
  uintptr_t y = ((const interval_t *)b)->start;
  return x < y ? -1 : x > y;
}

/* Sorts the intervals [start, end) of live blocks and asserts that no two
 * overlap or start at the same address (zero-size blocks included). */
static inline void intervals_assert_disjoint(interval_t *iv, size_t n) {
  qsort(iv, n, sizeof(*iv), interval_cmp);
  for (size_t i = 1; i < n; i++)
    cr_assert(iv[i - 1].end <= iv[i].start && iv[i - 1].start < iv[i].start,
              "live blocks overlap: [%#lx, %#lx) and [%#lx, %#lx)",
              (unsigned long)iv[i - 1].start, (unsigned long)iv[i - 1].end,
              (unsigned long)iv[i].start, (unsigned long)iv[i].end);
}

/* ---- heap state ---- */
/* In the debug build freed blocks wait in a quarantine and still count as
 * in use; empty it before comparing statistics. */
static inline void heap_settle(void) {
#if SEGALLOC_TEST_DEBUG
  segalloc_flush_quarantine();
#endif
}

static inline segalloc_stats_t stats_now(void) {
  segalloc_stats_t s;
  heap_settle();
  segalloc_get_stats(&s);
  return s;
}

/* Everything allocated since `before` was freed again. */
static inline void stats_assert_back_to(const segalloc_stats_t *before) {
  segalloc_stats_t now = stats_now();
  cr_assert_eq(now.in_use_blocks, before->in_use_blocks,
               "in_use_blocks %zu, was %zu before", now.in_use_blocks,
               before->in_use_blocks);
  cr_assert_eq(now.in_use_bytes, before->in_use_bytes,
               "in_use_bytes %zu, was %zu before", now.in_use_bytes,
               before->in_use_bytes);
}

static inline void heap_assert_ok(void) {
  heap_settle();
  int problems = segalloc_check_heap();
  cr_assert_eq(problems, 0, "segalloc_check_heap() found %d problems",
               problems);
}

/* ---- memory use of the process ---- */
/* Resident set size in bytes, from /proc/self/statm. */
static inline size_t rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  cr_assert_not_null(f, "cannot open /proc/self/statm");
  unsigned long size = 0, resident = 0;
  int got = fscanf(f, "%lu %lu", &size, &resident);
  fclose(f);
  cr_assert_eq(got, 2, "cannot parse /proc/self/statm");
  return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

#endif /* SEGALLOC_TESTS_TEST_UTIL_H */
