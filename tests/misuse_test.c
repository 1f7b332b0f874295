/* Production's cheap checks (alloc.c, page.c): a free or realloc of a
 * pointer segalloc never handed out, a misaligned (interior) pointer, or a
 * double free aborts with a one-line report (error.c):
 *   segalloc: ERROR: <kind> on address <ptr>: <detail>
 * The first group are Criterion death tests; the second runs the misuse in
 * a child of its own to read that line. */
#include "tests/test_util.h"

#include <pthread.h>
#include <signal.h>

static char global_buffer[64] __attribute__((aligned(16)));

/* Keeps the compiler from seeing through the pointer arithmetic below. */
static void *launder(void *p) {
  __asm__ volatile("" : "+r"(p));
  return p;
}

/* ---- the misuses, each a function the death helper can run ---- */

static void free_pointer(void *p) {
  segalloc_free(launder(p));
}

static void realloc_pointer(void *p) {
  void *q = segalloc_realloc(launder(p), 100);
  (void)q;
}

static void free_twice(void *p) {
  segalloc_free(p);
  segalloc_free(launder(p));
}

/* Other frees in between: the block is no longer the last one freed, so
 * the free itself doesn't see it; malloc does when it reaches the block a
 * second time (production encodes the free lists), before handing it out
 * twice. The mallocs run until then (one page's worth at most). */
static void free_twice_apart(void *p) {
  size_t size = segalloc_usable_size(p);
  void *others[3] = {segalloc_malloc(size), segalloc_malloc(size),
                     segalloc_malloc(size)};
  segalloc_free(p);
  for (int i = 0; i < 3; i++)
    segalloc_free(others[i]);
  segalloc_free(launder(p));
  for (int i = 0; i < 5000; i++)
    if (segalloc_malloc(size) == p && i > 3)
      return; /* handed out twice: the parent sees a clean exit */
}

static void *free_in_thread(void *p) {
  segalloc_free(p);
  return NULL;
}

/* The block was allocated by another thread: both frees are remote. */
static void free_twice_from_other_thread(void *unused) {
  (void)unused;
  void *p = segalloc_malloc(64);
  pthread_t t;
  pthread_create(&t, NULL, free_in_thread, p);
  pthread_join(t, NULL);
  pthread_create(&t, NULL, free_in_thread, p);
  pthread_join(t, NULL);
}

/* ---- Criterion death tests ---- */

Test(misuse, free_of_stack_address, .signal = SIGABRT) {
  char local[64] __attribute__((aligned(16)));
  free_pointer(local + 16);
}

Test(misuse, free_of_global, .signal = SIGABRT) {
  free_pointer(global_buffer + 16);
}

Test(misuse, free_of_interior_pointer, .signal = SIGABRT) {
  char *p = segalloc_malloc(100);
  free_pointer(p + 8);
}

Test(misuse, free_of_interior_pointer_of_huge_block, .signal = SIGABRT) {
  char *p = segalloc_malloc(3 * MiB);
  free_pointer(p + 8);
}

Test(misuse, immediate_double_free, .signal = SIGABRT) {
  free_twice(segalloc_malloc(100));
}

Test(misuse, double_free_with_frees_between, .signal = SIGABRT) {
  free_twice_apart(segalloc_malloc(100));
}

Test(misuse, double_free_of_last_block_of_page, .signal = SIGABRT) {
  free_twice(segalloc_malloc(700 * KiB));
}

Test(misuse, realloc_of_stack_address, .signal = SIGABRT) {
  char local[64] __attribute__((aligned(16)));
  realloc_pointer(local);
}

Test(misuse, double_free_from_other_thread, .signal = SIGABRT) {
  free_twice_from_other_thread(NULL);
}

/* ---- the report's first line ---- */

Test(misuse_report, free_of_stack_address) {
  char local[64] __attribute__((aligned(16)));
  death_result_t r;
  /* The child is a copy of this process: `local` has the same address. */
  death_run(free_pointer, local + 16, &r);
  death_assert_report(&r, "invalid-free", local + 16);
}

Test(misuse_report, free_of_global) {
  death_result_t r;
  death_run(free_pointer, global_buffer + 32, &r);
  death_assert_report(&r, "invalid-free", global_buffer + 32);
}

Test(misuse_report, free_of_misaligned_interior_pointer) {
  const size_t sizes[] = {16, 100, 5000, 40 * KiB, 500 * KiB, 3 * MiB};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    char *p = segalloc_malloc(sizes[i]);
    cr_assert_not_null(p);
    death_result_t r;
    death_run(free_pointer, p + 8, &r);
    death_assert_report(&r, "invalid-free", p + 8);
    segalloc_free(p); /* the parent's block is still fine */
  }
}

