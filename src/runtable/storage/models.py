"""The model store: trained models kept beside the runs, content-addressed, found with SQL.

``put`` stores a model's bytes once under their sha1 digest and adds one row to ``model_config``
(``created_at``, ``digest``, ``experiment``, ``id_run``, ``name``, ``kind``, ``size``, ``config``
as a queryable JSON column). The bytes live in ``model_blobs`` (``digest`` primary key, ``data``)
on SQLite and PostgreSQL, written in the same transaction as the row; on CrateDB in the BLOB table
``models`` (blob first, then the row, then ``REFRESH TABLE``: CrateDB has no transactions).

Trust: loading a pickled model runs code, so ``get`` returns the stored bytes unless asked with
``get(digest, unpickle=True)``, as ``load_experiment`` does. It then unpickles only bytes whose
sha1 equals the digest asked for, which protects against corruption, not against anyone who can
write to the database: unpickle only from a database you trust.

Memory: a model must fit in memory twice (its serialized bytes are made or fetched once).
"""

from __future__ import annotations

import hashlib
import importlib
import io
import math
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

import sqlalchemy as sa

from ..errors import (
    CorruptModelError,
    InvalidNameError,
    InvalidRunIdError,
    ModelNotFoundError,
    SchemaError,
    StorageError,
    describe,
)
from ..names import check_experiment_name

if TYPE_CHECKING:
    import pandas as pd

    from .base import Store
    from .dialects import Dialect


class HasId(Protocol):
    """A run as the model store sees it: anything with an integer ``id`` (a runtable Run)."""

    @property
    def id(self) -> int: ...


