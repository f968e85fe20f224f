"""Incremental persistence and resume: execute(persist=True), and execute(resume=True) that
skips the runs already done with the same steps (and only when asked)."""

from __future__ import annotations

import functools
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import backend_name

import runtable as rt
from runtable.names import ERROR_COLUMN, STATUS_COLUMN

calls: list[int] = []


@rt.step
def square(run: rt.Run) -> None:
    calls.append(run.params.x)
    run.fields.sq = run.params.x**2


@pytest.fixture(autouse=True)
def _no_calls() -> None:
    calls.clear()


def _statuses(session: rt.Session, name: str) -> dict[str, int]:
    df = session.query(
        f"SELECT {STATUS_COLUMN} AS status, COUNT(*) AS n FROM e_{name} GROUP BY {STATUS_COLUMN}"
    )
    return dict(zip(df["status"], df["n"], strict=True))


def test_execute_with_persist_stores_the_grid_then_each_finished_run(shared_url: str) -> None:
    session = rt.connect(shared_url)
    exp = session.create_experiment("inc").add_runs(x=range(10))
    exp.execute(square, persist=True)
    assert exp.id is not None
    loaded = rt.connect(shared_url).load_experiment("inc")
    assert [r.fields.sq for r in loaded.runs] == [x * x for x in range(10)]
    assert {r.status for r in loaded.runs} == {"done"}
    assert _statuses(session, "inc") == {"done": 10}


def test_a_loaded_experiment_skips_runs_done_with_the_same_steps(shared_url: str) -> None:
    session = rt.connect(shared_url)
    session.create_experiment("skip").add_runs(x=range(5)).execute(square, persist=True)
    calls.clear()
    loaded = rt.connect(shared_url).load_experiment("skip")
    loaded.execute(square, persist=True, resume=True)
    assert calls == []
    assert loaded.last_execution is not None
    assert loaded.last_execution.skipped == 5
    loaded.execute(square, persist=True)  # without resume: everything, as given
    assert calls == [0, 1, 2, 3, 4]


def test_only_failed_runs_execute_again(shared_url: str) -> None:
    session = rt.connect(shared_url)
    exp = session.create_experiment("flaky").add_runs(x=range(6))
    broken = {2, 4}

    @rt.step(name="square")
    def sometimes(run: rt.Run) -> None:
        if run.params.x in broken:
            raise RuntimeError("flaky")
        run.fields.sq = run.params.x**2

    exp.execute(sometimes, persist=True, on_error="record")
    assert _statuses(session, "flaky") == {"done": 4, "failed": 2}

    broken.clear()
    seen: list[int] = []

    @rt.step(name="square")
    def sometimes_again(run: rt.Run) -> None:  # same name, other code: a different step
        seen.append(run.params.x)
        run.fields.sq = run.params.x**2

    loaded = rt.connect(shared_url).load_experiment("flaky")
    loaded.execute(sometimes_again, persist=True, resume=True)
    assert sorted(seen) == [0, 1, 2, 3, 4, 5]  # changed code: everything again

    seen.clear()
    again = rt.connect(shared_url).load_experiment("flaky")
    again.execute(sometimes_again, persist=True, resume=True)
    assert seen == []
    assert _statuses(session, "flaky") == {"done": 6}


def test_a_new_config_or_seed_executes_again(session: rt.Session) -> None:
    exp = session.create_experiment("cfg").add_runs(x=range(3))
    exp.execute(square, config={"k": 1})
    exp.execute(square, config={"k": 1}, resume=True)
    assert calls == [0, 1, 2]
    exp.execute(square, config={"k": 2}, resume=True)
    assert calls == [0, 1, 2] * 2
    exp.seed = 7
    exp.execute(square, resume=True)
    assert calls == [0, 1, 2] * 3
    exp.execute(square)  # no resume: executed as given
    assert calls == [0, 1, 2] * 4


