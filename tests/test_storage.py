"""The storage suite: every test runs against SQLite (memory, file) and a real PostgreSQL."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import backend_name, blob, shrink_cells, table_names, write_sql
from identical import assert_identical
from values import VALUES

import runtable as rt


def _persisted(session: rt.Session, name: str, runs: list[dict[str, Any]], **kw: Any) -> None:
    """Persist an experiment whose runs have param ``i`` and the given fields."""
    exp = session.create_experiment(name, **kw)
    for i, fields in enumerate(runs):
        with exp.run(i=i) as run:
            run.fields.update(fields)
    exp.persist()


def _loaded_fields(session: rt.Session, name: str) -> list[dict[str, Any]]:
    return [dict(run.fields) for run in session.load_experiment(name).runs]


# -- values -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(VALUES))
def test_every_value_type_round_trips_as_a_run_field(session: rt.Session, kind: str) -> None:
    value = VALUES[kind]()
    _persisted(session, "values", [{"v": value}])
    (loaded,) = _loaded_fields(session, "values")
    expected = value
    if isinstance(value, np.generic) and kind in ("np_float32", "np_int64", "np_bool"):
        expected = value.item()  # documented: native-column scalars come back as Python ones
    assert_identical(loaded["v"], expected)


def test_every_value_type_round_trips_as_experiment_fields(session: rt.Session) -> None:
    values = {name: make() for name, make in VALUES.items()}
    session.create_experiment("fields", **values).persist()
    loaded = session.load_experiment("fields")
    assert_identical(dict(loaded.fields), values)


def test_a_float_column_of_zeros_keeps_the_sign_of_each(session: rt.Session) -> None:
    # All finite floats: the fast path that finds a negative zero among the column's bits.
    values = [0.0, 1.5, -0.0, 0.0, -2.5, -0.0]
    _persisted(session, "zeros", [{"x": v} for v in values])
    loaded = _loaded_fields(session, "zeros")
    assert [math.copysign(1.0, f["x"]) for f in loaded] == [1, 1, -1, 1, -1, -1]


def test_mixed_types_in_one_column_reload_exactly(session: rt.Session) -> None:
    mixed = [1, 2.5, float("nan"), float("inf"), -0.0, None, True, np.arange(3), "x", 2**100]
    _persisted(session, "mixed", [{"x": v} for v in mixed] + [{}])
    loaded = _loaded_fields(session, "mixed")
    for value, fields in zip(mixed, loaded, strict=False):
        assert_identical(fields["x"], value)
    assert "x" not in loaded[-1]  # a run that never set it does not get it


def test_numeric_columns_stay_queryable_when_mixed(session: rt.Session) -> None:
    _persisted(session, "mixed", [{"x": 1}, {"x": 2.5}, {"x": float("nan")}, {"x": np.zeros(2)}])
    df = session.query("SELECT i, x FROM e_mixed ORDER BY i")
    assert list(df["x"].iloc[:2]) == [1.0, 2.5]
    assert df["x"].isna().iloc[2]  # NaN, or NULL where the backend cannot keep NaN
    assert df["x"].isna().iloc[3]  # an array has no native projection
    assert session.query("SELECT SUM(x) AS s FROM e_mixed WHERE i < 2")["s"][0] == 3.5


def test_a_field_only_some_runs_have_comes_back_only_on_those(session: rt.Session) -> None:
    _persisted(session, "partial", [{"a": 1}, {"b": None}, {"a": 3, "b": "x"}])
    assert _loaded_fields(session, "partial") == [{"a": 1}, {"b": None}, {"a": 3, "b": "x"}]


def test_scalars_are_native_sql_columns(session: rt.Session) -> None:
    import datetime as dt

    runs = [
        {"f": 0.5, "n": 3, "ok": True, "s": "a", "when": dt.datetime(2024, 1, 1)},
        {"f": 1.5, "n": 5, "ok": False, "s": "b", "when": dt.datetime(2024, 1, 2)},
    ]
    _persisted(session, "native", runs)
    row = session.query(
        'SELECT SUM(f) AS f, SUM(n) AS n, MAX(s) AS s, MIN("when") AS w FROM e_native '
        "WHERE ok = :ok",
        {"ok": True},
    ).iloc[0]
    assert (row["f"], row["n"], row["s"]) == (0.5, 3, "a")
    assert str(row["w"]).startswith("2024-01-01")


def test_dict_fields_are_json_columns_queryable_with_sql(session: rt.Session) -> None:
    _persisted(session, "metrics", [{"m": {"precision": 0.5, "k": {"depth": 3}}}])
    dialect = backend_name(session)
    if dialect == "sqlite":
        sql = "SELECT json_extract(m, '$.precision') AS p, json_extract(m, '$.k.depth') AS d"
    elif dialect == "crate":
        sql = "SELECT m['precision'] AS p, m['k']['depth'] AS d"
    else:
        sql = "SELECT (m->>'precision')::float AS p, (m->'k'->>'depth')::int AS d"
    row = session.query(sql + " FROM e_metrics").iloc[0]
    assert (row["p"], row["d"]) == (0.5, 3)


def test_params_are_columns_and_reload_as_params(session: rt.Session) -> None:
    exp = session.create_experiment("grid").add_runs(n=[1, 2], lr=[0.1, 0.01], model=["a"])
    exp.persist()
    df = session.query("SELECT n, lr, model FROM e_grid ORDER BY id_run")
    assert df.to_dict("list") == {"n": [1, 1, 2, 2], "lr": [0.1, 0.01] * 2, "model": ["a"] * 4}
    loaded = session.load_experiment("grid")
    assert [dict(r.params) for r in loaded.runs] == [dict(r.params) for r in exp.runs]


# -- if_exists ----------------------------------------------------------------------------------


def test_if_exists_fail_raises_and_keeps_what_is_stored(session: rt.Session) -> None:
    _persisted(session, "exp", [{"a": 1}])
    with pytest.raises(rt.ExperimentExistsError, match="exp"):
        _persisted(session, "exp", [{"a": 2}])
    assert _loaded_fields(session, "exp") == [{"a": 1}]


def test_if_exists_replace_swaps_the_stored_version(session: rt.Session) -> None:
    _persisted(session, "exp", [{"a": 1}, {"a": 2}])
    old_id = session.load_experiment("exp").id
    exp = session.create_experiment("exp", note="new")
    with exp.run(k=1) as run:
        run.fields.b = "x"
    exp.persist(if_exists="replace")
    loaded = session.load_experiment("exp")
    assert loaded.id != old_id
    assert [dict(r.fields) for r in loaded.runs] == [{"b": "x"}]
    assert dict(loaded.fields) == {"note": "new"}
    assert len(session.ls()) == 1


def test_if_exists_append_adds_new_runs_and_columns(session: rt.Session) -> None:
    exp = session.create_experiment("grow").add_runs(n=[1, 2])
    for run in exp.runs:
        run.fields.a = run.params.n * 10
    exp.persist()
    exp.add_runs(n=[3, 4])
    for run in list(exp.runs)[2:]:
        run.fields.a = 0.5  # int column gets a float: stored exactly via the companion
        run.fields.b = [run.params.n]  # a new column
    exp.fields.note = "appended"
    exp.persist(if_exists="append")
    loaded = session.load_experiment("grow")
    assert [dict(r.fields) for r in loaded.runs] == [
        {"a": 10},
        {"a": 20},
        {"a": 0.5, "b": [3]},
        {"a": 0.5, "b": [4]},
    ]
    assert loaded.fields.note == "appended"
    assert session.ls().set_index("name").loc["grow", "n_runs"] == 4


def test_append_to_a_missing_experiment_creates_it(session: rt.Session) -> None:
    session.create_experiment("new").add_run(x=1).persist(if_exists="append")
    assert len(session.load_experiment("new").runs) == 1


def test_append_updates_stored_runs(session: rt.Session) -> None:
    exp = session.create_experiment("keep").add_run(x=1)
    exp.runs.first().fields.v = 1
    exp.persist()
    exp.runs.first().fields.v = 2  # already stored: append writes what changed
    exp.persist(if_exists="append")
    assert _loaded_fields(session, "keep") == [{"v": 2}]


def test_bad_if_exists_is_a_clear_error(session: rt.Session) -> None:
    with pytest.raises(ValueError, match="if_exists"):
        session.create_experiment("x").persist(if_exists="overwrite")  # type: ignore[arg-type]


# -- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["", "Coins", "1abc", "a-b", "a b", "a__b", "x" * 49, "drop table x;", "ü"]
)
def test_invalid_experiment_names_are_refused(session: rt.Session, name: str) -> None:
    with pytest.raises(rt.InvalidNameError):
        session.create_experiment(name)


def test_fields_differing_only_in_case_are_refused_when_set(session: rt.Session) -> None:
    """Two runs' fields are one column: the second spelling is refused as it is set (it used to
    be refused only at persist, after the whole sweep had run)."""
    exp = session.create_experiment("case")
    with exp.run(i=0) as run:
        run.fields.loss = 1
    with pytest.raises(rt.InvalidNameError, match="differ only in case"), exp.run(i=1) as run:
        run.fields.Loss = 2
    exp.persist()
    assert list(session.load_experiment("case").runs.df()["loss"][:1]) == [1]


def test_a_field_may_not_shadow_a_param_or_a_reserved_column(session: rt.Session) -> None:
    exp = session.create_experiment("shadow").add_run(n=1)
    run = exp.runs.first()
    with pytest.raises(rt.InvalidNameError, match="param"):
        run.fields.n = 2
    for reserved in ("runtable_status", "id_run", "ID_EXPERIMENT", "Runtable_error"):
        with pytest.raises(rt.InvalidNameError, match="reserved"):
            run.fields[reserved] = 1
    for system in ("xmin", "ctid"):
        with pytest.raises(rt.InvalidNameError, match="system column of PostgreSQL"):
            run.fields[system] = 1


def test_param_in_some_runs_and_field_in_others_is_refused(session: rt.Session) -> None:
    """One name is one column: a field named like another run's param is refused when set,
    and a stored param cannot become a field of appended runs."""
    exp = session.create_experiment("roles").add_run(x=1)
    with pytest.raises(rt.InvalidNameError, match="'x'"), exp.run(y=1) as run:
        run.fields.x = 2
    with pytest.raises(rt.InvalidNameError, match="'x'"):
        exp.add_runs(z=[1]).runs.at(-1).fields.x = 3
    exp.persist()
    other = session.create_experiment("roles")
    with other.run(y=2) as run:
        run.fields.x = 2
    with pytest.raises(rt.SchemaError, match="'x'"):
        other.persist(if_exists="append")
    assert len(session.load_experiment("roles").runs) == 3


# -- atomicity and bad values -------------------------------------------------------------------


def test_unsupported_value_fails_before_writing_and_names_run_and_field(
    session: rt.Session,
) -> None:
    exp = session.create_experiment("bad").add_runs(i=range(3))
    for run in exp.runs:
        run.fields.ok = 1
    exp.runs.at(2).fields.model = object()
    with pytest.raises(rt.UnsupportedValueError) as info:
        exp.persist()
    message = str(info.value)
    assert f"run {exp.runs.at(2).id}" in message
    assert "'model'" in message
    assert "store_pickle=True" in message
    assert session.ls().empty
    assert "e_bad" not in table_names(session)


def test_replace_that_fails_keeps_the_previous_version(session: rt.Session) -> None:
    _persisted(session, "exp", [{"a": 1}])
    exp = session.create_experiment("exp")
    with exp.run(i=0) as run:
        run.fields.a = lambda: None
    with pytest.raises(rt.UnsupportedValueError):
        exp.persist(if_exists="replace")
    assert _loaded_fields(session, "exp") == [{"a": 1}]


def test_persist_failing_midway_leaves_the_database_as_it_was(session: rt.Session) -> None:
    """The experiments row is written last; make the database refuse it after the run table
    was created and filled, and check that nothing of the new experiment remains."""
    backend = backend_name(session)
    if backend == "crate":
        pytest.skip("CrateDB has no triggers to make a write fail on purpose")
    _persisted(session, "before", [{"a": 1}])
    if backend == "sqlite":
        session.query(
            "CREATE TRIGGER refuse BEFORE INSERT ON experiments WHEN NEW.name = 'doomed' "
            "BEGIN SELECT RAISE(ABORT, 'refused by test'); END"
        )
    else:
        session.query(
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
            "IF NEW.name = 'doomed' THEN RAISE EXCEPTION 'refused by test'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        session.query(
            "CREATE TRIGGER refuse BEFORE INSERT ON experiments "
            "FOR EACH ROW EXECUTE FUNCTION refuse()"
        )
    with pytest.raises(rt.StorageError, match="refused by test"):
        _persisted(session, "doomed", [{"a": 1}, {"a": np.ones(3)}])
    assert list(session.ls()["name"]) == ["before"]
    assert "e_doomed" not in table_names(session)
    assert {"experiments", "e_before"} <= table_names(session)  # it does see the tables
    assert _loaded_fields(session, "before") == [{"a": 1}]


def test_corrupted_stored_value_names_run_and_field(session: rt.Session) -> None:
    _persisted(session, "corrupt", [{"arr": np.ones(3)}, {"arr": np.zeros(3)}])
    second = session.load_experiment("corrupt").runs.at(1).id
    update = f"UPDATE e_corrupt SET arr = :junk WHERE id_run = {second}"
    write_sql(session, update, "e_corrupt", junk=blob(session, b"RT\x01junk"))
    with pytest.raises(rt.CorruptValueError) as info:
        session.load_experiment("corrupt")
    assert f"run {second}" in str(info.value)
    assert "'arr'" in str(info.value)


# -- pickles ------------------------------------------------------------------------------------


def test_store_pickle_keeps_vars_and_unpickle_is_opt_in(
    session: rt.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    exp = session.create_experiment("pickled").add_run(x=1)
    exp.runs.first().vars.scratch = {"only": "in the pickle"}
    exp.runs.first().fields.kept = 1
    exp.persist(store_pickle=True)

    import pickle

    import cloudpickle

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("unpickled without being asked")

    with monkeypatch.context() as m:
        m.setattr(pickle, "loads", refuse)
        m.setattr(cloudpickle, "loads", refuse)
        m.setattr(pickle, "Unpickler", refuse)
        plain = session.load_experiment("pickled")
    assert dict(plain.runs.first().vars) == {}
    assert plain.runs.first().fields.kept == 1

    unpickled = session.load_experiment("pickled", unpickle=True)
    assert unpickled.runs.first().vars.scratch == {"only": "in the pickle"}
    # Regression: the pickle is taken before the store gives the id, so the unpickled
    # experiment looked never stored (id None) and a resume with persist=True was refused.
    assert unpickled.id == plain.id
    assert unpickled.created_at == plain.created_at
    unpickled.execute(lambda run: None, persist=True, resume=True)
    unpickled.add_run(x=2).persist(if_exists="append")  # the session is re-attached
    assert len(session.load_experiment("pickled").runs) == 2


def test_unpickle_without_a_stored_pickle_is_a_clear_error(session: rt.Session) -> None:
    session.create_experiment("plain").persist()
    with pytest.raises(rt.RuntableError, match="store_pickle=True"):
        session.load_experiment("plain", unpickle=True)


# -- session ------------------------------------------------------------------------------------


def test_ls_lists_experiments_with_their_run_counts(session: rt.Session) -> None:
    assert session.ls().empty
    session.create_experiment("a").add_runs(x=range(3)).persist()
    session.create_experiment("b").persist()
    df = session.ls()
    assert list(df["name"]) == ["a", "b"]
    assert list(df["n_runs"]) == [3, 0]
    assert list(df["table_name"]) == ["e_a", "e_b"]


def test_delete_experiment(session: rt.Session) -> None:
    session.create_experiment("gone").add_run(x=1).persist()
    assert "e_gone" in table_names(session)
    session.delete_experiment("gone")
    assert session.ls().empty
    assert "e_gone" not in table_names(session)
    with pytest.raises(rt.ExperimentNotFoundError, match="gone"):
        session.delete_experiment("gone")
    session.delete_experiment("gone", missing_ok=True)


def test_loading_a_missing_experiment_is_a_clear_error(session: rt.Session) -> None:
    with pytest.raises(rt.ExperimentNotFoundError, match="nothing"):
        session.load_experiment("nothing")


def test_a_foreign_experiments_table_is_not_mistaken_for_ours(session: rt.Session) -> None:
    session.query("CREATE TABLE experiments (id_experiment TEXT, name TEXT)")
    with pytest.raises(rt.SchemaError, match="not made by runtable"):
        session.ls()


def test_a_leftover_run_table_is_not_overwritten(session: rt.Session) -> None:
    session.query("CREATE TABLE e_taken (x INTEGER)")
    with pytest.raises(rt.SchemaError, match="e_taken"):
        session.create_experiment("taken").persist()


def test_metadata_records_provenance_steps_and_columns(session: rt.Session) -> None:
    exp = session.create_experiment("meta").add_run(n=1)

    def square(n: int) -> dict[str, int]:
        return {"sq": n * n}

    exp.execute(square, config={"scale": 2}).persist()
    meta = session.query("SELECT meta FROM experiments")["meta"][0]
    import json

    meta = json.loads(meta)
    assert meta["runtable"] == rt.__version__
    assert meta["config"] == {"scale": 2}
    assert [s["name"] for s in meta["steps"]] == ["square"]
    assert len(meta["steps"][0]["hash"]) == 16
    assert {c["name"]: c["kind"] for c in meta["columns"]} == {"n": "int", "sq": "int"}
    assert {"python", "packages", "codec", "host", "git_commit"} <= set(meta)
    loaded = session.load_experiment("meta")
    assert dict(loaded.config) == {"scale": 2}


def test_append_refuses_a_grid_point_stored_under_another_id(session: rt.Session) -> None:
    first = session.create_experiment("ids").add_run(x=1).persist()
    other = session.create_experiment("ids").add_run(x=1)  # the same point, another process
    assert other.runs.first().id != first.runs.first().id
    with pytest.raises(rt.ConflictError, match=f"stored already \\(run {first.runs.first().id}\\)"):
        other.persist(if_exists="append")
    assert [r.params.x for r in session.load_experiment("ids").runs] == [1]
    tracked = session.create_experiment("ids")
    with tracked.run(x=1):  # runs tracked by hand may repeat params
        pass
    tracked.persist(if_exists="append")
    assert [r.params.x for r in session.load_experiment("ids").runs] == [1, 1]


def test_loading_a_slice_reads_only_the_chosen_runs_and_fields(session: rt.Session) -> None:
    exp = session.create_experiment("big").add_runs(n=[10, 100, 1000], trial=range(2))
    for run in exp.runs:
        run.fields.err = 1 / run.params.n
        run.fields.samples = np.zeros(run.params.n)
    exp.persist()
    part = session.load_experiment("big", where="n > 10 AND trial = 0", columns=["err"])
    assert [dict(r.params) for r in part.runs] == [{"n": 100, "trial": 0}, {"n": 1000, "trial": 0}]
    assert [dict(r.fields) for r in part.runs] == [{"err": 0.01}, {"err": 0.001}]
    with pytest.raises(rt.RuntableError, match="slice"):
        part.persist(if_exists="replace")
    with pytest.raises(KeyError, match="no field 'nope'"):
        session.load_experiment("big", columns=["nope"])
    with pytest.raises(rt.StorageError):
        session.load_experiment("big", where="no_such_column > 1")
    assert len(session.load_experiment("big", where="n < 0").runs) == 0


def test_values_bigger_than_a_cell_are_stored_in_parts(session: rt.Session) -> None:
    shrink_cells(session, 1000)
    big = np.arange(2000, dtype=np.float64)  # 16 kB: 17 parts
    exp = session.create_experiment("parts", blob=np.ones(10)).add_runs(i=range(3))
    for run in exp.runs:
        run.fields.big = big * run.params.i
        run.fields.small = run.params.i
    exp.persist()
    parts = session.query("SELECT COUNT(*) AS n FROM runtable_chunks")["n"][0]
    assert parts == 3 * 17
    loaded = session.load_experiment("parts")
    for run in loaded.runs:
        np.testing.assert_array_equal(run.fields.big, big * run.params.i)

    loaded.execute(lambda run: run.fields.update(big=np.zeros(3000)))
    loaded.persist(if_exists="replace")  # the old version's parts go with it
    assert session.query("SELECT COUNT(*) AS n FROM runtable_chunks")["n"][0] == 3 * 25
    again = session.load_experiment("parts")
    assert all(r.fields.big.shape == (3000,) for r in again.runs)

    second = again.runs.at(1).id
    write_sql(
        session,
        f"DELETE FROM runtable_chunks WHERE id_run = {second} AND part = 3",
        "runtable_chunks",
    )
    with pytest.raises(rt.CorruptValueError, match=rf"run {second}, field 'big'"):
        session.load_experiment("parts")

    session.delete_experiment("parts")
    assert session.query("SELECT COUNT(*) AS n FROM runtable_chunks")["n"][0] == 0


def test_incremental_writes_replace_the_parts_of_a_rewritten_run(shared_url: str) -> None:
    session = rt.connect(shared_url)
    shrink_cells(session, 1000)
    exp = session.create_experiment("rewrite").add_runs(i=range(2))
    exp.execute(lambda run: run.fields.update(big=np.ones(500)), persist=True)
    exp.execute(lambda run: run.fields.update(big=np.full(700, 2.0)), persist=True)
    loaded = rt.connect(shared_url).load_experiment("rewrite")
    assert [r.fields.big.tolist() for r in loaded.runs] == [[2.0] * 700] * 2
    assert session.query("SELECT COUNT(*) AS n FROM runtable_chunks")["n"][0] == 2 * 6


@pytest.mark.parametrize("name", ["returning", "nothing", "select", "order", "group", "when"])
def test_sql_keywords_work_as_param_and_field_names(session: rt.Session, name: str) -> None:
    """Regression: SQLite's keywords 'nothing' and 'returning' broke the table's DDL."""
    exp = session.create_experiment("keywords").add_run(**{name: 1})
    exp.runs.first().fields[f"{name}_f"] = 2
    exp.runs.first().fields["x"] = 1
    exp.persist()
    exp.add_run(**{name: 2})
    exp.runs.at(1).fields[name + "_g"] = 3  # a column added later
    exp.persist(if_exists="append")
    loaded = session.load_experiment("keywords")
    assert [dict(r.params) for r in loaded.runs] == [{name: 1}, {name: 2}]


def test_store_pickle_keeps_what_the_codec_cannot_store(session: rt.Session) -> None:
    """The error for an unsupported value suggests store_pickle=True: that must work."""
    exp = session.create_experiment("objects", helper=object()).add_runs(i=range(2))
    exp.runs.at(0).fields.model = object()
    exp.runs.at(0).fields.score = 0.5
    exp.runs.at(1).fields.model = "plain text"
    with pytest.raises(rt.UnsupportedValueError, match="store_pickle=True"):
        exp.persist()
    exp.persist(store_pickle=True)
    with pytest.warns(UserWarning, match=r"only in its pickle.*'model'.*helper"):
        plain = session.load_experiment("objects")
    assert dict(plain.runs.at(0).fields) == {"score": 0.5}  # the object lives in the pickle only
    assert plain.runs.at(1).fields.model == "plain text"
    assert "helper" not in plain.fields
    import json

    meta = json.loads(session.query("SELECT meta FROM experiments")["meta"][0])
    assert {(m["run"], m["field"]) for m in meta["only_in_pickle"]} == {
        (exp.runs.at(0).id, "model"),
        (None, "experiment fields 'helper'"),
    }
    full = session.load_experiment("objects", unpickle=True)
    assert type(full.runs.at(0).fields.model) is object
    assert type(full.fields.helper) is object


def test_big_arrays_are_written_in_parts_straight_from_their_memory(
    session: rt.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Values kept as the codec's buffers (no joined copy) reload exactly, split across parts.
    Thresholds scaled down (conftest.shrink_cells): the real 64 MB took 10-13 s a backend."""
    shrink_cells(session, 3000, monkeypatch, buffers_above=1000)
    exp = session.create_experiment("buffers").add_run(i=0)
    exp.runs.first().fields.pair = {"a": np.arange(1000.0), "b": np.ones((30, 7), order="F")}
    exp.persist()
    assert session.query("SELECT COUNT(*) AS n FROM runtable_chunks")["n"][0] >= 3
    loaded = session.load_experiment("buffers").runs.first().fields.pair
    assert_identical(loaded, exp.runs.first().fields.pair)


