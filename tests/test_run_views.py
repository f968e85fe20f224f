"""Runs held as columns, seen through Run views: regressions found by a review of that change
(each failed before its fix)."""

from __future__ import annotations

import copy
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

import runtable as rt


def _stored(tmp_path: Path) -> rt.Session:
    session = rt.connect(f"sqlite:///{tmp_path / 'views.db'}")
    exp = session.create_experiment("e").add_runs(x=[1, 2])
    exp.execute(lambda run: run.fields.update(loss=run.params.x * 0.5, z="a")).persist()
    return session


def test_df_after_a_loaded_float_column_gets_a_missing_value(tmp_path: Path) -> None:
    session = _stored(tmp_path)
    deleted = session.load_experiment("e")
    del deleted.runs.at(0).fields.loss
    assert deleted.df()["loss"].isna().tolist() == [True, False]
    extended = session.load_experiment("e").add_run(x=3)
    assert extended.df()["loss"].isna().tolist() == [False, False, True]
    with extended.run(y=1) as run:
        run.fields.other = 1
    assert len(extended.df()) == 4


def test_a_deleted_field_is_stored_by_an_append(tmp_path: Path) -> None:
    session = _stored(tmp_path)
    exp = session.load_experiment("e")
    del exp.runs.at(0).fields.loss
    exp.persist(if_exists="append")
    assert session.load_experiment("e").df()["loss"].isna().tolist() == [True, False]


def test_logged_rows_are_stored_by_an_append(tmp_path: Path) -> None:
    session = _stored(tmp_path)
    exp = session.load_experiment("e")
    exp.runs.at(0).log(loss=0.5)
    exp.persist(if_exists="append")
    series = session.load_experiment("e").runs.at(0).series
    assert series is not None
    assert list(series["loss"]) == [0.5]


def test_changes_through_views_and_arrays_kept_across_a_persist_are_appended(
    tmp_path: Path,
) -> None:
    session = rt.connect(f"sqlite:///{tmp_path / 'kept.db'}")
    exp = session.create_experiment("e").add_runs(x=[1, 2])
    fields = [run.fields for run in exp.runs]
    for f in fields:
        f.y = 1
        f.arr = np.zeros(2)
    exp.persist()
    fields[0].y = 2  # a view obtained before the persist
    fields[1].arr[0] = 9.0  # an array changed in place
    exp.persist(if_exists="append")
    stored = session.load_experiment("e").runs
    assert [r.fields.y for r in stored] == [2, 1]
    assert [r.fields.arr.tolist() for r in stored] == [[0.0, 0.0], [9.0, 0.0]]


def test_runs_are_looked_up_by_numpy_integer_ids(tmp_path: Path) -> None:
    exp = _stored(tmp_path).load_experiment("e")
    run_id = exp.df()["id_run"].iloc[0]
    assert isinstance(run_id, np.integer)
    assert run_id in exp.runs
    assert exp.runs[run_id].params.x == 1


def test_merge_runs_of_slices_that_share_a_run(tmp_path: Path) -> None:
    session = _stored(tmp_path)
    low = session.load_experiment("e", where="x <= 2")
    high = session.load_experiment("e", where="x >= 2")
    merged = session.create_experiment("m").merge_runs([*low.runs, *high.runs])
    assert [r.params.x for r in merged.runs] == [1, 2, 2]


def test_a_merged_run_has_its_own_vars_and_a_changed_seed_reseeds_rng() -> None:
    source = rt.connect("sqlite://").create_experiment("s").add_runs(x=[1])
    source.runs.at(0).vars.a = 1
    target = rt.connect("sqlite://").create_experiment("t").merge_runs(source)
    target.runs.at(0).vars.b = 2
    assert dict(source.runs.at(0).vars) == {"a": 1}
    run = source.runs.at(0)
    first = run.rng.random()
    source.seed = 5
    expected = np.random.default_rng(source.runs.at(0).seed_sequence).random()
    assert source.runs.at(0).rng.random() == expected != first


class _Unpicklable(Exception):
    def __init__(self) -> None:
        super().__init__("bad")
        self.lock = threading.Lock()


def _fail_on_five(run: rt.Run) -> None:
    run.fields.y = run.params.x
    if run.params.x == 5:
        raise _Unpicklable()


@pytest.mark.parametrize("backend", ["threading", "loky"])
def test_an_unpicklable_failure_keeps_the_runs_finished_before_it(backend: str) -> None:
    exp = rt.connect("sqlite://").create_experiment("e").add_runs(x=list(range(640)))
    with pytest.raises((_Unpicklable, rt.RuntableError)) as info:
        exp.execute(_fail_on_five, n_jobs=2, backend=backend)
    if backend == "threading":  # nothing is pickled: the exception is itself
        assert type(info.value) is _Unpicklable
    else:
        assert isinstance(info.value, rt.RuntableError)
        assert "_Unpicklable" in str(info.value)
    first = [exp.runs.at(i) for i in range(6)]
    assert [r.status for r in first] == ["done"] * 5 + ["failed"]
    assert [r.fields.get("y") for r in first] == [0, 1, 2, 3, 4, 5]


