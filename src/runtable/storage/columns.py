"""How run values become SQL columns: one pure inference function and per-kind projections.

Each param or field is one column whose *kind* is inferred from the values of ALL runs:

=========  ======================================================================
kind       native SQL column holding
=========  ======================================================================
bool       booleans
int        64-bit integers (bools are widened to it)
float      doubles (ints and bools are widened to it)
str        text
datetime   naive timestamps (aware ones are projected to UTC)
json       dicts of JSON values (queryable with the database's JSON functions)
blob       the safe codec's bytes, for everything else
null       nothing yet: every value so far is ``None`` (widened when others come)
=========  ======================================================================

A value that the native column cannot hold exactly (NaN where the backend drops it, an int in a
float column, an array in a float column, an explicit ``None``, a tuple inside a dict, ...) is
stored twice: its closest native projection, so SQL still sees something sensible (or NULL), and
its exact codec encoding: in storage format 2 in the row's one ``runtable_exact`` map, in format
1 in a companion column ``<name>__exact``. Loading prefers the exact value. A value is *absent*
(the run never set it) when the native cell is NULL and there is no exact value.
"""

from __future__ import annotations

import math
import sys
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from .. import codec
from ..errors import CodecError, CorruptValueError, UnsupportedValueError
from ..frame import ABSENT, _Absent

Kind = Literal["bool", "int", "float", "str", "datetime", "json", "blob", "null"]
Role = Literal["param", "field"]
KINDS: tuple[Kind, ...] = ("bool", "int", "float", "str", "datetime", "json", "blob", "null")
COMPANION_SUFFIX = "__exact"

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_NUMERIC_ORDER: tuple[Kind, ...] = ("bool", "int", "float")


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend's native columns keep exactly."""

    nan: bool = False  #: NaN in a float column comes back as NaN
    infinity: bool = True  #: ±inf in a float column comes back
    negative_zero: bool = False  #: -0.0 keeps its sign
    nul_in_text: bool = False  #: text may contain U+0000
    max_text_bytes: int | None = None  #: longer strings go to the companion only
    timestamp_step_us: int = 1  #: timestamps are kept to this many microseconds
    json_exact: bool = True  #: JSON columns keep types and key order exactly
    widens_columns: bool = True  #: a column's type can change in place (int to float, ...)
    max_columns: int | None = None  #: columns a table may have
    max_fixed_row_bytes: int | None = None  #: bytes of a row's fixed-width cells (one page)
    #: The driver joins a `JoinAtBind` value as it binds its row (SQLite; PostgreSQL through
    #: psycopg 3), so a cell's joined bytes exist one at a time instead of all of them before
    #: the insert.
    joins_at_bind: bool = False


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """A stored param or field column: its kind and whether it has a companion column."""

    name: str
    role: Role
    kind: Kind
    exact: bool = False

    @property
    def companion(self) -> str:
        return self.name + COMPANION_SUFFIX

    def to_meta(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "kind": self.kind, "exact": self.exact}

    @classmethod
    def from_meta(cls, data: dict[str, Any]) -> ColumnSpec:
        if data.get("kind") not in KINDS or data.get("role") not in ("param", "field"):
            raise CodecError(f"stored column description is not understood: {data!r}")
        return cls(str(data["name"]), data["role"], data["kind"], bool(data.get("exact")))


def value_class(value: Any) -> Kind:
    """The native kind a single value belongs to (``blob`` when none fits)."""
    kind = _CLASS_BY_TYPE.get(type(value))
    if kind is not None:
        return kind
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.generic):
        if isinstance(value, np.bool_):
            return "bool"
        if isinstance(value, np.integer) and not isinstance(value, np.timedelta64):
            return "int"  # timedelta64 is an integer subclass, but its int() is no int
        if isinstance(value, np.floating) and value.dtype.itemsize <= 8:
            return "float"
        if isinstance(value, np.str_):
            return "str"
    return "blob"


_CLASS_BY_TYPE: dict[type, Kind] = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    datetime: "datetime",
    dict: "json",
}


