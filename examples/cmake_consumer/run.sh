#!/usr/bin/env bash
# Uses segalloc the way a project without Bazel does, from a fresh install:
#   1. tools/install.sh into an empty PREFIX (and its usage errors);
#   2. this CMake project against it (find_package(segalloc) through
#      -DCMAKE_PREFIX_PATH), once with the shared debug library and once
#      with the static one (-DSEGALLOC_STATIC=ON); ctest runs its tests;
#   3. pkgconfig_demo.c compiled with `pkg-config --cflags --libs
#      segalloc-debug`, and run.
#
# Usage: bash examples/cmake_consumer/run.sh   (after tools/install_deps.sh)
#
# Works in ${TMPDIR:-/tmp}/segalloc-cmake-consumer (emptied first). Each
# ctest test of each build, the install and the pkg-config program count
# as one test: per-test lines, then "N passed, N failed" as the last line,
# go to stdout and to summary in that folder (.ci/run adds them to the
# final count).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${TMPDIR:-/tmp}/segalloc-cmake-consumer
prefix=$work/prefix
rm -rf "$work"
mkdir -p "$work"

# shellcheck source=tools/results.sh
source "$root/tools/results.sh"
outcome() { result "$1" "$2 ($3)"; } # OK(0|1) NAME DETAIL
finish() { results_finish "$work/summary"; }

# Usage errors: no PREFIX, a relative one.
bash "$root/tools/install.sh" >"$work/usage.log" 2>&1
rc1=$?
bash "$root/tools/install.sh" relative/prefix >>"$work/usage.log" 2>&1
rc2=$?
if [[ $rc1 == 2 && $rc2 == 2 ]]; then
  outcome 0 "install usage" "no PREFIX, relative PREFIX: exit 2"
else
  outcome 1 "install usage" "exit $rc1 and $rc2, see $work/usage.log"
fi

if bash "$root/tools/install.sh" "$prefix" >"$work/install.log" 2>&1; then
  outcome 0 install "tools/install.sh $prefix"
else
  tail -20 "$work/install.log"
  outcome 1 install "tools/install.sh failed, see $work/install.log"
  finish
fi

# cmake_variant NAME CMAKE_ARGS...: configure, build, ctest.
cmake_variant() {
  local name=$1 build=$work/build-$1 line
  shift
  if ! { cmake -S "$here" -B "$build" -DCMAKE_PREFIX_PATH="$prefix" "$@" &&
    cmake --build "$build"; } >"$work/$name.log" 2>&1; then
    tail -20 "$work/$name.log"
    outcome 1 "cmake $name" "configure or build failed, see $work/$name.log"
    return
  fi
  ctest --test-dir "$build" --output-on-failure >"$work/ctest-$name.log" 2>&1
  local n=0
  # Lines like "1/3 Test #1: strbuf ......   Passed    0.14 sec".
  while read -r line; do
    n=$((n + 1))
    local test=${line#*: }
    test=${test%% *}
    if [[ $line == *" Passed "* ]]; then
      outcome 0 "cmake $name $test" "ctest"
    else
      outcome 1 "cmake $name $test" "ctest, see $work/ctest-$name.log"
    fi
  done < <(grep -E '^ *[0-9]+/[0-9]+ Test +#[0-9]+: ' "$work/ctest-$name.log")
  if [[ $n == 0 ]]; then
    outcome 1 "cmake $name" "ctest ran nothing, see $work/ctest-$name.log"
  fi
}

cmake_variant shared
cmake_variant static -DSEGALLOC_STATIC=ON

# The README's pkg-config line, then the program (exit 0 when its leak
# check saw exactly its one live block, then none).
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# shellcheck disable=SC2046  # pkg-config's flags are meant to split
if cc -Wall -Wextra -O2 "$here/pkgconfig_demo.c" \
  $(pkg-config --cflags --libs segalloc-debug) -o "$work/pkgconfig_demo" \
  >"$work/pkgconfig.log" 2>&1 &&
  LD_LIBRARY_PATH=$prefix/lib "$work/pkgconfig_demo" >>"$work/pkgconfig.log" 2>&1 &&
  grep -q '^segalloc: ERROR: leak on address 0x' "$work/pkgconfig.log"; then
  outcome 0 pkg-config "$(tail -1 "$work/pkgconfig.log")"
else
  tail -20 "$work/pkgconfig.log"
  outcome 1 pkg-config "see $work/pkgconfig.log"
fi

finish
