"""Executing steps: in-process, threading, loky and an inherited joblib.parallel_config; errors
(raise and record), reproducible seeding, progress bars, loaded experiments and what worker
processes send back.

Loky tests start real worker processes: they are few, with small grids. Steps they use are
either importable (tests/steps_module.py) or defined inside the test (sent by value).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
import steps_module as sm  # tests/ is on sys.path, so workers can import it too

import runtable as rt

LOKY: dict[str, Any] = {"n_jobs": 2, "backend": "loky"}
THREADING: dict[str, Any] = {"n_jobs": 2, "backend": "threading"}
IN_PROCESS: dict[str, Any] = {}
BACKENDS = pytest.mark.parametrize(
    "how", [IN_PROCESS, THREADING, LOKY], ids=["in_process", "threading", "loky"]
)

Key = tuple[tuple[str, Any], ...]


@pytest.fixture
def session() -> Iterator[rt.Session]:
    with rt.connect("sqlite://") as session:
        yield session


def key(run: rt.Run) -> Key:
    """A run's params as a hashable key, independent of insertion order."""
    return tuple(sorted(run.params.items()))


def by_params(exp: rt.Experiment, *names: str) -> dict[Key, tuple[Any, ...]]:
    """Chosen fields of every run, keyed by the run's params."""
    return {key(run): tuple(run.fields[name] for name in names) for run in exp.runs}


def notes(exc: BaseException) -> str:
    return "\n".join(getattr(exc, "__notes__", []))


def record_thread(run: rt.Run) -> None:
    run.vars.thread = threading.get_ident()
    run.fields.pid = os.getpid()


# -- where runs execute --------------------------------------------------------------------------


def test_execute_runs_in_this_process_and_thread_by_default(session: rt.Session) -> None:
    exp = session.create_experiment("where").add_runs(n=[1, 2, 3])
    assert exp.execute(record_thread) is exp
    assert all(run.status == "done" for run in exp.runs)
    assert {run.fields.pid for run in exp.runs} == {os.getpid()}
    assert {run.vars.thread for run in exp.runs} == {threading.get_ident()}


@pytest.mark.parametrize("inherit", [False, True], ids=["arguments", "parallel_config"])
def test_one_effective_job_runs_in_process(session: rt.Session, inherit: bool) -> None:
    exp = session.create_experiment("where").add_runs(n=[1, 2, 3])
    if inherit:
        with joblib.parallel_config(backend="loky", n_jobs=1):
            exp.execute(record_thread)
    else:
        exp.execute(record_thread, n_jobs=1, backend="loky")
    assert {run.fields.pid for run in exp.runs} == {os.getpid()}
    assert {run.vars.thread for run in exp.runs} == {threading.get_ident()}


def test_threading_backend_gives_the_in_process_results(session: rt.Session) -> None:
    here = session.create_experiment("here").add_runs(n=[10, 100], trial=range(3))
    here.execute([sm.toss, sm.estimate], config={"p": 0.3})
    threads = session.create_experiment("threads").add_runs(n=[10, 100], trial=range(3))
    threads.execute([sm.toss, sm.estimate, record_thread], config={"p": 0.3}, **THREADING)
    assert all(run.status == "done" for run in threads.runs)
    assert {run.fields.pid for run in threads.runs} == {os.getpid()}
    assert threading.get_ident() not in {run.vars.thread for run in threads.runs}
    expected = by_params(here, "err")
    assert by_params(threads, "err") == expected
    for run in threads.runs:
        same = next(r for r in here.runs if r.params == run.params)
        np.testing.assert_array_equal(run.fields.tosses, same.fields.tosses)


def test_an_enclosing_parallel_config_is_inherited(session: rt.Session) -> None:
    exp = session.create_experiment("inherit").add_runs(n=range(6))
    with joblib.parallel_config(backend="threading", n_jobs=2):
        exp.execute(record_thread, n_jobs=None, backend=None)
    assert all(run.status == "done" for run in exp.runs)
    assert threading.get_ident() not in {run.vars.thread for run in exp.runs}
    assert {run.fields.pid for run in exp.runs} == {os.getpid()}


