#!/bin/bash
# Builds the fuzz targets, OSS-Fuzz / ClusterFuzzLite style.
#
# Honours the usual variables (defaults give a local libFuzzer+ASan+UBSan
# build):
#   CC                  compiler                      (clang)
#   CFLAGS              flags for everything compiled (-O1 -g ... sanitizers
#                       + -fsanitize=fuzzer-no-link for coverage)
#   LIB_FUZZING_ENGINE  link flags of the engine      (-fsanitize=fuzzer)
#   OUT                 where binaries go             (fuzz/out/default)
# and two of ours:
#   SEGALLOC_CFLAGS     extra flags for the allocator only, e.g.
#                       -DSEGALLOC_INJECT_BUG=1 (fuzz/bug_hunt.sh)
#   TARGETS             which targets, space-separated (default: all four:
#                       fuzz_alloc fuzz_alloc_mt fuzz_debug fuzz_misuse)
#
# Examples:
#   fuzz/build.sh                                            # libFuzzer
#   CFLAGS="-O1 -g" OUT=fuzz/out/plain fuzz/build.sh          # no sanitizers
#   CC=afl-clang-fast CFLAGS="-O1 -g -fsanitize=address,undefined" \
#     OUT=fuzz/out/afl fuzz/build.sh                          # AFL++
#
# Also writes, per target, <target>_seed_corpus.zip and <target>.dict (the
# names OSS-Fuzz looks for). .clusterfuzzlite/build.sh calls this script.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-clang}
CFLAGS=${CFLAGS:--O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -fsanitize=fuzzer-no-link}
LIB_FUZZING_ENGINE=${LIB_FUZZING_ENGINE:--fsanitize=fuzzer}
OUT=${OUT:-$ROOT/fuzz/out/default}
SEGALLOC_CFLAGS=${SEGALLOC_CFLAGS:-}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# What the allocator's own Bazel flags (tools/copts.bzl) also say.
STD="-std=c11 -D_GNU_SOURCE"
# shellcheck disable=SC2206  # flag strings are meant to split
CF=($CFLAGS)
# shellcheck disable=SC2206
ENGINE=($LIB_FUZZING_ENGINE)
# shellcheck disable=SC2206
SA=(-DSEGALLOC_FUZZ_BUILD $SEGALLOC_CFLAGS)
# libFuzzer's coverage skips the allocator's byte and list loops
# (fuzz/coverage_ignore.txt says why).
[[ " ${CF[*]} " == *" -fsanitize=fuzzer-no-link "* ]] &&
  SA+=(-fsanitize-coverage-ignorelist="$ROOT/fuzz/coverage_ignore.txt")

OBJ=$(mktemp -d)
trap 'rm -rf "$OBJ"' EXIT

# The library sources: every .c of alloc/src except override.c, which
# exports the unprefixed malloc/free and would replace the sanitizer's and
# the engine's allocator.
# error.c is production's error reporter; the debug build brings its own.
# srcs DIR EXCLUDED_NAMES...: the .c files of DIR, one a line.
srcs() {
  local dir=$1 f
  shift
  for f in "$dir"/*.c; do
    [[ -e $f && " $* " != *" $(basename "$f") "* ]] && echo "$f"
  done
  return 0
}
alloc_srcs() { srcs "$ROOT/alloc/src" override.c; }
core_srcs() { srcs "$ROOT/alloc/src" override.c error.c; }
# checked.c exports memcpy & co: the drop-ins' only (debug/BUILD), as the
# fuzz targets link the prefixed API, beside the sanitizer's memcpy.
debug_srcs() { srcs "$ROOT/debug/src" checked.c; }

# compile VARIANT EXTRA_FLAGS... FILES...: objects into $OBJ/VARIANT/.
compile() {
  local variant=$1 src
  shift
  local flags=()
  while [[ $# -gt 0 && $1 == -* ]]; do
    flags+=("$1")
    shift
  done
  mkdir -p "$OBJ/$variant"
  for src in "$@"; do
    # shellcheck disable=SC2086
    "$CC" $STD "${CF[@]}" "${flags[@]}" -I"$ROOT/alloc/include" \
      -I"$ROOT/debug/include" -I"$ROOT/alloc/src" -I"$ROOT/fuzz" \
      -c "$src" -o "$OBJ/$variant/$(basename "${src%.c}").o"
  done
}

# Each target and the library it links: prod (alloc/) or debug (debug/).
declare -A LIB=([fuzz_alloc]=prod [fuzz_alloc_mt]=prod [fuzz_debug]=debug
  [fuzz_misuse]=debug)
# shellcheck disable=SC2206  # a space-separated list
wanted=(${TARGETS:-fuzz_alloc fuzz_alloc_mt fuzz_debug fuzz_misuse})
for target in "${wanted[@]}"; do
  if [[ -z ${LIB[$target]:-} ]]; then
    echo "build.sh: unknown target '$target' (known: ${!LIB[*]})" >&2
    exit 2
  fi
done
# needs LIB: whether a wanted target links LIB.
needs() {
  local t
  for t in "${wanted[@]}"; do [[ ${LIB[$t]} == "$1" ]] && return 0; done
  return 1
}

compile harness -Wall -Wextra "$ROOT"/fuzz/sf_ops.c "$ROOT"/fuzz/sf_sizes.c \
  "$ROOT"/fuzz/sf_model.c
if needs prod; then
  # shellcheck disable=SC2046
  compile prod "${SA[@]}" $(alloc_srcs)
fi
if needs debug; then
  compile harness -Wall -Wextra "$ROOT"/fuzz/sf_debug.c
  # shellcheck disable=SC2046
  compile debug -DSEGALLOC_DEBUG=1 "${SA[@]}" $(core_srcs) $(debug_srcs)
fi

# link TARGET LIB: one binary per target.
link() {
  local target=$1 lib=$2 extra=()
  [[ $lib == debug ]] && extra=("$OBJ/harness/sf_debug.o")
  # fuzz_misuse reaches into the debug build (debug/src/debug.h).
  local own=()
  [[ $target == fuzz_misuse ]] && own=(-DSEGALLOC_DEBUG=1 -I"$ROOT/debug/src")
  compile "t_$target" -Wall -Wextra "${own[@]}" "$ROOT/fuzz/$target.c"
  "$CC" "${CF[@]}" "$OBJ/t_$target/$target.o" "$OBJ"/harness/sf_ops.o \
    "$OBJ"/harness/sf_sizes.o "$OBJ"/harness/sf_model.o "${extra[@]}" \
    "$OBJ/$lib"/*.o "${ENGINE[@]}" -lpthread -o "$OUT/$target"
  # Seeds and dictionary, named as OSS-Fuzz expects.
  local corpus_dir=${target#fuzz_}
  rm -f "$OUT/${target}_seed_corpus.zip"
  (cd "$ROOT/corpus/$corpus_dir" && zip -qj "$OUT/${target}_seed_corpus.zip" ./*)
  cp "$ROOT/corpus/segalloc.dict" "$OUT/$target.dict"
  echo "built $OUT/$target"
}

for target in "${wanted[@]}"; do
  link "$target" "${LIB[$target]}"
done
