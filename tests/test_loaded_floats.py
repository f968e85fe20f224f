"""A loaded column of floats is kept packed (8 bytes a value); through the public API it is the
same list of floats it was: reads, writes of any value, deletes, added runs, execution in
process and in workers, copies, pickles and persists behave as before loading."""

from __future__ import annotations

import pickle
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

import runtable as rt

VALUES = [0.5, -1.25, 3.0e300, 7.0]


def _loaded(session: rt.Session) -> rt.Experiment:
    exp = session.create_experiment("f").add_runs(i=range(len(VALUES)), w=[0.25])
    exp.execute(lambda run: setattr(run.fields, "x", VALUES[run.params.i]))
    exp.persist()
    return session.load_experiment("f")


def _x(exp: rt.Experiment) -> list[object]:
    return [run.fields.get("x", "absent") for run in exp.runs]


def test_reads_give_the_floats_and_df_float64(session: rt.Session) -> None:
    exp = _loaded(session)
    assert _x(exp) == VALUES
    assert all(type(run.fields.x) is float for run in exp.runs)
    assert all(type(run.params.w) is float for run in exp.runs)
    df = exp.df()
    assert df["x"].dtype == np.float64
    assert df["x"].tolist() == VALUES
    assert df["w"].tolist() == [0.25] * len(VALUES)


def test_writes_of_any_value_and_deletes_keep_their_type(session: rt.Session) -> None:
    exp = _loaded(session)
    before = exp.df()
    exp.runs.at(0).fields.x = 2.5
    exp.runs.at(1).fields.x = 1
    exp.runs.at(2).fields["x"] = np.float64(4.5)
    del exp.runs.at(3).fields.x
    assert _x(exp) == [2.5, 1, 4.5, "absent"]
    assert [type(v) for v in _x(exp)[:3]] == [float, int, np.float64]
    assert before["x"].tolist() == VALUES  # a DataFrame made before is not a view
    exp.runs.at(3).fields.x = "text"
    assert _x(exp) == [2.5, 1, 4.5, "text"]
    exp.persist(if_exists="append")
    again = session.load_experiment("f")
    assert _x(again) == [2.5, 1, 4.5, "text"]
    assert type(_x(again)[1]) is int


def test_a_float_written_stays_a_float_and_is_persisted(session: rt.Session) -> None:
    exp = _loaded(session)
    for run in exp.runs:
        run.fields.x = run.fields.x * 2
    assert _x(exp) == [v * 2 for v in VALUES]
    exp.persist(if_exists="append")
    assert _x(session.load_experiment("f")) == [v * 2 for v in VALUES]


def test_runs_added_after_a_load(session: rt.Session) -> None:
    exp = _loaded(session)
    exp.add_run(i=10, w=1)  # an int into the loaded float param column
    exp.add_runs(i=[11, 12], w=[0.75])
    with exp.run(i=13, w=2.0) as run:
        run.fields.x = 9.0
    assert _x(exp) == [*VALUES, "absent", "absent", "absent", 9.0]
    w = [run.params.w for run in exp.runs]
    assert w == [0.25] * 4 + [1, 0.75, 0.75, 2.0]
    assert type(w[4]) is int
    exp.persist(if_exists="append")
    assert _x(session.load_experiment("f")) == _x(exp)


def test_execution_in_process_and_in_workers_after_a_load(session: rt.Session) -> None:
    here = _loaded(session)
    here.execute(lambda run: setattr(run.fields, "x", run.params.i), n_jobs=1)
    assert _x(here) == [0, 1, 2, 3]
    assert type(_x(here)[0]) is int
    workers = session.load_experiment("f")
    workers.execute(lambda run: setattr(run.fields, "y", run.fields.x + 1.0), n_jobs=2)
    assert [run.fields.y for run in workers.runs] == [v + 1.0 for v in VALUES]
    assert _x(workers) == VALUES


def test_copies_and_pickles_are_the_same_runs(session: rt.Session) -> None:
    exp = _loaded(session)
    copied = pickle.loads(pickle.dumps(exp))
    assert _x(copied) == VALUES
    copied.runs.at(0).fields.x = "changed"
    assert _x(exp) == VALUES
    merged = session.create_experiment("g").merge_runs(exp)
    assert _x(merged) == VALUES
    pd.testing.assert_frame_equal(
        merged.df().drop(columns="id_run"), exp.df().drop(columns="id_run")
    )


def test_columns_longer_than_a_fetch_keep_every_value(session: rt.Session) -> None:
    """Rows are fetched in chunks: a float column packed until a missing value, None, NaN or
    -0.0 in a later chunk loads as the values it had."""
    n = 2500
    special: dict[int, object] = {1700: "absent", 2200: None, 100: float("nan"), 2400: -0.0}

    def step(run: rt.Run) -> None:
        i = run.params.i
        run.fields.y = i / 7
        value = special.get(i, i / 3)
        if value != "absent":
            run.fields.x = value

    exp = session.create_experiment("long").add_runs(i=range(n)).execute(step).persist()
    loaded = session.load_experiment("long")
    got = [run.fields.get("x", "absent") for run in loaded.runs]
    assert [run.fields.y for run in loaded.runs] == [i / 7 for i in range(n)]
    assert got[1700] == "absent"
    assert got[2200] is None
    assert np.isnan(got[100])
    assert str(got[2400]) == "-0.0"
    assert [v for i, v in enumerate(got) if i not in special] == [
        i / 3 for i in range(n) if i not in special
    ]
    assert loaded.df()["y"].tolist() == exp.df()["y"].tolist()


def test_threads_writing_a_loaded_column_lose_no_write(session: rt.Session) -> None:
    import threading

    exp = session.create_experiment("t").add_runs(i=range(4000))
    exp.execute(lambda run: setattr(run.fields, "x", 0.5)).persist()
    loaded = session.load_experiment("t")
    runs = [loaded.runs.at(i) for i in range(4000)]

    def write(part: int) -> None:
        for run in runs[part::4]:  # floats, and ints that turn the column into a list
            run.fields.x = run.params.i if run.params.i % 7 == 0 else float(run.params.i)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [run.fields.x for run in runs] == list(range(4000))
    assert [type(run.fields.x) for run in runs] == [
        int if i % 7 == 0 else float for i in range(4000)
    ]


def test_a_thread_reading_a_packed_column_while_another_unpacks_it_reads_its_values(
    tmp_path: Path,
) -> None:
    # Regression: a read that fetched the packed column just before another thread turned it
    # into a list (writing an int) indexed the emptied array: IndexError. A race, so it is
    # tried many times with a short switch interval (it failed about 1 trial in 15).
    url = f"sqlite:///{tmp_path / 'race.db'}"
    exp = rt.connect(url).create_experiment("e").add_runs(x=[i + 0.5 for i in range(50)])
    exp.execute(lambda run: setattr(run.fields, "y", run.params.x)).persist()
    errors: list[str] = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        for _ in range(60):
            loaded = rt.connect(url).load_experiment("e")
            watched = loaded.runs.at(5)
            stop = threading.Event()

            def monitor(watched: rt.Run = watched, stop: threading.Event = stop) -> None:
                while not stop.is_set():
                    try:
                        assert watched.fields.y == 5.5
                    except Exception as e:
                        errors.append(repr(e))
                        return

            thread = threading.Thread(target=monitor)
            thread.start()
            time.sleep(0.002)
            loaded.runs.at(0).fields.y = 1  # an int: the column becomes a list
            stop.set()
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
