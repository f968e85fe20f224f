"""Helpers shared by the workload scripts (stdlib only: they run in every tool's environment).

A workload script is run as ``python <tool>_w.py <workload> <size> <tmpdir>`` and prints one
JSON line on stdout: ``{"ok": true, "t": {...seconds...}, "rss_peak_mb": ..., ...}``, or
``{"ok": false, "na": "reason"}`` when the tool cannot do the workload.
"""

from __future__ import annotations

import json
import random
import resource
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

#: Number of runs of W4, each storing one array of ``size`` MB.
W4_RUNS = 10
#: Number of params and float fields of a W2 run.
W2_FIELDS = 5


def rss_mb() -> float:
    """The current resident set size of this process, in MB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_rss_mb() -> float:
    """The high-water mark of this process's resident set size, in MB.

    ``VmHWM`` is the kernel's high-water mark of this process image; ``ru_maxrss`` (the same
    number otherwise) also keeps the parent's size across fork + exec, which would put a floor
    of the orchestrator's own RSS under every measurement.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Timings:
    """Named wall-clock timings of one measurement."""

    def __init__(self) -> None:
        self.t: dict[str, float] = {}
        self.info: dict[str, Any] = {}
        self.base_rss = rss_mb()

    @contextmanager
    def time(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.t[name] = time.perf_counter() - start

    def rebase(self) -> None:
        """Take the memory baseline now (after imports, before the workload's data)."""
        self.base_rss = rss_mb()

    def emit(self) -> None:
        peak = peak_rss_mb()
        out = {
            "ok": True,
            "t": self.t,
            "rss_peak_mb": round(peak, 2),
            "rss_base_mb": round(self.base_rss, 2),
            "rss_delta_mb": round(peak - self.base_rss, 2),
            "info": self.info,
        }
        print(json.dumps(out), flush=True)


def not_available(reason: str) -> None:
    print(json.dumps({"ok": False, "na": reason}), flush=True)


def w2_points(n: int) -> list[tuple[int, float, str]]:
    """The W2 grid: params (a, b, c) of ``n`` runs, a cartesian product when n % 100 == 0."""
    return [(i // 100, (i // 10) % 10 / 10, f"c{i % 10}") for i in range(n)]


def w2_axes(n: int) -> dict[str, list[Any]]:
    """The W2 grid as axes of a cartesian product (n must be a multiple of 100)."""
    if n % 100:
        raise ValueError(f"W2 sizes are multiples of 100, not {n}")
    return {
        "a": list(range(n // 100)),
        "b": [k / 10 for k in range(10)],
        "c": [f"c{k}" for k in range(10)],
    }


def float_source() -> Callable[[], float]:
    """The stream of field values (the same for every tool)."""
    return random.Random(0).random


def w3_value(i: int) -> float:
    """The i-th tracked value of W3."""
    return 1.0 / (i + 1)


def trivial_step_target() -> Any:
    """A light stand-in for a run, for W6's plain loop: ``obj.fields.y = 1`` works on it."""
    from types import SimpleNamespace

    return SimpleNamespace(fields=SimpleNamespace(), params=SimpleNamespace())


def main(workloads: Mapping[str, Callable[[int, str], None]]) -> None:
    """Dispatch ``argv`` to a workload function ``f(size, tmpdir)``."""
    name, size, tmpdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    func = workloads.get(name)
    if func is None:
        not_available(f"workload {name} is not implemented for this tool")
        return
    func(size, tmpdir)
