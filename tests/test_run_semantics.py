"""Run semantics users rely on (issue 10): their own names, execute() that runs what it is
given, explicit resume with a per-step record, append that keeps everything, params as ML users
write them. Each test goes through the public API, on every backend where storage is involved.
"""

from __future__ import annotations

import functools
import logging
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import backend_name, write_sql

import runtable as rt
from runtable.names import ERROR_COLUMN, STATUS_COLUMN

# -- 1. the user's names are the user's --------------------------------------------------------

USER_NAMES = ["error", "status", "duration", "seed", "score", "started_at", "done_with", "run"]


def test_bookkeeping_names_are_free_for_params_and_fields(session: rt.Session) -> None:
    exp = session.create_experiment("names")
    exp.add_runs(status=["a", "b"], seed=[1])

    @rt.step
    def work(run: rt.Run) -> None:
        for name in USER_NAMES:
            if name not in run.params:
                run.fields[name] = f"{name}-{run.params.status}"

    exp.execute(work).persist()
    again = session.load_experiment("names")
    run = next(r for r in again.runs if r.params.status == "b")
    assert run.fields.error == "error-b"
    assert run.fields.duration == "duration-b"
    assert run.status == "done"  # runtable's own status, beside the user's
    sql = session.query(f"SELECT status, error, {STATUS_COLUMN} FROM e_names ORDER BY status")
    assert sql.to_dict("list") == {
        "status": ["a", "b"],
        "error": ["error-a", "error-b"],
        STATUS_COLUMN: ["done", "done"],
    }
    df = again.runs.df(meta=True)
    assert {"status", "error", STATUS_COLUMN, ERROR_COLUMN} <= set(df.columns)


@pytest.mark.parametrize("name", ["runtable_status", "id_run", "xmin", "ctid"])
def test_reserved_names_are_refused_with_the_reason(session: rt.Session, name: str) -> None:
    exp = session.create_experiment("reserved")
    with pytest.raises(rt.InvalidNameError, match=r"reserved by runtable|system column"):
        exp.add_run(**{name: 1})


def test_error_text_that_no_text_column_keeps_is_stored_exactly(session: rt.Session) -> None:
    """Issue 14 #2: a traceback holding a lone surrogate or a NUL is stored and loads as is."""
    exp = session.create_experiment("bad_text")
    exp.add_runs(i=[0, 1])

    @rt.step
    def fail(i: int) -> None:
        raise ValueError("bad \udcff text" if i == 0 else "nul \x00 text")

    exp.execute(fail, on_error="record").persist()
    again = session.load_experiment("bad_text")
    errors = sorted(r.error or "" for r in again.runs)
    assert "bad \udcff text" in errors[0] + errors[1]
    assert any("nul \x00 text" in e for e in errors)


# -- 2. execute() runs what it is given; resume is explicit ----------------------------------


def _count(run: rt.Run) -> None:
    run.fields.N = run.fields.get("N", 0) + 1


def test_mltraq_tracking_howto_counts_seven(session: rt.Session) -> None:
    """MLTRAQ's tracking how-to: [step]*3 twice, persist, reload, [step] once: N == 7."""
    exp = session.create_experiment("tracking").add_runs(X=[1, 2])
    exp.execute([_count] * 3)
    exp.execute([_count] * 3)
    exp.persist()
    again = session.load_experiment("tracking")
    again.execute([_count])
    assert [r.fields.N for r in again.runs] == [7, 7]


SETTING = {"scale": 1}


def _scaled(run: rt.Run) -> None:
    run.fields.y = run.params.x * SETTING["scale"]


def test_a_changed_module_setting_is_not_skipped() -> None:
    exp = rt.connect("sqlite://").create_experiment("setting").add_runs(x=[1, 2])
    exp.execute(_scaled)
    SETTING["scale"] = 10
    try:
        exp.execute(_scaled)
    finally:
        SETTING["scale"] = 1
    assert [r.fields.y for r in exp.runs] == [10, 20]


