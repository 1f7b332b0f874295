/* Every rule of the public API (segalloc.h): each call behaves like its
 * C / POSIX namesake, including every error path and its errno. */
#include "tests/test_util.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* Each test ends with a consistent heap. */
static void check_heap_at_end(void) {
  heap_assert_ok();
}
TestSuite(api, .fini = check_heap_at_end);

static size_t page_size(void) {
  return (size_t)sysconf(_SC_PAGESIZE);
}

/* Sizes around every interesting boundary: small steps, powers of two and
 * their neighbours up to several MiB (huge blocks). */
static size_t boundary_sizes(size_t *out, size_t max_count) {
  size_t n = 0;
  for (size_t s = 0; s <= 300 && n < max_count; s++)
    out[n++] = s;
  for (size_t p = 512; p <= 8 * MiB && n + 5 <= max_count; p *= 2) {
    out[n++] = p - 17;
    out[n++] = p - 1;
    out[n++] = p;
    out[n++] = p + 1;
    out[n++] = p + p / 2 + 3;
  }
  return n;
}

static void expect_enomem(void *p, const char *what) {
  int err = errno;
  cr_expect_null(p, "%s returned %p", what, p);
  cr_expect_eq(err, ENOMEM, "%s: errno %d, expected ENOMEM", what, err);
  segalloc_free(p);
}

/* ---- malloc / free ---- */

Test(api, malloc_every_block_16_aligned_and_writable) {
  static size_t sizes[512];
  size_t n = boundary_sizes(sizes, 512);
  static void *blocks[512];
  for (size_t i = 0; i < n; i++) {
    blocks[i] = segalloc_malloc(sizes[i]);
    cr_assert_not_null(blocks[i], "malloc(%zu)", sizes[i]);
    cr_assert_eq((uintptr_t)blocks[i] % 16, 0, "malloc(%zu) = %p", sizes[i],
                 blocks[i]);
    pattern_fill(blocks[i], sizes[i], (uint32_t)i);
  }
  /* All written before any is checked: no block may overlap another. */
  for (size_t i = 0; i < n; i++) {
    pattern_assert(blocks[i], sizes[i], sizes[i], (uint32_t)i);
    segalloc_free(blocks[i]);
  }
}

Test(api, malloc_zero_is_unique_and_freeable) {
  enum { N = 100 };
  void *p[N];
  interval_t iv[N];
  for (int i = 0; i < N; i++) {
    p[i] = segalloc_malloc(0);
    cr_assert_not_null(p[i], "malloc(0) #%d", i);
    cr_assert_eq((uintptr_t)p[i] % 16, 0);
    iv[i].start = (uintptr_t)p[i];
    iv[i].end = (uintptr_t)p[i] + segalloc_usable_size(p[i]);
  }
  intervals_assert_disjoint(iv, N);
  for (int i = 0; i < N; i++)
    segalloc_free(p[i]);
}

Test(api, free_null_is_noop) {
  segalloc_stats_t before = stats_now();
  errno = 0;
  segalloc_free(NULL);
  cr_expect_eq(errno, 0);
  stats_assert_back_to(&before);
}

Test(api, malloc_impossible_sizes_fail_with_enomem) {
  const size_t sizes[] = {
      SIZE_MAX,         SIZE_MAX - 16,
      SIZE_MAX / 2 + 1, /* PTRDIFF_MAX + 1 */
      PTRDIFF_MAX,      PTRDIFF_MAX - 4096,
      (size_t)1 << 62, /* representable, but beyond any address space */
  };
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    char what[64];
    snprintf(what, sizeof(what), "malloc(%#zx)", sizes[i]);
    errno = 0;
    expect_enomem(segalloc_malloc(sizes[i]), what);
  }
}

/* ---- calloc ---- */

static void assert_zero(const uint8_t *p, size_t n, const char *what) {
  for (size_t i = 0; i < n; i++)
    cr_assert_eq(p[i], 0, "%s: byte %zu of %zu is %#x", what, i, n, p[i]);
}

Test(api, calloc_zeroes_fresh_memory) {
  static size_t sizes[512];
  size_t n = boundary_sizes(sizes, 512);
  for (size_t i = 0; i < n; i++) {
    uint8_t *p = segalloc_calloc(1, sizes[i]);
    cr_assert_not_null(p, "calloc(1, %zu)", sizes[i]);
    cr_assert_eq((uintptr_t)p % 16, 0);
    assert_zero(p, sizes[i], "calloc");
    segalloc_free(p);
  }
}

