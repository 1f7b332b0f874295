#!/bin/bash
# Minimises a target's corpus: every input found so far (corpus/TARGET,
# the libFuzzer work corpus, the AFL++ queues) down to a set with the same
# coverage.
#
#   fuzz/minimize.sh TARGET [libfuzzer|afl]
#
# libfuzzer (default): -merge=1 into fuzz/out/min/TARGET/.
# afl: afl-cmin into fuzz/out/cmin/TARGET/.
# The hand-made seeds in corpus/ are left alone (gen_corpus.py owns them);
# copy files from the output over if they are worth keeping as seeds.
set -euo pipefail
# shellcheck source=fuzz/common.sh
source "$(dirname "$0")/common.sh"

[[ $# -ge 1 ]] || { sed -n 2,12p "$0"; exit 2; }
target=$1 engine=${2:-libfuzzer}

inputs=("$(seed_dir "$target")")
[[ -d $OUT_BASE/corpus/$target ]] && inputs+=("$OUT_BASE/corpus/$target")
for q in "$OUT_BASE/afl-$target"/*/queue; do
  [[ -d $q ]] && inputs+=("$q")
done

count() { find "$@" -maxdepth 1 -type f ! -name '.*' | wc -l; }
echo "$(count "${inputs[@]}") inputs in: ${inputs[*]}"

case $engine in
libfuzzer)
  bin=$(build_engine libfuzzer)/$target
  out=$OUT_BASE/min/$target
  rm -rf "$out" && mkdir -p "$out"
  "$bin" -merge=1 -rss_limit_mb=4096 -timeout=30 "$out" "${inputs[@]}" \
    2>&1 | grep -E '^MERGE-OUTER: [0-9]+ new files' || true
  ;;
afl)
  export ASAN_OPTIONS=abort_on_error=1:detect_leaks=0:symbolize=0
  bin=$(build_engine afl)/$target
  out=$OUT_BASE/cmin/$target
  # afl-cmin takes one input directory: gather everything (crashing inputs
  # are dropped by afl-cmin itself). It refuses to work under /tmp.
  mkdir -p "$OUT_BASE"
  all=$(mktemp -d "$OUT_BASE/cmin-in.XXXXXX")
  trap 'rm -rf "$all"' EXIT
  for d in "${inputs[@]}"; do
    find "$d" -maxdepth 1 -type f ! -name '.*' -exec sh -c \
      'for f; do cp "$f" "$0/$(sha1sum "$f" | cut -c1-16)"; done' "$all" {} +
  done
  rm -rf "$out"
  afl-cmin -i "$all" -o "$out" -m none -t 10000 -- "$bin" >/dev/null
  ;;
*)
  echo "engine: libfuzzer or afl" >&2
  exit 2
  ;;
esac
echo "$(count "$out") inputs kept in $out"