def widened(stored: Kind, new: Kind) -> Kind | None:
    """The kind a stored column must become to hold values of kind ``new`` natively (an
    all-``None`` column takes any kind; bool < int < float widen), or None when it stays."""
    if stored == new or new == "null":
        return None
    if stored == "null":
        return new
    if stored in _NUMERIC_ORDER and new in _NUMERIC_ORDER:
        return new if _NUMERIC_ORDER.index(new) > _NUMERIC_ORDER.index(stored) else None
    return None


def infer_kind(values: Sequence[Any], types: AbstractSet[type] | None = None) -> Kind:
    """The kind of a column from the values of all runs (absent values and None ignored);
    ``types``: the set of the values' types, when the caller has it.

    Numeric columns take the widest kind present (bool < int < float). Otherwise the most
    common class wins and the minority is kept exactly in the companion column.
    """
    if types is None:
        types = set(map(type, values))
    if len(types) == 1:  # the common case, decided without looking at each value
        (only,) = types
        if only in _CLASS_BY_TYPE:
            return _CLASS_BY_TYPE[only]
    counts = Counter(value_class(v) for v in values if v is not None and v is not ABSENT)
    if not counts:
        return "null"
    if set(counts) <= set(_NUMERIC_ORDER):
        return max(counts, key=_NUMERIC_ORDER.index)
    return max(counts, key=lambda k: (counts[k], -KINDS.index(k)))


@dataclass(slots=True)
class EncodedColumn:
    """A column ready for the database: native values and, when needed, companion bytes."""

    native: list[Any]
    companion: list[bytes | None] | None


def encode_column(
    spec_kind: Kind,
    name: str,
    values: Sequence[Any],
    run_ids: Sequence[int],
    caps: Capabilities,
    skipped: list[UnsupportedValueError] | None = None,
    types: AbstractSet[type] | None = None,
) -> EncodedColumn:
    """Encode one column's values (``ABSENT`` for runs without it) for a column of ``spec_kind``
    (``types``: the set of the values' types, when the caller has it).

    Raises UnsupportedValueError naming the run and the field for a value the codec refuses;
    with a ``skipped`` list such values are left out (stored as absent) and their errors
    collected instead.
    """

    if spec_kind == "blob":
        lazy = caps.joins_at_bind
        blobs = [
            None if v is ABSENT else _encode(v, name, rid, skipped, lazy)
            for v, rid in zip(values, run_ids, strict=True)
        ]
        return EncodedColumn(blobs, None)
    if types is None:
        types = set(map(type, values))
    if _all_plain(spec_kind, values, caps, types):
        if _Absent in types:
            return EncodedColumn([None if v is ABSENT else v for v in values], None)
        return EncodedColumn(list(values), None)
    project = _PROJECTIONS[spec_kind]
    native: list[Any] = []
    companion: list[bytes | None] = []
    needs_companion = False
    for value, run_id in zip(values, run_ids, strict=True):
        if value is ABSENT:
            native.append(None)
            companion.append(None)
            continue
        projected, exact = project(value, caps) if value is not None else (None, False)
        if exact:
            native.append(projected)
            companion.append(None)
            continue
        exact_bytes = _encode(value, name, run_id, skipped)
        native.append(projected if exact_bytes is not None else None)
        companion.append(exact_bytes)
        needs_companion = needs_companion or exact_bytes is not None
    return EncodedColumn(native, companion if needs_companion else None)


def decode_column(
    kind: Kind,
    native: Sequence[Any],
    companion: Sequence[bytes | None] | None,
    *,
    experiment: str,
    name: str,
    run_ids: Sequence[int],
    writable: bool = False,
) -> Sequence[Any]:
    """Rebuild a column's values from what was stored; ``ABSENT`` where a run has none
    (the RunFrame of a load keeps it). Arrays are read-only (views of the fetched bytes)
    unless ``writable``. ``native`` itself comes back when it is exact as read (a float
    column the reader packed into ``array("d")`` among them)."""
    if kind == "blob":
        return [
            ABSENT if raw is None else _decode(raw, experiment, name, rid, writable)
            for raw, rid in zip(native, run_ids, strict=True)
        ]
    if isinstance(native, array) and kind == "float" and companion is None:
        return native  # gathered by the reader: floats only, no NULL (see bulk.select_columns)
    types = set(map(type, native))
    nulls = type(None) in types
    types.discard(type(None))
    out: list[Any]
    native_type = _NATIVE_TYPE.get(kind)
    if native_type is not None and not types <= {native_type}:  # 1 for 1.0, say, or damage
        convert = _FROM_NATIVE[kind]
        out = []
        for v, run_id in zip(native, run_ids, strict=True):
            try:
                out.append(ABSENT if v is None else convert(v))
            except (TypeError, ValueError) as e:  # text in a float column, say
                raise CorruptValueError(
                    experiment, run_id, name, f"{_short(v)} in the {kind} column: {e}"
                ) from e
    elif nulls:
        out = [ABSENT if v is None else v for v in native]
    elif companion is None:
        return native  # exact as read: no copy of the column
    else:
        out = list(native)
    if companion is not None:
        for i, raw in enumerate(companion):
            if raw is not None:
                out[i] = _decode(raw, experiment, name, run_ids[i], writable)
    return out


