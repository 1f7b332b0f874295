#!/bin/bash
# Fuzzes one target with AFL++ for a while.
#
#   fuzz/run_afl.sh TARGET SECONDS [WORKERS] [ENGINE]
#
# WORKERS=1 (default) runs one afl-fuzz; more run one -M main and WORKERS-1
# -S secondaries sharing fuzz/out/afl-TARGET/ (AFL++'s parallel mode).
# ENGINE: afl (ASan+UBSan, default) or afl-nosan. RESUME=1 continues the
# last run's queue instead of starting from corpus/. Crashing inputs are
# copied to fuzz/findings/TARGET/afl/; exits non-zero when there are any.
set -euo pipefail
# shellcheck source=fuzz/common.sh
source "$(dirname "$0")/common.sh"

[[ $# -ge 2 ]] || { sed -n 2,12p "$0"; exit 2; }
target=$1 seconds=$2 workers=${3:-1} engine=${4:-afl}

# AFL++ refuses ASan symbolisation (slow, and it reads the stack itself).
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=0:symbolize=0
bin=$(build_engine "$engine")/$target
sync=$OUT_BASE/afl-$target
if [[ ${RESUME:-0} == 1 ]]; then
  export AFL_AUTORESUME=1
else
  rm -rf "$sync"
fi
mkdir -p "$sync"

# -m none: ASan reserves terabytes of virtual memory. -V: stop after the
# given seconds. -t 10000: a slow input (large blocks) is not a hang.
afl() {
  afl-fuzz -i "$(seed_dir "$target")" -o "$sync" -m none -t 10000 \
    -V "$seconds" -x "$DICT" "$@" -- "$bin" >"$sync/$2.log" 2>&1
}

if [[ $workers -le 1 ]]; then
  afl -S single || true
else
  pids=()
  afl -M main &
  pids+=($!)
  for ((i = 1; i < workers; i++)); do
    afl -S "sec$i" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || true; done
fi

crashes=0
for dir in "$sync"/*/; do
  name=$(basename "$dir")
  [[ -f $dir/fuzzer_stats ]] || continue
  awk -v n="$name" '/^(execs_done|execs_per_sec|corpus_count|saved_crashes)/ \
    { s = s " " $1 "=" $3 } END { print "afl " n ":" s }' "$dir/fuzzer_stats"
  for c in "$dir"/crashes/id*; do
    [[ -f $c ]] || continue
    mkdir -p "$FINDINGS/$target/afl"
    cp "$c" "$FINDINGS/$target/afl/$name-$(basename "$c" | tr ':,' '__')"
    crashes=$((crashes + 1))
  done
done
if [[ $crashes -gt 0 ]]; then
  echo "$crashes crashing input(s) in $FINDINGS/$target/afl/" >&2
  exit 1
fi
