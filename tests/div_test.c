/* sa_div_by (internal.h), which finds a pointer's block in its page,
 * equals the division it replaces for every size class and every offset
 * in the largest page (block starts and interiors alike), and for the last
 * offsets of a segment, the bound its proof claims. */
#include "internal.h"

#include <criterion/criterion.h>

static void check_range(unsigned cls, size_t from, size_t to) {
  uint32_t d = _sa_class_size[cls];
  uint64_t magic = sa_div_magic(d);
  size_t wrong = 0, first_wrong = 0;
  for (size_t n = from; n < to; n++) {
    if (sa_div_by(n, magic) != n / d && wrong++ == 0)
      first_wrong = n;
  }
  cr_assert_eq(wrong, 0,
               "class %u (size %u): %zu offsets in [%zu, %zu) wrong, "
               "the first %zu",
               cls, d, wrong, from, to, first_wrong);
}

Test(div, exact_for_every_class_and_offset_in_a_page) {
  for (unsigned cls = 0; cls < SA_CLASS_COUNT; cls++)
    check_range(cls, 0, (size_t)1 << SA_MEDIUM_PAGE_SHIFT);
}

Test(div, exact_up_to_the_end_of_a_segment) {
  for (unsigned cls = 0; cls < SA_CLASS_COUNT; cls++)
    check_range(cls, SA_SEGMENT_SIZE - 2 * SA_LARGE_MAX, SA_SEGMENT_SIZE);
}
