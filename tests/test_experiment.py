"""Experiments, runs and steps through the public API: building a grid, names, fields, params,
config, vars, step injection, hand-tracked runs and the runs collection.

Execution backends, errors during execution, seeding and progress are in test_execution.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import runtable as rt
from runtable.names import (
    ENDED_AT_COLUMN,
    ERROR_COLUMN,
    META_COLUMNS,
    STARTED_AT_COLUMN,
    STATUS_COLUMN,
)


@pytest.fixture
def session() -> rt.Session:
    return rt.connect("sqlite://")


@pytest.fixture
def exp(session: rt.Session) -> rt.Experiment:
    return session.create_experiment("coins", purpose="tests")


def param_tuples(exp: rt.Experiment, *names: str) -> list[tuple[Any, ...]]:
    """The runs' params as tuples, in iteration order."""
    return [tuple(run.params[name] for name in names) for run in exp.runs]


# -- experiments ---------------------------------------------------------------------------------


def test_create_experiment_keeps_fields_and_does_not_touch_the_database(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    session = rt.connect(f"sqlite:///{db}")
    exp = session.create_experiment("coins", purpose="tests", budget=3)
    assert isinstance(exp, rt.Experiment)
    assert exp.name == "coins"
    assert exp.fields.purpose == "tests"
    assert exp.fields["budget"] == 3
    assert exp.seed == 0
    exp.add_runs(n=[1, 2]).execute(lambda n: {"m": n + 1}, config={"p": 0.5})
    with exp.run(lr=0.1) as run:
        run.fields.loss = 0.25
    assert not db.exists()


@pytest.mark.parametrize("name", ["coins", "a", "a1", "coin_toss_2", "x" * 48])
def test_valid_experiment_names(session: rt.Session, name: str) -> None:
    assert session.create_experiment(name).name == name


@pytest.mark.parametrize(
    "name",
    ["Coins", "cOins", "1coins", "_coins", "coin-toss", "coin toss", "coïns", "", "x" * 49],
)
def test_invalid_experiment_names(session: rt.Session, name: str) -> None:
    with pytest.raises(rt.InvalidNameError, match="invalid experiment name"):
        session.create_experiment(name)
    with pytest.raises(ValueError, match="invalid experiment name"):
        session.create_experiment(name)


# -- building the grid ---------------------------------------------------------------------------


def test_add_runs_is_a_cartesian_product_in_order(exp: rt.Experiment) -> None:
    assert exp.add_runs(n=[10, 100, 1000], trial=range(5)) is exp
    assert len(exp.runs) == 15
    expected = [(n, t) for n in (10, 100, 1000) for t in range(5)]
    assert param_tuples(exp, "n", "trial") == expected
    ids = [run.id for run in exp.runs]  # unique, counting up from a random origin
    assert ids == list(range(ids[0], ids[0] + 15))
    assert all(run.status == "pending" for run in exp.runs)
    assert all(run.error is None and run.started_at is None for run in exp.runs)
    assert all(len(run.fields) == 0 and len(run.vars) == 0 for run in exp.runs)


def test_add_run_adds_one_run_and_skips_an_existing_combination(exp: rt.Experiment) -> None:
    exp.add_runs(n=[10, 100, 1000], trial=range(5))
    assert exp.add_run(n=5, trial=0) is exp
    assert len(exp.runs) == 16
    assert exp.runs.at(15).params.to_dict() == {"n": 5, "trial": 0}
    assert exp.add_run(n=5, trial=0) is exp
    exp.add_run(trial=0, n=5)  # keyword order does not make a new combination
    exp.add_run(n=10, trial=3)  # a point of the grid
    exp.add_run(n=np.int64(10), trial=np.int64(3))  # numpy scalars equal to a grid point
    assert len(exp.runs) == 16


def test_add_runs_extends_a_grid_with_only_the_new_points(exp: rt.Experiment) -> None:
    exp.add_runs(n=[10, 100], trial=range(2))
    exp.add_runs(n=[10, 100, 1000], trial=range(3))
    assert len(exp.runs) == 9
    pairs = param_tuples(exp, "n", "trial")
    assert len(set(pairs)) == 9
    assert pairs[:4] == [(10, 0), (10, 1), (100, 0), (100, 1)]


def test_add_runs_treats_strings_and_scalars_as_single_values(exp: rt.Experiment) -> None:
    exp.add_runs(method="adam", n=[1, 2], scale=0.5)
    assert param_tuples(exp, "method", "n", "scale") == [("adam", 1, 0.5), ("adam", 2, 0.5)]


def test_add_runs_refuses_an_empty_list_of_values(exp: rt.Experiment) -> None:
    with pytest.raises(ValueError, match="empty"):
        exp.add_runs(n=[], trial=range(3))
    assert len(exp.runs) == 0


@pytest.mark.parametrize(
    "name", ["id_run", "id_experiment", "runtable_status", "runtable_x", "xmax", "tableoid"]
)
def test_reserved_param_names_are_refused(exp: rt.Experiment, name: str) -> None:
    with pytest.raises(rt.InvalidNameError, match=name):
        exp.add_run(**{name: 1})
    with pytest.raises(ValueError, match=name):
        exp.add_runs(**{name: [1, 2]})
    assert len(exp.runs) == 0


@pytest.mark.parametrize("name", ["_n", "2n", "n-m"])
def test_param_names_follow_the_column_rules(exp: rt.Experiment, name: str) -> None:
    with pytest.raises(rt.InvalidNameError):
        exp.add_run(**{name: 1})
    exp.add_run(N_2=1)
    assert exp.runs.first().params["N_2"] == 1


# -- the runs collection -------------------------------------------------------------------------


def test_runs_iterate_in_insertion_order_and_look_up_by_id(exp: rt.Experiment) -> None:
    exp.add_runs(n=[3, 1, 2]).add_run(n=0)
    runs = exp.runs
    assert len(runs) == 4
    assert [run.params.n for run in runs] == [3, 1, 2, 0]
    assert all(isinstance(run, rt.Run) for run in runs)
    # A Run is a view of one run of the experiment: two views of the same run are equal, and
    # what is set through one is seen through the other.
    assert runs.first() == next(iter(runs))
    assert runs.first().params.n == 3
    runs.first().fields.seen = True
    runs.first().vars.tmp = 1
    assert next(iter(runs)).fields.seen is True
    assert next(iter(runs)).vars.tmp == 1
    assert runs.first() != runs.at(1)
    for position, run in enumerate(runs):
        assert runs[run.id] == run
        assert runs.at(position) == run
    assert runs.at(-1).params.n == 0
    with pytest.raises(KeyError):
        runs[max(runs.ids()) + 1]
    with pytest.raises(IndexError):
        runs.at(4)


def test_first_of_no_runs_raises(exp: rt.Experiment) -> None:
    with pytest.raises(IndexError):
        exp.runs.first()


def test_df_has_id_run_params_and_fields(exp: rt.Experiment) -> None:
    exp.add_runs(n=[1, 2], trial=[0]).execute(lambda n: {"square": n * n})
    df = exp.df()
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["id_run", "n", "trial", "square"]
    assert df["id_run"].tolist() == [r.id for r in exp.runs]
    assert df["square"].tolist() == [1, 4]
    assert exp.runs.df().equals(df)
    meta = exp.df(meta=True)
    assert {"id_run", "n", "trial", "square"} <= set(meta.columns)
    assert set(META_COLUMNS) <= set(meta.columns)
    assert set(META_COLUMNS).isdisjoint(df.columns)
    assert meta[STATUS_COLUMN].tolist() == ["done", "done"]
    assert meta[ERROR_COLUMN].isna().all()
    assert meta[STARTED_AT_COLUMN].notna().all()
    assert (meta[ENDED_AT_COLUMN] >= meta[STARTED_AT_COLUMN]).all()


# -- params, config, fields, vars ----------------------------------------------------------------


def test_run_namespaces_take_attribute_and_item_access(exp: rt.Experiment) -> None:
    seen: dict[str, Any] = {}

    def look(run: rt.Run) -> None:
        seen["params"] = (run.params.n, run.params["n"])
        seen["config"] = (run.config.p, run.config["p"])
        run.fields.a = 1
        run.fields["b"] = 2
        run.vars.c = 3
        run.vars["d"] = 4
        seen["fields"] = (run.fields["a"], run.fields.b)
        seen["vars"] = (run.vars["c"], run.vars.d)

    exp.add_run(n=7).execute(look, config={"p": 0.5})
    assert seen == {"params": (7, 7), "config": (0.5, 0.5), "fields": (1, 2), "vars": (3, 4)}
    run = exp.runs.first()
    assert run.fields.to_dict() == {"a": 1, "b": 2}
    assert run.vars.to_dict() == {"c": 3, "d": 4}
    with pytest.raises(AttributeError):
        _ = run.fields.missing
    del run.fields.a
    del run.vars["c"]
    assert "a" not in run.fields
    assert "c" not in run.vars


def test_params_and_config_are_read_only(exp: rt.Experiment) -> None:
    exp.add_run(n=7).execute(lambda: None, config={"p": 0.5})
    run = exp.runs.first()
    with pytest.raises((TypeError, AttributeError)):
        run.params.n = 8
    with pytest.raises((TypeError, AttributeError)):
        run.params["n"] = 8
    with pytest.raises((TypeError, AttributeError)):
        del run.params["n"]
    with pytest.raises((TypeError, AttributeError)):
        run.config.p = 0.9
    with pytest.raises((TypeError, AttributeError)):
        run.config["q"] = 0.9
    assert run.params.to_dict() == {"n": 7}
    assert run.config.to_dict() == {"p": 0.5}


def test_a_step_cannot_change_params(exp: rt.Experiment) -> None:
    def bump(run: rt.Run) -> None:
        run.params.n = run.params.n + 1

    exp.add_run(n=7).execute(bump, on_error="record")
    run = exp.runs.first()
    assert run.status == "failed"
    assert run.params.n == 7


def test_execute_config_is_merged_and_seen_by_every_run(exp: rt.Experiment) -> None:
    exp.add_runs(n=[1, 2])
    exp.execute(lambda: None, config={"p": 0.5, "q": 1})
    exp.execute(lambda p, q: {"pq": (p, q)}, config={"q": 2})
    assert [run.fields.pq for run in exp.runs] == [(0.5, 2), (0.5, 2)]
    assert all(run.config.to_dict() == {"p": 0.5, "q": 2} for run in exp.runs)


@pytest.mark.parametrize(
    "name",
    [
        "1x",
        "_x",
        "x-y",
        "x y",
        "id_run",
        "id_experiment",
        "runtable_status",
        "RUNTABLE_error",
        "cmin",
        "n",  # the name of a param
    ],
)
def test_invalid_field_names_are_refused(exp: rt.Experiment, name: str) -> None:
    exp.add_run(n=1)
    run = exp.runs.first()
    with pytest.raises(rt.InvalidNameError):
        run.fields[name] = 1
    with pytest.raises(ValueError, match="invalid field name"):
        run.fields[name] = 1
    assert name not in run.fields
    if name.isidentifier() and name != "n":
        with pytest.raises(rt.InvalidNameError):
            setattr(run.fields, name, 1)


def test_invalid_field_name_returned_by_a_step_is_an_error(exp: rt.Experiment) -> None:
    exp.add_run(n=1)
    with pytest.raises(rt.InvalidNameError, match="runtable_status"):
        exp.execute(lambda: {"runtable_status": "ok"})
    with pytest.raises(rt.InvalidNameError):
        exp.execute(lambda: {"n": 2})
    assert exp.runs.first().params.n == 1


@pytest.mark.parametrize("name", ["x", "X", "loss_2", "meanErr", "a_b_c"])
def test_valid_field_names(exp: rt.Experiment, name: str) -> None:
    exp.add_run(n=1)
    run = exp.runs.first()
    run.fields[name] = 1.5
    assert getattr(run.fields, name) == 1.5


def test_vars_accept_any_value_and_name(exp: rt.Experiment) -> None:
    def keep(run: rt.Run) -> None:
        run.vars.model = object
        run.vars["_private"] = 1

    exp.add_run(n=1).execute(keep)
    run = exp.runs.first()
    assert run.vars.model is object
    assert run.vars["_private"] == 1
    assert run.fields.to_dict() == {}


# -- steps ---------------------------------------------------------------------------------------


def test_exp_step_registers_steps_in_order_and_execute_runs_them(exp: rt.Experiment) -> None:
    calls: list[str] = []

    @exp.step
    def toss(run: rt.Run) -> None:
        calls.append("toss")
        run.fields.tosses = run.rng.random(run.params.n) < run.config.p

    @exp.step(name="estimate_error")
    def estimate(tosses: np.ndarray, p: float) -> dict[str, float]:
        calls.append("estimate")
        return {"err": float(abs(tosses.mean() - p))}

    assert isinstance(toss, rt.Step)
    assert isinstance(estimate, rt.Step)
    assert [s.name for s in exp.steps] == ["toss", "estimate_error"]
    exp.add_runs(n=[10, 100, 1000], trial=range(5))
    assert exp.execute(config={"p": 0.5}) is exp
    assert calls == ["toss", "estimate"] * 15
    for run in exp.runs:
        assert run.status == "done"
        assert run.fields.tosses.shape == (run.params.n,)
        assert run.fields.err == pytest.approx(abs(run.fields.tosses.mean() - 0.5))


def test_rt_step_keeps_a_plain_callable_with_a_name() -> None:
    @rt.step
    def estimate(tosses: np.ndarray, p: float) -> dict[str, float]:
        return {"err": float(abs(tosses.mean() - p))}

    @rt.step(name="named_estimate")
    def other(tosses: np.ndarray, p: float) -> dict[str, float]:
        return {"err": float(abs(tosses.mean() - p))}

    assert isinstance(estimate, rt.Step)
    assert estimate.name == "estimate"
    assert other.name == "named_estimate"
    assert estimate(np.array([True, False, True, True]), 0.5) == {"err": 0.25}
    assert other(tosses=np.array([True, True]), p=0.5) == {"err": 0.5}
    assert estimate.__name__ == "estimate"


def test_rt_step_is_not_bound_to_an_experiment(session: rt.Session) -> None:
    @rt.step
    def square(n: int) -> dict[str, int]:
        return {"square": n * n}

    first = session.create_experiment("first").add_runs(n=[1, 2])
    second = session.create_experiment("second").add_runs(n=[3])
    first.execute(square)
    second.execute([square])
    assert first.steps == []
    assert second.steps == []
    assert [r.fields.square for r in first.runs] == [1, 4]
    assert second.runs.first().fields.square == 9


def test_steps_get_values_by_name_from_every_namespace(exp: rt.Experiment) -> None:
    def prepare(run: rt.Run) -> None:
        run.fields.f = 3
        run.vars.v = 4

    def combine(run: rt.Run, n: int, p: float, f: int, v: int, d: int = 5) -> dict[str, Any]:
        assert isinstance(run, rt.Run)
        return {"total": n + p + f + v + d, "run_id": run.id}

    exp.add_runs(n=[1, 2]).execute([prepare, combine], config={"p": 0.5})
    assert [run.fields.total for run in exp.runs] == [13.5, 14.5]
    assert [run.fields.run_id for run in exp.runs] == [run.id for run in exp.runs]


def test_a_default_is_used_only_when_the_name_is_found_nowhere(exp: rt.Experiment) -> None:
    def use(n: int = 100, k: int = 7) -> dict[str, int]:
        return {"nk": n * k}

    exp.add_run(n=2).execute(use)
    assert exp.runs.first().fields.nk == 14


def test_a_returned_mapping_is_merged_and_none_changes_nothing(exp: rt.Experiment) -> None:
    exp.add_run(n=2)
    exp.execute(lambda: {"a": 1, "b": 2})
    exp.execute(lambda: {"b": 3, "c": 4})
    exp.execute(lambda: None)
    assert exp.runs.first().fields.to_dict() == {"a": 1, "b": 3, "c": 4}


@pytest.mark.parametrize("value", [1, "done", [("a", 1)], (1, 2), 0.5])
def test_a_step_returning_a_non_mapping_is_a_step_error(exp: rt.Experiment, value: Any) -> None:
    def bad() -> Any:
        return value

    exp.add_run(n=1)
    with pytest.raises(rt.StepError, match="bad"):
        exp.execute(bad)
    run = exp.runs.first()
    assert run.status == "failed"
    assert "StepError" in (run.error or "")


def test_a_name_found_nowhere_is_a_step_error(exp: rt.Experiment) -> None:
    def needs_alpha(alpha: float) -> None:
        pass

    exp.add_run(n=1)
    with pytest.raises(rt.StepError) as info:
        exp.execute(needs_alpha, config={"p": 0.5})
    message = str(info.value)
    for word in ("needs_alpha", "alpha", "params", "config", "fields", "vars"):
        assert word in message
    assert isinstance(info.value, rt.RuntableError)
    assert info.value.step == "needs_alpha"
    assert info.value.parameter == "alpha"
    assert exp.runs.first().status == "failed"


def test_a_name_with_two_different_values_is_a_step_error(exp: rt.Experiment) -> None:
    def set_p(run: rt.Run) -> None:
        run.fields.p = 0.25

    def needs_p(p: float) -> dict[str, float]:
        return {"seen": p}

    exp.add_run(n=1).execute(set_p)
    with pytest.raises(rt.StepError) as info:
        exp.execute(needs_p, config={"p": 0.5})
    message = str(info.value)
    for word in ("needs_p", "'p'", "config", "fields"):
        assert word in message


def test_a_name_with_the_same_value_in_two_places_is_fine(exp: rt.Experiment) -> None:
    def set_fields(run: rt.Run) -> None:
        run.fields.p = 0.5
        run.fields.arr = np.arange(4)
        run.vars.arr = np.arange(4)

    def needs(p: float, arr: np.ndarray) -> dict[str, Any]:
        return {"seen": p, "total": int(arr.sum())}

    exp.add_run(n=1).execute(set_fields, config={"p": 0.5})
    exp.execute(needs)
    assert exp.runs.first().fields.seen == 0.5
    assert exp.runs.first().fields.total == 6


def test_a_numpy_scalar_and_the_equal_python_number_are_the_same_value(
    exp: rt.Experiment,
) -> None:
    def needs_n(n: int) -> dict[str, int]:
        return {"seen": int(n)}

    exp.add_run(n=np.int64(10)).execute(needs_n, config={"n": 10})
    assert exp.runs.first().fields.seen == 10


def test_plain_functions_work_as_steps(exp: rt.Experiment) -> None:
    def square(n: int) -> dict[str, int]:
        return {"square": n * n}

    def plus_one(square: int) -> dict[str, int]:
        return {"plus_one": square + 1}

    exp.add_runs(n=[1, 2, 3])
    exp.execute(square).execute([plus_one])
    assert [r.fields.plus_one for r in exp.runs] == [2, 5, 10]
    exp.execute([lambda plus_one: {"again": plus_one}])
    assert [r.fields.again for r in exp.runs] == [2, 5, 10]


def test_execute_without_registered_steps_raises(exp: rt.Experiment) -> None:
    exp.add_run(n=1)
    with pytest.raises(rt.RuntableError, match="no registered steps"):
        exp.execute()
    assert exp.runs.first().status == "pending"


# -- hand tracking -------------------------------------------------------------------------------


def test_with_exp_run_tracks_a_done_run(exp: rt.Experiment) -> None:
    exp.add_run(lr=0.1)
    with exp.run(lr=0.1) as run:
        assert run.status == "pending"
        assert run.started_at is not None
        run.fields.loss = 0.25
        run.vars.note = "hand"
    assert len(exp.runs) == 2  # always a new run, even with the params of an earlier run
    assert run == exp.runs.at(1)
    assert run.params.to_dict() == {"lr": 0.1}
    assert run.status == "done"
    assert run.error is None
    assert run.ended_at is not None
    assert run.started_at is not None
    assert run.ended_at >= run.started_at
    assert run.fields.loss == 0.25
    with exp.run(lr=0.1) as again:
        pass
    assert again.id == run.id + 1
    assert again == exp.runs.at(2)
    assert again.status == "done"
    assert len(exp.runs) == 3


def test_with_exp_run_marks_a_failed_run_and_reraises(exp: rt.Experiment) -> None:
    def crash() -> None:
        raise KeyError("missing thing")

    def track() -> None:
        with exp.run(lr=0.2) as run:
            run.fields.loss = 1.0
            crash()

    with pytest.raises(KeyError, match="missing thing"):
        track()
    run = exp.runs.first()
    assert run.status == "failed"
    assert run.ended_at is not None
    assert "KeyError" in (run.error or "")
    assert "missing thing" in (run.error or "")
    assert "crash" in (run.error or "")
    assert run.fields.loss == 1.0


def test_with_exp_run_sees_config_and_rng(exp: rt.Experiment) -> None:
    exp.add_run(n=1).execute(lambda: None, config={"p": 0.5})
    with exp.run(lr=0.1) as run:
        assert run.config.p == 0.5
        run.fields.x = run.rng.random()
    assert 0 <= run.fields.x < 1


def test_building_and_executing_chain(session: rt.Session) -> None:
    exp = (
        session.create_experiment("chain")
        .add_runs(n=[1, 2])
        .add_run(n=3)
        .execute(lambda n: {"square": n * n})
        .execute([lambda square: {"cube_ish": square * 2}])
    )
    assert [r.fields.cube_ish for r in exp.runs] == [2, 8, 18]


def test_a_field_differing_only_in_case_from_a_param_or_field_is_refused_when_set() -> None:
    """Regression: the clash used to surface only at persist(), after a long execution."""
    exp = rt.connect("sqlite://").create_experiment("case").add_run(n=1)
    run = exp.runs.first()
    with pytest.raises(rt.InvalidNameError, match="clashes with 'n'"):
        run.fields.N = 1
    run.fields.loss = 1
    with pytest.raises(rt.InvalidNameError, match="clashes with 'loss'"):
        run.fields["Loss"] = 2
    del run.fields.loss
    run.fields.Loss = 3  # the old name is gone, so the new spelling is free
    assert dict(run.fields) == {"Loss": 3}


def test_an_unstorable_param_is_named_when_added() -> None:
    """Regression: the error used to point at '[0][1]' instead of the param."""
    import fractions

    exp = rt.connect("sqlite://").create_experiment("params").add_run(n=1)
    with pytest.raises(rt.UnsupportedValueError, match="param 'q'"):
        exp.add_run(q=fractions.Fraction(1, 3), n=2)
