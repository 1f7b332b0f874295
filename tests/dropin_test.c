/* The drop-in static library (//alloc:segalloc): the standard allocation
 * symbols resolve to segalloc. A block is segalloc's when the segalloc_
 * API knows it (usable size, stats); the rest of the API's rules are
 * api_test's job. Criterion itself runs on segalloc here too. */
#include "tests/test_util.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

/* Sizes the compiler can't see, so it neither warns about nor folds
 * calls it thinks it understands. */
static volatile size_t huge_size = SIZE_MAX;
static volatile size_t bad_alignment = 24;
/* Calls the compiler can't see either: clang removes a malloc whose result
 * is only compared with NULL and takes it as non-NULL, whatever the size. */
static void *(*volatile malloc_call)(size_t) = malloc;
static void *(*volatile calloc_call)(size_t, size_t) = calloc;
static void *(*volatile aligned_alloc_call)(size_t, size_t) = aligned_alloc;

/* p, returned by a standard call for `size` bytes, is a live segalloc
 * block: one more block in use than `before`, usable sizes agree. */
static void assert_ours(void *p, size_t size, const segalloc_stats_t *before,
                        const char *what) {
  cr_assert_not_null(p, "%s returned NULL", what);
  size_t usable = segalloc_usable_size(p);
  cr_assert_geq(usable, size, "%s: segalloc_usable_size %zu < %zu", what,
                usable, size);
  cr_assert_eq(malloc_usable_size(p), usable, "%s: malloc_usable_size %zu",
               what, malloc_usable_size(p));
  segalloc_stats_t now = stats_now();
  cr_assert_eq(now.in_use_blocks, before->in_use_blocks + 1,
               "%s: in_use_blocks %zu -> %zu", what, before->in_use_blocks,
               now.in_use_blocks);
}

Test(dropin, malloc_free_are_segalloc) {
  segalloc_stats_t before = stats_now();
  void *p = malloc(1000);
  assert_ours(p, 1000, &before, "malloc");
  free(p);
  stats_assert_back_to(&before);
}

Test(dropin, calloc_realloc_reallocarray_are_segalloc) {
  segalloc_stats_t before = stats_now();
  unsigned char *p = calloc(10, 100);
  assert_ours(p, 1000, &before, "calloc");
  for (int i = 0; i < 1000; i++)
    cr_assert_eq(p[i], 0);
  p = realloc(p, 50000);
  assert_ours(p, 50000, &before, "realloc");
  p = reallocarray(p, 3000, 100);
  assert_ours(p, 300000, &before, "reallocarray");
  free(p);
  stats_assert_back_to(&before);
}

Test(dropin, aligned_calls_are_segalloc) {
  segalloc_stats_t before = stats_now();
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  void *p = NULL;
  cr_assert_eq(posix_memalign(&p, 256, 1000), 0);
  assert_ours(p, 1000, &before, "posix_memalign");
  cr_assert_eq((uintptr_t)p % 256, 0);
  free(p);
  p = aligned_alloc(4096, 8192);
  assert_ours(p, 8192, &before, "aligned_alloc");
  cr_assert_eq((uintptr_t)p % 4096, 0);
  free(p);
  p = memalign(64, 100);
  assert_ours(p, 100, &before, "memalign");
  cr_assert_eq((uintptr_t)p % 64, 0);
  free(p);
  p = valloc(100);
  assert_ours(p, 100, &before, "valloc");
  cr_assert_eq((uintptr_t)p % page, 0);
  free(p);
  p = pvalloc(100);
  assert_ours(p, page, &before, "pvalloc");
  cr_assert_eq((uintptr_t)p % page, 0);
  free(p);
  stats_assert_back_to(&before);
}

/* One allocator: either API frees the other's blocks. */
Test(dropin, prefixed_and_standard_mix) {
  segalloc_stats_t before = stats_now();
  void *a = segalloc_malloc(500);
  void *b = malloc(500);
  cr_assert_not_null(a);
  cr_assert_not_null(b);
  free(a);
  segalloc_free(b);
  stats_assert_back_to(&before);
}

/* The C library's own allocations (strdup, stdio buffers) come from
 * segalloc too, and its free gives them back. */
Test(dropin, libc_internal_allocations) {
  segalloc_stats_t before = stats_now();
  char *s = strdup("segalloc drop-in");
  cr_assert_not_null(s);
  cr_assert_geq(segalloc_usable_size(s), strlen(s) + 1);
  char *t = NULL;
  cr_assert_gt(asprintf(&t, "%s %d", s, 42), 0);
  cr_assert_geq(segalloc_usable_size(t), strlen(t) + 1);
  free(s);
  free(t);
  stats_assert_back_to(&before);
}

Test(dropin, errors_through_standard_names) {
  errno = 0;
  void *p = malloc_call(huge_size);
  cr_assert_null(p);
  cr_assert_eq(errno, ENOMEM);
  errno = 0;
  p = calloc_call(huge_size, 2);
  cr_assert_null(p);
  cr_assert_eq(errno, ENOMEM);
  void *out = &out;
  cr_assert_eq(posix_memalign(&out, bad_alignment, 16), EINVAL);
  cr_assert_eq(out, (void *)&out);
  errno = 0;
  cr_assert_null(aligned_alloc_call(bad_alignment, 16));
  cr_assert_eq(errno, EINVAL);
  cr_assert_eq(malloc_usable_size(NULL), 0);
  free(NULL);
  cr_assert_eq(segalloc_check_heap(), 0);
}