/* Freed memory is dirty; calloc must zero it when it hands it out again
 * (the same size is likely to get the same block back). */
Test(api, calloc_zeroes_reused_memory) {
  static size_t sizes[512];
  size_t n = boundary_sizes(sizes, 512);
  for (size_t i = 0; i < n; i++) {
    uint8_t *dirty = segalloc_malloc(sizes[i]);
    cr_assert_not_null(dirty);
    memset(dirty, 0xA5, segalloc_usable_size(dirty));
    segalloc_free(dirty);
    uint8_t *p = segalloc_calloc(sizes[i], 1);
    cr_assert_not_null(p, "calloc(%zu, 1)", sizes[i]);
    assert_zero(p, sizes[i], "calloc after free");
    segalloc_free(p);
  }
}

Test(api, calloc_count_times_size) {
  uint64_t *p = segalloc_calloc(1000, sizeof(uint64_t));
  cr_assert_not_null(p);
  assert_zero((uint8_t *)p, 1000 * sizeof(uint64_t), "calloc(1000, 8)");
  cr_assert_geq(segalloc_usable_size(p), 1000 * sizeof(uint64_t));
  segalloc_free(p);
  void *zero_count = segalloc_calloc(0, 16);
  void *zero_size = segalloc_calloc(16, 0);
  cr_assert_not_null(zero_count);
  cr_assert_not_null(zero_size);
  cr_assert_neq(zero_count, zero_size);
  segalloc_free(zero_count);
  segalloc_free(zero_size);
}

Test(api, calloc_overflow_fails_with_enomem) {
  const size_t cases[][2] = {
      {SIZE_MAX, 2},
      {2, SIZE_MAX},
      {(size_t)1 << 32, (size_t)1 << 32},
      {SIZE_MAX / 3 + 1, 3},
      {SIZE_MAX, SIZE_MAX},
      {SIZE_MAX / 2 + 1, 1},              /* no overflow, above PTRDIFF_MAX */
      {1, SIZE_MAX},                      /* no overflow, SIZE_MAX */
      {(size_t)1 << 31, (size_t)1 << 31}, /* 2^62: no such memory */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char what[96];
    snprintf(what, sizeof(what), "calloc(%#zx, %#zx)", cases[i][0],
             cases[i][1]);
    errno = 0;
    expect_enomem(segalloc_calloc(cases[i][0], cases[i][1]), what);
  }
}

/* ---- realloc / reallocarray ---- */

Test(api, realloc_null_is_malloc) {
  segalloc_stats_t before = stats_now();
  void *p = segalloc_realloc(NULL, 100);
  cr_assert_not_null(p);
  cr_assert_eq((uintptr_t)p % 16, 0);
  cr_assert_geq(segalloc_usable_size(p), 100);
  segalloc_stats_t during = stats_now();
  cr_assert_eq(during.in_use_blocks, before.in_use_blocks + 1);
  pattern_fill(p, 100, 7);
  segalloc_free(p);
  void *z = segalloc_realloc(NULL, 0);
  cr_assert_not_null(z, "realloc(NULL, 0) must behave as malloc(0)");
  segalloc_free(z);
  stats_assert_back_to(&before);
}

/* segalloc.h: as glibc, realloc(p, 0) frees p and returns NULL. */
Test(api, realloc_to_zero_frees) {
  const size_t sizes[] = {1, 100, 5000, 100 * KiB, 900 * KiB, 3 * MiB};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    segalloc_stats_t before = stats_now();
    void *p = segalloc_malloc(sizes[i]);
    cr_assert_not_null(p);
    cr_assert_null(segalloc_realloc(p, 0), "realloc(p, 0) of %zu bytes",
                   sizes[i]);
    stats_assert_back_to(&before);
  }
}

