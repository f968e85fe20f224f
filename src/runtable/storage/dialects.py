"""Everything that differs between database backends, in one place.

A `Dialect` says which SQL type each column kind gets, what the backend's native columns
keep exactly (`Capabilities`), and how connections are set up. The SQL store asks the
dialect and never tests a backend's name itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.util
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ..errors import StorageError
from . import crate_objects
from .columns import Capabilities, Kind

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Connection, CursorResult, Engine
    from sqlalchemy.types import TypeEngine

#: Text that is never searched (tracebacks, metadata): may be long, need not be indexed.
LongText = Literal["long_text"]

#: SQLite waits this long for another writer before giving up (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 60_000


class Dialect:
    """The SQLAlchemy types and connection set-up of one backend."""

    name: ClassVar[str] = ""
    #: The backend's; `configure` may refine them for the engine's driver.
    capabilities: Capabilities = Capabilities()
    #: DDL and DML of one persist commit or roll back together.
    transactional: ClassVar[bool] = True
    #: Largest payload of one executemany; None: no limit.
    max_request_bytes: ClassVar[int | None] = None
    #: Encoded values longer than this are stored in parts (see storage.chunks).
    max_cell_bytes: ClassVar[int] = 256 * 1024 * 1024

    def column_type(self, kind: Kind | LongText) -> TypeEngine[Any]:
        """The SQL type of a column of ``kind``."""
        import sqlalchemy as sa

        types: dict[str, TypeEngine[Any]] = {
            "long_text": sa.Text(),
            "bool": sa.Boolean(),
            "int": sa.BigInteger(),
            "float": sa.Double(),
            "str": sa.Text(),
            "datetime": sa.DateTime(),
            "json": sa.JSON(none_as_null=True),
            "blob": sa.LargeBinary(),
            "null": sa.LargeBinary(),  # nothing but None yet: widened when values come
        }
        return types[kind]

    def column_kwargs(self, kind: Kind | LongText) -> dict[str, Any]:
        """Dialect options of a column of ``kind`` (``sqlalchemy.Column`` keyword arguments)."""
        return {}

    def table_kwargs(self, n_columns: int) -> dict[str, Any]:
        """Dialect options of a run table with ``n_columns`` columns."""
        return {}

    def make_room(self, connection: Connection, table: str, n_new: int) -> None:
        """Let ``table`` (quoted) take ``n_new`` more columns; a no-op where nothing limits
        them."""

    def schema(self, connection: Connection) -> str | None:
        """The schema to reflect tables in (``Inspector.get_columns(schema=...)``); None: the
        driver's default, when that is where unqualified tables go."""
        return None

    def widen_column_sql(self, table: str, column: str, old: Kind, type_sql: str) -> str | None:
        """SQL that changes ``column`` of ``table`` (quoted names) from kind ``old`` to the SQL
        type ``type_sql`` keeping its values; None when the backend needs none (SQLite's
        columns take any value). Backends that cannot do it set ``widens_columns=False`` in
        their capabilities."""
        return None

    def prepare_insert(
        self, connection: Connection, table: str, columns: dict[str, list[Any]], objects: list[str]
    ) -> None:
        """Adjust bulk-insert values in place before they are sent: ``objects`` are the names
        of the dict (``json``) columns among ``columns``, whose companions keep the exact
        values. A no-op where the native columns take every value."""

    def refused_rows(self, result: CursorResult[Any]) -> list[tuple[int, str]]:
        """The rows of an executemany that the database refused without failing the
        statement, as (row index, the database's message); empty where a refusal raises."""
        return []

    def row_bytes(self, row: Any) -> int:
        """The size of one row of parameters in a request (only where requests are capped)."""
        raise NotImplementedError(f"{self.name} does not cap its requests")

    def refresh(self, connection: Connection, tables: Sequence[str]) -> None:
        """Make writes to ``tables`` visible to every reader (a no-op with transactions)."""

    def swap_tables_sql(self, source: str, target: str) -> str:
        """SQL that atomically puts table ``source`` in the place of ``target`` (dropping the
        old ``target``); only needed by backends without transactions."""
        raise NotImplementedError(f"{self.name} replaces experiments inside a transaction")

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

    def begin_read(self, connection: Connection) -> None:
        """Make ``connection``'s next transaction see one committed state throughout."""

    def lock(self, connection: Connection, name: str) -> None:
        """Serialize writers of ``name`` (an experiment, or a table runtable creates) until
        the transaction ends; a no-op where writers are serialized already."""


