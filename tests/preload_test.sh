#!/usr/bin/env bash
# Real programs under LD_PRELOAD of a segalloc shared library: each runs
# without and with the library; both runs must exit 0 with identical
# stdout, and the preloaded one must print nothing of segalloc's (no error
# report) on stderr. First it checks that the library really is loaded.
#
# Usage: preload_test.sh path/to/libsegalloc.so [NAME=VALUE...]
#   (relative paths are taken from the current directory; Bazel passes the
#   rootpath and runs the test from the runfiles tree). The NAME=VALUE
#   options (e.g. SEGALLOC_GUARD=all) go into every preloaded run.
set -uo pipefail

if (($# < 1)); then
  echo "usage: $0 path/to/libsegalloc.so [NAME=VALUE...]" >&2
  exit 2
fi
so="$(realpath "$1")" || exit 2
[[ -f "$so" ]] || { echo "no such library: $1" >&2; exit 2; }
shift
options=("$@")

work="$(mktemp -d "${TEST_TMPDIR:-${TMPDIR:-/tmp}}/preload.XXXXXX")"
trap 'rm -rf "$work"' EXIT

total_passed=0
total_failed=0
started=$SECONDS
passed=0
failed=0

check() { # check NAME CONDITION-STATUS [DETAIL]
  if (($2 == 0)); then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $1${3:+: $3}"
  fi
}

end_program() { # end_program NAME
  echo "$1: $passed passed, $failed failed ($((SECONDS - started)) s)"
  started=$SECONDS
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  passed=0
  failed=0
}

# compare NAME CMD...: runs CMD plainly and preloaded (in $work, stdin
# from /dev/null) and checks exit codes, stdout, and stderr.
compare() {
  local name="$1"
  shift
  local base="$work/$name"
  (cd "$work" && "$@") >"$base.plain.out" 2>"$base.plain.err" </dev/null
  local plain_rc=$?
  (cd "$work" && env "${options[@]}" LD_PRELOAD="$so" "$@") \
    >"$base.pre.out" 2>"$base.pre.err" </dev/null
  local pre_rc=$?
  check "$name: exits 0 without segalloc" "$plain_rc" \
    "exit $plain_rc: $(head -c 500 "$base.plain.err")"
  check "$name: exits 0 under segalloc" "$pre_rc" \
    "exit $pre_rc: $(head -c 500 "$base.pre.err")"
  cmp -s "$base.plain.out" "$base.pre.out"
  check "$name: same stdout" $? \
    "$(diff "$base.plain.out" "$base.pre.out" | head -5)"
  [[ -s "$base.plain.out" ]]
  check "$name: produced output" $?
  # All but the one notice that guard pages ran out (SEGALLOC_GUARD=all).
  ! grep -v 'segalloc: guard pages unavailable' "$base.pre.err" |
    grep -q 'segalloc:'
  check "$name: no segalloc report on stderr" $? \
    "$(grep -m3 'segalloc:' "$base.pre.err")"
}

# ---- the library is really loaded, and is the allocator ----
maps="$(env "${options[@]}" LD_PRELOAD="$so" python3 -c '
import sys
print("".join(l for l in open("/proc/self/maps") if sys.argv[1] in l))' \
  "$so" 2>&1)"
[[ -n "$maps" ]]
check "python3 maps the library" $? "not in /proc/self/maps"
# The library prints its stats at exit (check.c) when asked: non-zero
# mapped bytes show that the program's allocations went through it. (Not
# with a coreutils program: those close stderr before the library's
# destructor runs.)
stats="$(env "${options[@]}" SEGALLOC_STATS=1 LD_PRELOAD="$so" perl -e 'my @a = (1 .. 1000)' \
  2>&1 >/dev/null)"
grep -Eq '^segalloc: mapped [1-9][0-9]* bytes' <<<"$stats"
check "SEGALLOC_STATS=1 prints stats at exit" $? "stderr: $stats"
end_program "loaded"

# ---- python3: dicts, lists, strings, a few threads ----
cat >"$work/alloc_heavy.py" <<'EOF'
import hashlib, json, threading

h = hashlib.sha256()
d = {}
for i in range(60000):
    key = "k%d-%s" % (i, "x" * (i % 37))
    d[key] = [i, str(i) * (i % 11), {"n": i % 97}]
    if i % 3 == 0:
        d.pop("k%d-%s" % (i // 2, "x" * ((i // 2) % 37)), None)
h.update(json.dumps(sorted(d.items())[:5000]).encode())
words = [("w%d" % (i * 7919 % 100003)) * (1 + i % 5) for i in range(80000)]
words.sort()
h.update("".join(words[::97]).encode())
big = ["".join(chr(65 + (i + j) % 26) for j in range(i % 500)) for i in range(3000)]
h.update(" ".join(big).encode())

results = [None] * 4
def work(n):
    acc = []
    for i in range(20000):
        acc.append(("t%d" % n) * (i % 13))
        if len(acc) > 1000:
            acc = acc[500:]
    results[n] = hashlib.md5("|".join(acc).encode()).hexdigest()
threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
for t in threads: t.start()
for t in threads: t.join()
h.update("".join(results).encode())
print(len(d), len(words), h.hexdigest())
EOF
compare python3 python3 alloc_heavy.py
end_program "python3"

# ---- perl: hashes and regexes ----
cat >"$work/alloc_heavy.pl" <<'EOF'
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);
my %h;
for my $i (0 .. 49999) {
    my $k = "key$i" . ("y" x ($i % 29));
    $h{$k} = join(",", map { $_ * $i } 1 .. ($i % 7));
    delete $h{"key" . int($i / 2) . ("y" x (int($i / 2) % 29))} if $i % 5 == 0;
}
my $text = join(" ", map { "word$_ " . ($_ % 3 ? "alpha" : "beta") } 0 .. 99999);
my $count = () = $text =~ /word(\d+)5 beta/g;
(my $copy = $text) =~ s/(\d+)/<$1>/g;
my @sorted = sort { $h{$a} cmp $h{$b} or $a cmp $b } keys %h;
print scalar(keys %h), " $count ", length($copy), " ",
    md5_hex(join("|", @sorted[0 .. 999]), $copy), "\n";
EOF
compare perl perl alloc_heavy.pl
end_program "perl"

# ---- sort: 300k generated lines ----
awk 'BEGIN { for (i = 0; i < 300000; i++)
  printf "%d %s line-%d\n", (i * 7919) % 100003, substr("abcdefghij", 1 + i % 10), i }' \
  >"$work/lines.txt"
compare sort_text env LC_ALL=C sort lines.txt
compare sort_numeric env LC_ALL=C sort -k1,1n -k3,3r lines.txt
end_program "sort"

# ---- gcc: compile a generated C file, compare symbols and its output ----
awk 'BEGIN {
  print "#include <stdio.h>";
  for (i = 0; i < 120; i++) {
    printf "struct s%d { int a[%d]; const char *name; };\n", i, 1 + i % 9;
    printf "static int f%d(int x) { struct s%d s = {{0}, \"f%d\"};", i, i, i;
    printf " for (int k = 0; k < %d; k++) s.a[k %% %d] += x * k + %d;", i % 17 + 1, 1 + i % 9, i;
    printf " return s.a[0] ^ (int)s.name[1]; }\n";
    printf "int g%d(int x) { return f%d(x) + %s; }\n", i, i, (i ? "g" (i - 1) "(x - 1)" : "x");
  }
  print "int main(void) { long sum = 0; for (int i = 0; i < 100; i++) sum += g119(i); printf(\"%ld\\n\", sum); return 0; }";
}' >"$work/gen.c"
compare gcc_compile sh -c 'gcc -O2 -c gen.c -o "gen.$$.o" && nm gen.$$.o | sort'
compare gcc_build_run sh -c 'gcc -O1 gen.c -o "gen.$$" && ./gen.$$'
end_program "gcc"

# ---- git: a repository with a few commits, its log and a diff ----
if command -v git >/dev/null; then
  compare git sh -ec 'export GIT_CONFIG_NOSYSTEM=1 HOME="$PWD" \
      GIT_AUTHOR_DATE=2020-01-01T00:00:00Z GIT_COMMITTER_DATE=2020-01-01T00:00:00Z
    rm -rf repo.$$; git init -q repo.$$; cd repo.$$
    git config user.email t@example.com; git config user.name t
    for i in 1 2 3; do
      seq $i 5000 >f$i; git add f$i; git commit -qm "c$i"; sed -i "s/^1/x/" f$i
    done
    git log --format="%s %H"; git diff --stat; git gc -q
    git count-objects -v | grep -v size; cd ..; rm -rf repo.$$'
  end_program "git"
fi

echo "total: $total_passed passed, $total_failed failed"
((total_failed == 0))
