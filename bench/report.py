"""Turns bench/run.sh's raw CSV into the results table, verdict and plot.

Usage (run.sh calls it; rerun by hand to re-render an existing CSV):
  /usr/bin/python3 bench/report.py --csv results/D.csv --md results/D.md \
      --png results/D.png [--meta build/meta.txt] \
      [--workloads build/workloads.txt] [--allocators "a b ..."] [--logs DIR]

Every number in the Markdown, the verdict included, is computed here from
the CSV, so the text cannot drift from the data. Definitions:
  - median over rounds of wall time and of peak RSS (ru_maxrss);
  - ratio = allocator median / glibc median for the same workload;
  - spread "±x%" = half the min..max range of that cell's runs, as % of its
    median;
  - "faster"/"slower" in the verdict: over all (allocator run, glibc run)
    pairs of a workload, the allocator's run was the faster one in >= 85%
    of them (resp. <= 15%); otherwise "within noise". Rank-based, so one
    run disturbed by another job on the machine does not decide it;
  - geomean = geometric mean of the ratios over the workloads where both
    the allocator and glibc ran cleanly (the count is shown when some are
    missing);
  - a cell is FAIL if any of its runs crashed, exited non-zero, timed out,
    or printed output different from glibc's (the workloads print
    checksums; for real programs the whole stdout is hashed).
"""
import argparse
import collections
import csv
import math
import os
import statistics
import sys

REF = "glibc"
COLORS = {
    "segalloc": "#d62728",
    "segalloc-debug": "#ff9896",
    "jemalloc": "#1f77b4",
    "tcmalloc": "#2ca02c",
    "mimalloc": "#9467bd",
    "asan": "#7f7f7f",
}


class Cell:
    """All runs of one workload under one allocator."""

    def __init__(self):
        self.runs = []  # (status, wall, rss, hash, cpu)
        self.fail = None  # reason text if any run failed
        self.wall = self.rss = None  # medians over ok runs
        self.wall_spread = self.rss_spread = None  # half range / median
        self.cpu = self.cpu_spread = None  # user+sys seconds

    @property
    def ok(self):
        return self.fail is None and self.wall is not None


def half_spread(values):
    med = statistics.median(values)
    return (max(values) - min(values)) / 2 / med if med > 0 else 0.0


def geomean(xs):
    xs = [x for x in xs if x is not None and x > 0]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else None


def load_inputs(args):
    rows = list(csv.DictReader(open(args.csv)))
    workloads = []  # (name, kind) in run order
    if args.workloads and os.path.exists(args.workloads):
        for line in open(args.workloads):
            if line.strip():
                name, kind, _ = line.rstrip("\n").split("|", 2)
                workloads.append((name, kind))
    else:  # re-rendering from a CSV alone: order of appearance, kind unknown
        seen = []
        for r in rows:
            if r["workload"] not in seen:
                seen.append(r["workload"])
        workloads = [(w, "?") for w in seen]
    if args.allocators:
        allocs = args.allocators.split()
    else:
        allocs = []
        for r in rows:
            if r["allocator"] not in allocs:
                allocs.append(r["allocator"])
    meta = []
    if args.meta and os.path.exists(args.meta):
        meta = [l.rstrip("\n") for l in open(args.meta) if l.strip()]
    return rows, workloads, allocs, meta


