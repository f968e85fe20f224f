"""Bad input campaign: names, SQL where a name is expected, huge and deeply nested values,
unsupported types, and a property test over random grids, values and write paths.

Each bad input must give a clear runtable error (or, where the input is legal, an exact round
trip), and nothing may be written by the call that failed: every test starts from a database
holding experiment "keep" and checks that it, and the list of tables, are untouched.
Runs on every backend (``session``: SQLite in memory, a SQLite file, PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from campaign.tally import record
from conftest import BACKENDS, backend_cases, backend_name, except_cratedb, table_names
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from identical import assert_identical

import runtable as rt
from runtable.cli import main as cli_main


class Opaque:
    """An instance of a user class the safe codec does not know."""


@pytest.fixture
def db(session: rt.Session) -> Iterator[rt.Session]:
    """The session, holding experiment "keep"; after the test "keep" must be intact."""
    keep = session.create_experiment("keep", note="kept").add_runs(x=range(4))
    keep.execute(lambda x: {"y": x * 0.5, "label": f"x{x}"}).persist()
    tables = _tables(session)
    yield session
    assert _tables(session) >= tables, "a table disappeared"
    assert "experiments" in _tables(session)
    loaded = session.load_experiment("keep")
    assert dict(loaded.fields) == {"note": "kept"}
    assert [(r.params.x, r.fields.y, r.fields.label) for r in loaded.runs] == [
        (x, x * 0.5, f"x{x}") for x in range(4)
    ]


def _tables(session: rt.Session) -> set[str]:
    return table_names(session)


def _cli_url(url: str) -> str:
    """The test's database URL for the command line, which opens its own connection."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        pytest.skip("the command line cannot reach an in-memory database")
    return url


def _nothing_written(session: rt.Session, tables: set[str]) -> None:
    assert list(session.ls()["name"]) == ["keep"]
    assert _tables(session) == tables


# -- 12a. names -----------------------------------------------------------------------------------

SQL_NAME = "x; DROP TABLE experiments"
BAD_EXPERIMENT_NAMES: list[Any] = [
    "",
    "1abc",
    "_abc",
    "Abc",
    "ABC",
    "a-b",
    "a b",
    "a.b",
    "é",
    "a__b",
    "a" * 49,
    SQL_NAME,
    "keep'; --",
    "keep\x00",
    "a\nb",
    3,
    None,
    b"abc",
]


#: Names are checked in Python before any SQL is sent: no backend-specific code runs, so the
#: CrateDB stand-in skips these; SQLite and PostgreSQL check that nothing was written.
NO_SQL_SENT = pytest.mark.parametrize("url", except_cratedb(BACKENDS), indirect=True)


@NO_SQL_SENT
@pytest.mark.parametrize("name", BAD_EXPERIMENT_NAMES, ids=repr)
def test_invalid_experiment_names_are_refused_before_any_sql(db: rt.Session, name: Any) -> None:
    tables = _tables(db)
    for action in (
        lambda: db.create_experiment(name),
        lambda: db.load_experiment(name),
        lambda: db.delete_experiment(name),
    ):
        with pytest.raises(rt.InvalidNameError, match="invalid experiment name"):
            action()
    record("test_bad_input.py::experiment_names", inputs=3)
    _nothing_written(db, tables)


