/* The debug build's environment options (README.md lists them): each
 * changes behaviour as documented, and a bad value stops the program with
 * a message rather than passing as the default. Each case runs
 * scenario_main in a fresh process with the environment set. */
#include "tests/debug/run_scenario.h"
#include "tests/test_util.h"

#include <stdlib.h>

/* These options steer the canary blocks: no guard pages (guard_test),
 * which the default gives the first block of each call site. */
static death_result_t run(const char *env, const char *scenario) {
  return run_scenario(scenario, env, "SEGALLOC_GUARD=off");
}

Test(options, default_is_to_abort) {
  death_result_t r = run(NULL, "overflow-then-free");
  death_assert_report(&r, "heap-buffer-overflow", NULL);
  cr_assert(strstr(r.output, "survived") == NULL);
}

Test(options, on_error_report_continues) {
  death_result_t r = run("SEGALLOC_ON_ERROR=report", "overflow-then-free");
  assert_exit(&r, 0);
  cr_assert(strncmp(r.output, "segalloc: ERROR: heap-buffer-overflow", 37) == 0,
            "%s", r.output);
  assert_has(&r, "survived");
}

Test(options, check_every_finds_damage_before_any_free) {
  /* Without the option, only the check at exit finds it. */
  death_result_t r = run(NULL, "overflow-then-malloc");
  cr_assert(strncmp(r.output, "survived\nsegalloc: ERROR: heap-buffer-overflow",
                    46) == 0,
            "%s", r.output);
  r = run("SEGALLOC_CHECK_EVERY=1", "overflow-then-malloc");
  death_assert_report(&r, "heap-buffer-overflow", NULL);
  cr_assert(strstr(r.output, "survived") == NULL, "%s", r.output);
}

Test(options, quarantine_bytes_zero_releases_at_once) {
  death_result_t r = run(NULL, "double-free");
  death_assert_report(&r, "double-free", NULL);
  cr_assert(strstr(r.output, "has left the quarantine") == NULL);
  r = run("SEGALLOC_QUARANTINE_BYTES=0", "double-free");
  death_assert_report(&r, "double-free", NULL);
  assert_has(&r, "has left the quarantine");
}

Test(options, junk_byte) {
  death_result_t r = run(NULL, "print-new-byte");
  assert_exit(&r, 0);
  assert_has(&r, "0xbe\n");
  r = run("SEGALLOC_JUNK=0x5a", "print-new-byte");
  assert_exit(&r, 0);
  assert_has(&r, "0x5a\n");
  r = run("SEGALLOC_JUNK=off", "print-new-byte");
  assert_exit(&r, 0);
  assert_has(&r, "0x00\n"); /* fresh memory is zero */
}

Test(options, leaks_at_exit) {
  death_result_t r = run(NULL, "leak-one");
  assert_exit(&r, 0);
  cr_assert(strstr(r.output, "leak") == NULL, "%s", r.output);
  r = run("SEGALLOC_LEAKS=1", "leak-one");
  assert_exit(&r, 23);
  assert_has(&r, "segalloc: ERROR: leak on address 0x");
  assert_has(&r, "42-byte block");
  assert_has(&r, "allocated by thread");
  r = run("SEGALLOC_LEAKS=0", "leak-one");
  assert_exit(&r, 0);
}

/* Not an option, but only a fresh process shows it: the quarantine is
 * checked at exit. */
Test(options, write_after_free_found_at_exit) {
  death_result_t r = run(NULL, "write-after-free");
  cr_assert(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT,
            "status 0x%x:\n%s", r.status, r.output);
  /* The program's own output is flushed before the report. */
  cr_assert(strncmp(r.output,
                    "survived\nsegalloc: ERROR: use-after-free on address 0x",
                    53) == 0,
            "%s", r.output);
}

/* Live blocks are checked at exit too: damage to a block the program
 * never frees still fails it, after its own output. */
Test(options, damage_to_live_blocks_found_at_exit) {
  static const struct {
    const char *scenario, *first_lines;
  } cases[] = {
      {"overflow-then-malloc",
       "survived\nsegalloc: ERROR: heap-buffer-overflow on address 0x"},
      {"overflow-32-never-freed",
       "survived\nsegalloc: ERROR: heap-buffer-overflow on address 0x"},
      {"underflow-never-freed",
       "survived\nsegalloc: ERROR: heap-buffer-underflow on address 0x"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    death_result_t r = run(NULL, cases[i].scenario);
    cr_assert(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT,
              "%s: status 0x%x:\n%s", cases[i].scenario, r.status, r.output);
    cr_assert(strncmp(r.output, cases[i].first_lines,
                      strlen(cases[i].first_lines)) == 0,
              "%s:\n%s", cases[i].scenario, r.output);
    assert_has(&r, "allocated by thread");
    assert_has(&r, "found by thread");
  }
}

Test(options, bad_values_stop_the_program) {
  const char *bad[] = {
      "SEGALLOC_ON_ERROR=continue",
      "SEGALLOC_QUARANTINE_BYTES=12X",
      "SEGALLOC_QUARANTINE_BYTES=-5",
      "SEGALLOC_JUNK=300",
      "SEGALLOC_JUNK=",
      "SEGALLOC_LEAKS=yes",
      "SEGALLOC_CHECK_EVERY=often",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    death_result_t r = run(bad[i], "print-new-byte");
    cr_assert(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT,
              "%s: status 0x%x", bad[i], r.status);
    char want[128];
    snprintf(want, sizeof(want), "segalloc: ERROR: bad option %s", bad[i]);
    assert_has(&r, want);
  }
}