def test_loky_runs_importable_steps_in_worker_processes(session: rt.Session) -> None:
    here = session.create_experiment("here").add_runs(n=[10, 100, 1000], trial=range(2))
    here.execute([sm.toss, sm.estimate], config={"p": 0.5})

    exp = session.create_experiment("coins").add_runs(n=[10, 100, 1000], trial=range(2))
    exp.step(sm.toss)
    exp.step(sm.where)
    assert exp.execute(config={"p": 0.5}, **LOKY) is exp
    # the example of the issue: n_jobs=2 with backend=None is joblib's default backend (loky)
    exp.execute([sm.estimate, sm.plain_square], n_jobs=2, backend=None, on_error="raise")

    assert all(run.status == "done" for run in exp.runs)
    assert os.getpid() not in {run.fields.pid for run in exp.runs}
    assert by_params(exp, "err", "square") == {
        k: (err, dict(k)["n"] ** 2) for k, (err,) in by_params(here, "err").items()
    }
    for run in exp.runs:
        same = next(r for r in here.runs if r.params == run.params)
        np.testing.assert_array_equal(run.fields.tosses, same.fields.tosses)
        assert run.started_at is not None
        assert run.ended_at is not None
        assert run.started_at <= run.ended_at


def test_loky_runs_steps_defined_in_the_test(session: rt.Session) -> None:
    offset = 1000  # captured by the closure: the step travels by value

    def shifted(run: rt.Run, n: int, scale: float) -> dict[str, Any]:
        run.vars.pid = os.getpid()
        return {"shifted": n * scale + offset}

    @rt.step(name="doubled")
    def double(shifted: float) -> dict[str, float]:
        return {"double": 2 * shifted}

    exp = session.create_experiment("local").add_runs(n=[1, 2, 3, 4])
    exp.execute([shifted, double], config={"scale": 0.5}, **LOKY)
    assert [run.status for run in exp.runs] == ["done"] * 4
    assert [run.fields.shifted for run in exp.runs] == [1000.5, 1001.0, 1001.5, 1002.0]
    assert [run.fields.double for run in exp.runs] == [2001.0, 2002.0, 2003.0, 2004.0]
    assert os.getpid() not in {run.vars.pid for run in exp.runs}


# -- errors --------------------------------------------------------------------------------------

FAILURES = pytest.mark.parametrize(
    ("step", "error", "bad_n"),
    [(sm.fail_on_three, sm.CoinError, 3), (sm.divide, ZeroDivisionError, 2)],
    ids=["custom_error", "zero_division"],
)


def check_raised(exc: BaseException, exp: rt.Experiment, step: rt.Step, bad_n: int) -> rt.Run:
    """The exception's notes and the failing run's state; returns the failing run."""
    (failed,) = [run for run in exp.runs if run.params.n == bad_n]
    text = notes(exc)
    assert f"run {failed.id}" in text
    assert f"'n': {bad_n}" in text
    assert step.name in text
    assert failed.status == "failed"
    assert type(exc).__name__ in (failed.error or "")
    assert step.name in (failed.error or "")
    assert "Traceback" in (failed.error or "")
    return failed


@FAILURES
def test_on_error_raise_in_process_stops_at_the_first_failure(
    session: rt.Session, step: rt.Step, error: type[Exception], bad_n: int
) -> None:
    exp = session.create_experiment("errors").add_runs(n=[1, 4, bad_n, 5, 6])
    with pytest.raises(error) as info:
        exp.execute(step, on_error="raise")
    assert type(info.value) is error
    check_raised(info.value, exp, step, bad_n)
    statuses = [run.status for run in exp.runs]
    assert statuses == ["done", "done", "failed", "pending", "pending"]
    assert all(run.error is None for run in exp.runs if run.status != "failed")
    assert all(len(run.fields) == 1 for run in exp.runs if run.status == "done")


@FAILURES
@pytest.mark.parametrize("how", [THREADING, LOKY], ids=["threading", "loky"])
def test_on_error_raise_in_parallel_keeps_the_exception_type(
    session: rt.Session, step: rt.Step, error: type[Exception], bad_n: int, how: dict[str, Any]
) -> None:
    exp = session.create_experiment("errors").add_runs(n=[1, 4, 5, bad_n])
    with pytest.raises(error) as info:
        exp.execute(step, on_error="raise", **how)
    assert type(info.value) is error
    failed = check_raised(info.value, exp, step, bad_n)
    for run in exp.runs:
        if run == failed:
            continue
        assert run.status in ("done", "pending")
        if run.status == "done":  # finished before the failure: results kept
            assert run.error is None
            assert len(run.fields) == 1


