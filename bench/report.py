"""Turns bench/run.sh's raw CSV into the results tables, verdicts and plot.

Usage (run.sh calls it; rerun by hand to re-render an existing CSV):
  /usr/bin/python3 bench/report.py --csv results/D.csv --md results/D.md \
      --png results/D.png [--meta build/meta.txt] \
      [--workloads build/workloads.txt] [--allocators "a b ..."] [--logs DIR]

Every number in the Markdown, verdicts included, is computed here from the
CSV, so the text cannot drift from the data. Definitions:
  - each cell (workload, allocator) has one run per round; its value is the
    median over those runs, for four metrics: wall time, CPU time
    (user+sys), minor page faults, peak RSS (ru_maxrss);
  - ratio = allocator median / reference median (glibc, or the best peer:
    the one of glibc, jemalloc, tcmalloc, mimalloc with the lowest median
    on that workload and metric);
  - its 95% interval is a percentile bootstrap of the ratio of medians:
    both cells' runs are resampled with replacement (B = 4000, fixed seed),
    the ratio of the resampled medians taken each time, and the 2.5th and
    97.5th percentiles reported;
  - a geometric mean over workloads gets its interval the same way, from
    the geometric mean of the resampled ratios (same resamples);
  - verdict "faster"/"slower" (or "less"/"more" for faults and memory)
    only when the interval excludes 1; otherwise "no difference shown";
  - a cell is FAIL if any of its runs crashed, exited non-zero, timed out,
    or printed output different from glibc's (the workloads print
    checksums; for real programs the whole stdout is hashed).
"""
import argparse
import collections
import csv
import math
import os
import sys

import numpy as np

REF = "glibc"
PEERS = ("glibc", "jemalloc", "tcmalloc", "mimalloc")
B = 4000  # bootstrap resamples
MIN_RUNS = 3  # fewer runs in a cell: ratio shown, no interval, no verdict
SEED = 20261130
COLORS = {
    "segalloc": "#d62728",
    "segalloc-debug": "#ff9896",
    "segalloc-guard-off": "#c49c94",
    "segalloc-guard-sample": "#e377c2",
    "segalloc-guard-all": "#8c564b",
    "jemalloc": "#1f77b4",
    "tcmalloc": "#2ca02c",
    "mimalloc": "#9467bd",
    "asan": "#7f7f7f",
    "duma": "#bcbd22",
    "electric-fence": "#17becf",
}
# metric: (column index in Cell.runs, table title, unit, lower/higher words)
METRICS = {
    "wall": (1, "Wall time", "s", ("faster", "slower")),
    "cpu": (2, "CPU time, user+sys", "s", ("faster", "slower")),
    "flt": (3, "Minor page faults", "k", ("fewer", "more")),
    "rss": (4, "Peak RSS", "MiB", ("less", "more")),
}


class Cell:
    """All runs of one workload under one allocator."""

    def __init__(self):
        self.runs = []  # (status, wall, cpu, minflt, rss, hash)
        self.fail = None  # reason text if any run failed
        self.killed_at = None  # wall time of the first run killed by timeout

    @property
    def ok(self):
        return self.fail is None and bool(self.runs)

    def values(self, metric):
        i = METRICS[metric][0]
        v = [r[i] for r in self.runs]
        return None if any(x is None for x in v) else np.array(v, float)

    def median(self, metric):
        v = self.values(metric)
        return float(np.median(v)) if v is not None else None


def geomean(xs):
    xs = [x for x in xs if x is not None and x > 0]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else None


