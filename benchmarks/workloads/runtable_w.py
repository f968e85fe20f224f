"""runtable's side of every workload (run in the repository's environment). See ``_common`` for
the protocol and ``sqlite_w`` for the raw baselines they are paired with.

Only public calls: ``connect``, ``create_experiment``, ``add_runs``, ``exp.run()``,
``run.fields.x = ...``, ``run.log``, ``execute``, ``persist``, ``load_experiment``, ``runs.df()``,
``session.close()``; each timed part opens its session and closes it before the timer stops.
"""

from __future__ import annotations

import time
import types
from pathlib import Path
from typing import Any

import sqlite_w
from _common import (
    WIDE_FIELDS,
    Ctx,
    Side,
    Timed,
    float_source,
    main,
    trivial,
    w2_axes,
    w2_points,
    w3_value,
)

rt: Any = None  # the runtable module, imported by preload()


def preload() -> None:
    """Import runtable and what it imports lazily (SQLAlchemy's SQLite dialect, numpy, pandas,
    joblib) before anything is measured; the warm-up then pays what is left."""
    global rt
    import joblib  # noqa: F401
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import sqlalchemy.dialects.sqlite  # noqa: F401

    import runtable

    rt = runtable


def url(path: Path) -> str:
    return f"sqlite:///{path}"


#: The value stream of ``fill`` (reset before each call, so every call writes the same values).
_stream = [float_source()]


def fill(run: Any) -> None:
    """The W2 step: set the 5 float fields."""
    value = _stream[0]
    fields = run.fields
    fields.f0 = value()
    fields.f1 = value()
    fields.f2 = value()
    fields.f3 = value()
    fields.f4 = value()


def grid_experiment(session: Any, name: str, n: int) -> Any:
    """A W2 grid of ``n`` runs with the 5 fields set by executing ``fill`` in this process."""
    _stream[0] = float_source()
    exp = session.create_experiment(name).add_runs(**w2_axes(n))
    return exp.execute(fill, n_jobs=1, progress=False)


def track_w2(exp: Any, points: list[tuple[Any, Any, Any]]) -> None:
    """W2-with's loop: one ``with exp.run(...)`` block per point, setting the 5 fields."""
    value = float_source()
    for a, b, c in points:
        with exp.run(a=a, b=b, c=c) as run:
            fields = run.fields
            fields.f0 = value()
            fields.f1 = value()
            fields.f2 = value()
            fields.f3 = value()
            fields.f4 = value()


def w2_with(ctx: Ctx) -> Timed:
    def timed() -> None:
        session = rt.connect(url(ctx.work / "rt.db"))
        exp = session.create_experiment("w2")
        track_w2(exp, w2_points(ctx.size))
        exp.persist()
        session.close()

    ctx.info["api"] = f"{noop_with_us(ctx.size):.2f} µs a run for the same loop on a no-op"
    return timed


class _NoOpRun:
    """``exp.run(...)``, its ``with`` block and ``run.fields`` that do nothing."""

    def __init__(self) -> None:
        self.fields = types.SimpleNamespace()

    def run(self, **params: Any) -> _NoOpRun:
        return self

    def __enter__(self) -> _NoOpRun:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def noop_with_us(n: int) -> float:
    """µs per run of W2-with's loop on an experiment, run and fields that do nothing, above
    the same loop that only makes the values: what the API's calls cost by themselves, a
    bound no implementation of them goes under."""
    points = w2_points(n)

    def loop(x: Any) -> float:
        start = time.perf_counter()
        track_w2(x, points)
        return time.perf_counter() - start

    def bare() -> float:
        value = float_source()
        rows = []
        start = time.perf_counter()
        for a, b, c in points:
            rows.append((a, b, c, value(), value(), value(), value(), value()))
        return time.perf_counter() - start

    api = min(loop(_NoOpRun()) for _ in range(3)) - min(bare() for _ in range(3))
    return max(api, 0.0) / n * 1e6


def w2_grid(ctx: Ctx) -> Timed:
    def timed() -> None:
        session = rt.connect(url(ctx.work / "rt.db"))
        grid_experiment(session, "w2", ctx.size).persist()
        session.close()

    return timed


def w3(ctx: Ctx) -> Timed:
    def timed() -> None:
        session = rt.connect(url(ctx.work / "rt.db"))
        exp = session.create_experiment("w3")
        with exp.run() as run:
            for i in range(ctx.size):
                run.log(loss=w3_value(i))
        exp.persist()
        session.close()

    ctx.info["api"] = f"run.log(loss=v) per value; {noop_log_us(ctx.size):.2f} µs a call to a no-op"
    return timed


class _NoOp:
    def log(self, step: int | None = None, **metrics: float) -> None:
        pass


def noop_log_us(n: int) -> float:
    """µs per ``x.log(loss=v)`` call, in a loop like W3's, to a method that does nothing: a
    bound on W3 that no implementation of that call can go under."""
    x = _NoOp()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for i in range(n):
            x.log(loss=w3_value(i))
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


def write_w4(path: Path, data: list[Any]) -> None:
    session = rt.connect(url(path))
    exp = session.create_experiment("w4").add_runs(i=range(len(data)))
    for run in exp.runs:
        run.fields.x = data[run.params.i]
    exp.persist()
    session.close()


