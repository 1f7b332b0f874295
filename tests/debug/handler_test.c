/* The error handler (segalloc_set_error_handler): each misuse reaches it
 * once, with the kind, addresses, size and damage; the program continues,
 * and a damaged block is never handed out again. */
#include "tests/debug/capture.h"
#include "tests/test_util.h"

TestSuite(handler, .init = capture_start, .fini = capture_stop);

/* Exactly one error of `kind` at `address` was seen; returns it. */
static const segalloc_error_t *expect_one(segalloc_error_kind_t kind,
                                          const void *address) {
  cr_assert_eq(captured.count, 1, "expected 1 error (%s), saw %zu",
               segalloc_error_kind_name(kind), captured.count);
  const segalloc_error_t *e = &captured.errors[0];
  cr_assert_eq(e->kind, kind, "kind %s, expected %s",
               segalloc_error_kind_name(e->kind),
               segalloc_error_kind_name(kind));
  cr_assert_eq(e->address, address, "address %p, expected %p", e->address,
               address);
  return e;
}

Test(handler, kind_names) {
  const char *names[] = {"double-free",
                         "invalid-free",
                         "heap-buffer-overflow",
                         "heap-buffer-underflow",
                         "use-after-free",
                         "heap-corruption",
                         "leak",
                         "alloc-dealloc-mismatch",
                         "new-delete-size-mismatch"};
  cr_assert_eq(SEGALLOC_ERR_KIND_COUNT, 9);
  for (int k = 0; k < SEGALLOC_ERR_KIND_COUNT; k++)
    cr_assert_str_eq(segalloc_error_kind_name((segalloc_error_kind_t)k),
                     names[k]);
}

Test(handler, overflow_details_and_the_block_is_not_reused) {
  size_t before = segalloc_error_count();
  unsigned char *p = segalloc_malloc(13);
  p[13] = 0;
  p[15] = 0;
  segalloc_free(p);
  const segalloc_error_t *e =
      expect_one(SEGALLOC_ERR_HEAP_BUFFER_OVERFLOW, p + 13);
  cr_assert_eq(e->block, p);
  cr_assert_eq(e->requested_size, 13);
  cr_assert_eq(e->damaged_offset, 13);
  cr_assert_eq(e->damaged_bytes, 2);
  cr_assert_eq(segalloc_error_count(), before + 1);
  /* Kept out of use: the same size never gets this block back. */
  void *again[64];
  for (int i = 0; i < 64; i++) {
    again[i] = segalloc_malloc(13);
    cr_assert_neq(again[i], p, "a damaged block was handed out again");
  }
  for (int i = 0; i < 64; i++)
    segalloc_free(again[i]);
  cr_assert_eq(captured.count, 1);
  heap_assert_ok();
}

Test(handler, underflow_details) {
  unsigned char *p = segalloc_malloc(40);
  p[-3] ^= 0xff;
  segalloc_free(p);
  const segalloc_error_t *e =
      expect_one(SEGALLOC_ERR_HEAP_BUFFER_UNDERFLOW, p - 3);
  cr_assert_eq(e->block, p);
  cr_assert_eq(e->damaged_bytes, 3);
  cr_assert_eq(e->damaged_offset, (size_t)-3);
  cr_assert_eq(e->requested_size, 40, "only the canary was hit");
  p[-3] ^= 0xff; /* repaired: the block is whole again and can go */
  segalloc_free(p);
  cr_assert_eq(captured.count, 1);
}

Test(handler, double_free_then_the_program_goes_on) {
  void *p = segalloc_malloc(100);
  segalloc_free(p);
  segalloc_free(p);
  const segalloc_error_t *e = expect_one(SEGALLOC_ERR_DOUBLE_FREE, p);
  cr_assert_eq(e->requested_size, 100);
  void *q = segalloc_malloc(100);
  cr_assert_not_null(q);
  segalloc_free(q);
  heap_assert_ok();
  cr_assert_eq(captured.count, 1);
}