class Buffers:
    """A big encoded value kept as the codec's buffers (its arrays' own memory, not a joined
    copy); storage writes it in parts (see storage.chunks)."""

    __slots__ = ("buffers", "size")
    in_parts = True

    def __init__(self, buffers: list[bytes | memoryview]) -> None:
        self.buffers = buffers
        self.size = sum(memoryview(b).nbytes for b in buffers)

    def __len__(self) -> int:
        return self.size

    def join(self) -> bytes:
        """The encoding as one bytes object (one copy)."""
        return b"".join(self.buffers)


class JoinAtBind(Buffers):
    """An encoded value for one cell, kept as the codec's buffers until the driver binds its
    row (an adapter the dialect registers joins it then: sqlite3's, or psycopg 3's dumper; the
    joined copy is freed once bound). Writing N such values holds one joined copy at a time,
    not N."""

    __slots__ = ()
    in_parts = False


#: Encoded values at least this long stay as Buffers instead of one bytes object.
BUFFERS_ABOVE = 64 * 1024 * 1024
#: Encoded blob cells at least this long are joined at bind time where the driver can.
JOIN_AT_BIND_ABOVE = 1024 * 1024


def _encode(
    value: Any,
    name: str,
    run_id: int | None,
    skipped: list[UnsupportedValueError] | None = None,
    lazy: bool = False,
) -> bytes | None:
    """The codec bytes of ``value`` (None when refused and collected in ``skipped``); big
    ones as Buffers, cells past JOIN_AT_BIND_ABOVE as JoinAtBind when ``lazy``."""
    try:
        buffers = codec.encode_buffers(value)
    except UnsupportedValueError as e:
        located = e.located(run_id=run_id, field=name)
        if skipped is None:
            raise located from None
        skipped.append(located)
        return None
    if len(buffers) == 1:
        return bytes(buffers[0])
    big = Buffers(buffers)
    if big.size >= BUFFERS_ABOVE:
        return big  # type: ignore[return-value]  # written in parts, never bound whole
    if lazy and big.size >= JOIN_AT_BIND_ABOVE:
        return JoinAtBind(buffers)  # type: ignore[return-value]  # joined by the driver
    return big.join()


def _decode(
    raw: Any, experiment: str, name: str, run_id: int | None, writable: bool = False
) -> Any:
    try:
        # A writable memoryview is a value put together from its parts (storage.chunks), made
        # for this decode only: the codec may rearrange it to share its arrays' memory.
        handed_over = type(raw) is memoryview and not raw.readonly
        return codec.decode(raw, writable=writable, consume=handed_over)
    except CodecError as e:
        raise CorruptValueError(experiment, run_id, name, str(e)) from e


def _all_plain(
    kind: Kind, values: Sequence[Any], caps: Capabilities, types: AbstractSet[type]
) -> bool:
    """True when every value (of ``types``) is exactly its native form: the fast path for
    typical sweeps."""
    plain = _PLAIN_TYPE.get(kind)
    if plain is None or not types <= {plain, _Absent}:
        return False
    present = values if _Absent not in types else [v for v in values if v is not ABSENT]
    if kind == "float":
        return _floats_exact(present, caps)
    if kind == "int":
        return not present or (min(present) >= _INT64_MIN and max(present) <= _INT64_MAX)
    if kind == "str":
        return _texts_exact(present, caps)
    return kind == "bool"


