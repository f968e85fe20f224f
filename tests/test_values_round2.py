"""Reliability round two (issue 14): values the docs promise, and inputs that must give a
runtable error instead of a raw one. Every test runs on each backend (``session``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from campaign.tally import record
from conftest import backend_name
from identical import assert_identical

import runtable as rt


def _round_trip_field(session: rt.Session, name: str, value: Any) -> Any:
    exp = session.create_experiment(name).add_run(x=1)
    exp.execute(lambda run: setattr(run.fields, "v", value)).persist()
    return session.load_experiment(name).runs.first().fields.v


# -- item 8: np.timedelta64 keeps its type and unit ----------------------------------------------

TIMEDELTAS = [np.timedelta64(3, unit) for unit in ("Y", "M", "W", "D", "h", "s", "ms", "us", "ns")]


@pytest.mark.parametrize("value", TIMEDELTAS, ids=lambda v: str(v.dtype))
def test_timedelta64_fields_keep_type_and_unit(session: rt.Session, value: Any) -> None:
    loaded = _round_trip_field(session, "td", value)
    assert_identical(loaded, value)
    assert loaded.dtype == value.dtype
    record("test_values_round2.py::timedelta64", inputs=1)


def test_timedelta64_params_and_mixed_columns_round_trip(session: rt.Session) -> None:
    grid = [np.timedelta64(3, "s"), np.timedelta64(4, "ms"), np.timedelta64("NaT", "D"), 5]
    exp = session.create_experiment("tdp").add_runs(d=grid)
    exp.execute(lambda run: {"twice": run.params.d * 2}).persist()
    loaded = session.load_experiment("tdp")
    for before, after in zip(exp.runs, loaded.runs, strict=True):
        assert_identical(after.params.d, before.params.d)
        assert_identical(after.fields.twice, before.fields.twice)
    assert len(loaded.runs.df()) == len(grid)
    record("test_values_round2.py::timedelta64", inputs=len(grid))


# -- items 9 and 10: longdouble and huge ints inside a dict field or the config ------------------

NESTED = {
    "longdouble": np.longdouble(1) / np.longdouble(3),
    "clongdouble": np.clongdouble(1 + 2j) / np.clongdouble(3),
    "big_int": 10**400,
    "negative_big_int": -(10**400),
    "timedelta64": np.timedelta64(3, "s"),
}


@pytest.mark.parametrize("key", list(NESTED))
def test_unusual_numbers_inside_a_dict_field_round_trip(session: rt.Session, key: str) -> None:
    value = {"v": NESTED[key], "list": [NESTED[key]], "plain": 1}
    assert_identical(_round_trip_field(session, "nested", value), value)
    record("test_values_round2.py::nested_numbers", inputs=1)


@pytest.mark.parametrize("key", list(NESTED))
def test_unusual_numbers_in_the_config_round_trip(session: rt.Session, key: str) -> None:
    exp = session.create_experiment("cfg").add_run(x=1)
    exp.execute(lambda run: None, config={"v": NESTED[key], "d": {"v": NESTED[key]}}).persist()
    loaded = session.load_experiment("cfg")
    assert_identical(dict(loaded.config), dict(exp.config))
    record("test_values_round2.py::nested_numbers", inputs=1)


# -- item 11: text with a lone surrogate in df() ---------------------------------------------------


def test_df_keeps_text_with_a_lone_surrogate(session: rt.Session) -> None:
    pytest.importorskip("pyarrow")  # pandas stores inferred text as UTF-8 when it is there
    texts = ["a\ud800b", "plain", None]
    exp = session.create_experiment("surrogates").add_runs(i=[0, 1, 2])
    exp.execute(lambda run: {"t": texts[run.params.i], "ok": "fine"}).persist()
    for runs in (exp.runs, session.load_experiment("surrogates").runs):
        df = runs.df()
        assert df["t"].dtype == object
        assert df["t"].tolist()[:2] == texts[:2]
        assert df["t"].isna().tolist()[2]
        assert df["ok"].tolist() == ["fine"] * 3
    record("test_values_round2.py::surrogate_df", inputs=2)


# -- item 14 and 18: run.log() ---------------------------------------------------------------------


def test_log_refuses_a_metric_named_timestamp(session: rt.Session) -> None:
    name = "timestamp"  # the other column of the series, step, is log's own argument
    exp = session.create_experiment("series").add_run(x=1)
    calls: list[Exception] = []

    def train(run: rt.Run) -> None:
        run.log(loss=0.5)
        with pytest.raises(rt.InvalidNameError, match=f"own '{name}' column") as info:
            run.log(**{name: 1.0}, loss=0.25)  # no half row is left behind either
        calls.append(info.value)
        run.log(loss=0.125)

    exp.execute(train).persist()
    assert len(calls) == 1
    series = session.load_experiment("series").runs.first().series
    assert series is not None
    assert list(series.columns) == ["step", "timestamp", "loss"]
    assert series["loss"].tolist() == [0.5, 0.125]
    assert str(series["timestamp"].dtype) == "datetime64[ns, UTC]"
    record("test_values_round2.py::log_names", inputs=1)


@pytest.mark.parametrize(
    ("value", "message"),
    [(10**400, "float64 holds"), ("text", "takes numbers"), ([1.0], "takes numbers")],
)
def test_log_refuses_values_a_float64_cannot_hold(value: Any, message: str) -> None:
    exp = rt.connect("sqlite://").create_experiment("series").add_run(x=1)

    def train(run: rt.Run) -> None:
        run.log(loss=0.5)
        with pytest.raises(rt.RuntableError, match=message) as info:
            run.log(loss=0.25, other=value)
        assert type(info.value).__name__ == "MetricValueError"
        assert isinstance(info.value, TypeError | ValueError)

    exp.execute(train)
    series = exp.runs.first().series
    assert series is not None
    assert list(series.columns) == ["step", "timestamp", "loss"]
    assert series["loss"].tolist() == [0.5]
    record("test_values_round2.py::log_values", inputs=1)


# -- item 18: raw errors where a runtable error belongs -------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("s = 'a :word'", ["a :word"]),
        ("s = 'b:x:y'", ["b:x:y"]),
        ("s LIKE '%:%' AND n > 1", ["a :word"]),
        ("s <> ':word' AND n >= 0", ["a :word", "b:x:y", "plain"]),
    ],
)
def test_colons_in_where_are_text_not_parameters(
    session: rt.Session, where: str, expected: list[str]
) -> None:
    exp = session.create_experiment("colons").add_runs(s=["a :word", "b:x:y", "plain"])
    exp.execute(lambda s: {"n": len(s) % 4}).persist()
    loaded = session.load_experiment("colons", where=where)
    assert sorted(r.params.s for r in loaded.runs) == expected
    record("test_values_round2.py::where_colons", inputs=1)


def test_a_postgresql_cast_in_where_still_works(session: rt.Session) -> None:
    if backend_name(session) != "postgresql":
        pytest.skip("'::' casts are PostgreSQL syntax")
    exp = session.create_experiment("casts").add_runs(n=[1, 2, 3])
    exp.execute(lambda n: None).persist()
    loaded = session.load_experiment("casts", where="n::text = '2'")
    assert [r.params.n for r in loaded.runs] == [2]


@pytest.mark.parametrize("name", ["a\ud800", "\udfff", "ok\ud83d"])
def test_a_model_name_with_a_lone_surrogate_is_an_invalid_name(
    session: rt.Session, name: str
) -> None:
    with pytest.raises(rt.InvalidNameError, match="lone surrogate"):
        session.models.put(b"x", name=name)
    with pytest.raises(rt.InvalidNameError, match="lone surrogate"):
        session.models.ls(name=name)
    assert session.models.ls().empty
    record("test_values_round2.py::model_inputs", inputs=1)


@pytest.mark.parametrize("run", [2**63, -(2**63) - 1, 10**30])
def test_a_run_id_outside_64_bits_is_refused_before_storing(session: rt.Session, run: int) -> None:
    with pytest.raises(rt.RuntableError, match="64-bit") as info:
        session.models.put(b"x", name="m", experiment="e", run=run)
    assert type(info.value).__name__ == "InvalidRunIdError"
    assert isinstance(info.value, ValueError)
    assert session.models.ls().empty
    for edge in (2**63 - 1, -(2**63)):
        session.models.put(b"x", name="m", experiment="e", run=edge)
    assert sorted(session.models.ls()["id_run"]) == [-(2**63), 2**63 - 1]
    record("test_values_round2.py::model_inputs", inputs=1)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://user:secret@host:abc/db",
        "sqlite://:abc/x.db",
        "mysql://user:secret@host:1e3/db",
    ],
)
def test_a_url_with_a_bad_port_is_a_storage_error(url: str) -> None:
    session = rt.connect(url)
    assert "secret" not in repr(session)
    with pytest.raises(rt.StorageError, match="is not a database URL") as info:
        session.ls()
    assert "secret" not in str(info.value)
    record("test_values_round2.py::urls", inputs=1)


def test_pandas_frames_of_surrogate_free_text_are_unchanged(session: rt.Session) -> None:
    """The surrogate fallback must not change what df() gives for ordinary text."""
    exp = session.create_experiment("texts").add_runs(s=["a", "b"])
    exp.execute(lambda s: None).persist()
    expected = pd.DataFrame({"s": ["a", "b"]})["s"].dtype
    assert session.load_experiment("texts").runs.df()["s"].dtype == expected
