"""Counts of the reliability campaign: faults injected, inputs tried, runs lost or in flight.

Tests call :func:`record`; when ``$RUNTABLE_CAMPAIGN_TALLY`` names a file, each call appends
one JSON line to it (``python -m campaign.tally FILE`` sums them). Without it, nothing happens.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter

TALLY_ENV = "RUNTABLE_CAMPAIGN_TALLY"

#: What is counted: faults injected, inputs tried, runs lost (stored, then missing: always
#: asserted zero) and runs in flight (finished by a step but not yet written when a fault hit).
KINDS = ("faults", "inputs", "lost", "in_flight")


def record(test: str, **counts: int) -> None:
    """Add ``counts`` (keywords from KINDS) for ``test`` to the tally file, if there is one."""
    unknown = set(counts) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown tally kinds: {sorted(unknown)}")
    path = os.environ.get(TALLY_ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"test": test, **counts}) + "\n")


def summary(path: str) -> dict[str, dict[str, int]]:
    """Totals per test file (and ``total``) of a tally file."""
    totals: dict[str, Counter[str]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            item = json.loads(line)
            test = item.pop("test")
            for key in (test.split("::")[0], "total"):
                totals.setdefault(key, Counter()).update(item)
    return {k: dict(v) for k, v in totals.items()}


if __name__ == "__main__":
    print(json.dumps(summary(sys.argv[1]), indent=2))
