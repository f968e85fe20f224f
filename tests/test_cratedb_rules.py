"""CrateDB's rules that used to lose runs silently, each through the public API.

Every test runs against ``cratedb_url``: a real CrateDB server when RUNTABLE_TEST_CRATEDB_URL
is set, else the CrateDB stand-in (tests/crate_standin.py), which enforces these rules the
way CrateDB's source states them. Before the fixes of issue 12 each of these persisted without
an error and lost runs, or failed to load what it had stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from conftest import crate_standin, empty_cratedb, on_crate_standin

import runtable as rt
from runtable.storage.dialects import CrateDBDialect

pytestmark = pytest.mark.cratedb


@pytest.fixture
def session(cratedb_url: str) -> Iterator[rt.Session]:
    empty_cratedb(cratedb_url)
    with rt.connect(cratedb_url) as s:
        yield s
    empty_cratedb(cratedb_url)


def _persist(session: rt.Session, name: str, fields: list[dict[str, Any]], **kw: Any) -> None:
    exp = session.create_experiment(name)
    for i, values in enumerate(fields):
        with exp.run(i=i) as run:
            run.fields.update(values)
    exp.persist(**kw)


def _loaded_fields(session: rt.Session, name: str) -> list[dict[str, Any]]:
    return [dict(r.fields) for r in session.load_experiment(name).runs]


def _n_runs(session: rt.Session, name: str) -> int:
    return int(session.ls().set_index("name").loc[name, "n_runs"])


def _engine(session: rt.Session) -> sa.Engine:
    return session.store.engine  # type: ignore[attr-defined, no-any-return]


# -- section 1: values CrateDB refuses inside a dict -------------------------------------------


def test_a_dict_key_that_changes_type_keeps_every_run(session: rt.Session) -> None:
    fields = [{"m": {"a": 1, "b": 1}}, {"m": {"a": "x", "b": 2}}, {"m": {"a": 2.5, "b": 3}}]
    _persist(session, "typed", fields)
    assert _loaded_fields(session, "typed") == fields
    assert _n_runs(session, "typed") == 3
    # The OBJECT column keeps what CrateDB keeps as it is: "a" is a bigint from its first
    # value, so "x" and 2.5 (which CrateDB would truncate to 2) are left out of it.
    found = session.query("SELECT i, m['a'] AS a, m['b'] AS b FROM e_typed ORDER BY i")
    assert found["b"].tolist() == [1, 2, 3]
    assert found["a"].tolist()[0] == 1
    assert found["a"].isna().tolist() == [False, True, True]


@pytest.mark.parametrize("key", ["f1.macro", "a[0]", "tab\there", "new\nline", "cr\rkey"])
def test_dict_keys_crate_refuses_as_column_names_keep_the_run(
    session: rt.Session, key: str
) -> None:
    fields = [{"scores": {key: 0.5, "plain": 1.0}}, {"scores": {"plain": 2.0}}]
    _persist(session, "keys", fields)
    assert _loaded_fields(session, "keys") == fields
    found = session.query("SELECT scores['plain'] AS p FROM e_keys ORDER BY i")
    assert found["p"].tolist() == [1.0, 2.0]


def test_text_past_the_indexed_limit_inside_a_dict_keeps_the_run(session: rt.Session) -> None:
    long = "é" * 20_000  # 40,000 bytes of UTF-8: past CrateDB's 32,766 for indexed text
    fields = [{"notes": {"text": long, "n": 1}}, {"notes": {"text": "short", "n": 2}}]
    _persist(session, "notes", fields)
    assert _loaded_fields(session, "notes") == fields
    found = session.query("SELECT notes['text'] AS t FROM e_notes ORDER BY i")
    assert found["t"].tolist()[1] == "short"
    assert found["t"].isna().tolist() == [True, False]


def test_a_dict_with_more_keys_than_the_column_limit_keeps_the_run(session: rt.Session) -> None:
    wide = {f"k{j}": j for j in range(1_500)}  # sub-columns count toward the 1,000 limit
    fields = [{"wide": wide}, {"wide": {"k0": -1}}]
    _persist(session, "wide", fields)
    assert _loaded_fields(session, "wide") == fields
    assert session.query("SELECT wide['k1499'] AS k FROM e_wide ORDER BY i")["k"][0] == 1_499


def test_runs_appended_by_another_writer_meanwhile_are_a_conflict_not_a_loss(
    session: rt.Session, cratedb_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two appenders of the same run ids: the second checks which runs are stored before the
    first has written them, then CrateDB refuses its rows as duplicates (per row)."""
    first = session.create_experiment("app").add_runs(x=range(3))
    first.execute(lambda x: {"y": x, "by": "first"}).persist()
    from runtable.storage.sql import SQLStore

    with rt.connect(cratedb_url) as other:
        second = other.create_experiment("app").add_runs(x=range(3, 6))
        second.execute(lambda x: {"y": x, "by": "second"})
        # The same run ids as the first writer's (a concurrent append), set in its columns.
        second.runs.frame.ids[:] = first.runs.ids()
        second.runs.frame.digests.clear()
        monkeypatch.setattr(SQLStore, "_stored_runs", lambda *a, **k: ({}, {}))  # checked "before"
        with pytest.raises(rt.ConflictError, match="another writer stored run"):
            second.persist(if_exists="append")
    monkeypatch.undo()
    assert [(r.params.x, r.fields.by) for r in session.load_experiment("app").runs] == [
        (0, "first"),
        (1, "first"),
        (2, "first"),
    ]
    assert _n_runs(session, "app") == 3


