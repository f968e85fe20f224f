"""Bulk transfer between columns and a table: many rows in with one ``executemany``, whole
columns out of one ``SELECT``.

Data travels column by column (a dict of equal-length sequences keyed by column name);
SQLAlchemy's bind and result processing is applied per column, not per row, and no Row or dict
is built per run. Schema, transactions and what the columns mean are the caller's business.

A row the database refuses is a `RefusedRowError` naming the run and, where the message says,
the field; a cell the result processing refuses is a CorruptValueError naming run and field.

Processors are looked up through SQLAlchemy's public API (`bind_processor`,
`result_processor`). Its private cached look-ups (``_cached_bind_processor``,
``_cached_result_processor``) save 0.3-1 us per column and statement, which a 10k-run persist
(0.20 s SQLite, 0.45 s PostgreSQL) or load (0.06 s, 0.05 s) does not show: private/public
0.98x and 0.98x (persist), 0.99x and 1.07x (load), medians of 7 in one process, 2026-12-05,
SQLAlchemy 2.1.9; ``PYTHONPATH=src python benchmarks/processors.py --reps 7``.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import CorruptValueError, StorageError
from .columns import COMPANION_SUFFIX, JoinAtBind

if TYPE_CHECKING:
    from .dialects import Dialect

#: A processor SQLAlchemy applies to one value on its way in or out.
Processor = Any


def executemany_insert(
    conn: sa.Connection,
    table: sa.Table,
    columns: dict[str, list[Any]],
    dialect: Dialect,
    *,
    upsert: bool = False,
) -> None:
    """Insert column-wise data with executemany, applying SQLAlchemy's bind processing
    per column (much faster than building one dict per row), in batches that stay under
    the backend's request size limit. ``columns`` is processed in place.

    RefusedRowError when the database refuses rows while the statement succeeds (CrateDB's
    bulk inserts), or refuses the single row of a batch."""
    sa_dialect = conn.dialect
    names = list(columns)
    sql, order = _insert_statement(table, names, sa_dialect, upsert)
    for name in names:
        columns[name] = bind_column(table.c[name].type, sa_dialect, columns[name])
    if order is not None:
        rows: list[Any] = list(zip(*(columns[n] for n in order), strict=True))
    else:
        rows = [
            dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)
        ]
    limit = dialect.max_request_bytes
    if limit is None:
        batches: Iterator[list[Any]] = iter([rows])
    else:
        sizes = [dialect.row_bytes(row) for row in rows]
        batches = batches_by_size(rows, sizes, limit - len(sql) - 1024)
    done = 0
    for batch in batches:
        try:
            result = conn.exec_driver_sql(sql, batch)
        except sa.exc.DBAPIError as e:
            if dialect.transactional or len(batch) != 1:
                raise
            # One row goes as a plain statement (not a bulk one): its refusal raises.
            message = str(getattr(e, "orig", None) or e)
            raise RefusedRowError(table.name, columns, done, 1, [(0, message)]) from e
        refused = dialect.refused_rows(result)
        if refused:
            raise RefusedRowError(table.name, columns, done, len(batch), refused)
        done += len(batch)


def insert_sql(
    table: sa.Table, names: Sequence[str], sa_dialect: sa.Dialect, *, upsert: bool = False
) -> str:
    """INSERT of ``names`` in the driver's parameter style; with ``upsert``, a stored row
    of the same ``id_run`` is replaced whole."""
    return _insert_statement(table, list(names), sa_dialect, upsert)[0]


def _insert_statement(
    table: sa.Table, names: list[str], sa_dialect: sa.Dialect, upsert: bool
) -> tuple[str, tuple[str, ...] | None]:
    """`insert_sql`'s text and, for a positional parameter style, the order of its
    parameters; compiled once per process for each table name, column names and types,
    as `compiled_sql` does for loads. Each batch of ``execute(persist=True)`` used to
    compile it twice on the session's fresh Table object."""

    def build() -> tuple[str, tuple[str, ...] | None]:
        compiled = table.insert().compile(dialect=sa_dialect, column_keys=names)
        sql = compiled.string
        if upsert:
            quote = sa_dialect.identifier_preparer.quote_identifier  # any name is safe
            updates = ", ".join(f"{quote(n)} = excluded.{quote(n)}" for n in names if n != "id_run")
            sql += f" ON CONFLICT ({quote('id_run')}) DO UPDATE SET {updates}"
        return sql, (tuple(compiled.positiontup or ()) if compiled.positional else None)

    columns = tuple((n, repr(table.c[n].type)) for n in names)
    return _compiled_once(sa_dialect, ("insert", table.schema, table.name, columns, upsert), build)


