"""Reliability campaign: faults injected into real sweeps, through the public API.

For every fault: a clear error, and nothing previously stored is lost. Faults are real: a
SQLite file that cannot grow (``PRAGMA max_page_count``, and a 2 MB tmpfs when mounting is
allowed), a read-only database (a read-only connection, and a read-only file written by another
user), a failing step, a worker process that exits, KeyboardInterrupt and SIGINT, kill -9 at
random moments, stored values overwritten with junk by SQL, and a malicious stored pickle.

Steps are in tests/campaign/steps.py (importable by loky workers); faults are switched on per
run through ``run.vars``, which a resumed (loaded) experiment does not have, so the resume runs
the very same step. Sweeps in subprocesses are tests/campaign/sweep.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pwd
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from campaign.checks import (
    HERE,
    assert_same_runs,
    check_sweep,
    index,
    log_ids,
    run_sweep,
    script_env,
    start_sweep,
    statuses,
    sweep_uninterrupted,
)
from campaign.steps import FlakyError, measure
from campaign.tally import record
from conftest import backend_name, blob, write_sql
from identical import assert_identical

import runtable as rt

#: The grid of the subprocess sweeps (tests/campaign/sweep.py): 600 runs.
SWEEP_A, SWEEP_B = 30, 20
SWEEP_RUNS = SWEEP_A * SWEEP_B


def values(x: int) -> dict[str, Any]:
    return {"y": x * 2.5, "label": f"x{x}"}


def reference(n: int, **grid: Any) -> rt.Experiment:
    """The grid ``i=range(n)`` (plus ``grid``) executed with ``measure``, without any fault."""
    exp = rt.connect("sqlite://").create_experiment("reference").add_runs(i=range(n), **grid)
    return exp.execute(measure)


def check_runs(
    session: rt.Session, name: str, expected: rt.Experiment, failed: frozenset[int] = frozenset()
) -> set[int]:
    """Load ``name`` and check every run: done runs hold exactly the reference's fields, other
    runs are pending (or failed, for the indices in ``failed``) and hold no field. Runs are
    keyed by their place in the grid (`index`): ids are random per process. Returns the
    indices of the done runs."""
    loaded = session.load_experiment(name)
    assert [index(r) for r in loaded.runs] == [index(r) for r in expected.runs]
    assert session.ls().set_index("name").loc[name, "n_runs"] == len(expected.runs)
    by_index = {index(r): r for r in expected.runs}
    done = set()
    for run in loaded.runs:
        k = index(run)
        if run.status == "done":
            assert_identical(dict(run.fields), dict(by_index[k].fields))
            done.add(k)
        else:
            assert run.status == ("failed" if k in failed else "pending"), k
            assert dict(run.fields) == {}, k
    return done


def started_at(session: rt.Session, name: str) -> dict[int, Any]:
    """When each done run started, as stored."""
    runs = session.load_experiment(name).runs
    return {index(r): r.started_at for r in runs if r.status == "done"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'campaign.db'}"


# -- 1. disk full -------------------------------------------------------------------------------


def cap_pages(session: rt.Session, extra_pages: int) -> Callable[[], None]:
    """Keep the session's SQLite database from growing more than ``extra_pages`` pages past
    its current size, as a full disk would: ``PRAGMA max_page_count`` on every connection
    that any engine opens to that file from now on (SQLAlchemy's ``connect`` event of all
    engines), after the session has released the connections it holds. Returns a function
    that lifts the cap (the session then releases its capped connections again)."""
    path = os.path.realpath(str(sa.make_url(session.url).database))
    limit = int(session.query("PRAGMA page_count").iloc[0, 0]) + extra_pages

    def cap(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        files = [row[2] for row in cursor.execute("PRAGMA database_list")]
        if path in map(os.path.realpath, filter(None, files)):
            cursor.execute(f"PRAGMA max_page_count = {limit}")
        cursor.close()

    sa.event.listen(sa.Engine, "connect", cap)
    session.close()  # pooled connections have no cap: new ones get it

    def lift() -> None:
        sa.event.remove(sa.Engine, "connect", cap)
        session.close()

    return lift


def with_arrays(exp: rt.Experiment, size: int) -> rt.Experiment:
    for run in exp.runs:
        run.fields.data = np.random.default_rng(index(run)).random(size)
    return exp


def test_disk_full_at_persist_is_a_clear_error_and_keeps_what_was_stored(sqlite_url: str) -> None:
    session = rt.connect(sqlite_url)
    session.create_experiment("small", note="first").add_runs(i=range(5)).execute(measure).persist()
    before = session.load_experiment("small")
    lift = cap_pages(session, 8)

    big = with_arrays(session.create_experiment("big").add_runs(i=range(20)), 20_000)
    with pytest.raises(rt.StorageError, match="full"):
        big.persist()
    bigger = with_arrays(
        session.create_experiment("small", note="second").add_runs(i=range(20)), 20_000
    )
    with pytest.raises(rt.StorageError, match="full"):
        bigger.persist(if_exists="replace")  # the old version must survive
    record("test_campaign.py::disk_full_persist", faults=2)

    fresh = rt.connect(sqlite_url)
    assert list(fresh.ls()["name"]) == ["small"]
    again = fresh.load_experiment("small")
    assert dict(again.fields) == {"note": "first"}
    assert_same_runs(again, before)
    with pytest.raises(rt.ExperimentNotFoundError):
        fresh.load_experiment("big")

    lift()  # with room again, the same experiment persists
    big.persist()
    assert_same_runs(fresh.load_experiment("big"), big)
    fresh.close()
    session.close()


def fill_mid_sweep(url: str, n: int) -> tuple[rt.Session, rt.Experiment, Callable[[], None]]:
    """Execute ``n`` runs of 16 KB each with persist=True into a SQLite file capped at ~2.4 MB:
    the first batch written (at most ~100 runs, one second of 10 ms runs) fits, the sweep does
    not. Returns the session, the in-memory experiment and the function that lifts the cap."""
    session = rt.connect(url)
    exp = session.create_experiment("sweep").add_runs(i=range(n), size=[2000]).persist()
    lift = cap_pages(session, 600)
    for run in exp.runs:
        run.vars.sleep = 0.01
    with pytest.raises(rt.StorageError, match="full"):
        exp.execute(measure, persist=True)
    return session, exp, lift


@pytest.mark.slow
def test_disk_full_mid_sweep_keeps_the_stored_runs_and_a_resume_completes(sqlite_url: str) -> None:
    n = 200
    expected = reference(n, size=[2000])
    _, exp, lift = fill_mid_sweep(sqlite_url, n)
    done = check_runs(rt.connect(sqlite_url), "sweep", expected)
    assert 0 < len(done) < n, "the cap should stop the sweep after its first batch"
    computed = {index(r) for r in exp.runs if r.status == "done"}
    assert done <= computed
    record("test_campaign.py::disk_full_sweep", faults=1, in_flight=len(computed - done))

    lift()
    resumed = rt.connect(sqlite_url).load_experiment("sweep")
    resumed.execute(measure, persist=True, resume=True)
    final = rt.connect(sqlite_url)
    assert check_runs(final, "sweep", expected) == set(range(n))
    assert_same_runs(final.load_experiment("sweep"), expected)


@pytest.mark.slow
def test_after_disk_full_executing_the_same_experiment_again_stores_every_run(
    sqlite_url: str,
) -> None:
    """The natural reaction to "database or disk is full": free space, run the same
    ``exp.execute(..., persist=True, resume=True)`` again. Runs computed in the batch that could
    not be written must then be written, not skipped as done while the database keeps them
    pending."""
    n = 200
    _, exp, lift = fill_mid_sweep(sqlite_url, n)
    record("test_campaign.py::disk_full_same_object", faults=1)
    lift()
    exp.execute(measure, persist=True, resume=True)
    assert all(r.status == "done" for r in exp.runs)
    assert statuses(rt.connect(sqlite_url), "sweep") == {"done": n}


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs mounted for the test (skipped where mounting is not permitted)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)]
    try:
        done = subprocess.run(mount, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        pytest.skip("no mount command")
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        if subprocess.run(["umount", str(mount_point)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


@pytest.mark.slow
def test_disk_full_on_a_real_tiny_filesystem(tiny_filesystem: Path) -> None:
    url = f"sqlite:///{tiny_filesystem / 'runs.db'}"
    session = rt.connect(url)
    session.create_experiment("small").add_runs(i=range(5)).execute(measure).persist()
    before = session.load_experiment("small")

    big = with_arrays(session.create_experiment("big").add_runs(i=range(20)), 20_000)  # 3.2 MB
    with pytest.raises(rt.StorageError, match="full"):
        big.persist()
    assert_same_runs(rt.connect(url).load_experiment("small"), before)

    n = 100  # 32 KB per run, 20 ms each: the first batch fits, the sweep does not
    expected = reference(n, size=[4000])
    sweep = session.create_experiment("sweep").add_runs(i=range(n), size=[4000])
    for run in sweep.runs:
        run.vars.sleep = 0.02
    with pytest.raises(rt.StorageError, match="full"):
        sweep.execute(measure, persist=True)
    record("test_campaign.py::tmpfs", faults=2)
    check = rt.connect(url)
    done = check_runs(check, "sweep", expected)
    assert_same_runs(check.load_experiment("small"), before)
    check.close()
    session.close()

    remount = ["mount", "-o", "remount,size=64m", str(tiny_filesystem)]
    subprocess.run(remount, check=True, capture_output=True, timeout=30)
    resumed = rt.connect(url)
    resumed.load_experiment("sweep").execute(measure, persist=True, resume=True)
    assert check_runs(resumed, "sweep", expected) == set(range(n)) >= done
    assert_same_runs(resumed.load_experiment("small"), before)
    resumed.close()


# -- 2. read-only database ------------------------------------------------------------------------


def test_read_only_connection_is_a_clear_error_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    writer = rt.connect(f"sqlite:///{path}")
    writer.create_experiment("first", note="kept").add_runs(x=range(5)).execute(values).persist()
    before = writer.load_experiment("first")
    writer.close()
    digest = sha256(path)

    ro = rt.connect(f"sqlite:///file:{path}?mode=ro&uri=true")
    attempts: dict[str, Callable[[], object]] = {
        "persist": lambda: ro.create_experiment("second").add_runs(x=range(3)).persist(),
        "replace": lambda: ro.create_experiment("first").add_runs(x=range(9)).persist("replace"),
        "append": lambda: ro.load_experiment("first").add_runs(x=[7, 8]).persist("append"),
        "execute": lambda: ro.load_experiment("first").execute(values, persist=True),
        "delete": lambda: ro.delete_experiment("first"),
    }
    for what, attempt in attempts.items():
        with pytest.raises(rt.StorageError, match=r"readonly|read-only") as info:
            attempt()
        assert "first" in str(info.value) or "second" in str(info.value), what
    record("test_campaign.py::read_only_url", faults=len(attempts))

    assert list(ro.ls()["name"]) == ["first"]
    again = ro.load_experiment("first")
    assert dict(again.fields) == {"note": "kept"}
    assert_same_runs(again, before)
    ro.close()
    assert sha256(path) == digest


@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    """A directory that user nobody can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="runtable-campaign-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for p in [path, *path.rglob("*")]:
            p.chmod(0o777 if p.is_dir() else 0o666)
        shutil.rmtree(path)


