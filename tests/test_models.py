"""The model store: every test runs on SQLite (memory, file) and a real PostgreSQL; CrateDB's
statements are compiled with its SQLAlchemy dialect, and run on a server when one is given."""

from __future__ import annotations

import gc
import hashlib
import io
import os
import pickle
import subprocess
import sys
import threading
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.schema import CreateTable

import runtable as rt
import runtable.models
from runtable import CorruptModelError, ModelNotFoundError
from runtable.storage.models import MODEL_BLOBS, MODEL_CONFIG, ModelStore, _Schema
from runtable.storage.sql import SQLStore


class FittedModel:
    """Looks like a fitted estimator: arrays, a dict of settings and a lambda inside."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.coef_ = rng.normal(size=(5, 3))
        self.intercept_ = np.arange(3.0)
        self.params = {"alpha": 0.5, "fit_intercept": True}
        self.link = lambda x: np.tanh(x)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.link(x @ self.coef_ + self.intercept_)  # type: ignore[no-any-return]


def _engine(session: rt.Session) -> sa.Engine:
    return session.store.engine  # type: ignore[attr-defined, no-any-return]


def _crate(session: rt.Session) -> bool:
    return _engine(session).dialect.name == "crate"


def _count(session: rt.Session, table: str) -> int:
    return int(session.query(f"SELECT count(*) AS n FROM {table}")["n"].iloc[0])


def _assert_blobs(session: rt.Session, n: int) -> None:
    """``model_blobs`` holds ``n`` rows (CrateDB's BLOB table is keyed by digest anyway)."""
    if not _crate(session):
        assert _count(session, MODEL_BLOBS) == n


def _skip_on_crate(session: rt.Session, reason: str) -> None:
    if _crate(session):
        pytest.skip(f"CrateDB: {reason}")


def _has_table(session: rt.Session, table: str) -> bool:
    return sa.inspect(_engine(session)).has_table(table)


def _sql(session: rt.Session, statement: str, **params: Any) -> None:
    with _engine(session).begin() as conn:
        conn.execute(sa.text(statement), params)


# -- round trips --------------------------------------------------------------------------------


def test_a_fitted_model_round_trips(session: rt.Session) -> None:
    model = FittedModel(np.random.default_rng(0))
    digest = session.models.put(model, name="forecaster", config={"lr": 0.1})
    assert digest == hashlib.sha1(cloudpickle.dumps(model)).hexdigest()
    loaded = session.models.get(digest, unpickle=True)
    assert type(loaded).__name__ == "FittedModel"
    assert loaded is not model
    np.testing.assert_array_equal(loaded.coef_, model.coef_)
    assert loaded.params == model.params
    x = np.ones((2, 5))
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_bytes_are_stored_as_they_are(session: rt.Session, wrap: Callable[[bytes], Any]) -> None:
    payload = os.urandom(10_000) + b"\x00end"
    digest = session.models.put(wrap(payload), name="raw")
    assert digest == hashlib.sha1(payload).hexdigest()
    loaded = session.models.get(digest)
    assert type(loaded) is bytes
    assert loaded == payload
    row = session.query("SELECT kind, size FROM model_config").iloc[0]
    assert (row["kind"], row["size"]) == ("bytes", len(payload))


def test_a_path_and_a_binary_file_store_the_file_content(
    session: rt.Session, tmp_path: Path
) -> None:
    payload = b"weights" * 1000
    path = tmp_path / "model.bin"
    path.write_bytes(payload)
    by_path = session.models.put(path, name="from_path")
    with path.open("rb") as f:
        by_file = session.models.put(f, name="from_file")
    by_buffer = session.models.put(io.BytesIO(payload), name="from_buffer")
    assert by_path == by_file == by_buffer == hashlib.sha1(payload).hexdigest()
    assert session.models.get(by_path) == payload
    _assert_blobs(session, 1)
    assert _count(session, MODEL_CONFIG) == 3


def test_the_same_bytes_under_two_names_make_one_blob_and_two_rows(session: rt.Session) -> None:
    model = {"w": np.arange(10)}
    first = session.models.put(model, name="a")
    second = session.models.put(model, name="b")
    assert first == second
    _assert_blobs(session, 1)
    assert _count(session, MODEL_CONFIG) == 2
    assert sorted(session.models.ls()["name"]) == ["a", "b"]


def test_get_returns_the_checked_bytes_unless_asked_to_unpickle(
    session: rt.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = {"w": [1, 2, 3]}
    digest = session.models.put(model, name="m")
    assert session.models.get(digest, unpickle=True) == model
    _forbid_unpickling(monkeypatch)  # the default path never unpickles (issue 14, item 19)
    for raw in (session.models.get(digest), session.models.get(digest, unpickle=False)):
        assert raw == cloudpickle.dumps(model)
    monkeypatch.undo()
    assert pickle.loads(raw) == model


# -- listing and SQL ------------------------------------------------------------------------------


def test_ls_lists_newest_first_and_filters_by_name(session: rt.Session) -> None:
    empty = session.models.ls()
    assert list(empty.columns) == ["digest", "name", "experiment", "id_run", "created", "config"]
    assert empty.empty
    assert not _has_table(session, MODEL_CONFIG)  # ls does not create tables
    digests = [session.models.put({"i": i}, name=f"m{i % 2}", config={"i": i}) for i in range(4)]
    listed = session.models.ls()
    assert list(listed["digest"]) == digests[::-1]
    assert list(listed["config"]) == [{"i": i} for i in (3, 2, 1, 0)]
    assert listed["created"].is_monotonic_decreasing
    assert listed["id_run"].isna().all()
    assert list(session.models.ls(name="m0")["digest"]) == [digests[2], digests[0]]
    assert session.models.ls(name="nothing").empty


def test_config_is_queryable_with_the_backends_json_syntax(session: rt.Session) -> None:
    for lr in (0.1, 0.01):
        session.models.put(
            {"lr": lr}, name="forecaster", config={"lr": lr, "opt": {"name": "adam"}}
        )
    session.models.put(b"other", name="other", config={"lr": 0.5})
    if _engine(session).dialect.name == "sqlite":
        lr, opt = "json_extract(config, '$.lr')", "json_extract(config, '$.opt.name')"
    elif _crate(session):
        lr, opt = "config['lr']", "config['opt']['name']"
    else:
        lr, opt = "CAST(config->>'lr' AS FLOAT)", "config->'opt'->>'name'"
    found = session.query(
        f"SELECT digest, {lr} AS lr, {opt} AS opt FROM model_config "
        f"WHERE name = 'forecaster' AND {lr} < 0.05"
    )
    assert list(found["lr"]) == [0.01]
    assert list(found["opt"]) == ["adam"]
    assert session.models.get(found["digest"].iloc[0], unpickle=True) == {"lr": 0.01}
    digest = session.query("SELECT digest FROM model_config WHERE name = 'forecaster'")
    assert len(digest) == 2


def test_run_and_experiment_are_recorded(session: rt.Session) -> None:
    exp = session.create_experiment("sweep")
    with exp.run(alpha=0.1) as run:
        run.fields.loss = 0.5
    exp.persist()
    digest = session.models.put({"a": 1}, name="m", run=run, experiment=exp.name)
    session.models.put({"a": 2}, name="m", run=7)
    listed = session.models.ls()
    assert list(listed["id_run"]) == [7, run.id]
    assert list(listed["experiment"].fillna("-")) == ["-", "sweep"]
    joined = session.query(
        "SELECT m.digest, e.loss FROM model_config m JOIN e_sweep e ON e.id_run = m.id_run "
        "WHERE m.experiment = 'sweep'"
    )
    assert list(joined["digest"]) == [digest]
    assert list(joined["loss"]) == [0.5]


def test_a_run_is_anything_with_an_integer_id(session: rt.Session) -> None:
    """The model store reads only ``run.id`` (storage does not import runtable's Run)."""

    class Row:
        def __init__(self, id: object) -> None:
            self.id = id

    session.models.put(b"a", name="m", run=Row(5))
    assert list(session.models.ls()["id_run"]) == [5]
    for bad in (Row("5"), Row(True), Row(None), object()):
        with pytest.raises(TypeError, match="run must be a runtable Run or a run id"):
            session.models.put(b"b", name="m", run=bad)
    with pytest.raises(rt.InvalidRunIdError, match="64-bit"):
        session.models.put(b"b", name="m", run=Row(2**63))
    assert len(session.models.ls()) == 1


# -- errors -------------------------------------------------------------------------------------


def test_the_errors_are_one_family_exported_from_runtable() -> None:
    for name in ("ModelNotFoundError", "InvalidRunIdError", "CorruptModelError"):
        error = getattr(rt, name)
        assert name in rt.__all__
        assert error is getattr(rt.errors, name) is getattr(runtable.models, name)
        assert issubclass(error, rt.RuntableError)
    assert runtable.models.ModelStore is ModelStore


def test_an_unknown_digest_is_a_lookup_error(session: rt.Session) -> None:
    unknown = hashlib.sha1(b"never stored").hexdigest()
    with pytest.raises(ModelNotFoundError, match=r"session\.models\.ls\(\)") as info:
        session.models.get(unknown)  # no table yet
    assert isinstance(info.value, LookupError)
    assert isinstance(info.value, rt.RuntableError)
    assert info.value.digest == unknown
    session.models.put(b"x", name="x")
    with pytest.raises(ModelNotFoundError, match=unknown):
        session.models.get(unknown.upper())  # digests are not case-sensitive
    with pytest.raises(ModelNotFoundError):
        session.models.delete(unknown)
    session.models.delete(unknown, missing_ok=True)


def _forbid_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("corrupt bytes were unpickled")

    monkeypatch.setattr(cloudpickle, "loads", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)


def test_corrupt_bytes_are_reported_and_never_unpickled(
    session: rt.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _skip_on_crate(session, "a blob's digest is checked on upload; SQL cannot change it")
    digest = session.models.put(FittedModel(np.random.default_rng(1)), name="m")
    evil = pickle.dumps({"not": "the model"})
    _sql(session, "UPDATE model_blobs SET data = :data WHERE digest = :d", data=evil, d=digest)
    _forbid_unpickling(monkeypatch)
    for unpickle in (True, False):
        with pytest.raises(CorruptModelError, match=digest) as info:
            session.models.get(digest, unpickle=unpickle)
        assert isinstance(info.value, rt.CodecError)
        assert "not unpickled" in str(info.value)


def test_a_row_whose_blob_is_missing_is_a_clear_error(
    session: rt.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = session.models.put({"w": 1}, name="m")
    if _crate(session):
        raw = _engine(session).raw_connection()
        try:
            raw.driver_connection.get_blob_container("models").delete(digest)  # type: ignore[union-attr]
        finally:
            raw.close()
    else:
        _sql(session, "DELETE FROM model_blobs WHERE digest = :d", d=digest)
    _forbid_unpickling(monkeypatch)
    with pytest.raises(CorruptModelError, match=f"{digest}: its bytes are missing from"):
        session.models.get(digest)
    session.models.delete(digest)  # the way out the message gives
    assert session.models.ls().empty


def test_delete_removes_the_rows_and_the_blob(session: rt.Session) -> None:
    kept = session.models.put(b"kept", name="kept")
    gone = session.models.put(b"gone", name="a")
    session.models.put(b"gone", name="b")
    session.models.delete(gone)
    assert list(session.models.ls()["digest"]) == [kept]
    _assert_blobs(session, 1)
    with pytest.raises(ModelNotFoundError):
        session.models.get(gone)
    assert session.models.get(kept) == b"kept"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"name": ""}, ValueError, "non-empty"),
        ({"name": 3}, ValueError, "non-empty str"),
        ({"name": "x" * 201}, ValueError, "at most 200"),
        ({"config": {"lr": {1, 2}}}, TypeError, r"config\['lr'\] is a builtins.set"),
        ({"config": {"opt": {"lr": np.int64(3)}}}, TypeError, r"config\['opt'\]\['lr'\]"),
        ({"config": {"lr": float("nan")}}, ValueError, r"config\['lr'\] is nan"),
        ({"config": {"steps": {1: 2}}}, TypeError, r"config\['steps'\] has the key 1"),
        ({"config": [("lr", 1)]}, TypeError, "config must be a dict"),
        ({"run": "3"}, TypeError, "run must be a runtable Run or a run id"),
        ({"experiment": "My Sweep"}, ValueError, "invalid experiment name"),
    ],
)
def test_bad_arguments_say_how_to_fix_them(
    session: rt.Session, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        session.models.put({"w": 1}, **{"name": "m", **kwargs})
    assert session.models.ls().empty


def test_models_that_cannot_be_stored(session: rt.Session, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"pathlib\.Path"):
        session.models.put("model.pkl", name="m")
    (tmp_path / "model.txt").write_text("text")
    with (tmp_path / "model.txt").open() as f, pytest.raises(TypeError, match="'rb'"):
        session.models.put(f, name="m")
    with pytest.raises(TypeError, match="cannot pickle"):
        session.models.put({"lock": threading.Lock()}, name="m")
    for digest in ("abc", 3, "g" * 40, "0x" + "a" * 38):
        with pytest.raises(ValueError, match="not a model digest"):
            session.models.get(digest)  # type: ignore[arg-type]


def test_a_foreign_model_config_table_is_a_schema_error(session: rt.Session) -> None:
    _sql(session, "CREATE TABLE model_config (id INTEGER)")
    with pytest.raises(rt.SchemaError, match="not made by runtable"):
        session.models.put(b"x", name="x")


def test_driver_errors_become_storage_errors(session: rt.Session) -> None:
    session.models.put(b"x", name="x")
    _sql(session, "DROP TABLE model_config")
    with pytest.raises(rt.StorageError, match="could not store model 'y'") as info:
        session.models.put(b"y", name="y")
    assert isinstance(info.value.__cause__, sa.exc.SQLAlchemyError)
    _assert_blobs(session, 1)  # the blob of the failed put was rolled back with it


def test_a_blob_stored_concurrently_is_taken_as_stored(session: rt.Session) -> None:
    """Another writer inserts the same digest between our check and our insert."""
    _skip_on_crate(session, "storing a blob that exists is a no-op of the BLOB API")
    first = session.models.put(b"same", name="first")

    def hide_blob(conn: Any, cursor: Any, statement: str, params: Any, *a: Any) -> Any:
        if "FROM model_blobs" in statement and "SELECT" in statement:
            statement = statement.replace("WHERE", "WHERE 1 = 0 AND", 1)
        return statement, params

    sa.event.listen(_engine(session), "before_cursor_execute", hide_blob, retval=True)
    try:
        second = session.models.put(b"same", name="second")  # its insert hits the primary key
    finally:
        sa.event.remove(_engine(session), "before_cursor_execute", hide_blob)
    assert first == second
    _assert_blobs(session, 1)
    assert sorted(session.models.ls()["name"]) == ["first", "second"]
    assert session.models.get(second) == b"same"


# -- memory -------------------------------------------------------------------------------------


def _peak(func: Callable[[], Any]) -> tuple[Any, int]:
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = func()
        return result, tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_a_large_model_is_copied_at_most_once(session: rt.Session) -> None:
    weights = np.random.default_rng(0).integers(0, 2**62, size=100 * 2**20 // 8)  # incompressible
    model = {"weights": weights, "name": "big"}
    n = model["weights"].nbytes
    digest, put_peak = _peak(lambda: session.models.put(model, name="big"))
    loaded, get_peak = _peak(lambda: session.models.get(digest, unpickle=True))
    np.testing.assert_array_equal(loaded["weights"], model["weights"])
    print(f"\nput peak {put_peak / n:.2f}x, get peak {get_peak / n:.2f}x of {n / 2**20:.0f} MiB")
    assert put_peak < 1.3 * n, f"put peaked at {put_peak / n:.2f}x the payload"
    assert get_peak < 2.2 * n, f"get peaked at {get_peak / n:.2f}x the payload"


# -- CrateDB ------------------------------------------------------------------------------------


class _StandInBlobContainer:
    """CrateDB's blob container as the crate client shows it, in memory."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, f: Any, digest: str) -> bool:
        data = f.read()
        assert hashlib.sha1(data).hexdigest() == digest  # CrateDB checks the digest too
        created = digest not in self.blobs
        self.blobs[digest] = data
        return created

    def get(self, digest: str) -> Any:
        if digest not in self.blobs:
            from crate.client.exceptions import DigestNotFoundException

            raise DigestNotFoundException("models", digest)
        data = self.blobs[digest]
        return (data[i : i + 1000] for i in range(0, len(data), 1000))

    def exists(self, digest: str) -> bool:
        return digest in self.blobs

    def delete(self, digest: str) -> bool:
        return self.blobs.pop(digest, None) is not None


def test_the_cratedb_path_with_a_stand_in_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CrateDB code path (BLOB container, no model_blobs table) on SQLite: no server here."""
    from contextlib import contextmanager

    from runtable.storage.dialects import SQLiteDialect

    class CrateLike(SQLiteDialect):
        name = "crate"

    container = _StandInBlobContainer()
    with rt.connect("sqlite://") as session:
        models = session.models
        schema = models._schema = _Schema(CrateLike())
        monkeypatch.setattr(schema, "create", lambda conn: schema.config.metadata.create_all(conn))
        monkeypatch.setattr(
            models, "_blob_container", contextmanager(lambda what: (yield container))
        )

        model = FittedModel(np.random.default_rng(3))
        digest = models.put(model, name="a", config={"lr": 0.1})
        assert models.put(model, name="b") == digest
        raw = models.put(b"raw", name="raw")
        assert not _has_table(session, MODEL_BLOBS)
        assert sorted(container.blobs) == sorted([digest, raw])
        np.testing.assert_array_equal(models.get(digest, unpickle=True).coef_, model.coef_)
        assert models.get(raw) == b"raw"
        listed = models.ls()
        assert list(listed["name"]) == ["raw", "b", "a"]
        assert all(t.microsecond % 1000 == 0 for t in listed["created"])  # CrateDB keeps ms

        container.blobs.pop(raw)
        with pytest.raises(CorruptModelError, match="missing from the CrateDB BLOB table"):
            models.get(raw)
        models.delete(digest)
        assert digest not in container.blobs
        assert list(models.ls()["name"]) == ["raw"]
        orphan = hashlib.sha1(b"orphan").hexdigest()  # a blob whose row was never written
        container.blobs[orphan] = b"orphan"
        models.delete(orphan)
        assert orphan not in container.blobs
        with pytest.raises(ModelNotFoundError):
            models.delete(orphan)


class _RecordingConnection:
    """Just enough of a Connection to record the SQL that is sent through it."""

    def __init__(self, dialect: sa.Dialect, blob_table_exists: bool) -> None:
        self.dialect = dialect
        self.statements: list[str] = []
        self._exists = blob_table_exists

    def exec_driver_sql(self, sql: str) -> Any:
        self.statements.append(sql)
        return type("Result", (), {"scalar": lambda _: int(self._exists)})()


def test_cratedb_statements_compile_with_its_dialect(monkeypatch: pytest.MonkeyPatch) -> None:
    store = SQLStore("crate://localhost:4200")  # the engine connects lazily: nothing is contacted
    crate = store.engine.dialect
    schema = ModelStore(store)._schema
    assert schema.crate
    assert schema.blobs is None  # the bytes go to the BLOB table, not to a column
    assert list(schema.config.metadata.sorted_tables) == [schema.config]
    assert not schema.config.indexes  # CrateDB indexes every column by itself
    ddl = " ".join(str(CreateTable(schema.config).compile(dialect=crate)).split())
    assert ddl.startswith("CREATE TABLE model_config (")
    assert "config OBJECT(DYNAMIC)" in ddl
    assert "BLOB" not in ddl
    for column in ("created_at TIMESTAMP", "digest STRING NOT NULL", "id_run LONG", "size LONG"):
        assert column in ddl

    monkeypatch.setattr(schema.config.metadata, "create_all", lambda conn, checkfirst: None)
    for exists, expected in ((False, ["CREATE BLOB TABLE models"]), (True, [])):
        conn = _RecordingConnection(crate, blob_table_exists=exists)
        schema.create(conn)  # type: ignore[arg-type]
        check, *created = conn.statements
        assert "information_schema.tables" in check
        assert "table_schema = 'blob' AND table_name = 'models'" in check
        assert created == expected

    c = schema.config.c
    statements = [
        schema.config.insert(),
        sa.select(c.kind).where(c.digest == "d").distinct(),
        schema.select_ls("forecaster"),
        schema.config.delete().where(c.digest == "d"),
    ]
    insert, kinds, ls, delete = (str(s.compile(dialect=crate)) for s in statements)
    assert insert.startswith("INSERT INTO model_config (created_at, digest, experiment, id_run")
    assert "SELECT DISTINCT model_config.kind" in kinds
    assert "ORDER BY model_config.created_at DESC" in ls
    assert delete.startswith("DELETE FROM model_config WHERE model_config.digest =")
    conn = _RecordingConnection(crate, blob_table_exists=True)
    store.dialect.refresh(conn, [MODEL_CONFIG])  # type: ignore[arg-type]  # as put and delete do
    assert conn.statements == ["REFRESH TABLE model_config"]
    store.close()


@pytest.mark.cratedb
def test_cratedb_round_trip(cratedb_url: str) -> None:
    """On a real server (RUNTABLE_TEST_CRATEDB_URL) or the CrateDB stand-in."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    model = FittedModel(np.random.default_rng(2))
    with rt.connect(cratedb_url) as session:
        digest = session.models.put(model, name=name, run=3, config={"lr": 0.25})
        raw = session.models.put(b"raw bytes " + name.encode(), name=name)
        try:
            coef = session.models.get(digest, unpickle=True).coef_
            np.testing.assert_array_equal(coef, model.coef_)
            assert session.models.get(raw) == b"raw bytes " + name.encode()
            listed = session.models.ls(name=name)
            assert list(listed["digest"]) == [raw, digest]
            assert listed["config"].iloc[1] == {"lr": 0.25}
            found = session.query(
                "SELECT digest FROM model_config WHERE name = :n AND config['lr'] = 0.25",
                {"n": name},
            )
            assert list(found["digest"]) == [digest]
        finally:
            session.models.delete(digest, missing_ok=True)
            session.models.delete(raw, missing_ok=True)
        assert session.models.ls(name=name).empty
        with pytest.raises(ModelNotFoundError):
            session.models.get(digest)


def test_the_example_finds_the_best_model_with_sql(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parent.parent / "examples" / "models_store.py"
    env = {k: v for k, v in os.environ.items() if k != "RUNTABLE_URL"}
    for _ in range(2):  # a second run replaces the first one's models
        done = subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert "stored 3 models of 'ridge'" in done.stdout
        assert "best: alpha=0.1 " in done.stdout
    with rt.connect(f"sqlite:///{tmp_path / 'runtable.db'}") as session:
        listed = session.models.ls(name="ridge")
        ids = session.query("SELECT id_run FROM e_ridge ORDER BY id_run")["id_run"].tolist()
        assert sorted(listed["id_run"]) == ids
        assert set(listed["experiment"]) == {"ridge"}


def test_importing_the_model_store_does_not_import_pandas() -> None:
    code = "import sys, runtable.models; assert 'pandas' not in sys.modules, 'pandas imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_model_store_imports_nothing_of_runs_or_sessions() -> None:
    """It lives in storage: a run is anything with an integer id, the store a SQLStore."""
    import ast

    import runtable.storage.models as module

    tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
    imported = {
        (node.level, node.module or "")
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    ours = {name for level, name in imported if level == 2} | {
        name.removeprefix("runtable.") for level, name in imported if name.startswith("runtable")
    }
    assert ours == {"errors", "names"}, ours
