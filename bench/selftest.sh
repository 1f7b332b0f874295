#!/usr/bin/env bash
# bench/selftest.sh: checks that run.sh reports allocator bugs as FAIL.
#
# Preloads selftest/bad_alloc.c (a malloc that crashes, hangs or corrupts
# realloc'ed data depending on the program) as "segalloc" and runs a few
# quick workloads. Expected: realloc -> wrong output, prodcons-1t ->
# signal:11, cache-scratch-1t -> timeout, churn-lifo -> clean. Then feeds
# report.py a synthetic CSV to check its verdicts (a shown difference is
# bold, a non-difference is not). Takes about 30 s idle (90 s at load 15);
# uses its own build and output directories, so it does not disturb
# bench/build or bench/results.
set -euo pipefail

PY=/usr/bin/python3 # the Debian one: matplotlib and numpy
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

# The verdicts: a synthetic CSV (8 rounds, +-3% noise) in which "slow" takes
# 1.5x glibc's time, "same" draws from glibc's own distribution and "fast"
# 0.7x; the report must call them slower, no difference shown, faster.
"$PY" - "$WORK/verdict.csv" <<'PYEOF'
import random, sys
rnd = random.Random(1)
with open(sys.argv[1], "w") as f:
    f.write("round,workload,allocator,status,wall_s,maxrss_kib,user_s,sys_s,minflt,out_hash\n")
    for r in range(1, 9):
        for a, k in (("glibc", 1.0), ("slow", 1.5), ("same", 1.0), ("fast", 0.7)):
            t = k * rnd.uniform(0.97, 1.03)
            f.write("%d,w,%s,ok,%.4f,1000,%.4f,0,100,h\n" % (r, a, t, t))
PYEOF
"$PY" "$BENCH_DIR/report.py" --csv "$WORK/verdict.csv" --md "$WORK/verdict.md"
row=$(sed -n '/^## Wall time/,/^## CPU/p' "$WORK/verdict.md" | grep '^| w |')
IFS='|' read -r _ _ _ slow same fast _ <<<"$row"
check() { # name, cell, pattern (grep -E) it must match
  if grep -qE -- "$3" <<<"$2"; then
    echo "ok:   synthetic '$1' reads$2"
  else
    echo "FAIL: synthetic '$1' should match /$3/, cell is:$2"
    fail=1
  fi
}
check slow "$slow" '^ \*\*1\.[45][0-9] \['      # bold: shown slower
check same "$same" '^ (0\.9[6-9]|1\.0[0-4]) \[' # not bold: no difference
check fast "$fast" '^ \*\*0\.[67][0-9] \['      # bold: shown faster
((fail == 0)) && echo "selftest passed (report: $md)"
exit "$fail"
