#!/usr/bin/env bash
# The misuse suite's regression test: each case under the debug .so, with
# the default options and with SEGALLOC_GUARD=all, must be reported as
# expected.tsv says: the first line of stderr exactly
# `segalloc: ERROR: <kind> on address 0x...` and a non-zero exit; a case
# expected as `-` must print no report (when it starts being caught, put
# its kind in the table: `run.py --expect expected.tsv`).
#
# Usage: check.sh libsegalloc_debug.so misuse_c misuse_cxx expected.tsv
set -uo pipefail

if (($# != 4)); then
  echo "usage: $0 libsegalloc_debug.so misuse_c misuse_cxx expected.tsv" >&2
  exit 2
fi
so="$(realpath "$1")" && c="$(realpath "$2")" && cxx="$(realpath "$3")" ||
  exit 2
expected="$4"
work="$(mktemp -d "${TEST_TMPDIR:-${TMPDIR:-/tmp}}/misuse.XXXXXX")"
trap 'rm -rf "$work"' EXIT
ulimit -c 0

declare -A program
for exe in "$c" "$cxx"; do
  while read -r name _; do program[$name]=$exe; done < <("$exe" --list)
done

passed=0
failed=0
fail() {
  failed=$((failed + 1))
  echo "FAIL: $*"
}

# check CASE OPTION KIND: one run of CASE with OPTION (NAME=value or "").
check() {
  local name=$1 option=$2 kind=$3
  env -u SEGALLOC_GUARD -u SEGALLOC_GUARD_SIDE ${option:+"$option"} \
    LD_PRELOAD="$so" timeout 60 "${program[$name]}" "$name" \
    >"$work/out" 2>"$work/err"
  local rc=$? first
  first="$(head -n 1 "$work/err")"
  local what="$name${option:+ ($option)}"
  if [[ $kind == - ]]; then
    if [[ $first == "segalloc: ERROR: "* ]]; then
      fail "$what: now reported ($first): update expected.tsv"
      return
    fi
  elif ((rc == 0)); then
    fail "$what: exited 0, expected a $kind report"
    return
  elif ! [[ $first =~ ^segalloc:\ ERROR:\ $kind\ on\ address\ 0x[0-9a-f]+$ ]]; then
    fail "$what: expected '$kind', first line: ${first:-(none)}"
    return
  fi
  passed=$((passed + 1))
}

declare -A listed
while IFS=$'\t' read -r name default all; do
  [[ $name == \#* || -z $name ]] && continue
  listed[$name]=1
  if [[ -z ${program[$name]:-} ]]; then
    fail "$name: in expected.tsv but in neither program"
    continue
  fi
  check "$name" "" "$default"
  check "$name" SEGALLOC_GUARD=all "$all"
done <"$expected"
for name in "${!program[@]}"; do
  [[ -n ${listed[$name]:-} ]] || fail "$name: not in expected.tsv"
done

echo "$passed passed, $failed failed"
((failed == 0))
