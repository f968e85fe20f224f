"""Everything that differs between database backends, in one place.

A :class:`Dialect` says which SQL type each column kind gets, what the backend's native columns
keep exactly (:class:`Capabilities`), and how connections are set up. The SQL store asks the
dialect and never tests a backend's name itself.
"""

from __future__ import annotations

import contextlib
import importlib.util
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import StorageError
from .columns import Capabilities, Kind

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Connection, Engine
    from sqlalchemy.types import TypeEngine

#: SQLite waits this long for another writer before giving up (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 60_000


class Dialect:
    """The SQLAlchemy types and connection set-up of one backend."""

    name: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities] = Capabilities()
    #: DDL and DML of one persist commit or roll back together.
    transactional: ClassVar[bool] = True

    def column_type(self, kind: Kind) -> TypeEngine[Any]:
        """The SQL type of a column of ``kind``."""
        import sqlalchemy as sa

        types: dict[Kind, TypeEngine[Any]] = {
            "bool": sa.Boolean(),
            "int": sa.BigInteger(),
            "float": sa.Double(),
            "str": sa.Text(),
            "datetime": sa.DateTime(),
            "json": sa.JSON(none_as_null=True),
            "blob": sa.LargeBinary(),
        }
        return types[kind]

    def normalize_url(self, url: URL) -> URL:
        """The URL to connect with (e.g. a driver that is installed)."""
        return url

    def engine_kwargs(self, url: URL) -> dict[str, Any]:
        """Defaults for ``create_engine`` (the user's keyword arguments win)."""
        return {}

    def configure(self, engine: Engine) -> None:
        """Install connection-level settings on a new engine."""

    def begin_write(self, connection: Connection) -> None:
        """Mark ``connection`` as about to write (before its transaction begins)."""


class SQLiteDialect(Dialect):
    """SQLite: WAL journal, ``synchronous=NORMAL``, a busy timeout, and write transactions that
    take the write lock at BEGIN (``BEGIN IMMEDIATE``) so two writers queue instead of failing.

    NaN in a REAL column becomes NULL and -0.0 loses its sign: such values use the companion.
    """

    name = "sqlite"
    capabilities = Capabilities(nan=False, infinity=True, negative_zero=False, nul_in_text=False)

    def configure(self, engine: Engine) -> None:
        from sqlalchemy import event

        in_memory = engine.url.database in (None, "", ":memory:") or "mode=memory" in str(
            engine.url
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # runtable issues BEGIN itself (see _on_begin); the driver must not.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
                if not in_memory:
                    with contextlib.suppress(Exception):  # a read-only file keeps its mode
                        cursor.execute("PRAGMA journal_mode = WAL")
                    cursor.execute("PRAGMA synchronous = NORMAL")
            finally:
                cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            write = connection.get_execution_options().get("runtable_write", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    def begin_write(self, connection: Connection) -> None:
        connection.execution_options(runtable_write=True)


class PostgreSQLDialect(Dialect):
    """PostgreSQL: transactional DDL; DOUBLE PRECISION keeps NaN, ±inf and -0.0.

    Dict fields are ``JSON`` (not ``JSONB``), which keeps key order and number spelling exactly;
    query them with ``->``/``->>`` or cast to ``jsonb``.
    """

    name = "postgresql"
    capabilities = Capabilities(nan=True, infinity=True, negative_zero=True, nul_in_text=False)

    def column_type(self, kind: Kind) -> TypeEngine[Any]:
        if kind == "json":
            from sqlalchemy.dialects.postgresql import JSON

            return JSON(none_as_null=True)
        return super().column_type(kind)

    def normalize_url(self, url: URL) -> URL:
        # A bare postgresql:// URL means psycopg2 to SQLAlchemy; use psycopg 3 when that is
        # what is installed (the runtable[postgresql] extra).
        if url.drivername == "postgresql" and not _installed("psycopg2") and _installed("psycopg"):
            return url.set(drivername="postgresql+psycopg")
        return url


_DIALECTS: dict[str, type[Dialect]] = {
    "sqlite": SQLiteDialect,
    "postgresql": PostgreSQLDialect,
}


def dialect_for(url: URL) -> Dialect:
    """The Dialect of a SQLAlchemy URL; StorageError for a backend runtable does not support."""
    backend = url.get_backend_name()
    try:
        return _DIALECTS[backend]()
    except KeyError:
        supported = ", ".join(sorted(_DIALECTS))
        raise StorageError(
            f"runtable does not support the {backend!r} database; supported: {supported}"
        ) from None


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None
