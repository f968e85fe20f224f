"""Reliability round two (issue 14, items 17 and 20): hand-damaged cells load as a
CorruptValueError naming experiment, run and field, never as a wrong value or a raw traceback;
big values are read in slices straight into one buffer. SQLite file and PostgreSQL."""

from __future__ import annotations

import json
import re
import tracemalloc
from typing import Any

import numpy as np
import pandas as pd
import pytest
from campaign.tally import record
from conftest import backend_cases, backend_name, blob, shrink_cells, write_sql
from identical import assert_identical

import runtable as rt
import runtable.storage.chunks as chunks
from runtable.cli import main as cli_main

#: The column of a run's status (the stored format, mkdocs/format.md).
STATUS_COLUMN = "runtable_status"


def _sql(session: rt.Session, statement: str, **params: Any) -> None:
    """Run a damaging statement through the public API: bytes as the backend keeps them
    (base64 text on CrateDB), and the table refreshed where writes are seen only after a
    refresh."""
    values = {
        k: blob(session, v) if isinstance(v, bytes) else v
        for k, v in params.items()
        if f":{k}" in statement
    }
    table = re.search(r"(?:UPDATE|FROM|TABLE)\s+(\w+)", statement)
    write_sql(session, statement, *([table.group(1)] if table else []), **values)


def _stored(session: rt.Session) -> tuple[rt.Experiment, int]:
    """Experiment "d" (three runs of every native kind) and "other"; the id of d's first run."""
    exp = session.create_experiment("d").add_runs(i=[1, 2, 3])
    exp.execute(
        lambda i: {"n": i, "b": i > 1, "t": f"t{i}", "f": i + 0.5, "j": {"a": i}, "at": None}
    )
    exp.persist()
    session.create_experiment("other").add_run(x=1).execute(lambda x: {"y": 2}).persist()
    return exp, min(exp.runs.ids())


def _backend(session: rt.Session) -> str:
    return backend_name(session)


#: name -> (SQL that damages run :run of experiment "d", the field the error must name,
#: backends where the damage is possible: PostgreSQL's typed columns refuse the others).
CELLS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "real-in-int": ("UPDATE e_d SET n = 1.7 WHERE id_run = :run", "n", ("sqlite",)),
    "text-in-int": ("UPDATE e_d SET n = 'seven' WHERE id_run = :run", "n", ("sqlite",)),
    "yes-in-bool": ("UPDATE e_d SET b = 'yes' WHERE id_run = :run", "b", ("sqlite",)),
    "two-in-bool": ("UPDATE e_d SET b = 2 WHERE id_run = :run", "b", ("sqlite",)),
    "blob-in-text": ("UPDATE e_d SET t = X'0102' WHERE id_run = :run", "t", ("sqlite",)),
    "blob-in-float": ("UPDATE e_d SET f = X'0102' WHERE id_run = :run", "f", ("sqlite",)),
    "number-as-json": (
        "UPDATE e_d SET j = '5' WHERE id_run = :run",
        "j",
        ("sqlite", "postgresql"),
    ),
    "list-as-json": (
        "UPDATE e_d SET j = '[1, 2]' WHERE id_run = :run",
        "j",
        ("sqlite", "postgresql"),
    ),
    "unknown-status": (
        f"UPDATE e_d SET {STATUS_COLUMN} = 'weird' WHERE id_run = :run",
        STATUS_COLUMN,
        ("sqlite", "postgresql"),
    ),
}


@pytest.mark.parametrize("damage", list(CELLS))
def test_a_damaged_cell_is_a_corrupt_value_not_a_wrong_one(shared_url: str, damage: str) -> None:
    statement, field, backends = CELLS[damage]
    session = rt.connect(shared_url)
    if _backend(session) not in backends:
        pytest.skip(f"{_backend(session)} refuses this UPDATE itself (typed column)")
    exp, run = _stored(session)
    _sql(session, statement, run=run)
    record("test_damaged_cells.py::cells", faults=1)

    reader = rt.connect(shared_url)
    with pytest.raises(rt.CorruptValueError) as info:
        reader.load_experiment("d").runs.df()
    assert (info.value.experiment, info.value.run_id, info.value.field) == ("d", run, field)
    assert sorted(reader.ls()["name"]) == ["d", "other"]  # nothing else breaks
    rest = reader.load_experiment("d", where=f"id_run <> {run}")
    assert [r.params.i for r in rest.runs] == [2, 3]
    exp.persist(if_exists="replace")  # storing it again repairs it
    assert [dict(r.fields) for r in rt.connect(shared_url).load_experiment("d").runs] == [
        dict(r.fields) for r in exp.runs
    ]


#: name -> (the kind a damaged meta claims, the field). The column itself is intact.
META_LIES = {
    "int-for-float": ("int", "f"),  # 1.5 loaded as 1 before
    "bool-for-int": ("bool", "n"),
    "str-for-int": ("str", "n"),
    "int-for-str": ("int", "t"),
    "datetime-for-int": ("datetime", "n"),
    "json-for-str": ("json", "t"),
}


