#!/usr/bin/env python3
"""Writes the hand-made seed corpus (corpus/<target>/) and the dictionary.

Each seed is a short op program with one meaning, named after it. The
encoding is the one documented in fuzz/sf_ops.h; this file mirrors it, so
change both together. Re-run after changing either:

    python3 fuzz/gen_corpus.py          # from the repository root

Seeds are deterministic; running it twice changes nothing. Reproducers of
fixed bugs go in fuzz/regressions/<target>/ and are copied in as well.
"""
import os
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ---- encoding (sf_ops.h) ----
MALLOC, CALLOC, REALLOC, FREE, ALIGNED, USABLE, CHECK, REALLOCARRAY, MISUSE = \
    range(9)
POSIX_MEMALIGN, ALIGNED_ALLOC, MEMALIGN, VALLOC, PVALLOC = range(5)
OVERFLOW, UNDERFLOW, DOUBLE_FREE, INTERIOR_FREE, INVALID_FREE, \
    WRITE_AFTER_FREE, GUARD_OVERFLOW, GUARD_AFTER_FREE, RANGE, \
    KIND_MISMATCH = range(10)
NUM_CLASS_BOUNDS = 64  # every class and the first huge sizes; the index wraps


def op(kind, variant=0):
    return bytes([(variant << 4) | kind])


def tiny(n):  # 0..63
    assert 0 <= n < 64
    return bytes([n])


