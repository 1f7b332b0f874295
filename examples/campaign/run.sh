#!/usr/bin/env bash
# The campaign: fuzzes every example target (examples/campaign/*.c) under
# each configuration until its first crash, replays the crash and checks it
# is the planted bug, and writes a table and a chart.
#
#   examples/campaign/run.sh [CONFIG...]
#
# Configurations (default: all that exist):
#   afl            AFL++ (afl-clang-fast -O2), no sanitizer, glibc malloc
#   afl-disloc     the same binary, AFL_PRELOAD=AFL++'s libdislocator.so
#   afl-segalloc   the same binary, AFL_PRELOAD=libsegalloc_debug.so
#   afl-guard-sample, afl-guard-all
#                  the same with SEGALLOC_GUARD=sample:16 / all; skipped
#                  with a note while the debug build has no such option
#   afl-asan       AFL++ on an ASan build (-fsanitize=address)
#   lf-segalloc    libFuzzer (clang -O2 -fsanitize=fuzzer) with the debug
#                  build's drop-in linked in, no ASan
# Every target calls segalloc_check_now() after each input when the debug
# build is there (campaign.h).
#
# Environment: CAP seconds per run (60), RUNS runs per cell (3; a cell
# whose first run reaches the cap is not repeated), TARGETS (all),
# RESULTS folder (examples/campaign/results), STEM file names there
# (<STEM>.md, .tsv, .png, -cost.tsv; default the date), COST=0 skips the
# cost measurement (it needs perf and /usr/bin/time), SUMMARY=file: write
# one "ok|FAIL ..." line per cell and a last "N passed, N failed" line
# (the CI smoke run; a cell passes when every run found the planted bug).
# Work files go to examples/campaign/out/ (gitignored).
#
# A crash counts when replaying its input on the ASan build names the
# planted bug's kind (replay_test.sh's EXPECT_ASAN); the cell also shows
# what the configuration itself said when replaying it: its report's kind,
# or the signal.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$HERE/out
RESULTS=${RESULTS:-$HERE/results}
CAP=${CAP:-60}
RUNS=${RUNS:-3}
STEM=${STEM:-$(date -u +%Y-%m-%d)}
DISLOCATOR=${DISLOCATOR:-/usr/lib/afl/libdislocator.so}
DEBUG_SO=$ROOT/bazel-bin/debug/libsegalloc_debug.so
ALL_TARGETS="overflow_1byte oob_read uaf_read_list uaf_write double_free memcpy_overflow realloc_stale"
TARGETS=${TARGETS:-$ALL_TARGETS}
# shellcheck source=tools/results.sh
source "$ROOT/tools/results.sh"
say() { printf '[campaign %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ASan's kind for each target's planted bug (as replay_test.sh expects).
eval "$(sed -n '/^declare -A EXPECT_ASAN=(/,/)$/p' "$HERE/replay_test.sh")"

# ---- build ----
say "building the debug build and the targets"
(cd "$ROOT" && nice bazel build //debug:libsegalloc_debug.so \
  //debug:segalloc_debug_prefixed \
  //debug:segalloc_debug >&2) || exit 1
# shellcheck disable=SC2054 # the commas belong to the linker flags
DEBUG_LIBS=(-Wl,--whole-archive "$ROOT/bazel-bin/debug/libsegalloc_debug.lo"
  "$ROOT/bazel-bin/debug/libsegalloc_debug_prefixed.lo" -Wl,--no-whole-archive
  -lpthread)
mkdir -p "$OUT"/bin "$RESULTS"
export AFL_QUIET=1
for t in $TARGETS; do
  src=$HERE/$t.c
  nice afl-clang-fast -O2 -g -fsanitize=fuzzer "$src" -o "$OUT/bin/$t.afl" &&
    nice afl-clang-fast -O2 -g -fsanitize=address,fuzzer "$src" \
      -o "$OUT/bin/$t.afl-asan" &&
    nice clang -O2 -g -fsanitize=fuzzer "$src" "${DEBUG_LIBS[@]}" \
      -o "$OUT/bin/$t.lf-segalloc" || exit 1
done

# Guard modes exist once the debug build knows SEGALLOC_GUARD.
have_guard=0
grep -qa SEGALLOC_GUARD "$DEBUG_SO" && have_guard=1
if [[ $# -gt 0 ]]; then
  CONFIGS="$*"
else
  CONFIGS="afl afl-disloc afl-segalloc afl-guard-sample afl-guard-all afl-asan lf-segalloc"
fi
notes=()
if [[ $have_guard == 0 && $CONFIGS == *guard* ]]; then
  CONFIGS=$(tr ' ' '\n' <<<"$CONFIGS" | grep -v guard | tr '\n' ' ')
  notes+=("afl-guard-sample, afl-guard-all: skipped, this debug build has no SEGALLOC_GUARD option")
fi
[[ -f $DISLOCATOR ]] || {
  CONFIGS=$(tr ' ' '\n' <<<"$CONFIGS" | grep -vx afl-disloc | tr '\n' ' ')
  notes+=("afl-disloc: skipped, no $DISLOCATOR")
}

# env_of CONFIG: the environment the target runs in, as NAME=VALUE words
# (afl-fuzz gets LD_PRELOAD as AFL_PRELOAD).
env_of() {
  case $1 in
  afl-disloc) echo "LD_PRELOAD=$DISLOCATOR" ;;
  afl-segalloc) echo "LD_PRELOAD=$DEBUG_SO" ;;
  afl-guard-sample) echo "LD_PRELOAD=$DEBUG_SO SEGALLOC_GUARD=sample:16" ;;
  afl-guard-all) echo "LD_PRELOAD=$DEBUG_SO SEGALLOC_GUARD=all" ;;
  esac
}
bin_of() {
  case $1 in
  afl-asan) echo "$OUT/bin/$2.afl-asan" ;;
  lf-segalloc) echo "$OUT/bin/$2.lf-segalloc" ;;
  *) echo "$OUT/bin/$2.afl" ;;
  esac
}