def num(s):
    return float(s) if s not in (None, "") else None


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
    allocs = args.allocators.split() if args.allocators else []
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
        user, sys_ = num(r["user_s"]), num(r["sys_s"])
        cpu = user + sys_ if user is not None and sys_ is not None else None
        flt = num(r.get("minflt"))  # absent in CSVs before 2026-11-30
        cells[r["workload"], r["allocator"]].runs.append(
            (r["status"], num(r["wall_s"]), cpu, flt, num(r["maxrss_kib"]),
             r["out_hash"]))
    for w, _ in workloads:
        # Reference output: glibc's (the most common, should glibc itself
        # be flaky); without glibc, the majority over all clean runs.
        ok_hashes = [x[5] for x in cells[w, REF].runs if x[0] == "ok"]
        if not ok_hashes:
            ok_hashes = [x[5] for a in allocs for x in cells[w, a].runs
                         if x[0] == "ok"]
        ref = collections.Counter(ok_hashes).most_common(1)
        ref = ref[0][0] if ref else None
        for a in allocs:
            c = cells[w, a]
            bad = []
            for x in c.runs:
                s = x[0]
                if s == "timeout" and c.killed_at is None:
                    c.killed_at = x[1]
                if s in ("timeout", "timeout-skipped"):
                    bad.append("timeout" + (", later rounds skipped"
                                            if len(c.runs) > 1 else ""))
                elif s != "ok":
                    bad.append(s)
                elif x[5] != ref:
                    bad.append("wrong output")
            if bad:
                reason, _ = collections.Counter(bad).most_common(1)[0]
                c.fail = "%s (%d/%d runs)" % (reason, len(bad), len(c.runs))
    return cells


class Stats:
    """Bootstrap resamples of every clean cell's median, drawn once, so
    that a ratio and the geometric means that contain it agree."""

    def __init__(self, cells):
        self.cells = cells
        self.rng = np.random.default_rng(SEED)
        self.boot = {}

    def medians(self, w, a, metric):
        key = (w, a, metric)
        if key not in self.boot:
            c = self.cells.get((w, a))
            v = c.values(metric) if c is not None and c.ok else None
            if v is None or len(v) == 0:
                self.boot[key] = None
            else:
                idx = self.rng.integers(0, len(v), size=(B, len(v)))
                self.boot[key] = np.median(v[idx], axis=1)
        return self.boot[key]

    def best_peer(self, w, a, metric):
        """The peer (other than a) with the lowest median, or None."""
        best = None
        for p in PEERS:
            c = self.cells.get((w, p))
            if p == a or c is None or not c.ok:
                continue
            m = c.median(metric)
            if m is not None and (best is None or m < best[0]):
                best = (m, p)
        return best[1] if best else None

    def log_ratios(self, w, a, b, metric):
        """(point log ratio, B resampled log ratios) of a over b, or None."""
        x, y = self.medians(w, a, metric), self.medians(w, b, metric)
        if x is None or y is None:
            return None
        ma = self.cells[w, a].median(metric)
        mb = self.cells[w, b].median(metric)
        if ma <= 0 or mb <= 0:
            return None
        # A resampled median of 0 (no faults at all) would give log(0):
        # clamp to the smallest positive value seen.
        x = np.maximum(x, min(ma, mb) * 1e-3)
        y = np.maximum(y, min(ma, mb) * 1e-3)
        return math.log(ma / mb), np.log(x / y)

    def ratio(self, w, a, b, metric):
        """(ratio, lo, hi) of a's median over b's, or None; (ratio, 0, inf)
        when a cell has fewer than MIN_RUNS runs."""
        lr = self.log_ratios(w, a, b, metric)
        if lr is None:
            return None
        if min(len(self.cells[w, x].runs) for x in (a, b)) < MIN_RUNS:
            return math.exp(lr[0]), 0.0, math.inf
        lo, hi = np.percentile(lr[1], [2.5, 97.5])
        return math.exp(lr[0]), math.exp(lo), math.exp(hi)

    def geomean(self, pairs, metric):
        """(geomean, lo, hi, n) over pairs [(w, a, b)] where both are clean."""
        lrs, runs = [], []
        for w, a, b in pairs:
            lr = self.log_ratios(w, a, b, metric)
            if lr is not None:
                lrs.append(lr)
                runs += [len(self.cells[w, a].runs), len(self.cells[w, b].runs)]
        if not lrs:
            return None
        point = math.exp(sum(x[0] for x in lrs) / len(lrs))
        if min(runs) < MIN_RUNS:
            return point, 0.0, math.inf, len(lrs)
        boot = np.mean([x[1] for x in lrs], axis=0)
        lo, hi = np.percentile(boot, [2.5, 97.5])
        return point, math.exp(lo), math.exp(hi), len(lrs)


def shown(r):
    """-1 if the interval lies below 1, +1 if above, 0 if it contains 1."""
    return -1 if r[2] < 1 else 1 if r[1] > 1 else 0


def verdict_word(r, metric):
    lo, hi = METRICS[metric][3]
    return {-1: lo, 1: hi, 0: "no difference shown"}[shown(r)]


