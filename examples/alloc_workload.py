"""An allocation-heavy Python program for tools/demo.sh.

Run it with PYTHONMALLOC=malloc so that every object goes to the C malloc
(and so to the LD_PRELOADed allocator) instead of CPython's own
small-object arena. Deterministic: prints the same lines under every
correct allocator, ending with a CRC of everything it computed.

Usage: python3 alloc_workload.py [n] [seed]
"""
import json
import random
import sys
import zlib


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    rng = random.Random(seed)
    crc = 0
    for wave in range(3):
        # Many short-lived dicts, tuples and strings, like parsed records.
        rows = []
        for i in range(n):
            name = "item%d-%s" % (i, "ab" * rng.randrange(0, 30))
            rows.append({
                "id": i,
                "name": name,
                "tags": [name[:k] for k in range(1, rng.randrange(2, 7))],
                "pos": (rng.randrange(1000), rng.randrange(1000)),
            })
        # A JSON round trip: one big string, then every object again.
        text = json.dumps(rows, sort_keys=True)
        back = json.loads(text)
        back.sort(key=lambda r: (r["pos"], r["name"]))
        # Growing containers: a dict of lists and a string built by join.
        index = {}
        for r in back:
            index.setdefault(r["pos"][0] % 97, []).append(r["name"])
        joined = "|".join(",".join(v) for _, v in sorted(index.items()))
        crc = zlib.crc32(text.encode(), crc)
        crc = zlib.crc32(joined.encode(), crc)
        print("wave %d: %d rows, %d json bytes, %d buckets"
              % (wave, len(back), len(text), len(index)))
        del rows, back, index, text, joined
    print("crc %08x" % crc)


if __name__ == "__main__":
    main()