def boundary(i, delta=0):  # class boundary i, +-2
    assert -2 <= delta <= 2
    d = 5 * (i // 32) + delta + 2
    return bytes([0x40 | (i % 32), d])


def u16(n):
    return bytes([0x60, n & 0xff, n >> 8])


def u22(n):
    assert n < (1 << 22)
    return bytes([0x80, n & 0xff, (n >> 8) & 0xff, n >> 16])


SPECIAL = {"page": 0, "2page": 1, "16page": 2, "threshold": 3,
           "2threshold": 4, "64k": 5, "128k": 6, "1m": 7, "2m": 8, "4m": 9,
           "3page": 10, "4k": 11}


def special(name, delta=0):
    return bytes([0xa0 | SPECIAL[name], delta + 2])


def impossible(low):  # 0..31, see impossible_size() in sf_ops.c
    return bytes([0xc0 | low])


def near_threshold(offset):  # threshold + offset, offset in -16..15
    return bytes([0xe0 | (offset + 16)])


def slot(s):
    return bytes([s])


def count(c):  # 0..16, or "max" / "overflow"
    return bytes([{"max": 0xff, "overflow": 0xfe}.get(c, c)])


def align(shift, bad=None):
    """bad: None (1 << shift), "zero", "three" (3 << shift),
    "toolarge" (1 << (32 + shift)), "minus1" ((1 << shift) - 1)."""
    if bad is None:
        return bytes([shift])
    mode = {"zero": 0, "three": 1, "toolarge": 2, "minus1": 3}[bad]
    return bytes([0x80 | (mode << 5) | shift])


def malloc(s, size):
    return op(MALLOC) + slot(s) + size


def calloc(s, n, size):
    return op(CALLOC) + slot(s) + count(n) + size


def realloc(s, size):
    return op(REALLOC) + slot(s) + size


def reallocarray(s, n, size):
    return op(REALLOCARRAY) + slot(s) + count(n) + size


def free(s):
    return op(FREE) + slot(s)


def aligned(fn, s, al, size):
    return op(ALIGNED, fn) + slot(s) + al + size


def usable(s):
    return op(USABLE) + slot(s)


def check():
    return op(CHECK)


def misuse(kind, s, arg=0):
    return op(MISUSE, kind) + slot(s) + arg.to_bytes(2, "little")


def program(*ops, threads=0):
    return bytes([threads]) + b"".join(ops)


# ---- seeds ----

def common_seeds():
    seeds = {}
    seeds["empty"] = program()
    seeds["malloc_free_tiny"] = program(
        *[malloc(i, tiny(i)) for i in range(32)], check(),
        *[free(i) for i in range(0, 32, 2)], check())
    # Every class boundary -1, exact and +1, all live at once.
    for delta in (-1, 0, 1):
        name = {-1: "minus1", 0: "exact", 1: "plus1"}[delta]
        ops = []
        for i in range(NUM_CLASS_BOUNDS):
            ops += [malloc(i % 32, boundary(i, delta)), usable(i % 32)]
        seeds["class_boundaries_" + name] = program(*ops, check())
    # Grow one block through every class, then shrink it back.
    seeds["realloc_grow_chain"] = program(
        realloc(0, tiny(1)),
        *[realloc(0, boundary(i, 1)) for i in range(NUM_CLASS_BOUNDS)],
        realloc(0, near_threshold(1)), realloc(0, u22(3 << 20)), check())
    seeds["realloc_shrink_chain"] = program(
        malloc(0, u22(3 << 20)),
        *[realloc(0, boundary(i, 0))
          for i in reversed(range(NUM_CLASS_BOUNDS))], check())
    seeds["realloc_zero_and_null"] = program(
        realloc(1, tiny(40)), realloc(1, tiny(0)), realloc(2, tiny(0)),
        malloc(3, tiny(20)), realloc(3, tiny(0)), reallocarray(4, 3, tiny(8)),
        reallocarray(4, 0, tiny(8)), check())
    seeds["realloc_usable_slack"] = program(
        malloc(0, tiny(17)), usable(0), realloc(0, tiny(33)), usable(0),
        realloc(0, boundary(20, 1)), usable(0), realloc(0, tiny(5)), check())
    seeds["calloc_zeroed_reuse"] = program(
        *[malloc(i, boundary(i, 0)) for i in range(16)],
        *[free(i) for i in range(16)],
        *[calloc(i, 3, boundary(i, 0)) for i in range(16)], check())
    seeds["calloc_overflow"] = program(
        calloc(0, "overflow", tiny(16)), calloc(1, "max", tiny(2)),
        calloc(2, "overflow", u16(4097)), calloc(3, 0, tiny(16)),
        calloc(4, 16, tiny(0)), reallocarray(5, "overflow", tiny(24)),
        malloc(6, tiny(10)), reallocarray(6, "max", tiny(3)), check())
    ops = []
    for fn in range(5):
        for shift in range(0, 29, 3):
            ops += [aligned(fn, shift % 32, align(shift), tiny(24)),
                    usable(shift % 32)]
        ops.append(check())
    seeds["aligned_all_fns"] = program(*ops)
    ops = []
    for fn in (POSIX_MEMALIGN, ALIGNED_ALLOC, MEMALIGN):
        for bad in ("zero", "three", "toolarge", "minus1"):
            ops.append(aligned(fn, 0, align(4, bad), tiny(32)))
        ops.append(aligned(fn, 1, align(2), tiny(32)))  # 4: bad for posix
    seeds["aligned_bad_alignments"] = program(*ops, check())
    seeds["aligned_large"] = program(
        aligned(POSIX_MEMALIGN, 0, align(16), special("threshold", 1)),
        aligned(ALIGNED_ALLOC, 1, align(20), u22(100000)),
        aligned(MEMALIGN, 2, align(12), special("page", -1)),
        aligned(VALLOC, 3, align(0), special("page", 1)),
        aligned(PVALLOC, 4, align(0), tiny(1)),
        realloc(0, tiny(8)), realloc(1, u22(1 << 21)), check())
    seeds["large_threshold"] = program(
        *[malloc(i, near_threshold(i - 16)) for i in range(32)], check(),
        *[realloc(i, near_threshold(15 - i)) for i in range(32)], check())
    seeds["large_specials"] = program(
        *[malloc(i, special(name, d))
          for i, (name, d) in enumerate(
              (n, d) for n in SPECIAL for d in (-1, 0, 1))
          if i < 32], check())
    seeds["huge_must_fail"] = program(
        *[malloc(0, impossible(low)) for low in range(32)],
        malloc(1, tiny(30)),
        *[realloc(1, impossible(low)) for low in range(0, 32, 3)],
        *[aligned(fn, 2, align(6), impossible(low))
          for fn in range(5) for low in (0, 1, 2, 7)],
        check())
    seeds["slot_churn"] = program(
        *[x for r in range(4) for i in range(32)
          for x in (malloc(i, boundary((i * 7 + r) % NUM_CLASS_BOUNDS, 0)),
                    free((i * 5) % 32))], check())
    return seeds


def misuse_seeds():
    seeds = {}
    prelude = [malloc(i, boundary(i * 3, 0)) for i in range(8)]
    names = ["overflow", "underflow", "double_free", "interior_free",
             "invalid_free", "write_after_free"]
    for kind, name in enumerate(names):
        for s, size in ((0, tiny(24)), (1, boundary(10, 0)),
                        (2, near_threshold(4))):
            body = prelude + [malloc(s, size), misuse(kind, s, 3)]
            seeds["misuse_%s_%d" % (name, s)] = program(*body)
    seeds["misuse_overflow_aligned"] = program(
        aligned(POSIX_MEMALIGN, 0, align(8), tiny(40)),
        misuse(OVERFLOW, 0, 0))
    seeds["misuse_uaf_calloc"] = program(
        calloc(0, 4, tiny(12)), misuse(WRITE_AFTER_FREE, 0, 7))
    # Write after free: first and last byte, both 4 KiB edges of a block
    # over 8 KiB (bit 0 of arg: from the end; arg >> 1: the distance).
    for size_name, size in (("tiny", tiny(24)), ("large", near_threshold(4)),
                            ("64k", u22(65536))):
        for arg, where in ((0, "first"), (1, "last"), (2 * 4095, "head_end"),
                           (2 * 4095 + 1, "tail_start")):
            seeds["misuse_uaf_%s_%s" % (size_name, where)] = program(
                malloc(0, size), misuse(WRITE_AFTER_FREE, 0, arg))
    # Guarded blocks: reads and writes just past the end, into the guard
    # page, after free; a zero-size block.
    for size_name, size in (("tiny", tiny(24)), ("zero", tiny(0)),
                            ("page", u16(4096)), ("64k", u22(65536))):
        for arg, where in ((0, "read_1"), (1, "write_1"), (2 * 100, "read_100"),
                           (2 * 1000 + 1, "write_1000")):
            seeds["misuse_guard_overflow_%s_%s" % (size_name, where)] = \
                program(malloc(0, size), misuse(GUARD_OVERFLOW, 0, arg))
            seeds["misuse_guard_uaf_%s_%s" % (size_name, where)] = program(
                malloc(0, size), misuse(GUARD_AFTER_FREE, 0, arg))
    # Range checks of memcpy (read) / memset (write): arg bit 0 write,
    # bits 1-2 overflow / underflow / after free, bits 3+ offset and length.
    for mode, name in ((0, "overflow"), (1, "underflow"), (2, "uaf")):
        for write in (0, 1):
            seeds["misuse_range_%s_%s" % (name, "memset" if write else
                                          "memcpy")] = program(
                malloc(0, tiny(40)),
                misuse(RANGE, 0, write | mode << 1 | (5 << 3)))
    # operator new (bit 0: new[]) then free / the other delete / realloc /
    # a sized delete of another size (bits 1-2).
    for how, name in enumerate(("free", "other_delete", "realloc",
                                "sized_delete")):
        for array in (0, 1):
            seeds["misuse_new%s_%s" % ("_array" if array else "", name)] = \
                program(malloc(0, tiny(24)),
                        misuse(KIND_MISMATCH, 0, array | how << 1))
    seeds["misuse_empty_slot_is_noop"] = program(
        misuse(DOUBLE_FREE, 9), malloc(0, tiny(8)), check())
    return seeds


def mt_seeds():
    seeds = {}
    for t in range(3):  # 2, 3, 4 threads
        seeds["mt_cross_free_%dthreads" % (t + 2)] = program(
            *[malloc(i, boundary(i, 0)) for i in range(32)],
            *[free(i) for i in range(32)], threads=t)
        seeds["mt_realloc_cross_%dthreads" % (t + 2)] = program(
            *[malloc(i, tiny(i + 1)) for i in range(32)],
            *[realloc(i, boundary(i + 8, 1)) for i in range(32)],
            check(), threads=t)
    seeds["mt_large_and_aligned"] = program(
        *[malloc(i, near_threshold(i - 16)) for i in range(16)],
        *[aligned(i % 5, 16 + i, align(i), tiny(48)) for i in range(16)],
        *[free(i) for i in range(0, 32, 2)], threads=2)
    return seeds


DICT_HEADER = """\
# Tokens for the segalloc fuzz op encoding (fuzz/sf_ops.h); generated by
# fuzz/gen_corpus.py. Usable by libFuzzer (-dict=) and AFL++ (-x).
"""


def dictionary():
    toks = {
        "op_malloc_tiny": malloc(0, tiny(24)),
        "op_malloc_bound": malloc(0, boundary(12, 1)),
        "op_calloc": calloc(0, 2, tiny(16)),
        "op_calloc_overflow": calloc(0, "overflow", tiny(16)),
        "op_realloc_grow": realloc(0, u16(5000)),
        "op_realloc_zero": realloc(0, tiny(0)),
        "op_free": free(0),
        "op_posix_memalign": aligned(POSIX_MEMALIGN, 0, align(12), tiny(8)),
        "op_aligned_alloc": aligned(ALIGNED_ALLOC, 0, align(6), tiny(8)),
        "op_memalign": aligned(MEMALIGN, 0, align(20), tiny(8)),
        "op_valloc": aligned(VALLOC, 0, align(0), tiny(8)),
        "op_pvalloc": aligned(PVALLOC, 0, align(0), tiny(8)),
        "op_bad_align": aligned(ALIGNED_ALLOC, 0, align(4, "three"), tiny(8)),
        "op_usable": usable(0),
        "op_check": check(),
        "op_reallocarray": reallocarray(0, 3, tiny(40)),
        "size_threshold_plus1": near_threshold(1),
        "size_threshold": near_threshold(0),
        "size_page_plus1": special("page", 1),
        "size_4m": special("4m"),
        "size_impossible_max": impossible(0),
        "size_impossible_round": impossible(1),
        "size_u22": u22(1 << 20),
    }
    for kind in range(KIND_MISMATCH + 1):
        toks["op_misuse_%d" % kind] = misuse(kind, 0, 1)
    lines = [DICT_HEADER]
    for name, data in sorted(toks.items()):
        lines.append('%s="%s"\n' % (name, "".join("\\x%02x" % b for b in data)))
    return "".join(lines)


def regressions(target):
    """Inputs that once found a bug (fuzz/regressions/<target>/), kept as
    seeds named regress_<name> so the Bazel replay guards the fix."""
    d = os.path.join(ROOT, "fuzz", "regressions", target)
    seeds = {}
    if os.path.isdir(d):
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), "rb") as f:
                seeds["regress_" + name] = f.read()
    return seeds


def write_dir(target, seeds):
    d = os.path.join(ROOT, "corpus", target)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    seeds = dict(seeds, **regressions(target))
    for name, data in sorted(seeds.items()):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


def main():
    common = common_seeds()
    write_dir("alloc", common)
    write_dir("debug", common)
    write_dir("alloc_mt", dict(mt_seeds(), **{
        "st_" + k: v for k, v in common.items()}))
    write_dir("misuse", dict(misuse_seeds(), **{
        "clean_" + k: v for k, v in common.items()}))
    with open(os.path.join(ROOT, "corpus", "segalloc.dict"), "w") as f:
        f.write(dictionary())


if __name__ == "__main__":
    main()
