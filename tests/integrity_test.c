/* Random sequences of every allocation call over a set of slots, with each
 * block's contents patterned and checked before it is freed or resized:
 * no block may lose bytes, move without its contents, or overlap another;
 * the heap stays consistent and the stats come back to where they began. */
#include "tests/test_util.h"

#include <errno.h>

enum {
  SLOTS = 1000,
  OPS = 200000,
  CHECK_EVERY = 20000, /* full pattern sweep, overlap and heap check */
};

typedef struct slot_s {
  uint8_t *p;
  size_t size;   /* requested */
  size_t usable; /* patterned: all of the usable size is the program's */
  size_t align;  /* what the block was asked to be aligned to */
  uint32_t seed;
} slot_t;

static slot_t slots[SLOTS];
static uint32_t next_seed = 1;

static void slot_verify(const slot_t *s) {
  cr_assert_eq((uintptr_t)s->p % s->align, 0, "block %p lost its %zu alignment",
               (void *)s->p, s->align);
  cr_assert_eq(segalloc_usable_size(s->p), s->usable,
               "usable_size(%p) changed from %zu to %zu", (void *)s->p,
               s->usable, segalloc_usable_size(s->p));
  pattern_assert(s->p, s->usable, s->usable, s->seed);
}

static void slot_set(slot_t *s, void *p, size_t size, size_t align) {
  cr_assert_not_null(p, "allocating %zu bytes (align %zu) failed: errno %d",
                     size, align, errno);
  s->p = p;
  s->size = size;
  s->usable = segalloc_usable_size(p);
  cr_assert_geq(s->usable, size, "usable_size(%p) %zu < %zu", p, s->usable,
                size);
  /* 0: malloc's; the aligned calls give at least 16. */
  s->align = align == 0 ? malloc_alignment(size) : align < 16 ? 16 : align;
  s->seed = next_seed++;
  cr_assert_eq((uintptr_t)s->p % s->align, 0, "%p not aligned to %zu", p,
               s->align);
  pattern_fill(s->p, s->usable, s->seed);
}

/* A new block for an empty slot, by any of the allocation calls. */
static void slot_alloc(rng_t *rng, slot_t *s) {
  size_t size = rng_size(rng, 1);
  size_t align = (size_t)8 << rng_below(rng, 14); /* 8 .. 64 KiB */
  if (rng_below(rng, 50) == 0)
    align = (size_t)1 << (17 + rng_below(rng, 5)); /* up to 2 MiB */
  unsigned how = (unsigned)rng_below(rng, 100);
  if (how < 55) {
    slot_set(s, segalloc_malloc(size), size, 0);
  } else if (how < 70) {
    uint8_t *p = segalloc_calloc(1, size);
    cr_assert_not_null(p);
    for (size_t i = 0; i < size; i += 1 + i / 64) /* dense at the start */
      cr_assert_eq(p[i], 0, "calloc(%zu): byte %zu is %#x", size, i, p[i]);
    slot_set(s, p, size, 0);
  } else if (how < 78) {
    void *p = NULL;
    int rc = segalloc_posix_memalign(&p, align, size);
    cr_assert_eq(rc, 0, "posix_memalign(%zu, %zu) = %d", align, size, rc);
    slot_set(s, p, size, align);
  } else if (how < 86) {
    slot_set(s, segalloc_aligned_alloc(align, size), size, align);
  } else if (how < 92) {
    slot_set(s, segalloc_memalign(align, size), size, align);
  } else if (how < 96) {
    slot_set(s, segalloc_realloc(NULL, size), size, 0);
  } else {
    size_t count = size / 8 + 1;
    slot_set(s, segalloc_reallocarray(NULL, count, 8), count * 8, 0);
  }
}

static void slot_free(slot_t *s) {
  slot_verify(s);
  segalloc_free(s->p);
  s->p = NULL;
}

/* Resizes the block; the first min(old, new) bytes must survive. */
static void slot_realloc(rng_t *rng, slot_t *s) {
  slot_verify(s);
  size_t size;
  unsigned how = (unsigned)rng_below(rng, 4);
  if (how == 0) /* a little smaller or larger: often in place */
    size = s->size + rng_below(rng, 64) - (s->size >= 32 ? 32 : 0);
  else if (how == 1)
    size = s->size / (2 + rng_below(rng, 8));
  else
    size = rng_size(rng, 1);
  if (size == 0)
    size = 1; /* realloc(p, 0) frees: not a resize */
  uint8_t *q = segalloc_realloc(s->p, size);
  cr_assert_not_null(q, "realloc(%zu -> %zu)", s->size, size);
  cr_assert_geq(segalloc_usable_size(q), size);
  /* The requested bytes (C's promise), not the excess usable ones. */
  pattern_assert(q, s->usable, size < s->size ? size : s->size, s->seed,
                 "after realloc %zu -> %zu", s->size, size);
  s->p = NULL;
  slot_set(s, q, size, 0);
}

/* Every live block intact, none overlapping another, heap consistent. */
static void check_all(void) {
  static interval_t iv[SLOTS];
  size_t n = 0;
  for (size_t i = 0; i < SLOTS; i++) {
    if (slots[i].p == NULL)
      continue;
    slot_verify(&slots[i]);
    iv[n].start = (uintptr_t)slots[i].p;
    iv[n].end = (uintptr_t)slots[i].p + slots[i].usable;
    n++;
  }
  intervals_assert_disjoint(iv, n);
  heap_assert_ok();
}

static void run(uint64_t seed) {
  segalloc_stats_t start = stats_now();
  rng_t rng = rng_new(seed);
  for (int op = 1; op <= OPS; op++) {
    slot_t *s = &slots[rng_below(&rng, SLOTS)];
    if (s->p == NULL) {
      slot_alloc(&rng, s);
    } else {
      unsigned what = (unsigned)rng_below(&rng, 100);
      if (what < 50) {
        slot_free(s);
      } else if (what < 85) {
        slot_realloc(&rng, s);
      } else {
        slot_free(s);
        slot_alloc(&rng, s);
      }
    }
    if (op % CHECK_EVERY == 0)
      check_all();
  }
  check_all();
  for (size_t i = 0; i < SLOTS; i++)
    if (slots[i].p != NULL)
      slot_free(&slots[i]);
  heap_assert_ok();
  stats_assert_back_to(&start);
}

Test(integrity, random_ops_seed_1) {
  run(1);
}

Test(integrity, random_ops_seed_2) {
  run(0xC0FFEE);
}

/* Only one size class at a time: pages fill, empty and are given back
 * over and over, in the order blocks were allocated and in reverse. */
Test(integrity, fill_and_drain_each_class) {
  static void *p[4096];
  segalloc_stats_t start = stats_now();
  for (size_t size = 16; size <= MiB; size += size / 4) {
    size_t n = size <= 1024 ? 4096 : size <= 64 * KiB ? 400 : 24;
    for (int round = 0; round < 2; round++) {
      for (size_t i = 0; i < n; i++) {
        p[i] = segalloc_malloc(size);
        cr_assert_not_null(p[i]);
        pattern_fill(p[i], size, (uint32_t)i);
      }
      for (size_t k = 0; k < n; k++) {
        size_t i = round == 0 ? k : n - 1 - k;
        pattern_assert(p[i], size, size, (uint32_t)i);
        segalloc_free(p[i]);
      }
    }
    heap_assert_ok();
  }
  stats_assert_back_to(&start);
}