def test_resume_skips_only_runs_with_their_own_matching_record(session: rt.Session) -> None:
    calls: list[int] = []

    def gen(run: rt.Run) -> None:
        calls.append(run.params.x)
        run.fields.value = run.params.x * 2

    def evaluate(value: int) -> dict[str, int]:
        return {"score": value + 1}

    exp = session.create_experiment("resume").add_runs(x=[1, 2])
    exp.execute(gen).execute(evaluate).persist()
    again = session.load_experiment("resume")
    again.add_runs(x=[3])
    calls.clear()
    again.execute([gen], resume=True)
    assert calls == [3]  # the evaluation step's record did not replace gen's
    summary = again.last_execution
    assert summary is not None
    assert (summary.done, summary.failed, summary.skipped) == (1, 0, 2)
    assert "2 skipped: already done with the same steps (resume=True)" in str(summary)
    again.execute([gen], resume=True, config={"changed": True})
    assert calls == [3, 1, 2, 3]  # another config: nothing matches


def test_every_execution_reports_what_happened(caplog: pytest.LogCaptureFixture) -> None:
    exp = rt.connect("sqlite://").create_experiment("report").add_runs(i=range(10))

    def maybe_fail(i: int) -> None:
        if i % 5 == 0:
            raise RuntimeError(f"run {i} failed")

    with caplog.at_level(logging.INFO, logger="runtable"):
        exp.execute(maybe_fail, on_error="record")
    assert exp.last_execution is not None
    assert str(exp.last_execution).endswith("s")
    assert "8 done, 2 failed (see run.error)" in str(exp.last_execution)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "2 failed" in warnings[0].getMessage()


def test_execute_without_runs_executes_one_run_with_no_params() -> None:
    """MLTRAQ's fibonacci example relies on it."""

    def init(run: rt.Run) -> None:
        run.fields.F = [0, 1]

    def step(run: rt.Run) -> None:
        run.fields.F.append(run.fields.F[-1] + run.fields.F[-2])

    exp = rt.connect("sqlite://").create_experiment("fib")
    exp.execute(init).execute([step] * 8)
    assert len(exp.runs) == 1
    assert exp.runs.first().fields.F == [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]


def test_a_later_step_keeps_the_earlier_steps_timings(session: rt.Session) -> None:
    import time

    def fit(run: rt.Run) -> None:
        time.sleep(0.2)
        run.fields.model = 1

    def evaluate(model: int) -> dict[str, int]:
        return {"score": model}

    exp = session.create_experiment("timings").add_runs(i=[0])
    exp.execute(fit).execute(evaluate).persist()
    run = session.load_experiment("timings").runs.first()
    assert run.started_at is not None
    assert run.ended_at is not None
    assert (run.ended_at - run.started_at).total_seconds() >= 0.2
    assert run.duration is not None
    assert run.duration >= 0.2
    assert set(run.steps) == {"fit", "evaluate"}
    assert run.steps["fit"]["status"] == "done"


# -- 3. append keeps everything, from any number of processes ---------------------------------


def test_shards_appending_to_one_experiment_all_land(shared_url: str) -> None:
    for shard in range(3):  # a fresh session and experiment per shard, as on other machines
        session = rt.connect(shared_url)
        exp = session.create_experiment("sharded")
        exp.add_runs(i=range(shard * 5, shard * 5 + 5))
        exp.execute(lambda run: run.fields.update(sq=run.params.i**2))
        exp.persist(if_exists="append")
        session.close()
    session = rt.connect(shared_url)
    again = session.load_experiment("sharded")
    assert sorted(r.params.i for r in again.runs) == list(range(15))
    assert len({r.id for r in again.runs}) == 15
    assert session.ls().set_index("name").loc["sharded", "n_runs"] == 15


def test_a_grid_point_stored_twice_is_refused(shared_url: str) -> None:
    session = rt.connect(shared_url)
    session.create_experiment("twice").add_runs(i=[0, 1]).persist()
    other = rt.connect(shared_url).create_experiment("twice").add_runs(i=[1, 2])
    with pytest.raises(rt.ConflictError, match=r"grid point \{'i': 1\} is stored already"):
        other.persist(if_exists="append")
    assert sorted(r.params.i for r in session.load_experiment("twice").runs) == [0, 1]


