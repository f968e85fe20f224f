"""Scale checks: the sizes users outgrow other trackers with, each in a fresh process.

    python benchmarks/scale.py            # all cases, writes benchmarks/scale_results.md
    python benchmarks/scale.py wide gib   # some cases, printed only
    RUNTABLE_SCALE_URL=postgresql://... python benchmarks/scale.py read_300mib   # on PostgreSQL

Each case runs in its own subprocess on a SQLite file in a temporary directory and reports its
wall time and the process's peak memory (VmHWM). Timings depend on the machine: read them as
orders of magnitude, and see benchmarks/run.py for the side-by-side comparison with peers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent

CASES = {
    "runs_100k": "100,000 runs, 2 params and 2 float fields: build, persist, load + DataFrame",
    "wide": "100 runs with 1,000 float fields each: persist, load + DataFrame",
    "load_30k_x_100": "30,000 runs with 100 float fields: load + DataFrame (persist untimed)",
    "frame_1m": "one DataFrame field of 1,000,000 rows (int, float, str): persist, load",
    "gib": "one 1 GiB float64 array field: persist, load (stored in parts)",
    "read_300mib": "read one 300 MiB float64 array field in a fresh process: peak RSS above "
    "the RSS before loading, in MiB and as a multiple of the value's size "
    "($RUNTABLE_SCALE_URL picks the database, default a SQLite file)",
}


def _peak_mb() -> float:
    return _rss_mb("VmHWM")


def _rss_mb(key: str) -> float:
    """``VmHWM`` (peak) or ``VmRSS`` (current) of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _case(name: str, directory: str) -> dict[str, float]:
    import numpy as np
    import pandas as pd

    import runtable as rt

    url = f"sqlite:///{directory}/scale.db"
    if name == "read_300mib":
        url = os.environ.get("RUNTABLE_SCALE_URL", url)
    session = rt.connect(url)
    times: dict[str, float] = {}
    start = time.perf_counter()

    def mark(label: str) -> None:
        nonlocal start
        now = time.perf_counter()
        times[label] = round(now - start, 3)
        start = now

    if name == "runs_100k":
        exp = session.create_experiment("many").add_runs(a=range(100), b=range(1000))
        for run in exp.runs:
            run.fields.x = 0.5
            run.fields.y = 1.5
        mark("build")
        exp.persist()
        mark("persist")
        session.load_experiment("many").runs.df()
        mark("load+df")
    elif name == "wide":
        exp = session.create_experiment("wide").add_runs(i=range(100))
        values = {f"f{j}": float(j) for j in range(1000)}
        for run in exp.runs:
            run.fields.update(values)
        exp.persist()
        mark("persist")
        session.load_experiment("wide").runs.df()
        mark("load+df")
    elif name == "load_30k_x_100":
        exp = session.create_experiment("big").add_runs(a=range(300), b=range(100))
        values = {f"f{j}": float(j) for j in range(100)}
        for run in exp.runs:
            run.fields.update(values)
        exp.persist()
        start = time.perf_counter()
        df = session.load_experiment("big").runs.df()
        mark("load+df")
        assert df.shape == (30_000, 103)
    elif name == "frame_1m":
        n = 1_000_000
        frame = pd.DataFrame({"x": np.arange(n), "y": np.random.rand(n), "s": ["abc"] * n})
        exp = session.create_experiment("frame").add_run(i=0)
        exp.runs.first().fields.df = frame
        exp.persist()
        mark("persist")
        loaded = session.load_experiment("frame").runs.first().fields.df
        mark("load")
        pd.testing.assert_frame_equal(loaded, frame)
    elif name == "gib":
        exp = session.create_experiment("gib").add_run(i=0)
        exp.runs.first().fields.a = np.ones(128 * 1024 * 1024)  # 1 GiB
        mark("build")
        exp.persist()
        mark("persist")
        del exp
        array = session.load_experiment("gib").runs.first().fields.a
        mark("load")
        assert array.nbytes == 2**30
    elif name == "read_300mib":
        exp = session.create_experiment("read_300mib").add_run(i=0)
        exp.runs.first().fields.a = np.random.default_rng(0).random(300 * 2**20 // 8)
        exp.persist(if_exists="replace")
        mark("persist")
        del exp
        done = subprocess.run(
            [sys.executable, __file__, "--read", url], capture_output=True, text=True, check=True
        )
        times.update(json.loads(done.stdout))
        session.delete_experiment("read_300mib")
    times["peak_mb"] = round(_peak_mb())
    return times


def _read(url: str) -> dict[str, float]:
    """Load the 300 MiB field in this fresh process; peak RSS above the RSS before loading."""
    import runtable as rt

    session = rt.connect(url)
    session.ls()  # connected, with everything a load imports
    before = _rss_mb("VmRSS")
    start = time.perf_counter()
    array = session.load_experiment("read_300mib").runs.first().fields.a
    seconds = time.perf_counter() - start
    above = _rss_mb("VmHWM") - before
    size = array.nbytes / 2**20
    return {
        "load": round(seconds, 3),
        "read_peak_mib": round(above),
        "x_size": round(above / size, 2),
    }


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[1] == "--read":
        print(json.dumps(_read(argv[2])))
        return 0
    if len(argv) == 3 and argv[1] == "--case":
        with tempfile.TemporaryDirectory() as directory:
            print(json.dumps(_case(argv[2], directory)))
        return 0
    names = argv[1:] or list(CASES)
    rows = []
    for name in names:
        done = subprocess.run(
            [sys.executable, __file__, "--case", name], capture_output=True, text=True
        )
        result = json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr[-300:]}
        print(name, result, flush=True)
        rows.append((name, result))
    if not argv[1:]:
        lines = [
            "# Scale checks",
            "",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
            "command: `python benchmarks/scale.py`",
            "- Each case is a fresh process on a SQLite file; seconds per phase, peak RSS "
            "(VmHWM) of the whole process. Machines here are shared: orders of magnitude only.",
            "",
            "| case | what | seconds per phase | peak RSS MB |",
            "|---|---|---|---|",
        ]
        for name, result in rows:
            peak = result.pop("peak_mb", "-")
            phases = ", ".join(f"{k} {v}" for k, v in result.items())
            lines.append(f"| {name} | {CASES[name]} | {phases} | {peak} |")
        (HERE / "scale_results.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