Test(api, realloc_growth_keeps_bytes) {
  const size_t chain[] = {1,       17,       200,       1000,
                          5000,    70000,    300 * KiB, 900 * KiB,
                          3 * MiB, 20 * MiB, 40 * MiB};
  size_t old = chain[0];
  uint8_t *p = segalloc_malloc(old);
  cr_assert_not_null(p);
  pattern_fill(p, old, 1);
  for (size_t i = 1; i < sizeof(chain) / sizeof(chain[0]); i++) {
    uint8_t *q = segalloc_realloc(p, chain[i]);
    cr_assert_not_null(q, "realloc(%zu -> %zu)", old, chain[i]);
    cr_assert_eq((uintptr_t)q % 16, 0);
    cr_assert_geq(segalloc_usable_size(q), chain[i]);
    pattern_assert(q, old, old, (uint32_t)i, "after realloc %zu -> %zu", old,
                   chain[i]);
    pattern_fill(q, chain[i], (uint32_t)i + 1);
    p = q;
    old = chain[i];
  }
  segalloc_free(p);
}

Test(api, realloc_shrink_keeps_prefix) {
  const size_t chain[] = {40 * MiB, 5 * MiB, 1500 * KiB, 700 * KiB, 100 * KiB,
                          9000,     3000,    300,        40,        1};
  size_t old = chain[0];
  uint8_t *p = segalloc_malloc(old);
  cr_assert_not_null(p);
  pattern_fill(p, old, 1);
  for (size_t i = 1; i < sizeof(chain) / sizeof(chain[0]); i++) {
    uint8_t *q = segalloc_realloc(p, chain[i]);
    cr_assert_not_null(q, "realloc(%zu -> %zu)", old, chain[i]);
    cr_assert_geq(segalloc_usable_size(q), chain[i]);
    pattern_assert(q, old, chain[i], (uint32_t)i, "after realloc %zu -> %zu",
                   old, chain[i]);
    pattern_fill(q, chain[i], (uint32_t)i + 1);
    p = q;
    old = chain[i];
  }
  segalloc_free(p);
}

#if !SEGALLOC_TEST_DEBUG
/* Production (alloc.c): a shrink that keeps at least half the block stays
 * in place, and a huge block shrinks in place by unmapping its tail. */
Test(api, realloc_shrink_stays_in_place) {
  const size_t cases[][2] = {
      {1000, 600},           /* within a small class */
      {8000, 4500},          /* small page, top class */
      {60 * KiB, 40 * KiB},  /* medium */
      {128 * KiB, 80 * KiB}, /* the largest class */
      {MiB, 600 * KiB},      /* huge, within the mapping */
      {8 * MiB, 5 * MiB},    /* huge, within the mapping */
      {64 * MiB, 2 * MiB},   /* huge, unmaps most of it */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    size_t from = cases[i][0], to = cases[i][1];
    uint8_t *p = segalloc_malloc(from);
    cr_assert_not_null(p);
    pattern_fill(p, from, (uint32_t)i);
    segalloc_stats_t before = stats_now();
    uint8_t *q = segalloc_realloc(p, to);
    cr_assert_eq(q, p, "realloc(%zu -> %zu) moved the block", from, to);
    cr_assert_geq(segalloc_usable_size(q), to);
    pattern_assert(q, from, to, (uint32_t)i);
    if (from >= 64 * MiB) {
      segalloc_stats_t after = stats_now();
      cr_assert_lt(after.mapped_bytes, before.mapped_bytes - 32 * MiB,
                   "shrinking a huge block gave back no memory");
      cr_assert_lt(segalloc_usable_size(q), 3 * MiB);
    }
    segalloc_free(q);
  }
}
#endif

/* In-place resizing (alloc.c, page.c) needs a block alone at the start of
 * its page: a new thread's heap has no pages yet, so its first block of a
 * class is one. Criterion's asserts belong to the main thread: a scenario
 * returns what went wrong, or NULL. */
typedef struct resize_s {
  uint8_t *blocks[3];
  const char *failed;
  size_t step;
} resize_t;

static void run_scenario(void *(*scenario)(void *), resize_t *r) {
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, scenario, r), 0);
  cr_assert_eq(pthread_join(t, NULL), 0);
  cr_assert_null(r->failed, "step %zu: %s", r->step, r->failed);
}

#define SCENARIO_CHECK(r, cond, what)                                          \
  do {                                                                         \
    if (!(cond)) {                                                             \
      (r)->failed = what;                                                      \
      return NULL;                                                             \
    }                                                                          \
  } while (0)

#if !SEGALLOC_TEST_DEBUG
/* Production (the debug build's realloc always moves): the chain grows
 * within the small kind, then the medium kind (one copy
 * between them), shrinks within the medium kind: in place each time but
 * the change of kind; contents kept, a consistent heap, and the blocks
 * carved after the grown one don't overlap it. */
