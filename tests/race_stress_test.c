/* The race scenarios of tests/race_scenarios.h in a plain main, so that
 * they run under ThreadSanitizer too (`tools/test.sh --config=tsan
 * //tests:race_stress_test`), where Criterion can't start. Prints
 * "N passed, N failed" last (tools/test_summary.py counts it). */
#include "tests/race_scenarios.h"

#include <stdio.h>

static int passed, failed;

static void check(const char *name, bool ok) {
  printf("%s %s\n", ok ? "PASS" : "FAIL", name);
  ok ? passed++ : failed++;
}

int main(void) {
  segalloc_stats_t start, end;
  segalloc_get_stats(&start);
  check("last blocks freed as their owners exit",
        race_last_block_exits(100) == 0);
  check("remote frees into full pages", race_full_page_handoffs(4) == 0);
  check("heap check", segalloc_check_heap() == 0);
  segalloc_get_stats(&end);
  check("every block back", end.in_use_blocks == start.in_use_blocks);
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
