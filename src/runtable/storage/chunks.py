"""Values too big for one database cell, stored in parts.

SQLite refuses cells past about 1 GB, PostgreSQL's bytea stops at 1 GB, and CrateDB requests
stop at 100 MB. An encoded value longer than the dialect's ``max_cell_bytes`` is therefore cut
into parts written to the table ``runtable_chunks`` (one row per part, each written by its own
statement, so no request holds more than one part), and its cell in the run table holds a short
reference instead. Loading reads the parts a slice at a time straight into one buffer of the
value's size.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import Any, Literal

import sqlalchemy as sa

TABLE = "runtable_chunks"
#: Starts a reference cell. Never the start of a codec value (those are b"RT" + version 1..).
MARK = b"RT\xffparts"
_HEADER = struct.Struct("<QI")  # total size, number of parts


def chunks_table(column: Callable[[str, Any], sa.Column[Any]]) -> sa.Table:
    """The parts table: one row per part of a big value."""
    return sa.Table(
        TABLE,
        sa.MetaData(),
        sa.Column("id_experiment", sa.String(32), primary_key=True),
        sa.Column("id_run", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("part", sa.Integer, primary_key=True, autoincrement=False),
        column("data", "blob"),
    )


def is_reference(value: Any) -> bool:
    """Whether a stored cell is a reference to parts."""
    return isinstance(value, (bytes, bytearray, memoryview)) and bytes(value[: len(MARK)]) == MARK


def split_big_values(
    columns: MutableMapping[str, list[Any]],
    names: Sequence[str],
    run_ids: Sequence[int],
    limit: int,
) -> list[tuple[int, str, Any]]:
    """Replace each value of ``names`` longer than ``limit``, or kept as the codec's buffers
    to be written in parts (``in_parts``), by a reference; return them."""
    big: list[tuple[int, str, Any]] = []
    for name in names:
        values = columns.get(name)
        if values is None:
            continue
        for i, value in enumerate(values):
            if value is not None and (len(value) > limit or getattr(value, "in_parts", False)):
                parts = sum(1 for _ in parts_of(value, limit))
                values[i] = MARK + _HEADER.pack(len(value), parts)
                big.append((run_ids[i], name, value))
    return big


def parts_of(value: Any, limit: int) -> Iterator[memoryview | bytes]:
    """The parts of a big value (bytes, or the codec's buffers), each at most ``limit`` bytes.

    Big buffers are cut into views of their own memory (no copy); small buffers (headers)
    are gathered into one part, the only bytes ever copied.
    """
    buffers = getattr(value, "buffers", None) or [value]
    small = bytearray()
    for buffer in buffers:
        view = memoryview(buffer).cast("B")
        if len(view) < _SMALL:
            small += view
            while len(small) >= limit:
                yield bytes(small[:limit])
                del small[:limit]
            continue
        if small:
            yield bytes(small)
            small = bytearray()
        for start in range(0, len(view), limit):
            yield view[start : start + limit]
    if small:
        yield bytes(small)


_SMALL = 1 << 20


#: Parts are read at most this many bytes at a time, straight into the value's buffer: reading
#: a 300 MB value peaks at its size plus one slice (and the driver's copy of one slice).
SLICE_BYTES = 4 * 1024 * 1024


def read_value(
    conn: sa.Connection, table: sa.Table, where: Sequence[Any], reference: bytes
) -> memoryview:
    """Put a big value back together from the parts that ``where`` selects, checking sizes.

    The parts are read slice by slice into one writable buffer of the value's size, handed
    over to the codec: ``decode(buffer, consume=True, writable=...)`` turns it into the value
    without copying its arrays, which are views of the buffer, read-only unless ``writable``
    (the same contract as for a value read from one cell). ValueError for missing or damaged
    parts (parts past those the reference names are not read).
    """
    total, count = _HEADER.unpack_from(bytes(reference), len(MARK))
    buffer = memoryview(bytearray(total))
    offset = 0
    for data in _slices(conn, table, where, count):
        end = offset + len(data)
        if end > total:
            raise ValueError(f"its parts add up to more than the {total} bytes recorded")
        buffer[offset:end] = data
        offset = end
    if offset != total:
        raise ValueError(f"{offset} of {total} bytes were found in its parts")
    return buffer


def _slices(
    conn: sa.Connection, table: sa.Table, where: Sequence[Any], count: int
) -> Iterator[bytes | memoryview]:
    """The bytes of parts 0 to ``count - 1``, in order, in slices of at most SLICE_BYTES (a
    whole part at a time where the backend has no way to read a slice cheaply)."""
    how = read_method(conn)
    if how == "whole_parts":  # by whole primary key: CrateDB sees such lookups before a refresh
        for part in range(count):
            query = sa.select(table.c.data).where(*where, table.c.part == part)
            yield _bytes(conn.execute(query).scalar(), part)
        return
    extra: tuple[Any, ...] = (
        (sa.literal_column("rowid"), sa.func.typeof(table.c.data))
        if how == "blob_io"
        else (sa.func.length(table.c.data),)
    )
    query = sa.select(table.c.part, *extra).where(*where, table.c.part < count)
    rows = conn.execute(query.order_by(table.c.part)).all()
    missing = sorted(set(range(count)) - {row[0] for row in rows})
    if missing:
        raise ValueError(f"part {missing[0]} of {count} is missing")
    if how == "blob_io":
        yield from _sqlite_slices(conn, rows)
        return
    for part, length in rows:
        for start in range(0, length or 0, SLICE_BYTES):  # substr counts from 1
            piece = sa.func.substr(table.c.data, start + 1, SLICE_BYTES)
            data = conn.execute(sa.select(piece).where(*where, table.c.part == part))
            yield _bytes(data.scalar(), part)


def read_method(conn: sa.Connection) -> Literal["blob_io", "substr", "whole_parts"]:
    """How parts are read on this connection: SQLite's incremental BLOB I/O, PostgreSQL's
    ``substr`` of a ``bytea``, else one whole part per query (CrateDB's parts are small)."""
    if conn.dialect.name == "sqlite" and hasattr(conn.connection.driver_connection, "blobopen"):
        return "blob_io"
    if conn.dialect.name == "postgresql":
        return "substr"
    return "whole_parts"


def _sqlite_slices(conn: sa.Connection, rows: Sequence[Any]) -> Iterator[bytes]:
    """SQLite: each part through incremental BLOB I/O on the connection's own transaction
    (``substr`` would load the whole part for every slice)."""
    import sqlite3

    blobs: Any = conn.connection.driver_connection
    for part, rowid, kind in rows:
        if kind != "blob":
            raise ValueError(f"part {part} is stored as {kind}, not as bytes")
        try:
            with blobs.blobopen(TABLE, "data", rowid, readonly=True) as blob:
                while data := blob.read(SLICE_BYTES):
                    yield data
        except sqlite3.Error as e:
            raise ValueError(f"part {part} cannot be read: {e}") from e


def _bytes(value: Any, part: int) -> bytes | memoryview:
    if isinstance(value, (bytes, memoryview)):
        return value
    if value is None:
        raise ValueError(f"part {part} is missing or empty")
    raise ValueError(f"part {part} holds a {type(value).__name__}, not bytes")
