#!/usr/bin/env bash
# Replays each example target's committed inputs (see BUILD): the .good
# input runs clean under the debug build and ASan; the .bad input crashes
# ASan with the planted bug's kind and the debug build as EXPECT_DEBUG
# says. One line per test, then "N passed, N failed" (tools/results.sh).
#
#   replay_test.sh PATH_OF_ONE_TARGET_DEBUG_BINARY PATH_OF_RESULTS_SH
#   (Bazel passes both)
set -uo pipefail
bin_dir=$(dirname "$1")
# shellcheck source=tools/results.sh
source "$2"
inputs=$bin_dir/inputs
export SF_REPEAT=1 # one process, no fork: the crash is the process's own
export ASAN_OPTIONS=detect_leaks=0:symbolize=0
# No guard pages: the default guards the first block of each call site
# and a random sample, and a guarded block turns the reads below into
# reports; this test checks what the canaries and poison alone find.
export SEGALLOC_GUARD=off

# target: ASan's kind; the debug build's first report line's kind, or
# "SIGSEGV" (a crash on the poison, no report) or "none" (not found: a
# read past a block needs guard pages).
declare -A EXPECT_ASAN=(
  [overflow_1byte]=heap-buffer-overflow [oob_read]=heap-buffer-overflow
  [uaf_read_list]=heap-use-after-free [uaf_write]=heap-use-after-free
  [double_free]=double-free [memcpy_overflow]=heap-buffer-overflow
  [realloc_stale]=heap-use-after-free)
declare -A EXPECT_DEBUG=(
  [overflow_1byte]=heap-buffer-overflow [oob_read]=none
  [uaf_read_list]=SIGSEGV [uaf_write]=use-after-free
  [double_free]=double-free [memcpy_overflow]=heap-buffer-overflow
  [realloc_stale]=use-after-free)

# check NAME RESULT DETAIL: one test; DETAIL says why it failed.
check() {
  if [[ $2 == 0 ]]; then
    result 0 "$1"
  else
    result 1 "$1: $3"
  fi
}

# outcome BINARY INPUT: what the run did, as one word.
outcome() {
  local out rc kind
  out=$("$1" "$2" 2>&1 >/dev/null)
  rc=$?
  kind=$(grep -m1 -oE 'segalloc: ERROR: [a-z-]+' <<<"$out" | cut -d' ' -f3)
  [[ -z $kind ]] && kind=$(grep -m1 -oE 'AddressSanitizer: (attempting )?[a-z-]+' \
    <<<"$out" | sed 's/.* //')
  if [[ -n $kind ]]; then
    echo "$kind"
  elif [[ $rc == 0 ]]; then
    echo none
  elif [[ $rc -gt 128 ]]; then
    echo "SIG$(kill -l $((rc - 128)))"
  else
    echo "exit$rc"
  fi
}

for target in "${!EXPECT_DEBUG[@]}"; do
  for build in debug asan; do
    got=$(outcome "$bin_dir/${target}_$build" "$inputs/$target.good")
    [[ $got == none ]]
    check "$target $build good input runs clean" $? "got $got"
  done
  got=$(outcome "$bin_dir/${target}_asan" "$inputs/$target.bad")
  [[ $got == "${EXPECT_ASAN[$target]}" ]]
  check "$target asan bad input: $got" $? "expected ${EXPECT_ASAN[$target]}"
  got=$(outcome "$bin_dir/${target}_debug" "$inputs/$target.bad")
  [[ $got == "${EXPECT_DEBUG[$target]}" ]]
  check "$target debug bad input: $got" $? "expected ${EXPECT_DEBUG[$target]}"
done
results_finish /dev/null