def fmt_ci(r, digits=2):
    f = "%%.%df" % digits
    if math.isinf(r[2]):
        return (f + " [< %d runs]") % (r[0], MIN_RUNS)
    txt = (f + " [" + f + "–" + f + "]") % r[:3]
    return "**%s**" % txt if shown(r) else txt


def fmt_abs(c, metric):
    m = c.median(metric)
    if m is None:
        return "—"
    if metric == "rss":
        return "%.1f" % (m / 1024)
    if metric == "flt":
        return "%.1f" % (m / 1000)
    return "%.3f" % m


def fail_text(cells, w, c, metric="wall"):
    """FAIL cell text; in the time table a timeout also says how much
    slower than glibc the run was at least, when it was killed."""
    txt = "**FAIL**: " + c.fail
    g = cells.get((w, REF))
    if metric == "wall" and c.killed_at and g is not None and g.ok:
        txt += " (> %.0f× glibc)" % (c.killed_at / g.median("wall"))
    return txt


def applies(a, kind):
    return not (a == "asan" and kind == "real")


def table(st, workloads, allocs, metric):
    cells = st.cells
    others = [a for a in allocs if a != REF]
    head = ["workload", "glibc (%s)" % METRICS[metric][2]] + others
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for w, kind in workloads:
        g = cells.get((w, REF))
        if g is None or not g.runs:
            gtxt = "—"
        elif not g.ok:
            gtxt = "FAIL: " + g.fail
        else:
            gtxt = fmt_abs(g, metric)
        row = [w, gtxt]
        for a in others:
            c = cells.get((w, a))
            if not applies(a, kind):
                row.append("n/a")
            elif c is None or not c.runs:
                row.append("—")
            elif not c.ok:
                row.append(fail_text(cells, w, c, metric))
            else:
                r = st.ratio(w, a, REF, metric)
                row.append(fmt_ci(r) if r else "?")
        out.append("| " + " | ".join(row) + " |")
    row = ["**geomean**", ""]
    for a in others:
        gm = st.geomean([(w, a, REF) for w, _ in workloads], metric)
        applicable = sum(1 for _, k in workloads if applies(a, k))
        if gm is None:
            row.append("—")
            continue
        txt = fmt_ci(gm)
        if gm[3] < applicable:
            txt += " (%d of %d)" % (gm[3], applicable)
        row.append(txt)
    out.append("| " + " | ".join(row) + " |")
    return "\n".join(out)


def geomean_table(st, workloads, allocs):
    """Every allocator's geomeans against glibc, and segalloc's against each
    peer and against the best peer of each workload."""
    metrics = list(METRICS)
    head = ["comparison"] + [METRICS[m][1] for m in metrics]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def row(label, pairs_of):
        cells_txt = []
        for m in metrics:
            gm = st.geomean(pairs_of(m), m)
            cells_txt.append("%s (%d)" % (fmt_ci(gm), gm[3]) if gm else "—")
        out.append("| " + " | ".join([label] + cells_txt) + " |")

    for a in allocs:
        if a == REF:
            continue
        row("%s / glibc" % a,
            lambda m, a=a: [(w, a, REF) for w, _ in workloads])
    for a in ("segalloc", "segalloc-debug"):
        if a not in allocs:
            continue
        for p in PEERS[1:]:
            if p in allocs:
                row("%s / %s" % (a, p),
                    lambda m, a=a, p=p: [(w, a, p) for w, _ in workloads])
        row("%s / best peer of each workload" % a,
            lambda m, a=a: [(w, a, st.best_peer(w, a, m)) for w, _ in workloads
                            if st.best_peer(w, a, m)])
    if "segalloc-debug" in allocs:
        for b in ("segalloc", "asan"):
            if b in allocs:
                row("segalloc-debug / %s" % b,
                    lambda m, b=b: [(w, "segalloc-debug", b)
                                    for w, k in workloads if applies(b, k)])
        for a in ("segalloc-guard-off", "segalloc-guard-sample",
                  "segalloc-guard-all"):
            if a in allocs:
                row("%s / segalloc-debug" % a,
                    lambda m, a=a: [(w, a, "segalloc-debug")
                                    for w, _ in workloads])
    if "segalloc-guard-off" in allocs:
        for a in ("segalloc-guard-sample", "segalloc-guard-all"):
            if a in allocs:
                row("%s / segalloc-guard-off" % a,
                    lambda m, a=a: [(w, a, "segalloc-guard-off")
                                    for w, _ in workloads])
    return "\n".join(out)


