#!/usr/bin/env bash
# THE test command: installs missing deps, runs every Bazel test, and prints
# the totals as the last line: "N passed, N failed".
#
# Usage: tools/test.sh [bazel test flags...] [target patterns...]
#   Targets default to //... ; e.g. `tools/test.sh -c opt`,
#   `tools/test.sh //tests:api_test_prod`, `CC=clang tools/test.sh`.
# Exits non-zero if bazel failed or any test failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

if ! tools/install_deps.sh; then
  echo "tools/install_deps.sh failed: cannot build or run any test"
  echo "0 passed, 1 failed"
  exit 1
fi

# Target patterns given? Otherwise test everything.
targets=("//...")
for a in "$@"; do
  case "$a" in //* | :* | @*) targets=(); break ;; esac
done

# The build event file lists exactly this run's targets and their test.log
# files (kept ones for cached results), and the targets that failed to build.
bep="$(mktemp "${TMPDIR:-/tmp}/segalloc-bep.XXXXXX")"
trap 'rm -f "$bep"' EXIT

# --keep_going: one broken target must not hide the results of the others.
bazel test --keep_going --build_event_json_file="$bep" "$@" "${targets[@]}"
rc=$?

python3 tools/test_summary.py "$bep" "$rc"
summary_rc=$?
((rc != 0)) && exit "$rc"
exit "$summary_rc"