def test_a_refused_row_fails_the_persist_naming_run_field_and_message(
    session: rt.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refusal runtable does not foresee (here: with its check switched off) is not silent:
    the persist fails, says which run and field and what CrateDB said, and keeps nothing."""
    _persist(session, "kept", [{"m": {"a": 1}}])
    monkeypatch.setattr(CrateDBDialect, "prepare_insert", lambda *a, **k: None, raising=False)
    with pytest.raises(rt.StorageError) as info:
        _persist(session, "refused", [{"m": {"a": 1}}, {"m": {"a": "x"}}])
    message = str(info.value)
    assert "field 'm' of run" in message
    assert "Cannot cast" in message or "cast" in message.lower()
    assert not session.store.exists("refused")  # type: ignore[attr-defined]
    assert set(session.ls()["name"]) == {"kept"}

    exp = session.load_experiment("kept")
    with exp.run(i=7) as run:
        run.fields.m = {"a": "not a number"}
    with pytest.raises(rt.StorageError, match="field 'm' of run"):
        exp.persist(if_exists="append")
    assert _loaded_fields(session, "kept") == [{"m": {"a": 1}}]  # as it was before
    assert _n_runs(session, "kept") == 1


# -- section 2: visibility and sizes -------------------------------------------------------------


def test_big_values_load_right_after_persist_rewrite_and_delete(
    session: rt.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(CrateDBDialect, "max_cell_bytes", 4096)  # parts of 4 KB
    array = np.arange(5_000, dtype=np.float64)  # 40 KB: ten parts
    exp = session.create_experiment("big").add_runs(x=range(2))
    exp.execute(lambda x: {"a": array + x})
    exp.persist()
    for run in session.load_experiment("big").runs:
        np.testing.assert_array_equal(run.fields.a, array + run.params.x)
    exp.persist(if_exists="replace")  # right away: the old parts are gone, none collide
    for run in session.load_experiment("big").runs:
        np.testing.assert_array_equal(run.fields.a, array + run.params.x)
    session.delete_experiment("big")
    assert "big" not in set(session.ls()["name"])  # ls() straight after the delete
    with _engine(session).connect() as conn:
        conn.exec_driver_sql("REFRESH TABLE runtable_chunks")
        left = conn.exec_driver_sql("SELECT count(*) FROM runtable_chunks").scalar()
    assert left == 0  # no orphaned parts


def test_bulk_inserts_are_sized_from_the_serialized_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cratedb_url: str
) -> None:
    """Dicts and numbers used to count 16 bytes each: requests went over the server's cap."""
    if not on_crate_standin(cratedb_url):
        pytest.skip("needs a stand-in with a small http.max_content_length")
    monkeypatch.setattr(CrateDBDialect, "max_request_bytes", 1_000_000)
    with (
        crate_standin(tmp_path / "capped", "--max-content-length", "1500000") as url,
        rt.connect(url) as session,
    ):
        fields = [{"d": {f"key{j}": j * 0.5 for j in range(500)}} for _ in range(300)]
        _persist(session, "sized", fields)  # about 6 MB of JSON in all
        assert _loaded_fields(session, "sized") == fields


def test_a_column_limit_raised_by_hand_is_never_lowered(session: rt.Session) -> None:
    _persist(session, "limit", [{"a": 1}])
    with _engine(session).connect() as conn:
        conn.exec_driver_sql('ALTER TABLE e_limit SET ("mapping.total_fields.limit" = 5000)')
    exp = session.load_experiment("limit")
    with exp.run(i=1) as run:
        run.fields.b = 2
    exp.persist(if_exists="append")
    limit = session.query(
        "SELECT settings['mapping']['total_fields']['limit'] AS n FROM information_schema.tables "
        "WHERE table_name = 'e_limit'"
    )["n"][0]
    assert limit == 5000
    assert _loaded_fields(session, "limit") == [{"a": 1}, {"b": 2}]


def test_new_columns_make_room_counting_object_sub_columns(session: rt.Session) -> None:
    _persist(session, "room", [{"m": {f"k{j}": j for j in range(990)}}])
    exp = session.load_experiment("room")
    with exp.run(i=1) as run:
        run.fields.update({f"f{j}": j for j in range(20)})  # 20 columns past 1,000
    exp.persist(if_exists="append")
    assert _loaded_fields(session, "room")[1] == {f"f{j}": j for j in range(20)}


def test_timestamps_at_the_epoch_and_in_queries(session: rt.Session) -> None:
    epoch = dt.datetime(1970, 1, 1)
    later = dt.datetime(2024, 5, 6, 7, 8, 9, 123000)
    _persist(session, "times", [{"t": epoch}, {"t": later}])
    assert [f["t"] for f in _loaded_fields(session, "times")] == [epoch, later]
    found = session.query("SELECT t FROM e_times ORDER BY i")
    assert found["t"].tolist() == [epoch, later]  # datetimes, not epoch milliseconds


def test_rewriting_a_run_with_big_values_right_away(
    session: rt.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An incremental rewrite deletes the run's old parts (a delete by query, which sees only
    refreshed rows) and writes new ones under the same primary keys."""
    monkeypatch.setattr(CrateDBDialect, "max_cell_bytes", 4096)
    array = np.arange(5_000, dtype=np.float64)
    exp = session.create_experiment("again").add_runs(x=range(2))
    exp.execute(lambda x: {"a": array + x}, persist=True)
    exp.execute(lambda x: {"a": array - x}, persist=True)  # right away
    for run in session.load_experiment("again").runs:
        np.testing.assert_array_equal(run.fields.a, array - run.params.x)


def test_a_deleted_experiment_is_gone_from_the_listing_at_once(session: rt.Session) -> None:
    _persist(session, "gone", [{"a": 1}])
    _persist(session, "stays", [{"a": 2}])
    session.delete_experiment("gone")
    assert list(session.ls()["name"]) == ["stays"]


def test_a_schema_in_the_url_is_where_runtable_looks(cratedb_url: str) -> None:
    """sqlalchemy-cratedb finds tables in the URL's schema but reflects columns in "doc"
    unless told: the second persist used to call runtable's own experiments table foreign."""
    schema = "runtable_test_other"
    url = sa.make_url(cratedb_url).update_query_dict({"schema": schema})
    try:
        with rt.connect(url.render_as_string(hide_password=False)) as session:
            _persist(session, "first", [{"a": 1}])
            _persist(session, "second", [{"a": 2}])
            assert sorted(session.ls()["name"]) == ["first", "second"]
            assert _loaded_fields(session, "second") == [{"a": 2}]
    finally:
        empty_cratedb(url, schema)
