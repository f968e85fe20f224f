"""Metric series: run.log() rows stored as one DataFrame field."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import runtable as rt
from runtable.series import MetricValueError, SeriesFieldError


def test_log_builds_one_dataframe_field_and_it_round_trips(session: rt.Session) -> None:
    exp = session.create_experiment("train").add_runs(lr=[0.1, 0.01])

    @rt.step
    def train(run: rt.Run, lr: float) -> None:
        loss = 1.0
        for _ in range(100):
            loss *= 1 - lr
            run.log(loss=loss)
        run.log(acc=0.9)

    exp.execute(train).persist()
    series = exp.runs.first().series
    assert series is not None
    assert list(series.columns) == ["step", "timestamp", "loss", "acc"]
    assert series["step"].tolist() == list(range(101))
    assert str(series["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert math.isnan(series["loss"].iloc[100])
    assert series["acc"].iloc[:100].isna().all()

    loaded = session.load_experiment("train")
    for before, after in zip(exp.runs, loaded.runs, strict=True):
        pd.testing.assert_frame_equal(after.fields.series, before.fields.series)


def test_log_with_explicit_steps_and_a_hand_tracked_run(session: rt.Session) -> None:
    exp = session.create_experiment("hand")
    with exp.run(model="a") as run:
        run.log(step=10, loss=0.5)
        run.log(step=20, loss=0.25)
    assert run.fields.series["step"].tolist() == [10, 20]
    exp.persist()
    assert session.load_experiment("hand").runs.first().fields.series["loss"].tolist() == [
        0.5,
        0.25,
    ]


def test_rows_of_one_metric_mixed_with_others_steps_and_ints_keep_their_places() -> None:
    exp = rt.connect("sqlite://").create_experiment("mixed")
    with exp.run() as run:
        run.log(loss=1.0)
        run.log(step=10, loss=0.5)
        run.log(loss=0.25)  # step 11: the last row's plus one
        run.log(acc=0.75)  # a second metric: loss is NaN in its row
        run.log(loss=2)  # an int, stored as a float
        run.log(acc=0.5, loss=0.125)
    series = run.series
    assert series is not None
    assert series["step"].tolist() == [0, 10, 11, 12, 13, 14]
    assert series["loss"].tolist()[:3] == [1.0, 0.5, 0.25]
    assert math.isnan(series["loss"].iloc[3])
    assert series["loss"].tolist()[4:] == [2.0, 0.125]
    assert series["acc"].isna().tolist() == [True] * 3 + [False, True, False]
    assert series["timestamp"].is_monotonic_increasing


def test_logging_continues_a_stored_series(session: rt.Session) -> None:
    exp = session.create_experiment("more").add_run(x=1)
    exp.execute(lambda run: run.log(loss=1.0)).persist()
    loaded = session.load_experiment("more")
    run = loaded.runs.first()
    run.log(loss=0.5)
    assert run.series is not None
    assert run.series["loss"].tolist() == [1.0, 0.5]
    assert run.series["step"].tolist() == [0, 1]


def test_series_travels_back_from_worker_processes() -> None:
    exp = rt.connect("sqlite://").create_experiment("workers").add_runs(n=[3, 4])

    @rt.step
    def count(run: rt.Run, n: int) -> None:
        for i in range(n):
            run.log(i=i)

    exp.execute(count, n_jobs=2, backend="loky")
    assert [len(r.fields.series) for r in exp.runs] == [3, 4]


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_a_log_begun_before_a_parallel_execution_keeps_every_row(backend: str) -> None:
    # Regression: with worker processes, rows logged in the parent and not yet written into
    # the field stayed behind and overwrote the workers' series when next read (silently
    # losing the rows logged by the step).
    exp = rt.connect("sqlite://").create_experiment("begun").add_runs(x=[1, 2])
    for run in exp.runs:
        run.log(loss=1.0)

    @rt.step
    def more(run: rt.Run) -> None:
        run.log(loss=2.0)

    exp.execute(more, n_jobs=2, backend=backend, progress=False)
    assert [r.fields.series["loss"].tolist() for r in exp.runs] == [[1.0, 2.0]] * 2
    for run in exp.runs:
        run.log(loss=3.0)
    assert [r.series["loss"].tolist() for r in exp.runs] == [[1.0, 2.0, 3.0]] * 2
    assert [r.series["step"].tolist() for r in exp.runs] == [[0, 1, 2]] * 2


def test_log_refuses_non_numbers_and_empty_rows() -> None:
    run = rt.connect("sqlite://").create_experiment("bad").add_run(x=1).runs.first()
    with pytest.raises(TypeError, match="numbers"):
        run.log(name="text")
    with pytest.raises(ValueError, match="at least one metric"):
        run.log()
    run.log(v=np.float32(2.5), w=3)
    assert run.series is not None
    assert run.series[["v", "w"]].iloc[0].tolist() == [2.5, 3.0]


@pytest.mark.parametrize("step", [0.25, 1.0, float("nan"), "7", True, np.bool_(False), 2**63])
def test_log_refuses_a_step_that_is_no_int64_integer(step: object) -> None:
    """A float step was truncated (0.25, 0.5 and 0.75 all became step 0), text and bools
    were taken as numbers, and NaN raised a bare int() error."""
    run = rt.connect("sqlite://").create_experiment("steps").add_run(x=1).runs.first()
    run.log(loss=1.0)
    with pytest.raises(MetricValueError, match=r"run\.log\(step=") as info:
        run.log(step=step, loss=0.5)
    assert isinstance(info.value, TypeError | ValueError)
    assert run.series is not None
    assert run.series["loss"].tolist() == [1.0]  # nothing added


def test_log_takes_integer_steps_of_any_int_type() -> None:
    run = rt.connect("sqlite://").create_experiment("steps").add_run(x=1).runs.first()
    run.log(step=np.int64(3), loss=1.0)
    run.log(step=np.uint8(5), loss=0.5)
    run.log(step=-(2**63), loss=0.25)
    assert run.series is not None
    assert run.series["step"].tolist() == [3, 5, -(2**63)]


@pytest.mark.parametrize("value", ["0.5", "nan", np.str_("1"), b"2", bytearray(b"3")])
def test_log_refuses_text_that_reads_as_a_number(value: object) -> None:
    run = rt.connect("sqlite://").create_experiment("text").add_run(x=1).runs.first()
    with pytest.raises(MetricValueError, match=r"run\.log\(acc=\.\.\.\) takes numbers"):
        run.log(acc=value)
    assert run.series is None


def test_log_takes_numbers_of_every_kind_as_floats() -> None:
    from decimal import Decimal

    run = rt.connect("sqlite://").create_experiment("kinds").add_run(x=1).runs.first()
    run.log(a=1, b=True, c=np.float32(0.5), d=np.int8(-3), e=np.array(2.5), f=Decimal("0.25"))
    assert run.series is not None
    assert run.series[list("abcdef")].iloc[0].tolist() == [1.0, 1.0, 0.5, -3.0, 2.5, 0.25]


def test_rows_just_logged_are_in_the_series_field() -> None:
    run = rt.connect("sqlite://").create_experiment("seen").add_run(x=1).runs.first()
    run.log(loss=1.0)
    assert "series" in run.fields
    assert list(run.fields) == ["series"]
    assert run.fields.to_dict()["series"]["loss"].tolist() == [1.0]
    run.log(loss=2.0)
    assert run.fields["series"]["loss"].tolist() == [1.0, 2.0]
    assert run.fields.series["step"].tolist() == [0, 1]


@pytest.mark.parametrize("read_between", [True, False])
def test_deleting_the_series_field_starts_a_new_series(read_between: bool) -> None:
    run = rt.connect("sqlite://").create_experiment("restart").add_run(x=1).runs.first()
    run.log(loss=1.0)
    if read_between:
        assert run.series is not None
    del run.fields["series"]
    assert "series" not in run.fields
    assert run.series is None
    run.log(loss=2.0)
    assert run.series is not None
    assert run.series["loss"].tolist() == [2.0]
    assert run.series["step"].tolist() == [0]


@pytest.mark.parametrize("read_between", [True, False])
def test_a_series_field_set_by_hand_wins_over_rows_logged_before(
    read_between: bool, tmp_path: Path
) -> None:
    session = rt.connect(f"sqlite:///{tmp_path / 'mine.db'}")
    exp = session.create_experiment("mine").add_run(x=1)
    run = exp.runs.first()
    run.log(loss=1.0)
    if read_between:
        assert run.series is not None
    run.fields.series = "mine"
    assert run.fields.series == "mine"
    exp.persist()
    assert session.load_experiment("mine").runs.first().fields.series == "mine"
    with pytest.raises(SeriesFieldError, match="holds a str, not a metric series"):
        run.log(loss=2.0)
    assert run.fields.series == "mine"  # the refused call changed nothing


def test_a_series_set_by_hand_is_where_logging_continues() -> None:
    run = rt.connect("sqlite://").create_experiment("cut").add_run(x=1).runs.first()
    for loss in [1.0, 0.5, 0.25]:
        run.log(loss=loss)
    series = run.series
    assert series is not None
    run.fields.series = series.iloc[:1]  # keep the first row only
    run.log(loss=0.75)
    assert run.series is not None
    assert run.series["loss"].tolist() == [1.0, 0.75]
    assert run.series["step"].tolist() == [0, 1]