@BACKENDS
def test_on_error_record_executes_every_run(session: rt.Session, how: dict[str, Any]) -> None:
    exp = session.create_experiment("record").add_runs(n=[1, 2, 3, 4])
    assert exp.execute([sm.fail_on_three, sm.divide], on_error="record", **how) is exp
    runs = {run.params.n: run for run in exp.runs}
    assert [runs[n].status for n in (1, 2, 3, 4)] == ["done", "failed", "failed", "done"]
    assert runs[1].fields.to_dict() == {"square": 1, "ratio": -1.0}
    assert runs[4].fields.to_dict() == {"square": 16, "ratio": 0.5}
    assert runs[1].error is None
    assert runs[4].error is None
    assert "ZeroDivisionError" in (runs[2].error or "")
    assert "divide" in (runs[2].error or "")
    assert runs[2].fields.to_dict() == {"square": 4}  # what the first step did is kept
    assert "CoinError" in (runs[3].error or "")
    assert "fail_on_three" in (runs[3].error or "")
    assert runs[3].fields.to_dict() == {}
    for run in exp.runs:
        assert run.started_at is not None
        assert run.ended_at is not None


def test_a_failed_run_succeeds_on_a_later_execution(session: rt.Session) -> None:
    exp = session.create_experiment("retry").add_runs(n=[1, 3])
    exp.execute(sm.fail_on_three, on_error="record")
    assert exp.runs.at(1).status == "failed"
    exp.execute(lambda n: {"square": n * n})
    assert [run.status for run in exp.runs] == ["done", "done"]
    assert [run.error for run in exp.runs] == [None, None]


def test_on_error_must_be_raise_or_record(session: rt.Session) -> None:
    exp = session.create_experiment("bad").add_run(n=1)
    with pytest.raises(ValueError, match="on_error"):
        exp.execute(sm.plain_square, on_error="ignore")  # type: ignore[arg-type]


# -- reproducibility -----------------------------------------------------------------------------


def drawn(exp: rt.Experiment, *names: str) -> dict[Key, tuple[Any, ...]]:
    return by_params(exp, *(names or ("rng_draw", "random_draw", "np_random_draw")))


def test_same_grid_gives_the_same_numbers_in_any_order_and_backend(session: rt.Session) -> None:
    ordered = session.create_experiment("ordered").add_runs(n=[1, 2, 3], trial=[0, 1])
    ordered.execute(sm.draw)
    reversed_ = session.create_experiment("reversed_order")
    reversed_.add_run(n=9, trial=9).add_runs(trial=[1, 0], n=[3, 2, 1])
    reversed_.execute(sm.draw)
    threads = session.create_experiment("threads").add_runs(trial=[1, 0], n=[2, 3, 1])
    threads.execute(sm.draw, **THREADING)
    workers = session.create_experiment("workers").add_runs(n=[3, 1, 2], trial=[1, 0])
    workers.execute(sm.draw, **LOKY)

    expected = drawn(ordered)
    assert {k: v for k, v in drawn(reversed_).items() if k in expected} == expected
    assert drawn(workers) == expected  # run.rng and the global random states
    # threads share the global random states: only run.rng is per run there
    assert drawn(threads, "rng_draw") == drawn(ordered, "rng_draw")


def test_different_params_give_different_streams(session: rt.Session) -> None:
    exp = session.create_experiment("streams").add_runs(n=[1, 2, 3], trial=[0, 1])
    exp.add_run(n=1, trial=0, extra="x")
    exp.execute(sm.draw)
    for name in ("rng_draw", "random_draw", "np_random_draw"):
        values = [repr(run.fields[name]) for run in exp.runs]
        assert len(set(values)) == len(values), name


def test_a_different_experiment_seed_changes_the_numbers(session: rt.Session) -> None:
    def make(name: str, seed: int | None) -> rt.Experiment:
        exp = session.create_experiment(name).add_runs(n=[1, 2, 3])
        if seed is not None:
            exp.seed = seed
        return exp.execute(sm.draw)

    default = make("default_seed", None)
    zero = make("zero", 0)
    one = make("one", 1)
    one_again = make("one_again", 1)
    assert drawn(zero) == drawn(default)
    assert drawn(one_again) == drawn(one)
    base, other = drawn(default), drawn(one)
    for k in base:
        for a, b in zip(base[k], other[k], strict=True):
            assert a != b


def test_numpy_scalar_params_seed_like_python_numbers(session: rt.Session) -> None:
    python = session.create_experiment("python").add_run(n=10, p=0.5, flag=True)
    python.add_run(n=11, p=0.25, flag=False)
    numpy = session.create_experiment("numpy")
    numpy.add_run(n=np.int64(10), p=np.float64(0.5), flag=np.bool_(True))
    numpy.add_run(n=np.int32(11), p=np.float64(0.25), flag=np.bool_(False))
    python.execute(sm.draw)
    numpy.execute(sm.draw)
    assert [run.fields.to_dict() for run in numpy.runs] == [
        run.fields.to_dict() for run in python.runs
    ]


