/* The debug build's reports: every kind of misuse dies with SIGABRT and a
 * first line "segalloc: ERROR: <kind> on address <the right address>",
 * followed by the details a person needs. Each misuse runs in a forked
 * child (death.h) on a block the parent allocated, so the expected
 * address is known here. */
#include "segalloc_debug.h"
#include "tests/test_util.h"

#include <stdlib.h>

/* ---- misuses, each run in a child ---- */

typedef struct block_s {
  unsigned char *p;
  size_t size;
  ptrdiff_t at; /* where to write, relative to p */
} block_t;

static void write_then_free(void *arg) {
  block_t *b = arg;
  ((volatile unsigned char *)b->p)[b->at] ^= 0x5a;
  segalloc_free(b->p);
}

static void write_then_realloc(void *arg) {
  block_t *b = arg;
  ((volatile unsigned char *)b->p)[b->at] ^= 0x5a;
  segalloc_realloc(b->p, b->size * 4 + 64);
}

static void free_twice(void *arg) {
  segalloc_free(arg);
  segalloc_free(arg);
}

static void free_flush_free(void *arg) {
  segalloc_free(arg);
  segalloc_flush_quarantine();
  segalloc_free(arg);
}

static void free_pointer(void *arg) {
  segalloc_free(arg);
}

static void free_stack_address(void *arg) {
  (void)arg;
  char local[32];
  segalloc_free(local + 16);
}

static void write_after_free_then_flush(void *arg) {
  block_t *b = arg;
  segalloc_free(b->p);
  ((volatile unsigned char *)b->p)[b->at] = 'x';
  segalloc_flush_quarantine();
}

/* The quarantine is bounded: enough later frees push the block out, and
 * its poison is checked on the way. */
static void write_after_free_then_churn(void *arg) {
  block_t *b = arg;
  segalloc_free(b->p);
  ((volatile unsigned char *)b->p)[b->at] = 'x';
  for (int i = 0; i < 100000; i++)
    segalloc_free(segalloc_malloc(1000));
}

static void realloc_freed(void *arg) {
  segalloc_free(arg);
  segalloc_realloc(arg, 100);
}

static void usable_size_of_freed(void *arg) {
  segalloc_free(arg);
  segalloc_usable_size(arg);
}

static void leak_check(void *arg) {
  (void)arg;
  _exit(segalloc_leak_check() >= 1 ? 0 : 1);
}

/* ---- helpers ---- */

static death_result_t run(void (*fn)(void *), void *arg) {
  death_result_t r;
  death_run(fn, arg, &r);
  return r;
}

static void assert_output_has(const death_result_t *r, const char *text) {
  cr_assert(strstr(r->output, text) != NULL, "report lacks \"%s\"; stderr:\n%s",
            text, r->output);
}

/* ---- heap-buffer-overflow ---- */

Test(overflow, one_byte_past_a_13_byte_block) {
  block_t b = {segalloc_malloc(13), 13, 13};
  death_result_t r = run(write_then_free, &b);
  death_assert_report(&r, "heap-buffer-overflow", b.p + 13);
  assert_output_has(&r, "1 byte(s) written past the end of the 13-byte block");
  assert_output_has(&r, "allocated by thread");
  assert_output_has(&r, "found by thread");
  assert_output_has(&r, "aborting");
  segalloc_free(b.p);
}

Test(overflow, one_byte_past_blocks_of_every_kind) {
  const size_t sizes[] = {
      0,    1,     15,    16,     17,      100,           1000,   8192,
      8193, 65535, 65536, 100000, 1 << 20, (1 << 20) + 1, 3 << 20};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    block_t b = {segalloc_malloc(sizes[i]), sizes[i], (ptrdiff_t)sizes[i]};
    death_result_t r = run(write_then_free, &b);
    death_assert_report(&r, "heap-buffer-overflow", b.p + sizes[i]);
    segalloc_free(b.p);
  }
}

