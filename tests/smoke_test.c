// Placeholder test proving the Bazel + Criterion machinery works. It does
// not touch segalloc yet; replace or extend once //alloc:segalloc exists.
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

Test(smoke, system_malloc_is_16_aligned) {
  void *p = malloc(16);
  cr_assert_not_null(p);
  cr_expect_eq((uintptr_t)p % 16, 0, "malloc(16) returned %p", p);
  free(p);
}
