#!/usr/bin/env python3
"""Runs the misuse suite (README.md here) under segalloc and its peers and
writes the caught counts, per class and per case, as markdown.

Usage: tests/misuse_suite/run.py [--tools NAME,...] [--timeout S]
           [--out FILE] [--expect FILE]
Run from the repository after `bazel build //alloc:libsegalloc.so
//debug:libsegalloc_debug.so //tests/misuse_suite/...`: the programs are
Bazel's (those the regression test runs), and for ASan the same sources
built here with -fsanitize=address, -O0 as Bazel's. --expect writes the
table of kinds that the regression test (check.sh) expects instead of
the markdown.

A case is caught when the program dies (signal, non-zero exit, or the
timeout) or a tool's report appears on stderr; it is missed when it
prints UNNOTICED and exits 0. A case that outlives the timeout is marked
T and not counted as caught (no tool said anything).
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEBUG_SO = os.path.join(REPO, "bazel-bin/debug/libsegalloc_debug.so")
PROD_SO = os.path.join(REPO, "bazel-bin/alloc/libsegalloc.so")
LIBC_DEBUG = "/usr/lib/x86_64-linux-gnu/libc_malloc_debug.so.0"

# name -> (environment, built with ASan)
TOOLS = collections.OrderedDict([
    ("segalloc-debug", ({"LD_PRELOAD": DEBUG_SO}, False)),
    ("segalloc-debug guard=all",
     ({"LD_PRELOAD": DEBUG_SO, "SEGALLOC_GUARD": "all"}, False)),
    # The default before sites:1000.
    ("segalloc-debug sample:1000",
     ({"LD_PRELOAD": DEBUG_SO, "SEGALLOC_GUARD": "sample:1000"}, False)),
    ("segalloc", ({"LD_PRELOAD": PROD_SO}, False)),
    ("glibc", ({}, False)),
    ("MALLOC_CHECK_=3",
     ({"LD_PRELOAD": LIBC_DEBUG, "MALLOC_CHECK_": "3"}, False)),
    ("DUMA", ({"LD_PRELOAD": "/usr/lib/libduma.so.0"}, False)),
    ("Electric Fence", ({"LD_PRELOAD": "/usr/lib/libefence.so.0"}, False)),
    ("libdislocator", ({"LD_PRELOAD": "/usr/lib/afl/libdislocator.so"},
                       False)),
    # Leaks are no class of this suite; LeakSanitizer would "catch" every
    # case that leaves a block allocated on purpose.
    ("ASan", ({"ASAN_OPTIONS": "detect_leaks=0"}, True)),
])

REPORT = re.compile(r"segalloc: ERROR: ([a-z-]+) on address 0x[0-9a-f]+$")
TOOL_ERROR = re.compile(r"ERROR|(malloc|free|realloc)\(\): |double free|"
                        r"corrupted|Aborting", re.I)


def build(work):
    """The two suite programs, Bazel's and with ASan: {(lang, asan): path}.
    """
    out = {}
    for lang, cc, src in (("c", "gcc", "misuse_c.c"),
                          ("cxx", "g++", "misuse_cxx.cc")):
        out[(lang, False)] = os.path.join(
            REPO, "bazel-bin/tests/misuse_suite/misuse_" + lang)
        exe = os.path.join(work, lang + "_asan")
        subprocess.run([cc, "-fsanitize=address", "-O0", "-g",
                        "-fno-omit-frame-pointer", "-D_GNU_SOURCE",
                        "-fsized-deallocation", os.path.join(HERE, src),
                        "-o", exe], check=True)
        out[(lang, True)] = exe
    return out


def cases(exes):
    """[(lang, name, class)] in the programs' order."""
    got = []
    for lang in ("c", "cxx"):
        listing = subprocess.run([exes[(lang, False)], "--list"], check=True,
                                 capture_output=True, text=True).stdout
        for line in listing.splitlines():
            name, cls = line.split()
            got.append((lang, name, cls))
    return got