def test_cells_past_a_megabyte_are_joined_as_bound_and_reload_exactly(
    session: rt.Session,
) -> None:
    """Cells over 1 MB are handed to the driver as the codec's buffers, joined as their row is
    bound (SQLite, PostgreSQL) or before (CrateDB), on create and on append."""
    big = [np.random.default_rng(i).random(300_000) for i in range(3)]  # 2.4 MB each
    exp = session.create_experiment("bound").add_runs(i=range(3))
    for run in exp.runs:
        run.fields.x = big[run.params.i]
    exp.persist()
    loaded = session.load_experiment("bound")
    for run in loaded.runs:
        np.testing.assert_array_equal(run.fields.x, big[run.params.i])
    loaded.runs.at(1).fields.x = big[1][::-1].copy()
    loaded.persist(if_exists="append")
    again = session.load_experiment("bound").runs
    np.testing.assert_array_equal(again.at(1).fields.x, big[1][::-1])
    np.testing.assert_array_equal(again.at(2).fields.x, big[2])


def test_a_parts_table_of_runtable_0_1_is_widened_for_todays_run_ids(shared_url: str) -> None:
    """runtable 0.1 made runtable_chunks.id_run a 32-bit INTEGER on PostgreSQL; the 15-digit
    run ids of storage format 2 need it widened before parts are written."""
    session = rt.connect(shared_url)
    if backend_name(session) != "postgresql":
        pytest.skip("only PostgreSQL's INTEGER is 32-bit here")
    session.query(
        "CREATE TABLE runtable_chunks (id_experiment VARCHAR(32) NOT NULL, "
        "id_run INTEGER NOT NULL, name VARCHAR(64) NOT NULL, part INTEGER NOT NULL, "
        "data BYTEA NOT NULL, PRIMARY KEY (id_experiment, id_run, name, part))"
    )
    shrink_cells(session, 1000)
    exp = session.create_experiment("parts01").add_run(i=0)
    exp.runs.first().fields.a = np.arange(1000.0)
    exp.persist()
    np.testing.assert_array_equal(
        session.load_experiment("parts01").runs.first().fields.a, np.arange(1000.0)
    )