def w4_write(ctx: Ctx) -> Timed:
    data = sqlite_w.w4_arrays(ctx.size)
    ctx.info["data_mb"] = sum(a.nbytes for a in data) / 2**20

    def timed() -> None:
        write_w4(ctx.work / "rt.db", data)

    return timed


def setup_w4(mb: int, root: Path) -> None:
    write_w4(root / f"rt-w4-{mb}.db", sqlite_w.w4_arrays(mb))
    sqlite_w.setup_w4(mb, root)


def w4_read(ctx: Ctx) -> Timed:
    def timed() -> list[Any]:
        session = rt.connect(url(ctx.root / f"rt-w4-{ctx.size}.db"))
        arrays = [run.fields.x for run in session.load_experiment("w4").runs]
        session.close()
        ctx.info["writeable"] = any(a.flags.writeable for a in arrays)
        ctx.info["data_mb"] = sum(a.nbytes for a in arrays) / 2**20
        return arrays

    return timed


def setup_w5(n: int, root: Path) -> None:
    session = rt.connect(url(root / f"rt-w5-{n}.db"))
    grid_experiment(session, "w2", n).persist()
    session.close()
    sqlite_w.setup_w5(n, root)


def load_df(path: Path, name: str, ctx: Ctx) -> Any:
    session = rt.connect(url(path))
    df = session.load_experiment(name).runs.df()
    session.close()
    ctx.info["shape"] = list(df.shape)
    return df


def w5(ctx: Ctx) -> Timed:
    return lambda: load_df(ctx.root / f"rt-w5-{ctx.size}.db", "w2", ctx)


def persist_as_you_go(ctx: Ctx) -> Timed:
    """``execute(trivial, persist=True)`` on a grid, in a fresh database."""

    def timed() -> None:
        session = rt.connect(url(ctx.work / "rt.db"))
        exp = session.create_experiment("p").add_runs(**w2_axes(ctx.size))
        exp.execute(trivial, n_jobs=1, progress=False, persist=True)
        session.close()

    return timed


def persist_at_end(ctx: Ctx) -> Timed:
    """``execute(trivial)`` then ``persist()``: the reference of ``persist_as_you_go``."""

    def timed() -> None:
        session = rt.connect(url(ctx.work / "rt.db"))
        exp = session.create_experiment("p").add_runs(**w2_axes(ctx.size))
        exp.execute(trivial, n_jobs=1, progress=False).persist()
        session.close()

    return timed


def jobs(n_jobs: int) -> Side:
    """Executing ``trivial`` on ``size`` runs (param i) with ``n_jobs``; only ``execute`` and
    the session's close are timed (building the experiment is not: plain joblib has none)."""

    def side(ctx: Ctx) -> Timed:
        session = rt.connect(url(ctx.work / "rt.db"))
        exp = session.create_experiment("j").add_runs(i=range(ctx.size))

        def timed() -> None:
            exp.execute(trivial, n_jobs=n_jobs, progress=False)
            session.close()

        return timed

    return side


def mem100k(ctx: Ctx) -> Timed:
    """A grid of 3 params with 5 float fields set by a step, held by the experiment."""

    def timed() -> Any:
        session = rt.connect(url(ctx.work / "rt.db"))
        return session, grid_experiment(session, "m", ctx.size)

    return timed


def setup_wide(n: int, root: Path) -> None:
    value = float_source()

    def step(run: Any) -> None:
        fields = run.fields
        for name in WIDE_FIELDS:
            setattr(fields, name, value())

    session = rt.connect(url(root / f"rt-wide-{n}.db"))
    exp = session.create_experiment("wide").add_runs(a=range(n // 100), b=range(100))
    exp.execute(step, n_jobs=1, progress=False).persist()
    session.close()
    sqlite_w.setup_wide(n, root)


def wide30k(ctx: Ctx) -> Timed:
    return lambda: load_df(ctx.root / f"rt-wide-{ctx.size}.db", "wide", ctx)


def million(ctx: Ctx) -> Timed:
    """1M runs x 8 fields: grid, the 5-field step, persist, load to a DataFrame (the
    experiment stays alive meanwhile, as in a script)."""

    def timed() -> None:
        phases = ctx.info.setdefault("phases", {})
        start = time.perf_counter()

        def mark(name: str) -> None:
            nonlocal start
            now = time.perf_counter()
            phases[name] = now - start
            start = now

        session = rt.connect(url(ctx.work / "rt.db"))
        _stream[0] = float_source()
        exp = session.create_experiment("m").add_runs(**w2_axes(ctx.size))
        mark("grid")
        exp.execute(fill, n_jobs=1, progress=False)
        mark("step")
        exp.persist()
        mark("persist")
        df = session.load_experiment("m").runs.df()
        session.close()
        mark("load+df")
        ctx.info["shape"] = list(df.shape)

    return timed


SIDES: dict[str, Side] = {
    "W2-with": w2_with,
    "W2-grid": w2_grid,
    "W3": w3,
    "W4-write": w4_write,
    "W4-read": w4_read,
    "W5": w5,
    "persist": persist_as_you_go,
    "jobs1": jobs(1),
    "jobs2": jobs(2),
    "mem100k": mem100k,
    "wide30k": wide30k,
    "1M": million,
}
SETUPS = {"W4-read": setup_w4, "W5": setup_w5, "wide30k": setup_wide}
REFERENCES: dict[str, Side] = {"persist": persist_at_end}

if __name__ == "__main__":
    main(SIDES, SETUPS, REFERENCES, preload)
