#!/usr/bin/env python3
"""Totals the results of one `bazel test` run; used by tools/test.sh.

Usage: test_summary.py BEP_JSON_FILE BAZEL_EXIT_CODE

Reads the Build Event Protocol file of the run, not a glob of
bazel-testlogs/: that way it sees exactly the targets of this run, cached
results included (their test.log is the kept one), and targets that failed
to build or analyze, which have no log at all.

Per test target it counts, from its test.log(s):
  - Criterion's "[====] Synthesis: Tested: N | Passing: N | Failing: N ..."
    (Failing already includes Crashing);
  - else the test's own last "N passed, N failed" line;
  - else 1 passed or 1 failed by the target's status.
A target whose status is not PASSED always counts at least 1 failed (a crash
after Criterion's summary, a timeout, a failed build). Any other target that
failed to build counts 1 failed too, and so does a failed bazel run in
which nothing else failed, so a failure can never vanish from the totals.
Prints per-target lines, then "N passed, N failed" as the last line.
Exits 0 only if nothing failed.

With SEGALLOC_SMOKE_SUMMARY set (by .ci/run), the results of the suites run
by scripts rather than Bazel are added in: a ':'-separated list of results
files (fuzz/smoke.sh, .clusterfuzzlite/test.sh, ...: one line per test,
"ok   ..." or "FAIL ...", then "N passed, N failed"), each labelled by the
name of its folder; a missing or unreadable one counts 1 failed.
"""
import json
import os
import re
import sys
from urllib.parse import unquote, urlparse

ANSI = re.compile(r"\x1b\[[0-9;]*m")
CRITERION = re.compile(
    r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+)")
# FLAKY (failed, then passed on a retry) counts as failed: bazel exits 0
# for it, but a test that fails sometimes is a bug to fix.
PASSING = ("PASSED",)
OWN = re.compile(r"^(?:\w+: )?(\d+) passed, (\d+) failed\b")


def read_log(uri):
    try:
        with open(unquote(urlparse(uri).path), errors="replace") as f:
            return ANSI.sub("", f.read())
    except OSError:
        return ""


def count_log(text):
    """(passed, failed) from one test.log, or None if it has no summary."""
    crit = CRITERION.findall(text)
    if crit:
        return (sum(int(p) for _, p, _ in crit),
                sum(int(f) for _, _, f in crit))
    own = [m for m in (OWN.match(l.strip()) for l in text.splitlines()) if m]
    if own:
        return int(own[-1].group(1)), int(own[-1].group(2))
    return None


def script_counts():
    """(passed, failed) of the script-run suites, printing their lines;
    (0, 0) when none is asked for."""
    total_p = total_f = 0
    for path in os.environ.get("SEGALLOC_SMOKE_SUMMARY", "").split(":"):
        if not path:
            continue
        label = os.path.basename(os.path.dirname(path))
        try:
            with open(path, errors="replace") as f:
                text = f.read()
        except OSError:
            text = ""
        counts = count_log(text)
        if counts is None:
            print("FAIL %s: no results in %s" % (label, path))
            total_f += 1
            continue
        for line in text.splitlines()[:-1]:
            print("%-4s %s: %s" % (line[:4].strip(), label, line[5:]))
        total_p += counts[0]
        total_f += counts[1]
    return total_p, total_f


def main():
    bep_path, bazel_rc = sys.argv[1], int(sys.argv[2])
    kinds = {}     # label -> "cc_test rule", ...
    logs = {}      # label -> {(run, shard): (test.log uri, status)}
    status = {}    # test label -> overall status
    broken = {}    # label -> why it failed before any test could run
    try:
        with open(bep_path) as f:
            events = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError) as e:
        events = []
        broken["(bazel)"] = "no build event file: %s" % e
    for ev in events:
        (kind, eid), = ev["id"].items()
        label = eid.get("label") if isinstance(eid, dict) else None
        if "aborted" in ev and kind in ("targetConfigured", "targetCompleted"):
            broken[label] = ev["aborted"].get("reason", "ABORTED")
        elif kind == "targetConfigured":
            kinds[label] = ev.get("configured", {}).get("targetKind", "")
        elif kind == "targetCompleted":
            if not ev.get("completed", {}).get("success", False):
                broken[label] = "FAILED_TO_BUILD"
        elif kind == "testResult":
            # Retried (flaky) attempts share (run, shard): the last one wins.
            res = ev["testResult"]
            for out in res.get("testActionOutput", []):
                if out["name"] == "test.log":
                    logs.setdefault(label, {})[(eid["run"], eid["shard"])] = (
                        out["uri"], res.get("status", "NO_STATUS"))
        elif kind == "testSummary":
            status[label] = ev["testSummary"].get("overallStatus", "NO_STATUS")
        elif kind == "pattern" and "aborted" in ev:
            broken[str(eid.get("pattern"))] = ev["aborted"].get("reason")

    total_p = total_f = 0
    tests = sorted(l for l, k in kinds.items() if k.endswith(" test rule"))
    for label in sorted(set(tests) | set(broken) | set(status)):
        st = broken.get(label) or status.get(label) or "NO_STATUS"
        ok = st in PASSING
        p = f = 0
        for uri, shard_st in logs.get(label, {}).values():
            c = count_log(read_log(uri))
            if c is None:  # no summary line: judge the shard by its status
                c = (1, 0) if shard_st in PASSING else (0, 1)
            p, f = p + c[0], f + c[1]
        if ok and p + f == 0:
            p = 1
        if not ok and f == 0:
            f = 1
        total_p += p
        total_f += f
        print("%-4s %s: %d passed, %d failed%s" % (
            "ok" if ok else "FAIL", label, p, f, "" if ok else " [%s]" % st))
    if bazel_rc != 0 and total_f == 0:
        print("FAIL bazel exited with status %d" % bazel_rc)
        total_f = 1
    script_p, script_f = script_counts()
    total_p += script_p
    total_f += script_f
    print("%d passed, %d failed" % (total_p, total_f))
    return 1 if total_f else 0


if __name__ == "__main__":
    sys.exit(main())
