"""The tables of one database as runtable makes them: their definitions and their DDL.

`Schema` defines the ``experiments`` index, run tables ``e_<name>`` (storage formats 1 and 2)
and the parts table of big values, with each column typed by the backend's `Dialect`; it
creates them, adds and widens columns, and checks that a table of runtable's name has
runtable's columns (SchemaError otherwise). Reading and writing rows, and the transactions
around them, are the store's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.schema import CreateColumn

from ..errors import SchemaError
from ..names import EXACT_COLUMN, table_name
from . import layout
from .chunks import TABLE, chunks_table

if TYPE_CHECKING:
    from .columns import ColumnSpec, Kind
    from .dialects import Dialect, LongText

EXPERIMENTS = "experiments"
#: Run table definitions a Schema keeps (see `Schema.run_table`), the oldest dropped first.
RUN_TABLES_KEPT = 64


#: Run ids are 64-bit. On SQLite the key is declared INTEGER, which makes it the table's rowid:
#: one b-tree instead of a table plus a unique index (BIGINT), half the work per inserted run.
RUN_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Schema:
    """runtable's tables in one database: ``dialect`` types the columns, ``sa_dialect``
    compiles the DDL, ``url`` (password hidden) names the database in errors."""

    def __init__(self, dialect: Dialect, sa_dialect: sa.Dialect, url: str) -> None:
        self.dialect = dialect
        self.sa_dialect = sa_dialect
        self.url = url
        self.experiments = self._experiments_table()
        self._experiments_checked = False
        self._chunks_checked = False
        self._run_tables: dict[tuple[Any, ...], sa.Table] = {}

    # -- definitions -------------------------------------------------------------------------

    def run_table(
        self,
        name: str,
        specs: Sequence[ColumnSpec],
        suffix: str = "",
        storage_format: int = layout.STORAGE_FORMAT,
    ) -> sa.Table:
        """The run table of experiment ``name`` with the columns ``specs`` (named with
        ``suffix`` after ``e_<name>``, for a table filled beside it). The same definition
        is the same Table object for this Schema's life (not to be changed): building one
        of 15 columns took about 1 ms, three times per batch of ``execute(persist=True)``."""
        key = (name, tuple(specs), suffix, storage_format)
        table = self._run_tables.get(key)
        if table is None:
            table = self._run_table(name, specs, suffix, storage_format)
            if len(self._run_tables) >= RUN_TABLES_KEPT:
                del self._run_tables[next(iter(self._run_tables))]  # the oldest
            self._run_tables[key] = table
        return table

    def _run_table(
        self, name: str, specs: Sequence[ColumnSpec], suffix: str, storage_format: int
    ) -> sa.Table:
        column = self.column
        if storage_format == 1:
            status, error, started, ended, steps = layout.FORMAT1_COLUMNS
        else:
            status, error, started, ended, steps = layout.FORMAT1_COLUMNS.values()
        columns: list[sa.Column[Any]] = [
            sa.Column("id_run", RUN_ID, primary_key=True, autoincrement=False),
            sa.Column("id_experiment", sa.String(32), nullable=False),
            sa.Column(status, sa.String(16), nullable=False),
            column(error, "long_text"),
            sa.Column(started, sa.DateTime),
            sa.Column(ended, sa.DateTime),
            column(steps, "long_text"),
        ]
        # User names are always quoted: they may be keywords of some backend ("returning").
        columns += [column(s.name, s.kind, quote=True) for s in specs]
        if storage_format == 1:
            columns += [column(s.companion, "blob", quote=True) for s in specs if s.exact]
        else:
            columns.append(column(EXACT_COLUMN, "blob"))
        kwargs = self.dialect.table_kwargs(len(columns))
        return sa.Table(table_name(name) + suffix, sa.MetaData(), *columns, **kwargs)

    def column(
        self, name: str, kind: Kind | LongText, *, quote: bool | None = None
    ) -> sa.Column[Any]:
        """A column holding values of ``kind``, in the backend's type for it."""
        kwargs = self.dialect.column_kwargs(kind)
        return sa.Column(name, self.dialect.column_type(kind), quote=quote, **kwargs)

    def quote(self, identifier: str) -> str:
        """``identifier`` quoted for SQL text, where the backend needs it."""
        return str(self.sa_dialect.identifier_preparer.quote(identifier))

    def _experiments_table(self) -> sa.Table:
        column = self.column
        return sa.Table(
            EXPERIMENTS,
            sa.MetaData(),
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("id", sa.String(32), nullable=False),
            sa.Column("table_name", sa.String(64), nullable=False),
            sa.Column("created_at", sa.DateTime, nullable=False),
            sa.Column("updated_at", sa.DateTime, nullable=False),
            sa.Column("n_runs", sa.Integer, nullable=False),
            sa.Column("seed", sa.BigInteger, nullable=False),
            column("fields", "blob"),
            column("config", "blob"),
            column("meta", "long_text"),
            column("pickle", "blob"),
        )

    # -- the experiments table ---------------------------------------------------------------

    def has_experiments(self, conn: sa.Connection) -> bool:
        """Whether the ``experiments`` table exists; SchemaError when it lacks runtable's
        columns (checked once per Schema)."""
        if not sa.inspect(conn).has_table(EXPERIMENTS):
            return False
        self._check_experiments(conn)
        return True

    def ensure_experiments(self, conn: sa.Connection) -> None:
        """Create the ``experiments`` table unless it exists (another writer's will do)."""
        if self.has_experiments(conn):
            return
        self.dialect.lock(conn, EXPERIMENTS)
        if not self.has_experiments(conn):  # another writer may have made it meanwhile
            try:
                self.experiments.create(conn)
            except sa.exc.SQLAlchemyError:
                # Without transactions two first writers can both get here; the other's
                # table is as good as ours.
                if self.dialect.transactional or not self.has_experiments(conn):
                    raise

    def _check_experiments(self, conn: sa.Connection) -> None:
        if self._experiments_checked:
            return
        found = {c["name"] for c in self.columns_of(conn, EXPERIMENTS)}
        missing = {c.name for c in self.experiments.columns} - found
        if missing:
            raise SchemaError(
                f"table {EXPERIMENTS!r} in {self.url} was not made by runtable (it lacks "
                f"{', '.join(sorted(missing))}); use another database for runtable"
            )
        self._experiments_checked = True

    # -- columns of run tables ---------------------------------------------------------------

    def columns_of(self, conn: sa.Connection, table: str) -> Sequence[Mapping[str, Any]]:
        """The reflected columns of ``table``, in the schema unqualified names go to."""
        return sa.inspect(conn).get_columns(table, self.dialect.schema(conn))

    def add_column(self, conn: sa.Connection, table: str, column: str, kind: Kind) -> None:
        """Add ``column`` of ``kind`` to ``table`` (fine when a concurrent writer without
        transactions has just added it)."""
        try:
            conn.exec_driver_sql(self.add_column_sql(table, column, kind))
        except sa.exc.SQLAlchemyError:
            # Without transactions a concurrent writer may have added it just now.
            columns = () if self.dialect.transactional else self.columns_of(conn, table)
            if column not in {c["name"] for c in columns}:
                raise

    def add_column_sql(self, table: str, column: str, kind: Kind) -> str:
        column_ = self.column(column, kind, quote=True)
        spec = CreateColumn(column_).compile(dialect=self.sa_dialect)
        return f"ALTER TABLE {self.quote(table)} ADD COLUMN {spec}"

    def widen_column(
        self, conn: sa.Connection, table: str, column: str, old: Kind, new: Kind
    ) -> None:
        """Change a stored column's type so that SQL sees values of kind ``new`` (ints then
        floats, a column of ``None`` then numbers) as one ``persist()`` would have stored."""
        type_sql = self.column(column, new).type.compile(dialect=self.sa_dialect)
        sql = self.dialect.widen_column_sql(self.quote(table), self.quote(column), old, type_sql)
        if sql is not None:
            conn.exec_driver_sql(sql)

    # -- the parts table ---------------------------------------------------------------------

    def chunks_table(self, conn: sa.Connection, *, create: bool = True) -> sa.Table:
        """The parts table of big values; with ``create``, made (or widened) as needed."""
        table = chunks_table(self.column)
        if not create:
            return table
        if not sa.inspect(conn).has_table(TABLE):  # asked each time: a rolled-back create
            self.dialect.lock(conn, TABLE)
            table.create(conn, checkfirst=True)
        elif not self._chunks_checked:  # a parts table of runtable 0.1
            self._chunks_checked = self._widen_chunk_ids(conn)
        return table

    def _widen_chunk_ids(self, conn: sa.Connection) -> bool:
        """Run ids are 63-bit since storage format 2; a parts table made by runtable 0.1 may
        hold them in a 32-bit column (PostgreSQL's INTEGER): widen it. True when it was wide
        already (a widening made now only counts once its transaction has committed)."""
        for column in sa.inspect(conn).get_columns(TABLE):
            if column["name"] == "id_run" and not isinstance(column["type"], sa.BigInteger):
                self.dialect.lock(conn, TABLE)
                type_sql = sa.BigInteger().compile(dialect=self.sa_dialect)
                sql = self.dialect.widen_column_sql(TABLE, "id_run", "int", type_sql)
                if sql is not None:
                    conn.exec_driver_sql(sql)
                    return False
        return True