def test_resume_in_the_same_process_compares_each_given_step(session: rt.Session) -> None:
    """After ``execute([square, cube])`` in this process, ``resume=True`` skips a run for
    any subset of those steps, and executes it for a step it has no record of."""

    @rt.step
    def cube(run: rt.Run) -> None:
        calls.append(-run.params.x)

    @rt.step
    def third(run: rt.Run) -> None:
        calls.append(100 + run.params.x)

    exp = session.create_experiment("two_steps").add_runs(x=range(3))
    exp.execute([square, cube])
    assert calls == [0, 0, 1, -1, 2, -2]
    calls.clear()
    exp.execute([cube], resume=True).execute([cube, square], resume=True)
    assert calls == []
    exp.execute([cube, third], resume=True)
    assert calls == [0, 100, -1, 101, -2, 102]
    assert exp.last_execution is not None
    assert exp.last_execution.skipped == 0
    assert all(set(run.steps) == {"square", "cube", "third"} for run in exp.runs)


def test_extending_the_grid_of_a_stored_experiment_runs_only_new_points(shared_url: str) -> None:
    session = rt.connect(shared_url)
    session.create_experiment("grow").add_runs(x=[1, 2]).execute(square, persist=True)
    calls.clear()
    loaded = rt.connect(shared_url).load_experiment("grow")
    loaded.add_runs(x=[1, 2, 3, 4]).execute(square, persist=True, resume=True)
    assert calls == [3, 4]  # the two new grid points
    stored = rt.connect(shared_url).load_experiment("grow")
    assert [(r.params.x, r.fields.sq) for r in stored.runs] == [(1, 1), (2, 4), (3, 9), (4, 16)]


def test_persisting_runs_adds_columns_and_companions_as_they_appear(shared_url: str) -> None:
    session = rt.connect(shared_url)
    exp = session.create_experiment("types").add_runs(x=range(4))

    def vary(run: rt.Run) -> None:
        run.fields.v = [1, 2.5, "text", None][run.params.x]
        if run.params.x == 3:
            run.fields.late = {"only": "here"}

    exp.execute(vary, persist=True)
    loaded = rt.connect(shared_url).load_experiment("types")
    assert [r.fields.v for r in loaded.runs] == [1, 2.5, "text", None]
    assert [dict(r.fields).get("late") for r in loaded.runs] == [None, None, None, {"only": "here"}]


def test_persist_true_with_append_and_a_process_backend(shared_url: str) -> None:
    session = rt.connect(shared_url)
    session.create_experiment("app").add_runs(x=[0, 1]).persist()
    exp = session.create_experiment("app").add_runs(x=[2, 3])  # another shard of the grid
    exp.execute(square, persist=True, if_exists="append", n_jobs=2, backend="loky")
    loaded = rt.connect(shared_url).load_experiment("app")
    got = sorted((r.params.x, dict(r.fields).get("sq")) for r in loaded.runs)
    assert got == [(0, None), (1, None), (2, 4), (3, 9)]


def test_a_stored_run_with_other_params_is_a_conflict_not_an_overwrite(shared_url: str) -> None:
    first = rt.connect(shared_url)
    first.create_experiment("two").add_run(x=1).execute(square, persist=True)
    stale = rt.connect(shared_url).load_experiment("two")
    first.query("UPDATE e_two SET x = 99")  # another writer changed what that run is
    if backend_name(first) == "crate":
        first.query("REFRESH TABLE e_two")
    with pytest.raises(rt.ConflictError, match=f"run {stale.runs.first().id}"):
        stale.execute(square, persist=True)
    assert [r.params.x for r in first.load_experiment("two").runs] == [99]


INTERRUPT_AT: set[int] = set()


@rt.step
def interruptible(run: rt.Run) -> None:
    if run.params.x in INTERRUPT_AT:
        raise KeyboardInterrupt
    calls.append(run.params.x)
    run.fields.sq = run.params.x**2


