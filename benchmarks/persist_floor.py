"""The floor of persist-as-you-go: what raw ``sqlite3`` needs to do what its crash guarantee
asks, on runtable's own run table.

``execute(persist=True)`` first stores every run pending (a crash leaves them in the
database), then writes each finished batch of up to 2,000 runs over them; ``execute()`` then
``persist()`` writes each run once. This script takes the run table runtable stores for the
``persist`` workload (the W2 grid, the trivial step) and times, alternately after a warm-up:

- ``once``: raw ``sqlite3`` creating that table and inserting every row in one transaction;
- ``as you go``: creating it, inserting each run pending (id, version, status, params), then
  upserting the finished rows 2,000 at a time, one transaction each, as runtable does.

It prints both per run and their ratio, and the ratio with a given execution cost per run
added to both sides (runtable's own is about 17 µs, ``jobs1`` in the benchmarks):
``PYTHONPATH=src python benchmarks/persist_floor.py [--runs 100000] [--execution-us 16.6]``.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent / "workloads"))

from _common import trivial, w2_axes

BATCH = 2000
PENDING = ("id_run", "id_experiment", "runtable_status", "a", "b", "c")


def stored_rows(root: Path, n: int) -> tuple[list[str], list[str], list[tuple[Any, ...]]]:
    """The DDL, the columns and the rows of the run table runtable stores for ``n`` runs."""
    import runtable as rt

    session = rt.connect(f"sqlite:///{root / 'runtable.db'}")
    exp = session.create_experiment("p").add_runs(**w2_axes(n))
    exp.execute(trivial, n_jobs=1, progress=False).persist()
    session.close()
    conn = sqlite3.connect(root / "runtable.db")
    ddl = [
        sql
        for (sql,) in conn.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name = 'e_p' ORDER BY rowid"
        )
    ]
    columns = [row[1] for row in conn.execute("PRAGMA table_info(e_p)")]
    rows = conn.execute("SELECT * FROM e_p ORDER BY id_run").fetchall()
    conn.close()
    return ddl, columns, rows


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--execution-us", type=float, default=16.6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ddl, columns, rows = stored_rows(root, args.runs)
        where = {name: k for k, name in enumerate(columns)}
        pending = [
            tuple("pending" if c == "runtable_status" else row[where[c]] for c in PENDING)
            for row in rows
        ]
        marks = ", ".join("?" for _ in columns)
        upsert = f"INSERT INTO e_p VALUES ({marks}) ON CONFLICT(id_run) DO UPDATE SET " + ", ".join(
            f'"{c}" = excluded."{c}"' for c in columns if c != "id_run"
        )
        count = [0]

        def fresh() -> sqlite3.Connection:
            count[0] += 1
            conn = connect(root / f"w{count[0]}.db")
            conn.execute("BEGIN")
            for statement in ddl:
                conn.execute(statement)
            return conn

        def once() -> None:
            conn = fresh()
            conn.executemany(f"INSERT INTO e_p VALUES ({marks})", rows)
            conn.execute("COMMIT")
            conn.close()

        def as_you_go() -> None:
            conn = fresh()
            names = ", ".join(PENDING)
            conn.executemany(
                f"INSERT INTO e_p ({names}) VALUES ({', '.join('?' for _ in PENDING)})", pending
            )
            conn.execute("COMMIT")
            for start in range(0, len(rows), BATCH):
                conn.execute("BEGIN")
                conn.executemany(upsert, rows[start : start + BATCH])
                conn.execute("COMMIT")
            conn.close()

        times: dict[str, list[float]] = {"once": [], "as you go": []}
        for rep in range(args.reps + 1):  # the first round warms up
            for name, side in (("once", once), ("as you go", as_you_go)):
                start = time.perf_counter()
                side()
                if rep:
                    times[name].append(time.perf_counter() - start)
    per_run = {k: statistics.median(v) / args.runs * 1e6 for k, v in times.items()}
    e = args.execution_us
    print(f"{args.runs:,} runs, medians of {args.reps}, µs a run:")
    print(f"- once: {per_run['once']:.1f}; as you go: {per_run['as you go']:.1f}")
    print(f"- storage alone: {per_run['as you go'] / per_run['once']:.2f}x")
    print(
        f"- with {e} µs of execution a run on both sides: "
        f"{(e + per_run['as you go']) / (e + per_run['once']):.2f}x"
    )


if __name__ == "__main__":
    main()