Test(handler, invalid_frees_are_ignored) {
  unsigned char *p = segalloc_malloc(64);
  int local;
  segalloc_free(p + 32);
  expect_one(SEGALLOC_ERR_INVALID_FREE, p + 32);
  cr_assert_eq(captured.errors[0].block, p);
  cr_assert_eq(captured.errors[0].requested_size, 64);
  cr_assert_eq(captured.errors[0].damaged_offset, 32);
  captured.count = 0;
  segalloc_free(&local);
  expect_one(SEGALLOC_ERR_INVALID_FREE, &local);
  cr_assert_null(captured.errors[0].block);
  /* The block itself is untouched and still live. */
  cr_assert_eq(segalloc_usable_size(p), 64);
  segalloc_free(p);
  cr_assert_eq(captured.count, 1);
  heap_assert_ok();
}

Test(handler, realloc_of_a_bad_pointer_gives_null) {
  unsigned char *p = segalloc_malloc(64);
  cr_assert_null(segalloc_realloc(p + 16, 200));
  expect_one(SEGALLOC_ERR_INVALID_FREE, p + 16);
  cr_assert_eq(segalloc_usable_size(p), 64);
  segalloc_free(p);
}

Test(handler, use_after_free_details) {
  unsigned char *p = segalloc_malloc(300);
  segalloc_free(p);
  p[200] = 1;
  p[201] = 2;
  segalloc_flush_quarantine();
  const segalloc_error_t *e = expect_one(SEGALLOC_ERR_USE_AFTER_FREE, p + 200);
  cr_assert_eq(e->block, p);
  cr_assert_eq(e->requested_size, 300);
  cr_assert_eq(e->damaged_offset, 200);
  cr_assert_eq(e->damaged_bytes, 2);
  /* Written after free, so never reused: the writer may write again. */
  for (int i = 0; i < 64; i++) {
    void *q = segalloc_malloc(300);
    cr_assert_neq(q, p);
    segalloc_free(q);
  }
  cr_assert_eq(captured.count, 1);
}

Test(handler, freed_memory_reads_as_poison_and_new_memory_as_junk) {
  unsigned char *p = segalloc_malloc(64);
  for (int i = 0; i < 64; i++)
    cr_assert_eq(p[i], 0xbe, "new byte %d is 0x%02x, not junk", i, p[i]);
  memset(p, 7, 64);
  segalloc_free(p);
  for (int i = 0; i < 64; i++)
    cr_assert_eq(p[i], 0xfd, "freed byte %d is 0x%02x, not poison", i, p[i]);
  unsigned char *z = segalloc_calloc(8, 8);
  for (int i = 0; i < 64; i++)
    cr_assert_eq(z[i], 0);
  segalloc_free(z);
  cr_assert_eq(captured.count, 0);
}

/* A large block gets junk within 256 bytes (SA_DBG_JUNK_EDGE) and poison
 * within 1 KiB (SA_DBG_FILL_EDGE) of either end: the bytes a program
 * reads first, and those past a loop that overran. */
Test(handler, large_blocks_have_junk_and_poison_at_both_edges) {
  size_t size = (size_t)1 << 20, junk = 256, poison = 1024;
  unsigned char *p = segalloc_malloc(size);
  for (size_t i = 0; i < junk; i++) {
    cr_assert_eq(p[i], 0xbe, "new byte %zu is 0x%02x, not junk", i, p[i]);
    cr_assert_eq(p[size - 1 - i], 0xbe, "new byte %zu is 0x%02x, not junk",
                 size - 1 - i, p[size - 1 - i]);
  }
  memset(p, 7, size);
  segalloc_free(p);
  for (size_t i = 0; i < poison; i++) {
    cr_assert_eq(p[i], 0xfd, "freed byte %zu is 0x%02x, not poison", i, p[i]);
    cr_assert_eq(p[size - 1 - i], 0xfd, "freed byte %zu is 0x%02x, not poison",
                 size - 1 - i, p[size - 1 - i]);
  }
  cr_assert_eq(captured.count, 0);
}

/* Every size up to 600 bytes: every footer length from 0 to 64, and
 * junk and poison over all of a block, then both edges of it: a byte the
 * fills miss is seen, as junk missing here or as damage at the free or
 * when the quarantine is flushed. */