@pytest.mark.parametrize("lie", list(META_LIES))
def test_meta_that_names_the_wrong_kind_is_a_corrupt_value(shared_url: str, lie: str) -> None:
    kind, field = META_LIES[lie]
    session = rt.connect(shared_url)
    if lie == "datetime-for-int" and _backend(session) == "crate":
        pytest.skip("CrateDB returns timestamps as epoch milliseconds: an int reads as a time")
    _stored(session)
    meta = json.loads(session.query("SELECT meta FROM experiments WHERE name = 'd'")["meta"][0])
    for column in meta["columns"]:
        if column["name"] == field:
            column["kind"] = kind
    _sql(session, "UPDATE experiments SET meta = :m WHERE name = 'd'", m=json.dumps(meta))
    record("test_damaged_cells.py::meta", faults=1)
    with pytest.raises(rt.CorruptValueError) as info:
        rt.connect(shared_url).load_experiment("d")
    assert (info.value.experiment, info.value.field) == ("d", field)


def test_every_status_a_run_can_have_loads_as_itself(tmp_path: Any) -> None:
    """Loading refuses unknown statuses (above); every status a run reaches through the API,
    the three the stored format documents, must load as itself, not as a damaged cell."""

    def fails_on_one(i: int) -> dict[str, int]:
        if i == 1:
            raise ValueError("fails on purpose")
        return {"n": i}

    url = f"sqlite:///{tmp_path / 'statuses.db'}"
    exp = rt.connect(url).create_experiment("s").add_runs(i=[0, 1])
    exp.execute(fails_on_one, on_error="record").add_runs(i=[2]).persist()
    loaded = rt.connect(url).load_experiment("s")
    assert [(r.params.i, r.status) for r in loaded.runs] == [
        (0, "done"),
        (1, "failed"),
        (2, "pending"),
    ]


@pytest.mark.parametrize(
    ("column", "value"),
    [("created_at", "garbage"), ("updated_at", "2026-13-45"), ("seed", "abc"), ("n_runs", "x")],
)
def test_a_damaged_experiments_row_hides_no_other_experiment(
    tmp_path: Any, capsys: pytest.CaptureFixture[str], column: str, value: str
) -> None:
    """SQLite only: PostgreSQL's typed columns refuse these UPDATEs."""
    url = f"sqlite:///{tmp_path / 'damaged.db'}"
    session = rt.connect(url)
    _stored(session)
    _sql(session, f"UPDATE experiments SET {column} = :v WHERE name = 'd'", v=value)
    record("test_damaged_cells.py::experiments_row", faults=1)

    reader = rt.connect(url)
    listed = reader.ls().set_index("name")
    assert sorted(listed.index) == ["d", "other"]
    assert listed.loc["other", "n_runs"] == 1
    assert cli_main(["ls", "--url", url]) == 0
    assert "other" in capsys.readouterr().out
    assert len(reader.load_experiment("other").runs) == 1
    if column != "n_runs":  # n_runs is bookkeeping for listings: loading recounts the runs
        with pytest.raises(rt.CorruptValueError, match="'d'"):
            reader.load_experiment("d")


# -- values stored in parts ----------------------------------------------------------------------


def _big(session: rt.Session, value: Any, max_cell_bytes: int) -> rt.Experiment:
    shrink_cells(session, max_cell_bytes)
    exp = session.create_experiment("big").add_runs(i=[0, 1])
    exp.execute(lambda i: {"a": value, "small": i})
    exp.persist()
    return exp


#: How parts are read (storage.chunks: the backend's own way or whole parts, the way for
#: backends without slices) and the slice size, turned by the tests of the reader below.
#: CrateDB always reads whole parts, without slices: there every choice is the same read,
#: so it runs one.
READS = [f"{how}-{size}" for how in ("native", "whole_parts") for size in (1000, 4096, 1 << 20)]


def _read_parts(monkeypatch: pytest.MonkeyPatch, read: str) -> None:
    """White-box knobs of storage.chunks' reader: the slice size and the read method."""
    method, size = read.split("-")
    monkeypatch.setattr(chunks, "SLICE_BYTES", int(size))
    if method == "whole_parts":
        monkeypatch.setattr(chunks, "read_method", lambda conn: method)


@backend_cases("shared_url", "read", READS, on_cratedb=[READS[0]])
@pytest.mark.parametrize(
    "value",
    [
        np.arange(5000, dtype=np.float64),
        np.arange(3000, dtype=np.complex128).reshape(100, 30).T,
        np.arange(2000, dtype=np.int16),
        {"x": np.arange(4000.0), "y": "text"},
        b"\x00" * 40_000,
    ],
    ids=["float64", "complex-F", "int16", "dict", "bytes"],
)
def test_values_in_parts_are_read_back_slice_by_slice(
    shared_url: str, monkeypatch: pytest.MonkeyPatch, read: str, value: Any
) -> None:
    _read_parts(monkeypatch, read)
    session = rt.connect(shared_url)
    _big(session, value, max_cell_bytes=3000)
    loaded = rt.connect(shared_url).load_experiment("big")
    for run in loaded.runs:
        assert_identical(run.fields.a, value)
    array = loaded.runs.first().fields.a
    if isinstance(array, np.ndarray) and array.nbytes >= 1 << 20:
        assert array.flags.aligned


