"""What CrateDB keeps of a dict in an ``OBJECT(DYNAMIC)`` column, decided before sending.

CrateDB types each key of an object column by its first value and refuses (or silently
changes) later values of another type, refuses some key names, and caps indexed text; in a bulk
insert a refused row does not fail the request. runtable therefore sends the OBJECT column only
the part of each dict CrateDB keeps unchanged; the exact dict is in the row's runtable_exact map.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

#: The types of object sub-columns (as information_schema.columns names them) that take a JSON
#: value of each Python type unchanged (CrateDB's LongType, DoubleType, StringType,
#: BooleanType sanitizeValue: a double into a bigint is truncated, a string into a number
#: refused).
_ACCEPTS: dict[type, tuple[str, ...]] = {
    bool: ("boolean",),
    int: ("bigint", "integer", "smallint", "double precision", "real"),
    float: ("double precision", "real"),
    str: ("text",),
    dict: ("object",),
}
#: The type CrateDB gives a new sub-column from its first value (DynamicIndexer.guessType).
_GUESSED = {bool: "boolean", int: "bigint", float: "double precision", str: "text", dict: "object"}
#: Indexed text is at most this many UTF-8 bytes (CrateDB docs, general/ddl/data-types.rst).
_MAX_INDEXED_TEXT_BYTES = 32_766
#: Characters CrateDB refuses in object keys (ColumnIdent.validateObjectKey).
_BAD_KEY_CHARACTERS = frozenset(".[\t\n\r")
_LEFT_OUT: Any = object()


def stored_columns(connection: Connection, table: str) -> tuple[dict[tuple[str, ...], str], int]:
    """The columns of ``table`` (quoted) by path, object sub-columns included, with their
    types; and the table's ``mapping.total_fields.limit``."""
    name = table.strip('"').replace('""', '"')
    dialect: Any = connection.dialect
    schema = dialect._get_effective_schema_name(connection) or dialect.default_schema_name
    where = "WHERE table_schema = ? AND table_name = ?"
    limit = connection.exec_driver_sql(
        "SELECT settings['mapping']['total_fields']['limit'] FROM information_schema.tables "
        + where,
        (schema, name),
    ).scalar()
    rows = connection.exec_driver_sql(
        "SELECT column_name, data_type FROM information_schema.columns " + where, (schema, name)
    ).all()
    columns = {_column_path(str(c)): str(t) for c, t in rows}
    return columns, int(limit) if limit is not None else 1000


def _column_path(column: str) -> tuple[str, ...]:
    """``metrics['a']['b']`` as ("metrics", "a", "b")."""
    head, bracket, rest = column.partition("['")
    if not bracket:
        return (column,)
    return (head, *rest.removesuffix("']").split("']['"))


def indexable(
    value: dict[str, Any],
    path: tuple[str, ...],
    known: dict[tuple[str, ...], str],
    new: dict[tuple[str, ...], str],
) -> dict[str, Any]:
    """The part of a dict that CrateDB indexes unchanged. Left out: keys CrateDB refuses as
    column names (with ``.``, ``[``, tab, newline or carriage return), text over 32,766 bytes
    (sub-columns are indexed), values of another type than the one their sub-column took from
    its first value (stored, or earlier in this insert), and lists of mixed types. The exact
    dict is in the row's runtable_exact map."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        if _BAD_KEY_CHARACTERS.intersection(key):
            continue
        kept = _crate_value(item, (*path, key), known, new)
        if kept is not _LEFT_OUT:
            out[key] = kept
    return out


def _crate_value(
    item: Any,
    path: tuple[str, ...],
    known: dict[tuple[str, ...], str],
    new: dict[tuple[str, ...], str],
) -> Any:
    if item is None:
        return None
    guessed = _crate_type(item)
    if guessed is None:
        return _LEFT_OUT
    type_ = known.get(path) or new.get(path)
    if type_ is not None and not _fits(item, type_):
        return _LEFT_OUT
    if _too_long(item):
        return _LEFT_OUT
    if type_ is None:
        new[path] = type_ = guessed
    if isinstance(item, dict):
        return indexable(item, path, known, new)
    if isinstance(item, list):
        return [x if not isinstance(x, dict) else indexable(x, path, known, new) for x in item]
    return item


def _too_long(item: Any) -> bool:
    if isinstance(item, str):
        return len(item.encode("utf-8", "surrogatepass")) > _MAX_INDEXED_TEXT_BYTES
    return isinstance(item, list) and any(_too_long(x) for x in item)


def _crate_type(item: Any) -> str | None:
    """The type CrateDB gives a new sub-column from ``item``; None for a value it refuses
    (a list of mixed types: DataTypes.guessType)."""
    if isinstance(item, list):
        inner = {_crate_type(x) for x in item if x is not None}
        if len(inner) > 1 or None in inner:
            return None
        return f"{inner.pop()}_array" if inner else None
    return _GUESSED.get(type(item))


def _fits(item: Any, type_: str) -> bool:
    """Whether CrateDB keeps ``item`` unchanged in a sub-column of ``type_``."""
    if isinstance(item, list):
        inner = type_.removesuffix("_array")
        return type_.endswith("_array") and all(x is None or _fits(x, inner) for x in item)
    return type_ in _ACCEPTS.get(type(item), ())