def _doubles(data: bytes) -> Sequence[float]:
    return array("d", data)


def select_columns(
    conn: sa.Connection,
    table: sa.Table,
    query: sa.Select[Any],
    experiment: str,
    damaged: dict[int, list[str]] | None = None,
    floats: Callable[[bytes], Sequence[float]] = _doubles,
    *,
    shape: Hashable | None = None,
    bound: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Sequence[Any]], int]:
    """Run a SELECT of whole columns of ``table`` and return them column by column, with
    SQLAlchemy's result processing applied per column (much faster than per row), and the
    number of rows.

    Rows are fetched ``FETCH_ROWS`` at a time, so the driver's Python values of one chunk
    exist at once, not all. A float column whose every value is a float (no NULL) is kept
    as the doubles' bytes and comes back as ``floats(those bytes)`` (``array("d")``): 8
    bytes a value instead of a float object and a pointer.

    With a ``shape``, the statement's text is `compiled_sql`'s and ``bound`` its bound
    values by name. A cell the processing refuses is a CorruptValueError; with ``damaged``,
    it becomes None and its column is listed under its row number instead."""
    sa_dialect = conn.dialect
    if shape is None:
        compiled = query.compile(dialect=sa_dialect)
        params = compiled.construct_params()
        sql = compiled.string
        args: Any = (
            tuple(params[k] for k in compiled.positiontup or ()) if compiled.positional else params
        )
    else:
        sql, args = compiled_sql(query, sa_dialect, shape, bound or {})
    result = conn.exec_driver_sql(sql, args)
    dbapi_cursor = result.cursor  # plain tuples, without building a Row per run
    description = dbapi_cursor.description
    processors: list[Processor] = []
    for name, type_code, *_ in description:
        column_type = table.c[name].type
        # Booleans are checked by decode_column: SQLite's processor makes True of any value.
        processors.append(
            None
            if isinstance(column_type, sa.Boolean)
            else result_processor(column_type, sa_dialect, type_code)
        )
    # Per column: a list of values, or (a float column so far) a list of array("d") parts.
    columns: list[list[Any]] = [[] for _ in description]
    packed = [
        p is None and isinstance(table.c[d[0]].type, sa.Float)
        for d, p in zip(description, processors, strict=True)
    ]
    n = 0
    while rows := dbapi_cursor.fetchmany(FETCH_ROWS):
        n += len(rows)
        for k, chunk in enumerate(zip(*rows, strict=True)):
            if packed[k]:
                if set(map(type, chunk)) <= _FLOAT:
                    columns[k].append(array("d", chunk))
                    continue
                packed[k] = False  # a NULL, or a driver's 1 for 1.0: the values as they are
                columns[k] = [v for part in columns[k] for v in part]
            columns[k].extend(chunk)
    result.close()
    data: dict[str, Sequence[Any]] = {}
    for k, ((name, *_), processor) in enumerate(zip(description, processors, strict=True)):
        values: list[Any] = columns[k]
        columns[k] = []  # the parts go as soon as their column is whole
        if packed[k]:
            data[name] = floats(b"".join(values))
            continue
        if processor is None:
            data[name] = values
            continue
        try:
            data[name] = (
                list(map(processor, values))
                if None not in values
                else [None if v is None else processor(v) for v in values]
            )
        except Exception as e:  # a damaged cell (e.g. text that is no JSON): say which
            if damaged is None:
                data[name] = _process_one_by_one(values, processor, name, data, experiment, e)
            else:
                data[name] = _process_leniently(values, processor, name, damaged)
    return data, n


