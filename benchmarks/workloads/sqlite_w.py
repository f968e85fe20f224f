"""The raw baselines every tool is measured against, in the tool's own process (this module is
imported from every tool's environment: stdlib, numpy and pandas only).

Storage: ``sqlite3`` writing the same data with one ``executemany`` in one transaction (arrays
as raw bytes from the arrays' memory, WAL and ``synchronous=NORMAL`` like runtable's default), and
reading with ``fetchall``: the practical limit. Every connection is closed inside the timer (so
the WAL checkpoint at close is paid, as a tool pays its own). Arrays read back are
``np.frombuffer`` views over the fetched bytes: read-only, zero-copy. Execution: a plain loop, and
plain ``joblib.Parallel(n_jobs=2)`` calling the same step function on light stand-ins of runs.
See ``_common`` for the protocol.
"""

from __future__ import annotations

import sqlite3
import time
from array import array
from pathlib import Path
from typing import Any

from _common import (
    W2_FIELDS,
    W4_RUNS,
    WIDE_FIELDS,
    Ctx,
    Side,
    Timed,
    float_source,
    main,
    stand_in,
    trivial,
    w2_points,
    w3_value,
)


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def w2_rows(n: int) -> list[tuple[Any, ...]]:
    """The W2 rows: id, params a, b, c and the 5 float fields, from the shared value stream."""
    value = float_source()
    return [
        (i, a, b, c, value(), value(), value(), value(), value())
        for i, (a, b, c) in enumerate(w2_points(n))
    ]


