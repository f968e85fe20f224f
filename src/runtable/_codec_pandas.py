"""pandas support for `runtable.codec` (imported only once pandas is in use).

A pandas value is the tag ``P``, a sub-tag and its payload; ``value`` below is a nested
codec value, ``tz`` and ``len`` are as in `runtable.codec`.

===  ==============  ===============================================================
sub  object          payload
===  ==============  ===============================================================
S    Series          array, index value, name value, flags, attrs value
F    DataFrame       columns value, index value, count, one array per column, flags, attrs
I    Index           array, name value, len + freq string (empty: no freq)
R    RangeIndex      start, stop, step, name (values)
M    MultiIndex      levels (list of Index), codes (list of ndarray), names, sortorder
T    Timestamp       np.datetime64 value (UTC for tz-aware), tz, u8 fold
D    Timedelta       np.timedelta64 value
N A  NaT, NA         (none)
===  ==============  ===============================================================

An *array* (the values of a Series, column or Index) is one of:

``n`` ndarray value (numpy dtypes: numbers, bool, naive datetime64, timedelta64, object);
``z`` tz, datetime64 ndarray value of the UTC instants (tz-aware datetimes);
``k`` u8 ordered, categories Index value, codes ndarray value (categorical);
``s`` u8 storage (p python, a pyarrow), u8 missing value (n NaN, A pd.NA), count, then per
element 0 for missing or len + 1 and UTF-8 (string dtypes);
``m`` len + dtype name, data ndarray value, mask ndarray value (nullable Int, Float, boolean).

Decoded Series, DataFrame columns and Index values are built on the decoded arrays without
copying them: read-only views of the encoding unless ``decode(..., writable=True)``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import numpy as np
import pandas as pd

from runtable import codec as _c
from runtable.errors import CodecError, UnsupportedValueError

_MASKED: dict[str, tuple[Any, np.dtype[Any]]] = {
    **{f"Int{b}": (pd.arrays.IntegerArray, np.dtype(f"int{b}")) for b in (8, 16, 32, 64)},
    **{f"UInt{b}": (pd.arrays.IntegerArray, np.dtype(f"uint{b}")) for b in (8, 16, 32, 64)},
    "Float32": (pd.arrays.FloatingArray, np.dtype("float32")),
    "Float64": (pd.arrays.FloatingArray, np.dtype("float64")),
    "boolean": (pd.arrays.BooleanArray, np.dtype("bool")),
}
_MASKED_TYPES = (pd.arrays.IntegerArray, pd.arrays.FloatingArray, pd.arrays.BooleanArray)
_FREQ = re.compile(r"[A-Za-z0-9\-]{1,40}")
_UNITS = frozenset(("s", "ms", "us", "ns"))


def register(encoders: dict[type, _c._Enc]) -> None:
    """Add the encoders of the supported pandas types (exact types only)."""
    encoders[pd.Series] = _enc_series
    encoders[pd.DataFrame] = _enc_frame
    for t in (pd.Index, pd.DatetimeIndex, pd.TimedeltaIndex, pd.CategoricalIndex):
        encoders[t] = _enc_index
    encoders[pd.RangeIndex] = _enc_range
    encoders[pd.MultiIndex] = _enc_multi
    encoders[pd.Timestamp] = _enc_timestamp
    encoders[pd.Timedelta] = _enc_timedelta
    encoders[type(pd.NaT)] = lambda v, out, depth: out.append(b"PN")
    encoders[type(pd.NA)] = lambda v, out, depth: out.append(b"PA")


def decode_pandas(buf: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    """Decode the pandas value whose sub-tag is at ``pos``."""
    sub = buf[pos]
    f = _DECODERS.get(sub)
    if f is None:
        raise CodecError(f"corrupt data: unknown pandas tag {bytes([sub])!r} at offset {pos}")
    return f(buf, pos + 1, depth)


def _sub(value: object, out: _c.Chunks, depth: int, segment: str) -> None:
    """Encode a nested value, prefixing ``segment`` to the path of an unsupported type."""
    try:
        _c._enc(value, out, depth + 1)
    except UnsupportedValueError as exc:
        raise _c._located(exc, segment) from None


def _expect(
    buf: memoryview, pos: int, depth: int, kind: type | tuple[type, ...]
) -> tuple[Any, int]:
    value, pos = _c._dec(buf, pos, depth + 1)
    if not isinstance(value, kind):
        raise CodecError(f"corrupt data: expected {kind}, found {type(value).__name__}")
    return value, pos


def _expect_1d(buf: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    value, pos = _c._dec(buf, pos, depth + 1)
    if type(value) is not np.ndarray or value.ndim != 1:
        raise CodecError("corrupt data: expected a one-dimensional array")
    return value, pos


# -------------------------------------------------------------------------------- arrays


def _enc_array(obj: Any, out: _c.Chunks, depth: int, segment: str) -> None:
    """Encode the values of a Series, column or Index (numpy or a whitelisted extension)."""
    dtype = obj.dtype
    values = obj.array
    if isinstance(dtype, np.dtype):
        out.append(b"n")
        _sub(np.asarray(values), out, depth, segment)
    elif isinstance(dtype, pd.DatetimeTZDtype):
        try:
            out.append(b"z" + _c._tz_bytes(dtype.tz))
        except UnsupportedValueError as exc:
            raise _c._located(exc, segment + ".dtype") from None
        _sub(np.asarray(values, dtype=f"M8[{dtype.unit}]"), out, depth, segment)
    elif isinstance(dtype, pd.CategoricalDtype):
        out.append(b"k" + (b"\x01" if dtype.ordered else b"\x00"))
        _sub(dtype.categories, out, depth, ".cat.categories")
        _sub(values.codes, out, depth, ".cat.codes")
    elif isinstance(dtype, pd.StringDtype) and dtype.storage in ("python", "pyarrow"):
        _enc_strings(values, out, segment)
    elif isinstance(values, _MASKED_TYPES) and dtype.name in _MASKED:
        np_dtype = _MASKED[dtype.name][1]
        out.append(b"m" + _c._str_bytes(dtype.name))
        _sub(values.to_numpy(dtype=np_dtype, na_value=np_dtype.type(0)), out, depth, segment)
        _sub(np.asarray(values.isna(), dtype=bool), out, depth, segment)
    else:
        raise UnsupportedValueError(type(dtype), path=segment + ".dtype")


def _enc_strings(values: Any, out: _c.Chunks, segment: str) -> None:
    dtype = values.dtype
    na = dtype.na_value
    if na is pd.NA:
        na_byte = b"A"
    elif isinstance(na, float) and na != na:
        na_byte = b"n"
    else:
        raise UnsupportedValueError(type(dtype), path=segment + ".dtype")
    storage = b"p" if dtype.storage == "python" else b"a"
    parts = [b"s" + storage + na_byte + _c._uvarint(len(values))]
    for i, s in enumerate(values.to_numpy(dtype=object, na_value=None)):
        if s is None:
            parts.append(b"\x00")
        elif type(s) is str:
            raw = s.encode("utf-8", "surrogatepass")
            parts.append(_c._uvarint(len(raw) + 1))
            parts.append(raw)
        else:
            raise UnsupportedValueError(type(s), path=f"{segment}[{i}]")
    out.append(b"".join(parts))


def _dec_array(buf: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    kind = buf[pos]
    pos += 1
    if kind == ord("n"):
        return _expect_1d(buf, pos, depth)
    if kind == ord("z"):
        tz, pos = _c._read_tz(buf, pos)
        utc, pos = _expect_1d(buf, pos, depth)
        if tz is None or utc.dtype.kind != "M" or np.datetime_data(utc.dtype)[0] not in _UNITS:
            raise CodecError("corrupt data: bad tz-aware datetime array")
        return pd.array(utc).tz_localize("UTC").tz_convert(tz), pos
    if kind == ord("k"):
        ordered = bool(buf[pos])
        categories, pos = _expect(buf, pos + 1, depth, pd.Index)
        codes, pos = _expect_1d(buf, pos, depth)
        if codes.dtype.kind != "i":
            raise CodecError("corrupt data: categorical codes are not integers")
        dtype = pd.CategoricalDtype(categories, ordered=ordered)
        return pd.Categorical.from_codes(codes, dtype=dtype), pos
    if kind == ord("s"):
        return _dec_strings(buf, pos)
    if kind == ord("m"):
        name, pos = _c._read_str(buf, pos)
        if name not in _MASKED:
            raise CodecError(f"corrupt data: unknown nullable dtype {name[:40]!r}")
        cls, np_dtype = _MASKED[name]
        data, pos = _expect_1d(buf, pos, depth)
        mask, pos = _expect_1d(buf, pos, depth)
        if data.dtype != np_dtype or mask.dtype != np.bool_ or data.shape != mask.shape:
            raise CodecError(f"corrupt data: bad {name} array")
        return cls(data, mask), pos
    raise CodecError(f"corrupt data: unknown pandas array kind {bytes([kind])!r}")


def _dec_strings(buf: memoryview, pos: int) -> tuple[Any, int]:
    if buf[pos] not in b"pa" or buf[pos + 1] not in b"nA":
        raise CodecError("corrupt data: bad string array header")
    storage: Literal["python", "pyarrow"] = "python" if buf[pos] == ord("p") else "pyarrow"
    dtype: Any  # Any: pandas-stubs' pd.array overloads do not take a StringDtype variable
    if buf[pos + 1] == ord("A"):
        dtype = pd.StringDtype(storage)  # pd.NA; also how pandas 2 spells it
    else:
        dtype = pd.StringDtype(storage, na_value=np.nan)
    n, pos = _c._read_len(buf, pos + 2)
    items: list[str | None] = []
    for _ in range(n):
        size, pos = _c._read_len(buf, pos)
        if size:
            end = pos + size - 1
            items.append(str(buf[pos:end], "utf-8", "surrogatepass"))
            pos = end
        else:
            items.append(None)
    return pd.array(items, dtype=dtype), pos


# ------------------------------------------------------------------ Series and DataFrame


def _flags_and_attrs(obj: Any, out: _c.Chunks, depth: int) -> None:
    out.append(b"\x01" if obj.flags.allows_duplicate_labels else b"\x00")
    _sub(dict(obj.attrs), out, depth, ".attrs")


def _read_flags_and_attrs(obj: Any, buf: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    allows_duplicates = bool(buf[pos])
    attrs, pos = _expect(buf, pos + 1, depth, dict)
    if not allows_duplicates:
        obj = obj.set_flags(allows_duplicate_labels=False)
    if attrs:
        obj.attrs = attrs
    return obj, pos


def _enc_series(v: Any, out: _c.Chunks, depth: int) -> None:
    out.append(b"PS")
    _enc_array(v, out, depth, ".iloc")
    _sub(v.index, out, depth, ".index")
    _sub(v.name, out, depth, ".name")
    _flags_and_attrs(v, out, depth)


def _dec_series(buf: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    values, pos = _dec_array(buf, pos, depth)
    index, pos = _expect(buf, pos, depth, pd.Index)
    name, pos = _c._dec(buf, pos, depth + 1)
    ser = pd.Series(values, index=index, name=name, dtype=values.dtype, copy=False)
    return _read_flags_and_attrs(ser, buf, pos, depth)


def _enc_frame(v: Any, out: _c.Chunks, depth: int) -> None:
    out.append(b"PF")
    _sub(v.columns, out, depth, ".columns")
    _sub(v.index, out, depth, ".index")
    out.append(_c._uvarint(v.shape[1]))
    for j in range(v.shape[1]):
        try:
            _enc_array(v.iloc[:, j], out, depth, ".iloc")
        except UnsupportedValueError as exc:
            raise _c._located(exc, f"[{v.columns[j]!r}]") from None
    _flags_and_attrs(v, out, depth)


def _dec_frame(buf: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    columns, pos = _expect(buf, pos, depth, pd.Index)
    index, pos = _expect(buf, pos, depth, pd.Index)
    n, pos = _c._read_len(buf, pos)
    data = {}
    for j in range(n):
        values, pos = _dec_array(buf, pos, depth)
        # Series with an explicit dtype: a dict of object ndarrays would be re-inferred.
        data[j] = pd.Series(values, dtype=values.dtype, copy=False)
    df = pd.DataFrame(data, copy=False) if data else pd.DataFrame(index=index)
    df.index = index
    df.columns = columns
    return _read_flags_and_attrs(df, buf, pos, depth)


# --------------------------------------------------------------------------------- Index


def _enc_index(v: Any, out: _c.Chunks, depth: int) -> None:
    out.append(b"PI")
    _enc_array(v, out, depth, "")
    _sub(v.name, out, depth, ".name")
    freq = getattr(v, "freq", None)
    if freq is None:
        out.append(b"\x00")
        return
    text = freq.freqstr
    if not _FREQ.fullmatch(text) or pd.tseries.frequencies.to_offset(text) != freq:
        raise UnsupportedValueError(type(freq), path=".freq")
    out.append(_c._str_bytes(text))


def _dec_index(buf: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    values, pos = _dec_array(buf, pos, depth)
    name, pos = _c._dec(buf, pos, depth + 1)
    text, pos = _c._read_str(buf, pos)
    if not text:
        return pd.Index(values, dtype=values.dtype, name=name, copy=False), pos
    freq = pd.tseries.frequencies.to_offset(text) if _FREQ.fullmatch(text) else None
    if freq is None or freq.freqstr != text:  # only the spelling encode writes
        raise CodecError(f"corrupt data: bad index frequency {text!r}")
    if values.dtype.kind == "m":
        return pd.TimedeltaIndex(values, freq=freq, name=name), pos
    if values.dtype.kind != "M" and not isinstance(values.dtype, pd.DatetimeTZDtype):
        raise CodecError("corrupt data: frequency on an index that is not of datetimes")
    return pd.DatetimeIndex(values, freq=freq, name=name), pos


def _enc_range(v: Any, out: _c.Chunks, depth: int) -> None:
    out.append(b"PR")
    for x in (v.start, v.stop, v.step):
        _c._enc_int(x, out, depth)
    _sub(v.name, out, depth, ".name")


def _dec_range(buf: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    start, pos = _expect(buf, pos, depth, int)
    stop, pos = _expect(buf, pos, depth, int)
    step, pos = _expect(buf, pos, depth, int)
    name, pos = _c._dec(buf, pos, depth + 1)
    return pd.RangeIndex(start, stop, step, name=name), pos


def _enc_multi(v: Any, out: _c.Chunks, depth: int) -> None:
    out.append(b"PM")
    _sub(list(v.levels), out, depth, ".levels")
    _sub([np.asarray(c) for c in v.codes], out, depth, ".codes")
    _sub(list(v.names), out, depth, ".names")
    _sub(v.sortorder, out, depth, ".sortorder")


def _dec_multi(buf: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    levels, pos = _expect(buf, pos, depth, list)
    codes, pos = _expect(buf, pos, depth, list)
    names, pos = _expect(buf, pos, depth, list)
    sortorder, pos = _expect(buf, pos, depth, (int, type(None)))
    if not all(type(x) in _INDEX_TYPES for x in levels) or not all(
        type(c) is np.ndarray and c.dtype.kind == "i" for c in codes
    ):
        raise CodecError("corrupt data: bad MultiIndex levels or codes")
    mi = pd.MultiIndex(
        levels=levels, codes=codes, names=names, sortorder=sortorder, verify_integrity=True
    )
    return mi, pos


_INDEX_TYPES = frozenset(
    (pd.Index, pd.DatetimeIndex, pd.TimedeltaIndex, pd.CategoricalIndex, pd.RangeIndex)
)


# ---------------------------------------------------------------------- scalars (and NaT)


def _enc_timestamp(v: Any, out: _c.Chunks, depth: int) -> None:
    out.append(b"PT")
    _c._enc_npscalar(v.asm8, out, depth)
    out.append(_c._tz_bytes(v.tzinfo) + bytes((v.fold,)))


def _dec_timestamp(buf: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    value, pos = _expect(buf, pos, depth, np.datetime64)
    tz, pos = _c._read_tz(buf, pos)
    fold = buf[pos]
    if np.datetime_data(value.dtype)[0] not in _UNITS or fold > 1:
        raise CodecError("corrupt data: bad Timestamp")
    ts = pd.Timestamp(value)
    if tz is not None:
        ts = ts.tz_localize("UTC").tz_convert(tz)
    if ts.fold != fold:
        ts = ts.replace(fold=1 if fold else 0)
    return ts, pos + 1


def _enc_timedelta(v: Any, out: _c.Chunks, depth: int) -> None:
    out.append(b"PD")
    _c._enc_npscalar(v.asm8, out, depth)


def _dec_timedelta(buf: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    value, pos = _expect(buf, pos, depth, np.timedelta64)
    if np.datetime_data(value.dtype)[0] not in _UNITS:
        raise CodecError("corrupt data: bad Timedelta")
    return pd.Timedelta(value), pos


_DECODERS: dict[int, _c._Dec] = {
    ord("S"): _dec_series,
    ord("F"): _dec_frame,
    ord("I"): _dec_index,
    ord("R"): _dec_range,
    ord("M"): _dec_multi,
    ord("T"): _dec_timestamp,
    ord("D"): _dec_timedelta,
    ord("N"): lambda buf, pos, depth: (pd.NaT, pos),
    ord("A"): lambda buf, pos, depth: (pd.NA, pos),
}