def test_append_after_evaluation_stores_the_new_fields(session: rt.Session) -> None:
    exp = session.create_experiment("evaluated").add_runs(x=[1, 2])
    exp.execute(lambda run: run.fields.update(y=run.params.x * 10)).persist()
    again = session.load_experiment("evaluated")
    again.execute(lambda y: {"score": y + 0.5})
    again.persist(if_exists="append")
    stored = session.query("SELECT x, y, score FROM e_evaluated ORDER BY x")
    assert stored.to_dict("list") == {"x": [1, 2], "y": [10, 20], "score": [10.5, 20.5]}


def test_two_evaluators_appending_keep_each_others_fields(session: rt.Session) -> None:
    session.create_experiment("two").add_runs(x=[1, 2]).execute(
        lambda run: run.fields.update(y=float("nan"))  # exact values kept per row
    ).persist()
    first = session.load_experiment("two")
    second = session.load_experiment("two")
    first.execute(lambda x: {"a": x})
    second.execute(lambda x: {"b": -x})
    first.persist(if_exists="append")
    second.persist(if_exists="append")
    runs = list(session.load_experiment("two").runs)
    assert [(r.fields.a, r.fields.b) for r in runs] == [(1, -1), (2, -2)]
    assert all(np.isnan(r.fields.y) for r in runs)


def test_the_end_of_a_tracked_run_is_appended_after_a_checkpoint_inside_it(
    session: rt.Session,
) -> None:
    # Regression: the end of a `with exp.run()` block did not flag its run as changed, so
    # after a persist inside the block the final append left it "pending" in the database.
    exp = session.create_experiment("checkpoints")
    with exp.run(lr=0.1) as run:
        run.fields.loss = 0.5
        exp.persist(if_exists="append")
    exp.persist(if_exists="append")

    def diverging() -> None:
        with exp.run(lr=0.2):
            exp.persist(if_exists="append")
            raise FloatingPointError("diverged")

    with pytest.raises(FloatingPointError):
        diverging()
    (bad,) = [r for r in exp.runs if r.params.lr == 0.2]
    exp.persist(if_exists="append")
    stored = session.load_experiment("checkpoints").runs
    assert stored[run.id].status == "done"
    assert stored[run.id].ended_at is not None
    assert stored[bad.id].status == "failed"
    assert "FloatingPointError: diverged" in (stored[bad.id].error or "")


def test_an_append_writes_only_the_runs_changed_since_they_were_stored(
    session: rt.Session,
) -> None:
    """Tracking a run more and appending, run after run, writes that run, not every run
    again: a stored run the process did not touch keeps what another writer put there."""
    session.create_experiment("log").add_runs(x=[1, 2]).execute(lambda x: {"y": x * 1.0}).persist()
    exp = session.load_experiment("log")
    first = exp.runs.first().id
    # another writer changes a stored run meanwhile
    write_sql(session, f"UPDATE e_log SET y = 99.0 WHERE id_run = {first}", "e_log")
    with exp.run(x=3) as run:
        run.fields.y = 3.0
    exp.persist(if_exists="append")
    with exp.run(x=4) as run:
        run.fields.y = 4.0
    exp.runs.at(1).fields.y = -2.0  # touched: written again
    exp.persist(if_exists="append")
    stored = session.load_experiment("log").runs.df().sort_values("x")
    assert list(stored["y"]) == [99.0, -2.0, 3.0, 4.0]


def test_an_append_of_changed_runs_to_a_version_gone_meanwhile_writes_them_all(
    session: rt.Session,
) -> None:
    """The runs an append leaves out are those stored in the version it loaded: when that
    version was deleted (or replaced) meanwhile, every run is written."""
    session.create_experiment("gone").add_runs(x=[1, 2]).execute(lambda x: {"y": x}).persist()
    exp = session.load_experiment("gone")
    session.delete_experiment("gone")
    with exp.run(x=3) as run:
        run.fields.y = 3
    exp.persist(if_exists="append")
    assert sorted(session.load_experiment("gone").runs.df()["x"]) == [1, 2, 3]


