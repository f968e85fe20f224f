"""The measurement protocol shared by every workload script (stdlib only: it runs in every tool's
environment).

A workload script is ``python <tool>_w.py <mode> <workload> <size> <root> [<pairs>]`` and prints
one JSON line on stdout: ``{"ok": true, ...}``, or ``{"ok": false, "na": "reason"}`` when the tool
does not have the workload. Modes:

- ``setup``: write the databases a read workload reads (the tool's and the raw baseline's, at
  ``size`` and at the warm-up size) into ``root``. Untimed, in a process of its own, so that the
  measuring processes start clean.
- ``pairs``: after an untimed warm-up of both sides at a small size, time the tool's side and its
  reference side alternately (tool, reference, tool, reference, ...) ``pairs`` times in this one
  process, and report every time, the per-pair ratios and their median. The reference is the raw
  ``sqlite3`` baseline unless the tool's script names another one (``REFERENCES``).
- ``mem``: after the same warm-up, run the tool's side once and report its time, the peak RSS
  during it (the kernel's high-water mark, reset just before) above the RSS before it, and the
  RSS it keeps (growth). Meant for a fresh process per measurement.

A side is a function ``side(ctx) -> timed``: it prepares untimed (creating input data, say) and
returns the callable that is timed. Everything a tool opens (session, engine, connection) is
opened and closed inside ``timed``. What ``timed`` returns stays alive until the measurement is
taken (the RSS growth of ``mem`` counts it) and is then dropped.
"""

from __future__ import annotations

import gc
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Number of runs of W4, each storing one array of ``size`` MB.
W4_RUNS = 10
#: The float fields of a W2 run (its params are a, b, c).
W2_FIELDS = ("f0", "f1", "f2", "f3", "f4")
#: The float fields of a run of the 30k x 100 load.
WIDE_FIELDS = tuple(f"f{j}" for j in range(100))
#: Size of the untimed warm-up of each workload (runs; MB per array for W4).
WARM = {
    "W2-with": 100,
    "W2-grid": 100,
    "W3": 100,
    "W4-write": 1,
    "W4-read": 1,
    "W5": 100,
    "persist": 100,
    "jobs1": 100,
    "jobs2": 100,
    "mem100k": 100,
    "wide30k": 100,
    "1M": 1000,
}


@dataclass
class Ctx:
    """What a side gets: the size, ``root`` (the case's directory, where ``setup`` wrote),
    ``work`` (a fresh empty directory for this call) and ``info`` (facts to report)."""

    size: int
    root: Path
    work: Path
    info: dict[str, Any] = field(default_factory=dict)


Timed = Callable[[], object]
Side = Callable[[Ctx], Timed]
Setup = Callable[[int, Path], None]


# -- memory -------------------------------------------------------------------------------------