@pytest.mark.slow
@pytest.mark.parametrize("read_only", ["file", "file-and-directory"])
def test_read_only_file_for_another_user_is_a_clear_error_and_changes_nothing(
    read_only: str, world_readable_dir: Path, tmp_path: Path
) -> None:
    """As root chmod stops nothing: tests/campaign/as_nobody.py writes as user nobody."""
    if os.geteuid() != 0:
        pytest.skip("running a process as another user needs root")
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    store = world_readable_dir / "store"
    store.mkdir()
    path = store / "runs.db"
    writer = rt.connect(f"sqlite:///{path}")
    writer.create_experiment("first", note="kept").add_runs(x=range(5)).execute(values).persist()
    before = writer.load_experiment("first")
    writer.close()
    digest = sha256(path)
    path.chmod(0o444)
    store.chmod(0o555 if read_only == "file-and-directory" else 0o777)

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    done = subprocess.run(
        [sys.executable, str(HERE / "as_nobody.py"), f"sqlite:///{path}", str(scratch)],
        capture_output=True,
        text=True,
        timeout=120,
        env=script_env(),
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome.pop("uid") != 0
    load = outcome.pop("load")
    for what, result in outcome.items():
        assert not result["ok"], f"{what} wrote to a read-only database"
        assert result["error"] == "StorageError", (what, result)
        assert "readonly" in result["message"] or "read-only" in result["message"], result
    record("test_campaign.py::read_only_user", faults=len(outcome))
    if read_only == "file":  # the directory lets SQLite make its -shm file: reading works
        assert load == {"ok": True, "result": 5}

    store.chmod(0o755)
    path.chmod(0o644)
    assert sha256(path) == digest
    session = rt.connect(f"sqlite:///{path}")
    assert list(session.ls()["name"]) == ["first"]
    assert_same_runs(session.load_experiment("first"), before)
    session.close()


# -- 3. a failing step in 1 of 1,000 runs --------------------------------------------------------

BACKENDS = {"in-process": {}, "loky": {"n_jobs": 2, "backend": "loky"}}


@pytest.mark.slow
@pytest.mark.parametrize("backend", list(BACKENDS))
def test_one_failing_run_in_1000_is_recorded_and_every_other_run_stored(
    shared_url: str, backend: str
) -> None:
    n, bad = 1000, 617
    expected = reference(n)
    exp = rt.connect(shared_url).create_experiment("flaky").add_runs(i=range(n))
    exp.runs.at(bad).vars.fault = "raise"
    exp.execute(measure, on_error="record", persist=True, **BACKENDS[backend])
    record("test_campaign.py::one_in_1000_record", faults=1, inputs=n)

    session = rt.connect(shared_url)
    assert statuses(session, "flaky") == {"done": n - 1, "failed": 1}
    assert check_runs(session, "flaky", expected, failed=frozenset({bad})) == set(range(n)) - {bad}
    error = session.load_experiment("flaky").runs.at(bad).error
    assert error.startswith("Traceback (most recent call last)")
    assert f"FlakyError: injected failure in run i={bad}" in error
    bad_id = exp.runs.at(bad).id
    assert f"run {bad_id} with params {{'i': {bad}}} failed in step 'measure'" in error


@pytest.mark.slow
@pytest.mark.parametrize("backend", list(BACKENDS))
def test_one_failing_run_in_1000_with_raise_keeps_its_type_and_a_resume_completes(
    shared_url: str, backend: str
) -> None:
    n, bad = 1000, 500
    expected = reference(n)
    exp = rt.connect(shared_url).create_experiment("flaky").add_runs(i=range(n))
    exp.runs.at(bad).vars.fault = "raise"
    with pytest.raises(FlakyError, match=f"injected failure in run i={bad}") as info:
        exp.execute(measure, persist=True, **BACKENDS[backend])
    assert any(f"run {exp.runs.at(bad).id} " in note for note in info.value.__notes__)
    record("test_campaign.py::one_in_1000_raise", faults=1, inputs=n)

    session = rt.connect(shared_url)
    done = check_runs(session, "flaky", expected, failed=frozenset({bad}))
    assert "FlakyError" in session.load_experiment("flaky").runs.at(bad).error
    computed = {index(r) for r in exp.runs if r.status == "done"}
    assert done == computed  # every run finished before the failure is stored
    if backend == "in-process":
        assert done == set(range(bad))
    before = started_at(session, "flaky")

    resumed = rt.connect(shared_url).load_experiment("flaky")
    resumed.execute(measure, persist=True, resume=True, **BACKENDS[backend])
    assert check_runs(session, "flaky", expected) == set(range(n))
    after = started_at(session, "flaky")
    assert {i: after[i] for i in before} == before  # the resume did not run them again
    assert_same_runs(session.load_experiment("flaky"), expected)


# -- 4. a worker process that dies ---------------------------------------------------------------


@pytest.mark.slow
def test_a_worker_process_that_dies_is_a_clear_error_and_a_resume_completes(
    shared_url: str, tmp_path: Path
) -> None:
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    n, bad = 80, 40
    expected = reference(n)
    log = tmp_path / "steps.log"
    exp = rt.connect(shared_url).create_experiment("dies").add_runs(i=range(n))
    for run in exp.runs:
        run.vars.update(log=str(log), sleep=0.01)
    exp.runs.at(bad).vars.fault = "exit"
    with pytest.raises(TerminatedWorkerError, match="terminated"):
        exp.execute(measure, n_jobs=2, backend="loky", persist=True)

    session = rt.connect(shared_url)
    done = check_runs(session, "dies", expected)
    _, ended = log_ids(log)
    assert bad not in done
    assert done <= ended
    computed = {index(r) for r in exp.runs if r.status == "done"}
    assert done == computed  # what the parent received is stored
    record("test_campaign.py::worker_dies", faults=1, in_flight=len(ended - done))
    before = started_at(session, "dies")

    resumed = rt.connect(shared_url).load_experiment("dies")
    resumed.execute(measure, n_jobs=2, backend="loky", persist=True, resume=True)
    assert check_runs(session, "dies", expected) == set(range(n))
    after = started_at(session, "dies")
    assert {i: after[i] for i in before} == before
    assert_same_runs(session.load_experiment("dies"), expected)


# -- 5. KeyboardInterrupt -------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["interrupt", "sigint"])
def test_keyboard_interrupt_in_a_step_keeps_the_finished_runs(shared_url: str, fault: str) -> None:
    """A step that raises KeyboardInterrupt, and one that sends this process a real SIGINT."""
    n, bad = 200, 120
    expected = reference(n)
    exp = rt.connect(shared_url).create_experiment("ctrl_c").add_runs(i=range(n))
    exp.runs.at(bad).vars.fault = fault
    with pytest.raises(KeyboardInterrupt):
        exp.execute(measure, persist=True)
    record("test_campaign.py::keyboard_interrupt", faults=1)

    session = rt.connect(shared_url)
    assert check_runs(session, "ctrl_c", expected) == set(range(bad))
    rt.connect(shared_url).load_experiment("ctrl_c").execute(measure, persist=True, resume=True)
    assert check_runs(session, "ctrl_c", expected) == set(range(n))
    assert_same_runs(session.load_experiment("ctrl_c"), expected)


@pytest.fixture(scope="module")
def sweep_reference() -> rt.Experiment:
    """The sweep of tests/campaign/sweep.py, uninterrupted, stored and loaded again."""
    return sweep_uninterrupted(SWEEP_A, SWEEP_B)


def wait_for_runs(child: subprocess.Popen[str], log: Path, n: int) -> None:
    """Wait until ``n`` runs of the sweep ``child`` have ended."""
    deadline = time.monotonic() + 120
    while len(log_ids(log)[1]) < n:
        if child.poll() is not None:
            pytest.fail(f"the sweep ended early: {child.communicate()[1]}")
        assert time.monotonic() < deadline, "the sweep does not progress"
        time.sleep(0.005)


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2], ids=["in-process", "loky"])
def test_sigint_to_a_sweep_process_keeps_finished_runs_and_a_resume_completes(
    tmp_path: Path, jobs: int, sweep_reference: rt.Experiment
) -> None:
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    log = tmp_path / "steps.log"
    env = {"RUNTABLE_SWEEP_SLEEP": "0.005", "RUNTABLE_SWEEP_LOG": str(log)}
    if jobs > 1:
        env.update(RUNTABLE_SWEEP_JOBS=str(jobs), RUNTABLE_SWEEP_BACKEND="loky")
    child = start_sweep(url, "sweep", SWEEP_A, SWEEP_B, **env)
    try:
        wait_for_runs(child, log, 100)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGINT, err  # the usual death by KeyboardInterrupt
    assert "KeyboardInterrupt" in err

    session = rt.connect(url)
    reference_fields = {index(r): dict(r.fields) for r in sweep_reference.runs}
    done = check_sweep(session, "sweep", SWEEP_RUNS, reference_fields)
    _, ended = log_ids(log)
    assert done <= ended  # no interrupted run is marked done
    assert len(done) < SWEEP_RUNS
    in_flight = ended - done
    if jobs == 1:  # at most the run between its last line and the hand-over to the writer
        assert len(in_flight) <= 1, sorted(in_flight)
    record("test_campaign.py::sigint", faults=1, in_flight=len(in_flight))

    run_sweep(url, "sweep", SWEEP_A, SWEEP_B)
    assert check_sweep(session, "sweep", SWEEP_RUNS, reference_fields) == set(reference_fields)
    assert_same_runs(session.load_experiment("sweep"), sweep_reference)