#: Rows fetched at a time: only one chunk's rows of the driver's Python values exist at once.
FETCH_ROWS = 1000
_FLOAT = frozenset({float})


def compiled_sql(
    query: sa.Select[Any], sa_dialect: sa.Dialect, shape: Hashable, values: Mapping[str, Any]
) -> tuple[str, Any]:
    """The SQL text of ``query`` for ``sa_dialect`` and its arguments, ``values`` by bound
    parameter name, in the driver's parameter style.

    The text is compiled once per process for each ``shape``: a hashable that the caller
    derives from everything that decides the text but the dialect (tables, columns,
    conditions), never from bound values. SQLAlchemy keeps its own cache with the engine, so
    each new session compiled a load's two statements again, on fresh Table objects: a load
    of 100 runs (SQLite, this 2-core machine, 2026-12-06) took 10.4 ms with that, 4.4 without."""

    def build() -> tuple[str, tuple[str, ...] | None]:
        compiled = query.compile(dialect=sa_dialect)
        return compiled.string, (tuple(compiled.positiontup or ()) if compiled.positional else None)

    sql, order = _compiled_once(sa_dialect, shape, build)
    return sql, (tuple(values[k] for k in order) if order is not None else dict(values))


def _compiled_once(
    sa_dialect: sa.Dialect,
    shape: Hashable,
    build: Callable[[], tuple[str, tuple[str, ...] | None]],
) -> tuple[str, tuple[str, ...] | None]:
    """``build()`` (a statement's text and its positional parameter order, or None) for
    ``sa_dialect`` and ``shape``, made once per process."""
    key = (type(sa_dialect), sa_dialect.paramstyle, sa_dialect.server_version_info, shape)
    hit = _COMPILED.get(key)
    if hit is None:
        hit = build()
        if len(_COMPILED) >= _COMPILED_MAX:
            del _COMPILED[next(iter(_COMPILED))]  # the oldest
        _COMPILED[key] = hit
    return hit


#: Compiled statements by dialect and shape (see `_compiled_once`), the oldest dropped first.
_COMPILED: dict[Hashable, tuple[str, tuple[str, ...] | None]] = {}
_COMPILED_MAX = 256


def bind_processor(type_: sa.types.TypeEngine[Any], sa_dialect: sa.Dialect) -> Processor:
    """The function SQLAlchemy applies to a value of ``type_`` sent to ``sa_dialect``'s driver
    (None for none): that of the dialect's own implementation of the type, as SQLAlchemy's
    statement execution uses it; for SQLite's DATETIME, the same text made by
    ``datetime.isoformat`` (see `_sqlite_datetime_bind`)."""
    processor = type_.dialect_impl(sa_dialect).bind_processor(sa_dialect)
    if processor is not None and sa_dialect.name == "sqlite" and isinstance(type_, sa.DateTime):
        return _sqlite_datetime_bind(processor)
    return processor


def result_processor(
    type_: sa.types.TypeEngine[Any], sa_dialect: sa.Dialect, type_code: Any
) -> Processor:
    """The function SQLAlchemy applies to a value of ``type_`` that ``sa_dialect``'s driver
    returned with ``type_code`` (its cursor description's), or None."""
    return type_.dialect_impl(sa_dialect).result_processor(sa_dialect, type_code)


def bind_column(
    type_: sa.types.TypeEngine[Any], sa_dialect: sa.Dialect, values: list[Any]
) -> list[Any]:
    """A column's values as ``sa_dialect``'s driver takes them: `bind_processor` applied to
    each value but None (and but a JoinAtBind cell, which the driver joins as it binds the
    row), with two shortcuts that give the same values a column at a time: a float column
    of floats (the processor would only call ``float()``), and SQLite's DATETIME (see
    `_sqlite_datetime_bind`), formatted inline."""
    processor = bind_processor(type_, sa_dialect)
    if processor is None:
        return values
    if isinstance(type_, sa.Float) and set(map(type, values)) <= _FLOAT_OR_NONE:
        return values
    if sa_dialect.name == "sqlite" and isinstance(type_, sa.DateTime):
        iso = datetime.isoformat
        return [
            None
            if v is None
            else iso(v, " ", "microseconds")
            if type(v) is datetime and v.tzinfo is None
            else processor(v)
            for v in values
        ]
    return [v if v is None or type(v) is JoinAtBind else processor(v) for v in values]