def test_rng_is_the_same_after_persist_and_load(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'seeds.db'}"
    with rt.connect(url) as session:
        exp = session.create_experiment("seeds").add_runs(n=[1, 2], mode=["a", "b"])
        exp.seed = 7
        exp.execute(sm.draw).persist()
        expected = drawn(exp)
    with rt.connect(url) as session:
        loaded = session.load_experiment("seeds")
        assert loaded.seed == 7
        loaded.execute(sm.draw)
        assert drawn(loaded) == expected


def test_executing_twice_gives_the_same_numbers_in_process_and_with_loky(
    session: rt.Session,
) -> None:
    here = session.create_experiment("here").add_runs(n=[1, 2])
    here.execute(sm.draw).execute(sm.draw)
    workers = session.create_experiment("workers").add_runs(n=[1, 2])
    workers.execute(sm.draw, **LOKY).execute(sm.draw, **LOKY)
    assert drawn(here, "rng_draw") == drawn(workers, "rng_draw")


def test_changing_the_seed_between_executions_takes_effect(session: rt.Session) -> None:
    exp = session.create_experiment("reseeded").add_runs(n=[1, 2])
    exp.execute(sm.draw)
    exp.seed = 1
    exp.execute(sm.draw)
    fresh = session.create_experiment("fresh").add_runs(n=[1, 2])
    fresh.seed = 1
    fresh.execute(sm.draw)
    assert drawn(exp) == drawn(fresh)


# -- progress ------------------------------------------------------------------------------------