class SQLiteDialect(Dialect):
    """SQLite: WAL journal, ``synchronous=NORMAL``, a busy timeout, and write transactions that
    take the write lock at BEGIN (``BEGIN IMMEDIATE``) so two writers queue instead of failing.

    NaN in a REAL column becomes NULL and -0.0 loses its sign: such values use the companion.
    """

    name = "sqlite"
    capabilities = Capabilities(
        nan=False,
        infinity=True,
        negative_zero=False,
        nul_in_text=False,
        max_columns=2000,  # SQLITE_MAX_COLUMN, as Python's sqlite3 is built
        joins_at_bind=True,  # sqlite3 adapters run as each row is bound (columns.JoinAtBind)
    )

    def configure(self, engine: Engine) -> None:
        from sqlalchemy import event

        from .columns import JoinAtBind

        in_memory = engine.url.database in (None, "", ":memory:") or "mode=memory" in str(
            engine.url
        )
        # sqlite3 (and its drop-in replacements) adapt a value as its row is bound.
        engine.dialect.dbapi.register_adapter(JoinAtBind, JoinAtBind.join)  # type: ignore[union-attr]

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
    capabilities = Capabilities(
        nan=True,
        infinity=True,
        negative_zero=True,
        nul_in_text=False,
        max_columns=1600,  # MaxHeapAttributeNumber
        max_fixed_row_bytes=8160,  # a heap row lives in one 8 kB page ("row is too big")
    )

    def configure(self, engine: Engine) -> None:
        if engine.dialect.driver != "psycopg":
            return
        from sqlalchemy import event

        from .columns import JoinAtBind

        dumper = _join_at_bind_dumper()
        # Big cells are joined as psycopg binds each row, and sent as binary bytea.
        self.capabilities = dataclasses.replace(self.capabilities, joins_at_bind=True)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.adapters.register_dumper(JoinAtBind, dumper)

    def begin_read(self, connection: Connection) -> None:
        # A load reads the experiments row (the column list) and then the run table: under
        # READ COMMITTED a commit in between would tear it. One snapshot for the whole read.
        connection.execution_options(isolation_level="REPEATABLE READ")

    def lock(self, connection: Connection, name: str) -> None:
        # Two sessions creating one experiment (or the experiments table) at once would
        # otherwise race in the catalog; the second now waits and then sees the first's.
        from sqlalchemy import text

        connection.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"runtable:{name}"}
        )

    def widen_column_sql(self, table: str, column: str, old: Kind, type_sql: str) -> str | None:
        # An all-NULL column has nothing to convert; bool has no direct cast to double.
        using = "NULL" if old == "null" else f"{column}::integer" if old == "bool" else column
        return (
            f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {type_sql} USING {using}::{type_sql}"
        )

    def column_type(self, kind: Kind | LongText) -> TypeEngine[Any]:
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