def test_an_append_into_a_version_replaced_meanwhile_is_refused(shared_url: str) -> None:
    # Regression: the held runs were all written into the new version, and every grid point
    # was stored twice (loaded runs are not checked as new grid points).
    def square(run: rt.Run) -> None:
        run.fields.y = run.params.x**2

    script = rt.connect(shared_url)
    script.create_experiment("held").add_runs(x=[1, 2, 3]).execute(square).persist()
    notebook = rt.connect(shared_url)
    held = notebook.load_experiment("held")
    script.create_experiment("held").add_runs(x=[1, 2, 3]).persist(if_exists="replace")
    held.runs.first().fields.note = "checked"
    with pytest.raises(rt.ConflictError, match="was replaced since these runs were loaded"):
        held.persist(if_exists="append")
    with pytest.raises(rt.ConflictError, match="reload"):
        held.execute(square, persist=True)
    stored = script.load_experiment("held").runs
    assert sorted(r.params.x for r in stored) == [1, 2, 3]
    assert {r.status for r in stored} == {"pending"}
    held.reload().execute(square, persist=True)
    assert sorted(r.fields.y for r in script.load_experiment("held").runs) == [1, 4, 9]


def test_an_append_that_widens_a_column_keeps_other_writers_runs(shared_url: str) -> None:
    # Regression: a widening append wrote every run it held, so a stored change by another
    # writer to a run it never touched was reverted (only when a value widened the column).
    rt.connect(shared_url).create_experiment("wide").add_runs(x=[1, 2, 3]).execute(
        lambda x: {"y": x}
    ).persist()
    a = rt.connect(shared_url).load_experiment("wide")
    b = rt.connect(shared_url).load_experiment("wide")
    a.runs.at(0).fields.y = 100
    a.persist(if_exists="append")
    b.runs.at(2).fields.y = 4.5  # int -> float
    b.persist(if_exists="append")
    assert [r.fields.y for r in rt.connect(shared_url).load_experiment("wide").runs] == [
        100,
        2,
        4.5,
    ]


def test_incremental_persist_into_a_loaded_experiment_keeps_new_fields(
    session: rt.Session,
) -> None:
    session.create_experiment("inc").add_runs(x=[1, 2, 3]).execute(
        lambda run: run.fields.update(y=run.params.x)
    ).persist()
    again = session.load_experiment("inc")
    again.execute(lambda y: {"z": y * 2}, persist=True)
    stored = session.query("SELECT x, y, z FROM e_inc ORDER BY x")
    assert stored.to_dict("list") == {"x": [1, 2, 3], "y": [1, 2, 3], "z": [2, 4, 6]}


def test_shards_with_incremental_persist(shared_url: str) -> None:
    for shard in range(2):
        session = rt.connect(shared_url)
        exp = session.create_experiment("incshards").add_runs(i=[shard * 2, shard * 2 + 1])
        exp.execute(lambda i: {"v": i}, persist=True, if_exists="append")
        session.close()
    again = rt.connect(shared_url).load_experiment("incshards")
    assert sorted((r.params.i, r.fields.v) for r in again.runs) == [(i, i) for i in range(4)]


def _late_floats(i: int) -> dict[str, object]:
    return {"err": i + 0.5, "maybe": i * 1.5} if i >= 10 else {"err": i, "maybe": None}


def test_column_types_follow_all_batches_not_the_first(session: rt.Session) -> None:
    """Issue 14 #4: ints then floats, and all-None then numbers, read by SQL as one persist
    would have stored them."""
    exp = session.create_experiment("widen").add_runs(i=range(4))
    exp.persist()
    exp.execute(_late_floats, persist=True)
    more = session.load_experiment("widen")
    more.add_runs(i=[10, 11])
    more.execute(_late_floats, persist=True, resume=True)  # only the two new runs
    assert more.last_execution is not None
    assert more.last_execution.done == 2
    row = session.query("SELECT AVG(err) AS err, SUM(maybe) AS m, COUNT(err) AS n FROM e_widen")
    if backend_name(session) == "crate":  # no ALTER COLUMN TYPE: later floats exact only
        assert row.loc[0, "n"] == 4
    else:
        assert row.loc[0, "n"] == 6
        assert row.loc[0, "err"] == pytest.approx((0 + 1 + 2 + 3 + 10.5 + 11.5) / 6)
        assert row.loc[0, "m"] == pytest.approx(15 + 16.5)
    loaded = sorted((r.params.i, r.fields.err, r.fields.maybe) for r in more.runs)
    assert loaded[0] == (0, 0, None)
    assert type(loaded[0][1]) is int


