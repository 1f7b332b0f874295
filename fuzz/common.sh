# Sourced by the fuzz/*.sh scripts: paths, engine builds, helpers.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT_BASE=${OUT_BASE:-$ROOT/fuzz/out}
FINDINGS=${FINDINGS:-$ROOT/fuzz/findings}
export DICT=$ROOT/corpus/segalloc.dict

# Every target, in the order scripts run them. The debug ones need debug/src.
all_targets() {
  echo fuzz_alloc fuzz_alloc_mt
  if ls "$ROOT"/debug/src/*.c >/dev/null 2>&1; then
    echo fuzz_debug fuzz_misuse
  fi
}

# corpus/<name>/ of a target: fuzz_alloc -> corpus/alloc.
seed_dir() { echo "$ROOT/corpus/${1#fuzz_}"; }

# build_engine ENGINE [OUT]: builds every target for one engine; prints the
# output directory. Engines:
#   libfuzzer        clang -fsanitize=fuzzer, ASan + UBSan
#   libfuzzer-nosan  clang -fsanitize=fuzzer, no sanitizers (faster)
#   afl              afl-clang-fast + AFL++'s libFuzzer driver, ASan + UBSan
#   afl-nosan        afl-clang-fast, no sanitizers
# SEGALLOC_CFLAGS (e.g. -DSEGALLOC_INJECT_BUG=1) passes through. Fails when
# fuzz/build.sh does.
build_engine() {
  local engine=$1 out=${2:-$OUT_BASE/$1}
  local san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
  local base="-O1 -g -fno-omit-frame-pointer"
  case $engine in
  libfuzzer)
    CC=clang CFLAGS="$base $san -fsanitize=fuzzer-no-link" \
      LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=$out "$ROOT/fuzz/build.sh" ;;
  libfuzzer-nosan)
    CC=clang CFLAGS="-O2 -g -fsanitize=fuzzer-no-link" \
      LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=$out "$ROOT/fuzz/build.sh" ;;
  afl)
    CC=afl-clang-fast CFLAGS="$base $san" LIB_FUZZING_ENGINE=-fsanitize=fuzzer \
      OUT=$out AFL_QUIET=1 "$ROOT/fuzz/build.sh" ;;
  afl-nosan)
    CC=afl-clang-fast CFLAGS="-O2 -g" LIB_FUZZING_ENGINE=-fsanitize=fuzzer \
      OUT=$out AFL_QUIET=1 "$ROOT/fuzz/build.sh" ;;
  *)
    echo "unknown engine '$engine'" >&2
    return 2 ;;
  esac >&2 || return 1
  echo "$out"
}

# Sanitizer settings for every run: stop at the first error, with a core-
# free abort the engines recognise as a crash.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=0:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}

# AFL++ in scripts: no curses UI, and don't insist on CPU governor tweaks.
export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1

now() { date +%s.%N; }
