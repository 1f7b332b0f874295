/* Bugs the heap checks must catch, each run alone by ctest
 * (CMakeLists.txt), which expects the test to fail with the right report:
 * a test that does not free what it allocated, and a one-byte overflow of
 * a block still live (freeing it would be caught by free itself). */
#include "heap_checks.h"
#include "strbuf.h"

#include <stdlib.h>

/* Keeps the planted blocks reachable, so the compiler keeps their writes. */
static char *volatile kept;

CHECKED_TEST(planted, leak) {
  strbuf_t sb;
  cr_assert_eq(strbuf_init(&sb), 0);
  cr_assert_eq(strbuf_append(&sb, "never freed"), 0);
}

CHECKED_TEST(planted, overflow) {
  kept = malloc(10);
  cr_assert_not_null(kept);
  kept[10] = 'x';
}