static const size_t grow_chain[] = {2000,  3000,  5000,  8000, 20000,
                                    30000, 60000, 20000, 9000};
static const bool grow_in_place[] = {true, true, true, true, false,
                                     true, true, true, true};

static void *grow_scenario(void *arg) {
  resize_t *r = arg;
  uint8_t *p = segalloc_malloc(grow_chain[0]);
  SCENARIO_CHECK(r, p != NULL, "malloc failed");
  pattern_fill(p, grow_chain[0], 0);
  for (r->step = 1; r->step < sizeof(grow_chain) / sizeof(grow_chain[0]);
       r->step++) {
    size_t old = grow_chain[r->step - 1], size = grow_chain[r->step];
    uint8_t *q = segalloc_realloc(p, size);
    SCENARIO_CHECK(r, q != NULL, "realloc failed");
    SCENARIO_CHECK(r, (q == p) == grow_in_place[r->step],
                   grow_in_place[r->step] ? "moved" : "stayed in place");
    SCENARIO_CHECK(r, segalloc_usable_size(q) >= size, "usable size short");
    for (size_t i = 0; i < (old < size ? old : size); i++)
      SCENARIO_CHECK(r, q[i] == pattern_byte((uint32_t)r->step - 1, i),
                     "contents changed");
    pattern_fill(q, size, (uint32_t)r->step);
    SCENARIO_CHECK(r, segalloc_check_heap() == 0, "heap check failed");
    p = q;
  }
  /* Two more blocks of the page's new class and old class. */
  size_t size = grow_chain[r->step - 1];
  r->blocks[0] = p;
  r->blocks[1] = segalloc_malloc(size);
  r->blocks[2] = segalloc_malloc(grow_chain[r->step - 2]);
  SCENARIO_CHECK(r, r->blocks[1] != NULL && r->blocks[2] != NULL,
                 "malloc failed");
  SCENARIO_CHECK(r, r->blocks[1] >= p + size || r->blocks[1] + size <= p,
                 "a block of the new class overlaps the resized one");
  SCENARIO_CHECK(r, segalloc_check_heap() == 0, "heap check failed");
  for (int i = 0; i < 3; i++)
    segalloc_free(r->blocks[i]);
  SCENARIO_CHECK(r, segalloc_check_heap() == 0, "heap check after free");
  return NULL;
}

Test(api, realloc_alone_in_its_page_resizes_in_place) {
  resize_t r = {0};
  run_scenario(grow_scenario, &r);
}
#endif

/* A block allocated aligned (its page holds interior pointers) or owned
 * by another thread is never resized in place: contents kept, the heap
 * consistent. */
static void *aligned_scenario(void *arg) {
  resize_t *r = arg;
  void *p = NULL;
  SCENARIO_CHECK(r, segalloc_posix_memalign(&p, 4 * KiB, 3000) == 0,
                 "posix_memalign failed");
  pattern_fill(p, 3000, 5);
  uint8_t *q = segalloc_realloc(p, 6000);
  SCENARIO_CHECK(r, q != NULL, "realloc failed");
  for (size_t i = 0; i < 3000; i++)
    SCENARIO_CHECK(r, q[i] == pattern_byte(5, i), "contents changed");
  SCENARIO_CHECK(r, segalloc_check_heap() == 0, "heap check failed");
  r->blocks[0] = q;
  r->blocks[1] = segalloc_malloc(20000); /* alone in its page */
  SCENARIO_CHECK(r, r->blocks[1] != NULL, "malloc failed");
  pattern_fill(r->blocks[1], 20000, 6);
  return NULL;
}

Test(api, realloc_aligned_or_foreign_block_moves) {
  resize_t r = {0};
  run_scenario(aligned_scenario, &r);
  /* The thread is gone: its page is another heap's, abandoned. */
  uint8_t *p = r.blocks[1];
  uint8_t *q = segalloc_realloc(p, 40000);
  cr_assert_not_null(q);
#if !SEGALLOC_TEST_DEBUG
  cr_assert_neq(q, p, "resized in place in a page of another heap");
#endif
  pattern_assert(q, 20000, 20000, 6, "after realloc from another thread");
  segalloc_free(q);
  segalloc_free(r.blocks[0]);
}

