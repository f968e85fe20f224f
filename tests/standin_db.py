"""The CrateDB stand-in's database: a catalog, SQLite for the rows, and CrateDB's rules."""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from standin_rules import (
    BULK_ERRORS_WITH_PAYLOAD,
    TYPE_IDS,
    TYPE_WORDS,
    Column,
    RowError,
    Table,
    check_indexed_text,
    index_object,
    sanitize,
    to_millis,
)
from standin_sql import (
    SQLError,
    Tok,
    check_syntax,
    param_positions,
    parenthesized,
    parse_settings,
    quoted,
    select_items,
    split_commas,
    string_value,
    table_name,
    tokenize,
    top_level_where,
    translate,
    unknown_relation,
)

# -- the database ----------------------------------------------------------------------------------


class StandIn:
    """The stand-in's state: a catalog, a live SQLite database that writes and primary-key
    lookups use, and a searchable copy that other reads use (updated by REFRESH)."""

    def __init__(self, directory: Path, schema: str = "doc") -> None:
        #: The schema whose tables these are (CrateDB creates schemas implicitly; the stand-in
        #: keeps one StandIn per schema and never joins across them).
        self.schema = schema
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
            raise unknown_relation(f"{self.schema}.{name}")
        return table

    def _create_table(self, toks: list[Tok]) -> Any:
        i = 2
        if toks[i].is_("IF"):
            i += 3
        name, i = table_name(toks, i)
        if name in self.tables:
            if toks[2].is_("IF"):
                return {"cols": [], "rows": [], "rowcount": 0}
            # code 4093 in docs/interfaces/http.rst.
            raise SQLError(
                f"RelationAlreadyExists[Relation '{self.schema}.{name}' already exists.]", 4093, 409
            )
        body, i = parenthesized(toks, i)
        columns: dict[str, Column] = {}
        pk: list[str] = []
        for element in split_commas(body):
            if element[0].is_("PRIMARY"):
                pk += [t.ident or "" for t in element[3:-1] if t.text != ","]
                continue
            column, is_pk = column_def(element)
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
                settings, i = parenthesized(toks, i + 1)
                table.settings.update(parse_settings(settings))
            else:
                raise SQLError(
                    f"UnsupportedFeatureException[the stand-in does not implement "
                    f"{toks[i].text} in CREATE TABLE]"
                )
        for column in columns.values():
            column.not_null = column.not_null or column.name in pk
        self._check_limit(table, table.n_columns())
        defs = ", ".join(quoted(c) for c in columns)
        key = f", PRIMARY KEY ({', '.join(quoted(c) for c in pk)})" if pk else ""
        for schema in ("main", "searchable"):
            self.live.execute(f"CREATE TABLE {schema}.{quoted(name)} ({defs}{key})")
        self.tables[name] = table
        return {"cols": [], "rows": [], "rowcount": 1}

    def _create_blob_table(self, toks: list[Tok]) -> Any:
        name, _ = table_name(toks, 3)
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
        name, _ = table_name(toks, i + 2 if if_exists else i)
        store: dict[str, Any] = self.blob_tables if blob else self.tables
        if name not in store:
            if if_exists:
                return {"cols": [], "rows": [], "rowcount": 0}
            raise unknown_relation(f"{'blob' if blob else self.schema}.{name}")
        del store[name]
        if not blob:
            for schema in ("main", "searchable"):
                self.live.execute(f"DROP TABLE {schema}.{quoted(name)}")
        return {"cols": [], "rows": [], "rowcount": 1}

    def _alter_table(self, toks: list[Tok]) -> Any:
        name, i = table_name(toks, 2)
        table = self._table(name)
        if toks[i].is_("ADD"):
            i += 1 + int(toks[i + 1].is_("COLUMN"))
            column, _ = column_def(toks[i:])
            if column.name in table.columns:
                raise SQLError(
                    f"ColumnAlreadyExistsException[Column '{column.name}' already exists]",
                    4000,
                )
            self._check_limit(table, table.n_columns() + 1)
            for schema in ("main", "searchable"):
                new = quoted(column.name)
                self.live.execute(f"ALTER TABLE {schema}.{quoted(name)} ADD COLUMN {new}")
            table.columns[column.name] = column
            return {"cols": [], "rows": [], "rowcount": 1}
        if toks[i].is_("SET"):
            settings, _ = parenthesized(toks, i + 1)
            table.settings.update(parse_settings(settings))
            return {"cols": [], "rows": [], "rowcount": 1}
        raise SQLError("UnsupportedFeatureException[the stand-in does not implement this ALTER]")

    def _check_limit(self, table: Table, n: int) -> None:
        # server/src/main/java/io/crate/metadata/doc/DocTableInfo.java checkTotalColumnsLimit.
        if n > table.limit:
            raise SQLError(
                f"IllegalArgumentException[Limit of total columns [{table.limit}] in table "
                f"[{self.schema}.{table.name}] exceeded]"
            )

    def _swap(self, toks: list[Tok]) -> Any:
        # ALTER CLUSTER SWAP TABLE source TO target [WITH (drop_source = true)]: both tables
        # must exist (server/src/main/java/io/crate/analyze/SwapTableAnalyzer.java resolves
        # both relations, RelationUnknown otherwise).
        source, i = table_name(toks, 4)
        target, i = table_name(toks, i + 1)
        drop_source = False
        if i < len(toks) and toks[i].is_("WITH"):
            options, _ = parenthesized(toks, i + 1)
            drop_source = str(parse_settings(options).get("drop_source", False)).lower() == "true"
        a, b = self._table(source), self._table(target)
        for schema in ("main", "searchable"):
            tmp, a_, b_ = quoted("__standin_swap"), quoted(source), quoted(target)
            self.live.execute(f"ALTER TABLE {schema}.{a_} RENAME TO {tmp}")
            self.live.execute(f"ALTER TABLE {schema}.{b_} RENAME TO {a_}")
            self.live.execute(f"ALTER TABLE {schema}.{tmp} RENAME TO {b_}")
        a.name, b.name = target, source
        self.tables[target], self.tables[source] = a, b
        if drop_source:
            self._drop([Tok("word", "DROP"), Tok("word", "TABLE"), Tok("qid", quoted(source))])
        return {"cols": [], "rows": [], "rowcount": 1}

    def _refresh(self, toks: list[Tok]) -> Any:
        names = [t.ident or "" for t in toks[2:] if t.text != "," and t.kind in ("word", "qid")]
        names = [n for n in names if n not in ("doc", self.schema)]
        # docs/general/dql/refresh.rst: "If one or more tables or partitions do not exist,
        # none of the given tables/partitions are refreshed and an error is returned."
        for name in names:
            self._table(name)
        for name in names:
            q = quoted(name)
            self.live.execute("BEGIN")
            self.live.execute(f"DELETE FROM searchable.{q}")
            cols = ", ".join(["rowid", *map(quoted, self.tables[name].columns)])  # rowid: _id
            self.live.execute(f"INSERT INTO searchable.{q} ({cols}) SELECT {cols} FROM main.{q}")
            self.live.execute("COMMIT")
        return {"cols": [], "rows": [], "rowcount": len(names)}

    # -- DML

    def _insert(self, toks: list[Tok], args: list[Any], bulk: list[list[Any]] | None) -> Any:
        name, i = table_name(toks, 2)
        table = self._table(name)
        cols_toks, i = parenthesized(toks, i)
        columns = [t.ident or "" for t in cols_toks if t.text != ","]
        for column in columns:
            if column not in table.columns:
                raise SQLError(f"ColumnUnknownException[Column {column} unknown]", 4043, 404)
        if not toks[i].is_("VALUES"):
            raise SQLError("UnsupportedFeatureException[the stand-in only inserts VALUES]")
        values_toks, i = parenthesized(toks, i + 1)
        on_conflict = ""
        if i < len(toks):
            on_conflict = self._on_conflict(table, toks[i:])
        value_items = split_commas(values_toks)
        if len(value_items) != len(columns):
            raise SQLError("SQLParseException[the numbers of columns and values differ]")
        placeholders = ", ".join(f"?{k + 1}" for k in range(len(columns)))
        sql = (
            f"INSERT INTO main.{quoted(name)} ({', '.join(map(quoted, columns))}) "
            f"SELECT {placeholders} {on_conflict}"
        )
        positions = param_positions(value_items)
        literal_sql = None if positions is not None else translate(values_toks)
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
        target_toks, i = parenthesized(toks, 2)
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
        keys = ", ".join(map(quoted, table.primary_key))
        if rest[0].is_("DO") and rest[1].is_("NOTHING"):
            return f"WHERE true ON CONFLICT ({keys}) DO NOTHING"
        if not (rest[0].is_("DO") and rest[1].is_("UPDATE") and rest[2].is_("SET")):
            raise SQLError("SQLParseException[ON CONFLICT needs DO NOTHING or DO UPDATE SET]")
        return f"WHERE true ON CONFLICT ({keys}) DO UPDATE SET {translate(rest[3:])}"

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
                f"[{self.schema}.{table.name}] exceeded]"
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
            return json.dumps(index_object(table, (column.name,), value, new_sub))
        if type_ == "timestamp without time zone":
            return to_millis(value, column.name)
        if type_ == "text":
            if not isinstance(value, str):
                value = json.dumps(value)
            if column.indexed:
                check_indexed_text(value, column.name)
            return value
        try:
            return sanitize(value, type_, column.name)
        except RowError:
            raise RowError(f"Cannot cast value `{value}` to type `{type_}`") from None

    def _update_or_delete(self, toks: list[Tok], args: list[Any]) -> int:
        delete = toks[0].is_("DELETE")
        name, i = table_name(toks, 2 if delete else 1)
        table = self._table(name)
        where_at = next((j for j in range(i, len(toks)) if toks[j].is_("WHERE")), len(toks))
        where = toks[where_at + 1 :]
        q = quoted(name)
        cond = translate(where) if where else "true"
        args = [self._param_value(a) for a in coerce_params(toks, args, {name: table})]
        if where and is_primary_key_lookup(table, where):
            target = "true"
            condition = cond
        else:
            # docs/sql/statements/refresh.rst: "Without an explicit REFRESH, other statements
            # like UPDATE, DELETE or SELECT won't see data until the periodic refresh happens."
            keys = ", ".join(map(quoted, table.primary_key)) or "rowid"
            target = f"({keys}) IN (SELECT {keys} FROM searchable.{q} AS {q} WHERE {cond})"
            condition = "true"
        if delete:
            sql = f"DELETE FROM main.{q} WHERE {target} AND ({condition})"
        else:
            assignments = translate(toks[i + 1 : where_at])
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
        sql = translate(toks)
        args = [self._param_value(a) for a in coerce_params(toks, args, tables)]
        conn = self.search
        where = top_level_where(toks)
        if single is not None and where is not None and is_primary_key_lookup(single, where):
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
                raise unknown_relation(f"{self.schema}.{missing.group(1)}") from None
            raise SQLError(f"SQLParseException[{e} (the stand-in ran: {sql})]") from None
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        items = select_items(toks)
        types = [
            item_type(items[k], tables) if len(items) == len(names) else None
            for k in range(len(names))
        ]
        types = [t or result_type(n, tables) for t, n in zip(types, names, strict=True)]
        out_rows = [[output_value(v, t) for v, t in zip(row, types, strict=True)] for row in rows]
        return {
            "cols": names,
            "col_types": [TYPE_IDS.get(t or "", type_id_of(rows, k)) for k, t in enumerate(types)],
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
        for schema in sorted(
            {"blob", "doc", "information_schema", "pg_catalog", "sys", self.schema}
        ):
            conn.execute("INSERT INTO information_schema.schemata VALUES (?)", (schema,))
        for table in self.tables.values():
            settings = {
                "mapping": {"total_fields": {"limit": table.limit}, "depth": {"limit": 100}},
                "number_of_replicas": "0-1",
                "refresh_interval": 1000,
            }
            conn.execute(
                "INSERT INTO information_schema.tables VALUES ('crate', ?, ?, 'BASE TABLE', "
                "?, ?, ?)",
                (self.schema, table.name, table.shards, table.clustered_by, json.dumps(settings)),
            )
            position = 0
            for column in table.columns.values():
                position += 1
                conn.execute(
                    "INSERT INTO information_schema.columns VALUES "
                    "('crate', ?, ?, ?, ?, ?, ?, NULL, NULL, false)",
                    (
                        self.schema,
                        table.name,
                        column.name,
                        position,
                        column.type,
                        not column.not_null,
                    ),
                )
            for path, type_ in table.sub.items():
                position += 1
                subscript = path[0] + "".join(f"['{k}']" for k in path[1:])
                conn.execute(
                    "INSERT INTO information_schema.columns VALUES "
                    "('crate', ?, ?, ?, ?, ?, true, NULL, NULL, false)",
                    (self.schema, table.name, subscript, position, type_),
                )
            for k, column in enumerate(table.primary_key):
                conn.execute(
                    "INSERT INTO information_schema.key_column_usage VALUES "
                    "(?, 'crate', ?, ?, ?, ?)",
                    (f"{table.name}_pk", self.schema, table.name, column, k + 1),
                )
            if table.primary_key:
                conn.execute(
                    "INSERT INTO information_schema.table_constraints VALUES "
                    "(?, 'crate', ?, ?, 'PRIMARY KEY')",
                    (f"{table.name}_pk", self.schema, table.name),
                )
        for name in self.blob_tables:
            conn.execute(
                "INSERT INTO information_schema.tables VALUES ('crate', 'blob', ?, 'BASE TABLE', "
                "4, 'digest', '{}')",
                (name,),
            )


_COMPARISONS = ("=", "<", ">", "<=", ">=", "<>", "!=")


def coerce_params(toks: list[Tok], args: list[Any], tables: dict[str, Table]) -> list[Any]:
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
                args[index] = to_millis(args[index], name or "")
    return args


def _regexp(pattern: str, value: Any) -> bool:
    return value is not None and re.fullmatch(pattern, str(value)) is not None


def column_def(toks: list[Tok]) -> tuple[Column, bool]:
    name = toks[0].ident or ""
    word = toks[1].text.upper()
    if word not in TYPE_WORDS:
        raise SQLError(f"UnsupportedFeatureException[the stand-in has no type {toks[1].text}]")
    column = Column(name, TYPE_WORDS[word])
    words = [t.text.upper() for t in toks[2:]]
    if word == "TIMESTAMP" and words[:1] == ["WITH"] and words[1:3] == ["TIME", "ZONE"]:
        column.type = "timestamp with time zone"
    text = " ".join(words)
    column.indexed = "INDEX OFF" not in text
    column.not_null = "NOT NULL" in text
    return column, "PRIMARY KEY" in text


def is_primary_key_lookup(table: Table, where: list[Tok]) -> bool:
    """Whether a WHERE clause fixes every primary key column to given values (``pk = v`` or
    ``pk IN (v, ...)`` joined by AND): CrateDB then plans a Get
    (server/src/main/java/io/crate/planner/WhereClauseOptimizer.java, DocKeys)."""
    if not table.primary_key:
        return False
    fixed: set[str] = set()
    for conjunct in split_and(where):
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


def split_and(toks: list[Tok]) -> Iterator[list[Tok] | None]:
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
        yield from split_and(part[1:-1])
    else:
        yield part


def item_type(item: list[Tok], tables: dict[str, Table]) -> str | None:
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
            path = (name, *(string_value(t) for t in item[1:] if t.kind == "str"))
            return table.sub.get(path)
    return None


def result_type(name: str, tables: dict[str, Table]) -> str | None:
    for table in tables.values():
        column = table.columns.get(name)
        if column is not None:
            return column.type
    return "object" if name == "settings" else None


def type_id_of(rows: Sequence[Sequence[Any]], k: int) -> int:
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


def output_value(value: Any, type_: str | None) -> Any:
    if value is None:
        return None
    if type_ == "boolean":
        return bool(value)
    if type_ in ("object",) or (type_ or "").endswith("_array"):
        return json.loads(value) if isinstance(value, str) else value
    return value
