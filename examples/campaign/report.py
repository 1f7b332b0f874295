#!/usr/bin/env python3
"""Writes the campaign's table (markdown) and chart (PNG) from run.sh's TSV.

Usage: report.py RESULTS.tsv --cost COST.tsv --cap S --runs N --wall S
                 [--notes FILE] --md OUT.md --png OUT.png

Per target and configuration: seconds to the first crash (median of the
runs, and each run; a run that reached the cap counts as never), what the
configuration said when the crash was replayed (its report's kind, or the
signal), and whether replaying it on the ASan build named the planted
bug ("!" when not). Then, per configuration, the campaign's exec/s and,
from COST.tsv, the CPU time per input and peak RSS of one process
replaying the same inputs.
"""
import argparse
import csv
import statistics
import sys

CONFIG_ORDER = ["afl", "afl-disloc", "afl-segalloc", "afl-guard-sample",
                "afl-guard-all", "afl-asan", "lf-segalloc"]


def load(path):
    with open(path) as f:
        return list(csv.DictReader(f, delimiter="\t"))


def num(v):
    try:
        return float(v)
    except ValueError:
        return None


def cell_time(runs, cap):
    """(median seconds or None, text) of one cell; never found = inf."""
    times = [float(r["seconds"]) if r["planted_ok"] == "1" else
             float("inf") for r in runs]
    med = statistics.median(times)
    each = " ".join("%.1f" % t if t != float("inf") else "-" for t in times)
    found = sum(t != float("inf") for t in times)
    if found == 0:
        return None, "not found (%ds)" % cap
    if med == float("inf"):
        return None, "%d of %d runs (%s)" % (found, len(times), each)
    text = "%.1f" % med + (" (%s)" % each if len(times) > 1 else "")
    return med, text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tsv")
    ap.add_argument("--cost", required=True)
    ap.add_argument("--cap", type=int, required=True)
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--wall", type=int, required=True)
    ap.add_argument("--notes")
    ap.add_argument("--md", required=True)
    ap.add_argument("--png", required=True)
    a = ap.parse_args()
    rows = load(a.tsv)
    targets = list(dict.fromkeys(r["target"] for r in rows))
    configs = [c for c in CONFIG_ORDER if any(r["config"] == c for r in rows)]
    cells = {}
    for r in rows:
        cells.setdefault((r["target"], r["config"]), []).append(r)

    out = []
    out.append("# Fuzzing campaign: seconds to the first crash\n")
    out.append("Seconds from starting the fuzzer to its first crash, median "
               "of up to %d runs (each run in brackets; `-`: none within "
               "the cap), capped at %d s; a cell whose first run reached "
               "the cap was not repeated. Each cell then says what the "
               "configuration reported when its crash was replayed (a "
               "report's kind, or the signal); `!` marks a crash whose "
               "replay on the ASan build did not name the planted bug. "
               "Whole run: %d min %d s of wall time on a 2-core machine "
               "shared with other jobs, so times and rates are rough. "
               "Made by `examples/campaign/run.sh`.\n"
               % (a.runs, a.cap, a.wall // 60, a.wall % 60))
    if a.notes:
        with open(a.notes) as f:
            for line in f:
                if line.strip():
                    out.append("Note: %s\n" % line.strip())
    out.append("| target | " + " | ".join(configs) + " |")
    out.append("|---" * (len(configs) + 1) + "|")
    medians, found = {}, {}
    for t in targets:
        line = [t]
        for c in configs:
            runs = cells.get((t, c))
            if not runs:
                line.append("")
                continue
            med, text = cell_time(runs, a.cap)
            medians[(t, c)] = med
            found[(t, c)] = any(r["planted_ok"] == "1" for r in runs)
            kinds = sorted({r["kind"] for r in runs if r["found"] == "1"})
            if kinds:
                text += " " + "/".join(kinds)
            if any(r["found"] == "1" and r["planted_ok"] != "1"
                   for r in runs):
                text += " !"
            line.append(text)
        out.append("| " + " | ".join(line) + " |")
    out.append("")
    out.append("Planted bugs found in at least one run (of %d): " %
               len(targets) + ", ".join(
                   "%s %d" % (c, sum(found.get((t, c), False) for t in targets))
                   for c in configs) + ".\n")
    cost = load(a.cost)
    out.append("Cost per configuration. CPU time per input and peak RSS: one "
               "process of each target runs the same 4000 inputs (from the "
               "plain AFL++ run's queue) under each configuration, "
               "`perf stat -e task-clock` (process start included), "
               "median over the targets. exec/s: the campaign's own rate "
               "(AFL++ over the run, libFuzzer its last rate line), median "
               "over its runs; it moves with the machine's load.\n")
    out.append("| configuration | CPU us/input | peak RSS MiB | exec/s in the "
               "campaign |")
    out.append("|---|---|---|---|")
    cpu = {}
    for c in configs:
        e = [num(r["execs_per_sec"]) for r in rows if r["config"] == c]
        e = [x for x in e if x is not None]
        us = [num(r["cpu_us_per_input"]) for r in cost if r["config"] == c]
        mb = [num(r["peak_rss_mb"]) for r in cost if r["config"] == c]
        cpu[c] = statistics.median(us) if us else 0
        out.append("| %s | %s | %s | %s |" % (
            c, "%.1f" % cpu[c] if us else "-",
            "%.1f" % statistics.median(mb) if mb else "-",
            "%.0f" % statistics.median(e) if e else "-"))
    with open(a.md, "w") as f:
        f.write("\n".join(out) + "\n")
    print("\n".join(out))
    chart(a, targets, configs, medians, cpu)


def chart(a, targets, configs, medians, cpu):
    try:
        import matplotlib
    except ImportError:
        print("report.py: python3-matplotlib is missing; no PNG written",
              file=sys.stderr)
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(14, 5),
                                 gridspec_kw={"width_ratios": [3, 1]})
    width = 0.8 / len(configs)
    for i, c in enumerate(configs):
        xs = [j + i * width for j in range(len(targets))]
        ys = [medians.get((t, c)) or a.cap * 1.5 for t in targets]
        hatch = ["//" if medians.get((t, c)) is None else "" for t in targets]
        bars = ax.bar(xs, ys, width, color="C%d" % i)
        for b, h in zip(bars, hatch):
            if h:
                b.set_hatch(h)
                b.set_alpha(0.35)
    ax.axhline(a.cap, color="grey", linestyle=":", linewidth=1)
    ax.set_yscale("log")
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(targets))])
    ax.set_xticklabels(targets, rotation=20)
    ax.set_ylabel("seconds to first crash (median; hatched: not found)")
    # Plain patches: the first bar of a column may be hatched.
    from matplotlib.patches import Patch
    ax.legend(handles=[Patch(color="C%d" % i, label=c)
                       for i, c in enumerate(configs)], fontsize=8)
    ax.set_title("Time to find the planted bug (cap %d s)" % a.cap)
    bx.bar(configs, [cpu[c] for c in configs],
           color=["C%d" % i for i in range(len(configs))])
    bx.set_ylabel("CPU us per input (median over targets)")
    bx.set_title("Cost")
    bx.tick_params(axis="x", rotation=60)
    fig.tight_layout()
    fig.savefig(a.png, dpi=90)


if __name__ == "__main__":
    main()