class CrateDBDialect(Dialect):
    """CrateDB, through sqlalchemy-cratedb. What it lacks, and what runtable does about it:

    - No transactions: a persist writes the run table first, refreshes it, and writes the
      ``experiments`` row last as the commit marker; a failure before the marker drops the new
      table. "replace" fills ``e_<name>__swap_<8 hex>`` and swaps it in with ``ALTER CLUSTER
      SWAP TABLE``, so the old version stays whole until the new one is. Incremental writes
      upsert (``INSERT ... ON CONFLICT (id_run) DO UPDATE``): each run row is written whole.
    - Eventually consistent reads (a read that is not a primary-key lookup sees a table as of
      its last refresh): ``REFRESH TABLE`` once per persist, after the writes that a later
      read must see, never per statement; appends change the ``experiments`` row before
      their rows are refreshed, and loads re-read it (docs: tutorial/databases.md).
    - No binary type, and the HTTP driver rejects ``bytes``: codec values are base64 in
      ``TEXT INDEX OFF STORAGE WITH (columnstore = false)`` columns, which also lifts the
      32,766-byte limit of indexed text.
    - Indexed text is capped at 32,766 bytes: longer strings keep NULL in their native column
      and the exact value in the companion.
    - NaN and ±inf become NULL on the way (JSON): they use the companion. -0.0 too, to be sure.
    - Timestamps have millisecond precision: finer datetimes use the companion.
    - Dict fields are ``OBJECT(DYNAMIC)`` columns, queryable as ``metrics['precision']``.
      CrateDB types each key by its first value and does not keep key order, so the exact dict
      is always in the companion as well, and the OBJECT column gets only what CrateDB keeps
      unchanged (see `runtable.storage.crate_objects`): a key whose value has another type
      than the key's first value, a key with ``.``, ``[`` or a tab/newline, text over 32,766
      bytes and lists of mixed types are left out of it (the loaded dict is whole).
    - No UNIQUE constraints: experiment names are the primary key of ``experiments``.
    - At most 1,000 columns per table by default, object sub-columns included: run tables are
      created with ``"mapping.total_fields.limit"`` raised to fit their columns with room to
      grow, and raised again (never lowered) before new columns or dict keys would pass it.
    - Requests are capped at 100 MB: bulk inserts are split into batches of at most 32 MB of
      serialized request.
    - A bulk insert does not fail when CrateDB refuses a row: each row's result is checked,
      and a refused row fails the persist (``refused_rows``).
    """

    name = "crate"
    capabilities = Capabilities(
        nan=False,
        infinity=False,
        negative_zero=False,
        nul_in_text=False,
        max_text_bytes=32_766,
        timestamp_step_us=1000,
        json_exact=False,
        widens_columns=False,  # no ALTER COLUMN ... TYPE: new kinds keep exact values only
    )
    transactional = False
    max_request_bytes = 32 * 1024 * 1024
    max_cell_bytes = 16 * 1024 * 1024  # base64 makes it 21 MB: one part per request

    def column_type(self, kind: Kind | LongText) -> TypeEngine[Any]:
        if kind == "json":
            return _crate_object_type()
        if kind in ("blob", "null"):
            return Base64Text()
        return super().column_type(kind)

    def column_kwargs(self, kind: Kind | LongText) -> dict[str, Any]:
        if kind in ("blob", "null", "long_text"):
            return {"crate_index": False, "crate_columnstore": False}
        return {}

    #: Shards of each run table; None leaves CrateDB's default. Set with ``?shards=N`` in the
    #: URL (``crate://host:4200?shards=6``).
    shards: int | None = None

    def normalize_url(self, url: URL) -> URL:
        shards = url.query.get("shards")
        if shards is None:
            return url
        try:
            self.shards = int(shards)  # type: ignore[arg-type]
        except ValueError:
            raise StorageError(f"shards={shards!r} in the CrateDB URL is not a number") from None
        return url.difference_update_query(["shards"])

    def table_kwargs(self, n_columns: int) -> dict[str, Any]:
        # Rows are routed by id_run (the primary key), so a run's row lives on one shard and
        # upserts of one run touch one shard.
        kwargs: dict[str, Any] = {
            "crate_clustered_by": "id_run",
            'crate_"mapping.total_fields.limit"': _field_limit(n_columns),
        }
        if self.shards is not None:
            kwargs["crate_number_of_shards"] = self.shards
        return kwargs

    def schema(self, connection: Connection) -> str | None:
        # sqlalchemy-cratedb finds tables in the URL's ?schema= (get_table_names) but reflects
        # columns in "doc" unless told (get_columns): tell it.
        dialect: Any = connection.dialect
        return str(dialect._get_effective_schema_name(connection) or dialect.default_schema_name)

    def make_room(self, connection: Connection, table: str, n_new: int) -> None:
        # Never lower a limit (the user may have raised it, as the scaling page advises), and
        # count what CrateDB counts: every column, object sub-columns included.
        used, limit = crate_objects.stored_columns(connection, table)
        needed = len(used) + n_new
        if needed > limit:
            connection.exec_driver_sql(self.field_limit_sql(table, needed))

    def field_limit_sql(self, table: str, n_columns: int) -> str:
        """``ALTER TABLE`` that lets ``table`` (quoted) hold ``n_columns`` columns."""
        return f'ALTER TABLE {table} SET ("mapping.total_fields.limit" = {_field_limit(n_columns)})'

    def prepare_insert(
        self, connection: Connection, table: str, columns: dict[str, list[Any]], objects: list[str]
    ) -> None:
        if not objects:
            return
        used, _ = crate_objects.stored_columns(connection, table)
        new: dict[tuple[str, ...], str] = {}
        for name in objects:
            columns[name] = [
                None if v is None else crate_objects.indexable(v, (name,), used, new)
                for v in columns[name]
            ]
        if new:
            self.make_room(connection, table, len(new))

    def refused_rows(self, result: CursorResult[Any]) -> list[tuple[int, str]]:
        # A bulk request succeeds even when rows are refused: such a row's result has
        # rowcount -2 and, for the first 10 per shard, an error (CrateDB docs,
        # interfaces/http.rst, "Bulk errors"). crate-python's executemany does not raise.
        results = getattr(result.context, "last_result", None) or []
        refused = []
        for i, item in enumerate(results):
            if isinstance(item, dict) and item.get("rowcount") == -2:
                error = item.get("error") or {}
                message = error.get("message") or "refused (CrateDB details the first 10 only)"
                refused.append((i, str(message)))
        return refused

    def row_bytes(self, row: Any) -> int:
        # The driver sends bulk_args as JSON lists, serialized with its own encoder.
        from crate.client.http import json_dumps

        values = list(row.values()) if isinstance(row, dict) else list(row)
        return len(json_dumps(values)) + 1

    def refresh(self, connection: Connection, tables: Sequence[str]) -> None:
        if tables:
            connection.exec_driver_sql(self.refresh_sql(connection.dialect, tables))

    def refresh_sql(self, sa_dialect: Any, tables: Sequence[str]) -> str:
        """``REFRESH TABLE`` of ``tables``, quoted for ``sa_dialect``."""
        quote = sa_dialect.identifier_preparer.quote
        return f"REFRESH TABLE {', '.join(quote(t) for t in tables)}"

    def swap_tables_sql(self, source: str, target: str) -> str:
        return f"ALTER CLUSTER SWAP TABLE {source} TO {target} WITH (drop_source = true)"

    def engine_kwargs(self, url: URL) -> dict[str, Any]:
        # CrateDB sends timestamps as epoch milliseconds. Converted by the driver (from the
        # column types of the response), they reach session.query() as datetimes too, and
        # 1970-01-01 (0 ms) is not mistaken for NULL by sqlalchemy-cratedb's DateTime, whose
        # result processor passes datetimes through but turns a falsy 0 into None.
        return {"connect_args": {"converter": _crate_converter()}}