def build_cells(rows, workloads, allocs):
    cells = collections.defaultdict(Cell)
    for r in rows:
        wall = float(r["wall_s"]) if r["wall_s"] else None
        rss = float(r["maxrss_kib"]) if r["maxrss_kib"] else None
        cpu = float(r["user_s"]) + float(r["sys_s"]) if r["user_s"] else None
        cells[r["workload"], r["allocator"]].runs.append(
            (r["status"], wall, rss, r["out_hash"], cpu)
        )
    for w, _ in workloads:
        # Reference output: glibc's (the most common, should glibc itself
        # be flaky); without glibc, the majority over all clean runs.
        ok_hashes = [h for s, _, _, h, _ in cells[w, REF].runs if s == "ok"]
        if not ok_hashes:
            ok_hashes = [
                h
                for a in allocs
                for s, _, _, h, _ in cells[w, a].runs
                if s == "ok"
            ]
        ref = collections.Counter(ok_hashes).most_common(1)
        ref = ref[0][0] if ref else None
        for a in allocs:
            c = cells[w, a]
            if not c.runs:
                continue
            bad = []
            for s, _, _, h, _ in c.runs:
                if s == "timeout-skipped":  # timed out in an earlier round
                    bad.append("timeout, later rounds skipped")
                elif s == "timeout":
                    bad.append("timeout, later rounds skipped"
                               if len(c.runs) > 1 else "timeout")
                elif s != "ok":
                    bad.append(s)
                elif h != ref:
                    bad.append("wrong output")
            if bad:
                reason, _ = collections.Counter(bad).most_common(1)[0]
                c.fail = "%s (%d/%d runs)" % (reason, len(bad), len(c.runs))
                continue
            walls = [x[1] for x in c.runs]
            rsss = [x[2] for x in c.runs]
            c.wall, c.rss = statistics.median(walls), statistics.median(rsss)
            c.wall_spread, c.rss_spread = half_spread(walls), half_spread(rsss)
            cpus = [x[4] for x in c.runs]
            c.cpu, c.cpu_spread = statistics.median(cpus), half_spread(cpus)
    return cells


def ratio(cells, w, a, metric):
    """(ratio to glibc, spread of a, spread of glibc) or None."""
    c, g = cells.get((w, a)), cells.get((w, REF))
    if c is None or g is None or not c.ok or not g.ok:
        return None
    if metric == "wall":
        return c.wall / g.wall, c.wall_spread, g.wall_spread
    if metric == "cpu":
        if not g.cpu:
            return None
        return c.cpu / g.cpu, c.cpu_spread, g.cpu_spread
    return c.rss / g.rss, c.rss_spread, g.rss_spread


METRIC_INDEX = {"wall": 1, "rss": 2, "cpu": 4}


def p_lower(cells, w, a, metric):
    """Fraction of (a run, glibc run) pairs in which a's value is lower
    (ties count half): a rank statistic, robust to a single outlier."""
    i = METRIC_INDEX[metric]
    xs = [r[i] for r in cells[w, a].runs]
    ys = [r[i] for r in cells[w, REF].runs]
    wins = sum(1.0 if x < y else 0.5 if x == y else 0.0 for x in xs for y in ys)
    return wins / (len(xs) * len(ys))


def fmt_pct(x):
    return "%.0f%%" % (100 * x) if x >= 0.005 else "<1%"


def table(cells, workloads, allocs, metric):
    others = [a for a in allocs if a != REF]
    unit = "MiB" if metric == "rss" else "s"
    head = ["workload", "glibc (%s)" % unit] + others
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for w, kind in workloads:
        g = cells.get((w, REF))
        if g is None or not g.runs:
            gtxt = "—"
        elif not g.ok:
            gtxt = "FAIL: " + g.fail
        elif metric == "wall":
            gtxt = "%.3f ±%s" % (g.wall, fmt_pct(g.wall_spread))
        elif metric == "cpu":
            gtxt = "%.3f ±%s" % (g.cpu, fmt_pct(g.cpu_spread))
        else:
            gtxt = "%.1f ±%s" % (g.rss / 1024, fmt_pct(g.rss_spread))
        row = [w, gtxt]
        for a in others:
            c = cells.get((w, a))
            if a == "asan" and kind == "real":
                row.append("n/a")
            elif c is None or not c.runs:
                row.append("—")
            elif not c.ok:
                row.append("**FAIL**: " + c.fail)
            else:
                r = ratio(cells, w, a, metric)
                row.append("%.2f ±%s" % (r[0], fmt_pct(r[1])) if r else "?")
        out.append("| " + " | ".join(row) + " |")
    row = ["**geomean**", ""]
    n_all = len(workloads)
    for a in others:
        rs = [ratio(cells, w, a, metric) for w, _ in workloads]
        rs = [r[0] for r in rs if r]
        gm = geomean(rs)
        applicable = n_all
        if a == "asan":
            applicable = sum(1 for _, k in workloads if k != "real")
        txt = "**%.2f**" % gm if gm else "—"
        if gm and len(rs) < applicable:
            txt += " (%d of %d)" % (len(rs), applicable)
        elif gm and a == "asan":
            txt += " (C only)"
        row.append(txt)
    out.append("| " + " | ".join(row) + " |")
    return "\n".join(out)


