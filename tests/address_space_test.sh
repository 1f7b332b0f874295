#!/usr/bin/env bash
# python3 appending 1 MB bytearrays under `ulimit -v 400000` (as AFL++ -m
# limits a fuzzer's target) until MemoryError: under LD_PRELOAD of the
# library it must get at least PERCENT% (default 95) as many as with the
# system malloc.
#
# Usage: address_space_test.sh path/to/libsegalloc.so [PERCENT]
set -uo pipefail
so="$(realpath "$1")" || exit 2
percent="${2:-95}"
script='
blocks = []
try:
    while True:
        blocks.append(bytearray(1000000))
except MemoryError:
    pass
print(len(blocks))'
count() { # count [LD_PRELOAD value]: the blocks python3 reached
  (ulimit -v 400000 && env ${1:+LD_PRELOAD="$1"} python3 -c "$script")
}
plain="$(count)" || { echo "FAIL: python3 failed without the library"; exit 1; }
pre="$(count "$so")" || { echo "FAIL: python3 failed under $so"; exit 1; }
echo "1 MB bytearrays under ulimit -v 400000: $plain with the system malloc, $pre under segalloc"
if ((pre * 100 < plain * percent)); then
  echo "FAIL: under $percent% of the system malloc's"
  exit 1
fi