def test_keyboard_interrupt_keeps_the_runs_finished_before_it(shared_url: str) -> None:
    session = rt.connect(shared_url)
    exp = session.create_experiment("ctrl_c").add_runs(x=range(20))
    INTERRUPT_AT.add(12)
    with pytest.raises(KeyboardInterrupt):
        exp.execute(interruptible, persist=True)
    assert _statuses(session, "ctrl_c") == {"done": 12, "pending": 8}
    INTERRUPT_AT.clear()
    calls.clear()
    loaded = rt.connect(shared_url).load_experiment("ctrl_c")
    loaded.execute(interruptible, persist=True, resume=True)
    assert sorted(calls) == list(range(12, 20))  # only what the interrupt left
    assert _statuses(session, "ctrl_c") == {"done": 20}


def test_a_failure_with_raise_stores_the_failed_run_too(shared_url: str) -> None:
    session = rt.connect(shared_url)
    exp = session.create_experiment("boom").add_runs(x=range(5))

    def fail_at_three(x: int) -> dict[str, int]:
        if x == 3:
            raise ValueError("three")
        return {"sq": x * x}

    with pytest.raises(ValueError, match="three"):
        exp.execute(fail_at_three, persist=True)
    df = session.query(
        f"SELECT x, {STATUS_COLUMN} AS status, {ERROR_COLUMN} AS error FROM e_boom ORDER BY x"
    )
    assert list(df["status"]) == ["done", "done", "done", "failed", "pending"]
    assert "ValueError: three" in df["error"][3]


SWEEP = textwrap.dedent(
    """
    import sys, time
    import runtable as rt

    url, marker = sys.argv[1], sys.argv[2]

    @rt.step
    def simulate(run):
        position = run.params.a * 20 + run.params.b
        if position == 120:
            open(marker, "w").close()   # the parent kills us from here on
        if position >= 120:
            time.sleep(0.01)
        run.fields.value = float(run.rng.normal())
        run.fields.path = run.rng.random(50)

    session = rt.connect(url)
    try:
        exp = session.load_experiment("sweep")
    except rt.ExperimentNotFoundError:
        exp = session.create_experiment("sweep").add_runs(a=range(20), b=range(20))
    exp.execute(simulate, persist=True, resume=True)
    print("finished")
    """
)