Test(api, realloc_impossible_size_keeps_block) {
  const size_t blocks[] = {100, 50 * KiB, 700 * KiB, 3 * MiB};
  const size_t sizes[] = {SIZE_MAX, SIZE_MAX - 16, SIZE_MAX / 2 + 1,
                          PTRDIFF_MAX, (size_t)1 << 62};
  for (size_t b = 0; b < sizeof(blocks) / sizeof(blocks[0]); b++) {
    uint8_t *p = segalloc_malloc(blocks[b]);
    cr_assert_not_null(p);
    size_t usable = segalloc_usable_size(p);
    pattern_fill(p, blocks[b], (uint32_t)b);
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
      errno = 0;
      void *q = segalloc_realloc(p, sizes[s]);
      int err = errno;
      cr_assert_null(q, "realloc(%zu-byte block, %#zx) = %p", blocks[b],
                     sizes[s], q);
      cr_assert_eq(err, ENOMEM, "realloc(%zu-byte block, %#zx): errno %d",
                   blocks[b], sizes[s], err);
      cr_assert_eq(segalloc_usable_size(p), usable);
      pattern_assert(p, blocks[b], blocks[b], (uint32_t)b,
                     "after failed realloc to %#zx", sizes[s]);
    }
    segalloc_free(p);
  }
}

Test(api, reallocarray_multiplies) {
  uint32_t *p = segalloc_reallocarray(NULL, 10, sizeof(uint32_t));
  cr_assert_not_null(p);
  cr_assert_geq(segalloc_usable_size(p), 40);
  for (uint32_t i = 0; i < 10; i++)
    p[i] = i * 7;
  uint32_t *q = segalloc_reallocarray(p, 5000, sizeof(uint32_t));
  cr_assert_not_null(q);
  cr_assert_geq(segalloc_usable_size(q), 20000);
  for (uint32_t i = 0; i < 10; i++)
    cr_assert_eq(q[i], i * 7);
  segalloc_stats_t before = stats_now();
  cr_assert_null(segalloc_reallocarray(q, 0, 4), "count 0 frees, as realloc");
  segalloc_stats_t after = stats_now();
  cr_assert_eq(after.in_use_blocks, before.in_use_blocks - 1);
}

Test(api, reallocarray_overflow_keeps_block) {
  const size_t cases[][2] = {
      {SIZE_MAX, 2},
      {(size_t)1 << 32, (size_t)1 << 32},
      {SIZE_MAX / 8 + 1, 8},
      {SIZE_MAX / 2 + 1, 1}, /* no overflow, above PTRDIFF_MAX */
  };
  uint8_t *p = segalloc_malloc(300);
  cr_assert_not_null(p);
  pattern_fill(p, 300, 3);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    errno = 0;
    void *q = segalloc_reallocarray(p, cases[i][0], cases[i][1]);
    int err = errno;
    cr_assert_null(q);
    cr_assert_eq(err, ENOMEM, "reallocarray(p, %#zx, %#zx): errno %d",
                 cases[i][0], cases[i][1], err);
    pattern_assert(p, 300, 300, 3);
  }
  errno = 0;
  void *n = segalloc_reallocarray(NULL, SIZE_MAX, SIZE_MAX);
  int err = errno;
  cr_assert_null(n);
  cr_assert_eq(err, ENOMEM);
  segalloc_free(p);
}

/* ---- aligned allocation ---- */

static const size_t aligned_sizes[] = {0, 1, 100, 5000, 100 * KiB, 2 * MiB};
#define ALIGNED_SIZES (sizeof(aligned_sizes) / sizeof(aligned_sizes[0]))

/* An aligned block as asked, usable for its size, then freed. */
static void use_aligned_block(void *p, size_t align, size_t size,
                              uint32_t seed) {
  cr_assert_eq((uintptr_t)p % align, 0, "%p is not aligned to %zu", p, align);
  cr_assert_eq((uintptr_t)p % 16, 0);
  cr_assert_geq(segalloc_usable_size(p), size);
  pattern_fill(p, size, seed);
  pattern_assert(p, size, size, seed);
  segalloc_free(p);
}

Test(api, posix_memalign_good_alignments) {
  for (size_t align = sizeof(void *); align <= 8 * MiB; align *= 2) {
    for (size_t s = 0; s < ALIGNED_SIZES; s++) {
      void *p = (void *)0x1;
      errno = 0;
      int rc = segalloc_posix_memalign(&p, align, aligned_sizes[s]);
      cr_assert_eq(rc, 0, "posix_memalign(%zu, %zu) = %d", align,
                   aligned_sizes[s], rc);
      cr_assert_eq(errno, 0, "posix_memalign success changed errno");
      cr_assert_not_null(p);
      use_aligned_block(p, align, aligned_sizes[s], (uint32_t)s);
    }
  }
}

