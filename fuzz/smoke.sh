#!/bin/bash
# CI smoke campaign: builds every target for libFuzzer and AFL++ (both with
# ASan+UBSan), fuzzes each for SECONDS (default 60), starting from corpus/.
# Any finding fails the run; its input is saved as
# fuzz/findings/smoke/<engine>-<target>-<name> with a replay command.
#
#   fuzz/smoke.sh [SECONDS]
#
# Not part of `bazel test //...` (too slow for every CI run): the Bazel
# tests only replay corpus/.
set -uo pipefail
# shellcheck source=fuzz/common.sh
source "$(dirname "$0")/common.sh"

seconds=${1:-60}
saved=$FINDINGS/smoke
work=$OUT_BASE/smoke
rm -rf "$work"
mkdir -p "$saved" "$work"

lf=$(build_engine libfuzzer) || exit 2
afl_out=$(build_engine afl) || exit 2
failures=0
summary=()

report() { # ENGINE TARGET FILE...
  local engine=$1 target=$2 f dest
  shift 2
  for f in "$@"; do
    dest=$saved/$engine-$target-$(basename "$f" | tr ':,' '__')
    cp "$f" "$dest"
    echo "FINDING ($engine, $target): $dest"
    echo "  replay: $lf/$target $dest"
  done
}

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
    failures=$((failures + 1))
    summary+=("FAIL libfuzzer $target (exit $rc, $execs exec/s)")
    [[ -e ${arts[0]} ]] && report libfuzzer "$target" "${arts[@]}"
    grep -m3 -E 'segalloc|ERROR|SUMMARY' "$work/lf-$target.log"
  else
    summary+=("ok   libfuzzer $target ($execs exec/s)")
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
    failures=$((failures + 1))
    summary+=("FAIL afl $target (did not run, see $work/afl-$target.log)")
  elif [[ -e ${crashes[0]} ]]; then
    failures=$((failures + 1))
    summary+=("FAIL afl $target (${#crashes[@]} crash(es), $execs exec/s)")
    report afl "$target" "${crashes[@]}"
  else
    summary+=("ok   afl $target ($execs exec/s)")
  fi
done

printf '%s\n' "${summary[@]}"
if [[ $failures -gt 0 ]]; then
  echo "smoke: $failures campaign(s) found something; inputs in $saved"
  exit 1
fi
echo "smoke: no findings"