def test_invalid_experiment_names_on_the_command_line(
    db: rt.Session, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _cli_url(url)
    tables = _tables(db)
    for argv in (["show", SQL_NAME], ["rm", SQL_NAME, "--yes"], ["export", SQL_NAME, "-"]):
        assert cli_main([*argv, "--url", url]) != 0
        assert "invalid experiment name" in capsys.readouterr().err
    record("test_bad_input.py::cli_names", inputs=3)
    _nothing_written(db, tables)


BAD_COLUMN_NAMES: list[Any] = [
    "",
    "1x",
    "_x",
    "x-y",
    "x y",
    "x.y",
    "é",
    "a" * 64,
    SQL_NAME,
    "x'--",
    '"x"',
    "x\x00",
]
RESERVED_NAMES = [
    "id_run",
    "ID_RUN",
    "id_experiment",
    "runtable_status",
    "Runtable_status",
    "runtable_anything",
    # PostgreSQL's system columns: refused on every backend so a name behaves the same on all
    "xmin",
    "ctid",
    "TableOid",
]


@NO_SQL_SENT
@pytest.mark.parametrize("name", BAD_COLUMN_NAMES + RESERVED_NAMES, ids=repr)
def test_invalid_and_reserved_param_names_are_refused(db: rt.Session, name: str) -> None:
    tables = _tables(db)
    exp = db.create_experiment("params")
    attempts: list[Callable[[], object]] = [
        lambda: exp.add_runs(**{name: [1, 2]}),
        lambda: exp.add_run(**{name: 1}),
        lambda: exp.add_runs(ok=[1], **{name: [1]}),
    ]
    for attempt in attempts:
        with pytest.raises(rt.InvalidNameError, match="invalid param name"):
            attempt()
    with pytest.raises(rt.InvalidNameError), exp.run(**{name: 1}):
        pass
    assert len(exp.runs) == 0
    record("test_bad_input.py::param_names", inputs=4)
    _nothing_written(db, tables)


@NO_SQL_SENT
@pytest.mark.parametrize("name", [*BAD_COLUMN_NAMES, *RESERVED_NAMES, 3, None], ids=repr)
def test_invalid_and_reserved_field_names_are_refused(db: rt.Session, name: Any) -> None:
    tables = _tables(db)
    exp = db.create_experiment("fields").add_runs(x=range(3))
    with pytest.raises(rt.InvalidNameError, match="invalid field name"):
        exp.runs.at(0).fields[name] = 1

    def returns_it(x: int) -> dict[Any, int]:
        return {name: x}

    with pytest.raises(rt.InvalidNameError, match="invalid field name"):
        exp.execute(returns_it)
    with pytest.raises(rt.InvalidNameError, match="invalid field name"):
        exp.execute(returns_it, n_jobs=2, backend="threading")
    assert all(dict(r.fields) == {} for r in exp.runs)
    record("test_bad_input.py::field_names", inputs=3)
    _nothing_written(db, tables)


def test_names_differing_only_in_case_are_refused(db: rt.Session) -> None:
    tables = _tables(db)
    with pytest.raises(rt.InvalidNameError, match="case"):
        db.create_experiment("case").add_runs(lr=[1], LR=[2])
    exp = db.create_experiment("case").add_runs(x=range(2))
    with pytest.raises(rt.InvalidNameError, match="case"):
        exp.runs.at(0).fields.X = 1  # a field like a param
    exp.runs.at(0).fields.loss = 1
    with pytest.raises(rt.InvalidNameError, match="case"):
        exp.runs.at(0).fields.Loss = 2  # two fields of one run
    with pytest.raises(rt.InvalidNameError, match="case"):
        exp.runs.at(1).fields.LOSS = 3  # two fields of two runs: one column, refused when set
    _nothing_written(db, tables)

    # a name that differs only in case from a stored one: appended and executed with persist
    stored = db.create_experiment("stored").add_runs(x=range(2))
    stored.execute(lambda x: {"loss": x * 1.0}).persist()
    before = db.load_experiment("stored").runs.df()
    extended = db.load_experiment("stored").add_runs(x=[2])
    with pytest.raises(rt.InvalidNameError, match="case"):
        extended.runs.at(2).fields.LOSS = 9.0  # a stored column's name, in another case
    later = db.load_experiment("stored").add_runs(x=[5])
    with pytest.raises(rt.InvalidNameError, match="case"):
        later.execute(lambda x: {"Loss": 1.0}, persist=True)
    # The stored values stay; the run added is stored pending before the execution (as a
    # new grid's runs are), and the refused name is no column.
    after = db.load_experiment("stored").runs.df()
    assert after[after["x"] != 5].reset_index(drop=True).equals(before)
    assert list(after.columns) == ["id_run", "x", "loss"]
    assert db.load_experiment("stored").runs[later.runs.at(2).id].status == "pending"
    record("test_bad_input.py::case", inputs=7)


KEYWORDS = ["select", "order", "table", "group", "user", "where", "from", "limit", "default"]


def test_sql_keywords_are_valid_names_and_round_trip(db: rt.Session) -> None:
    """Reserved words of SQL are fine names: runtable quotes what it creates."""
    for i, experiment in enumerate(["select", "order", "table", "user"]):
        exp = db.create_experiment(experiment, **{k: i for k in KEYWORDS})
        exp.add_runs(**{k: [1, 2] for k in KEYWORDS[:3]})
        exp.execute(lambda select: {k: f"{k}{select}" for k in KEYWORDS[3:]})
        exp.persist()
        loaded = db.load_experiment(experiment)
        assert dict(loaded.fields) == {k: i for k in KEYWORDS}
        assert [dict(r.params) for r in loaded.runs] == [dict(r.params) for r in exp.runs]
        assert [dict(r.fields) for r in loaded.runs] == [dict(r.fields) for r in exp.runs]
        df = db.query(f'SELECT "user" FROM e_{experiment} ORDER BY id_run')
        assert list(df.iloc[:, 0]) == [r.fields.user for r in exp.runs]
    record("test_bad_input.py::keywords", inputs=4 * len(KEYWORDS))


def test_sql_in_experiment_fields_and_values_is_just_data(db: rt.Session) -> None:
    evil = "'); DROP TABLE experiments; --"
    exp = db.create_experiment("data", **{SQL_NAME: evil, "q": '"\\'})
    exp.add_runs(s=[evil, "a'b", 'a"b'])
    exp.execute(lambda s: {"text": s + evil, "raw": evil.encode()})
    exp.persist()
    loaded = db.load_experiment("data")
    assert dict(loaded.fields) == {SQL_NAME: evil, "q": '"\\'}
    assert [(r.params.s, r.fields.text, r.fields.raw) for r in loaded.runs] == [
        (r.params.s, r.fields.text, r.fields.raw) for r in exp.runs
    ]
    assert list(db.load_experiment("data", where="s = 'a''b'").runs.df()["s"]) == ["a'b"]
    record("test_bad_input.py::sql_values", inputs=6)


#: Conditions that try to run a second statement. The last one is built to be valid SQL with
#: the ``ORDER BY`` that load_experiment appends, so only a one-statement rule can stop it.
SECOND_STATEMENTS = [
    "1=1; DROP TABLE experiments",
    "1=1; DROP TABLE experiments; --",
    "1=1); DROP TABLE experiments; --",
    "1=1; DROP TABLE experiments; SELECT 1 FROM e_keep WHERE 1=1",
    "1=1; DROP TABLE e_keep; SELECT 1 FROM experiments WHERE 1=1",
]


@pytest.mark.parametrize("where", SECOND_STATEMENTS)
def test_where_cannot_run_a_second_statement(db: rt.Session, where: str) -> None:
    tables = _tables(db)
    with pytest.raises(rt.StorageError):
        db.load_experiment("keep", where=where)
    record("test_bad_input.py::where", inputs=1)
    _nothing_written(db, tables)


@pytest.mark.parametrize("where", SECOND_STATEMENTS)
def test_cli_show_where_cannot_run_a_second_statement(
    db: rt.Session, url: str, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _cli_url(url)
    tables = _tables(db)
    assert cli_main(["show", "keep", "--where", where, "--url", url]) == 2
    assert "--where" in capsys.readouterr().err
    record("test_bad_input.py::cli_where", inputs=1)
    _nothing_written(db, tables)


# -- 12b. huge and deeply nested values -----------------------------------------------------------


def test_a_10_mb_string_and_bytes_round_trip(db: rt.Session) -> None:
    huge = "x" * 10_000_000
    exp = db.create_experiment("huge", blurb=huge[:1_000_000]).add_runs(i=range(2))
    exp.runs.at(0).fields.text = huge
    exp.runs.at(1).fields.text = "é\x00" * 2_500_000  # NUL: not in a text column, kept exactly
    exp.runs.at(0).fields.raw = huge.encode()
    exp.persist()
    loaded = db.load_experiment("huge")
    assert loaded.fields.blurb == huge[:1_000_000]
    for before, after in zip(exp.runs, loaded.runs, strict=True):
        assert dict(after.fields) == dict(before.fields)
    first = exp.runs.at(0).id
    n = db.query(f"SELECT LENGTH(text) AS n FROM e_huge WHERE id_run = {first}")["n"][0]
    if backend_name(db) == "crate":
        assert n is None  # past 32,766 bytes: CrateDB's text column keeps NULL, the exact map all
    else:
        assert n == len(huge)
    record("test_bad_input.py::huge", inputs=4)


def _nested(kind: str, depth: int) -> Any:
    value: Any = 1
    for i in range(depth):
        value = [value] if kind == "list" else {f"k{i % 3}": value}
    return value


@pytest.mark.parametrize("depth", [150, 1000])
@pytest.mark.parametrize("kind", ["list", "dict"])
@pytest.mark.parametrize("where", ["field", "param", "experiment field", "config"])
def test_deeply_nested_values_round_trip_or_are_refused_clearly(
    db: rt.Session, where: str, kind: str, depth: int
) -> None:
    """Never a RecursionError: an exact round trip or an UnsupportedValueError about nesting,
    with nothing written."""
    tables = _tables(db)
    value = _nested(kind, depth)

    def store() -> rt.Experiment:
        fields = {"deep": value} if where == "experiment field" else {}
        exp = db.create_experiment("deep", **fields)
        exp.add_runs(x=[1, 2], **({"deep": [value]} if where == "param" else {}))
        config = {"deep": value} if where == "config" else None
        exp.execute(lambda x: {"deep": value} if where == "field" else {"y": x}, config=config)
        return exp.persist()

    record("test_bad_input.py::nested", inputs=1)
    refused: rt.UnsupportedValueError | None = None
    try:
        exp = store()
    except rt.UnsupportedValueError as e:
        refused = e
    if refused is not None:
        assert "nested deeper than" in str(refused)
        assert len(str(refused)) < 2_000, "the message should not spell out every level"
        _nothing_written(db, tables)
        return
    loaded = db.load_experiment("deep")
    if where == "field":
        for run in loaded.runs:
            assert_identical(run.fields.deep, value)
    elif where == "param":
        assert_identical([r.params.deep for r in loaded.runs], [value, value])
    elif where == "experiment field":
        assert_identical(loaded.fields.deep, value)
    else:
        assert_identical(loaded.config.deep, value)
    assert len(loaded.runs) == len(exp.runs)


# -- 12c. unsupported types -----------------------------------------------------------------------


def _generator() -> Iterator[int]:
    yield 1


UNSUPPORTED: dict[str, tuple[Callable[[], Any], str]] = {
    "socket": (lambda: socket.socket(), "socket.socket"),
    "generator": (_generator, "generator"),
    "lambda": (lambda: lambda: 1, "function"),
    "class instance": (Opaque, "Opaque"),
    "lock": (threading.Lock, "lock"),
    "module": (lambda: np, "module"),
    "in a list": (lambda: [1, {"a": Opaque()}], "Opaque"),
}


# The kinds of value differ only in the codec's refusal, before any SQL; what is CrateDB's own
# (the grid stored first, then a refusal in the middle of a sweep) is the same for every kind,
# so the stand-in runs one of them.
@backend_cases("url", "what", list(UNSUPPORTED), on_cratedb=["class instance"])
def test_unsupported_field_types_name_run_field_and_type_and_write_nothing(
    db: rt.Session, what: str
) -> None:
    make, type_name = UNSUPPORTED[what]
    tables = _tables(db)
    value = make()
    try:
        exp = db.create_experiment("unsupported").add_runs(x=range(4))
        exp.execute(lambda x: {"ok": x})
        exp.runs.at(2).fields.bad = value
        with pytest.raises(rt.UnsupportedValueError) as info:
            exp.persist()
        message = str(info.value)
        assert f"run {exp.runs.at(2).id}" in message
        assert "field 'bad'" in message
        assert type_name in message
        assert "store_pickle=True" in message
        _nothing_written(db, tables)

        # the same as an experiment field and with persist=True in the middle of an execution
        with pytest.raises(rt.UnsupportedValueError, match="experiment fields"):
            db.create_experiment("unsupported", bad=value).persist()
        _nothing_written(db, tables)
        sweep = db.create_experiment("sweep").add_runs(x=range(4))
        third = sweep.runs.at(2).id
        with pytest.raises(rt.UnsupportedValueError, match=rf"run {third}.*field 'bad'"):
            sweep.execute(lambda x: {"bad": value} if x == 2 else {"ok": x}, persist=True)
        loaded = db.load_experiment("sweep")  # the grid, stored first, is intact
        assert [r.params.x for r in loaded.runs] == [0, 1, 2, 3]
        assert {r.status for r in loaded.runs} == {"pending"}
    finally:
        if isinstance(value, socket.socket):
            value.close()
    record("test_bad_input.py::unsupported", inputs=3)


@backend_cases(  # one kind on CrateDB: see above
    "url", "what", ["socket", "lambda", "class instance"], on_cratedb=["class instance"]
)
def test_unsupported_param_and_config_values_are_clear_errors(db: rt.Session, what: str) -> None:
    make, type_name = UNSUPPORTED[what]
    tables = _tables(db)
    value = make()
    try:
        with pytest.raises(rt.UnsupportedValueError, match=type_name) as info:
            db.create_experiment("params").add_runs(x=[1], obj=[value]).persist()
        assert "param 'obj'" in str(info.value) or "field 'obj'" in str(info.value), info.value
        _nothing_written(db, tables)
        exp = db.create_experiment("config").add_runs(x=[1])
        exp.execute(lambda x: {"y": x}, config={"obj": value})
        with pytest.raises(rt.UnsupportedValueError, match=type_name):
            exp.persist()
        _nothing_written(db, tables)
    finally:
        if isinstance(value, socket.socket):
            value.close()
    record("test_bad_input.py::unsupported_params", inputs=2)


# -- 13. property: random grids, random values, every write path ---------------------------------

NAMES = st.sampled_from(["a", "b", "loss", "Acc", "x1", "metric_2", "t"])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.complex_numbers(allow_nan=False),
    st.text(max_size=12),
    st.binary(max_size=12),
    st.decimals(allow_nan=False, places=3, min_value=-1000, max_value=1000),
    st.uuids(),
    st.dates(),
    st.timedeltas(),
    st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)),
    st.datetimes(
        min_value=dt.datetime(1900, 1, 2),
        max_value=dt.datetime(2200, 12, 30),
        timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-5))]),
    ),
    st.sampled_from([np.float32(1.5), np.int16(-3), np.bool_(True), np.float64(-0.0)]),
)
ARRAYS = hnp.arrays(
    dtype=st.sampled_from([np.float64, np.int32, np.bool_, np.complex128, np.uint8, "<U3"]),
    shape=hnp.array_shapes(min_dims=0, max_dims=2, max_side=4),
)
VALUES = st.recursive(
    st.one_of(SCALARS, ARRAYS),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=5), inner, max_size=3),
        st.tuples(inner, inner),
        st.frozensets(st.one_of(st.integers(), st.text(max_size=3)), max_size=3),
    ),
    max_leaves=6,
)
GRID = st.dictionaries(
    st.sampled_from(["n", "lr", "model"]),
    st.lists(
        st.one_of(st.integers(-5, 5), st.floats(0, 1), st.text(max_size=3), st.booleans()),
        min_size=1,
        max_size=3,
        unique_by=repr,
    ),
    min_size=1,
    max_size=2,
)