Test(overflow, past_aligned_calloc_and_realloc_blocks) {
  void *aligned[3] = {NULL, NULL, NULL};
  cr_assert_eq(segalloc_posix_memalign(&aligned[0], 64, 100), 0);
  cr_assert_eq(segalloc_posix_memalign(&aligned[1], 4096, 100), 0);
  aligned[2] = segalloc_aligned_alloc(1 << 21, 5000);
  for (int i = 0; i < 3; i++) {
    block_t b = {aligned[i], 100, i == 2 ? 5000 : 100};
    death_result_t r = run(write_then_free, &b);
    death_assert_report(&r, "heap-buffer-overflow", b.p + b.at);
    segalloc_free(aligned[i]);
  }
  block_t c = {segalloc_calloc(7, 3), 21, 21};
  death_result_t r = run(write_then_free, &c);
  death_assert_report(&r, "heap-buffer-overflow", c.p + 21);
  segalloc_free(c.p);
  /* Grown in place or moved, shrunk: the guard follows the new size. */
  unsigned char *g = segalloc_realloc(segalloc_malloc(100), 110);
  block_t grown = {g, 110, 110};
  r = run(write_then_free, &grown);
  death_assert_report(&r, "heap-buffer-overflow", g + 110);
  unsigned char *s = segalloc_realloc(g, 90);
  block_t shrunk = {s, 90, 90};
  r = run(write_then_free, &shrunk);
  death_assert_report(&r, "heap-buffer-overflow", s + 90);
  segalloc_free(s);
}

Test(overflow, found_by_realloc) {
  block_t b = {segalloc_malloc(40), 40, 41};
  death_result_t r = run(write_then_realloc, &b);
  death_assert_report(&r, "heap-buffer-overflow", b.p + 41);
  assert_output_has(&r, "the first at offset 41");
  segalloc_free(b.p);
}

/* ---- heap-buffer-underflow, heap-corruption ---- */

Test(underflow, one_byte_before_the_block) {
  block_t b = {segalloc_malloc(13), 13, -1};
  death_result_t r = run(write_then_free, &b);
  death_assert_report(&r, "heap-buffer-underflow", b.p - 1);
  assert_output_has(&r, "1 byte(s) written just before the 13-byte block");
  assert_output_has(&r, "allocated by thread");
  segalloc_free(b.p);
}

Test(underflow, eight_bytes_before_an_aligned_block) {
  void *p = segalloc_aligned_alloc(256, 64);
  block_t b = {p, 64, -8};
  death_result_t r = run(write_then_free, &b);
  death_assert_report(&r, "heap-buffer-underflow", b.p - 8);
  segalloc_free(p);
}

Test(corruption, header_damaged_but_not_next_to_the_block) {
  block_t b = {segalloc_malloc(32), 32, -40}; /* the header's offset field */
  death_result_t r = run(write_then_free, &b);
  death_assert_report(&r, "heap-corruption", NULL);
  assert_output_has(&r, "header of the block");
  segalloc_free(b.p);
}

/* ---- double-free ---- */

Test(double_free, while_in_quarantine) {
  void *p = segalloc_malloc(24);
  death_result_t r = run(free_twice, p);
  death_assert_report(&r, "double-free", p);
  assert_output_has(&r, "the 24-byte block");
  assert_output_has(&r, "was already freed");
  assert_output_has(&r, "freed by thread");
  segalloc_free(p);
}

Test(double_free, after_leaving_quarantine) {
  void *p = segalloc_malloc(3000);
  death_result_t r = run(free_flush_free, p);
  death_assert_report(&r, "double-free", p);
  assert_output_has(&r, "has left the quarantine");
  segalloc_free(p);
}

Test(double_free, by_realloc) {
  void *p = segalloc_malloc(24);
  death_result_t r = run(realloc_freed, p);
  death_assert_report(&r, "double-free", p);
  segalloc_free(p);
}

/* ---- invalid-free ---- */

static char global_buffer[64];

