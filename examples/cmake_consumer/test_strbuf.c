/* The library's tests, each with the heap checks of heap_checks.h. */
#include "heap_checks.h"
#include "strbuf.h"

#include <segalloc.h>
#include <string.h>

CHECKED_TEST(strbuf, starts_empty) {
  strbuf_t sb;
  cr_assert_eq(strbuf_init(&sb), 0);
  cr_assert_str_eq(sb.data, "");
  strbuf_free(&sb);
}

CHECKED_TEST(strbuf, grows) {
  strbuf_t sb;
  cr_assert_eq(strbuf_init(&sb), 0);
  for (int i = 0; i < 100; i++)
    cr_assert_eq(strbuf_append(&sb, "0123456789"), 0);
  cr_assert_eq(sb.len, 1000);
  cr_assert_eq(strlen(sb.data), 1000);
  cr_assert_geq(sb.cap, 1001);
  strbuf_free(&sb);
}

/* malloc is segalloc's: the block is the debug build's. */
CHECKED_TEST(strbuf, uses_segalloc) {
  strbuf_t sb;
  cr_assert_eq(strbuf_init(&sb), 0);
  cr_assert_geq(segalloc_usable_size(sb.data), 16);
  segalloc_stats_t stats;
  segalloc_get_stats(&stats);
  cr_assert_gt(stats.in_use_blocks, 0);
  strbuf_free(&sb);
}
