#!/bin/bash
# Proof of power: how fast do the targets find known, deliberately
# injected allocator bugs?
#
#   fuzz/bug_hunt.sh [MAX_SECONDS] [BUGS] [TARGETS] [ENGINES]
#
# For each bug N (default "0 1 2 3"; bug 4 breaks the debug build: pass
# TARGETS=fuzz_misuse), builds the targets with
# SEGALLOC_CFLAGS=-DSEGALLOC_INJECT_BUG=N (fuzz/build.sh passes it to the
# allocator only), fuzzes from corpus/ until the first crash or MAX_SECONDS
# (default 300), and prints seconds-to-first-crash per target and engine.
# Bug 0 is the control: the allocator as it is (expect "none").
# RUNS=k repeats each measurement k times (fuzzing is random). SEEDS=none
# starts from a single empty program instead of corpus/ (the seeds alone
# catch some bugs at once; this measures the fuzzing). Crashing inputs are
# kept in fuzz/findings/bug_hunt/. Each one is replayed on the unmodified
# allocator (bug 0): a time marked "!" crashed there too, i.e. it is not
# the injected bug (a harness or allocator problem: look at it).
#
# The allocator decides what each SEGALLOC_INJECT_BUG value breaks; this
# script refuses to run while alloc/ doesn't mention the macro (every
# "bug" would be the unmodified allocator), unless FORCE=1.
set -uo pipefail
# shellcheck source=fuzz/common.sh
source "$(dirname "$0")/common.sh"

max=${1:-300}
bugs=${2:-"0 1 2 3"}
targets=${3:-"fuzz_alloc fuzz_alloc_mt"}
engines=${4:-"libfuzzer afl"}
runs=${RUNS:-1}

if ! grep -rqs SEGALLOC_INJECT_BUG "$ROOT/alloc" && [[ ${FORCE:-0} != 1 ]]; then
  echo "bug_hunt: alloc/ has no SEGALLOC_INJECT_BUG switch yet; nothing to" \
    "hunt (FORCE=1 runs anyway)" >&2
  exit 2
fi

work=$OUT_BASE/bug_hunt
keep=$FINDINGS/bug_hunt
mkdir -p "$work" "$keep"
# seeds TARGET: the input directory the campaigns start from.
seeds() {
  if [[ ${SEEDS:-corpus} == none ]]; then
    mkdir -p "$work/empty_seed"
    printf '\0' >"$work/empty_seed/empty"
    echo "$work/empty_seed"
  else
    seed_dir "$1"
  fi
}
results=()
# The unmodified allocator, to tell the injected bug from anything else.
control=$(SEGALLOC_CFLAGS="" build_engine libfuzzer "$OUT_BASE/hunt0-libfuzzer") ||
  exit 2

# hunt ENGINE BIN TARGET LABEL: prints seconds to first crash, or "none".
hunt() {
  local engine=$1 bin=$2 target=$3 label=$4 run=$work/run t0 t1 found=()
  rm -rf "$run" && mkdir -p "$run/corpus" "$run/art"
  t0=$(now)
  if [[ $engine == libfuzzer* ]]; then
    "$bin" -max_total_time="$max" -rss_limit_mb=4096 -max_len=4096 \
      -timeout=30 -dict="$DICT" -artifact_prefix="$run/art/" \
      "$run/corpus" "$(seeds "$target")" >"$run/log" 2>&1
    found=("$run"/art/crash-*)
  else
    AFL_BENCH_UNTIL_CRASH=1 \
      ASAN_OPTIONS=abort_on_error=1:detect_leaks=0:symbolize=0 \
      afl-fuzz -i "$(seeds "$target")" -o "$run/afl" -m none -t 10000 \
      -V "$max" -x "$DICT" -- "$bin" >"$run/log" 2>&1
    found=("$run"/afl/default/crashes/id*)
  fi
  t1=$(now)
  if [[ -e ${found[0]} ]]; then
    cp "${found[0]}" "$keep/$label"
    local mark=""
    "$control/$target" "$keep/$label" >"$run/control.log" 2>&1 || mark="!"
    awk -v a="$t0" -v b="$t1" -v m="$mark" 'BEGIN { printf "%.1f%s\n", b - a, m }'
  else
    echo none
  fi
}

for bug in $bugs; do
  for engine in $engines; do
    if [[ $bug == 0 ]]; then
      out=$(SEGALLOC_CFLAGS="" build_engine "$engine" "$OUT_BASE/hunt0-$engine")
    else
      out=$(SEGALLOC_CFLAGS="-DSEGALLOC_INJECT_BUG=$bug" \
        build_engine "$engine" "$OUT_BASE/hunt$bug-$engine")
    fi || exit 2
    for target in $targets; do
      times=()
      for ((r = 1; r <= runs; r++)); do
        times+=("$(hunt "$engine" "$out/$target" "$target" \
          "bug$bug-$engine-$target-run$r")")
      done
      results+=("bug $bug  $engine  $target  seconds to first crash: ${times[*]}")
      echo "${results[-1]}"
    done
  done
done

echo "---- summary (max $max s per run, seeds: ${SEEDS:-corpus}) ----"
printf '%s\n' "${results[@]}"