def common_geomeans(cells, workloads, a, b, metric, only_c=False):
    """Geomeans of a's and b's ratios over workloads where both are clean."""
    ra, rb, names = [], [], []
    for w, kind in workloads:
        if only_c and kind == "real":
            continue
        x, y = ratio(cells, w, a, metric), ratio(cells, w, b, metric)
        if x and y:
            ra.append(x[0])
            rb.append(y[0])
            names.append(w)
    return geomean(ra), geomean(rb), names


def rel(x, what_lower="faster", what_higher="slower"):
    """'12% faster' style text for a ratio x = a / b."""
    if abs(x - 1) < 0.005:
        return "the same as"
    if x < 1:
        return "%.0f%% %s than" % (100 * (1 - x), what_lower)
    return "%.0f%% %s than" % (100 * (x - 1), what_higher)


def judge(cells, w, a, metric):
    """'lower' / 'higher' than glibc when a's runs won / lost at least 85%
    of the (a run, glibc run) pairs and the medians differ by 2% or more;
    'noise' otherwise."""
    r = ratio(cells, w, a, metric)
    if not r or abs(r[0] - 1) < 0.02:
        return "noise"
    p = p_lower(cells, w, a, metric)
    return "lower" if p >= 0.85 else "higher" if p <= 0.15 else "noise"


def targets(cells, workloads, allocs):
    """The issue's targets, each MET / MISSED / not measurable, computed."""
    have = set(allocs)
    out = []

    def verdict_word(ok):
        return "**MET**" if ok else "**MISSED**"

    def gm_pair(a, b, metric, only_c=False):
        if a not in have or b not in have:
            return None, None, []
        return common_geomeans(cells, workloads, a, b, metric, only_c)

    s, m, names = gm_pair("segalloc", "mimalloc", "wall")
    if s and m:
        out.append("- Production time geomean ≤ mimalloc's: %s (%.2f vs %.2f of "
                   "glibc, %d workloads)" % (verdict_word(s <= m), s, m, len(names)))
    else:
        out.append("- Production time geomean ≤ mimalloc's: not measured")
    s, m, names = gm_pair("segalloc", "mimalloc", "rss")
    if s and m:
        out.append("- Production peak RSS geomean ≤ 1.1× mimalloc's: %s (%.2f vs "
                   "%.2f of glibc = %.2f×)" % (verdict_word(s <= 1.1 * m), s, m,
                                               s / m))
    else:
        out.append("- Production peak RSS ≤ 1.1× mimalloc's: not measured")
    if "segalloc" in have:
        # Wall time is the target; CPU time is checked too because on a
        # shared machine wall-time spreads can hide a real loss.
        slower, unsure, failed = [], [], []
        for w, _ in workloads:
            c = cells.get((w, "segalloc"))
            if c is None or not c.runs:
                continue
            if not c.ok:
                failed.append(w)
                continue
            for metric, label in (("wall", "time"), ("cpu", "CPU")):
                r = ratio(cells, w, "segalloc", metric)
                if not r:
                    continue
                cell = "%s %s %.2f×" % (w, label, r[0])
                if judge(cells, w, "segalloc", metric) == "higher":
                    slower.append(cell)
                elif r[0] >= 1.02:
                    unsure.append(cell)
        word = ("**MISSED**" if slower or failed else
                "**NOT SHOWN** (medians above glibc, within noise)" if unsure
                else "**MET**")
        txt = "- Production never slower than glibc (time, and CPU time): " + word
        if slower:
            txt += "; slower in >= 85% of run pairs: " + ", ".join(slower)
        if failed:
            txt += "; FAIL on " + ", ".join(failed)
        if unsure:
            txt += "; median above glibc but within noise: " + ", ".join(unsure)
        out.append(txt)
    d, p, names = gm_pair("segalloc-debug", "segalloc", "wall")
    if d and p:
        out.append("- Debug time ≤ 3× production: %s (%.2f×, geomean over %d "
                   "workloads)" % (verdict_word(d / p <= 3), d / p, len(names)))
    else:
        out.append("- Debug time ≤ 3× production: not measured (segalloc-debug "
                   "or segalloc missing)")
    d, a, names = gm_pair("segalloc-debug", "asan", "wall", only_c=True)
    if d and a:
        out.append("- Debug faster than ASan (C workloads): %s (%.2f× vs %.2f× "
                   "glibc, %d workloads)" % (verdict_word(d < a), d, a, len(names)))
    else:
        out.append("- Debug faster than ASan: not measured (segalloc-debug or "
                   "asan missing)")
    return "\n".join(out)


