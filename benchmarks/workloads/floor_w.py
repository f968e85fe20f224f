"""The storage floor of runtable's workloads: raw ``sqlite3`` writing or reading exactly the
tables runtable stores (run in the repository's environment).

runtable's run rows carry more than the raw baseline's: the run's status, error, start and end
times, step records, the version id and a cell for exact values, besides the `experiments` row.
This side measures what those bytes cost by themselves, with no runtable code timed:

- write workloads (W2, W3): runtable's side runs once, untimed, at the same size; the DDL and
  every row of its tables are read back. The timed part creates the same tables and inserts
  the same rows with one ``executemany`` per table, in one transaction, then closes. The rows
  are made before the timer starts, so the floor does not pay for drawing the field values as
  the raw baseline does: it is, if anything, low;
- read workloads (W5, wide30k): ``SELECT *`` of runtable's run table (the database runtable's
  setup wrote) and of its `experiments` row, then ``DataFrame.from_records``, as the raw
  baseline reads its own table.

Paired, like every tool, with the raw baseline of ``sqlite_w``: floor/raw is the part of
runtable's ratio that its stored format costs by itself.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import runtable_w
import sqlite_w
from _common import Ctx, Side, Timed, main

Table = tuple[str, str, list[tuple[Any, ...]]]  # name, "?, ?, ...", rows


def stored_tables(path: Path) -> tuple[list[str], list[Table]]:
    """The DDL (tables and indexes, in creation order) and the rows of every table at
    ``path``."""
    conn = sqlite3.connect(path)
    try:
        ddl = [
            sql
            for (sql,) in conn.execute(
                "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid"
            )
        ]
        tables: list[Table] = []
        names = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid")
        for (name,) in names.fetchall():
            cursor = conn.execute(f'SELECT * FROM "{name}"')
            marks = ", ".join("?" for _ in cursor.description)
            tables.append((name, marks, cursor.fetchall()))
    finally:
        conn.close()
    return ddl, tables


def write_floor(workload: str) -> Side:
    """Raw sqlite3 writing the tables runtable's ``workload`` side writes at this size."""

    def side(ctx: Ctx) -> Timed:
        with tempfile.TemporaryDirectory(dir=ctx.work) as scratch:
            runtable_w.SIDES[workload](Ctx(ctx.size, ctx.root, Path(scratch)))()
            ddl, tables = stored_tables(Path(scratch) / "rt.db")
        ctx.info["rows"] = sum(len(rows) for _, _, rows in tables)

        def timed() -> None:
            conn = sqlite_w.connect(ctx.work / "floor.db")
            conn.execute("BEGIN")
            for statement in ddl:
                conn.execute(statement)
            for name, marks, rows in tables:
                conn.executemany(f'INSERT INTO "{name}" VALUES ({marks})', rows)
            conn.execute("COMMIT")
            conn.close()

        return timed

    return side


def read_floor(database: str, table: str) -> Side:
    """Raw sqlite3 reading runtable's run table (every stored column) and its experiments row
    into a DataFrame, as the raw baseline reads its own table."""

    def side(ctx: Ctx) -> Timed:
        path = ctx.root / database.format(n=ctx.size)

        def timed() -> Any:
            import pandas as pd

            conn = sqlite_w.connect(path)
            conn.execute("SELECT * FROM experiments").fetchall()
            cursor = conn.execute(f"SELECT * FROM {table} ORDER BY id_run")
            columns = [d[0] for d in cursor.description]
            df = pd.DataFrame.from_records(cursor.fetchall(), columns=columns)
            conn.close()
            ctx.info["shape"] = list(df.shape)
            return df

        return timed

    return side


SIDES: dict[str, Side] = {
    "W2-with": write_floor("W2-with"),
    "W2-grid": write_floor("W2-grid"),
    "W3": write_floor("W3"),
    "W5": read_floor("rt-w5-{n}.db", "e_w2"),
    "wide30k": read_floor("rt-wide-{n}.db", "e_wide"),
}

if __name__ == "__main__":
    main(SIDES, runtable_w.SETUPS, preload=runtable_w.preload)