def per_workload(st, workloads, allocs, a):
    """a against glibc and against each workload's best peer: ratio,
    interval and verdict for time, CPU time, faults and RSS."""
    cells = st.cells
    head = ["workload", "time / glibc", "CPU / glibc", "faults / glibc",
            "RSS / glibc", "best peer (time)", "time / best peer",
            "CPU / best peer"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    count = collections.Counter()
    for w, kind in workloads:
        c = cells.get((w, a))
        if c is None or not c.runs or not applies(a, kind):
            continue
        if not c.ok:
            out.append("| %s | %s |%s" % (w, fail_text(cells, w, c), " |" * 6))
            count["fail"] += 1
            continue
        row = [w]
        for m in ("wall", "cpu", "flt", "rss"):
            r = st.ratio(w, a, REF, m)
            row.append("%s %s" % (fmt_ci(r), verdict_word(r, m)) if r else "—")
            if r and m == "wall":
                count[verdict_word(r, m)] += 1
        best = st.best_peer(w, a, "wall")
        row.append(best or "—")
        for m in ("wall", "cpu"):
            bp = st.best_peer(w, a, m)
            r = st.ratio(w, a, bp, m) if bp else None
            row.append("%s %s%s" % (fmt_ci(r), verdict_word(r, m),
                                     "" if bp == best else " (vs %s)" % bp)
                       if r else "—")
        out.append("| " + " | ".join(row) + " |")
    summary = ("%s against glibc, wall time: faster on %d, slower on %d, no "
               "difference shown on %d, FAIL on %d workloads." % (
                   a, count["faster"], count["slower"],
                   count["no difference shown"], count["fail"]))
    return summary + "\n\n" + "\n".join(out)


def targets(st, workloads, allocs):
    """Issue 10's and 9's measurable goals: MET, MISSED (shown by an
    interval) or NOT SHOWN (the interval allows both)."""
    have = set(allocs)
    out = []

    def gate(rs, limit, strict=False):
        """rs: [(name, (ratio, lo, hi))]; goal ratio <= limit. MISSED when
        an interval lies above the limit; NOT SHOWN when a median does (or,
        strict, when an interval reaches above it)."""
        missed = [n for n, r in rs if r[1] > limit]
        unsure = [n for n, r in rs if r[1] <= limit < (r[2] if strict else r[0])]
        word = ("**MISSED**" if missed else
                "**NOT SHOWN**" if unsure else "**MET**")
        txt = word
        if missed:
            txt += "; shown above %.2f× on: %s" % (limit, ", ".join(missed))
        if unsure:
            txt += "; %s but interval includes %.2f× on: %s" % (
                "not shown below" if strict else "median above", limit,
                ", ".join(unsure))
        return txt

    if "segalloc" in have:
        for m, label in (("wall", "time"), ("cpu", "CPU time")):
            rs = []
            fails = []
            for w, _ in workloads:
                c = st.cells.get((w, "segalloc"))
                if c is not None and c.runs and not c.ok:
                    fails.append(w)
                    continue
                r = st.ratio(w, "segalloc", REF, m)
                if r:
                    rs.append(("%s %.2f×" % (w, r[0]), r))
            out.append("- segalloc ≤ 1.0× glibc on every workload (%s): %s%s"
                       % (label, gate(rs, 1.0),
                          "; FAIL on " + ", ".join(fails) if fails else ""))
            rs = []
            for w, _ in workloads:
                bp = st.best_peer(w, "segalloc", m)
                r = st.ratio(w, "segalloc", bp, m) if bp else None
                if r:
                    rs.append(("%s %.2f× %s" % (w, r[0], bp), r))
            out.append("- segalloc ≤ 1.0× the best peer on every workload "
                       "(%s): %s" % (label, gate(rs, 1.0)))
    if "segalloc" in have and "mimalloc" in have:
        gm = st.geomean([(w, "segalloc", "mimalloc") for w, _ in workloads],
                        "rss")
        if gm:
            out.append("- segalloc peak RSS ≤ 1.1× mimalloc's (geomean): %s "
                       "(%s)" % (gate([("geomean", gm)], 1.1, True), fmt_ci(gm)))
    def geomean_goal(a, b, limit, text):
        if a in have and b in have:
            for m, label in (("wall", "time"), ("cpu", "CPU time")):
                gm = st.geomean([(w, a, b) for w, _ in workloads], m)
                if gm:
                    out.append("- %s, %s geomean: %s (%s)" % (
                        text, label, gate([("geomean", gm)], limit, True),
                        fmt_ci(gm)))

    geomean_goal("segalloc-debug", "segalloc", 3.0,
                 "segalloc-debug ≤ 3× segalloc")
    if "segalloc-debug" in have and "asan" in have:
        rs = []
        for w, k in workloads:
            r = st.ratio(w, "segalloc-debug", "asan", "wall") if applies(
                "asan", k) else None
            if r:
                rs.append(("%s %.2f×" % (w, r[0]), r))
        if rs:
            out.append("- segalloc-debug ≤ 1/3 of ASan's time on each C "
                       "workload: %s" % gate(rs, 1 / 3))
    geomean_goal("segalloc-guard-sample", "segalloc-guard-off", 1.1,
                 "guard sampling ≤ 1.1× the debug build with guards off")
    return "\n".join(out) if out else "Nothing measurable in this run."


def last_line(logs, w, a):
    """The last non-empty stderr line of the first failed run kept, which
    is usually the tool's own reason (DUMA: too many page mappings)."""
    for r in range(1, 100):
        path = os.path.join(logs, "%s.%s.r%d.err" % (w, a, r))
        if os.path.exists(path):
            lines = [l.strip() for l in open(path, errors="replace")
                     if l.strip()]
            return lines[-1][:160].replace("`", "'") if lines else None
    return None


def failures(cells, allocs, logs):
    out = []
    for (w, a), c in sorted(cells.items()):
        if c.runs and not c.ok and a in allocs:
            line = "- %s under %s: %s" % (w, a, c.fail)
            if logs:
                line += " — stderr in `%s/%s.%s.r*.err`" % (logs, w, a)
                last = None if "timeout" in c.fail else last_line(logs, w, a)
                if last:
                    line += ", ending: `%s`" % last
            out.append(line)
    return "\n".join(out) if out else "None."


def plot(st, workloads, allocs, path, title):
    """Writes the bar chart; returns False (and says why) without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        print("report.py: python3-matplotlib is missing; no PNG written",
              file=sys.stderr)
        return False

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = st.cells
    others = [a for a in allocs if a != REF]
    names = [w for w, _ in workloads] + ["geomean"]
    panels = (("wall", "wall time"), ("cpu", "CPU time"), ("rss", "peak RSS"))
    fig, axes = plt.subplots(len(panels), 1, figsize=(max(17, len(names)),
                                                      13), sharex=True)
    width = 0.8 / max(1, len(others))
    for ax, (metric, label) in zip(axes, panels):
        ax.set_yscale("log")
        ax.axhline(1.0, color="black", linewidth=1)
        lows, highs = [], []
        for i, a in enumerate(others):
            xs, ys, err_lo, err_hi = [], [], [], []
            for j, (w, kind) in enumerate(workloads):
                x = j - 0.4 + width * (i + 0.5)
                c = cells.get((w, a))
                if not applies(a, kind) or c is None or not c.runs:
                    continue
                r = st.ratio(w, a, REF, metric) if c.ok else None
                if r is None:
                    ax.text(x, 1.0, "FAIL" if not c.ok else "?", color="red",
                            rotation=90, ha="center", va="bottom", fontsize=7,
                            fontweight="bold")
                    continue
                if math.isinf(r[2]):  # too few runs: no whisker
                    r = (r[0], r[0], r[0])
                xs.append(x)
                ys.append(r[0])
                err_lo.append(r[0] - r[1])
                err_hi.append(r[2] - r[0])
            gm = st.geomean([(w, a, REF) for w, _ in workloads], metric)
            if gm:
                if math.isinf(gm[2]):
                    gm = (gm[0], gm[0], gm[0], gm[3])
                xs.append(len(workloads) - 0.4 + width * (i + 0.5))
                ys.append(gm[0])
                err_lo.append(gm[0] - gm[1])
                err_hi.append(gm[2] - gm[0])
                ax.text(xs[-1], gm[2] * 1.04, "%.2f" % gm[0], ha="center",
                        va="bottom", fontsize=6, rotation=90)
            if xs:
                ax.bar(xs, ys, width, yerr=[err_lo, err_hi], capsize=1.5,
                       color=COLORS.get(a, None), label=a,
                       error_kw={"lw": 0.8})
                lows.append(min(y - e for y, e in zip(ys, err_lo)))
                highs.append(max(y + e for y, e in zip(ys, err_hi)))
        if lows:
            ax.set_ylim(max(0.01, min(0.5, min(lows) * 0.8)),
                        max(2.0, max(highs) * 1.3))
        ax.yaxis.set_major_formatter(
            matplotlib.ticker.FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_yticks([t for t in (0.01, 0.03, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20,
                                   50, 100, 200, 500, 1000, 3000)
                       if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]])
        ax.set_ylabel("%s / glibc\n(log; lower is better)" % label)
        ax.grid(axis="y", which="major", alpha=0.3)
        ax.axvline(len(workloads) - 0.5, color="gray", linestyle=":")
    axes[0].legend(ncol=min(len(others), 6), loc="upper left", fontsize=8)
    axes[0].set_title(title)
    axes[-1].set_xticks(range(len(names)))
    axes[-1].set_xticklabels(names, rotation=35, ha="right")
    fig.text(0.01, 0.005, "bars: ratio of medians; whiskers: 95% bootstrap "
             "interval; FAIL: crash, non-zero exit, timeout or wrong output; "
             "asan: C workloads only", fontsize=8)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    fig.savefig(path, dpi=90)
    plt.close(fig)
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
    st = Stats(cells)
    skipped = {}
    for m in meta:
        if m.startswith("skipped: "):
            a, _, why = m[len("skipped: "):].partition(": ")
            skipped[a] = why
    rounds = max((int(r["round"]) for r in rows), default=0)
    stem = os.path.splitext(os.path.basename(args.md))[0]

    md = ["# segalloc benchmark: %s" % stem, ""]
    md += ["- " + m for m in meta if not m.startswith("skipped: ")]
    for a, why in skipped.items():
        md.append("- **column %s not run**: %s" % (a, why))
    md += [
        "",
        "Each cell: ratio of the allocator's median to glibc's median over "
        "%d interleaved rounds (allocator order shuffled every round), then "
        "the 95%% bootstrap interval of that ratio in brackets. **Lower is "
        "better.** A ratio is **bold** when its interval excludes 1 (a "
        "difference shown); otherwise the run did not show one either way. "
        "The glibc column gives absolute medians. **FAIL**: a crash, "
        "non-zero exit, timeout or output different from glibc's in at "
        "least one run (for DUMA and Electric Fence, often their own limits: "
        "see Failures). `n/a`: ASan only applies to the C workloads. Raw "
        "runs: `%s`." % (rounds, os.path.basename(args.csv)),
        "",
        "## Geometric means (ratio [95% interval] (workloads))",
        "",
        geomean_table(st, workloads, allocs),
        "",
        "## Targets (computed)",
        "",
        targets(st, workloads, allocs),
        "",
    ]
    if "segalloc" in allocs:
        md += ["## segalloc per workload (computed verdicts)", "",
               per_workload(st, workloads, allocs, "segalloc"), ""]
    for metric, (_, title, unit, _) in METRICS.items():
        md += ["## %s (ratio to glibc)" % title, ""]
        if metric == "cpu":
            md += ["Less disturbed than wall time when other jobs share the "
                   "machine; counts spinning and page-fault work as cost "
                   "too.", ""]
        if metric == "flt":
            md += ["glibc column in thousands of faults.", ""]
        md += [table(st, workloads, allocs, metric), ""]
    md += ["## Failures", "", failures(cells, allocs, args.logs), ""]
    if args.png:
        title = "segalloc benchmark %s: ratio to glibc (%d rounds)" % (
            stem, rounds)
        if plot(st, workloads, allocs, args.png, title):
            md.insert(2, "![ratios to glibc](%s)\n" %
                      os.path.basename(args.png))
    with open(args.md, "w") as f:
        f.write("\n".join(md))


if __name__ == "__main__":
    main()