# -- 4. params as ML users write them -------------------------------------------------------


class Model:
    def __init__(self, depth: int | None = None) -> None:
        self.depth = depth


def test_classes_and_partials_are_params(session: rt.Session) -> None:
    exp = session.create_experiment("models")
    exp.add_runs(model=[Model, functools.partial(Model, depth=3)], max_depth=[None, 5])

    def fit(model: type[Model], max_depth: int | None) -> dict[str, object]:
        return {"depth": model().depth, "max_depth_seen": max_depth}

    exp.execute(fit).persist()
    assert [r.fields.depth for r in exp.runs] == [None, None, 3, 3]
    stored = session.query("SELECT model, max_depth FROM e_models ORDER BY id_run")
    assert stored["model"].tolist()[0].endswith("test_run_semantics.Model")
    assert "partial(" in stored["model"].tolist()[2]
    assert "depth=3" in stored["model"].tolist()[2]
    df = session.load_experiment("models").runs.df()
    assert df["max_depth"].tolist() == [None, 5, None, 5]
    exp.add_runs(model=[Model], max_depth=[None])  # the same grid point: recognised, not added
    assert len(exp.runs) == 4


def test_none_stays_none_in_df() -> None:
    exp = rt.connect("sqlite://").create_experiment("nones").add_runs(depth=[None, 5, 10])
    exp.execute(lambda depth: {"leaves": None if depth is None else depth * 2})
    df = exp.runs.df()
    assert df["depth"].tolist() == [None, 5, 10]
    assert df["leaves"].tolist() == [None, 10, 20]


def test_a_used_session_travels_to_process_workers(shared_url: str) -> None:
    session = rt.connect(shared_url)
    session.create_experiment("lookup").add_run(v=41).persist()
    exp = session.create_experiment("reader").add_runs(i=[0, 1])

    def read(run: rt.Run) -> None:
        run.fields.v = session.load_experiment("lookup").runs.first().params.v + 1

    exp.execute(read, n_jobs=2, backend="loky")
    assert [r.fields.v for r in exp.runs] == [42, 42]


def test_set_params_resume_in_another_process(tmp_path: Path) -> None:
    """Issue 14 #3: digests of sets are canonical, so another process (another hash seed)
    sees the same grid point, the same seed, the same run."""
    db = tmp_path / "sets.db"
    script = textwrap.dedent(
        f"""
        import sys, runtable as rt
        s = rt.connect("sqlite:///{db}")
        if sys.argv[1] == "make":
            e = s.create_experiment("sets").add_runs(tags=[{{"alpha", "beta", "gamma", "delta"}}])
            e.execute(lambda run: run.fields.update(r=float(run.rng.random())), persist=True)
        else:
            e = s.load_experiment("sets")
            e.add_runs(tags=[{{"delta", "gamma", "beta", "alpha"}}])
            assert len(e.runs) == 1, len(e.runs)
            before = e.runs.first().fields.r
            e.execute(lambda run: run.fields.update(r=float(run.rng.random())), persist=True)
            assert e.runs.first().fields.r == before
            print("same")
        """
    )
    for arg, seed in (("make", "1"), ("check", "2")):
        out = subprocess.run(
            [sys.executable, "-c", script, arg],
            capture_output=True,
            text=True,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
            check=False,
        )
        assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "same"


def test_in_place_changes_to_an_unstorable_field_come_back_from_workers() -> None:
    """Issue 14 #5: a field the codec cannot encode has no fingerprint; it always travels
    back, so in-place changes are not lost under process workers."""
    import steps_module as sm

    results = {}
    for n_jobs in (1, 2):
        exp = rt.connect("sqlite://").create_experiment("tally").add_runs(i=[0, 1])
        for run in exp.runs:
            run.fields.tally = sm.Tally()
        exp.execute(sm.bump_tally, n_jobs=n_jobs, backend="loky")
        results[n_jobs] = [r.fields.tally.count for r in exp.runs]
    assert results == {1: [10, 10], 2: [10, 10]}