def run_case(exe, name, env_add, timeout):
    """'T' (timed out), 'missed', 'crash' (died, no report), or the
    segalloc kind / 'report' (another tool's report)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SEGALLOC_", "MALLOC_", "ASAN_", "EF_",
                                "DUMA_", "AFL_", "LD_PRELOAD"))}
    env.update(env_add)
    try:
        p = subprocess.run([exe, name], env=env, capture_output=True,
                           timeout=timeout, preexec_fn=no_core)
    except subprocess.TimeoutExpired:
        return "T"
    err = p.stderr.decode(errors="replace").splitlines()
    first = next((l for l in err if l.startswith("segalloc: ERROR:")), None)
    if first is not None:
        m = REPORT.match(first)
        return m.group(1) if m else "report"
    if any(TOOL_ERROR.search(l) for l in err):
        return "report"
    if p.returncode != 0 or b"UNNOTICED" not in p.stdout:
        return "crash"
    return "missed"


def no_core():
    import resource
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


SHORT = {"heap-buffer-overflow": "ovf", "heap-buffer-underflow": "unf",
         "use-after-free": "uaf", "double-free": "df", "invalid-free": "if",
         "heap-corruption": "corr", "alloc-dealloc-mismatch": "mism",
         "new-delete-size-mismatch": "size", "missed": "·", "crash": "crash",
         "report": "x", "T": "T"}


def markdown(suite, tools, results):
    day = time.strftime("%Y-%m-%d", time.gmtime())
    cc = subprocess.run(["gcc", "--version"], capture_output=True,
                        text=True).stdout.splitlines()[0]
    out = ["# Misuse suite results", "",
           "`tests/misuse_suite/run.py` on %s (the segalloc of the commit "
           "that adds this file), %s, -O0; %d "
           "cases, each under `LD_PRELOAD` with default settings (ASan: "
           "the same source with `-fsanitize=address`, "
           "`detect_leaks=0`)." % (day, cc, len(suite)), "",
           "Caught = the program died (signal or non-zero exit, also at "
           "exit) or the tool reported an error; missed = it printed "
           "UNNOTICED and exited 0.", "",
           "## Caught, per class", ""]
    classes = list(collections.OrderedDict((c, 1) for _, _, c in suite))
    out.append("| class | cases | " + " | ".join(tools) + " |")
    out.append("|---|---" + "|---" * len(tools) + "|")
    for cls in classes + [None]:
        rows = [(l, n) for l, n, c in suite if cls is None or c == cls]
        counts = [sum(results[(l, n, t)] not in ("missed", "T") for l, n in rows)
                  for t in tools]
        label = "**total**" if cls is None else cls
        out.append("| %s | %d | %s |" % (label, len(rows), " | ".join(
            ("**%d**" if cls is None else "%d") % c for c in counts)))
    out += ["", "## Per case", "",
            "Segalloc's columns give the kind its report named (ovf "
            "overflow, unf underflow, uaf use-after-free, df double-free, "
            "if invalid-free, corr heap-corruption, mism "
            "alloc-dealloc-mismatch, size new-delete-size-mismatch); "
            "crash: died without a report; x: the tool reported; T: timed "
            "out; ·: missed.", ""]
    out.append("| case | class | " + " | ".join(tools) + " |")
    out.append("|---|---" + "|---" * len(tools) + "|")
    for l, n, c in suite:
        cells = []
        for t in tools:
            r = results[(l, n, t)]
            cells.append(SHORT.get(r, r) if t.startswith("segalloc") or
                         r in ("missed", "T") else "x")
        out.append("| %s | %s | %s |" % (n, c, " | ".join(cells)))
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--out", default=os.path.join(HERE, "results.md"))
    ap.add_argument("--expect", help="write check.sh's expected kinds here")
    args = ap.parse_args()
    tools = args.tools.split(",")
    if args.expect:
        tools = ["segalloc-debug", "segalloc-debug guard=all"]
    for t in tools:
        if t not in TOOLS:
            sys.exit("unknown tool %r (known: %s)" % (t, ", ".join(TOOLS)))
    # The peers (glibc's libc_malloc_debug comes with libc6).
    subprocess.run([os.path.join(REPO, "tools/install_deps.sh"), "duma",
                    "electric-fence", "afl++", "gcc", "g++"], check=True)
    with tempfile.TemporaryDirectory() as work:
        exes = build(work)
        suite = cases(exes)
        results = {}
        for lang, name, cls in suite:
            for t in tools:
                env, asan = TOOLS[t]
                results[(lang, name, t)] = run_case(
                    exes[(lang, asan)], name, env, args.timeout)
            print("%-28s %s" % (name, " ".join(
                SHORT.get(results[(lang, name, t)], "?") for t in tools)),
                file=sys.stderr)
    if args.expect:
        with open(args.expect, "w") as f:
            f.write("# case\tdefault\tguard=all: the kind segalloc-debug "
                    "reports first (- none), written by run.py --expect\n")
            for lang, name, _ in suite:
                kinds = [results[(lang, name, t)] for t in tools]
                f.write("%s\t%s\n" % (name, "\t".join(
                    k if k not in ("missed", "crash", "T", "report") else "-"
                    for k in kinds)))
        return
    with open(args.out, "w") as f:
        f.write(markdown(suite, tools, results))


if __name__ == "__main__":
    main()