def _big_values(kind: str) -> Any:
    rng = np.random.default_rng(0)  # incompressible
    if kind == "array":
        return rng.random(6 * 2**20)  # 48 MiB
    if kind == "dict":
        return {"a": rng.random(3 * 2**20), "name": "x", "b": rng.random(3 * 2**20)}
    return pd.DataFrame({"a": rng.random(3 * 2**20), "b": np.arange(3 * 2**20)})


@pytest.mark.parametrize("kind", ["array", "dict", "frame"])
def test_a_big_value_is_read_into_one_buffer_without_a_copy(shared_url: str, kind: str) -> None:
    """Generous sanity bound: Python-level allocations while loading a 48 MiB value stay under
    twice its size (reading used to hold the parts, their join and a decoded copy at once)."""
    value = _big_values(kind)
    size = 48 * 2**20
    session = rt.connect(shared_url)
    shrink_cells(session, 16 * 2**20)
    exp = session.create_experiment("big").add_run(i=0)
    exp.runs.first().fields.a = value
    exp.persist()
    del exp
    reader = rt.connect(shared_url)
    reader.ls()
    tracemalloc.start()
    try:
        loaded = reader.load_experiment("big").runs.first().fields.a
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_identical(loaded, value)
    arrays = {"array": lambda: [loaded], "dict": lambda: [loaded["a"], loaded["b"]]}
    for array in arrays.get(kind, list)():
        assert array.base is not None, "the array was copied out of the buffer its parts filled"
        assert array.flags.aligned
        assert not array.flags.writeable  # read-only by default, though it owns the buffer
    print(f"\nload peak {peak / size:.2f}x of {size / 2**20:.0f} MiB")
    if _backend(reader) != "crate":  # CrateDB's JSON answers carry parts as base64 text:
        assert peak < 2 * size  # each part also exists as text and as decoded bytes


def test_parts_beyond_those_a_value_names_are_ignored(shared_url: str) -> None:
    session = rt.connect(shared_url)
    if _backend(session) == "crate":
        pytest.skip("the CrateDB stand-in runs INSERT ... VALUES only (not INSERT ... SELECT)")
    exp = _big(session, np.arange(2000.0), max_cell_bytes=3000)
    _sql(
        session,
        "INSERT INTO runtable_chunks (id_experiment, id_run, name, part, data) "
        "SELECT id_experiment, id_run, name, 99, data FROM runtable_chunks WHERE part = 0",
    )
    for run, before in zip(
        rt.connect(shared_url).load_experiment("big").runs, exp.runs, strict=True
    ):
        assert_identical(run.fields.a, before.fields.a)


DAMAGED_PARTS = {
    "missing": "DELETE FROM runtable_chunks WHERE part = 1",
    "renumbered": "UPDATE runtable_chunks SET part = 7 WHERE part = 2",
    "short": "UPDATE runtable_chunks SET data = :short WHERE part = 1",
    "long": "UPDATE runtable_chunks SET data = :long WHERE part = 1",
    "null": "UPDATE runtable_chunks SET data = NULL WHERE part = 1",
    "text": {
        "sqlite": "UPDATE runtable_chunks SET data = CAST(data AS TEXT) WHERE part = 1",
        "postgresql": "ALTER TABLE runtable_chunks ALTER COLUMN data TYPE text "
        "USING encode(data, 'hex')",
        "crate": "UPDATE runtable_chunks SET data = 'not base64 !' WHERE part = 1",
    },
}


@backend_cases("shared_url", "read", [READS[2], READS[5]], on_cratedb=[READS[2]])
@pytest.mark.parametrize("damage", list(DAMAGED_PARTS))
def test_a_damaged_part_is_a_corrupt_value(
    shared_url: str, monkeypatch: pytest.MonkeyPatch, damage: str, read: str
) -> None:
    _read_parts(monkeypatch, read)
    session = rt.connect(shared_url)
    _big(session, np.arange(2000.0), max_cell_bytes=3000)
    statement = DAMAGED_PARTS[damage]
    if isinstance(statement, dict):
        statement = statement[_backend(session)]
    _sql(session, statement, short=b"\x01" * 10, long=b"\x01" * 4000)
    record("test_damaged_cells.py::parts", faults=1)
    with pytest.raises(rt.CorruptValueError, match=r"field 'a'.*big value") as info:
        rt.connect(shared_url).load_experiment("big")
    assert info.value.experiment == "big"
    small = rt.connect(shared_url).load_experiment("big", columns=["small"])
    assert [r.fields.small for r in small.runs] == [0, 1]