# -- 6. kill -9 at random moments ----------------------------------------------------------------


@pytest.mark.slow
def test_kill_9_at_random_moments_then_resume_gives_the_uninterrupted_result(
    shared_url: str, tmp_path: Path, sweep_reference: rt.Experiment
) -> None:
    """Five kill -9 at seeded random moments: the first while the grid is first stored, the
    others in the middle of the sweep, after a seeded number of runs (about one to three
    batch writes; a batch is written every second). After each: the experiment loads, every
    run is whole (done with all its fields, equal to the uninterrupted run, or pending with
    none), and no stored run is lost."""
    rng = random.Random(20240611)
    # The first kill lands while the grid is first stored; the others once the child has
    # finished a seeded number of runs (one to three batches' worth, at most half of what is
    # left), so that they land mid-sweep however fast or loaded the machine is.
    first_delay = rng.uniform(0.0, 0.15)
    targets = [0] + [rng.randint(130, 330) for _ in range(4)]
    reference_fields = {index(r): dict(r.fields) for r in sweep_reference.runs}
    session = rt.connect(shared_url)
    stored: set[int] = set()
    mid_sweep = 0
    for k in range(len(targets)):
        ready, log = tmp_path / f"ready_{k}", tmp_path / f"steps_{k}.log"
        env = {"RUNTABLE_SWEEP_SLEEP": "0.008", "RUNTABLE_SWEEP_READY": str(ready)}
        child = start_sweep(
            shared_url, "sweep", SWEEP_A, SWEEP_B, RUNTABLE_SWEEP_LOG=str(log), **env
        )
        try:
            deadline = time.monotonic() + 120
            while not ready.exists():
                assert child.poll() is None, child.communicate()[1]
                assert time.monotonic() < deadline
                time.sleep(0.002)
            if k == 0:
                time.sleep(first_delay)
            else:
                left = SWEEP_RUNS - len(stored)
                target = max(1, min(targets[k], left // 2))
                while len(log_ids(log)[1]) < target and child.poll() is None:
                    assert time.monotonic() < deadline
                    time.sleep(0.01)
            child.send_signal(signal.SIGKILL)
        finally:
            child.wait()
        try:
            done = check_sweep(session, "sweep", SWEEP_RUNS, reference_fields)
        except rt.ExperimentNotFoundError:  # killed before the grid was first stored
            done = set()
        in_flight = len(log_ids(log)[1] - done)
        record("test_campaign.py::kill_9", faults=1, lost=len(stored - done), in_flight=in_flight)
        assert done >= stored, f"kill {k} lost stored runs {sorted(stored - done)}"
        mid_sweep += 0 < len(done) < SWEEP_RUNS
        stored = done
    assert mid_sweep >= 2, "fewer than two kills landed in the middle of the sweep"

    run_sweep(shared_url, "sweep", SWEEP_A, SWEEP_B)
    assert check_sweep(session, "sweep", SWEEP_RUNS, reference_fields) == set(reference_fields)
    assert_same_runs(session.load_experiment("sweep"), sweep_reference)
    session.close()


# -- 7. a corrupted stored value -----------------------------------------------------------------

JUNK = b"\x00junk\xff" * 4

#: name -> (SQL that corrupts experiment "good", the field named by the error, backends it
#: applies to). The fourth run (``:bad``) is the corrupted one; ``:junk``, ``:half`` and
#: ``:entry`` (an exact-values map whose entry for "mixed" is junk) are bound by the test.
CORRUPTIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "blob-junk": (
        "UPDATE e_good SET path = :junk WHERE id_run = :bad",
        "path",
        ("sqlite", "postgresql", "crate"),
    ),
    "blob-truncated": (
        "UPDATE e_good SET path = :half WHERE id_run = :bad",
        "path",
        ("sqlite", "postgresql", "crate"),
    ),
    "exact-map-junk": (
        "UPDATE e_good SET runtable_exact = :junk WHERE id_run = :bad",
        "runtable_exact",
        ("sqlite", "postgresql"),
    ),
    "exact-entry-junk": (
        "UPDATE e_good SET runtable_exact = :entry WHERE id_run = :bad",
        "mixed",
        ("sqlite", "postgresql", "crate"),
    ),
    "float-cell-text": (
        "UPDATE e_good SET value = 'junk' WHERE id_run = :bad",
        "value",
        ("sqlite",),
    ),
    "json-cell-junk": (
        "UPDATE e_good SET metrics = 'junk{' WHERE id_run = :bad",
        "metrics",
        ("sqlite",),
    ),
    "experiment-fields": (
        "UPDATE experiments SET fields = :junk WHERE name = 'good'",
        "fields",
        ("sqlite", "postgresql", "crate"),
    ),
    "experiment-meta": (
        "UPDATE experiments SET meta = 'junk' WHERE name = 'good'",
        "meta",
        ("sqlite", "postgresql", "crate"),
    ),
}


def corruptible(x: int) -> dict[str, Any]:
    return {
        "value": x * 0.5,
        "label": f"x{x}",
        "path": np.arange(x + 100, dtype=np.float64),
        "metrics": {"x": x, "half": x / 2},
        "mixed": x if x == 3 else x + 0.25,  # an int among floats: kept in runtable_exact
    }


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_a_corrupted_stored_value_names_its_run_and_field_and_breaks_nothing_else(
    shared_url: str, corruption: str
) -> None:
    sql, field, backends = CORRUPTIONS[corruption]
    session = rt.connect(shared_url)
    backend = backend_name(session)
    if backend not in backends:
        pytest.skip(f"{backend} refuses this UPDATE itself (typed column)")
    good = session.create_experiment("good", note="n").add_runs(x=range(6)).execute(corruptible)
    good.persist()
    other = session.create_experiment("other").add_runs(x=range(4)).execute(corruptible).persist()
    bad = good.runs.at(3).id
    stored_path = session.query(f"SELECT path FROM e_good WHERE id_run = {bad}")["path"][0]
    if backend == "crate":  # bytes are base64 text there
        stored_path = base64.b64decode(stored_path)
    values = {
        "junk": JUNK,
        "half": bytes(stored_path)[:40],
        "entry": rt.codec.encode({"mixed": JUNK}),
    }
    params = {k: blob(session, v) for k, v in values.items() if f":{k}" in sql}
    params.update({"bad": bad} if ":bad" in sql else {})
    write_sql(session, sql, "e_good", "experiments", **params)
    record("test_campaign.py::corrupt", faults=1)

    reader = rt.connect(shared_url)
    # nothing else breaks: the listing (as `runtable ls` shows it) and the other experiment
    assert sorted(reader.ls()["name"]) == ["good", "other"]
    assert_same_runs(reader.load_experiment("other"), other)
    assert reader.query("SELECT COUNT(*) AS n FROM e_good")["n"][0] == 6
    # and loading the corrupted one says where the damage is
    with pytest.raises(rt.RuntableError) as info:
        reader.load_experiment("good")
    message = str(info.value)
    assert "'good'" in message
    if field in ("fields", "meta"):
        assert isinstance(info.value, (rt.CorruptValueError, rt.SchemaError)), repr(info.value)
    else:
        assert isinstance(info.value, rt.CorruptValueError), repr(info.value)
        assert f"run {bad}" in message
        assert f"'{field}'" in message
        part = reader.load_experiment("good", where=f"id_run <> {bad}")  # the rest is readable
        assert [r.id for r in part.runs] == [r.id for r in good.runs if r.id != bad]
        if field != "runtable_exact":  # a damaged map holds exact values of every column
            others = [f for f in ("value", "label", "path", "metrics", "mixed") if f != field]
            columns = reader.load_experiment("good", columns=others)
            assert columns.runs.at(3).fields.label == "x3"
    # and storing the experiment again repairs it
    good.persist(if_exists="replace")
    assert_same_runs(rt.connect(shared_url).load_experiment("good"), good)


# -- 8. a stored pickle is never executed unless asked ------------------------------------------


class Trap:
    """Unpickling a Trap creates its marker file: it shows whether a pickle was loaded."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.marker, "w"))


def test_a_stored_pickle_is_never_unpickled_unless_asked(shared_url: str, tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    session = rt.connect(shared_url)
    exp = session.create_experiment("trap").add_runs(x=range(3)).execute(values)
    exp.runs.at(1).vars.trap = Trap(str(marker))
    exp.persist(store_pickle=True)
    assert not marker.exists()

    reader = rt.connect(shared_url)
    loaded = reader.load_experiment("trap")
    assert_same_runs(loaded, exp)
    assert dict(loaded.runs.at(1).vars) == {}
    reader.load_experiment("trap", where="x > 0", columns=["y"])
    reader.ls()
    cli = [sys.executable, "-m", "runtable.cli"]
    for command in (["show", "trap"], ["export", "trap", "-", "--full"]):
        done = subprocess.run(
            [*cli, *command, "--url", shared_url], capture_output=True, text=True, env=script_env()
        )
        assert done.returncode == 0, done.stderr
    assert not marker.exists(), "a stored pickle was unpickled without unpickle=True"
    record("test_campaign.py::pickle", faults=1, inputs=6)

    unpickled = rt.connect(shared_url).load_experiment("trap", unpickle=True)
    assert marker.exists()  # the trap works: the test above could have failed
    unpickled.runs.at(1).vars.trap.close()


def test_a_stored_pickle_survives_incremental_writes(shared_url: str) -> None:
    """persist(store_pickle=True), then execute(persist=True) and an append: the experiment's
    pickle must still be there (refreshed or as it was), not silently dropped."""
    session = rt.connect(shared_url)
    exp = session.create_experiment("pickled").add_runs(x=range(3)).persist(store_pickle=True)
    exp.execute(values, persist=True)
    assert len(rt.connect(shared_url).load_experiment("pickled", unpickle=True).runs) == 3
    exp.add_runs(x=[3, 4]).persist(if_exists="append", store_pickle=True)
    loaded = rt.connect(shared_url).load_experiment("pickled")
    loaded.execute(values, persist=True)
    record("test_campaign.py::pickle_kept", faults=0, inputs=3)
    assert len(rt.connect(shared_url).load_experiment("pickled", unpickle=True).runs) >= 3
