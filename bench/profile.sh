#!/usr/bin/env bash
# bench/profile.sh: why is a workload slow (or big) under an allocator?
#
# Usage: bench/profile.sh [-p PRELOAD.so] [-n TOP] [-o DIR] -- COMMAND [ARGS...]
#
# Runs COMMAND (with LD_PRELOAD=PRELOAD.so when given; none = glibc) four
# times and prints:
#   1. perf stat: task-clock, page faults, context switches (3 repeats);
#   2. peak RSS (/usr/bin/time);
#   3. strace -c -f: the syscalls by time, with their counts;
#   4. perf record -g: the TOP hottest symbols (self time), and the split
#      by shared object (program / allocator / libc / kernel).
# perf.data is kept in DIR (default bench/build/profile) for `perf report
# -i DIR/perf.data`. Example, the large-block workload under segalloc:
#   bench/profile.sh -p bench/build/preload/libsegalloc.so -- \
#     bench/build/bin/large_churn -n 20000 -t 1
# Needs perf (linux-perf) and strace; installs them when missing (root).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PRELOAD=""
TOP=15
DIR=$BENCH_DIR/build/profile
while (($# > 0)); do
  case $1 in
  -p) PRELOAD=$(realpath "$2"); shift 2 ;;
  -n) TOP=$2; shift 2 ;;
  -o) DIR=$2; shift 2 ;;
  --) shift; break ;;
  *) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 64 ;;
  esac
done
(($# > 0)) || { echo "profile.sh: no command (see --help)" >&2; exit 64; }
for tool in perf:linux-perf strace:strace; do
  if ! command -v "${tool%%:*}" >/dev/null && ((EUID == 0)); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${tool#*:}" >/dev/null
  fi
done
mkdir -p "$DIR"
run() { env ${PRELOAD:+LD_PRELOAD="$PRELOAD"} "$@"; }

echo "== ${PRELOAD:-glibc (no preload)}: $*"
echo "-- perf stat (3 runs)"
run perf stat -r 3 -e task-clock,page-faults,context-switches -- "$@" \
  2>&1 >/dev/null | grep -E 'task-clock|page-faults|context-switches|elapsed'
echo "-- peak RSS: $(run /usr/bin/time -f '%M KiB' "$@" 2>&1 >/dev/null | tail -1)"
echo "-- strace -c -f (syscalls by time)"
run strace -c -f -o "$DIR/strace.txt" "$@" >/dev/null
sed -n '1,10p' "$DIR/strace.txt"
echo "-- perf record: time by shared object, then the top $TOP symbols"
run perf record -q -g -o "$DIR/perf.data" -- "$@" >/dev/null 2>&1
perf report -i "$DIR/perf.data" --no-children --sort dso --stdio 2>/dev/null |
  grep -E '^ +[0-9]' | head -6
perf report -i "$DIR/perf.data" --no-children --sort dso,symbol --stdio \
  -g none 2>/dev/null | grep -E '^ +[0-9]' | head -"$TOP"
