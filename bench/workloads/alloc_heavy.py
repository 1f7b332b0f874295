"""Allocation-heavy Python workload for bench/run.sh (run under LD_PRELOAD).

The runner sets PYTHONMALLOC=malloc so every object allocation goes to the
preloaded malloc instead of CPython's own small-object arena (pymalloc),
which would otherwise hide the allocator under test for objects <= 512 B.

Mixes what allocation-heavy Python code does: many small dicts/tuples/
strings that live briefly, a few containers that grow (list append, dict
insert, str join), a JSON round trip and sorting. Deterministic given -n
and the seed; prints a CRC of the results so the runner can check that the
output is the same under every allocator.

Usage: alloc_heavy.py [n] [seed]
"""
import json
import random
import sys
import zlib


def records(rng, n):
    """Short-lived dicts of small strings and numbers, like parsed rows."""
    out = []
    for i in range(n):
        name = "user%d-%s" % (i, "x" * rng.randrange(0, 40))
        out.append({
            "id": i,
            "name": name,
            "tags": [name[: rng.randrange(1, 8)] for _ in range(rng.randrange(0, 6))],
            "score": rng.random(),
            "pos": (rng.randrange(1000), rng.randrange(1000)),
        })
    return out


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 60000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 42
    rng = random.Random(seed)
    crc = 0

    # Build, serialise, parse, transform: the data is freed in between, so
    # the allocator sees waves of allocation and release.
    for wave in range(3):
        rows = records(rng, n)
        text = json.dumps(rows, sort_keys=True)
        back = json.loads(text)
        back.sort(key=lambda r: (r["pos"][0], r["name"]))
        index = {}
        for r in back:
            for t in r["tags"]:
                index.setdefault(t, []).append(r["id"])
        summary = ",".join("%s:%d" % (k, len(v)) for k, v in sorted(index.items()))
        crc = zlib.crc32(summary.encode(), crc)
        crc = zlib.crc32(str(len(text)).encode(), crc)
        del rows, text, back, index, summary

    # A growing string builder and a growing list of bytes objects.
    parts = []
    for i in range(n * 4):
        parts.append(("%x" % (i * 2654435761 % 4294967296)).encode())
    blob = b"".join(parts)
    crc = zlib.crc32(blob, crc)
    print("alloc_heavy n=%d checksum=%08x" % (n, crc))


if __name__ == "__main__":
    main()