def test_progress_false_prints_nothing(
    session: rt.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    session.create_experiment("quiet").add_runs(n=range(25)).execute(
        sm.plain_square, progress=False
    )
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out == ""


def test_progress_true_prints_a_bar_to_stderr(
    session: rt.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    session.create_experiment("loud").add_runs(n=range(3)).execute(sm.plain_square, progress=True)
    captured = capsys.readouterr()
    assert "3/3" in captured.err
    assert "100%" in captured.err
    assert captured.out == ""


def test_progress_default_prints_nothing_for_a_handful_of_runs(
    session: rt.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    session.create_experiment("default").add_runs(n=range(5)).execute(sm.plain_square)
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out == ""


# -- loaded experiments --------------------------------------------------------------------------


def test_execute_a_loaded_experiment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'coins.db'}"
    with rt.connect(url) as session:
        exp = session.create_experiment("coins", purpose="tests")
        exp.add_runs(n=[10, 100, 1000], trial=range(2))
        exp.step(sm.toss)
        exp.execute(config={"p": 0.5}).persist()
        exp.execute(sm.estimate)  # the evaluation the loaded experiment must reproduce
        expected = by_params(exp, "err")

    with rt.connect(url) as session:
        loaded = session.load_experiment("coins")
        assert len(loaded.runs) == 6
        assert loaded.config.to_dict() == {"p": 0.5}
        assert loaded.fields.purpose == "tests"
        assert all(run.status == "done" for run in loaded.runs)
        with pytest.raises(rt.RuntableError, match="no registered steps"):
            loaded.execute()
        assert loaded.execute([sm.estimate]) is loaded
        assert by_params(loaded, "err") == expected
        for run in loaded.runs:
            assert run.status == "done"
            same = next(r for r in exp.runs if r.params == run.params)
            np.testing.assert_array_equal(run.fields.tosses, same.fields.tosses)
        # and it stores again
        loaded.persist(if_exists="replace")
        again = session.load_experiment("coins")
        assert by_params(again, "err") == expected


# -- what workers send back ----------------------------------------------------------------------


def test_loky_sends_back_changed_fields_deletions_and_vars(session: rt.Session) -> None:
    big = np.ones(500_000)  # 4 MB per run: read by the step, never changed
    exp = session.create_experiment("big").add_runs(n=[1, 2, 3])
    for run in exp.runs:
        run.fields.big = big
        run.fields.scratch = "temporary"
        run.fields.kept = run.params.n
    exp.execute(sm.summarize_big, **LOKY)
    for run in exp.runs:
        assert run.status == "done"
        assert set(run.fields) == {"big", "kept", "total"}
        assert run.fields.total == 500_000 + run.params.n
        assert run.fields.kept == run.params.n
        assert run.fields.big is big  # unchanged: not sent back
        assert run.vars.note == "summed 500000"
    assert big.sum() == 500_000


def mutate_and_forget(run: rt.Run) -> None:
    """Change fields in place and delete a var."""
    run.fields.history.append(run.params.n)
    run.fields.counts[0] += run.params.n
    run.fields.table["seen"] = True
    del run.vars.cache
    run.vars.fresh = run.params.n


def prepared(session: rt.Session, name: str) -> rt.Experiment:
    exp = session.create_experiment(name).add_runs(n=[1, 2])
    for run in exp.runs:
        run.fields.history = [0]
        run.fields.counts = np.zeros(2)
        run.fields.table = {"seen": False}
        run.vars.cache = "stale"
    return exp


def test_loky_keeps_fields_changed_in_place_like_in_process(session: rt.Session) -> None:
    here = prepared(session, "here").execute(mutate_and_forget)
    workers = prepared(session, "workers").execute(mutate_and_forget, **LOKY)
    for a, b in zip(here.runs, workers.runs, strict=True):
        assert a.fields.history == [0, a.params.n]
        assert b.fields.history == a.fields.history
        np.testing.assert_array_equal(b.fields.counts, a.fields.counts)
        assert b.fields.table == a.fields.table == {"seen": True}


def test_loky_deletes_vars_deleted_in_a_worker_like_in_process(session: rt.Session) -> None:
    here = prepared(session, "here").execute(mutate_and_forget)
    workers = prepared(session, "workers").execute(mutate_and_forget, **LOKY)
    for a, b in zip(here.runs, workers.runs, strict=True):
        assert a.vars.to_dict() == {"fresh": a.params.n}
        assert b.vars.to_dict() == a.vars.to_dict()


def test_step_records_stamp_the_clocks_iso_text() -> None:
    """A step's record times are the ISO text of the run's own timestamps (one clock read
    each, the text of the second made once per second): equal to ``isoformat()`` of them."""
    exp = rt.connect("sqlite://").create_experiment("stamps").add_runs(i=range(300))
    exp.execute(lambda run: run.fields.update(y=1))
    for run in exp.runs:
        record = run.steps["<lambda>"]
        assert record["ended_at"] == run.ended_at.isoformat()
        assert record["started_at"] == run.started_at.isoformat()


def test_global_random_states_give_the_numbers_they_always_gave(session: rt.Session) -> None:
    """The global ``random`` and ``numpy.random`` states a step sees are pinned: these draws
    are what runtable gave before its per-run digests were computed column-wise (grids of plain
    scalars, a run missing params, a run without params, a name with a format character)."""

    def draw(run: rt.Run) -> None:
        run.fields.g = random.getrandbits(32)
        run.fields.n = int(np.random.randint(2**31))

    exp = session.create_experiment("pinned").add_runs(a=[1, -2.5, "x"], b=[None, True, 10**30])
    exp.add_run(a="%r", b=0.1).add_run()
    exp.seed = 12345
    plain = session.create_experiment("plain").add_runs(a=[1, -2.5, "x"], b=[None, True, 10**30])
    plain.seed = 12345
    expected = [
        (1720928260, 1568165975),
        (3624819308, 1210441493),
        (3827998029, 1592610508),
        (954192852, 1416149039),
        (2502846158, 1176229305),
        (1293047774, 99806731),
        (2802074737, 1292225858),
        (3251378969, 1708840139),
        (3796336554, 514607899),
        (2279055697, 1425674938),
        (1455534654, 1863663722),
    ]
    exp.execute(draw)
    plain.execute(draw, **LOKY)
    assert [(run.fields.g, run.fields.n) for run in exp.runs] == expected
    assert [(run.fields.g, run.fields.n) for run in plain.runs] == expected[:9]


def stored_steps(session: rt.Session, table: str) -> list[str]:
    return list(
        session.query(f"SELECT runtable_steps FROM {table} ORDER BY id_run")["runtable_steps"]
    )


@BACKENDS
def test_step_records_chain_the_runs_times_and_are_stored_as_read(
    session: rt.Session, how: dict[str, Any]
) -> None:
    """One step and several: the first step begins at the run's ``started_at``, each next one
    when the one before it ended, the last ends at ``ended_at``; the stored text is the compact
    JSON of ``run.steps``, also after a copy of the runs and through a process worker."""
    for steps, name in (([sm.plain_square], "one"), ([sm.plain_square, sm.draw], "two")):
        exp = session.create_experiment(name).add_runs(n=range(40)).execute(steps, **how)
        exp.persist()
        copy = session.create_experiment(f"{name}_copy").merge_runs(exp)
        texts = stored_steps(session, f"e_{name}")
        for run, text, other in zip(exp.runs, texts, copy.runs, strict=True):
            records = {k: dict(v) for k, v in run.steps.items()}
            assert list(records) == [s.__name__ for s in steps]
            assert text == json.dumps(records, separators=(",", ":"))
            assert {k: dict(v) for k, v in other.steps.items()} == records
            times = [r["started_at"] for r in records.values()]
            assert times[0] == run.started_at.isoformat()
            assert times[1:] == [r["ended_at"] for r in records.values()][:-1]
            assert records[steps[-1].__name__]["ended_at"] == run.ended_at.isoformat()


def test_setting_a_runs_timestamps_leaves_its_step_records_as_they_were(
    session: rt.Session,
) -> None:
    exp = session.create_experiment("moved").add_runs(n=[1, 2])
    exp.execute([sm.plain_square, sm.draw]).persist()
    before = [json.loads(text) for text in stored_steps(session, "e_moved")]
    for run in exp.runs:
        run.started_at = datetime(2000, 1, 1)
        run.ended_at = None
    exp.persist(if_exists="replace")
    assert [json.loads(text) for text in stored_steps(session, "e_moved")] == before
    assert [{k: dict(v) for k, v in run.steps.items()} for run in exp.runs] == before


def test_the_end_of_a_with_block_leaves_its_steps_records_as_they_were() -> None:
    """A step executed inside ``with exp.run()`` kept its record as a template of the run's
    times, so the block's end moved the step's ``ended_at`` to the moment the block ended."""
    exp = rt.connect("sqlite://").create_experiment("block")
    with exp.run(n=3):
        exp.execute(sm.plain_square, progress=False)
        ended = exp.runs.first().ended_at
        time.sleep(0.01)
    run = exp.runs.first()
    assert run.ended_at > ended
    assert run.steps["plain_square"]["ended_at"] == ended.isoformat()


def _seeded_draws(seed: int) -> list[tuple[int, int, int]]:
    exp = rt.connect("sqlite://").create_experiment("seeded").add_runs(x=[1, "a"])
    exp.seed = seed

    def draw(run: rt.Run) -> None:
        run.fields.r = int(run.rng.integers(2**62))
        run.fields.g = random.getrandbits(32)
        run.fields.n = int(np.random.randint(2**31))

    exp.execute(draw, progress=False)
    return [(run.fields.r, run.fields.g, run.fields.n) for run in exp.runs]


def test_seeds_in_64_bits_give_the_numbers_they_always_gave() -> None:
    """run.rng and the global states for seeds in [0, 2**64), as drawn before seeds outside
    that range got their own streams."""
    assert _seeded_draws(12345) == [
        (1443036511234505930, 3605887174, 1188676597),
        (2242589081014870384, 3367159610, 2011966716),
    ]
    assert _seeded_draws(2**64 - 1) == [
        (926196755826272646, 1006119677, 255481511),
        (2075626393150746944, 2040115670, 2090304952),
    ]


def test_seeds_outside_64_bits_give_their_own_numbers() -> None:
    """Seeds were masked to 64 bits: 5 and 2**64 + 5, -1 and 2**64 - 1, a 128-bit seed and its
    low half gave every run the same numbers."""
    seeds = [5, 2**64 + 5, -1, 2**64 - 1, 7, 0xDEADBEEF << 64 | 7, 2**64, 2**64 + 2**31, -5]
    draws = {seed: _seeded_draws(seed) for seed in seeds}
    for kind in range(3):  # run.rng, random, numpy.random: each its own numbers per seed
        numbers = [tuple(run[kind] for run in draws[seed]) for seed in seeds]
        assert len(set(numbers)) == len(seeds), kind
    assert draws[2**64 + 5] == _seeded_draws(2**64 + 5)  # and reproducible
    loaded = rt.connect("sqlite://")
    exp = loaded.create_experiment("big").add_run(x=1)
    exp.seed = -(2**100)
    exp.persist()
    assert loaded.load_experiment("big").runs.first().rng.random() == exp.runs.first().rng.random()


# -- refused before anything changes -------------------------------------------------------------


def test_an_empty_list_of_steps_is_refused_and_changes_no_run(session: rt.Session) -> None:
    exp = session.create_experiment("empty").add_runs(n=[1, 2, 3])
    exp.execute(sm.fail_on_three, on_error="record")
    exp.add_run(n=4)
    before = [(run.status, run.error) for run in exp.runs]
    with pytest.raises(rt.RuntableError, match="empty list of steps"):
        exp.execute([])
    assert [(run.status, run.error) for run in exp.runs] == before


@pytest.mark.parametrize(
    "bad",
    [{"on_error": "skip"}, {"n_jobs": 2, "backend": "lokky"}, {"n_jobs": 0}],
    ids=["on_error", "backend", "n_jobs"],
)
def test_a_refused_execute_leaves_the_stored_experiment_and_config_as_they_were(
    tmp_path: Path, bad: dict[str, Any]
) -> None:
    url = f"sqlite:///{tmp_path / 'refused.db'}"
    session = rt.connect(url)
    session.create_experiment("e").add_runs(n=[1, 2, 3]).execute(sm.plain_square).persist()
    exp = session.create_experiment("e").add_runs(n=[1, 2, 3])
    with pytest.raises(ValueError, match=r"on_error|backend|n_jobs"):
        exp.execute(sm.plain_square, persist=True, if_exists="replace", config={"lr": 0.1}, **bad)
    assert dict(exp.config) == {}
    stored = rt.connect(url).load_experiment("e")
    assert [run.status for run in stored.runs] == ["done"] * 3
    assert dict(stored.config) == {}


# -- what comes back from workers ----------------------------------------------------------------


def set_loss_by_parity(run: rt.Run) -> None:
    run.fields.other = run.params.n
    run.fields["Loss" if run.params.n % 2 else "loss"] = 1.0
    run.fields.z = 2


@pytest.mark.parametrize("how", [THREADING, LOKY], ids=["threading", "loky"])
def test_parallel_batches_creating_names_that_clash_fail_those_runs_like_in_process(
    session: rt.Session, how: dict[str, Any]
) -> None:
    """Names differing only in case, created by two batches: the runs that set the name the
    experiment refused fail with the name error (on_error="record" goes on), as with n_jobs=1;
    no run is left done without the fields its step set."""
    exp = session.create_experiment("clash").add_runs(n=list(range(16)))
    exp.execute(set_loss_by_parity, on_error="record", **how)
    done = [run for run in exp.runs if run.status == "done"]
    failed = [run for run in exp.runs if run.status == "failed"]
    assert len(done) == len(failed) == 8
    assert len({run.params.n % 2 for run in failed}) == 1  # the runs of one name
    for run in done:
        assert run.fields.z == 2
        assert run.steps["set_loss_by_parity"]["status"] == "done"
    for run in failed:
        assert "clashes with" in (run.error or "")
        assert run.steps["set_loss_by_parity"]["status"] == "failed"
    assert exp.last_execution is not None
    assert exp.last_execution.failed == 8
    with pytest.raises(rt.InvalidNameError, match="clashes with"):
        session.create_experiment("clash2").add_runs(n=list(range(16))).execute(
            set_loss_by_parity, **how
        )


def make_big_state(run: rt.Run) -> None:
    run.fields.state = np.zeros(200_000)  # 1.6 MB: past joblib's memmapping threshold
    run.fields.grid = np.zeros((400, 500), order="F")  # 1.6 MB, Fortran order


def advance_state(run: rt.Run) -> None:
    run.fields.state += 1.0  # in place
    run.fields.grid[0, :] += 1.0
    run.fields.total = float(run.fields.state.sum() + run.fields.grid.sum())


@pytest.mark.parametrize("how", [IN_PROCESS, LOKY], ids=["in_process", "loky"])
def test_big_array_fields_change_in_place_in_worker_processes_too(
    session: rt.Session, how: dict[str, Any]
) -> None:
    """Arrays over 1 MB reach loky workers as memmaps: writable, as in this process, and
    changed in place they come back changed."""
    exp = session.create_experiment("big_state").add_runs(n=[1, 2, 3])
    exp.execute(make_big_state)
    exp.execute(advance_state, **how)
    exp.execute(advance_state, **how)
    assert [run.fields.total for run in exp.runs] == [401_000.0] * 3
    for run in exp.runs:
        assert float(run.fields.state[0]) == 2.0
        assert run.fields.state.flags.writeable
        assert run.fields.grid[0].tolist() == [2.0] * 500
        assert float(run.fields.grid[1:].sum()) == 0.0


def keep_a_generator(run: rt.Run) -> None:
    run.fields.score = run.params.n * 2
    run.vars.batches = (b for b in range(3))  # a var that cannot be pickled


def read_score(run: rt.Run) -> None:
    run.fields.again = run.fields.score


def test_a_var_that_does_not_pickle_loses_no_result_of_its_parallel_batch(
    tmp_path: Path,
) -> None:
    """A var that cannot travel back from a worker process is dropped with a warning naming
    the run and the var; the batch's fields and statuses come back and are stored. One that
    cannot travel to a worker stays in this process."""
    session = rt.connect(f"sqlite:///{tmp_path / 'vars.db'}")
    exp = session.create_experiment("v").add_runs(n=[1, 2, 3, 4])
    came_back = r"var 'batches' of 4 runs \(\d+, .* could not come back"
    with pytest.warns(RuntimeWarning, match=came_back):
        exp.execute(keep_a_generator, on_error="record", persist=True, **LOKY)
    expected = [("done", 2), ("done", 4), ("done", 6), ("done", 8)]
    assert [(run.status, run.fields.score) for run in exp.runs] == expected
    stored = session.load_experiment("v")
    assert [(run.status, run.fields.score) for run in stored.runs] == expected

    here = session.create_experiment("w").add_runs(n=[1, 2])
    here.execute(keep_a_generator)
    generators = [run.vars.batches for run in here.runs]
    travel = r"var 'batches' \(builtins.generator\) of 2 runs .* did not travel"
    with pytest.warns(RuntimeWarning, match=travel):
        here.execute(read_score, **LOKY)
    assert [run.fields.again for run in here.runs] == [2, 4]
    assert [run.vars.batches for run in here.runs] == generators


STARTED = threading.Event()


def train_in_place(run: rt.Run) -> None:
    if run.params.n == 0:
        STARTED.wait(timeout=10)  # fail while run 1 is under way in the other thread
        raise ValueError("diverged")
    run.fields.history.append(0)  # in place: the caller's list
    STARTED.set()
    time.sleep(0.3)
    run.fields.history.append(1)


def test_threads_end_before_execute_raises_and_their_runs_are_whole(
    session: rt.Session,
) -> None:
    """backend="threading", on_error="raise": the runs under way in other threads end before
    the exception reaches the caller, and what they did is applied with their bookkeeping:
    a pending run is unchanged, a changed run is done, and nothing changes afterwards."""
    STARTED.clear()
    exp = session.create_experiment("abandon").add_runs(n=[0, 1, 2, 3])
    for run in exp.runs:
        run.fields.history = []
    with pytest.raises(ValueError, match="diverged"):
        exp.execute(train_in_place, **THREADING)
    seen = [(run.status, list(run.fields.history)) for run in exp.runs]
    assert seen[0] == ("failed", [])
    assert seen[1] == ("done", [0, 1])  # it was under way when run 0 failed
    for status, history in seen[2:]:
        assert (status, tuple(history)) in {("pending", ()), ("done", (0, 1))}
    time.sleep(0.5)
    assert [(run.status, list(run.fields.history)) for run in exp.runs] == seen
    summary = exp.last_execution
    assert summary is not None
    assert summary.done == sum(status == "done" for status, _ in seen)


def _grow(run: rt.Run) -> None:
    run.params.layers.append(99)
    run.fields.depth = len(run.params.layers)


def _count(run: rt.Run) -> None:
    run.config.seen.append(run.params.x)
    run.fields.k = len(run.config.seen)


@pytest.mark.parametrize(("n_jobs", "backend"), [(1, None), (2, "loky"), (2, "threading")])
def test_a_step_changing_a_param_or_the_config_in_place_fails_and_they_stay(
    n_jobs: int, backend: str | None
) -> None:
    # Regression: params and config refused assignment but not changes in place: with one
    # job the grid point (or every later run's config) changed, with two the change vanished.
    exp = rt.connect("sqlite://").create_experiment("p").add_runs(layers=[[8, 8], [16]])
    exp.execute(_grow, n_jobs=n_jobs, backend=backend, on_error="record", progress=False)
    assert [r.params.layers for r in exp.runs] == [[8, 8], [16]]
    assert {r.status for r in exp.runs} == {"failed"}
    assert all("InputChangedError" in (r.error or "") for r in exp.runs)
    with pytest.raises(rt.InputChangedError, match="param 'layers'"):
        exp.execute(_grow, n_jobs=n_jobs, backend=backend, progress=False)

    exp = rt.connect("sqlite://").create_experiment("c").add_runs(x=[1, 2, 3])
    exp.execute(_count, config={"seen": []}, n_jobs=n_jobs, backend=backend, on_error="record")
    assert dict(exp.config) == {"seen": []}
    assert {r.status for r in exp.runs} == {"failed"}
    assert "config 'seen'" in (exp.runs.first().error or "")


def test_a_param_object_shared_by_grid_points_is_put_back_for_all() -> None:
    # Regression: add_runs gives every grid point of an axis value the same object; putting
    # back a copy in the failing run's cell left the other runs with the changed list.
    exp = rt.connect("sqlite://").create_experiment("shared")
    exp.add_runs(layers=[[8, 8]], lr=[0.1, 0.2])
    with pytest.raises(rt.InputChangedError):
        exp.execute(_grow, progress=False)
    assert [r.params.layers for r in exp.runs] == [[8, 8], [8, 8]]
    assert len(exp.add_runs(layers=[[8, 8]], lr=[0.1, 0.2]).runs) == 2  # the same points
