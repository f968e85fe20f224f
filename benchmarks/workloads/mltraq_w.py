"""MLTRAQ's side of the workloads it has (run in ``benchmarks/.venvs/mltraq``). See ``_common``
for the protocol and ``sqlite_w`` for the raw baselines they are paired with.

MLTRAQ stores only ``run.fields`` (params are cleared after execution), so the W2 workloads copy
the params into fields. Its progress bars are disabled (see ``preload``) and every execution
passes ``n_jobs`` (MLTRAQ's default is all cores). Its session has no close: its SQLAlchemy
engine is disposed inside the timer instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlite_w
from _common import (
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

mltraq: Any = None  # the module, imported by preload()


def preload() -> None:
    global mltraq
    import joblib  # noqa: F401
    import mltraq as module
    import numpy  # noqa: F401
    import pandas  # noqa: F401

    # No progress bars: runtable shows none either outside a terminal.
    module.options().set("tqdm.disable", True)
    mltraq = module


def session_at(path: Path) -> Any:
    return mltraq.create_session(f"sqlite:///{path}")


def close(session: Any) -> None:
    session.db.engine.dispose()


_stream = [float_source()]


def fill(run: Any) -> None:
    """The W2 step: the params copied into fields, and the 5 float fields."""
    value = _stream[0]
    fields, params = run.fields, run.params
    fields.a = params.a
    fields.b = params.b
    fields.c = params.c
    fields.f0 = value()
    fields.f1 = value()
    fields.f2 = value()
    fields.f3 = value()
    fields.f4 = value()


def write_w2(path: Path, n: int) -> None:
    session = session_at(path)
    _stream[0] = float_source()
    exp = session.create_experiment("w2").add_runs(**w2_axes(n))
    exp.execute(fill, n_jobs=1)
    exp.persist()
    close(session)


def w2_with(ctx: Ctx) -> Timed:
    def timed() -> None:
        value = float_source()
        session = session_at(ctx.work / "mq.db")
        exp = session.create_experiment("w2")
        for a, b, c in w2_points(ctx.size):
            with exp.run() as run:
                fields = run.fields
                fields.a = a
                fields.b = b
                fields.c = c
                fields.f0 = value()
                fields.f1 = value()
                fields.f2 = value()
                fields.f3 = value()
                fields.f4 = value()
        exp.persist()
        close(session)

    return timed


def w2_grid(ctx: Ctx) -> Timed:
    return lambda: write_w2(ctx.work / "mq.db", ctx.size)


def w3(ctx: Ctx) -> Timed:
    def timed() -> None:
        session = session_at(ctx.work / "mq.db")
        exp = session.create_experiment("w3")
        with exp.run() as run:
            run.fields.loss = mltraq.Sequence()
            for i in range(ctx.size):
                run.fields.loss.append(loss=w3_value(i))
        exp.persist()
        close(session)

    ctx.info["api"] = "Sequence.append(loss=v) per value"
    return timed


def write_w4(path: Path, data: list[Any]) -> None:
    session = session_at(path)
    exp = session.create_experiment("w4").add_runs(i=range(len(data)))
    for run in exp.runs.values():
        run.fields.i = run.params.i
        run.fields.x = data[run.params.i]
    exp.persist()
    close(session)


def w4_write(ctx: Ctx) -> Timed:
    data = sqlite_w.w4_arrays(ctx.size)
    ctx.info["data_mb"] = sum(a.nbytes for a in data) / 2**20
    return lambda: write_w4(ctx.work / "mq.db", data)


def setup_w4(mb: int, root: Path) -> None:
    write_w4(root / f"mq-w4-{mb}.db", sqlite_w.w4_arrays(mb))
    sqlite_w.setup_w4(mb, root)


def w4_read(ctx: Ctx) -> Timed:
    def timed() -> list[Any]:
        session = session_at(ctx.root / f"mq-w4-{ctx.size}.db")
        arrays = [run.fields.x for run in session.load_experiment("w4").runs.values()]
        close(session)
        ctx.info["writeable"] = any(a.flags.writeable for a in arrays)
        ctx.info["data_mb"] = sum(a.nbytes for a in arrays) / 2**20
        return arrays

    return timed


def setup_w5(n: int, root: Path) -> None:
    write_w2(root / f"mq-w5-{n}.db", n)
    sqlite_w.setup_w5(n, root)


def w5(ctx: Ctx) -> Timed:
    def timed() -> Any:
        session = session_at(ctx.root / f"mq-w5-{ctx.size}.db")
        df = session.load_experiment("w2").runs.df()
        close(session)
        ctx.info["shape"] = list(df.shape)
        return df

    return timed


def jobs(n_jobs: int) -> Side:
    """Executing ``trivial`` on ``size`` runs (param i) with ``n_jobs``; only ``execute`` and the
    engine's disposal are timed."""

    def side(ctx: Ctx) -> Timed:
        session = session_at(ctx.work / "mq.db")
        exp = session.create_experiment("j").add_runs(i=range(ctx.size))

        def timed() -> None:
            exp.execute(trivial, n_jobs=n_jobs)
            close(session)

        return timed

    return side


SIDES: dict[str, Side] = {
    "W2-with": w2_with,
    "W2-grid": w2_grid,
    "W3": w3,
    "W4-write": w4_write,
    "W4-read": w4_read,
    "W5": w5,
    "jobs1": jobs(1),
    "jobs2": jobs(2),
}
SETUPS = {"W4-read": setup_w4, "W5": setup_w5}

if __name__ == "__main__":
    main(SIDES, SETUPS, preload=preload)
