"""Writes a large, deterministic C file for tools/demo.sh to compile.

gcc's front end and optimisation passes allocate a lot (trees, bitmaps,
vectors, hash tables), so `gcc -O2 -S` on this file is a real
allocation-heavy program; its assembly output must be the same under
every correct allocator.

Usage: python3 gen_c.py N_FUNCTIONS > big.c
"""
import sys


def function(i):
    a, b, c = (i * 7) % 13 + 1, (i * 11) % 17 + 2, (i * 5) % 19 + 3
    cases = "\n".join(
        "    case %d: acc = acc * %d + s->v[%d] - t; break;" % (k, k + a, k % 8)
        for k in range(10))
    return f"""
static int helper_{i}(int x) {{ return (x * {a}) ^ (x >> {b % 7 + 1}); }}

long func_{i}(struct st *s, const int *arr, int n) {{
  long acc = {i};
  int tmp[{16 + i % 16}];
  for (int k = 0; k < (int)(sizeof tmp / sizeof tmp[0]); k++)
    tmp[k] = helper_{i}(k + n);
  for (int k = 0; k < n; k++) {{
    int t = arr[k] * {b} + tmp[k % (int)(sizeof tmp / sizeof tmp[0])];
    switch ((t + k) % 10) {{
{cases}
    default: acc ^= t;
    }}
    if (acc > {c * 100000}) acc -= s->v[(k + {a}) % 8] * {c};
    s->v[k % 8] += (int)(acc & 0xff);
  }}
  return acc + helper_{i}((int)acc);
}}
"""


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    print("struct st { int v[8]; };")
    for i in range(n):
        print(function(i))
    print("long (*const table[])(struct st *, const int *, int) = {")
    print(",\n".join("  func_%d" % i for i in range(n)))
    print("};")


if __name__ == "__main__":
    main()
