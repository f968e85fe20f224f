"""A CrateDB stand-in for the tests: CrateDB's HTTP protocol on 127.0.0.1, SQL run on SQLite.

No CrateDB server can run where this suite is developed, so the CrateDB code path of runtable
is exercised against this test double instead. It is NOT CrateDB: it speaks the ``/_sql`` and
``/_blobs`` HTTP endpoints the way crate-python expects them, checks every statement against
CrateDB's grammar with ``cratedb-sqlparse`` (generated from ``SqlBaseParser.g4``), runs the
statement on SQLite, and enforces the CrateDB rules that runtable depends on. Each rule carries
a comment naming the CrateDB source file or document (github.com/crate/crate) that states it:

- bulk requests report a refused row as ``rowcount: -2`` with an error, and go on;
- object sub-columns are typed by their first value and keep that type; object keys are
  validated like column names;
- indexed text is at most 32,766 bytes (UTF-8);
- a table holds at most ``mapping.total_fields.limit`` columns, object sub-columns included;
- an ``ON CONFLICT`` target must be the primary key;
- ``ALTER CLUSTER SWAP TABLE`` and ``REFRESH TABLE`` need existing tables;
- request bodies are capped at ``http.max_content_length`` (100 MB by default);
- a read that is not a primary-key lookup sees a table as of its last ``REFRESH``
  (the stand-in never refreshes on its own: the worst case of CrateDB's 1 s interval).

Only what runtable and its tests issue is implemented; anything else is refused with an error
saying so. Run it as a script (``python tests/crate_standin.py --dir D``): it prints
``PORT <n>`` once it listens, and serves until killed. Several processes may share it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import re
import sqlite3
import sys
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

#: The version the stand-in reports at ``GET /`` (sqlalchemy-cratedb reads it).
VERSION = "6.1.0"
#: docs/general/ddl/data-types.rst ("The maximum indexed string length is restricted to 32766
#: bytes when encoded with UTF-8") and docs/general/ddl/storage.rst: Lucene's term limit.
MAX_INDEXED_TEXT_BYTES = 32_766
#: server/src/main/java/org/elasticsearch/http/HttpTransportSettings.java:
#: SETTING_HTTP_MAX_CONTENT_LENGTH defaults to 100 MB.
DEFAULT_MAX_CONTENT_LENGTH = 100 * 1024 * 1024
#: server/src/main/java/io/crate/metadata/doc/DocTableInfo.java: TOTAL_COLUMNS_LIMIT
#: ("index.mapping.total_fields.limit") defaults to 1000.
DEFAULT_TOTAL_FIELDS_LIMIT = 1000
#: docs/interfaces/http.rst, "Bulk errors": only the first 10 errors (per shard) carry an
#: error payload; later ones only the -2 row count. The stand-in is one shard.
BULK_ERRORS_WITH_PAYLOAD = 10


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class SQLError(Exception):
    """An error CrateDB reports: the message, its error code and HTTP status."""

    def __init__(self, message: str, code: int = 4000, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


def _unknown_relation(name: str) -> SQLError:
    # server/src/main/java/io/crate/exceptions/RelationUnknown.java; code 4041 in http.rst.
    return SQLError(f"RelationUnknown[Relation '{name}' unknown]", 4041, 404)


# -- tokens --------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""(?P<ws>\s+|--[^\n]*)
    |(?P<str>'(?:[^']|'')*')
    |(?P<qid>"(?:[^"]|"")*")
    |(?P<param>\$\d+|\?)
    |(?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op>::|<>|!=|>=|<=|\|\||!~\*?|~\*?|[(),.;=<>+\-*/%\[\]])""",
    re.X,
)


