#!/usr/bin/env python3
"""Count what scripts/test ran and print one closing line: "N passed, N failed, N skipped".

Reads each build directory's meson test logs (meson-logs/testlog*.json, one JSON object a test)
and the results file the other stages wrote ("pass NAME", "fail NAME", "skip NAME: REASON" a
line). A Check binary counts as its cases ("NN%: Checks: N, Failures: F, Errors: E"); any other
test, and a binary skipped whole (exit 77), counts as one. A line "SKIP: N cases (...): reason"
is N cases left out. The reason for every skip is listed above the closing line.

Usage: tests/summary.py RESULTS_FILE BUILD_DIR...   (DM_TEST_STATUS: scripts/test's exit status)
"""
import glob
import json
import os
import re
import sys

CHECKS = re.compile(r"\d+%: Checks: (\d+), Failures: (\d+), Errors: (\d+)")
SKIPPED_CASES = re.compile(r"^SKIP: (\d+) cases? \(([^)]*)\): (.*)$")
GOOD = ("OK", "EXPECTEDFAIL")


def skip_reason(text):
    for line in text.splitlines():
        if line.startswith("SKIP") and not SKIPPED_CASES.match(line):
            return line.split(":", 1)[1].strip() if ":" in line else line
    return "exit status 77 (no reason printed)"


class Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.reasons = {}  # reason -> [where]
        self.failures = []

    def skip(self, n, where, reason):
        self.skipped += n
        self.reasons.setdefault(reason, []).append(where)

    def fail(self, n, where):
        self.failed += n
        self.failures.append(where)

    def meson_log(self, build, log):
        setup = os.path.basename(log)[len("testlog"):-len(".json")].lstrip("-")
        where = f"{build} --setup {setup}" if setup else build
        with open(log, encoding="utf-8", errors="replace") as f:
            for line in f:
                self.meson_test(where, json.loads(line))

    def meson_test(self, where, t):
        name = f"{where}: {t['name']}"
        out = (t.get("stdout") or "") + "\n" + (t.get("stderr") or "")
        res = t["result"]
        if res == "SKIP":
            self.skip(1, name, skip_reason(out))
            return
        for line in out.splitlines():
            m = SKIPPED_CASES.match(line)
            if m:
                self.skip(int(m.group(1)), f"{name} ({m.group(2)})", m.group(3))
        m = CHECKS.search(out)
        if m:
            n, failures, errors = (int(x) for x in m.groups())
            self.passed += n - failures - errors
            if failures + errors:
                self.fail(failures + errors, f"{name} ({res})")
            elif res not in GOOD:
                self.fail(1, f"{name} ({res} outside any case)")  # a crash, a timeout
        elif res in GOOD:
            self.passed += 1
        else:
            self.fail(1, f"{name} ({res})")

    def results_file(self, path):
        if not os.path.exists(path):
            return
        with open(path, encoding="utf-8") as f:
            for line in f:
                word, _, what = line.strip().partition(" ")
                if word == "pass":
                    self.passed += 1
                elif word == "fail":
                    self.fail(1, what)
                elif word == "skip":
                    what, _, why = what.partition(": ")
                    self.skip(1, what, why or "no reason given")


def main():
    results, builds = sys.argv[1], sys.argv[2:]
    t = Tally()
    for build in builds:
        for log in sorted(glob.glob(os.path.join(build, "meson-logs", "testlog*.json"))):
            t.meson_log(build, log)
    t.results_file(results)
    if os.environ.get("DM_TEST_STATUS", "0") != "0" and t.failed == 0:
        t.fail(1, "a stage failed outside any test: see its output above")
    print()
    for reason, where in t.reasons.items():
        print(f"skipped: {', '.join(where)}: {reason}")
    for where in t.failures:
        print(f"failed: {where}")
    print(f"{t.passed} passed, {t.failed} failed, {t.skipped} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