Test(misuse_report, realloc_of_global) {
  death_result_t r;
  death_run(realloc_pointer, global_buffer, &r);
  death_assert_report(&r, "invalid-free", global_buffer);
}

/* `misuse` on a block of each size (small, medium pages) reports `kind`
 * on that block. */
static void assert_reported(void (*misuse)(void *), const char *kind) {
  const size_t sizes[] = {0, 100, 5000, 40 * KiB};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    void *p = segalloc_malloc(sizes[i]);
    cr_assert_not_null(p);
    death_result_t r;
    death_run(misuse, p, &r);
    death_assert_report(&r, kind, p);
    segalloc_free(p);
  }
}

Test(misuse_report, immediate_double_free) {
  assert_reported(free_twice, "double-free");
}

/* Not the last block freed: reported when malloc reaches it again. */
Test(misuse_report, double_free_with_frees_between) {
  assert_reported(free_twice_apart, "double-free");
}

/* Freed again after the free list was refilled from it, not yet handed
 * out again. */
static void free_twice_after_refill(void *unused) {
  (void)unused;
  enum { N = 1000 };
  static void *blocks[N];
  for (int i = 0; i < N; i++)
    blocks[i] = segalloc_malloc(48);
  for (int i = 0; i < N; i++)
    segalloc_free(blocks[i]);
  /* The free list is refilled from these (the last freed first): after
   * half of them are taken again, blocks[0] is still free. */
  void *victim = blocks[0];
  for (int i = 0; i < N / 2; i++)
    blocks[i] = segalloc_malloc(48);
  segalloc_free(victim);
  for (int i = 0; i < 2 * N; i++)
    segalloc_malloc(48);
}

Test(misuse_report, double_free_after_refill) {
  death_result_t r;
  death_run(free_twice_after_refill, NULL, &r);
  death_assert_report(&r, "double-free", NULL);
}

/* A write after free over a free block's link: malloc reports it rather
 * than follow it. */
static void write_after_free(void *p) {
  size_t size = segalloc_usable_size(p);
  segalloc_free(p);
  *(volatile uintptr_t *)launder(p) = 0x1234;
  for (int i = 0; i < 5000; i++)
    segalloc_malloc(size);
}

Test(misuse_report, write_after_free_over_link) {
  assert_reported(write_after_free, "heap-corruption");
}

/* A block whose first word the program never wrote, or set to NULL or to
 * a pointer into the same page, is not taken for a free one. */
Test(misuse, first_words_that_look_like_links_are_not_double_frees) {
  enum { N = 200 };
  void **blocks[N];
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < N; i++) {
      blocks[i] = segalloc_malloc(32);
      cr_assert_not_null(blocks[i]);
      if (round == 1)
        *blocks[i] = NULL;
      else if (round == 2)
        *blocks[i] = blocks[i > 0 ? i - 1 : 0];
    }
    for (int i = 0; i < N; i++)
      segalloc_free(blocks[i]);
  }
  cr_assert_eq(segalloc_check_heap(), 0);
}

/* A block of the largest classes stays in its page (which holds several):
 * freed twice, it is a double free. A freed huge block is unmapped (or
 * cached, unregistered): the second free is of a pointer segalloc doesn't
 * know, so production calls it an invalid free. */
Test(misuse_report, double_free_of_largest_class_or_huge_block) {
  const size_t sizes[] = {100 * KiB, 128 * KiB, 500 * KiB, 3 * MiB};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    void *p = segalloc_malloc(sizes[i]);
    cr_assert_not_null(p);
    death_result_t r;
    death_run(free_twice, p, &r);
    death_assert_report(
        &r, sizes[i] <= 128 * KiB ? "double-free" : "invalid-free", p);
    segalloc_free(p);
  }
}

Test(misuse_report, double_free_from_other_thread) {
  death_result_t r;
  death_run(free_twice_from_other_thread, NULL, &r);
  death_assert_report(&r, "double-free", NULL);
}

/* The helper itself: a correct program exits cleanly and prints nothing. */
static void correct_use(void *unused) {
  (void)unused;
  void *p = segalloc_malloc(100);
  segalloc_free(p);
  if (segalloc_check_heap() != 0)
    _exit(1);
}

Test(misuse_report, correct_program_exits_cleanly) {
  death_result_t r;
  death_run(correct_use, NULL, &r);
  death_assert_clean_exit(&r);
}
