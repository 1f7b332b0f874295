/* segalloc_check_now, the per-input check of a fuzz target: it finds the
 * damage an input did before the next input runs (a write after free the
 * quarantine alone would find only when the block leaves it), counts each
 * problem, and empties the quarantine of a clean heap. */
#include "tests/debug/capture.h"
#include "tests/test_util.h"

#include <pthread.h>

TestSuite(check_now, .init = capture_start, .fini = capture_stop);

static size_t blocks_in_use(void) {
  segalloc_stats_t s;
  segalloc_get_stats(&s);
  return s.in_use_blocks;
}

Test(check_now, clean_heap_gives_zero_and_empties_the_quarantine) {
  cr_assert_eq(segalloc_check_now(), 0);
  size_t base = blocks_in_use();
  void *keep = segalloc_malloc(40);
  for (int i = 0; i < 100; i++)
    segalloc_free(segalloc_malloc(16 + (size_t)i * 8));
  /* Quarantined blocks are still in use for the core. */
  cr_assert_eq(blocks_in_use(), base + 101);
  cr_assert_eq(segalloc_check_now(), 0);
  cr_assert_eq(blocks_in_use(), base + 1, "the quarantine was not emptied");
  segalloc_free(keep);
  cr_assert_eq(segalloc_check_now(), 0);
  cr_assert_eq(blocks_in_use(), base);
  cr_assert_eq(captured.count, 0);
}

Test(check_now, counts_an_overflow_of_a_live_block) {
  unsigned char *p = segalloc_malloc(30);
  p[30] ^= 0x5a;
  cr_assert_eq(segalloc_check_now(), 1);
  cr_assert_eq(captured.count, 1);
  cr_assert_eq(captured.errors[0].kind, SEGALLOC_ERR_HEAP_BUFFER_OVERFLOW);
  cr_assert_eq(captured.errors[0].address, p + 30);
  p[30] ^= 0x5a;
  cr_assert_eq(segalloc_check_now(), 0, "repaired, the heap is whole");
  segalloc_free(p);
  cr_assert_eq(captured.count, 1);
}

/* A block written after free is reported once and kept out of use. */
Test(check_now, counts_a_write_after_free_once) {
  cr_assert_eq(segalloc_check_now(), 0);
  size_t base = blocks_in_use();
  unsigned char *p = segalloc_malloc(64);
  segalloc_free(p);
  p[10] = 1;
  p[11] = 2;
  cr_assert_eq(segalloc_check_now(), 1);
  cr_assert_eq(captured.count, 1);
  cr_assert_eq(captured.errors[0].kind, SEGALLOC_ERR_USE_AFTER_FREE);
  cr_assert_eq(captured.errors[0].address, p + 10);
  cr_assert_eq(captured.errors[0].damaged_bytes, 2);
  cr_assert_eq(segalloc_check_now(), 0);
  cr_assert_eq(captured.count, 1);
  cr_assert_eq(blocks_in_use(), base + 1, "the damaged block was reused");
}

/* A quarantined block whose header was overwritten is reported and not
 * released through that header. */
Test(check_now, counts_a_damaged_quarantined_header) {
  cr_assert_eq(segalloc_check_now(), 0);
  size_t base = blocks_in_use();
  unsigned char *p = segalloc_malloc(80);
  segalloc_free(p);
  p[-40] ^= 0xff;
  cr_assert_eq(segalloc_check_now(), 1);
  cr_assert_eq(captured.count, 1);
  cr_assert_eq(captured.errors[0].kind, SEGALLOC_ERR_HEAP_CORRUPTION);
  cr_assert_eq(segalloc_check_now(), 0);
  cr_assert_eq(blocks_in_use(), base + 1);
}

/* A fuzzer's loop: input 3 of 6 writes after free. With a check after
 * every input the report comes while input 3 is the current one; without
 * it, the default quarantine (4 MiB) still holds the block after all six. */
static int current_input;
static int blamed[CAPTURE_MAX];
static size_t blamed_count;

static void blame(const segalloc_error_t *err, void *ctx) {
  (void)err, (void)ctx;
  if (blamed_count < CAPTURE_MAX)
    blamed[blamed_count] = current_input;
  blamed_count++;
}

static void run_input(int input, int bad_input) {
  current_input = input;
  char *node[8];
  for (int i = 0; i < 8; i++)
    node[i] = segalloc_malloc(24 + (size_t)input * 8);
  for (int i = 0; i < 8; i++)
    segalloc_free(node[i]);
  if (input == bad_input)
    node[5][3] = 'x';
}

Test(check_now, blames_the_input_that_wrote_after_free) {
  segalloc_set_error_handler(blame, NULL);
  blamed_count = 0;
  for (int input = 1; input <= 6; input++) {
    run_input(input, 3);
    segalloc_check_now();
  }
  cr_assert_eq(blamed_count, 1);
  cr_assert_eq(blamed[0], 3, "blamed input %d", blamed[0]);

  /* Without the per-input check nothing is found during the loop. */
  blamed_count = 0;
  for (int input = 1; input <= 6; input++)
    run_input(input, 3);
  cr_assert_eq(blamed_count, 0);
  cr_assert_eq(segalloc_check_now(), 1);
  cr_assert_eq(blamed[0], 6, "found only after the last input");
}

/* Blocks another (live) thread freed sit in its quarantine: checked and
 * emptied too (but for the damaged one, kept out of use). */
typedef struct freer_s {
  unsigned char *block, *intact;
  pthread_barrier_t freed, checked;
} freer_t;

static void *free_and_wait(void *arg) {
  freer_t *f = arg;
  segalloc_free(f->block);
  segalloc_free(f->intact);
  pthread_barrier_wait(&f->freed);
  pthread_barrier_wait(&f->checked);
  return NULL;
}

Test(check_now, checks_other_threads_quarantines) {
  cr_assert_eq(segalloc_check_now(), 0);
  size_t base = blocks_in_use();
  freer_t f = {.block = segalloc_malloc(100), .intact = segalloc_malloc(100)};
  pthread_barrier_init(&f.freed, NULL, 2);
  pthread_barrier_init(&f.checked, NULL, 2);
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, free_and_wait, &f), 0);
  pthread_barrier_wait(&f.freed);
  f.block[99] = 0;
  cr_assert_eq(segalloc_check_now(), 1);
  cr_assert_eq(captured.errors[0].kind, SEGALLOC_ERR_USE_AFTER_FREE);
  cr_assert_eq(captured.errors[0].address, f.block + 99);
  cr_assert_eq(captured.count, 1);
  cr_assert_eq(blocks_in_use(), base + 1, "the intact block stays quarantined");
  cr_assert_eq(segalloc_check_now(), 0);
  pthread_barrier_wait(&f.checked);
  pthread_join(th, NULL);
  pthread_barrier_destroy(&f.freed);
  pthread_barrier_destroy(&f.checked);
}

/* With the default SEGALLOC_ON_ERROR=abort, the check after the input
 * aborts with the usual report (what a fuzzer records as the crash). */
static void write_after_free_then_check(void *arg) {
  segalloc_set_error_handler(NULL, NULL);
  unsigned char *p = arg;
  segalloc_free(p);
  p[7] = 0;
  segalloc_check_now();
}

Test(check_now, aborts_with_the_report_by_default) {
  unsigned char *p = segalloc_malloc(48);
  death_result_t r;
  death_run(write_after_free_then_check, p, &r);
  death_assert_report(&r, "use-after-free", p + 7);
  segalloc_free(p);
}