Test(api, posix_memalign_bad_alignment_is_einval) {
  const size_t bad[] = {0,  1,   2,    3,        sizeof(void *) / 2, 24,
                        48, 100, 4095, SIZE_MAX, (size_t)3 << 20};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    void *sentinel = &sentinel;
    void *p = sentinel;
    errno = 1234;
    int rc = segalloc_posix_memalign(&p, bad[i], 64);
    cr_assert_eq(rc, EINVAL, "posix_memalign(align %zu) = %d", bad[i], rc);
    cr_assert_eq(errno, 1234, "posix_memalign must not report through errno");
    cr_assert_eq(p, sentinel, "posix_memalign changed *out on failure");
  }
}

Test(api, posix_memalign_impossible_size_is_enomem) {
  void *sentinel = &sentinel;
  void *p = sentinel;
  errno = 1234;
  int rc = segalloc_posix_memalign(&p, 64, SIZE_MAX);
  cr_assert_eq(rc, ENOMEM, "posix_memalign(64, SIZE_MAX) = %d", rc);
  cr_assert_eq(errno, 1234, "posix_memalign must not report through errno");
  cr_assert_eq(p, sentinel);
  rc = segalloc_posix_memalign(&p, 4096, PTRDIFF_MAX);
  cr_assert_eq(rc, ENOMEM);
  cr_assert_eq(p, sentinel);
}

/* An alignment too large to serve must fail cleanly, never misalign. */
Test(api, posix_memalign_giant_alignment_aligned_or_enomem) {
  const size_t aligns[] = {(size_t)1 << 28, (size_t)1 << 29, (size_t)1 << 40,
                           SIZE_MAX / 2 + 1};
  for (size_t i = 0; i < sizeof(aligns) / sizeof(aligns[0]); i++) {
    void *p = NULL;
    int rc = segalloc_posix_memalign(&p, aligns[i], 100);
    cr_assert(rc == 0 || rc == ENOMEM, "posix_memalign(%#zx) = %d", aligns[i],
              rc);
    if (rc == 0) {
      cr_assert_eq((uintptr_t)p % aligns[i], 0);
      memset(p, 1, 100);
      segalloc_free(p);
    }
  }
}

Test(api, aligned_alloc_good_alignments) {
  for (size_t align = 1; align <= 4 * MiB; align *= 2) {
    for (size_t s = 0; s < ALIGNED_SIZES; s++) {
      uint8_t *p = segalloc_aligned_alloc(align, aligned_sizes[s]);
      cr_assert_not_null(p, "aligned_alloc(%zu, %zu)", align, aligned_sizes[s]);
      use_aligned_block(p, align, aligned_sizes[s], (uint32_t)align);
    }
  }
}

Test(api, aligned_alloc_bad_alignment_is_einval) {
  const size_t bad[] = {0, 3, 24, 48, 100, 4095, (size_t)3 << 20, SIZE_MAX};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    errno = 0;
    void *p = segalloc_aligned_alloc(bad[i], 64);
    int err = errno;
    cr_assert_null(p, "aligned_alloc(%zu, 64) = %p", bad[i], p);
    cr_assert_eq(err, EINVAL, "aligned_alloc(%zu, 64): errno %d", bad[i], err);
  }
  errno = 0;
  void *p = segalloc_aligned_alloc(64, SIZE_MAX);
  int err = errno;
  cr_assert_null(p);
  cr_assert_eq(err, ENOMEM);
}

/* An aligned block's bytes survive realloc (which may drop the alignment). */
Test(api, aligned_blocks_realloc_and_free) {
  for (size_t align = 32; align <= 2 * MiB; align *= 4) {
    uint8_t *p = segalloc_aligned_alloc(align, 3000);
    cr_assert_not_null(p);
    pattern_fill(p, 3000, 9);
    uint8_t *q = segalloc_realloc(p, 50000);
    cr_assert_not_null(q);
    pattern_assert(q, 3000, 3000, 9, "aligned %zu, grown", align);
    uint8_t *r = segalloc_realloc(q, 1000);
    cr_assert_not_null(r);
    pattern_assert(r, 3000, 1000, 9, "aligned %zu, shrunk", align);
    segalloc_free(r);
  }
}

