#!/bin/bash
# CI smoke campaign: builds every target for libFuzzer and AFL++ (both with
# ASan+UBSan), fuzzes each for SECONDS (default 60), starting from corpus/.
# Any finding fails the run; its input is saved as
# fuzz/findings/smoke/<engine>-<target>-<name>, and printed in base64 with
# a replay command (a CI log outlives the CI machine).
#
#   fuzz/smoke.sh [SECONDS]
#
# Every campaign counts as one test. The counts go, as the last line, to
# stdout and to fuzz/out/smoke/summary ("N passed, N failed", one line per
# campaign before it): .ci/run has tools/test_summary.py add them to the
# Bazel tests' totals (SEGALLOC_SMOKE_SUMMARY).
#
# Not part of `bazel test //...` (minutes of fuzzing): the Bazel tests only
# replay corpus/.
set -uo pipefail
# shellcheck source=fuzz/common.sh
source "$(dirname "$0")/common.sh"

seconds=${1:-60}
saved=$FINDINGS/smoke
work=$OUT_BASE/smoke
rm -rf "$work"
mkdir -p "$saved" "$work"
# shellcheck source=tools/results.sh
source "$ROOT/tools/results.sh"

# finish: prints the per-campaign lines and the counts, also to the summary
# file, and exits non-zero on any failure.
finish() {
  if [[ $results_failed -gt 0 ]]; then
    echo "smoke: $results_failed campaign(s) failed; inputs in $saved" >&2
  fi
  results_finish "$work/summary"
}

# A build that fails is a failed campaign for each engine.
lf=$(build_engine libfuzzer) ||
  result 1 "libfuzzer: build failed (fuzz/build.sh)"
afl_out=$(build_engine afl) ||
  result 1 "afl: build failed (fuzz/build.sh)"
[[ $results_failed -gt 0 ]] && finish

report() { # ENGINE TARGET FILE...
  local engine=$1 target=$2 f dest
  shift 2
  for f in "$@"; do
    dest=$saved/$engine-$target-$(basename "$f" | tr ':,' '__')
    cp "$f" "$dest"
    echo "FINDING ($engine, $target): $dest"
    echo "  replay: $lf/$target $dest"
    echo "  base64: $(base64 -w0 "$dest")"
  done
}

# outcome ENGINE TARGET FAILED DETAIL: one summary line.
outcome() { result "$3" "$1 $2 ($4)"; }

for target in $(all_targets); do
  # libFuzzer stops at the first crash and exits non-zero.
  mkdir -p "$work/lf-$target" "$work/lf-art-$target"
  "$lf/$target" -max_total_time="$seconds" -rss_limit_mb=4096 -max_len=4096 \
    -timeout=30 -dict="$DICT" -print_final_stats=1 \
    -artifact_prefix="$work/lf-art-$target/" "$work/lf-$target" \
    "$(seed_dir "$target")" >"$work/lf-$target.log" 2>&1
  rc=$?
  execs=$(grep -o 'average_exec_per_sec: *[0-9]*' "$work/lf-$target.log" |
    grep -o '[0-9]*$')
  arts=("$work/lf-art-$target"/*)
  if [[ $rc -ne 0 || -e ${arts[0]} ]]; then
    outcome libfuzzer "$target" 1 "exit $rc, ${execs:-?} exec/s"
    [[ -e ${arts[0]} ]] && report libfuzzer "$target" "${arts[@]}"
    grep -m3 -E 'segalloc|ERROR|SUMMARY|runtime error' "$work/lf-$target.log"
  else
    outcome libfuzzer "$target" 0 "$execs exec/s"
  fi

  # AFL++: one instance, stopping at the first crash.
  AFL_BENCH_UNTIL_CRASH=1 ASAN_OPTIONS=abort_on_error=1:detect_leaks=0:symbolize=0 \
    afl-fuzz -i "$(seed_dir "$target")" -o "$work/afl-$target" -m none \
    -t 10000 -V "$seconds" -x "$DICT" -- "$afl_out/$target" \
    >"$work/afl-$target.log" 2>&1
  stats=$work/afl-$target/default/fuzzer_stats
  execs=$(awk '/^execs_per_sec/ { print $3 }' "$stats" 2>/dev/null)
  crashes=("$work/afl-$target"/default/crashes/id*)
  if [[ ! -f $stats ]]; then
    outcome afl "$target" 1 "did not run, see $work/afl-$target.log"
    tail -5 "$work/afl-$target.log"
  elif [[ -e ${crashes[0]} ]]; then
    outcome afl "$target" 1 "${#crashes[@]} crash(es), $execs exec/s"
    report afl "$target" "${crashes[@]}"
  else
    outcome afl "$target" 0 "$execs exec/s"
  fi
done

finish
