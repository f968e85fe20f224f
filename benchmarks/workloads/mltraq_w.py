"""MLTRAQ's workloads (run in ``benchmarks/.venvs/mltraq``). See ``_common`` for the protocol.

MLTRAQ stores only ``run.fields`` (params are cleared after execution), so W2 copies the
params into fields. Its tqdm progress bars are disabled (see ``preload``).
"""

from __future__ import annotations

import os
from typing import Any

from _common import W4_RUNS, Timings, float_source, main, trivial_step_target, w2_axes, w3_value


def url(tmpdir: str, name: str) -> str:
    return "sqlite:///" + os.path.join(tmpdir, name)


def preload() -> Any:
    import mltraq
    import numpy  # noqa: F401
    import pandas  # noqa: F401

    # No progress bars: runtable shows none either (outside a terminal), and a bar redrawn for
    # each of 1,000 runs would be measured too.
    mltraq.options().set("tqdm.disable", True)
    return mltraq


def w1(size: int, tmpdir: str) -> None:
    import mltraq  # cold: W1 is the whole process, imports included

    session = mltraq.create_session(url(tmpdir, "w1.db"))
    exp = session.create_experiment("w1")
    with exp.run() as run:
        run.fields.x = 0.5
    exp.persist()
    Timings().emit()


def w2(size: int, tmpdir: str) -> None:
    mltraq = preload()
    timings = Timings()
    with timings.time("total"):
        session = mltraq.create_session(url(tmpdir, "w2.db"))
        exp = session.create_experiment("w2")
        exp.add_runs(**w2_axes(size))
        value = float_source()
        for run in exp.runs.values():
            fields, params = run.fields, run.params
            fields.a = params.a
            fields.b = params.b
            fields.c = params.c
            fields.f0 = value()
            fields.f1 = value()
            fields.f2 = value()
            fields.f3 = value()
            fields.f4 = value()
        exp.persist(if_exists="replace")
    timings.info["runs"] = size
    timings.emit()


def w3(size: int, tmpdir: str, sequence: bool = False) -> None:
    import numpy as np

    mltraq = preload()
    timings = Timings()
    with timings.time("total"):
        session = mltraq.create_session(url(tmpdir, "w3.db"))
        exp = session.create_experiment("w3")
        with exp.run() as run:
            if sequence:
                run.fields.loss = mltraq.Sequence()
                for i in range(size):
                    run.fields.loss.append(loss=w3_value(i))
            else:
                values = []
                for i in range(size):
                    values.append(w3_value(i))
                run.fields.loss = np.array(values)
        exp.persist(if_exists="replace")
    timings.info["api"] = "Sequence.append(loss=v)" if sequence else "np.array field"
    timings.emit()


def w4_write(size: int, tmpdir: str) -> None:
    import numpy as np

    mltraq = preload()
    timings = Timings()
    n = size * 2**20 // 8
    data = [np.random.default_rng(i).random(n) for i in range(W4_RUNS)]
    with timings.time("total"):
        session = mltraq.create_session(url(tmpdir, "w4.db"))
        exp = session.create_experiment("w4")
        exp.add_runs(i=range(W4_RUNS))
        for run in exp.runs.values():
            run.fields.i = run.params.i
            run.fields.x = data[run.params.i]
        exp.persist(if_exists="replace")
    timings.info["data_mb"] = sum(a.nbytes for a in data) / 2**20
    timings.emit()


def w4_read(size: int, tmpdir: str) -> None:
    mltraq = preload()
    timings = Timings()
    with timings.time("total"):
        session = mltraq.create_session(url(tmpdir, "w4.db"))
        exp = session.load_experiment("w4")
        arrays = [run.fields.x for run in exp.runs.values()]
    timings.info["data_mb"] = sum(a.nbytes for a in arrays) / 2**20
    timings.emit()


def w5(size: int, tmpdir: str) -> None:
    mltraq = preload()
    timings = Timings()
    with timings.time("total"):
        session = mltraq.create_session(url(tmpdir, "w2.db"))
        exp = session.load_experiment("w2")
        df = exp.runs.df()
    timings.info["shape"] = list(df.shape)
    timings.emit()


def trivial(run: Any) -> None:
    run.fields.y = 1


def w6(size: int, tmpdir: str, n_jobs: int) -> None:
    mltraq = preload()
    timings = Timings()
    session = mltraq.create_session(url(tmpdir, "w6.db"))
    exp = session.create_experiment("w6")
    exp.add_runs(i=range(size))
    targets = [trivial_step_target() for _ in range(size)]
    with timings.time("loop"):
        for target in targets:
            trivial(target)
    with timings.time("total"):
        exp.execute(trivial, n_jobs=n_jobs)
    with timings.time("warm"):  # a second execution in the same process
        exp.execute(trivial, n_jobs=n_jobs)
    assert all(run.fields.y == 1 for run in exp.runs.values())
    timings.emit()


WORKLOADS = {
    "W1": w1,
    "W2": w2,
    "W3": w3,
    "W3seq": lambda size, tmpdir: w3(size, tmpdir, sequence=True),
    "W4w": w4_write,
    "W4r": w4_read,
    "W5": w5,
    "W6j1": lambda size, tmpdir: w6(size, tmpdir, 1),
    "W6j2": lambda size, tmpdir: w6(size, tmpdir, 2),
}

if __name__ == "__main__":
    main(WORKLOADS)
