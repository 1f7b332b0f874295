#!/bin/bash
# Tests .clusterfuzzlite/build.sh without Docker: runs it the way the
# base-builder image's `compile` does (from $SRC/segalloc, `bash -eux
# $SRC/build.sh`, with the variables compile and compile_<engine> set) for
# libfuzzer+address, libfuzzer+undefined and afl+address, then checks each
# target:
#   - the binary is instrumented for the sanitizer and the engine (nm,
#     objdump);
#   - <target>_seed_corpus.zip holds exactly the files of corpus/<dir>/;
#   - the binary runs every seed of that zip without a crash: libFuzzer
#     with -runs=0 over the unzipped folder (and the target's .options and
#     .dict), AFL++'s driver with the files as arguments.
#
#   .clusterfuzzlite/test.sh            (after tools/install_deps.sh --fuzz)
#
# What it does not emulate: Docker, base-builder's own clang (Debian's
# clang-14 here), libc++ (CXXFLAGS), compile_afl's random CMPLOG/LAF/dict
# options, i386.
# Also fuzz/build.sh's TARGETS (only some targets; an unknown one).
# Each (configuration, target) counts as one test; per-test lines, then
# "N passed, N failed" as the last line, go to stdout and to
# fuzz/out/cfl/summary (.ci/run adds them to the final count).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
work=$ROOT/fuzz/out/cfl
rm -rf "$work"
mkdir -p "$work/src"
# The Dockerfile copies the tree to $SRC/segalloc and build.sh to $SRC.
ln -s "$ROOT" "$work/src/segalloc"
cp "$ROOT/.clusterfuzzlite/build.sh" "$work/src/build.sh"

TARGETS="fuzz_alloc fuzz_alloc_mt fuzz_debug fuzz_misuse"
# From base-builder's Dockerfile (base-clang's CFLAGS, SANITIZER_FLAGS_*).
BASE_CFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION"
UBSAN_CHECKS=array-bounds,bool,builtin,enum,float-divide-by-zero,function,integer-divide-by-zero,null,object-size,return,returns-nonnull-attribute,shift,signed-integer-overflow,unreachable,vla-bound,vptr
declare -A SAN_FLAGS=(
  [address]="-fsanitize=address -fsanitize-address-use-after-scope"
  [undefined]="-fsanitize=$UBSAN_CHECKS,unsigned-integer-overflow -fno-sanitize-recover=$UBSAN_CHECKS"
)
# What each sanitizer and engine leaves in a binary: calls from instrumented
# code into the sanitizer's runtime; the engine's symbols, and the section
# its coverage instrumentation fills (libFuzzer's inline 8-bit counters,
# AFL++'s pc-guards).
declare -A SAN_CALL=([address]='call.*<__asan_report' [undefined]='call.*<__ubsan_handle')
declare -A ENGINE_SYMBOLS=([libfuzzer]="LLVMFuzzerRunDriver __start___sancov_cntrs"
  [afl]="__afl_area_ptr __start___sancov_guards")

# shellcheck source=tools/results.sh
source "$ROOT/tools/results.sh"
outcome() { result "$1" "$2 $3 ($4)"; } # OK(0|1) CONFIG TARGET DETAIL

# build ENGINE SANITIZER DIR: runs build.sh under the variables compile
# would set; its log goes to DIR/build.log.
build() {
  local engine=$1 sanitizer=$2 dir=$3
  mkdir -p "$dir/out" "$dir/work"
  (
    export SRC=$work/src OUT=$dir/out WORK=$dir/work ARCHITECTURE=x86_64
    export SANITIZER=$sanitizer FUZZING_ENGINE=$engine FUZZING_LANGUAGE=c
    export CC=clang CXX=clang++
    local coverage=-fsanitize=fuzzer-no-link
    if [[ $engine == afl ]]; then
      # compile_afl: AFL++'s compilers, its driver as the engine library
      # (/usr/lib/libFuzzingEngine.a there), no libFuzzer coverage flags.
      cp /usr/lib/afl/libAFLDriver.a "$WORK/libFuzzingEngine.a"
      export LIB_FUZZING_ENGINE=$WORK/libFuzzingEngine.a
      export CC=afl-clang-fast CXX=afl-clang-fast++ AFL_QUIET=1
      export ASAN_OPTIONS=detect_leaks=0:symbolize=0:detect_odr_violation=0:abort_on_error=1
      coverage=
    else
      export LIB_FUZZING_ENGINE=-fsanitize=fuzzer # compile_libfuzzer
    fi
    export CFLAGS="$BASE_CFLAGS ${SAN_FLAGS[$sanitizer]} $coverage"
    export CXXFLAGS=$CFLAGS
    echo "CC=$CC CFLAGS=$CFLAGS LIB_FUZZING_ENGINE=$LIB_FUZZING_ENGINE"
    cd "$SRC/segalloc" && bash -eux "$SRC/build.sh"
  ) >"$dir/build.log" 2>&1
}

