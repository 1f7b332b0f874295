#!/bin/bash
# Fuzzes one target with libFuzzer for a while.
#
#   fuzz/run_libfuzzer.sh TARGET SECONDS [ENGINE] [-- LIBFUZZER_ARGS...]
#
# TARGET: fuzz_alloc, fuzz_alloc_mt, fuzz_debug, fuzz_misuse. ENGINE:
# libfuzzer (ASan+UBSan, default) or libfuzzer-nosan. FORK=N runs N jobs
# (-fork=N, crashes don't stop the run). The growing corpus lives in
# fuzz/out/corpus/TARGET (seeded from corpus/); crashing inputs go to
# fuzz/findings/TARGET/. Exits non-zero when libFuzzer found something.
set -euo pipefail
# shellcheck source=fuzz/common.sh
source "$(dirname "$0")/common.sh"

[[ $# -ge 2 ]] || { sed -n 2,12p "$0"; exit 2; }
target=$1 seconds=$2 engine=${3:-libfuzzer}
shift 2; [[ $# -gt 0 && $1 != -- ]] && shift
[[ $# -gt 0 && $1 == -- ]] && shift

bin=$(build_engine "$engine")/$target
work=$OUT_BASE/corpus/$target
art=$FINDINGS/$target
mkdir -p "$work" "$art"
fork=()
[[ -n ${FORK:-} ]] && fork=(-fork="$FORK" -ignore_crashes=1)

"$bin" "${fork[@]}" -max_total_time="$seconds" -rss_limit_mb=4096 \
  -max_len=4096 -timeout=30 -dict="$DICT" -print_final_stats=1 \
  -artifact_prefix="$art/" "$@" "$work" "$(seed_dir "$target")"