def _texts_exact(values: Sequence[str], caps: Capabilities) -> bool:
    """Whether every text is exact natively, checked on the column's text at once (C-speed);
    a column with a NUL, a lone surrogate or a text near the size limit is checked value by
    value."""
    joined = "".join(values)
    try:
        joined.encode("utf-8")
    except UnicodeEncodeError:
        return False  # a lone surrogate somewhere
    if not caps.nul_in_text and "\x00" in joined:
        return False
    limit = caps.max_text_bytes
    if limit is None or not values or max(map(len, values)) * 4 <= limit:
        return True  # at most 4 bytes a character in UTF-8
    return all(_text_exact(v, caps) for v in values)


def _floats_exact(values: Sequence[float], caps: Capabilities) -> bool:
    """Whether a column of Python floats is exact natively (C-speed checks, no numpy)."""
    if all(map(math.isfinite, values)):
        if caps.negative_zero or 0.0 not in values:
            return True  # no NaN, no inf, no zero of either sign
        # Zeros are common (a grid axis from 0.0): find a negative one among the bits.
        return _NEGATIVE_ZERO_BITS not in array("Q", array("d", values).tobytes())
    return all(_float_exact(v, caps) for v in values)


_NEGATIVE_ZERO_BITS = 1 << 63  # -0.0 as an IEEE 754 binary64


_PLAIN_TYPE: dict[Kind, type] = {"bool": bool, "int": int, "float": float, "str": str}


def _float_exact(v: float, caps: Capabilities) -> bool:
    if v != v:
        return caps.nan
    if v == 0.0:
        return caps.negative_zero or math.copysign(1.0, v) > 0
    if v in (math.inf, -math.inf):
        return caps.infinity
    return True


def text_exact(s: str) -> bool:
    """Whether text is stored exactly by every backend's text column (no NUL, no lone
    surrogate)."""
    return _text_exact(s, _STRICT_TEXT)