export ASAN_OPTIONS=abort_on_error=1:detect_leaks=0:symbolize=0
export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_BENCH_UNTIL_CRASH=1

# outcome CONFIG TARGET INPUT: what replaying INPUT says, as one word: a
# report's kind, a signal, or none.
outcome() {
  local bin out rc kind envs=() lf=()
  bin=$(bin_of "$1" "$2")
  read -ra envs <<<"$(env_of "$1")"
  # libFuzzer: die of the signal itself rather than print "deadly signal".
  [[ $1 == lf-* ]] && lf=(-handle_segv=0 -handle_abrt=0 -handle_bus=0)
  out=$(env "${envs[@]}" timeout 60 "$bin" "${lf[@]}" "$3" 2>&1 >/dev/null)
  rc=$?
  kind=$(grep -m1 -oE 'segalloc: ERROR: [a-z-]+' <<<"$out" | cut -d' ' -f3)
  [[ -z $kind ]] && kind=$(grep -m1 -oE 'AddressSanitizer: (attempting )?[a-z-]+' \
    <<<"$out" | sed 's/.* //')
  # A sanitizer runtime's SEGV handler (libFuzzer's builds have one).
  [[ $kind == SEGV || -z $kind && $out == *"Sanitizer: SEGV"* ]] && kind=SIGSEGV
  # glibc's own checks: "free(): double free detected in tcache 2", ...
  [[ -z $kind ]] && kind=$(grep -m1 -oE '^[a-z_]+\(\): [a-z ]+' <<<"$out" |
    tr -d '()' | tr ' ' '_')
  if [[ -n $kind ]]; then
    echo "$kind"
  elif [[ $rc == 0 ]]; then
    echo none
  elif [[ $rc -gt 128 && $rc -lt 160 ]]; then
    echo "SIG$(kill -l $((rc - 128)))"
  else
    echo "exit$rc"
  fi
}