Test(handler, every_size_is_filled_and_checked_whole) {
  size_t junk = 256;
  for (size_t size = 0; size <= 600; size++) {
    unsigned char *p = segalloc_malloc(size);
    for (size_t i = 0; i < size; i++)
      if (i < junk || size - i <= junk)
        cr_assert_eq(p[i], 0xbe, "size %zu: new byte %zu is 0x%02x", size, i,
                     p[i]);
    segalloc_free(p);
  }
  segalloc_flush_quarantine();
  cr_assert_eq(
      captured.count, 0, "first: %s",
      captured.count ? segalloc_error_kind_name(captured.errors[0].kind) : "");
  heap_assert_ok();
}

/* The footer of a block with more slack than it checks: its first 64
 * bytes (SA_DBG_FOOTER_CHECK) are checked, the last of them too; a write
 * further into the slack is not seen (the documented limit), and it
 * damages no other block. */
Test(handler, the_footer_checks_the_first_64_bytes_of_the_slack) {
  /* 10000 bytes and the 72 of header and footer: a 10240-byte block, 176
   * bytes of slack. */
  size_t size = 10000, checked = 64;
  for (size_t at = size; at < size + checked; at += checked - 1) {
    captured.count = 0;
    unsigned char *p = segalloc_malloc(size);
    p[at] ^= 0xff;
    segalloc_free(p);
    const segalloc_error_t *e =
        expect_one(SEGALLOC_ERR_HEAP_BUFFER_OVERFLOW, p + at);
    cr_assert_eq(e->damaged_offset, at);
    cr_assert_eq(e->damaged_bytes, 1);
  }
  captured.count = 0;
  unsigned char *p = segalloc_malloc(size);
  p[size + 150] ^= 0xff;
  segalloc_free(p);
  segalloc_flush_quarantine();
  cr_assert_eq(captured.count, 0);
  heap_assert_ok();
}

Test(handler, usable_size_is_the_requested_size) {
  const size_t sizes[] = {0, 1, 13, 16, 1000, 70000, 2 << 20};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    void *p = segalloc_malloc(sizes[i]);
    cr_assert_eq(segalloc_usable_size(p), sizes[i]);
    segalloc_free(p);
  }
  cr_assert_eq(captured.count, 0);
}

/* Over-aligned blocks sit after the core's padding: damage before them,
 * or a pointer into them, must still lead to the right block (found by
 * fuzz_misuse). */
Test(handler, aligned_blocks_underflow_and_interior_free) {
  for (size_t align = 16; align <= MiB; align *= 2) {
    for (size_t size = 0; size <= 40; size += 12) {
      unsigned char *p = NULL;
      cr_assert_eq(segalloc_posix_memalign((void **)&p, align, size), 0);
      for (size_t back = 1; back <= 8; back++) {
        captured.count = 0;
        p[-(ptrdiff_t)back] ^= 0xff;
        segalloc_free(p);
        cr_assert_eq(captured.count, 1);
        cr_assert_eq(captured.errors[0].kind,
                     SEGALLOC_ERR_HEAP_BUFFER_UNDERFLOW,
                     "align %zu size %zu, %zu back: %s", align, size, back,
                     segalloc_error_kind_name(captured.errors[0].kind));
        cr_assert_eq(captured.errors[0].block, p);
        p[-(ptrdiff_t)back] ^= 0xff;
      }
      /* 16 bytes in, or 8 in a block too small for that: a 0-byte
       * block's core block ends 16 bytes past p (the 64-byte header and
       * the footer), so p + 16 is the next block's start. */
      captured.count = 0;
      segalloc_free(p + (size >= 16 ? 16 : 8));
      cr_assert_eq(captured.count, 1);
      cr_assert_eq(captured.errors[0].kind, SEGALLOC_ERR_INVALID_FREE);
      cr_assert_eq(captured.errors[0].block, p, "align %zu: block %p, not %p",
                   align, captured.errors[0].block, (void *)p);
      captured.count = 0;
      segalloc_free(p);
      cr_assert_eq(captured.count, 0);
    }
  }
}