def pair_lines(cells, workloads, have, missing, a, b, rows, only_c=False):
    """Verdict lines comparing a with b: for each (metric, text) in rows,
    text(geomean of a, geomean of b, number of workloads) over the
    workloads where both ran cleanly."""
    if a not in have or b not in have:
        return ["- %s vs %s: %s" % (a, b, missing(a if a not in have else b))]
    out = []
    for metric, text in rows:
        x, y, names = common_geomeans(cells, workloads, a, b, metric, only_c)
        if x and y:
            out.append(text(x, y, len(names)))
        else:
            out.append("- %s vs %s, %s: no common clean workload." % (a, b, metric))
    return out


def verdict(cells, workloads, allocs, skipped, load=None, nproc=None):
    out = []
    have = set(allocs)

    def missing(a):
        return "%s was not measured%s." % (
            a,
            ": " + skipped[a] if a in skipped else "",
        )

    # Ranking by time geomean, for the whole picture.
    gms = []
    for a in allocs:
        if a in (REF, "asan"):
            continue
        rs = [ratio(cells, w, a, "wall") for w, _ in workloads]
        rs = [r[0] for r in rs if r]
        if rs:
            gms.append((geomean(rs), a, len(rs)))
    if gms:
        gms.sort()
        out.append(
            "- **Time geomean vs glibc** (lower is better): "
            + ", ".join("%s %.2f" % (a, g) for g, a, _ in gms)
            + " (asan excluded: it runs the C workloads only)."
        )

    # segalloc vs mimalloc, the allocator to beat.
    out += pair_lines(cells, workloads, have, missing, "segalloc", "mimalloc", (
        ("wall", lambda s, m, n: "- **segalloc vs mimalloc, time**: geomean %.2f "
         "vs %.2f of glibc over %d common workloads: segalloc is %s mimalloc."
         % (s, m, n, rel(s / m, "faster", "slower"))),
        ("rss", lambda s, m, n: "- **segalloc vs mimalloc, peak RSS**: geomean "
         "%.2f vs %.2f of glibc over %d common workloads: segalloc is %s "
         "mimalloc." % (s, m, n, rel(s / m, "smaller", "larger"))),
    ))

    # segalloc vs glibc, per workload.
    if "segalloc" in have:
        lines = []
        for w, _ in workloads:
            c = cells.get((w, "segalloc"))
            if c is not None and c.runs and not c.ok:
                lines.append("  - %s: **FAIL** (%s)" % (w, c.fail))
                continue
            parts = []
            for metric, lo, hi in (("wall", "faster", "slower"),
                                   ("rss", "less memory", "more memory")):
                r = ratio(cells, w, "segalloc", metric)
                if not r:
                    parts.append("no glibc baseline")
                    break
                x = r[0]
                word = {"lower": lo, "higher": hi}.get(
                    judge(cells, w, "segalloc", metric), "within noise")
                if abs(x - 1) < 0.02:
                    word = "same within 2%"
                parts.append("%s %.2f× (%s)" % ("time" if metric == "wall"
                                                else "RSS", x, word))
            lines.append("  - %s: %s" % (w, ", ".join(parts)))
        faster = sum(1 for l in lines if "(faster)" in l)
        slower = sum(1 for l in lines if "(slower)" in l)
        fails = sum(1 for l in lines if "FAIL" in l)
        out.append("- **segalloc vs glibc, per workload**: faster on %d, slower on "
                   "%d, FAIL on %d of %d (faster/slower: in >= 85%% of run pairs):"
                   % (faster, slower, fails, len(lines)))
        out += lines
    else:
        out.append("- segalloc vs glibc: " + missing("segalloc"))

    # Debug build: against production, and against ASan on the C workloads.
    out += pair_lines(cells, workloads, have, missing, "segalloc-debug",
                      "segalloc", (
        ("wall", lambda d, p, n: "- **segalloc-debug vs segalloc, time**: "
         "debug/production = %.2f× (geomean over %d workloads)." % (d / p, n)),
        ("rss", lambda d, p, n: "- **segalloc-debug vs segalloc, peak RSS**: "
         "debug/production = %.2f× (geomean over %d workloads)." % (d / p, n)),
    ))
    out += pair_lines(cells, workloads, have, missing, "segalloc-debug", "asan", (
        ("wall", lambda d, s, n: "- **segalloc-debug vs ASan, time** (C "
         "workloads): %.2f× vs %.2f× glibc over %d workloads: the debug build "
         "is %s ASan." % (d, s, n, rel(d / s, "cheaper", "costlier"))),
        ("rss", lambda d, s, n: "- **segalloc-debug vs ASan, peak RSS** (C "
         "workloads): %.2f× vs %.2f× glibc over %d workloads: the debug build "
         "is %s ASan." % (d, s, n, rel(d / s, "smaller", "larger"))),
    ), only_c=True)

    # Noisy cells make every comparison above weaker: say so.
    clean = [(c.wall_spread, w, a) for (w, a), c in cells.items() if c.ok]
    noisy = sorted((x for x in clean if x[0] > 0.10), reverse=True)
    if noisy:
        out.append(
            "- Noise: %d of %d cells have a time spread above ±10%%; the "
            "noisiest: %s. Ratios in those cells are rough."
            % (len(noisy), len(clean), ", ".join(
                "%s/%s ±%s" % (w, a, fmt_pct(x)) for x, w, a in noisy[:5])))
    if load is not None and nproc and load > 0.5 * nproc:
        out.append(
            "- The machine was busy (1-minute load average up to %.2f on %d "
            "CPUs, at start or end): other jobs shared it, so expect extra "
            "noise, worst on the %d-thread workloads." % (load, nproc, nproc))
    return "\n".join(out)