def test_an_unstorable_config_is_refused_before_any_run_when_persisting(
    session: rt.Session,
) -> None:
    """Issue 14 #6: checked before any run starts, with a fix that fits execute()."""
    exp = session.create_experiment("cfg_check").add_runs(i=range(5)).persist()
    ran: list[int] = []
    with pytest.raises(rt.UnsupportedValueError, match="experiment config") as info:
        exp.execute(lambda i: ran.append(i), config={"lock": threading.Lock()}, persist=True)
    assert ran == []
    assert "store_pickle=True" in str(info.value)
    assert "execute without persist=True" in str(info.value)


@pytest.mark.parametrize("seed", [np.int64(7), 2**127 + 12345])
def test_seeds_numpy_accepts_are_stored_exactly(session: rt.Session, seed: int) -> None:
    """Issue 14 #12: numpy integers and 128-bit entropy are seeds; a float is refused."""
    exp = session.create_experiment("seeded").add_runs(i=[0])
    exp.seed = seed
    exp.execute(lambda run: run.fields.update(r=float(run.rng.random()))).persist()
    again = session.load_experiment("seeded")
    assert again.seed == int(seed)
    again.execute(lambda run: run.fields.update(r2=float(run.rng.random())))
    assert again.runs.first().fields.r2 == again.runs.first().fields.r
    with pytest.raises(ValueError, match="seed must be an integer"):
        exp.seed = 1.5  # type: ignore[assignment]


def test_multiprocessing_backend_works() -> None:
    """Issue 14 #18: joblib's "multiprocessing" backend returns results in order only."""
    import steps_module as sm

    exp = rt.connect("sqlite://").create_experiment("mp").add_runs(n=[1, 2, 3])
    exp.execute(sm.plain_square, n_jobs=2, backend="multiprocessing")
    assert [r.fields.square for r in exp.runs] == [1, 4, 9]


def test_wide_tables_are_checked_before_writing(session: rt.Session) -> None:
    """Issue 14 #7: 1,000 float fields with a NaN store on SQLite (exact values share one
    column per row); PostgreSQL's one-page rows are refused before anything is written."""
    exp = session.create_experiment("wide").add_runs(i=[0, 1])
    for run in exp.runs:
        run.fields.update({f"f{k}": float(k) for k in range(1000)})
    exp.runs.first().fields.f3 = float("nan")
    if session.store.dialect.capabilities.max_fixed_row_bytes is None:  # type: ignore[attr-defined]
        exp.persist()
        back = session.load_experiment("wide").runs.first().fields
        assert np.isnan(back.f3)
        assert back.f999 == 999.0
    else:
        with pytest.raises(rt.SchemaError, match="one page"):
            exp.persist()
        assert "wide" not in set(session.ls()["name"])


# -- 5. what MLTRAQ users reach for ----------------------------------------------------------


def test_merge_runs_of_two_experiments() -> None:
    """MLTRAQ's merge_runs example: two experiments' runs, fields as they were."""
    session = rt.connect("sqlite://")
    e1 = session.create_experiment("e1").execute(lambda run: run.fields.update(a=1, c=10))
    e2 = session.create_experiment("e2").execute(lambda run: run.fields.update(b=2, c=20))
    e12 = session.create_experiment("e12").merge_runs(e1, e2.runs)
    assert len(e12.runs) == 2
    assert [dict(r.fields) for r in e12.runs] == [{"a": 1, "c": 10}, {"b": 2, "c": 20}]
    assert all(r.status == "done" for r in e12.runs)
    df = e12.runs.df()
    assert df["c"].tolist() == [10, 20]
    assert df["a"].isna().tolist() == [False, True]