def _field_limit(n_columns: int) -> int:
    """CrateDB's per-table field limit for ``n_columns`` columns: twice that, in thousands, to
    leave room for the keys of OBJECT columns (CrateDB counts them too) and later columns."""
    return max(1000, 1000 * math.ceil(2 * n_columns / 1000))


def _crate_converter() -> Any:
    """crate-python's converter with timestamps as naive UTC datetimes (runtable's form)."""
    import datetime as dt

    from crate.client.converter import Converter, DataType

    epoch = dt.datetime(1970, 1, 1)

    def naive_utc(value: int | None) -> dt.datetime | None:
        return None if value is None else epoch + dt.timedelta(milliseconds=value)

    def aware_utc(value: int | None) -> dt.datetime | None:
        return (
            None
            if value is None
            else (epoch + dt.timedelta(milliseconds=value)).replace(tzinfo=dt.UTC)
        )

    return Converter(
        {DataType.TIMESTAMP_WITHOUT_TZ: naive_utc, DataType.TIMESTAMP_WITH_TZ: aware_utc}
    )


def _crate_object_type() -> TypeEngine[Any]:
    return _crate_object_class()()  # type: ignore[no-any-return]


@functools.cache
def _crate_object_class() -> type:
    from sqlalchemy_cratedb.type.object import ObjectTypeImpl

    class DynamicObject(ObjectTypeImpl):  # type: ignore[misc]
        """``OBJECT(DYNAMIC)``, spelled out (the package's own type prints ``OBJECT``)."""

        __visit_name__ = "user_defined"  # compiled through get_col_spec
        cache_ok = True

        def get_col_spec(self, **kw: Any) -> str:
            return "OBJECT(DYNAMIC)"

    return DynamicObject


@functools.cache
def _base64_text() -> type:
    import base64

    import sqlalchemy as sa

    class _Base64Text(sa.Text):
        """Bytes stored as base64 text (CrateDB has no binary column type). A Text subclass,
        not a TypeDecorator, so that CrateDB's text-only column options apply to it."""

        def bind_processor(self, dialect: Any) -> Any:
            def process(value: Any) -> str | None:
                return None if value is None else base64.b64encode(value).decode("ascii")

            return process

        def result_processor(self, dialect: Any, coltype: Any) -> Any:
            def process(value: Any) -> bytes | None:
                return None if value is None else base64.b64decode(value)

            return process

    return _Base64Text


def Base64Text() -> TypeEngine[Any]:
    """A text column type that stores bytes as base64."""
    return _base64_text()()  # type: ignore[no-any-return]


_DIALECTS: dict[str, type[Dialect]] = {
    "sqlite": SQLiteDialect,
    "postgresql": PostgreSQLDialect,
    "crate": CrateDBDialect,
}


def _join_at_bind_dumper() -> type:
    """A psycopg 3 dumper of `columns.JoinAtBind` cells: the codec's buffers joined when the
    row is bound (one joined copy at a time, freed once sent), as binary ``bytea``."""
    from psycopg.adapt import Dumper
    from psycopg.postgres import types
    from psycopg.pq import Format

    class JoinAtBindDumper(Dumper):
        format = Format.BINARY
        oid = types["bytea"].oid

        def dump(self, obj: Any) -> bytes:
            return obj.join()  # type: ignore[no-any-return]

    return JoinAtBindDumper


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
