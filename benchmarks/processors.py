"""Do SQLAlchemy's private cached processor look-ups pay off in runtable's bulk I/O?

Compares, in one process and alternating, three ways `runtable.storage.bulk` can process
columns, on a 10k-run persist (3 params + 5 float fields, with timestamps) and a load of it:

- ``public``: ``type_.dialect_impl(dialect).bind_processor(dialect)`` (what bulk.py does);
- ``private``: ``type_._cached_bind_processor(dialect)`` / ``_cached_result_processor`` (what
  sql.py did before; SQLAlchemy internals);
- ``core``: no column-wise path at all: ``conn.execute(table.insert(), [dict per row])`` and
  ``conn.execute(select)`` with a Row per run (SQLAlchemy's compiled-statement path).

Each repetition runs the three in a rotated order, each replacing one experiment ``w``. Also
times the look-ups alone. Run from the repository root:

    PYTHONPATH=src python benchmarks/processors.py [--reps 5] [--postgres URL]

Without ``--postgres`` a throwaway server is started from tests/pgserver.py (local binaries).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import runtable as rt
from runtable.storage import bulk

N_RUNS = 10_000


def private_bind(type_: Any, dialect: Any) -> Any:
    return type_._cached_bind_processor(dialect)


def private_result(type_: Any, dialect: Any, type_code: Any) -> Any:
    return type_._cached_result_processor(dialect, type_code)


def core_insert(
    conn: sa.Connection, table: sa.Table, columns: dict[str, list[Any]], *_: Any, **__: Any
) -> None:
    names = list(columns)
    rows = [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    conn.execute(table.insert(), rows)


def core_select(conn: sa.Connection, table: sa.Table, query: Any, *_: Any) -> Any:
    result = conn.execute(query)
    keys = list(result.keys())
    rows = result.all()
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(keys)
    return dict(zip(keys, columns, strict=True)), len(rows)


PUBLIC = (bulk.bind_processor, bulk.result_processor, bulk.executemany_insert, bulk.select_columns)
VARIANTS: dict[str, tuple[Callable[..., Any], ...]] = {
    "public": PUBLIC,
    "private": (private_bind, private_result, bulk.executemany_insert, bulk.select_columns),
    "core": (bulk.bind_processor, bulk.result_processor, core_insert, core_select),
}


@contextmanager
def variant(name: str) -> Iterator[None]:
    bind, result, insert, select = VARIANTS[name]
    bulk.bind_processor, bulk.result_processor = bind, result  # type: ignore[assignment]
    bulk.executemany_insert, bulk.select_columns = insert, select  # type: ignore[assignment]
    try:
        yield
    finally:
        (
            bulk.bind_processor,
            bulk.result_processor,
            bulk.executemany_insert,
            bulk.select_columns,
        ) = PUBLIC  # type: ignore[assignment]


def experiment(session: rt.Session, name: str) -> rt.Experiment:
    exp = session.create_experiment(name)
    for i in range(N_RUNS):
        with exp.run(a=i, b=f"s{i % 7}", c=i * 0.5) as run:
            for k in range(5):
                run.fields[f"f{k}"] = i * 0.25 + k
    return exp


def measure(url: str, reps: int) -> dict[str, dict[str, list[float]]]:
    times: dict[str, dict[str, list[float]]] = {v: {"persist": [], "load": []} for v in VARIANTS}
    with rt.connect(url) as session:
        experiment(session, "warmup").persist(if_exists="replace")  # imports, reflection, ...
        session.load_experiment("warmup")
        order = list(VARIANTS)
        for rep in range(reps):
            for name in order[rep % len(order) :] + order[: rep % len(order)]:  # rotated
                exp = experiment(session, "w")
                with variant(name):
                    start = time.perf_counter()
                    exp.persist(if_exists="replace")
                    times[name]["persist"].append(time.perf_counter() - start)
                    start = time.perf_counter()
                    loaded = session.load_experiment("w")
                    times[name]["load"].append(time.perf_counter() - start)
                assert len(loaded.runs) == N_RUNS
                check = list(loaded.runs)[N_RUNS - 1]
                assert check.params["b"] == f"s{(N_RUNS - 1) % 7}", check.params
                assert check.fields["f4"] == (N_RUNS - 1) * 0.25 + 4
                assert check.started_at is not None
                assert check.ended_at is not None
            print(f"  rep {rep + 1}/{reps} done", file=sys.stderr)
    return times


def lookups(url: str) -> dict[str, float]:
    """Microseconds per look-up of one column's bind and result processors (the columns of
    the run table persisted above, with the type codes its driver reports)."""
    engine = sa.create_engine(url)
    dialect = engine.dialect
    table = sa.Table("e_warmup", sa.MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        description = conn.exec_driver_sql("SELECT * FROM e_warmup LIMIT 1").cursor.description
    pairs = [(table.c[d[0]].type, d[1]) for d in description]
    out = {}
    n = 5_000
    for label, bind, result in (("public", *PUBLIC[:2]), ("private", private_bind, private_result)):
        start = time.perf_counter()
        for _ in range(n):
            for type_, code in pairs:
                bind(type_, dialect)
                result(type_, dialect, code)
        out[label] = (time.perf_counter() - start) / (n * len(pairs)) * 1e6
    engine.dispose()
    return out


def report(backend: str, url: str, reps: int) -> None:
    times = measure(url, reps)
    print(f"\n{backend}: median of {reps}, seconds (ratio to public)")
    for what in ("persist", "load"):
        base = statistics.median(times["public"][what])
        cells = []
        for name in VARIANTS:
            m = statistics.median(times[name][what])
            cells.append(f"{name} {m:.3f} ({m / base:.2f}x)")
        print(f"  {what:8} " + "   ".join(cells))
    per = lookups(url)
    print(
        "  one column's bind + result look-up: "
        + ", ".join(f"{k} {v:.2f} us" for k, v in per.items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--postgres", help="a PostgreSQL URL (default: a throwaway server)")
    args = parser.parse_args()
    print(f"SQLAlchemy {sa.__version__}, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        report("SQLite (file)", f"sqlite:///{Path(tmp) / 'bench.db'}", args.reps)
    if args.postgres:
        report("PostgreSQL", args.postgres, args.reps)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from pgserver import throwaway_postgres

    with throwaway_postgres() as url:
        report("PostgreSQL", url, args.reps)


if __name__ == "__main__":
    main()
