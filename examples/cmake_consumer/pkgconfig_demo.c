/* Built with `pkg-config --cflags --libs segalloc-debug` (README): a plain
 * program on the debug drop-in checks its own heap and leaks. Exits 0 when
 * the leak check sees exactly the one block still allocated, then none. */
#include <segalloc_debug.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* volatile: clang and gcc may delete a malloc/free pair whose memory is
 * never read, and with it the block the leak check must see. */
static char *volatile kept;

int main(void) {
  kept = malloc(100);
  if (kept == NULL)
    return 1;
  strcpy(kept, "still allocated at the leak check");
  /* Only stderr before the leak checks: stdout's buffer is a malloc'd
   * block too. */
  int damaged = segalloc_check_heap();
  size_t leaks = segalloc_leak_check(); /* reports `kept` */
  free(kept);
  size_t after = segalloc_leak_check();
  fprintf(stderr, "check_heap %d, leaks %zu, after free %zu\n", damaged, leaks,
          after);
  return damaged == 0 && leaks == 1 && after == 0 ? 0 : 1;
}
