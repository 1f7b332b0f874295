#!/usr/bin/env bash
# A program may load the library with dlopen (python's ctypes, a plugin
# host) to call its API: it must load (its thread-local storage fits
# glibc's static TLS reserve), allocate, free and pass its heap check.
#
# Usage: dlopen_test.sh path/to/libsegalloc.so
set -euo pipefail
so="$(realpath "$1")"
python3 - "$so" <<'PY'
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
lib.segalloc_malloc.restype = ctypes.c_void_p
lib.segalloc_malloc.argtypes = [ctypes.c_size_t]
lib.segalloc_free.argtypes = [ctypes.c_void_p]
blocks = [lib.segalloc_malloc(n) for n in range(1, 2000, 7)]
assert all(blocks), "segalloc_malloc returned NULL"
for p in blocks:
    lib.segalloc_free(p)
problems = lib.segalloc_check_heap()
assert problems == 0, f"segalloc_check_heap: {problems} problem(s)"
print(f"ok: {sys.argv[1]} loaded by dlopen, {len(blocks)} blocks")
PY
