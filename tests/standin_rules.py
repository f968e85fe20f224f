"""CrateDB's rules for values, as the CrateDB stand-in enforces them: the catalog of a table,
dynamic object typing, key names, the indexed text limit and timestamps. Each rule cites the
CrateDB source (github.com/crate/crate) that states it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# -- catalog ---------------------------------------------------------------------------------------

TYPE_WORDS = {
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
TYPE_IDS = {
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


def to_millis(value: Any, column: str) -> int:
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
        return (dt - EPOCH) // timedelta(milliseconds=1)
    raise RowError(f"Cannot cast value `{value}` to type `timestamp without time zone`")


def check_indexed_text(value: str, column: str) -> None:
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


def sanitize(value: Any, type_: str, where: str) -> Any:
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


def index_object(
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
    value = sanitize(value, type_, where)
    if value is None:
        return None
    if type_ == "text":
        check_indexed_text(value, where)  # sub-columns are indexed (IndexType.PLAIN)
    elif type_ == "object":
        return index_object(table, path, value, new)
    elif type_.endswith("_array"):
        inner = type_.removesuffix("_array")
        return [_index_typed(table, path, item, inner, new) for item in value]
    return value