Kind = Literal["pickle", "bytes"]
MODEL_CONFIG = "model_config"
MODEL_BLOBS = "model_blobs"
BLOB_TABLE = "models"  #: CrateDB's BLOB table
MAX_NAME = 200
LS_COLUMNS = ["digest", "name", "experiment", "id_run", "created", "config"]
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class ModelStore:
    """The models of one database: ``put``, ``get``, ``ls`` and ``delete``."""

    def __init__(self, store: Store) -> None:
        from .sql import SQLStore

        if not isinstance(store, SQLStore):
            raise TypeError(f"the model store needs a SQL store, not {describe(store)}")
        self._engine, self._dialect, self._url = store.engine, store.dialect, store.url
        self._connect = store.transaction  # one transaction, driver errors as StorageError
        self._schema = _Schema(store.dialect)
        self._checked = False  # model_config exists and has runtable's columns
        self._created = False  # put has made sure that every table exists
        self._last: datetime | None = None

    def put(
        self,
        model: Any,
        *,
        name: str,
        run: HasId | int | None = None,
        experiment: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> str:
        """Store ``model`` and return its sha1 hex digest.

        bytes-like objects, paths and binary files are stored as they are (kind ``"bytes"``),
        anything else pickled with cloudpickle (kind ``"pickle"``). ``run``: the run the model
        belongs to, or its id (InvalidRunIdError outside 64 bits); ``config``: a dict of JSON
        values, queryable in ``model_config.config``.
        """
        if config is not None and not isinstance(config, Mapping):
            raise TypeError(f"config must be a dict of JSON values, not {describe(config)}")
        row: dict[str, Any] = {
            "name": _check_name(name),
            "id_run": _run_id(run),
            "experiment": None if experiment is None else check_experiment_name(experiment),
            "config": _jsonable(config or {}, "config"),
        }
        data, kind = _serialize(model)
        digest = hashlib.sha1(memoryview(data), usedforsecurity=False).hexdigest()
        row.update(digest=digest, kind=kind, size=len(data), created_at=self._now())
        self._ensure_tables()
        s = self._schema
        if s.blobs is None:  # CrateDB: the blob first, then its row
            with self._blob_container(f"store model {digest}") as blobs:
                if not blobs.exists(digest):
                    blobs.put(io.BytesIO(data), digest=digest)
        with self._connect(f"store model {name!r}", write=True) as conn:
            if s.blobs is not None:  # FOR SHARE: a concurrent delete of the blob waits for us
                query = sa.select(s.blobs.c.digest).where(s.blobs.c.digest == digest)
                if conn.execute(query.with_for_update(read=True)).first() is None:
                    try:
                        with conn.begin_nested():
                            conn.execute(s.blobs.insert(), {"digest": digest, "data": data})
                    except sa.exc.IntegrityError:
                        pass  # stored concurrently by another writer: the same bytes
            conn.execute(s.config.insert(), row)
            self._dialect.refresh(conn, [MODEL_CONFIG])  # CrateDB: visible to ls() and query()
        return digest

    def get(self, digest: str, *, unpickle: bool = False) -> Any:
        """The bytes stored under ``digest``, checked against it (CorruptModelError if they
        differ).

        ``unpickle=True`` returns the object of a model stored as a pickle (this runs code
        from the database: only for databases you trust); bytes stay bytes.
        """
        digest = _check_digest(digest)
        s = self._schema
        data: Any = None
        with self._connect(f"load model {digest}") as conn:
            query = sa.select(s.config.c.kind).where(s.config.c.digest == digest).distinct()
            kinds = set(conn.execute(query).scalars()) if self._has(conn) else set()
            if not kinds:
                raise ModelNotFoundError(digest, self._url)
            if s.blobs is not None:
                query = sa.select(s.blobs.c.data).where(s.blobs.c.digest == digest)
                data = conn.execute(query).scalar()
        if s.crate:
            data = self._crate_fetch(digest)
        if data is None:
            raise CorruptModelError(
                digest,
                f"its bytes are missing from {s.blob_where}; delete its rows with "
                "session.models.delete(digest) and put the model again",
            )
        data = data if isinstance(data, bytes) else bytes(data)
        found = hashlib.sha1(data, usedforsecurity=False).hexdigest()
        if found != digest:
            raise CorruptModelError(
                digest, f"the stored bytes have sha1 {found} (corrupted); they were not unpickled"
            )
        if not unpickle or kinds != {"pickle"}:  # a digest ever stored as bytes stays bytes
            return data
        import cloudpickle

        try:
            return cloudpickle.loads(data)
        except Exception as e:
            e.add_note(f"while unpickling model {digest}; get(digest) without unpickle gives bytes")
            raise

    def ls(self, name: str | None = None) -> pd.DataFrame:
        """One row per stored model, newest first; only those called ``name`` if given."""
        import pandas as pd

        if name is not None:
            _check_name(name)
        rows: list[Any] = []
        with self._connect("list models") as conn:
            if self._has(conn):
                rows = list(conn.execute(self._schema.select_ls(name)).all())
        df = pd.DataFrame.from_records(rows, columns=LS_COLUMNS)
        df["id_run"] = df["id_run"].astype("Int64")
        df["created"] = pd.to_datetime(df["created"])
        return df

    def delete(self, digest: str, *, missing_ok: bool = False) -> None:
        """Delete every ``model_config`` row of ``digest`` and the stored bytes."""
        digest = _check_digest(digest)
        s, found = self._schema, False
        with self._connect(f"delete model {digest}", write=True) as conn:
            if self._has(conn):
                if s.blobs is not None:  # the blob first: a concurrent put of it waits for us
                    blob = s.blobs.delete().where(s.blobs.c.digest == digest)
                    found = conn.execute(blob).rowcount > 0
                rows = conn.execute(s.config.delete().where(s.config.c.digest == digest))
                found = rows.rowcount > 0 or found
                self._dialect.refresh(conn, [MODEL_CONFIG])
        if s.crate and self._checked:  # also a blob whose row was never written
            with self._blob_container(f"delete model {digest}") as blobs:
                found = bool(blobs.delete(digest)) or found
        if not found and not missing_ok:
            raise ModelNotFoundError(digest, self._url)

    def __repr__(self) -> str:
        return f"<ModelStore {self._url}>"

    # -- helpers -----------------------------------------------------------------------------

    @contextmanager
    def _blob_container(self, what: str) -> Iterator[Any]:
        """CrateDB's BLOB container; client errors become StorageError."""
        errors = importlib.import_module("crate.client.exceptions")
        try:
            raw = self._engine.raw_connection()
            try:
                yield raw.driver_connection.get_blob_container(BLOB_TABLE)  # type: ignore[union-attr]
            finally:
                raw.close()
        except (sa.exc.SQLAlchemyError, errors.Error, errors.BlobException) as e:
            raise StorageError(f"could not {what} in {self._url}: {e}") from e

    def _crate_fetch(self, digest: str) -> bytes | None:
        missing = importlib.import_module("crate.client.exceptions").DigestNotFoundException
        with self._blob_container(f"load model {digest}") as blobs:
            buffer = io.BytesIO()  # grows in place; getvalue() hands its bytes over
            try:
                for chunk in blobs.get(digest):
                    buffer.write(chunk)
            except missing:
                return None
            return buffer.getvalue()

    def _has(self, conn: sa.Connection) -> bool:
        """Whether ``model_config`` exists (its columns, and the blobs', checked once)."""
        if self._checked:
            return True
        inspector = sa.inspect(conn)
        if not inspector.has_table(MODEL_CONFIG):
            return False
        for table in (self._schema.config, self._schema.blobs):
            if table is None or not inspector.has_table(table.name):
                continue
            missing = {c.name for c in table.columns} - {
                c["name"] for c in inspector.get_columns(table.name)
            }
            if missing:
                raise SchemaError(
                    f"table {table.name!r} in {self._url} was not made by runtable (it lacks "
                    f"{', '.join(sorted(missing))}); rename or drop it to store models here"
                )
        self._checked = True
        return True

    def _ensure_tables(self) -> None:
        """Create the missing model tables (a second try covers a concurrent creator)."""
        for attempt in (1, 2):
            if self._created:
                return
            try:
                with self._connect("create the model tables", write=True) as conn:
                    self._has(conn)  # SchemaError for a table of that name not made by runtable
                    self._schema.create(conn)
                self._created = True
            except StorageError:
                if attempt == 2:
                    raise

    def _now(self) -> datetime:
        """UTC now (naive), after the previous put of this store: the newest sorts first."""
        step = timedelta(milliseconds=1) if self._schema.crate else timedelta(microseconds=1)
        now = datetime.now(UTC).replace(tzinfo=None)
        now -= (now - datetime.min) % step  # CrateDB keeps milliseconds
        if self._last is not None and now <= self._last:
            now = self._last + step
        self._last = now
        return now


class _Schema:
    """The model tables of one backend and the statements that are not plain Core."""

    def __init__(self, dialect: Dialect) -> None:
        self.crate = dialect.name == "crate"
        metadata = sa.MetaData()
        self.config = sa.Table(
            MODEL_CONFIG,
            metadata,
            sa.Column("created_at", sa.DateTime, nullable=False),
            sa.Column("digest", sa.String(40), nullable=False),
            sa.Column("experiment", sa.String(64)),
            sa.Column("id_run", sa.BigInteger),
            sa.Column("name", sa.String(MAX_NAME), nullable=False),
            sa.Column("kind", sa.String(16), nullable=False),
            sa.Column("size", sa.BigInteger, nullable=False),
            sa.Column("config", dialect.column_type("json")),
        )
        self.blobs: sa.Table | None = None
        if not self.crate:
            sa.Index("ix_model_config_digest", self.config.c.digest)
            sa.Index("ix_model_config_name", self.config.c.name)
            data = sa.Column("data", dialect.column_type("blob"), nullable=False)
            self.blobs = sa.Table(
                MODEL_BLOBS, metadata, sa.Column("digest", sa.String(40), primary_key=True), data
            )
        self.blob_where = f"the CrateDB BLOB table {BLOB_TABLE!r}" if self.crate else MODEL_BLOBS

    def create(self, conn: sa.Connection) -> None:
        self.config.metadata.create_all(conn, checkfirst=True)
        if not self.crate:
            return
        query = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'blob' AND "
        if not conn.exec_driver_sql(query + f"table_name = '{BLOB_TABLE}'").scalar():
            conn.exec_driver_sql(f"CREATE BLOB TABLE {BLOB_TABLE}")

    def select_ls(self, name: str | None) -> sa.Select[Any]:
        c = self.config.c
        query = sa.select(c.digest, c.name, c.experiment, c.id_run, c.created_at, c.config)
        if name is not None:
            query = query.where(c.name == name)
        return query.order_by(c.created_at.desc())


def _serialize(model: Any) -> tuple[bytes, Kind]:
    """The bytes to store and their kind, copying the payload at most once."""
    if isinstance(model, bytes):
        return model, "bytes"
    if isinstance(model, bytearray | memoryview):
        return bytes(model), "bytes"
    if isinstance(model, os.PathLike):
        with open(model, "rb") as f:
            return f.read(), "bytes"
    if isinstance(model, io.TextIOBase):
        raise TypeError("the model file is open in text mode; open it in binary mode ('rb')")
    if isinstance(model, io.IOBase):
        data = model.read()
        if not isinstance(data, bytes):
            raise TypeError(f"reading the model file gave {describe(data)}, not bytes")
        return data, "bytes"
    if isinstance(model, str):
        raise TypeError("a str model is ambiguous: pass pathlib.Path(...) or text.encode()")
    import cloudpickle

    try:
        return cloudpickle.dumps(model), "pickle"
    except Exception as e:
        raise TypeError(
            f"cannot pickle the model ({describe(model)}) with cloudpickle: {e}; serialize it "
            "yourself and pass the bytes or a file path"
        ) from e


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidNameError("model", name, "use a non-empty str")
    if len(name) > MAX_NAME or "\x00" in name:
        raise InvalidNameError("model", name, f"use at most {MAX_NAME} characters and no NUL")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidNameError(
            "model", name, "it holds a lone surrogate, which is no text a database stores"
        ) from None
    return name


def _run_id(run: object) -> int | None:
    """The run id of ``run``: None, an int, or the integer ``id`` of a run object."""
    if run is None:
        return None
    run_id = getattr(run, "id", None) if not isinstance(run, int) else run
    if isinstance(run_id, int) and not isinstance(run_id, bool):
        if not _INT64_MIN <= run_id <= _INT64_MAX:
            raise InvalidRunIdError(
                f"run id {run_id} is outside the 64-bit range that id_run columns hold "
                f"({_INT64_MIN}..{_INT64_MAX}); pass the Run or an id read from the database"
            )
        return run_id
    raise TypeError(f"run must be a runtable Run or a run id (int), not {describe(run)}")


def _check_digest(digest: object) -> str:
    if isinstance(digest, str) and re.fullmatch(r"[0-9a-fA-F]{40}", digest):
        return digest.lower()
    raise ValueError(f"{digest!r} is not a model digest: use the 40-hex-digit str put() returns")


def _jsonable(value: Any, where: str) -> Any:
    """``value`` as plain JSON (dicts and lists), or an error naming the offending key."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} is {value}, which JSON cannot hold; use None or a string")
        return float(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has the key {key!r}; JSON object keys must be str")
            out[key] = _jsonable(item, f"{where}[{key!r}]")
        return out
    raise TypeError(
        f"{where} is a {describe(value)}, which is not JSON: use None, bool, int, float, str, "
        "lists and dicts (numpy: .item() or .tolist())"
    )