Test(api, memalign_rounds_alignment_up) {
  const size_t cases[][2] = {
      /* alignment asked, power of two it must at least get */
      {0, 1},
      {1, 1},
      {3, 4},
      {8, 8},
      {24, 32},
      {64, 64},
      {100, 128},
      {4096, 4096},
      {5000, 8192},
      {MiB, MiB},
      {3 * MiB, 4 * MiB},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    uint8_t *p = segalloc_memalign(cases[i][0], 777);
    cr_assert_not_null(p, "memalign(%zu, 777)", cases[i][0]);
    cr_assert_eq((uintptr_t)p % cases[i][1], 0, "memalign(%zu, 777) = %p",
                 cases[i][0], (void *)p);
    cr_assert_eq((uintptr_t)p % 16, 0);
    cr_assert_geq(segalloc_usable_size(p), 777);
    memset(p, 0x5A, 777);
    segalloc_free(p);
  }
  errno = 0;
  void *p = segalloc_memalign(SIZE_MAX, 16);
  int err = errno;
  cr_assert_null(p);
  cr_assert_eq(err, EINVAL, "memalign(SIZE_MAX): errno %d", err);
  errno = 0;
  p = segalloc_memalign(64, SIZE_MAX);
  err = errno;
  cr_assert_null(p);
  cr_assert_eq(err, ENOMEM);
}

Test(api, valloc_is_page_aligned) {
  const size_t sizes[] = {0, 1, 100, 4096, 4097, 70000, 3 * MiB};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    uint8_t *p = segalloc_valloc(sizes[i]);
    cr_assert_not_null(p, "valloc(%zu)", sizes[i]);
    cr_assert_eq((uintptr_t)p % page_size(), 0, "valloc(%zu) = %p", sizes[i],
                 (void *)p);
    cr_assert_geq(segalloc_usable_size(p), sizes[i]);
    memset(p, 0x11, sizes[i]);
    segalloc_free(p);
  }
  errno = 0;
  void *p = segalloc_valloc(SIZE_MAX);
  int err = errno;
  cr_assert_null(p);
  cr_assert_eq(err, ENOMEM);
}

Test(api, pvalloc_rounds_size_to_pages) {
  size_t page = page_size();
  const size_t sizes[] = {0,    1,        100,   page - 1,
                          page, page + 1, 70000, 3 * MiB + 5};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    size_t rounded = sizes[i] == 0 ? page : (sizes[i] + page - 1) / page * page;
    uint8_t *p = segalloc_pvalloc(sizes[i]);
    cr_assert_not_null(p, "pvalloc(%zu)", sizes[i]);
    cr_assert_eq((uintptr_t)p % page, 0, "pvalloc(%zu) = %p", sizes[i],
                 (void *)p);
    cr_assert_geq(segalloc_usable_size(p), rounded,
                  "pvalloc(%zu): usable %zu < %zu", sizes[i],
                  segalloc_usable_size(p), rounded);
    memset(p, 0x22, rounded); /* all of the rounded size is ours */
    segalloc_free(p);
  }
  const size_t impossible[] = {SIZE_MAX, SIZE_MAX - page + 2, PTRDIFF_MAX};
  for (size_t i = 0; i < sizeof(impossible) / sizeof(impossible[0]); i++) {
    errno = 0;
    void *p = segalloc_pvalloc(impossible[i]);
    int err = errno;
    cr_assert_null(p, "pvalloc(%#zx)", impossible[i]);
    cr_assert_eq(err, ENOMEM, "pvalloc(%#zx): errno %d", impossible[i], err);
  }
}

/* ---- usable size, stats, heap check ---- */

Test(api, usable_size_covers_request_and_is_writable) {
  static size_t sizes[512];
  size_t n = boundary_sizes(sizes, 512);
  for (size_t i = 0; i < n; i++) {
    uint8_t *p = segalloc_malloc(sizes[i]);
    cr_assert_not_null(p);
    size_t usable = segalloc_usable_size(p);
    cr_assert_geq(usable, sizes[i], "usable_size(malloc(%zu)) = %zu", sizes[i],
                  usable);
#if !SEGALLOC_TEST_DEBUG
    /* Size classes waste under 20% (types.h); huge blocks a page. */
    if (sizes[i] >= 128)
      cr_assert_leq(usable, sizes[i] + sizes[i] / 4 + page_size(),
                    "usable_size(malloc(%zu)) = %zu", sizes[i], usable);
#endif
    memset(p, 0x33, usable); /* the whole usable size is the program's */
    segalloc_free(p);
  }
  cr_assert_eq(segalloc_usable_size(NULL), 0);
}