_FLOAT_OR_NONE = frozenset({float, type(None)})


def _sqlite_datetime_bind(general: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """SQLAlchemy formats a naive datetime for SQLite with a Python format string (about
    2.9 us a value here); ``isoformat(" ", "microseconds")`` writes the same text in C (about
    1.1 us): 10,000 runs' two timestamps cost 22 ms instead of 58 (``python -m timeit`` on
    this 2-core machine, 2026-12-05). Anything but a naive datetime goes the general way."""
    iso = datetime.isoformat

    def process(value: Any) -> Any:
        if type(value) is datetime and value.tzinfo is None:
            return iso(value, " ", "microseconds")
        return general(value)

    return process


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """``items`` in consecutive slices of at most ``size`` (e.g. ids for ``IN (...)``)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def batches_by_size(rows: list[Any], sizes: Sequence[int], limit: int) -> Iterator[list[Any]]:
    """Split rows into batches whose sizes (``sizes[i]`` of ``rows[i]``) add up to at most
    ``limit`` bytes; a single row bigger than that goes alone."""
    start, total = 0, 0
    for i, size in enumerate(sizes):
        if total + size > limit and i > start:
            yield rows[start:i]
            start, total = i, 0
        total += size
    if start < len(rows):
        yield rows[start:]


class RefusedRowError(StorageError):
    """Rows of a bulk insert that the database refused while the statement succeeded;
    ``written`` are the run ids of the rows that went in."""

    def __init__(
        self,
        table: str,
        columns: Mapping[str, Sequence[Any]],
        offset: int,
        size: int,
        refused: Sequence[tuple[int, str]],
    ) -> None:
        index, message = refused[0]
        ids = columns["id_run"]
        run_id = ids[offset + index]
        bad = {offset + i for i, _ in refused}
        self.written = [ids[i] for i in range(offset + size) if i not in bad]
        self.duplicate = any("DuplicateKey" in m for _, m in refused)
        field = _field_named_in(message, columns)
        where = f"field {field!r} of run {run_id}" if field else f"run {run_id}"
        more = f" ({len(refused) - 1} more rows refused)" if len(refused) > 1 else ""
        super().__init__(f"the database refused {where} in table {table!r}{more}: {message}")
        self.run_id = run_id
        self.field = field


def _field_named_in(message: str, columns: Mapping[str, Sequence[Any]]) -> str | None:
    """The column a database error message names (the longest that appears), if any."""
    found = [
        name.removesuffix(COMPANION_SUFFIX)
        for name in columns
        if f"`{name}" in message
        or f'"{name}' in message
        or f"{name}[" in message
        or f"[{name}]" in message
        or f"={name}" in message
        or f'field="{name}' in message
    ]
    return max(found, key=len) if found else None


def _process_leniently(
    values: Sequence[Any], processor: Processor, name: str, damaged: dict[int, list[str]]
) -> list[Any]:
    """Process a column value by value; damaged cells become None, listed in ``damaged``."""
    out = []
    for i, value in enumerate(values):
        try:
            out.append(None if value is None else processor(value))
        except Exception:
            out.append(None)
            damaged.setdefault(i, []).append(name)
    return out


def _process_one_by_one(
    values: Sequence[Any],
    processor: Processor,
    name: str,
    data: Mapping[str, Sequence[Any]],
    experiment: str,
    error: Exception,
) -> list[Any]:
    """Process a column value by value to name the run whose cell is damaged."""
    out = []
    for i, value in enumerate(values):
        try:
            out.append(None if value is None else processor(value))
        except Exception as e:
            run_ids = data.get("id_run", ())
            run_id = run_ids[i] if i < len(run_ids) else None
            field = name.removesuffix(COMPANION_SUFFIX)
            raise CorruptValueError(experiment, run_id, field, f"{type(e).__name__}: {e}") from e
    raise CorruptValueError(experiment, None, name, str(error)) from error