# libfuzzer_args OPTIONS_FILE: its [libfuzzer] section as -key=value flags.
libfuzzer_args() {
  [[ -f $1 ]] || return 0
  awk -F' *= *' '/^\[/ { in_lf = ($0 == "[libfuzzer]"); next }
    in_lf && NF == 2 { printf "-%s=%s\n", $1, $2 }' "$1"
}

# check ENGINE SANITIZER DIR TARGET: one test.
check() {
  local engine=$1 sanitizer=$2 dir=$3 target=$4
  local config=$engine+$sanitizer bin=$dir/out/$target
  local seeds=$dir/seeds/$target log=$dir/$target.log
  local corpus=$ROOT/corpus/${target#fuzz_} sym n
  if [[ ! -x $bin ]]; then
    outcome 1 "$config" "$target" "no binary"
    return
  fi
  nm "$bin" >"$log"
  for sym in ${ENGINE_SYMBOLS[$engine]}; do
    if ! grep -q " $sym$" "$log"; then
      outcome 1 "$config" "$target" "no $sym in the binary"
      return
    fi
  done
  # grep -c, not -q: under pipefail an early exit would fail objdump (SIGPIPE).
  if [[ $(objdump -d "$bin" | grep -c "${SAN_CALL[$sanitizer]}") == 0 ]]; then
    outcome 1 "$config" "$target" "no ${SAN_CALL[$sanitizer]#*<} calls: not instrumented"
    return
  fi
  # The zip must hold exactly corpus/<dir>/'s files.
  if ! diff <(unzip -Z1 "$dir/out/${target}_seed_corpus.zip" | sort) \
    <(cd "$corpus" && find . -type f -printf '%P\n' | sort) >"$log" 2>&1; then
    outcome 1 "$config" "$target" "seed zip differs from corpus/ (see $log)"
    return
  fi
  mkdir -p "$seeds"
  unzip -q "$dir/out/${target}_seed_corpus.zip" -d "$seeds"
  n=$(find "$seeds" -type f | wc -l)
  local env=(ASAN_OPTIONS=abort_on_error=1:detect_leaks=0:symbolize=1
    UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1:silence_unsigned_overflow=1)
  if [[ $engine == libfuzzer ]]; then
    local args
    mapfile -t args < <(libfuzzer_args "$dir/out/$target.options")
    env "${env[@]}" "$bin" -runs=0 -rss_limit_mb=4096 "${args[@]}" \
      -dict="$dir/out/$target.dict" "$seeds" >"$log" 2>&1
    local rc=$?
    if [[ $rc != 0 ]] || ! grep -q "INFO: seed corpus: files: $n " "$log"; then
      outcome 1 "$config" "$target" "exit $rc over $n seeds, see $log"
      return
    fi
  else
    env "${env[@]}" "$bin" "$seeds"/* >"$log" 2>&1
    local rc=$? ran
    ran=$(grep -c "^Execution successful" "$log")
    if [[ $rc != 0 || $ran != "$n" ]]; then
      outcome 1 "$config" "$target" "exit $rc, $ran of $n seeds ran, see $log"
      return
    fi
  fi
  outcome 0 "$config" "$target" "$n seeds"
}

for config in libfuzzer+address libfuzzer+undefined afl+address; do
  engine=${config%+*}
  sanitizer=${config#*+}
  dir=$work/$engine-$sanitizer
  start=$SECONDS
  if ! build "$engine" "$sanitizer" "$dir"; then
    tail -20 "$dir/build.log"
    for target in $TARGETS; do
      outcome 1 "$config" "$target" "build.sh failed, see $dir/build.log"
    done
    continue
  fi
  echo "cfl: built $config in $((SECONDS - start)) s" >&2
  for target in $TARGETS; do
    check "$engine" "$sanitizer" "$dir" "$target"
  done
done

# fuzz/build.sh's TARGETS: naming only the production targets builds just
# those and exits 0; an unknown name exits 2.
dir=$work/targets
TARGETS="fuzz_alloc fuzz_alloc_mt" CC=clang \
  CFLAGS="-O1 -fsanitize=fuzzer-no-link" LIB_FUZZING_ENGINE=-fsanitize=fuzzer \
  OUT=$dir "$ROOT/fuzz/build.sh" >"$work/targets.log" 2>&1
rc=$?
built=$(cd "$dir" && find . -maxdepth 1 -type f -perm -u+x -printf '%P\n' | sort | tr '\n' ' ')
if [[ $rc == 0 && $built == "fuzz_alloc fuzz_alloc_mt " ]]; then
  result 0 "fuzz/build.sh TARGETS=production only (exit 0, built $built)"
else
  result 1 "fuzz/build.sh TARGETS=production only (exit $rc, built $built)"
fi
TARGETS="fuzz_alloc bogus" OUT=$dir "$ROOT/fuzz/build.sh" >"$work/bogus.log" 2>&1
rc=$?
if [[ $rc == 2 ]] && grep -q "unknown target 'bogus'" "$work/bogus.log"; then
  result 0 "fuzz/build.sh TARGETS=bogus (exit 2)"
else
  result 1 "fuzz/build.sh TARGETS=bogus (exit $rc, see $work/bogus.log)"
fi

results_finish "$work/summary"