def _text_exact(s: str, caps: Capabilities) -> bool:
    if not caps.nul_in_text and "\x00" in s:
        return False
    try:
        size = len(s.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates
        return False
    return caps.max_text_bytes is None or size <= caps.max_text_bytes


_STRICT_TEXT = Capabilities()

Projection = Callable[[Any, Capabilities], tuple[Any, bool]]


def _to_float(v: Any, caps: Capabilities) -> tuple[Any, bool]:
    cls = value_class(v)
    if cls not in _NUMERIC_ORDER:
        return None, False
    try:
        f = float(v)
    except OverflowError:  # an int past the float range
        return None, False
    if _float_exact(f, caps):
        return f, cls == "float"
    # What the column cannot hold exactly: SQL sees the closest it can (0.0 for -0.0) or NULL.
    keep = f == f and (caps.infinity or not math.isinf(f))
    return (f if keep else None), False


def _to_int(v: Any, caps: Capabilities) -> tuple[Any, bool]:
    cls = value_class(v)
    if cls not in ("bool", "int"):
        return None, False
    i = int(v)
    if not _INT64_MIN <= i <= _INT64_MAX:
        return None, False
    return i, cls == "int"


def _to_bool(v: Any, caps: Capabilities) -> tuple[Any, bool]:
    return (bool(v), True) if value_class(v) == "bool" else (None, False)


def _to_str(v: Any, caps: Capabilities) -> tuple[Any, bool]:
    if value_class(v) != "str":
        return None, False
    s = str(v)
    if _text_exact(s, caps):
        return s, True
    return None, False


def _to_datetime(v: Any, caps: Capabilities) -> tuple[Any, bool]:
    if type(v) is datetime and v.tzinfo is None:
        # SQL timestamps have no fold, and some backends keep only milliseconds
        return v, not v.fold and v.microsecond % caps.timestamp_step_us == 0
    if isinstance(v, datetime):  # aware datetimes and pandas Timestamps: a UTC projection
        try:
            aware = v.tzinfo is not None
            dt = datetime.fromtimestamp(v.timestamp(), UTC).replace(tzinfo=None) if aware else v
            return datetime(*dt.timetuple()[:6], dt.microsecond), False
        except (OverflowError, OSError, ValueError):
            return None, False
    return None, False


def _to_json(v: Any, caps: Capabilities) -> tuple[Any, bool]:
    if not isinstance(v, dict):
        return None, False
    if caps.json_exact and _json_exact(v, caps):
        return v, True
    projected = _jsonable(v, depth=0)
    return (projected if isinstance(projected, dict) else None), False


def _to_null(v: Any, caps: Capabilities) -> tuple[Any, bool]:
    return None, False


_PROJECTIONS: dict[Kind, Projection] = {
    "null": _to_null,
    "float": _to_float,
    "int": _to_int,
    "bool": _to_bool,
    "str": _to_str,
    "datetime": _to_datetime,
    "json": _to_json,
}


def _bool_from_native(v: Any) -> bool:
    if type(v) is bool or (type(v) is int and v in (0, 1)):  # SQLite's booleans are 0 and 1
        return bool(v)
    raise ValueError("it holds True, False, 1 or 0")


def _int_from_native(v: Any) -> int:
    if type(v) is int:  # not bool, and never a float: integer columns give back ints
        return v
    raise ValueError("it holds integers")


def _float_from_native(v: Any) -> float:
    if type(v) is float or type(v) is int:  # some drivers give 1 for 1.0
        return float(v)
    raise ValueError("it holds numbers")


def _only(kind: type) -> Callable[[Any], Any]:
    def convert(v: Any) -> Any:
        if isinstance(v, kind):  # a subclass (pandas.Timestamp, ...)
            return v
        raise ValueError(f"it holds {kind.__name__} values")

    return convert


#: The one Python type each native column gives back (blobs go to the codec, which checks
#: everything itself). Other values go through _FROM_NATIVE, which converts what a driver
#: may legitimately give and refuses damage (then a CorruptValueError names run and field).
_NATIVE_TYPE: dict[Kind, type] = {
    "bool": bool,
    "int": int,
    "float": float,
    "str": str,
    "datetime": datetime,
    "json": dict,
}
_FROM_NATIVE: dict[Kind, Callable[[Any], Any]] = {
    "bool": _bool_from_native,
    "int": _int_from_native,
    "float": _float_from_native,
    "str": _only(str),
    "datetime": _only(datetime),
    "json": _only(dict),
}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_MAX_JSON_DEPTH = 64


def _json_exact(v: Any, caps: Capabilities, depth: int = 0) -> bool:
    """True when ``v`` survives a trip through JSON unchanged (types and all)."""
    if depth > _MAX_JSON_DEPTH:
        return False
    t = type(v)
    if v is None or t is bool:
        return True
    if t is int:
        return bool(_INT64_MIN <= v <= _INT64_MAX)
    if t is float:
        return math.isfinite(v) and not (v == 0.0 and math.copysign(1.0, v) < 0)
    if t is str:
        return _text_exact(v, caps)
    if t is list:
        return all(_json_exact(x, caps, depth + 1) for x in v)
    if t is dict:
        return all(
            type(k) is str and _text_exact(k, caps) and _json_exact(x, caps, depth + 1)
            for k, x in v.items()
        )
    return False


def _jsonable(v: Any, depth: int) -> Any:
    """A best-effort JSON view of ``v`` for querying; None where there is none."""
    if depth > _MAX_JSON_DEPTH:
        return None
    if v is None or isinstance(v, (bool, str)):
        return v if not isinstance(v, str) else v.encode("utf-8", "replace").decode()
    if isinstance(v, int):
        if _INT64_MIN <= v <= _INT64_MAX:
            return int(v)
        try:
            return float(v)
        except OverflowError:  # ints have any size, floats do not: the exact value is elsewhere
            return None
    if isinstance(v, float):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, dict):
        return {str(k): _jsonable(x, depth + 1) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [_jsonable(x, depth + 1) for x in v]
    if isinstance(v, datetime):
        return v.isoformat()
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(v, np.generic):
            item = v.item()  # longdouble and clongdouble give themselves back
            if isinstance(item, np.generic):
                return float(item) if isinstance(item, np.floating) else None
            return _jsonable(item, depth + 1)
        if isinstance(v, np.ndarray) and v.size <= 1000:
            return _jsonable(v.tolist(), depth)
    iso = getattr(v, "isoformat", None)
    return iso() if callable(iso) else None