@dataclass(frozen=True)
class Tok:
    kind: str  # str, qid, param, num, word, op
    text: str

    @property
    def ident(self) -> str | None:
        """The identifier this token names (unquoted words fold to lower case), or None."""
        if self.kind == "word":
            return self.text.lower()
        if self.kind == "qid":
            return self.text[1:-1].replace('""', '"')
        return None

    def is_(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words


def tokenize(sql: str) -> list[Tok]:
    out: list[Tok] = []
    pos = 0
    while pos < len(sql):
        m = _TOKEN.match(sql, pos)
        if m is None:
            raise SQLError(f"SQLParseException[the stand-in cannot read {sql[pos : pos + 20]!r}]")
        pos = m.end()
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append(Tok(kind, m.group()))
    while out and out[-1].text == ";":
        out.pop()
    return out


def _string_value(tok: Tok) -> str:
    return tok.text[1:-1].replace("''", "'")


def _qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@lru_cache(maxsize=4096)
def check_syntax(sql: str) -> None:
    """Parse ``sql`` with cratedb-sqlparse (CrateDB's grammar, SqlBaseParser.g4)."""
    from cratedb_sqlparse import sqlparse

    try:
        statements = sqlparse(sql, raise_exception=True)
    except Exception as e:
        # docs/interfaces/http.rst: an analysis error fails the whole request (4000).
        raise SQLError(f"SQLParseException[{e}]") from None
    if len(statements) != 1:
        raise SQLError("SQLParseException[exactly one statement per request is allowed]")


# -- catalog ---------------------------------------------------------------------------------------

_TYPE_WORDS = {
    "STRING": "text",
    "TEXT": "text",
    "VARCHAR": "text",
    "LONG": "bigint",
    "BIGINT": "bigint",
    "INT": "integer",
    "INTEGER": "integer",
    "SHORT": "smallint",
    "SMALLINT": "smallint",
    "DOUBLE": "double precision",
    "FLOAT": "real",
    "REAL": "real",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp without time zone",
    "OBJECT": "object",
}
#: crate.client.converter.DataType ids for the col_types of a response.
_TYPE_IDS = {
    "text": 4,
    "bigint": 10,
    "integer": 9,
    "smallint": 8,
    "double precision": 6,
    "real": 7,
    "boolean": 3,
    "timestamp without time zone": 15,
    "timestamp with time zone": 11,
    "object": 12,
    "text_array": [100, 4],
    "bigint_array": [100, 10],
    "double precision_array": [100, 6],
    "boolean_array": [100, 3],
    "object_array": [100, 12],
}


@dataclass
class Column:
    name: str
    type: str
    indexed: bool = True
    not_null: bool = False


@dataclass
class Table:
    name: str
    columns: dict[str, Column]
    primary_key: list[str]
    settings: dict[str, Any] = field(default_factory=dict)
    clustered_by: str | None = None
    shards: int = 4
    #: Object sub-columns, by path (column, key, key, ...): their type.
    sub: dict[tuple[str, ...], str] = field(default_factory=dict)

    @property
    def limit(self) -> int:
        return int(self.settings.get("mapping.total_fields.limit", DEFAULT_TOTAL_FIELDS_LIMIT))

    def n_columns(self) -> int:
        """Columns as DocTableInfo.checkTotalColumnsLimit counts them: every column, object
        sub-columns included (server/src/main/java/io/crate/metadata/doc/DocTableInfo.java)."""
        return len(self.columns) + len(self.sub)


class RowError(Exception):
    """A runtime error of one row of a bulk request (reported as rowcount -2)."""

    def __init__(self, message: str, code: int = 4000) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# -- values ----------------------------------------------------------------------------------------


def _to_millis(value: Any, column: str) -> int:
    if isinstance(value, bool):
        raise RowError(f"Cannot cast value `{value}` to type `timestamp without time zone`")
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        text = value.rstrip("Z")
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise RowError(
                f"Cannot cast value `{value}` to type `timestamp without time zone`"
            ) from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        # Millisecond precision (docs/general/ddl/data-types.rst, TIMESTAMP): truncated.
        return (dt - _EPOCH) // timedelta(milliseconds=1)
    raise RowError(f"Cannot cast value `{value}` to type `timestamp without time zone`")


def _check_indexed_text(value: str, column: str) -> None:
    # docs/general/ddl/data-types.rst: "The maximum indexed string length is restricted to
    # 32766 bytes when encoded with UTF-8"; storage.rst: lift it with INDEX OFF.
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > MAX_INDEXED_TEXT_BYTES:
        raise RowError(
            f"IllegalArgumentException[Document contains at least one immense term in "
            f'field="{column}" (whose UTF8 encoding is longer than the max length '
            f"{MAX_INDEXED_TEXT_BYTES}), all of which were skipped.]"
        )


def _guess_type(value: Any) -> str | None:
    """server/src/main/java/io/crate/execution/dml/DynamicIndexer.java guessType: the type of a
    new dynamic column from its first value, upcast (integers become bigint); None: undefined."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, float):
        return "double precision"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        # server/src/main/java/io/crate/types/DataTypes.java typeFromList: one element type.
        inner = {t for t in map(_guess_type, value) if t is not None}
        if len(inner) > 1:
            raise RowError(
                "IllegalArgumentException[Mixed dataTypes inside a list are not supported. "
                f"Found {' and '.join(sorted(inner))}]"
            )
        return f"{inner.pop()}_array" if inner else None
    raise RowError(f"IllegalArgumentException[Cannot detect the type of the value: {value}]")


def _sanitize(value: Any, type_: str, where: str) -> Any:
    """``DataType.sanitizeValue`` of an existing column's type: a ClassCastException there is a
    ConversionException (ObjectIndexer.collectSchemaUpdates). Long and double take any Number
    (a double into a bigint column is truncated, not refused); text takes only strings;
    boolean takes booleans and numbers (server/src/main/java/io/crate/types/LongType.java,
    DoubleType.java, StringType.java, BooleanType.java)."""
    if value is None:
        return None
    ok = True
    if type_ in ("bigint", "integer", "smallint"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = int(value) if ok else value
    elif type_ in ("double precision", "real"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif type_ == "boolean":
        ok = isinstance(value, (bool, int, float))
        value = bool(value) if ok else value
    elif type_ == "text":
        ok = isinstance(value, str)
    elif type_ == "object":
        ok = isinstance(value, dict)
    elif type_.endswith("_array"):
        ok = isinstance(value, list)
    if not ok:
        shown = json.dumps(value)[:200]
        raise RowError(
            f"ConversionException[Cannot cast object element `{where}` with value `{shown}` "
            f"to type `{type_}`]"
        )
    return value


def _validate_key(key: str) -> None:
    # server/src/main/java/io/crate/metadata/ColumnIdent.java validateObjectKey.
    reason = None
    if "." in key:
        reason = "contains a dot"
    elif "[" in key:
        reason = "conflicts with subscript pattern, square brackets are not allowed"
    elif any(c in key for c in "\t\n\r"):
        reason = "contains illegal whitespace character"
    if reason is not None:
        raise RowError(f'InvalidColumnNameException["{key}" {reason}]')


def _index_object(
    table: Table, path: tuple[str, ...], value: dict[str, Any], new: dict[tuple[str, ...], str]
) -> dict[str, Any]:
    """``value`` as stored: type-checked against the sub-columns of ``path``, new ones recorded
    in ``new`` (server/src/main/java/io/crate/execution/dml/ObjectIndexer.java: known children
    are sanitized to their type, unknown ones typed by DynamicIndexer.guessType)."""
    out = {}
    for key, inner in value.items():
        _validate_key(key)
        out[key] = _index_value(table, (*path, key), inner, new)
    return out


def _index_value(
    table: Table, path: tuple[str, ...], value: Any, new: dict[tuple[str, ...], str]
) -> Any:
    known = table.sub.get(path) or new.get(path)
    if known is None:
        known = _guess_type(value)
        if known is None:
            return value
        new[path] = known
    return _index_typed(table, path, value, known, new)


def _index_typed(
    table: Table, path: tuple[str, ...], value: Any, type_: str, new: dict[tuple[str, ...], str]
) -> Any:
    where = path[0] + "".join(f"['{k}']" for k in path[1:])
    value = _sanitize(value, type_, where)
    if value is None:
        return None
    if type_ == "text":
        _check_indexed_text(value, where)  # sub-columns are indexed (IndexType.PLAIN)
    elif type_ == "object":
        return _index_object(table, path, value, new)
    elif type_.endswith("_array"):
        inner = type_.removesuffix("_array")
        return [_index_typed(table, path, item, inner, new) for item in value]
    return value


# -- the database ----------------------------------------------------------------------------------


class StandIn:
    """The stand-in's state: a catalog, a live SQLite database that writes and primary-key
    lookups use, and a searchable copy that other reads use (updated by REFRESH)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        live, searchable = directory / "live.db", directory / "searchable.db"
        for path in (live, searchable):
            path.unlink(missing_ok=True)
        self.live = self._open(live, searchable, "searchable")
        self.search = self._open(searchable, live, "live")
        self.tables: dict[str, Table] = {}
        self.blob_tables: dict[str, dict[str, bytes]] = {}
        self.lock = threading.RLock()

    @staticmethod
    def _open(main: Path, other: Path, alias: str) -> sqlite3.Connection:
        conn = sqlite3.connect(main, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"ATTACH DATABASE '{other}' AS {alias}")
        conn.execute("ATTACH DATABASE ':memory:' AS information_schema")
        conn.create_function("regexp", 2, _regexp, deterministic=True)
        return conn

    # -- entry point

    def sql(self, stmt: str, args: list[Any] | None, bulk_args: list[list[Any]] | None) -> Any:
        check_syntax(stmt)
        toks = tokenize(stmt)
        if not toks:
            raise SQLError("SQLParseException[empty statement]")
        with self.lock:
            start = time.perf_counter()
            result = self._dispatch(toks, args or [], bulk_args)
            result["duration"] = (time.perf_counter() - start) * 1000
            return result

    def _dispatch(self, toks: list[Tok], args: list[Any], bulk: list[list[Any]] | None) -> Any:
        head = toks[0].text.upper()
        second = toks[1].text.upper() if len(toks) > 1 else ""
        if bulk is not None and head not in ("INSERT", "UPDATE", "DELETE"):
            # docs/interfaces/http.rst, "Bulk operations": only INSERT, UPDATE and DELETE.
            raise SQLError("UnsupportedFeatureException[Bulk operations are not supported]")
        if head == "SELECT":
            return self._select(toks, args)
        if head == "INSERT":
            return self._insert(toks, args, bulk)
        if head in ("UPDATE", "DELETE"):
            rows = bulk if bulk is not None else [args]
            counts = [self._update_or_delete(toks, row) for row in rows]
            if bulk is not None:
                return {"cols": [], "results": [{"rowcount": c} for c in counts]}
            return {"cols": [], "rows": [], "rowcount": counts[0]}
        if head == "CREATE" and second == "TABLE":
            return self._create_table(toks)
        if head == "CREATE" and second == "BLOB":
            return self._create_blob_table(toks)
        if head == "DROP":
            return self._drop(toks)
        if head == "ALTER" and second == "TABLE":
            return self._alter_table(toks)
        if head == "ALTER" and second == "CLUSTER":
            return self._swap(toks)
        if head == "REFRESH":
            return self._refresh(toks)
        raise SQLError(f"UnsupportedFeatureException[the stand-in does not implement {head}]")

    # -- DDL

    def _table(self, name: str) -> Table:
        table = self.tables.get(name)
        if table is None:
            raise _unknown_relation(f"doc.{name}")
        return table

    def _create_table(self, toks: list[Tok]) -> Any:
        i = 2
        if toks[i].is_("IF"):
            i += 3
        name, i = _table_name(toks, i)
        if name in self.tables:
            if toks[2].is_("IF"):
                return {"cols": [], "rows": [], "rowcount": 0}
            # code 4093 in docs/interfaces/http.rst.
            raise SQLError(
                f"RelationAlreadyExists[Relation 'doc.{name}' already exists.]", 4093, 409
            )
        body, i = _parenthesized(toks, i)
        columns: dict[str, Column] = {}
        pk: list[str] = []
        for element in _split_commas(body):
            if element[0].is_("PRIMARY"):
                pk += [t.ident or "" for t in element[3:-1] if t.text != ","]
                continue
            column, is_pk = _column_def(element)
            columns[column.name] = column
            if is_pk:
                pk.append(column.name)
        table = Table(name, columns, pk)
        while i < len(toks):
            if toks[i].is_("CLUSTERED"):
                table.clustered_by = toks[i + 3].ident
                i += 5
                if i < len(toks) and toks[i].is_("INTO"):
                    table.shards = int(toks[i + 1].text)
                    i += 3
            elif toks[i].is_("WITH"):
                settings, i = _parenthesized(toks, i + 1)
                table.settings.update(_settings(settings))
            else:
                raise SQLError(
                    f"UnsupportedFeatureException[the stand-in does not implement "
                    f"{toks[i].text} in CREATE TABLE]"
                )
        for column in columns.values():
            column.not_null = column.not_null or column.name in pk
        self._check_limit(table, table.n_columns())
        defs = ", ".join(_qi(c) for c in columns)
        key = f", PRIMARY KEY ({', '.join(_qi(c) for c in pk)})" if pk else ""
        for schema in ("main", "searchable"):
            self.live.execute(f"CREATE TABLE {schema}.{_qi(name)} ({defs}{key})")
        self.tables[name] = table
        return {"cols": [], "rows": [], "rowcount": 1}

    def _create_blob_table(self, toks: list[Tok]) -> Any:
        name, _ = _table_name(toks, 3)
        if name in self.blob_tables:
            raise SQLError(
                f"RelationAlreadyExists[Relation 'blob.{name}' already exists.]", 4093, 409
            )
        self.blob_tables[name] = {}
        return {"cols": [], "rows": [], "rowcount": 1}

    def _drop(self, toks: list[Tok]) -> Any:
        blob = toks[1].is_("BLOB")
        i = 3 if blob else 2
        if_exists = toks[i].is_("IF")
        name, _ = _table_name(toks, i + 2 if if_exists else i)
        store: dict[str, Any] = self.blob_tables if blob else self.tables
        if name not in store:
            if if_exists:
                return {"cols": [], "rows": [], "rowcount": 0}
            raise _unknown_relation(f"{'blob' if blob else 'doc'}.{name}")
        del store[name]
        if not blob:
            for schema in ("main", "searchable"):
                self.live.execute(f"DROP TABLE {schema}.{_qi(name)}")
        return {"cols": [], "rows": [], "rowcount": 1}

    def _alter_table(self, toks: list[Tok]) -> Any:
        name, i = _table_name(toks, 2)
        table = self._table(name)
        if toks[i].is_("ADD"):
            i += 1 + int(toks[i + 1].is_("COLUMN"))
            column, _ = _column_def(toks[i:])
            if column.name in table.columns:
                raise SQLError(
                    f"ColumnAlreadyExistsException[Column '{column.name}' already exists]",
                    4000,
                )
            self._check_limit(table, table.n_columns() + 1)
            for schema in ("main", "searchable"):
                self.live.execute(f"ALTER TABLE {schema}.{_qi(name)} ADD COLUMN {_qi(column.name)}")
            table.columns[column.name] = column
            return {"cols": [], "rows": [], "rowcount": 1}
        if toks[i].is_("SET"):
            settings, _ = _parenthesized(toks, i + 1)
            table.settings.update(_settings(settings))
            return {"cols": [], "rows": [], "rowcount": 1}
        raise SQLError("UnsupportedFeatureException[the stand-in does not implement this ALTER]")

    def _check_limit(self, table: Table, n: int) -> None:
        # server/src/main/java/io/crate/metadata/doc/DocTableInfo.java checkTotalColumnsLimit.
        if n > table.limit:
            raise SQLError(
                f"IllegalArgumentException[Limit of total columns [{table.limit}] in table "
                f"[doc.{table.name}] exceeded]"
            )

    def _swap(self, toks: list[Tok]) -> Any:
        # ALTER CLUSTER SWAP TABLE source TO target [WITH (drop_source = true)]: both tables
        # must exist (server/src/main/java/io/crate/analyze/SwapTableAnalyzer.java resolves
        # both relations, RelationUnknown otherwise).
        source, i = _table_name(toks, 4)
        target, i = _table_name(toks, i + 1)
        drop_source = False
        if i < len(toks) and toks[i].is_("WITH"):
            options, _ = _parenthesized(toks, i + 1)
            drop_source = str(_settings(options).get("drop_source", False)).lower() == "true"
        a, b = self._table(source), self._table(target)
        for schema in ("main", "searchable"):
            tmp = _qi("__standin_swap")
            self.live.execute(f"ALTER TABLE {schema}.{_qi(source)} RENAME TO {tmp}")
            self.live.execute(f"ALTER TABLE {schema}.{_qi(target)} RENAME TO {_qi(source)}")
            self.live.execute(f"ALTER TABLE {schema}.{tmp} RENAME TO {_qi(target)}")
        a.name, b.name = target, source
        self.tables[target], self.tables[source] = a, b
        if drop_source:
            self._drop([Tok("word", "DROP"), Tok("word", "TABLE"), Tok("qid", _qi(source))])
        return {"cols": [], "rows": [], "rowcount": 1}

    def _refresh(self, toks: list[Tok]) -> Any:
        names = [t.ident or "" for t in toks[2:] if t.text != "," and t.kind in ("word", "qid")]
        names = [n for n in names if n != "doc"]
        # docs/general/dql/refresh.rst: "If one or more tables or partitions do not exist,
        # none of the given tables/partitions are refreshed and an error is returned."
        for name in names:
            self._table(name)
        for name in names:
            q = _qi(name)
            self.live.execute("BEGIN")
            self.live.execute(f"DELETE FROM searchable.{q}")
            cols = ", ".join(["rowid", *map(_qi, self.tables[name].columns)])  # rowid: _id
            self.live.execute(f"INSERT INTO searchable.{q} ({cols}) SELECT {cols} FROM main.{q}")
            self.live.execute("COMMIT")
        return {"cols": [], "rows": [], "rowcount": len(names)}

    # -- DML

    def _insert(self, toks: list[Tok], args: list[Any], bulk: list[list[Any]] | None) -> Any:
        name, i = _table_name(toks, 2)
        table = self._table(name)
        cols_toks, i = _parenthesized(toks, i)
        columns = [t.ident or "" for t in cols_toks if t.text != ","]
        for column in columns:
            if column not in table.columns:
                raise SQLError(f"ColumnUnknownException[Column {column} unknown]", 4043, 404)
        if not toks[i].is_("VALUES"):
            raise SQLError("UnsupportedFeatureException[the stand-in only inserts VALUES]")
        values_toks, i = _parenthesized(toks, i + 1)
        on_conflict = ""
        if i < len(toks):
            on_conflict = self._on_conflict(table, toks[i:])
        value_items = _split_commas(values_toks)
        if len(value_items) != len(columns):
            raise SQLError("SQLParseException[the numbers of columns and values differ]")
        placeholders = ", ".join(f"?{k + 1}" for k in range(len(columns)))
        sql = (
            f"INSERT INTO main.{_qi(name)} ({', '.join(map(_qi, columns))}) "
            f"SELECT {placeholders} {on_conflict}"
        )
        positions = _param_positions(value_items)
        literal_sql = None if positions is not None else _translate(values_toks, {}, table)
        rows = bulk if bulk is not None else [args]
        results: list[dict[str, Any]] = []
        errors = 0
        self.live.execute("BEGIN")
        try:
            for row in rows:
                try:
                    if positions is not None:
                        values = [row[k] if k < len(row) else None for k in positions]
                    else:  # literals or expressions: SQLite evaluates them
                        values = list(self.live.execute(f"SELECT {literal_sql}", row).fetchone())
                    results.append({"rowcount": self._insert_row(table, columns, sql, values)})
                except RowError as e:
                    if bulk is None:
                        self.live.execute("COMMIT")
                        status = 409 if e.code == 4091 else 400
                        raise SQLError(e.message, e.code, status) from None
                    # docs/interfaces/http.rst, "Bulk errors": a runtime error of one bulk
                    # operation is reported as rowcount -2 and the others go on.
                    result: dict[str, Any] = {"rowcount": -2}
                    if errors < BULK_ERRORS_WITH_PAYLOAD:
                        result["error"] = {"code": e.code, "message": e.message}
                    errors += 1
                    results.append(result)
        finally:
            if self.live.in_transaction:
                self.live.execute("COMMIT")
        if bulk is not None:
            return {"cols": [], "results": results}
        return {"cols": [], "rows": [], "rowcount": results[0]["rowcount"]}

    def _on_conflict(self, table: Table, toks: list[Tok]) -> str:
        if not toks[0].is_("ON"):
            raise SQLError("UnsupportedFeatureException[the stand-in does not implement this]")
        target_toks, i = _parenthesized(toks, 2)
        target = [t.ident or "" for t in target_toks if t.text != ","]
        # server/src/main/java/io/crate/analyze/InsertAnalyzer.java: the conflict target must
        # be exactly the primary key columns.
        if len(target) != len(table.primary_key):
            raise SQLError(
                f"IllegalArgumentException[Number of conflict targets ({target}) did not match "
                f"the number of primary key columns ({table.primary_key})]"
            )
        if set(target) != set(table.primary_key):
            raise SQLError(
                f"IllegalArgumentException[Conflict target ({target}) did not match the primary "
                f"key columns ({table.primary_key})]"
            )
        rest = toks[i:]
        keys = ", ".join(map(_qi, table.primary_key))
        if rest[0].is_("DO") and rest[1].is_("NOTHING"):
            return f"WHERE true ON CONFLICT ({keys}) DO NOTHING"
        if not (rest[0].is_("DO") and rest[1].is_("UPDATE") and rest[2].is_("SET")):
            raise SQLError("SQLParseException[ON CONFLICT needs DO NOTHING or DO UPDATE SET]")
        return f"WHERE true ON CONFLICT ({keys}) DO UPDATE SET {_translate(rest[3:], {}, table)}"

    def _insert_row(self, table: Table, columns: list[str], sql: str, row: list[Any]) -> int:
        values = list(row)
        new_sub: dict[tuple[str, ...], str] = {}
        for j, name in enumerate(columns):
            values_j = values[j] if j < len(values) else None
            values[j] = self._column_value(table, table.columns[name], values_j, new_sub)
        for column in table.columns.values():
            if column.not_null:
                given = column.name in columns and values[columns.index(column.name)] is not None
                if not given:
                    # docs/sql/statements/create-table.rst, NOT NULL constraint.
                    raise RowError(f'IllegalArgumentException["{column.name}" must not be null]')
        if new_sub and table.n_columns() + len(new_sub) > table.limit:
            # DocTableInfo.checkTotalColumnsLimit runs when a row adds dynamic columns.
            raise RowError(
                f"IllegalArgumentException[Limit of total columns [{table.limit}] in table "
                f"[doc.{table.name}] exceeded]"
            )
        try:
            cursor = self.live.execute(sql, values)
        except sqlite3.IntegrityError:
            # code 4091 in docs/interfaces/http.rst ("Bulk errors" shows it as a row error).
            raise RowError(
                "DuplicateKeyException[A document with the same primary key exists already]", 4091
            ) from None
        table.sub.update(new_sub)
        return max(cursor.rowcount, 0)

    def _column_value(
        self, table: Table, column: Column, value: Any, new_sub: dict[tuple[str, ...], str]
    ) -> Any:
        if value is None:
            return None
        type_ = column.type
        if type_ == "object":
            if not isinstance(value, dict):
                raise RowError(f"Cannot cast value `{value}` to type `object`")
            return json.dumps(_index_object(table, (column.name,), value, new_sub))
        if type_ == "timestamp without time zone":
            return _to_millis(value, column.name)
        if type_ == "text":
            if not isinstance(value, str):
                value = json.dumps(value)
            if column.indexed:
                _check_indexed_text(value, column.name)
            return value
        try:
            return _sanitize(value, type_, column.name)
        except RowError:
            raise RowError(f"Cannot cast value `{value}` to type `{type_}`") from None

    def _update_or_delete(self, toks: list[Tok], args: list[Any]) -> int:
        delete = toks[0].is_("DELETE")
        name, i = _table_name(toks, 2 if delete else 1)
        table = self._table(name)
        where_at = next((j for j in range(i, len(toks)) if toks[j].is_("WHERE")), len(toks))
        where = toks[where_at + 1 :]
        q = _qi(name)
        cond = _translate(where, {}, table) if where else "true"
        args = [self._param_value(a) for a in _coerce_params(toks, args, {name: table})]
        if where and _is_primary_key_lookup(table, where):
            target = "true"
            condition = cond
        else:
            # docs/sql/statements/refresh.rst: "Without an explicit REFRESH, other statements
            # like UPDATE, DELETE or SELECT won't see data until the periodic refresh happens."
            keys = ", ".join(map(_qi, table.primary_key)) or "rowid"
            target = f"({keys}) IN (SELECT {keys} FROM searchable.{q} AS {q} WHERE {cond})"
            condition = "true"
        if delete:
            sql = f"DELETE FROM main.{q} WHERE {target} AND ({condition})"
        else:
            assignments = _translate(toks[i + 1 : where_at], {}, table)
            sql = f"UPDATE main.{q} SET {assignments} WHERE {target} AND ({condition})"
        return self.live.execute(sql, args).rowcount

    @staticmethod
    def _param_value(value: Any) -> Any:
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        return value

    # -- SELECT

    def _select(self, toks: list[Tok], args: list[Any]) -> Any:
        tables = {t.ident: self.tables[t.ident] for t in toks if t.ident in self.tables}
        info = any(t.ident == "information_schema" for t in toks)
        if any(t.ident == "sys" for t in toks) and not tables:
            raise SQLError("UnsupportedFeatureException[the stand-in has no sys tables]")
        single = next(iter(tables.values())) if len(tables) == 1 else None
        sql = _translate(toks, tables, single)
        args = [self._param_value(a) for a in _coerce_params(toks, args, tables)]
        conn = self.search
        where = _top_level_where(toks)
        if single is not None and where is not None and _is_primary_key_lookup(single, where):
            # docs/concepts/storage-consistency.rst: a query that results in a "get" (a primary
            # key lookup, server/src/main/java/io/crate/planner/WhereClauseOptimizer.java and
            # analyze/where/DocKeys.java) sees the latest write; every other read sees the
            # table as of its last refresh.
            conn = self.live
        if info:
            self._fill_information_schema(conn)
        try:
            cursor = conn.execute(sql, args)
        except sqlite3.Error as e:
            missing = re.match(r"no such table: (?:\w+\.)?(.+)", str(e))
            if missing:
                raise _unknown_relation(f"doc.{missing.group(1)}") from None
            raise SQLError(f"SQLParseException[{e} (the stand-in ran: {sql})]") from None
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        items = _select_items(toks)
        types = [
            _item_type(items[k], tables) if len(items) == len(names) else None
            for k in range(len(names))
        ]
        types = [t or _result_type(n, tables) for t, n in zip(types, names, strict=True)]
        out_rows = [[_out(v, t) for v, t in zip(row, types, strict=True)] for row in rows]
        return {
            "cols": names,
            "col_types": [
                _TYPE_IDS.get(t or "", _type_id_of(rows, k)) for k, t in enumerate(types)
            ],
            "rows": out_rows,
            "rowcount": len(out_rows),
        }

    def _fill_information_schema(self, conn: sqlite3.Connection) -> None:
        """information_schema as docs/interfaces/... and
        server/src/main/java/io/crate/metadata/information/*TableInfo.java describe it (only
        the columns runtable and sqlalchemy-cratedb read)."""
        ddl = {
            "tables": "table_catalog, table_schema, table_name, table_type, number_of_shards, "
            "clustered_by, settings",
            "columns": "table_catalog, table_schema, table_name, column_name, ordinal_position, "
            "data_type, is_nullable, character_maximum_length, column_default, is_generated",
            "schemata": "schema_name",
            "views": "table_catalog, table_schema, table_name, view_definition",
            "key_column_usage": "constraint_name, table_catalog, table_schema, table_name, "
            "column_name, ordinal_position",
            "table_constraints": "constraint_name, table_catalog, table_schema, table_name, "
            "constraint_type",
        }
        for name, columns in ddl.items():
            conn.execute(f"DROP TABLE IF EXISTS information_schema.{name}")
            conn.execute(f"CREATE TABLE information_schema.{name} ({columns})")
        for schema in ("blob", "doc", "information_schema", "pg_catalog", "sys"):
            conn.execute("INSERT INTO information_schema.schemata VALUES (?)", (schema,))
        for table in self.tables.values():
            settings = {
                "mapping": {"total_fields": {"limit": table.limit}, "depth": {"limit": 100}},
                "number_of_replicas": "0-1",
                "refresh_interval": 1000,
            }
            conn.execute(
                "INSERT INTO information_schema.tables VALUES ('crate', 'doc', ?, 'BASE TABLE', "
                "?, ?, ?)",
                (table.name, table.shards, table.clustered_by, json.dumps(settings)),
            )
            position = 0
            for column in table.columns.values():
                position += 1
                conn.execute(
                    "INSERT INTO information_schema.columns VALUES "
                    "('crate', 'doc', ?, ?, ?, ?, ?, NULL, NULL, false)",
                    (table.name, column.name, position, column.type, not column.not_null),
                )
            for path, type_ in table.sub.items():
                position += 1
                subscript = path[0] + "".join(f"['{k}']" for k in path[1:])
                conn.execute(
                    "INSERT INTO information_schema.columns VALUES "
                    "('crate', 'doc', ?, ?, ?, ?, true, NULL, NULL, false)",
                    (table.name, subscript, position, type_),
                )
            for k, column in enumerate(table.primary_key):
                conn.execute(
                    "INSERT INTO information_schema.key_column_usage VALUES "
                    "(?, 'crate', 'doc', ?, ?, ?)",
                    (f"{table.name}_pk", table.name, column, k + 1),
                )
            if table.primary_key:
                conn.execute(
                    "INSERT INTO information_schema.table_constraints VALUES "
                    "(?, 'crate', 'doc', ?, 'PRIMARY KEY')",
                    (f"{table.name}_pk", table.name),
                )
        for name in self.blob_tables:
            conn.execute(
                "INSERT INTO information_schema.tables VALUES ('crate', 'blob', ?, 'BASE TABLE', "
                "4, 'digest', '{}')",
                (name,),
            )


_COMPARISONS = ("=", "<", ">", "<=", ">=", "<>", "!=")


def _coerce_params(toks: list[Tok], args: list[Any], tables: dict[str, Table]) -> list[Any]:
    """Parameters compared with or assigned to a timestamp column, as epoch milliseconds (the
    analyzer casts a parameter to the type of the column it meets)."""
    args = list(args)
    n_question = 0
    for j, t in enumerate(toks):
        if t.kind != "param":
            continue
        n_question += t.text == "?"
        index = n_question - 1 if t.text == "?" else int(t.text[1:]) - 1
        if j < 2 or toks[j - 1].text not in _COMPARISONS or index >= len(args):
            continue
        name = toks[j - 2].ident
        types = {tb.columns[name].type for tb in tables.values() if name in tb.columns}
        if types & {"timestamp without time zone", "timestamp with time zone"}:
            with contextlib.suppress(RowError):
                args[index] = _to_millis(args[index], name or "")
    return args


def _param_positions(items: list[list[Tok]]) -> list[int] | None:
    """The argument index of each VALUES item when every item is one parameter, else None."""
    positions = []
    n_question = 0
    for item in items:
        if len(item) != 1 or item[0].kind != "param":
            return None
        if item[0].text == "?":
            positions.append(n_question)
            n_question += 1
        else:
            positions.append(int(item[0].text[1:]) - 1)
    return positions


def _regexp(pattern: str, value: Any) -> bool:
    return value is not None and re.fullmatch(pattern, str(value)) is not None


def _table_name(toks: list[Tok], i: int) -> tuple[str, int]:
    """A (maybe schema-qualified) table name at ``toks[i]``: the name and the next index."""
    name = toks[i].ident or ""
    if i + 2 < len(toks) and toks[i + 1].text == ".":
        if name not in ("doc", "blob"):
            raise SQLError(f"SchemaUnknownException[Schema '{name}' unknown]", 4045, 404)
        return toks[i + 2].ident or "", i + 3
    return name, i + 1


def _parenthesized(toks: list[Tok], i: int) -> tuple[list[Tok], int]:
    if toks[i].text != "(":
        raise SQLError(f"SQLParseException[expected ( at {toks[i].text}]")
    depth = 0
    for j in range(i, len(toks)):
        depth += {"(": 1, ")": -1}.get(toks[j].text, 0) if toks[j].kind == "op" else 0
        if depth == 0:
            return toks[i + 1 : j], j + 1
    raise SQLError("SQLParseException[unbalanced parentheses]")


def _split_commas(toks: list[Tok]) -> list[list[Tok]]:
    parts: list[list[Tok]] = [[]]
    depth = 0
    for t in toks:
        if t.kind == "op" and t.text == "(":
            depth += 1
        elif t.kind == "op" and t.text == ")":
            depth -= 1
        if depth == 0 and t.text == "," and t.kind == "op":
            parts.append([])
        else:
            parts[-1].append(t)
    return [p for p in parts if p]


def _column_def(toks: list[Tok]) -> tuple[Column, bool]:
    name = toks[0].ident or ""
    word = toks[1].text.upper()
    if word not in _TYPE_WORDS:
        raise SQLError(f"UnsupportedFeatureException[the stand-in has no type {toks[1].text}]")
    column = Column(name, _TYPE_WORDS[word])
    words = [t.text.upper() for t in toks[2:]]
    if word == "TIMESTAMP" and words[:1] == ["WITH"] and words[1:3] == ["TIME", "ZONE"]:
        column.type = "timestamp with time zone"
    text = " ".join(words)
    column.indexed = "INDEX OFF" not in text
    column.not_null = "NOT NULL" in text
    return column, "PRIMARY KEY" in text


def _settings(toks: list[Tok]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in _split_commas(toks):
        key = part[0].ident or ""
        value: Any = part[2].text
        if part[2].kind == "str":
            value = _string_value(part[2])
        elif part[2].kind == "num":
            value = int(float(value))
        out[key] = value
    return out


def _top_level_where(toks: list[Tok]) -> list[Tok] | None:
    """The tokens of a SELECT's WHERE clause (up to ORDER/GROUP/LIMIT), None without one."""
    depth = 0
    start = None
    for j, t in enumerate(toks):
        if t.kind == "op" and t.text in "()":
            depth += 1 if t.text == "(" else -1
        elif depth == 0 and t.is_("WHERE"):
            start = j + 1
        elif depth == 0 and start is not None and t.is_("ORDER", "GROUP", "LIMIT", "HAVING"):
            return toks[start:j]
    return toks[start:] if start is not None else None


def _is_primary_key_lookup(table: Table, where: list[Tok]) -> bool:
    """Whether a WHERE clause fixes every primary key column to given values (``pk = v`` or
    ``pk IN (v, ...)`` joined by AND): CrateDB then plans a Get
    (server/src/main/java/io/crate/planner/WhereClauseOptimizer.java, DocKeys)."""
    if not table.primary_key:
        return False
    fixed: set[str] = set()
    for conjunct in _split_and(where):
        if conjunct is None:
            return False
        toks = conjunct
        if len(toks) >= 3 and toks[1].text == "." and toks[0].ident == table.name:
            toks = toks[2:]
        name = toks[0].ident if toks else None
        if name in table.primary_key and len(toks) == 3 and toks[1].text == "=":
            if toks[2].kind in ("param", "str", "num"):
                fixed.add(name)
        elif name in table.primary_key and len(toks) > 2 and toks[1].is_("IN"):
            inner = toks[3:-1]
            if all(t.kind in ("param", "str", "num") or t.text == "," for t in inner):
                fixed.add(name)
    return fixed == set(table.primary_key)


def _split_and(toks: list[Tok]) -> Iterator[list[Tok] | None]:
    depth = 0
    part: list[Tok] = []
    for t in toks:
        if t.kind == "op" and t.text in "()":
            depth += 1 if t.text == "(" else -1
        if depth == 0 and t.is_("OR"):
            yield None
            return
        if depth == 0 and t.is_("AND"):
            yield part
            part = []
        else:
            part.append(t)
    if part and part[0].text == "(" and part[-1].text == ")":
        yield from _split_and(part[1:-1])
    else:
        yield part


def _translate(toks: list[Tok], tables: dict[str, Table], single: Table | None) -> str:
    """CrateDB expression tokens as SQLite SQL: ``$n`` parameters, subscripts of object columns
    (``col['a']['b']``) as json_extract, ``!~`` as NOT REGEXP, schema ``doc.`` dropped."""
    out: list[str] = []
    n_param = 0
    j = 0
    while j < len(toks):
        t = toks[j]
        if t.kind == "param":
            if t.text == "?":
                n_param += 1
                out.append(f"?{n_param}")
            else:
                out.append("?" + t.text[1:])
        elif t.ident == "doc" and j + 1 < len(toks) and toks[j + 1].text == ".":
            j += 2
            continue
        elif t.text == "[" and out:
            keys = []
            while j < len(toks) and toks[j].text == "[":
                keys.append(_string_value(toks[j + 1]) if toks[j + 1].kind == "str" else None)
                j += 3
            if None in keys:
                raise SQLError("UnsupportedFeatureException[the stand-in subscripts by name only]")
            base = out.pop()
            if out and out[-1] == ".":
                out.pop()
                base = out.pop() + "." + base
            path = "$" + "".join('."' + k.replace('"', '\\"') + '"' for k in keys)
            out.append(f"json_extract({base}, '{path}')")
            continue
        elif t.text in ("!~", "!~*"):
            out.append("NOT REGEXP")
        elif t.text in ("~", "~*"):
            out.append("REGEXP")
        elif t.is_("ILIKE"):
            out.append("LIKE")
        elif t.kind == "word" and t.text.upper() in ("TRUE", "FALSE"):
            out.append("1" if t.text.upper() == "TRUE" else "0")
        elif t.kind == "word":
            out.append(t.text if not _reserved_in_sqlite(t.text) else _qi(t.text.lower()))
        else:
            out.append(t.text)
        j += 1
    return " ".join(out).replace(" . ", ".")


def _reserved_in_sqlite(word: str) -> bool:
    return False


def _select_items(toks: list[Tok]) -> list[list[Tok]]:
    """The items of a SELECT list (between SELECT [DISTINCT] and the top-level FROM)."""
    depth = 0
    start = 2 if len(toks) > 1 and toks[1].is_("DISTINCT") else 1
    for j, t in enumerate(toks):
        if t.kind == "op" and t.text in "()":
            depth += 1 if t.text == "(" else -1
        elif depth == 0 and t.is_("FROM"):
            return _split_commas(toks[start:j])
    return _split_commas(toks[start:])


def _item_type(item: list[Tok], tables: dict[str, Table]) -> str | None:
    """The type CrateDB reports for a select item that is a column, ``MIN``/``MAX`` of one or
    an object subscript; None for anything else (then guessed from the values)."""
    if len(item) > 2 and item[-2].is_("AS"):
        item = item[:-2]
    if len(item) > 3 and item[0].is_("MIN", "MAX") and item[1].text == "(":
        item = item[2:-1]
    if len(item) >= 3 and item[1].text == "." and item[0].ident in tables:
        item = item[2:]
    name = item[0].ident if item else None
    for table in tables.values():
        if name in table.columns and len(item) == 1:
            return table.columns[name].type
        if name in table.columns and all(t.kind == "str" or t.text in "[]" for t in item[1:]):
            path = (name, *(_string_value(t) for t in item[1:] if t.kind == "str"))
            return table.sub.get(path)
    return None


def _result_type(name: str, tables: dict[str, Table]) -> str | None:
    for table in tables.values():
        column = table.columns.get(name)
        if column is not None:
            return column.type
    return "object" if name == "settings" else None


def _type_id_of(rows: Sequence[Sequence[Any]], k: int) -> int:
    for row in rows:
        v = row[k]
        if isinstance(v, bool):
            return 3
        if isinstance(v, int):
            return 10
        if isinstance(v, float):
            return 6
        if isinstance(v, str):
            return 4
    return 0


def _out(value: Any, type_: str | None) -> Any:
    if value is None:
        return None
    if type_ == "boolean":
        return bool(value)
    if type_ in ("object",) or (type_ or "").endswith("_array"):
        return json.loads(value) if isinstance(value, str) else value
    return value


# -- HTTP -----------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    """CrateDB's HTTP endpoints, as crate-python uses them (docs/interfaces/http.rst;
    docs/general/blobs.rst for /_blobs)."""

    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode())

    def _body(self, *, capped: bool = True) -> bytes | None:
        """The request body, decompressed; None (after answering 413) past the cap."""
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length)
        cap = self.server.max_content_length if capped else 1 << 62
        if self.headers.get("Content-Encoding", "").lower() in ("gzip", "deflate"):
            # Netty4HttpServerTransport puts HttpContentDecompressor before the
            # HttpObjectAggregator: the cap applies to the decompressed body.
            inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)
            data = inflater.decompress(data, cap + 1)
        if len(data) > cap:
            # server/src/main/java/org/elasticsearch/http/netty4/Netty4HttpServerTransport.java:
            # HttpObjectAggregator(max_content_length) answers 413 Request Entity Too Large.
            self.close_connection = True
            self._send(413, b"", "text/plain")
            return None
        return data

    def do_GET(self) -> None:
        if self.path.startswith("/_blobs/"):
            self._blob("GET")
            return
        self._json(
            200,
            {
                "ok": True,
                "status": 200,
                "name": "runtable-stand-in",
                "cluster_name": "stand-in (not CrateDB)",
                "version": {"number": VERSION, "build_snapshot": False},
            },
        )

    def do_HEAD(self) -> None:
        self._blob("HEAD")

    def do_DELETE(self) -> None:
        self._blob("DELETE")

    def do_PUT(self) -> None:
        self._blob("PUT")

    def do_POST(self) -> None:
        body = self._body()
        if body is None:
            return
        if not self.path.startswith("/_sql"):
            self._json(404, {"error": {"message": f"no handler for {self.path}", "code": 4040}})
            return
        try:
            request = json.loads(body)
            stmt = request["stmt"]
            result = self.server.db.sql(stmt, request.get("args"), request.get("bulk_args"))
        except SQLError as e:
            self._json(e.status, {"error": {"message": e.message, "code": e.code}})
            return
        except Exception as e:  # a defect of the stand-in: say so, like a 5000 error
            message = f"stand-in failure: {type(e).__name__}: {e}"
            self._json(500, {"error": {"message": message, "code": 5000}})
            return
        self._json(200, result)

    def _blob(self, method: str) -> None:
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) != 3 or parts[0] != "_blobs":
            self._send(404)
            return
        _, table, digest = parts
        db = self.server.db
        with db.lock:
            blobs = db.blob_tables.get(table)
        if method == "PUT":
            # Netty4HttpServerTransport: the blob handler comes before the aggregator, so
            # blob uploads are not capped by http.max_content_length.
            body = self._body(capped=False)
            if body is None:
                return
            if blobs is None:
                self._send(404)
                return
            if hashlib.sha1(body).hexdigest() != digest:
                self._send(400)  # docs/general/blobs.rst: the digest must match the content
                return
            with db.lock:
                if digest in blobs:
                    self._send(409)
                    return
                blobs[digest] = body
            self._send(201)
            return
        if blobs is None or digest not in blobs:
            self._send(404)
            return
        if method == "DELETE":
            with db.lock:
                blobs.pop(digest, None)
            self._send(204)
        else:
            self._send(200, blobs[digest], "application/octet-stream")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, db: StandIn, max_content_length: int) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.db = db
        self.max_content_length = max_content_length


@contextlib.contextmanager
def serving(directory: Path, max_content_length: int = DEFAULT_MAX_CONTENT_LENGTH) -> Iterator[int]:
    """Serve a stand-in in a thread of this process; yields its port."""
    server = Server(StandIn(directory), max_content_length)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True, help="directory for its SQLite files")
    parser.add_argument("--max-content-length", type=int, default=DEFAULT_MAX_CONTENT_LENGTH)
    options = parser.parse_args(argv)
    server = Server(StandIn(options.dir), options.max_content_length)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