def test_sqlite_run_tables_keep_timestamps_as_sqlalchemy_writes_them(tmp_path: Path) -> None:
    """runtable formats SQLite's DATETIME text itself (in C, for speed): the text is
    SQLAlchemy's, and text in other forms (written by other tools) reads as SQLAlchemy reads
    it. The run id is the table's rowid (no second index to maintain per insert)."""
    import sqlite3

    import sqlalchemy as sa
    from sqlalchemy.dialects import sqlite

    path = tmp_path / "t.db"
    session = rt.connect(f"sqlite:///{path}")
    exp = session.create_experiment("t")
    for _ in range(2):
        with exp.run() as run:
            run.fields.x = 1
    exp.runs.at(1).started_at = datetime(2026, 1, 2, 3, 4, 5)  # no microseconds
    exp.persist()
    session.close()
    impl = sa.DateTime().dialect_impl(sqlite.dialect())
    write = impl.bind_processor(sqlite.dialect())
    read = impl.result_processor(sqlite.dialect(), None)
    with sqlite3.connect(path) as conn:
        stored = [r[0] for r in conn.execute("SELECT runtable_started_at FROM e_t ORDER BY id_run")]
        assert stored == [write(r.started_at) for r in exp.runs]
        indexes = conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'e_t'").fetchall()
        assert indexes == [("e_t",)]  # no sqlite_autoindex: id_run is the rowid
        others = ["2026-01-02 03:04:05", "2026-01-02T03:04:05.000001", "2026-01-02 03:04:05.5"]
        ids = [r.id for r in exp.runs]
        conn.execute("UPDATE e_t SET runtable_started_at = ? WHERE id_run = ?", (others[0], ids[0]))
        conn.execute("UPDATE e_t SET runtable_ended_at = ? WHERE id_run = ?", (others[1], ids[0]))
        conn.execute("UPDATE e_t SET runtable_ended_at = ? WHERE id_run = ?", (others[2], ids[1]))
    loaded = rt.connect(f"sqlite:///{path}").load_experiment("t").runs
    assert loaded.at(0).started_at == read(others[0])
    assert loaded.at(0).ended_at == read(others[1])
    assert loaded.at(1).ended_at == read(others[2])
    assert loaded.at(1).started_at == datetime(2026, 1, 2, 3, 4, 5)


def test_a_column_widened_by_another_writer_keeps_the_stored_values_exact(
    shared_url: str,
) -> None:
    """Two processes append to one experiment; the second's floats widen the first's int and
    bool columns. The first's values load as they were (3, not 3.0; False, not 0): a silent
    coercion before."""
    first = rt.connect(shared_url)
    exp = first.create_experiment("shards").add_runs(i=[0, 1])
    exp.execute(lambda i: {"v": i + 3, "flag": i == 1, "big": 2**62 + i}).persist()
    second = rt.connect(shared_url)
    more = second.create_experiment("shards").add_runs(i=[2])
    more.execute(lambda i: {"v": 0.5, "flag": 7, "big": 0.25}).persist(if_exists="append")
    loaded = {r.params.i: r.fields for r in rt.connect(shared_url).load_experiment("shards").runs}
    assert [(type(loaded[i].v), loaded[i].v) for i in range(3)] == [
        (int, 3),
        (int, 4),
        (float, 0.5),
    ]
    assert [(type(loaded[i].flag), loaded[i].flag) for i in range(3)] == [
        (bool, False),
        (bool, True),
        (int, 7),
    ]
    assert [loaded[i].big for i in range(3)] == [2**62, 2**62 + 1, 0.25]