def _status_mb(key: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (high-water mark) of this process, in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def rss_mb() -> float:
    return _status_mb("VmRSS")


def reset_peak() -> bool:
    """Reset the kernel's high-water mark of this process's RSS to its current RSS (Linux >= 4.0,
    ``clear_refs`` 5); False when the kernel refuses (then the peak includes earlier peaks)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def peak_mb() -> float:
    return _status_mb("VmHWM")


# -- data shared by every tool -------------------------------------------------------------------


def w2_axes(n: int) -> dict[str, list[Any]]:
    """The W2 grid (params a, b, c) as axes of a cartesian product of ``n`` runs (n % 100 == 0)."""
    if n % 100:
        raise ValueError(f"W2 sizes are multiples of 100, not {n}")
    return {
        "a": list(range(n // 100)),
        "b": [k / 10 for k in range(10)],
        "c": [f"c{k}" for k in range(10)],
    }


def w2_points(n: int) -> list[tuple[Any, Any, Any]]:
    """The W2 grid's params as (a, b, c) tuples, in the grid's order, sharing the axes' objects."""
    axes = w2_axes(n)
    return [(a, b, c) for a in axes["a"] for b in axes["b"] for c in axes["c"]]


def float_source() -> Callable[[], float]:
    """The stream of field values (the same for every tool)."""
    return random.Random(0).random


def w3_value(i: int) -> float:
    """The i-th tracked value of W3."""
    return 1.0 / (i + 1)


def stand_in(i: int) -> Any:
    """A light stand-in for a run, for the plain loop and plain joblib: ``x.fields.y = 1``
    works on it, and ``x.params.i`` is its param."""
    from types import SimpleNamespace

    return SimpleNamespace(params=SimpleNamespace(i=i), fields=SimpleNamespace())


def trivial(run: Any) -> None:
    """The trivial step of the execution workloads (the same function for every side)."""
    run.fields.y = 1


# -- measuring ----------------------------------------------------------------------------------


class Dirs:
    """Fresh empty directories under one temporary directory."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.count = 0

    def fresh(self) -> Path:
        self.count += 1
        path = self.base / f"w{self.count:03d}"
        path.mkdir()
        return path


def call(side: Side, size: int, root: Path, dirs: Dirs) -> tuple[float, object, dict[str, Any]]:
    """Prepare ``side`` (untimed), then time its timed part; its result is returned alive."""
    ctx = Ctx(size, root, dirs.fresh())
    timed = side(ctx)
    gc.collect()
    start = time.perf_counter()
    result = timed()
    seconds = time.perf_counter() - start
    return seconds, result, ctx.info


def pairs(
    workload: str, tool: Side, reference: Side, size: int, root: Path, n: int
) -> dict[str, Any]:
    """Warm both sides up, then time them alternately ``n`` times; ratios are tool/reference."""
    with tempfile.TemporaryDirectory(prefix="pairs-", dir=root) as scratch:
        dirs = Dirs(Path(scratch))
        warm = min(size, WARM[workload])
        for side in (tool, reference):
            call(side, warm, root, dirs)
        tool_s: list[float] = []
        ref_s: list[float] = []
        info: dict[str, Any] = {}
        for _ in range(n):
            seconds, result, tool_info = call(tool, size, root, dirs)
            del result
            tool_s.append(seconds)
            seconds, result, ref_info = call(reference, size, root, dirs)
            del result
            ref_s.append(seconds)
            info = {"tool": tool_info, "ref": ref_info}
    ratios = [t / r for t, r in zip(tool_s, ref_s, strict=True)]
    return {
        "tool_s": tool_s,
        "ref_s": ref_s,
        "ratios": ratios,
        "ratio": statistics.median(ratios),
        "tool_median_s": statistics.median(tool_s),
        "ref_median_s": statistics.median(ref_s),
        "info": info,
    }


def memory(workload: str, side: Side, size: int, root: Path) -> dict[str, Any]:
    """Warm up, then run ``side`` once: seconds, peak RSS above the RSS before, RSS kept."""
    with tempfile.TemporaryDirectory(prefix="mem-", dir=root) as scratch:
        dirs = Dirs(Path(scratch))
        call(side, min(size, WARM[workload]), root, dirs)
        gc.collect()
        reset = reset_peak()
        base = rss_mb()
        seconds, result, info = call(side, size, root, dirs)
        gc.collect()
        after = rss_mb()
        peak = peak_mb()
        del result
    return {
        "seconds": seconds,
        "rss_base_mb": round(base, 2),
        "rss_after_mb": round(after, 2),
        "peak_mb": round(peak, 2),
        "peak_delta_mb": round(peak - base, 2),
        "growth_mb": round(after - base, 2),
        "peak_reset": reset,
        "info": info,
    }


def emit(data: Mapping[str, Any]) -> None:
    print(json.dumps({"ok": True, **data}), flush=True)


def not_available(reason: str) -> None:
    print(json.dumps({"ok": False, "na": reason}), flush=True)


def main(
    sides: Mapping[str, Side],
    setups: Mapping[str, Setup] | None = None,
    references: Mapping[str, Side] | None = None,
    preload: Callable[[], object] | None = None,
) -> None:
    """Dispatch ``argv`` (see the module docstring) to this tool's sides.

    ``references``: the reference side of a workload when it is not the raw sqlite3 baseline.
    ``preload``: imports the tool and what it imports lazily, before anything is measured.
    """
    mode, workload, size, root = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    side = sides.get(workload)
    if side is None:
        not_available(f"{workload} is not implemented for this tool")
        return
    if preload is not None:
        preload()
    if mode == "setup":  # a tool's setup also writes its reference's databases
        for n in sorted({size, min(size, WARM[workload])}):
            (setups or {})[workload](n, root)
        emit({})
        return
    if mode == "mem":
        emit(memory(workload, side, size, root))
        return
    if mode != "pairs":
        raise SystemExit(f"unknown mode {mode!r}: setup, pairs or mem")
    reference = (references or {}).get(workload)
    if reference is None:
        import sqlite_w  # the raw baseline, importable from every tool's environment

        reference = sqlite_w.SIDES[workload]
    emit(pairs(workload, side, reference, size, root, int(sys.argv[5])))
