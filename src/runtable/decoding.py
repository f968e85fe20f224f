"""Stored values back into Python values, for people who read runtable's tables with SQL.

Cells of ``blob`` columns, ``experiments.fields`` and ``experiments.config`` hold the codec's
bytes (`runtable.codec`; on CrateDB, their base64 text); ``runtable_exact`` holds, per row, a
codec map from column name to the codec bytes of that column's exact value. Decoding never
executes code.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from . import codec
from .errors import CodecError
from .names import EXACT_COLUMN

if TYPE_CHECKING:
    import pandas as pd

#: What every codec encoding starts with: ``RT`` and a version byte.
MAGIC = b"RT"


def decode(value: bytes | bytearray | memoryview | str) -> Any:
    """The Python value of one stored codec cell (bytes, or the base64 text CrateDB keeps).

    Arrays in it come back read-only (views of the cell's bytes where they can be); for
    writable copies, use ``runtable.codec.decode(data, writable=True)``. CodecError when it is
    not a codec encoding; never runs code from the data.
    """
    if isinstance(value, str):
        try:
            value = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as e:
            raise CodecError(f"not a stored codec value: {e}") from e
    return codec.decode(value)


def is_encoded(value: object) -> bool:
    """Whether ``value`` looks like codec bytes (starts with the magic and a version byte)."""
    if not isinstance(value, (bytes, bytearray, memoryview)):
        return False
    head = bytes(value[:3])
    return len(head) == 3 and head[:2] == MAGIC and 0 < head[2] <= codec.CODEC_VERSION


#: How codec bytes of each version begin once base64-encoded, as CrateDB keeps them in text
#: columns.
B64_MAGICS = tuple(
    base64.b64encode(MAGIC + bytes([version])).decode()
    for version in range(1, codec.CODEC_VERSION + 1)
)


def decode_cell(value: Any, column: str) -> Any:
    """A query result's cell decoded when it holds codec bytes, or their base64 text
    (CrateDB); the ``runtable_exact`` map into a dict of decoded values; anything else as it
    is."""
    if isinstance(value, str) and value.startswith(B64_MAGICS):
        try:
            value = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return value  # text that only looks like an encoding: leave it
    if not is_encoded(value):
        return value
    try:
        decoded = codec.decode(value)
        if column == EXACT_COLUMN and isinstance(decoded, dict):
            return {k: decode(v) if is_encoded(v) else v for k, v in decoded.items()}
    except CodecError:
        return value  # bytes that only look like an encoding: leave them
    return decoded


def decode_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every cell holding codec bytes decoded (a new DataFrame)."""
    import pandas as pd

    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if values.dtype == object or pd.api.types.is_string_dtype(values):  # base64 text too
            decoded = [decode_cell(v, str(column)) for v in values]
            out[column] = pd.Series(decoded, index=out.index, dtype=object)
    return out