def failures(cells, allocs, logs):
    out = []
    for (w, a), c in sorted(cells.items()):
        if c.runs and not c.ok and a in allocs:
            line = "- %s under %s: %s" % (w, a, c.fail)
            if logs:
                line += " — stderr in `%s/%s.%s.r*.err`" % (logs, w, a)
            out.append(line)
    return "\n".join(out) if out else "None."


def plot(cells, workloads, allocs, path, title):
    """Writes the bar chart; returns False (and says why) without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        print("report.py: python3-matplotlib is missing; no PNG written",
              file=sys.stderr)
        return False

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    others = [a for a in allocs if a != REF]
    names = [w for w, _ in workloads] + ["geomean"]
    fig, axes = plt.subplots(2, 1, figsize=(17, 10), sharex=True)
    width = 0.8 / max(1, len(others))
    for ax, metric, label in ((axes[0], "wall", "wall time"),
                              (axes[1], "rss", "peak RSS")):
        ax.set_yscale("log")
        ax.axhline(1.0, color="black", linewidth=1)
        lows, highs = [], []
        for i, a in enumerate(others):
            xs, ys, err_lo, err_hi = [], [], [], []
            for j, (w, kind) in enumerate(workloads):
                x = j - 0.4 + width * (i + 0.5)
                c, g = cells.get((w, a)), cells.get((w, REF))
                if a == "asan" and kind == "real":
                    ax.text(x, 1.0, "n/a", color="gray", rotation=90,
                            ha="center", va="bottom", fontsize=7)
                    continue
                if c is None or not c.runs:
                    continue
                if not c.ok or g is None or not g.ok:
                    ax.text(x, 1.0, "FAIL" if not c.ok else "?", color="red",
                            rotation=90, ha="center", va="bottom", fontsize=8,
                            fontweight="bold")
                    continue
                base = g.wall if metric == "wall" else g.rss
                vals = [r[1] if metric == "wall" else r[2] for r in c.runs]
                med = statistics.median(vals) / base
                xs.append(x)
                ys.append(med)
                err_lo.append(med - min(vals) / base)
                err_hi.append(max(vals) / base - med)
            rs = [ratio(cells, w, a, metric) for w, _ in workloads]
            gm = geomean([r[0] for r in rs if r])
            if gm:
                xs.append(len(workloads) - 0.4 + width * (i + 0.5))
                ys.append(gm)
                err_lo.append(0)
                err_hi.append(0)
                ax.text(xs[-1], gm * 1.04, "%.2f" % gm, ha="center",
                        va="bottom", fontsize=7, rotation=90)
            if xs:
                ax.bar(xs, ys, width, yerr=[err_lo, err_hi], capsize=1.5,
                       color=COLORS.get(a, None), label=a, error_kw={"lw": 0.8})
                lows.append(min(y - e for y, e in zip(ys, err_lo)))
                highs.append(max(y + e for y, e in zip(ys, err_hi)))
        if lows:
            ax.set_ylim(min(0.5, min(lows) * 0.8), max(2.0, max(highs) * 1.25))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_yticks([t for t in (0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 50,
                                 100, 200, 500, 1000)
                       if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]])
        ax.set_ylabel("%s / glibc (log; lower is better)" % label)
        ax.grid(axis="y", which="major", alpha=0.3)
        ax.axvline(len(workloads) - 0.5, color="gray", linestyle=":")
    axes[0].legend(ncol=len(others), loc="upper left", fontsize=9)
    axes[0].set_title(title)
    axes[1].set_xticks(range(len(names)))
    axes[1].set_xticklabels(names, rotation=30, ha="right")
    fig.text(0.01, 0.01, "bars: median of rounds; whiskers: min-max of runs; "
             "FAIL: crash, non-zero exit, timeout or wrong output; "
             "asan: C workloads only", fontsize=8)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    fig.savefig(path, dpi=100)
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--csv", required=True)
    p.add_argument("--md", required=True)
    p.add_argument("--png")
    p.add_argument("--meta")
    p.add_argument("--workloads")
    p.add_argument("--allocators")
    p.add_argument("--logs")
    args = p.parse_args()

    rows, workloads, allocs, meta = load_inputs(args)
    if REF not in allocs:
        print("report.py: no glibc runs; ratios need the glibc baseline",
              file=sys.stderr)
    cells = build_cells(rows, workloads, allocs)
    skipped = {}
    for m in meta:
        if m.startswith("skipped: "):
            a, _, why = m[len("skipped: "):].partition(": ")
            skipped[a] = why
    rounds = max((int(r["round"]) for r in rows), default=0)
    load = nproc = None
    for m in meta:
        if m.startswith("load average at "):  # the higher of start and end
            load = max(load or 0.0, float(m.split(": ")[1].split()[0]))
        if m.startswith("cpu: ") and "nproc " in m:
            nproc = int(m.rsplit("nproc ", 1)[1])
    stem = os.path.splitext(os.path.basename(args.md))[0]

    md = ["# segalloc benchmark: %s" % stem, ""]
    md += ["- " + m for m in meta if not m.startswith("skipped: ")]
    for a, why in skipped.items():
        md.append("- **skipped allocator %s**: %s" % (a, why))
    md += [
        "",
        "Ratios are allocator / glibc, medians of %d interleaved rounds; "
        "**lower is better** for both time and memory. `±x%%` is half the "
        "min–max range of that cell's runs as a percentage of its median. "
        "The glibc column gives absolute medians. **FAIL** means a crash, "
        "non-zero exit, timeout or output different from glibc's in at least "
        "one run. `n/a`: ASan only applies to the C workloads. "
        "Raw runs: `%s`." % (rounds, os.path.basename(args.csv)),
        "",
        "## Wall time (ratio to glibc)",
        "",
        table(cells, workloads, allocs, "wall"),
        "",
        "## Peak RSS (ratio to glibc)",
        "",
        table(cells, workloads, allocs, "rss"),
        "",
        "## CPU time, user+sys (ratio to glibc)",
        "",
        "Less disturbed than wall time when other jobs share the machine, "
        "but it counts spinning and page-fault work as cost too.",
        "",
        table(cells, workloads, allocs, "cpu"),
        "",
        "## Targets (computed)",
        "",
        targets(cells, workloads, allocs),
        "",
        "## Verdict (computed)",
        "",
        verdict(cells, workloads, allocs, skipped, load, nproc),
        "",
        "## Failures",
        "",
        failures(cells, allocs, args.logs),
        "",
    ]
    if args.png:
        title = "segalloc benchmark %s: ratio to glibc (%d rounds)" % (stem, rounds)
        if plot(cells, workloads, allocs, args.png, title):
            md.insert(2, "![ratios to glibc](%s)\n" % os.path.basename(args.png))
    with open(args.md, "w") as f:
        f.write("\n".join(md))


if __name__ == "__main__":
    main()