def test_reload_copy_apply_load_by_id_and_run_df(tmp_path: Path) -> None:
    here = rt.connect(f"sqlite:///{tmp_path / 'a.db'}")
    there = rt.connect(f"sqlite:///{tmp_path / 'b.db'}")
    exp = here.create_experiment("sweep").add_runs(x=[1, 2])
    exp.execute(lambda x: {"y": x * 10}).persist()

    other = here.load_experiment("sweep")  # another process changes what is stored
    other.runs.apply(lambda run: run.fields.update(z=-run.fields.y))
    other.persist(if_exists="append")
    assert exp.reload() is exp
    assert [r.fields.z for r in exp.runs] == [-10, -20]

    exp.persist(session=there)  # a copy in another database (MLTRAQ's upstream pattern)
    copied = there.load_experiment("sweep")
    assert copied.runs.df().drop(columns="id_run").equals(exp.runs.df().drop(columns="id_run"))
    assert there.load_experiment(id=exp.id).name == "sweep"
    with pytest.raises(rt.ExperimentNotFoundError):
        there.load_experiment(id="0" * 32)

    one = copied.runs.first().df()
    assert one.to_dict("records") == [{"id_run": copied.runs.first().id, "x": 1, "y": 10, "z": -10}]


def test_decode_reads_stored_values_without_runtable_objects(session: rt.Session) -> None:
    exp = session.create_experiment("raw").add_runs(i=[0, 1])
    exp.execute(lambda i: {"arr": np.arange(3) * i, "v": float("nan") if i else 1})
    exp.persist()
    raw = session.query("SELECT i, arr, runtable_exact FROM e_raw ORDER BY i")
    assert isinstance(raw["arr"][0], (bytes, memoryview, str))  # str: base64 on CrateDB
    np.testing.assert_array_equal(rt.decode(raw["arr"][1]), [0, 1, 2])
    decoded = session.query("SELECT i, arr, runtable_exact FROM e_raw ORDER BY i", decode=True)
    np.testing.assert_array_equal(decoded["arr"][1], [0, 1, 2])
    exact = decoded["runtable_exact"].tolist()
    assert exact[0] == {"v": 1}  # an int among floats, kept exactly
    # NaN: SQLite's column cannot hold it (kept exactly), PostgreSQL's can (nothing to keep)
    assert exact[1] is None or np.isnan(exact[1]["v"])
    fields = session.query("SELECT fields FROM experiments", decode=True)["fields"][0]
    assert fields == {}
    with pytest.raises(rt.CodecError):
        rt.decode(b"not a value")


# -- databases written by runtable 0.1 (storage format 1) -------------------------------------

FORMAT1 = Path(__file__).parent / "data" / "format1.db"


@rt.step
def gen(run):  # type: ignore[no-untyped-def]  # the step that made tests/data/format1.db
    if run.params.x == 2:
        raise ValueError("two")
    run.fields.y = [1, float("nan")][run.params.x]  # an int among floats: a companion column
    run.fields.arr = np.arange(3) * run.params.x


def test_a_format_1_database_loads_resumes_and_upgrades(tmp_path: Path) -> None:
    """tests/data/format1.db was written by runtable 0.1 (commit 6f33468) running ``gen``
    above on x = 0, 1, 2 with config k=1: run 2 failed."""
    db = tmp_path / "old.db"
    db.write_bytes(FORMAT1.read_bytes())
    session = rt.connect(f"sqlite:///{db}")
    old = session.load_experiment("old")
    assert dict(old.fields) == {"note": "from runtable 0.1"}
    runs = list(old.runs)
    assert [r.status for r in runs] == ["done", "done", "failed"]
    assert runs[0].fields.y == 1
    assert type(runs[0].fields.y) is int  # exact, from the format 1 companion column
    assert np.isnan(runs[1].fields.y)
    np.testing.assert_array_equal(runs[1].fields.arr, [0, 1, 2])
    assert "ValueError: two" in (runs[2].error or "")
    assert set(runs[0].steps) == {"gen"}  # its done_with, read as a step record

    with pytest.raises(rt.SchemaError, match="storage format 1"):
        old.execute(gen, resume=True, persist=True)
    assert old.last_execution is None or old.last_execution.done == 0
    assert [r.status for r in session.load_experiment("old").runs] == ["done", "done", "failed"]

    old.persist(if_exists="replace")  # the upgrade: written again in format 2
    again = session.load_experiment("old")
    again.execute(gen, resume=True, on_error="record", persist=True)
    assert again.last_execution is not None
    assert (again.last_execution.skipped, again.last_execution.failed) == (2, 1)
    columns = set(session.query("SELECT * FROM e_old").columns)
    assert {"runtable_status", "runtable_exact"} <= columns
    assert "y__exact" not in columns