Test(invalid_free, interior_misaligned_stack_global_and_foreign) {
  unsigned char *p = segalloc_malloc(100);
  void *foreign = malloc(100); /* glibc's */
  void *bad[] = {p + 16, p + 1, p + 64, global_buffer + 16, foreign};
  const char *why[] = {"16 bytes from the start", "1 bytes from the start",
                       "64 bytes from the start", "a global",
                       "not memory from segalloc"};
  for (int i = 0; i < 5; i++) {
    death_result_t r = run(free_pointer, bad[i]);
    death_assert_report(&r, "invalid-free", bad[i]);
    assert_output_has(&r, why[i]);
  }
  death_result_t r = run(free_stack_address, NULL);
  death_assert_report(&r, "invalid-free", NULL);
  assert_output_has(&r, "on the stack");
  free(foreign);
  segalloc_free(p);
}

/* ---- use-after-free ---- */

Test(use_after_free, found_when_the_quarantine_is_flushed) {
  block_t b = {segalloc_malloc(64), 64, 10};
  death_result_t r = run(write_after_free_then_flush, &b);
  death_assert_report(&r, "use-after-free", b.p + 10);
  assert_output_has(&r, "written after free, the first at offset 10");
  assert_output_has(&r, "freed by thread");
}

Test(use_after_free, found_when_the_block_leaves_the_quarantine) {
  block_t b = {segalloc_malloc(64), 64, 0};
  death_result_t r = run(write_after_free_then_churn, &b);
  death_assert_report(&r, "use-after-free", b.p);
}

/* A large block is poisoned and checked only within SA_DBG_FILL_EDGE (1
 * KiB) of either end: a write at either end, or at the inner border of
 * either edge, is still found. */
Test(use_after_free, at_the_edges_of_a_2_mib_block) {
  size_t size = (size_t)2 << 20;
  ptrdiff_t at[] = {0, 1023, (ptrdiff_t)size - 1024, (ptrdiff_t)size - 1};
  for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
    block_t b = {segalloc_malloc(size), size, at[i]};
    death_result_t r = run(write_after_free_then_flush, &b);
    death_assert_report(&r, "use-after-free", b.p + at[i]);
    char offset[64];
    snprintf(offset, sizeof(offset), "the first at offset %td\n", at[i]);
    assert_output_has(&r, offset);
    segalloc_free(b.p);
  }
}

Test(use_after_free, usable_size_of_a_freed_block) {
  void *p = segalloc_malloc(64);
  death_result_t r = run(usable_size_of_freed, p);
  death_assert_report(&r, "use-after-free", p);
  segalloc_free(p);
}

/* ---- leak ---- */

Test(leak, reported_without_aborting) {
  void *p = segalloc_malloc(77);
  death_result_t r = run(leak_check, NULL);
  cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
            "status 0x%x; stderr:\n%s", r.status, r.output);
  char want[128];
  snprintf(want, sizeof(want), "segalloc: ERROR: leak on address %p", p);
  assert_output_has(&r, want);
  assert_output_has(&r, "77-byte block");
  assert_output_has(&r, "block(s) leaked");
  segalloc_free(p);
}

/* ---- the same, as Criterion death tests ---- */

Test(death, overflow_aborts, .signal = SIGABRT) {
  char *p = segalloc_malloc(5);
  ((volatile char *)p)[5] = 1;
  segalloc_free(p);
}

Test(death, underflow_aborts, .signal = SIGABRT) {
  char *p = segalloc_malloc(5);
  ((volatile char *)p)[-1] ^= 1; /* the canary is keyed: flip, never guess */
  segalloc_free(p);
}

Test(death, double_free_aborts, .signal = SIGABRT) {
  free_twice(segalloc_malloc(5));
}

Test(death, invalid_free_aborts, .signal = SIGABRT) {
  segalloc_free((char *)segalloc_malloc(64) + 32);
}

Test(death, use_after_free_aborts, .signal = SIGABRT) {
  char *p = segalloc_malloc(5);
  segalloc_free(p);
  ((volatile char *)p)[0] = 1;
  segalloc_flush_quarantine();
}

Test(death, corruption_aborts, .signal = SIGABRT) {
  char *p = segalloc_malloc(5);
  ((volatile char *)p)[-48] ^= 1; /* the header's size field */
  segalloc_free(p);
}