def write_w2(path: Path, rows: list[tuple[Any, ...]]) -> None:
    conn = connect(path)
    conn.execute("BEGIN")
    conn.execute(
        "CREATE TABLE e_w2 (id_run INTEGER PRIMARY KEY, a INTEGER, b REAL, c TEXT, "
        + ", ".join(f"{f} REAL" for f in W2_FIELDS)
        + ")"
    )
    conn.executemany("INSERT INTO e_w2 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    conn.close()


def w2(ctx: Ctx) -> Timed:
    """W2 (both idioms): build the rows, write them, close."""

    def timed() -> None:
        write_w2(ctx.work / "raw.db", w2_rows(ctx.size))

    return timed


def w3(ctx: Ctx) -> Timed:
    def timed() -> None:
        values = array("d")
        for i in range(ctx.size):
            values.append(w3_value(i))
        conn = connect(ctx.work / "raw.db")
        conn.execute("BEGIN")
        conn.execute("CREATE TABLE e_w3 (id_run INTEGER PRIMARY KEY, loss BLOB)")
        conn.executemany("INSERT INTO e_w3 VALUES (?, ?)", [(0, values.tobytes())])
        conn.execute("COMMIT")
        conn.close()

    ctx.info["api"] = "array('d') written as one BLOB"
    return timed


def w4_arrays(mb: int) -> list[Any]:
    """The W4 data: ``W4_RUNS`` float64 arrays of ``mb`` MB each."""
    import numpy as np

    return [np.random.default_rng(i).random(mb * 2**20 // 8) for i in range(W4_RUNS)]


def write_w4(path: Path, data: list[Any]) -> None:
    conn = connect(path)
    conn.execute("BEGIN")
    conn.execute("CREATE TABLE e_w4 (id_run INTEGER PRIMARY KEY, x BLOB)")
    conn.executemany("INSERT INTO e_w4 VALUES (?, ?)", [(i, a.data) for i, a in enumerate(data)])
    conn.execute("COMMIT")
    conn.close()


def w4_write(ctx: Ctx) -> Timed:
    data = w4_arrays(ctx.size)
    ctx.info["data_mb"] = sum(a.nbytes for a in data) / 2**20

    def timed() -> None:
        write_w4(ctx.work / "raw.db", data)

    return timed


def setup_w4(mb: int, root: Path) -> None:
    if not (root / f"raw-w4-{mb}.db").exists():  # every tool's setup asks for it
        write_w4(root / f"raw-w4-{mb}.db", w4_arrays(mb))


def w4_read(ctx: Ctx) -> Timed:
    import numpy as np

    def timed() -> list[Any]:
        conn = connect(ctx.root / f"raw-w4-{ctx.size}.db")
        rows = conn.execute("SELECT id_run, x FROM e_w4 ORDER BY id_run").fetchall()
        arrays = [np.frombuffer(blob, dtype=np.float64) for _, blob in rows]
        conn.close()
        ctx.info["writeable"] = any(a.flags.writeable for a in arrays)
        ctx.info["data_mb"] = sum(a.nbytes for a in arrays) / 2**20
        return arrays

    return timed


def setup_w5(n: int, root: Path) -> None:
    if not (root / f"raw-w5-{n}.db").exists():
        write_w2(root / f"raw-w5-{n}.db", w2_rows(n))


def load_df(path: Path, table: str) -> Any:
    """A whole table as a DataFrame: ``from_records`` of ``fetchall()``; closed before return."""
    import pandas as pd

    conn = connect(path)
    cursor = conn.execute(f"SELECT * FROM {table} ORDER BY id_run")
    columns = [d[0] for d in cursor.description]
    df = pd.DataFrame.from_records(cursor.fetchall(), columns=columns)
    conn.close()
    return df


def w5(ctx: Ctx) -> Timed:
    def timed() -> Any:
        df = load_df(ctx.root / f"raw-w5-{ctx.size}.db", "e_w2")
        ctx.info["shape"] = list(df.shape)
        return df

    return timed


def jobs1(ctx: Ctx) -> Timed:
    """A plain loop calling the step on stand-ins of runs."""
    targets = [stand_in(i) for i in range(ctx.size)]

    def timed() -> None:
        for target in targets:
            trivial(target)

    return timed


def jobs2(ctx: Ctx) -> Timed:
    """Plain ``joblib.Parallel(n_jobs=2)`` calling the step on stand-ins of runs; its workers are
    started by the untimed warm-up, and the step's return value (None) is what comes back."""
    from joblib import Parallel, delayed

    targets = [stand_in(i) for i in range(ctx.size)]

    def timed() -> None:
        Parallel(n_jobs=2)(delayed(trivial)(x) for x in targets)

    return timed


def mem100k(ctx: Ctx) -> Timed:
    """A list of one tuple per run: the params (the grid's own objects) and 5 floats."""

    def timed() -> list[tuple[Any, ...]]:
        value = float_source()
        return [
            (a, b, c, value(), value(), value(), value(), value())
            for a, b, c in w2_points(ctx.size)
        ]

    return timed


def setup_wide(n: int, root: Path) -> None:
    if (root / f"raw-wide-{n}.db").exists():
        return
    value = float_source()
    conn = connect(root / f"raw-wide-{n}.db")
    conn.execute("BEGIN")
    columns = ", ".join(f"{f} REAL" for f in WIDE_FIELDS)
    conn.execute(
        f"CREATE TABLE e_wide (id_run INTEGER PRIMARY KEY, a INTEGER, b INTEGER, {columns})"
    )
    rows = ((i, i // 100, i % 100, *(value() for _ in WIDE_FIELDS)) for i in range(n))
    marks = ", ".join("?" for _ in range(3 + len(WIDE_FIELDS)))
    conn.executemany(f"INSERT INTO e_wide VALUES ({marks})", rows)
    conn.execute("COMMIT")
    conn.close()


def wide30k(ctx: Ctx) -> Timed:
    def timed() -> Any:
        df = load_df(ctx.root / f"raw-wide-{ctx.size}.db", "e_wide")
        ctx.info["shape"] = list(df.shape)
        return df

    return timed


def million(ctx: Ctx) -> Timed:
    """The 1M-run reference: the grid's rows, the step's 5 values per run, one ``executemany``,
    then the table back as a DataFrame."""

    def timed() -> None:
        start = time.perf_counter()
        phases = ctx.info.setdefault("phases", {})
        rows = w2_rows(ctx.size)
        phases["grid+step"] = time.perf_counter() - start
        write_w2(ctx.work / "raw.db", rows)
        phases["persist"] = time.perf_counter() - start - phases["grid+step"]
        df = load_df(ctx.work / "raw.db", "e_w2")
        phases["load+df"] = time.perf_counter() - start - phases["grid+step"] - phases["persist"]
        ctx.info["shape"] = list(df.shape)

    return timed


SIDES: dict[str, Side] = {
    "W2-with": w2,
    "W2-grid": w2,
    "W3": w3,
    "W4-write": w4_write,
    "W4-read": w4_read,
    "W5": w5,
    "jobs1": jobs1,
    "jobs2": jobs2,
    "mem100k": mem100k,
    "wide30k": wide30k,
    "1M": million,
}
SETUPS = {"W4-read": setup_w4, "W5": setup_w5, "wide30k": setup_wide}

if __name__ == "__main__":
    main(SIDES, SETUPS, references={w: s for w, s in SIDES.items()})
