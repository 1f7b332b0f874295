#!/usr/bin/env bash
# bench/selftest.sh: checks that run.sh reports allocator bugs as FAIL.
#
# Preloads selftest/bad_alloc.c (a malloc that crashes, hangs or corrupts
# realloc'ed data depending on the program) as "segalloc" and runs a few
# quick workloads. Expected: realloc -> wrong output, prodcons-1t ->
# signal:11, cache-scratch-1t -> timeout, churn-lifo -> clean. Takes about
# 30 s; uses its own build and output directories, so it does not disturb
# bench/build or bench/results.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=$BENCH_DIR/build/selftest
rm -rf "$WORK/results"
mkdir -p "$WORK"
cc -std=c11 -O2 -Wall -Wextra -shared -fPIC -o "$WORK/bad_alloc.so" \
  "$BENCH_DIR/selftest/bad_alloc.c"

SEGALLOC_SO=$WORK/bad_alloc.so BENCH_BUILD=$WORK/build \
  "$BENCH_DIR/run.sh" --quick --rounds 2 --timeout 5 --no-install --no-bazel \
  --allocators "glibc segalloc" --out "$WORK/results" \
  --workloads "churn-lifo realloc prodcons-1t cache-scratch-1t" \
  >"$WORK/run.log" 2>&1 || { cat "$WORK/run.log"; exit 1; }

mds=("$WORK"/results/*.md) # the results dir was emptied: one report
md=${mds[0]}
fail=0
expect() { # workload, reason expected in its FAIL cell of the time table
  local row
  row=$(sed -n '/^## Wall time/,/^## Peak RSS/p' "$md" | grep "^| $1 |" || true)
  if grep -qF -- "**FAIL**: $2" <<<"$row"; then
    echo "ok:   $1 shows FAIL: $2"
  else
    echo "FAIL: $1 should show FAIL: $2, row is: $row"
    fail=1
  fi
}
expect realloc "wrong output"
expect prodcons-1t "signal:11"
expect cache-scratch-1t "timeout"
row=$(grep "^| churn-lifo |" "$md" | head -1)
if grep -q FAIL <<<"$row"; then
  echo "FAIL: churn-lifo should be clean: $row"
  fail=1
else
  echo "ok:   churn-lifo is clean"
fi
((fail == 0)) && echo "selftest passed (report: $md)"
exit "$fail"
