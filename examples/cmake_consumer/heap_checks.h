/* Heap checks around each Criterion test, for tests linked with the
 * debug build of segalloc (segalloc::segalloc-debug): at the end of the
 * test, segalloc_check_now() (the quarantine's poison, then
 * segalloc_check_heap(): every live block's canary and footer, the
 * allocator's metadata) and a leak check of the blocks the test allocated.
 *
 * CHECKED_TEST(suite, name) { ... } is Test(suite, name) with the checks
 * around the body. They run inside the test, not in a .fini: Criterion
 * 2.4 prints a failed assertion of a .fini but still counts the test as
 * passed. */
#ifndef HEAP_CHECKS_H
#define HEAP_CHECKS_H

#include <criterion/criterion.h>

void heap_checks_begin(void);
void heap_checks_end(void);

#define CHECKED_TEST(suite, name)                                              \
  static void suite##_##name##_body(void);                                     \
  Test(suite, name) {                                                          \
    heap_checks_begin();                                                       \
    suite##_##name##_body();                                                   \
    heap_checks_end();                                                         \
  }                                                                            \
  static void suite##_##name##_body(void)

#endif /* HEAP_CHECKS_H */
