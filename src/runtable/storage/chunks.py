"""Values too big for one database cell, stored in parts.

SQLite refuses cells past about 1 GB, PostgreSQL's bytea stops at 1 GB, and CrateDB requests
stop at 100 MB. An encoded value longer than the dialect's ``max_cell_bytes`` is therefore cut
into parts written to the table ``runtable_chunks`` (one row per part, each written by its own
statement, so no request holds more than one part), and its cell in the run table holds a short
reference instead. Loading puts the parts back together into one buffer of the value's size.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import Any

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
        sa.Column("id_run", sa.Integer, primary_key=True, autoincrement=False),
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
    """Replace each value of ``names`` longer than ``limit``, or kept as the codec's buffers,
    by a reference; return them."""
    big: list[tuple[int, str, Any]] = []
    for name in names:
        values = columns.get(name)
        if values is None:
            continue
        for i, value in enumerate(values):
            if value is not None and (len(value) > limit or hasattr(value, "buffers")):
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


def part_count(reference: bytes) -> int:
    """How many parts a reference cell says its value has."""
    return int(_HEADER.unpack_from(bytes(reference), len(MARK))[1])


def assemble(reference: bytes, parts: Iterator[bytes]) -> bytearray:
    """Put a value back together from its parts, checking the sizes."""
    total, count = _HEADER.unpack_from(bytes(reference), len(MARK))
    out = bytearray(total)
    offset = n = 0
    for data in parts:
        end = offset + len(data)
        if end > total:
            raise ValueError(f"its parts add up to more than the {total} bytes recorded")
        out[offset:end] = data
        offset, n = end, n + 1
    if offset != total or n != count:
        raise ValueError(f"{n} of {count} parts ({offset} of {total} bytes) were found")
    return out