@pytest.mark.slow
def test_kill_9_mid_sweep_then_resume_gives_the_uninterrupted_result(tmp_path: Path) -> None:
    script = tmp_path / "sweep.py"
    script.write_text(SWEEP)
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    marker = tmp_path / "marker"
    child = subprocess.Popen([sys.executable, str(script), url, str(marker)])
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert child.poll() is None, "the sweep ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(1.5)  # past at least one batch write
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    session = rt.connect(url)
    after_kill = _statuses(session, "sweep")
    assert after_kill.get("done", 0) >= 120
    assert sum(after_kill.values()) == 400  # the whole grid is stored, nothing half-written
    assert after_kill.get("done", 0) < 400, "the kill came after the sweep finished"

    resumed = subprocess.run(
        [sys.executable, str(script), url, str(tmp_path / "unused")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert _statuses(session, "sweep") == {"done": 400}

    reference_url = f"sqlite:///{tmp_path / 'reference.db'}"
    done = subprocess.run(
        [sys.executable, str(script), reference_url, str(tmp_path / "unused2")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert_same_results(url, reference_url)


def assert_same_results(url: str, reference_url: str) -> None:
    def frame(u: str) -> pd.DataFrame:
        df = rt.connect(u).load_experiment("sweep").runs.df().drop(columns="id_run")
        return df.assign(path=df["path"].map(lambda a: a.tobytes()))

    pd.testing.assert_frame_equal(frame(url), frame(reference_url))


def _scaled(run: rt.Run, factor: int) -> None:
    calls.append(run.params.x)
    run.fields.y = run.params.x * factor


def _negated(run: rt.Run, factor: int) -> None:
    calls.append(run.params.x)
    run.fields.y = -run.params.x


class _Fit:
    def __init__(self, lr: float, extra: object = None) -> None:
        self.lr = lr
        self.extra = extra

    def __call__(self, run: rt.Run) -> None:
        calls.append(run.params.x)
        run.fields.y = run.params.x * self.lr


def test_resume_tells_partials_apart_by_function_and_bound_arguments() -> None:
    """A partial has no source: its identity is its function's and its bound arguments."""
    exp = rt.connect("sqlite:///:memory:").create_experiment("partials").add_runs(x=[1, 2])
    exp.execute(functools.partial(_scaled, factor=10))
    assert [run.fields.y for run in exp.runs] == [10, 20]
    assert set(exp.runs.first().steps) == {"_scaled"}  # named after its function
    calls.clear()
    exp.execute(functools.partial(_scaled, factor=10), resume=True)  # the same step
    assert calls == []
    exp.execute(functools.partial(_scaled, factor=1000), resume=True)
    assert [run.fields.y for run in exp.runs] == [1000, 2000]
    exp.execute(functools.partial(_negated, factor=1000), resume=True)
    assert [run.fields.y for run in exp.runs] == [-1, -2]
    assert calls == [1, 2, 1, 2]


def test_two_different_steps_of_one_name_are_refused_before_any_run() -> None:
    """A run keeps one record per step name: two partials of one function in one execution
    kept only the second's record, so resume=True ran every run again, every time."""
    exp = rt.connect("sqlite:///:memory:").create_experiment("twins").add_runs(x=[1, 2])
    twins = [functools.partial(_scaled, factor=10), functools.partial(_scaled, factor=100)]
    with pytest.raises(ValueError, match=r"both named '_scaled'.*name=") as caught:
        exp.execute(twins)
    assert "resume=True" in str(caught.value)
    assert [run.status for run in exp.runs] == ["pending", "pending"]
    named = [rt.step(twins[0], name="times10"), rt.step(twins[1], name="times100")]
    exp.execute(named)
    calls.clear()
    exp.execute(named, resume=True)
    assert calls == []
    same = functools.partial(_scaled, factor=10)
    exp.execute([same, same])  # one step twice: one record
    assert "_scaled" in exp.runs.first().steps


def test_resume_tells_callable_objects_apart_by_state() -> None:
    exp = rt.connect("sqlite:///:memory:").create_experiment("objects").add_runs(x=[1, 2])
    exp.execute(_Fit(lr=0.1))
    calls.clear()
    exp.execute(_Fit(lr=0.1), resume=True)
    assert calls == []
    exp.execute(_Fit(lr=0.5), resume=True)
    assert [run.fields.y for run in exp.runs] == [0.5, 1.0]
    assert set(exp.runs.first().steps) == {"_Fit"}


def test_resume_never_skips_a_step_holding_a_value_without_a_stable_form() -> None:
    exp = rt.connect("sqlite:///:memory:").create_experiment("unstable").add_runs(x=[1, 2])
    fit = rt.step(_Fit(lr=0.1, extra=object()))
    partial_step = rt.step(functools.partial(_scaled, factor=object()))
    assert fit.source_hash != fit.source_hash
    exp.execute(fit)
    exp.execute(fit, resume=True)
    assert calls == [1, 2, 1, 2]
    assert partial_step.source_hash != partial_step.source_hash


PARALLEL_MAIN = textwrap.dedent(
    """
    import runtable as rt

    @rt.step
    def simulate(run):
        run.fields.y = run.params.x * 10

    exp = rt.connect("sqlite:///:memory:").create_experiment("par").add_runs(x=[1, 2, 3, 4])
    exp.execute(simulate, n_jobs=2, backend="loky")
    print(sorted({run.steps["simulate"]["hash"] for run in exp.runs}), simulate.source_hash)
    exp.execute(simulate, n_jobs=2, backend="loky", resume=True)
    print(exp.last_execution.done, exp.last_execution.skipped)
    """
)


def test_resume_after_process_workers_skips_a_step_defined_in_main(tmp_path: Path) -> None:
    """Workers get the parent's source hash: they cannot read a __main__ step's source."""
    script = tmp_path / "parallel_main.py"
    script.write_text(PARALLEL_MAIN)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    hashes, counts = done.stdout.splitlines()
    recorded, parent = hashes.rsplit(" ", 1)
    assert recorded == repr([parent])
    assert counts == "0 4"


@pytest.mark.parametrize("error", [rt.StorageError, rt.ConflictError])
def test_a_step_raising_a_storage_error_still_stores_the_finished_runs(
    tmp_path: Path, error: type[Exception]
) -> None:
    """A step's StorageError or ConflictError (a step that queries the database, say) is not
    the sink's own write failure: the runs finished before it are stored, and the failed run."""
    url = f"sqlite:///{tmp_path / 'step_storage_error.db'}"
    session = rt.connect(url)
    exp = session.create_experiment("storage_step").add_runs(x=range(4))

    def query_at_two(run: rt.Run) -> None:
        run.fields.sq = run.params.x**2
        if run.params.x == 2:
            if error is rt.StorageError:
                session.query("SELECT loss FROM e_no_such_table")  # the store refuses
            raise error("a step's own conflict")

    with pytest.raises(error):
        exp.execute(query_at_two, persist=True)
    df = session.query(f"SELECT x, {STATUS_COLUMN} AS status FROM e_storage_step ORDER BY x")
    assert list(df["status"]) == ["done", "done", "failed", "pending"]


VERSION = {"data": 1, "interrupt": False}


@rt.step
def versioned(run: rt.Run) -> None:
    calls.append(run.params.x)
    run.fields.a = (run.params.x, VERSION["data"])
    if VERSION["interrupt"] and run.params.x == 1:
        raise KeyboardInterrupt  # Ctrl-C in the middle of the step
    run.fields.b = (run.params.x, VERSION["data"])


def test_an_interrupted_rerun_of_a_done_or_failed_run_leaves_it_pending() -> None:
    """A run done (or failed) before and interrupted while executed again is pending, with no
    record of this execution saying done and no old error: resume=True runs it again."""
    exp = rt.connect("sqlite://").create_experiment("rerun").add_runs(x=[1, 2])
    VERSION.update(data=1, interrupt=False)
    exp.execute(versioned)
    VERSION.update(data=2, interrupt=True)
    with pytest.raises(KeyboardInterrupt):
        exp.execute(versioned)
    run = exp.runs.first()
    assert run.status == "pending"
    assert run.error is None
    assert run.steps["versioned"]["status"] != "done"
    VERSION["interrupt"] = False
    calls.clear()
    exp.execute(versioned, resume=True)
    assert calls == [1]  # run 2 was not reached: still done from the first execution
    assert (run.fields.a, run.fields.b) == ((1, 2), (1, 2))

    failed = rt.connect("sqlite://").create_experiment("refail").add_run(x=1)
    failed.execute(lambda run: 1 / 0, on_error="record")
    with pytest.raises(KeyboardInterrupt):
        failed.execute(interruptible_always)
    assert (failed.runs.first().status, failed.runs.first().error) == ("pending", None)


def interruptible_always(run: rt.Run) -> None:
    raise KeyboardInterrupt


def test_runs_added_to_a_stored_experiment_are_stored_pending_before_they_run(
    tmp_path: Path,
) -> None:
    # Regression: only a new experiment's grid was stored before its runs; runs added to a
    # loaded one were not in the database at all after a crash, so resume never saw them.
    session = rt.connect(f"sqlite:///{tmp_path / 'grow.db'}")

    def simulate(run: rt.Run) -> None:
        if run.params.n == 30:
            raise MemoryError("the process dies here")
        run.fields.y = run.params.n * 2

    session.create_experiment("grow").add_runs(n=[1, 2]).execute(simulate, persist=True)
    exp = session.load_experiment("grow").add_runs(n=[10, 20, 30, 40, 50])
    with pytest.raises(MemoryError):
        exp.execute(simulate, persist=True, resume=True)
    stored = {r.params.n: r.status for r in session.load_experiment("grow").runs}
    assert stored == {1: "done", 2: "done", 10: "done", 20: "done", 30: "failed"} | {
        40: "pending",
        50: "pending",
    }


def test_experiment_fields_a_step_changes_during_a_persisting_execution_are_stored(
    tmp_path: Path,
) -> None:
    # Regression: the experiment's own values were encoded once, at the first batch, so a
    # best-so-far kept in exp.fields was stored as it was then.
    session = rt.connect(f"sqlite:///{tmp_path / 'best.db'}")
    exp = session.create_experiment("best").add_runs(x=range(2500))  # two batches at least

    def train(run: rt.Run) -> None:
        run.fields.score = run.params.x
        exp.fields.best = max(exp.fields.get("best", 0), run.params.x)

    exp.execute(train, persist=True)
    assert session.load_experiment("best").fields.to_dict() == {"best": 2499}


def test_a_step_executed_again_makes_the_steps_recorded_after_it_stale() -> None:
    # Regression: each step's own record was compared, so after `generate` changed and ran
    # again, `evaluate` was skipped and kept scores of data that was gone.
    exp = rt.connect("sqlite://").create_experiment("chain").add_runs(x=[1, 2])

    @rt.step(name="generate")
    def generate_v1(run: rt.Run) -> None:
        run.fields.data = run.params.x

    @rt.step
    def evaluate(run: rt.Run, data: int) -> None:
        run.fields.score = data * 10

    @rt.step(name="generate")
    def generate_v2(run: rt.Run) -> None:
        run.fields.data = run.params.x + 100

    exp.execute(generate_v1).execute(evaluate)
    exp.execute(generate_v2, resume=True)
    assert {r.steps["evaluate"]["status"] for r in exp.runs} == {"stale"}
    exp.execute(evaluate, resume=True)
    assert [r.fields.score for r in exp.runs] == [1010, 1020]
    exp.execute([generate_v2, evaluate], resume=True)
    assert exp.last_execution is not None
    assert exp.last_execution.skipped == 2


def test_a_persisting_resume_of_a_deleted_experiment_stores_it_even_when_all_is_skipped(
    tmp_path: Path,
) -> None:
    # Regression: with every run skipped, nothing was written, so after the stored copy was
    # deleted, execute(persist=True, resume=True) succeeded and stored nothing.
    session = rt.connect(f"sqlite:///{tmp_path / 'gone.db'}")

    def double(run: rt.Run) -> None:
        run.fields.y = run.params.x * 2

    exp = session.create_experiment("gone").add_runs(x=[1, 2]).execute(double, persist=True)
    session.delete_experiment("gone")
    exp.execute(double, persist=True, resume=True)
    assert exp.last_execution is not None
    assert exp.last_execution.skipped == 2
    stored = session.load_experiment("gone").runs
    assert sorted((r.params.x, r.status, r.fields.y) for r in stored) == [
        (1, "done", 2),
        (2, "done", 4),
    ]


def test_batches_after_another_writer_keep_that_writers_values(tmp_path: Path) -> None:
    # Batches after the first may skip reading back the runs the sink stored itself, but only
    # while nobody else writes: a value another writer stored meanwhile (NaN: an exact value
    # on SQLite) on a run a later batch writes must stay.
    url = f"sqlite:///{tmp_path / 'others.db'}"
    exp = rt.connect(url).create_experiment("others").add_runs(i=range(4500))
    target = exp.runs.at(4200).id

    def step(run: rt.Run) -> None:
        run.fields.y = run.params.i
        if run.params.i == 2500:  # between the first and the second batch of 2,000
            other = rt.connect(url).load_experiment("others")
            other.runs[target].fields.w = float("nan")
            other.persist(if_exists="append")

    exp.execute(step, persist=True)
    stored = rt.connect(url).load_experiment("others").runs
    assert math.isnan(stored[target].fields.w)
    assert stored[target].fields.y == 4200
    assert [r.fields.y for r in stored] == list(range(4500))
