"""The floor of W5: what raw ``sqlite3`` needs to read the rows runtable stores.

runtable's run table has 15 columns per run where W5's raw reference has 9: the bookkeeping
(status, error, two timestamps, the steps record) and the row's exact-value map come with every
run a load keeps. This script times, in one process and alternately, after a warm-up:

- ``raw``: W5's reference (``SELECT *`` of the 9-column table, ``fetchall``, ``from_records``);
- ``fetch15``: ``fetchall`` of the 15 columns ``load_experiment`` selects from runtable's table
  (the same statement: the experiment's rows, by ``id_run``), nothing built from them;
- ``fetch15+df``: the same rows to a DataFrame with ``from_records``, as the reference does;
- ``fetch10``: ``fetchall`` of id, params, fields and the exact map only (no bookkeeping);
- ``runtable``: ``load_experiment(...).runs.df()``, session closed.

``PYTHONPATH=src python benchmarks/w5_floor.py [--runs 10000] [--reps 7]``; prints medians and
their ratios to ``raw``.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "workloads"))

import runtable_w
import sqlite_w

BOOKKEEPING = (
    "runtable_status, runtable_error, runtable_started_at, runtable_ended_at, runtable_steps"
)
SHOWN = "id_run, a, b, c, f0, f1, f2, f3, f4"


def fetch(path: Path, columns: str, df: bool) -> Callable[[], object]:
    """``fetchall`` of ``columns`` of the W5 experiment's rows (to a DataFrame with ``df``)."""
    import pandas as pd

    def timed() -> object:
        conn = sqlite3.connect(path, isolation_level=None)
        (exp_id,) = conn.execute("SELECT id FROM experiments WHERE name = 'w2'").fetchone()
        cursor = conn.execute(
            f"SELECT {columns} FROM e_w2 WHERE id_experiment = ? ORDER BY id_run", (exp_id,)
        )
        rows = cursor.fetchall()
        out = (
            pd.DataFrame.from_records(rows, columns=[d[0] for d in cursor.description])
            if df
            else rows
        )
        conn.close()
        return out

    return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    runtable_w.preload()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        runtable_w.setup_w5(args.runs, root)
        rt_db, raw_db = root / f"rt-w5-{args.runs}.db", root / f"raw-w5-{args.runs}.db"
        stored = f"id_run, {BOOKKEEPING}, a, b, c, f0, f1, f2, f3, f4, runtable_exact"
        sides: dict[str, Callable[[], object]] = {
            "raw": lambda: sqlite_w.load_df(raw_db, "e_w2"),
            "fetch15": fetch(rt_db, stored, df=False),
            "fetch15+df": fetch(rt_db, stored, df=True),
            "fetch10": fetch(rt_db, f"{SHOWN}, runtable_exact", df=False),
            "runtable": lambda: runtable_w.load_df(rt_db, "w2", runtable_w.Ctx(0, root, root)),
        }
        times: dict[str, list[float]] = {name: [] for name in sides}
        for rep in range(args.reps + 1):  # the first round warms up
            for name, side in sides.items():
                start = time.perf_counter()
                side()
                if rep:
                    times[name].append(time.perf_counter() - start)
    raw = statistics.median(times["raw"])
    print(f"W5 floor, {args.runs:,} runs, medians of {args.reps} in one process")
    print("| side | ms | / raw |\n|---|---|---|")
    for name, values in times.items():
        ms = statistics.median(values)
        print(f"| {name} | {ms * 1e3:.1f} | {ms / raw:.2f}x |")


if __name__ == "__main__":
    main()
