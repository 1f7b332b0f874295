# Sourced by the test suites run by scripts rather than Bazel
# (.clusterfuzzlite/test.sh, examples/cmake_consumer/run.sh, fuzz/smoke.sh,
# examples/campaign/run.sh): one line per
# test, "ok   ..." or "FAIL ...", then "N passed, N failed", the results
# file tools/test_summary.py adds to the final count (SEGALLOC_SMOKE_SUMMARY).
# shellcheck shell=bash

results_passed=0
results_failed=0
results_lines=()

# result OK(0|1) TEXT: records one test.
result() {
  if [[ $1 == 0 ]]; then
    results_passed=$((results_passed + 1))
    results_lines+=("ok   $2")
  else
    results_failed=$((results_failed + 1))
    results_lines+=("FAIL $2")
  fi
}

# results_finish FILE: prints the lines and the counts, also to FILE, and
# exits non-zero if a test failed.
results_finish() {
  results_lines+=("$results_passed passed, $results_failed failed")
  printf '%s\n' "${results_lines[@]}" | tee "$1"
  exit $((results_failed > 0))
}