def _same_experiment(a: rt.Experiment, b: rt.Experiment) -> None:
    assert [r.id for r in a.runs] == [r.id for r in b.runs]
    for x, y in zip(a.runs, b.runs, strict=True):
        assert x.status == y.status, x.id
        for what in ("params", "fields"):  # in stored column order: compared by name
            before, after = getattr(x, what), getattr(y, what)
            assert sorted(after) == sorted(before), (x.id, what)
            for name in before:
                _same_value(after[name], before[name], f"run {x.id} {what}[{name!r}]")


def _same_value(after: Any, before: Any, path: str) -> None:
    if isinstance(before, np.generic) and not isinstance(after, np.generic):
        before = before.item()  # documented: scalars of native columns load as Python scalars
    assert_identical(after, before, path)


def _draw_fields(run: rt.Run, data: st.DataObject) -> None:
    for name in data.draw(st.lists(NAMES, max_size=3, unique_by=str.lower)):
        run.fields[name] = data.draw(VALUES)


@pytest.mark.slow
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(grid=GRID, more=GRID, data=st.data())
def test_random_batches_persist_append_and_execute_round_trip(
    grid: dict[str, list[Any]], more: dict[str, list[Any]], data: st.DataObject
) -> None:
    session = rt.connect("sqlite://")
    first = session.create_experiment("prop", seed=data.draw(st.integers(0, 2**32)))
    first.add_runs(**grid)
    for run in first.runs:
        _draw_fields(run, data)
    first.persist()
    loaded = session.load_experiment("prop")
    _same_experiment(first, loaded)

    # a second random batch, appended to the loaded experiment
    known = len(loaded.runs)
    loaded.add_runs(**more)
    for run in list(loaded.runs)[known:]:
        _draw_fields(run, data)
    loaded.persist(if_exists="append")
    appended = session.load_experiment("prop")
    _same_experiment(loaded, appended)

    # and an execution that writes a random value per run as it goes
    planned = {run.id: data.draw(VALUES) for run in appended.runs}

    @rt.step
    def write(run: rt.Run) -> None:
        run.fields.extra = planned[run.id]

    appended.execute(write, persist=True)
    final = session.load_experiment("prop")
    _same_experiment(appended, final)
    assert {r.status for r in final.runs} == {"done"}
    record("test_bad_input.py::property", inputs=len(final.runs))
    session.close()