# one_run CONFIG TARGET RUN_DIR: fuzzes once; prints "seconds crash_file
# execs_per_sec peak_rss_mb" (crash_file "-" if none).
one_run() {
  local config=$1 t=$2 dir=$3 bin start end crash execs rss envs=()
  bin=$(bin_of "$config" "$t")
  rm -rf "$dir"
  mkdir -p "$dir/seeds"
  printf 'hello' >"$dir/seeds/seed"
  read -ra envs <<<"$(env_of "$config")"
  start=$(date +%s.%N)
  if [[ $config == lf-segalloc ]]; then
    mkdir -p "$dir/corpus" "$dir/crashes"
    nice "$bin" \
      -max_total_time="$CAP" -timeout=10 -rss_limit_mb=4096 \
      -artifact_prefix="$dir/crashes/" "$dir/corpus" "$dir/seeds" \
      >"$dir/log" 2>&1
    end=$(date +%s.%N)
    crash=$(ls "$dir"/crashes/* 2>/dev/null | head -1)
    execs=$(grep -oE 'exec/s: [0-9]+' "$dir/log" | tail -1 | cut -d' ' -f2)
    rss=$(grep -oE 'rss: [0-9]+Mb' "$dir/log" | tail -1 | grep -oE '[0-9]+')
  else
    env "${envs[@]/#LD_PRELOAD=/AFL_PRELOAD=}" nice afl-fuzz \
      -i "$dir/seeds" -o "$dir/sync" -m none -t 1000 -V "$CAP" -- "$bin" \
      >"$dir/log" 2>&1
    end=$(date +%s.%N)
    crash=$(ls "$dir"/sync/default/crashes/id* 2>/dev/null | head -1)
    execs=$(awk '/^execs_per_sec/ { printf "%.0f", $3 }' \
      "$dir/sync/default/fuzzer_stats" 2>/dev/null)
    rss=- # afl-fuzz does not see its target's: see cost() below
  fi
  [[ $execs == 0 ]] && execs=- # crashed before its first rate line
  printf '%s %s %s %s\n' "$(awk "BEGIN { printf \"%.1f\", $end - $start }")" \
    "${crash:--}" "${execs:--}" "${rss:--}"
}

tsv=$RESULTS/$STEM.tsv
printf 'target\tconfig\trun\tseconds\tfound\tplanted\tplanted_ok\tkind\texecs_per_sec\tpeak_rss_mb\n' >"$tsv"
started=$(date +%s)
for t in $TARGETS; do
  for config in $CONFIGS; do
    cell_ok=1
    for ((run = 1; run <= RUNS; run++)); do
      dir=$OUT/runs/$t-$config-$run
      read -r secs crash execs rss <<<"$(one_run "$config" "$t" "$dir")"
      found=0 planted=- planted_ok=0 kind=-
      if [[ $crash != - ]]; then
        found=1
        planted=$(outcome afl-asan "$t" "$crash")
        kind=$(outcome "$config" "$t" "$crash")
        [[ $planted == "${EXPECT_ASAN[$t]}" ]] && planted_ok=1
      fi
      [[ $planted_ok == 1 ]] || cell_ok=0
      printf '%s\t%s\t%d\t%s\t%d\t%s\t%d\t%s\t%s\t%s\n' "$t" "$config" \
        "$run" "$secs" "$found" "$planted" "$planted_ok" "$kind" "$execs" \
        "$rss" >>"$tsv"
      say "$t $config run $run: ${secs}s found=$found planted=$planted kind=$kind execs/s=$execs rss=${rss}MB"
      [[ $found == 0 && $run == 1 ]] && break # reached the cap: not repeated
    done
    result $((1 - cell_ok)) "campaign $t $config (the planted bug, in ${CAP} s)"
  done
done

# cost TARGET: CPU time per input and peak RSS of each configuration,
# measured without fuzzing (execs/s moves with the machine's load): one
# process of the target runs the same inputs under each configuration, a
# list of 4000 made of the plain AFL++ run's queue (inputs that crash the
# ASan build left out), or of the committed good input.
cost() {
  local t=$1 config bin envs f n ms kb
  local dir=$OUT/cost/$t
  rm -rf "$dir"
  mkdir -p "$dir"
  for f in "$OUT/runs/$t-afl-1"/sync/default/queue/id*; do
    # In a subshell: its "Aborted" goes to /dev/null too.
    [[ -f $f ]] && (timeout 10 "$OUT/bin/$t.afl-asan" "$f") >/dev/null 2>&1 &&
      echo "$f"
  done >"$dir/ok"
  [[ -s $dir/ok ]] || echo "$HERE/inputs/$t.good" >"$dir/ok"
  : >"$dir/list"
  while [[ $(wc -l <"$dir/list") -lt 4000 ]]; do
    cat "$dir/ok" >>"$dir/list"
  done
  head -4000 "$dir/list" >"$dir/inputs"
  n=4000
  for config in $CONFIGS; do
    bin=$(bin_of "$config" "$t")
    read -ra envs <<<"$(env_of "$config")"
    perf stat -x, -e task-clock -o "$dir/$config.perf" \
      /usr/bin/time -f 'maxrss_kb %M' -o "$dir/$config.time" \
      xargs -a "$dir/inputs" env "${envs[@]}" "$bin" >/dev/null 2>&1
    ms=$(awk -F, '/task-clock/ { print $1 }' "$dir/$config.perf")
    kb=$(awk '/maxrss_kb/ { print $2 }' "$dir/$config.time")
    awk -v t="$t" -v c="$config" -v n="$n" -v ms="${ms:-0}" -v kb="${kb:-0}" \
      'BEGIN { printf "%s\t%s\t%d\t%.1f\t%.1f\n", t, c, n, ms * 1000 / n, kb / 1024 }' 
  done
}
printf 'target\tconfig\tinputs\tcpu_us_per_input\tpeak_rss_mb\n' >"$RESULTS/$STEM-cost.tsv"
if [[ ${COST:-1} == 0 ]]; then
  notes+=("cost: not measured (COST=0)")
elif ! command -v perf >/dev/null || [[ ! -x /usr/bin/time ]]; then
  notes+=("cost: not measured, needs perf and /usr/bin/time (linux-perf, time)")
else
  say "measuring CPU time per input and peak RSS"
  for t in $TARGETS; do cost "$t" >>"$RESULTS/$STEM-cost.tsv"; done
fi
wall=$(($(date +%s) - started))

printf '%s\n' "${notes[@]}" >"$RESULTS/$STEM.notes"
/usr/bin/python3 "$HERE/report.py" "$tsv" --cost "$RESULTS/$STEM-cost.tsv" --cap "$CAP" --runs "$RUNS" \
  --wall "$wall" --notes "$RESULTS/$STEM.notes" \
  --md "$RESULTS/$STEM.md" --png "$RESULTS/$STEM.png"
rm -f "$RESULTS/$STEM.notes"
if [[ -n ${SUMMARY:-} ]]; then
  mkdir -p "$(dirname "$SUMMARY")"
  results_finish "$SUMMARY"
fi