Test(api, stats_rise_and_fall_back) {
  const size_t sizes[] = {0, 16, 100, 5000, 60 * KiB, 700 * KiB, 3 * MiB};
  enum { N = sizeof(sizes) / sizeof(sizes[0]) };
  segalloc_stats_t start = stats_now();
  void *p[N];
  size_t want_bytes = 0;
  for (size_t i = 0; i < N; i++) {
    segalloc_stats_t before = stats_now();
    p[i] = segalloc_malloc(sizes[i]);
    cr_assert_not_null(p[i]);
    segalloc_stats_t after = stats_now();
    cr_assert_eq(after.in_use_blocks, before.in_use_blocks + 1,
                 "malloc(%zu): in_use_blocks %zu -> %zu", sizes[i],
                 before.in_use_blocks, after.in_use_blocks);
    cr_assert_geq(after.in_use_bytes, before.in_use_bytes + sizes[i],
                  "malloc(%zu): in_use_bytes %zu -> %zu", sizes[i],
                  before.in_use_bytes, after.in_use_bytes);
    cr_assert_geq(after.mapped_bytes, after.in_use_bytes);
    cr_assert_geq(after.segments, 1);
    want_bytes += sizes[i];
  }
  segalloc_stats_t all = stats_now();
  cr_assert_eq(all.in_use_blocks, start.in_use_blocks + N);
  cr_assert_geq(all.in_use_bytes, start.in_use_bytes + want_bytes);
  for (size_t i = 0; i < N; i++) {
    segalloc_stats_t before = stats_now();
    segalloc_free(p[i]);
    segalloc_stats_t after = stats_now();
    cr_assert_eq(after.in_use_blocks, before.in_use_blocks - 1,
                 "free of %zu bytes: in_use_blocks %zu -> %zu", sizes[i],
                 before.in_use_blocks, after.in_use_blocks);
    cr_assert_leq(after.in_use_bytes, before.in_use_bytes - sizes[i]);
  }
  stats_assert_back_to(&start);
}

Test(api, print_stats_reports_totals) {
  void *p = segalloc_malloc(1000);
  cr_assert_not_null(p);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  cr_assert_not_null(f);
  segalloc_print_stats(f);
  fclose(f);
  cr_assert_not_null(strstr(text, "segalloc: mapped "), "print_stats: %s",
                     text);
  free(text); /* open_memstream's buffer comes from the system malloc */
  segalloc_free(p);
}

Test(api, check_heap_clean_with_live_blocks) {
  enum { N = 2000 };
  static void *p[N];
  rng_t rng = rng_new(42);
  for (int i = 0; i < N; i++) {
    p[i] = segalloc_malloc(rng_size(&rng, 2));
    cr_assert_not_null(p[i]);
  }
  cr_assert_eq(segalloc_check_heap(), 0);
  for (int i = 0; i < N; i += 2)
    segalloc_free(p[i]);
  cr_assert_eq(segalloc_check_heap(), 0);
  for (int i = 1; i < N; i += 2)
    segalloc_free(p[i]);
}

/* Zero-size aligned blocks are still distinct blocks, each inside its own
 * allocation (not pointing past it). */
Test(api, zero_size_aligned_blocks_are_unique) {
  enum { N = 64 };
  const size_t aligns[] = {16, 64, 4096, 64 * KiB, 2 * MiB};
  for (size_t a = 0; a < sizeof(aligns) / sizeof(aligns[0]); a++) {
    void *p[N];
    interval_t iv[N];
    for (int i = 0; i < N; i++) {
      p[i] = segalloc_aligned_alloc(aligns[a], 0);
      cr_assert_not_null(p[i], "aligned_alloc(%zu, 0)", aligns[a]);
      cr_assert_eq((uintptr_t)p[i] % aligns[a], 0);
      iv[i].start = (uintptr_t)p[i];
      iv[i].end = (uintptr_t)p[i] + segalloc_usable_size(p[i]);
    }
    intervals_assert_disjoint(iv, N);
    for (int i = 0; i < N; i++)
      segalloc_free(p[i]);
  }
}
