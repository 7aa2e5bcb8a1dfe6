#!/usr/bin/env python3
"""Prints one closing line, 'N passed, N failed, N skipped', over meson's JSON test logs.
A log that is missing (its test run never started) counts as one failure."""
import json
import os
import sys

counts = {"passed": 0, "failed": 0, "skipped": 0}
for path in sys.argv[1:]:
    if not os.path.exists(path):
        print(f"summarize-tests: {path} is missing: that test run did not happen")
        counts["failed"] += 1
        continue
    with open(path) as log:
        for line in log:
            result = json.loads(line)["result"]
            if result in ("OK", "EXPECTEDFAIL"):
                counts["passed"] += 1
            elif result == "SKIP":
                counts["skipped"] += 1
            else:
                counts["failed"] += 1
print(f"tests: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
