#!/bin/bash -eu
# ClusterFuzzLite / OSS-Fuzz build: run by the base-builder image's
# `compile` from $SRC/segalloc, with CC, CFLAGS (sanitizer and coverage
# flags already in), LIB_FUZZING_ENGINE, OUT, SANITIZER, FUZZING_ENGINE and
# ARCHITECTURE set. fuzz/build.sh does the work: it compiles the allocator
# and the four targets with $CC $CFLAGS, links them with $LIB_FUZZING_ENGINE
# and writes $OUT/<target>, <target>_seed_corpus.zip (corpus/) and
# <target>.dict. It links with $CC, not $CXX: the targets are C, clang's
# driver adds the C++ runtime -fsanitize=fuzzer needs, and AFL++'s driver
# (libAFLDriver.a) is C.
# .clusterfuzzlite/test.sh runs this script without Docker.

if [[ $ARCHITECTURE != x86_64 ]]; then
  echo "segalloc fuzzes on x86_64 only (not $ARCHITECTURE)" >&2
  exit 1
fi

fuzz/build.sh

# libFuzzer options per target: inputs are op lists, 4 KiB is plenty (the
# same limit as fuzz/smoke.sh).
for target in fuzz_alloc fuzz_alloc_mt fuzz_debug fuzz_misuse; do
  printf '[libfuzzer]\nmax_len = 4096\n' >"$OUT/$target.options"
done
