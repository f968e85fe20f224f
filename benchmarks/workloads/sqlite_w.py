"""The raw ``sqlite3`` baseline: the same data, one ``executemany`` in one transaction, arrays as
raw bytes, WAL + ``synchronous=NORMAL`` like runtable's default. The practical limit."""

from __future__ import annotations

import os
import sqlite3
from array import array
from typing import Any

from _common import (
    W4_RUNS,
    Timings,
    float_source,
    main,
    trivial_step_target,
    w2_points,
    w3_value,
)


def connect(tmpdir: str, name: str) -> sqlite3.Connection:
    conn = sqlite3.connect(os.path.join(tmpdir, name), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def w1(size: int, tmpdir: str) -> None:
    conn = connect(tmpdir, "w1.db")
    conn.execute("BEGIN")
    conn.execute("CREATE TABLE e_w1 (id_run INTEGER PRIMARY KEY, x REAL)")
    conn.execute("INSERT INTO e_w1 VALUES (?, ?)", (0, 0.5))
    conn.execute("COMMIT")
    conn.close()
    Timings().emit()


def w2(size: int, tmpdir: str) -> None:
    timings = Timings()
    with timings.time("total"):
        conn = connect(tmpdir, "w2.db")
        value = float_source()
        rows = [
            (i, a, b, c, value(), value(), value(), value(), value())
            for i, (a, b, c) in enumerate(w2_points(size))
        ]
        conn.execute("BEGIN")
        conn.execute("DROP TABLE IF EXISTS e_w2")
        conn.execute(
            "CREATE TABLE e_w2 (id_run INTEGER PRIMARY KEY, a INTEGER, b REAL, c TEXT, "
            "f0 REAL, f1 REAL, f2 REAL, f3 REAL, f4 REAL)"
        )
        conn.executemany("INSERT INTO e_w2 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
        conn.close()
    timings.info["runs"] = size
    timings.emit()


def w3(size: int, tmpdir: str) -> None:
    timings = Timings()
    with timings.time("total"):
        conn = connect(tmpdir, "w3.db")
        values = array("d")
        for i in range(size):
            values.append(w3_value(i))
        conn.execute("BEGIN")
        conn.execute("CREATE TABLE e_w3 (id_run INTEGER PRIMARY KEY, loss BLOB)")
        conn.executemany("INSERT INTO e_w3 VALUES (?, ?)", [(0, values.tobytes())])
        conn.execute("COMMIT")
        conn.close()
    timings.info["api"] = "array('d') as one BLOB"
    timings.emit()


def w4_write(size: int, tmpdir: str) -> None:
    import numpy as np

    timings = Timings()
    n = size * 2**20 // 8
    data = [np.random.default_rng(i).random(n) for i in range(W4_RUNS)]
    with timings.time("total"):
        conn = connect(tmpdir, "w4.db")
        conn.execute("BEGIN")
        conn.execute("CREATE TABLE e_w4 (id_run INTEGER PRIMARY KEY, x BLOB)")
        rows = [(i, a.data) for i, a in enumerate(data)]  # memoryviews: raw bytes, no copy
        conn.executemany("INSERT INTO e_w4 VALUES (?, ?)", rows)
        conn.execute("COMMIT")
        conn.close()
    timings.info["data_mb"] = sum(a.nbytes for a in data) / 2**20
    timings.emit()


def w4_read(size: int, tmpdir: str) -> None:
    import numpy as np

    timings = Timings()
    with timings.time("total"):
        conn = connect(tmpdir, "w4.db")
        rows = conn.execute("SELECT id_run, x FROM e_w4 ORDER BY id_run").fetchall()
        arrays = [np.frombuffer(blob, dtype=np.float64) for _, blob in rows]
        conn.close()
    timings.info["data_mb"] = sum(a.nbytes for a in arrays) / 2**20
    timings.emit()


def w5(size: int, tmpdir: str) -> None:
    import pandas as pd

    timings = Timings()
    with timings.time("total"):
        conn = connect(tmpdir, "w2.db")
        cursor = conn.execute("SELECT * FROM e_w2 ORDER BY id_run")
        columns = [d[0] for d in cursor.description]
        df = pd.DataFrame(cursor.fetchall(), columns=columns)
        conn.close()
    timings.info["shape"] = list(df.shape)
    timings.emit()


def trivial(run: Any) -> None:
    run.fields.y = 1


def w6(size: int, tmpdir: str) -> None:
    """The plain Python loop that runtable's and MLTRAQ's W6 overheads are measured against."""
    timings = Timings()
    targets = [trivial_step_target() for _ in range(size)]
    with timings.time("total"):
        for target in targets:
            trivial(target)
    timings.t["loop"] = timings.t["total"]
    timings.emit()


WORKLOADS = {
    "W1": w1,
    "W2": w2,
    "W3": w3,
    "W4w": w4_write,
    "W4r": w4_read,
    "W5": w5,
    "W6j1": w6,
}

if __name__ == "__main__":
    main(WORKLOADS)