def test_an_exact_value_loaded_from_a_native_column_changed_in_place_is_appended(
    tmp_path: Path,
) -> None:
    """A list among floats is kept exactly beside the float column; loaded, it can be changed
    in place, so its run is written again by an append."""
    session = rt.connect(f"sqlite:///{tmp_path / 'exact.db'}")
    exp = session.create_experiment("e").add_runs(x=[1, 2, 3])
    for run, value in zip(exp.runs, [0.5, 1.5, [1, 2]], strict=True):
        run.fields.v = value
    exp.persist()
    loaded = session.load_experiment("e")
    loaded.runs.at(2).fields.v.append(3)
    loaded.persist(if_exists="append")
    assert session.load_experiment("e").runs.at(2).fields.v == [1, 2, 3]


def test_an_append_that_widens_a_column_keeps_the_other_runs_values_exact(
    tmp_path: Path,
) -> None:
    """A bool param column widened by an int: the stored runs left out of an append of changed
    runs would read back as ints; every run is written instead (found by the property test)."""
    session = rt.connect(f"sqlite:///{tmp_path / 'widen.db'}")
    session.create_experiment("e").add_runs(n=[False]).persist()
    loaded = session.load_experiment("e").add_runs(n=[0])
    loaded.persist(if_exists="append")
    values = [r.params.n for r in session.load_experiment("e").runs]
    assert values == [False, 0]
    assert [type(v) for v in values] == [bool, int]


def test_bookkeeping_cells_take_only_what_they_can_store() -> None:
    # Regression: run.status = "skipped" was accepted, stored by an append, and then made
    # every load of the experiment fail; a text start time failed only at persist.
    exp = rt.connect("sqlite://").create_experiment("cells").add_runs(x=[1])
    run = exp.runs.first()
    with pytest.raises(ValueError, match="pending, done, failed"):
        run.status = "skipped"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="started_at is a datetime"):
        run.started_at = "2024-01-01"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="error is the text"):
        run.error = 3  # type: ignore[assignment]
    assert run.status == "pending"
    assert run.started_at is None
    aware = datetime(2024, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    run.started_at = aware
    assert run.started_at == datetime(2024, 1, 1, 10)  # the same instant, naive UTC
    with pytest.raises(ValueError, match="status"):
        rt.Run(1, status="ok")  # type: ignore[arg-type]


def test_a_run_is_in_its_runs_and_a_copy_is_not() -> None:
    # Regression: `run in exp.runs` tested ids only, so it was False for every Run.
    exp = rt.connect("sqlite://").create_experiment("member").add_runs(x=[1, 2])
    run = exp.runs.first()
    assert run in exp.runs
    assert run.id in exp.runs
    assert all(r in exp.runs for r in exp.runs)
    assert copy.copy(run) not in exp.runs
    other = rt.connect("sqlite://").create_experiment("other").add_runs(x=[1])
    assert other.runs.first() not in exp.runs


def test_copies_of_runs_and_namespaces_have_state_of_their_own() -> None:
    # Regression: copy.copy(run) shared the original's vars, and a copy of run.vars or of
    # exp.fields shared its dict, so later changes to one showed in the other.
    exp = rt.connect("sqlite://").create_experiment("copies", note="first").add_runs(x=[1])
    run = exp.runs.first()
    run.vars.model = "v1"
    twin = copy.copy(run)
    twin.vars.model = "v2"
    assert run.vars.model == "v1"
    snapshot = copy.copy(exp.fields)
    exp.fields.note = "second"
    assert snapshot.note == "first"
    saved = copy.copy(run.vars)
    run.vars.model = "v3"
    assert saved.model == "v1"


def test_runs_taken_before_a_reload_see_and_write_the_stored_runs(tmp_path: Path) -> None:
    # Regression: reload() replaced the runs, so a run taken before it wrote into the old
    # ones: the write reached neither the experiment nor the database.
    url = f"sqlite:///{tmp_path / 'reload.db'}"
    exp = rt.connect(url).create_experiment("e").add_runs(x=[1, 2]).persist()
    best = exp.runs.at(1)
    other = rt.connect(url).load_experiment("e")
    other.runs.at(1).fields.score = 0.9
    other.add_runs(x=[3]).persist(if_exists="append")
    exp.reload()
    assert best.fields.score == 0.9
    assert best == exp.runs[best.id]
    best.fields.note = "best run"
    exp.persist(if_exists="append")
    stored = rt.connect(url).load_experiment("e").runs
    assert stored[best.id].fields.note == "best run"
    assert sorted(r.params.x for r in stored) == [1, 2, 3]


def test_df_keeps_a_none_in_a_text_column_none() -> None:
    # Regression: with pandas 3, an object column of texts was inferred as pandas' str dtype,
    # which turned an explicit None into NaN.
    exp = rt.connect("sqlite://").create_experiment("texts").add_runs(opt=["adam", None])
    exp.runs.at(0).fields.tag = "best"
    exp.runs.at(1).fields.tag = None
    df = exp.runs.df()
    assert df["opt"].tolist() == ["adam", None]
    assert df["tag"].tolist() == ["best", None]


def test_df_shows_class_and_partial_params_as_their_stored_text(tmp_path: Path) -> None:
    # Regression: in memory df() held the objects, after a load their text.
    import collections
    import functools

    session = rt.connect(f"sqlite:///{tmp_path / 'params.db'}")
    exp = session.create_experiment("models").add_runs(
        model=[collections.OrderedDict, functools.partial(round, ndigits=2)]
    )
    expected = ["collections.OrderedDict", "partial(round, ndigits=2)"]
    assert exp.runs.df()["model"].tolist() == expected
    exp.persist()
    assert session.load_experiment("models").runs.df()["model"].tolist() == expected
