"""Safe, versioned binary codec for the values of runs.

``encode`` turns a supported value into bytes; ``decode`` turns them back into an identical
value: same type at every level, same dtype, shape, memory order, index, column names and
names. Decoding never executes code: no pickle, no eval, no import of a name read from the
data. numpy and pandas objects are rebuilt only from whitelisted forms, and every length read
from the data is checked against what is left of the buffer before anything is allocated.

Format: ``b"RT"``, one version byte, then one value. A value is a one-byte tag and its
payload. Integers in payloads are little-endian; ``len`` is an unsigned LEB128 varint.

====  ===============  =============================================================
tag   value            payload
====  ===============  =============================================================
N     None             (none)
T F   True, False      (none)
i     int              len, two's complement bytes
f     float            f64
c     complex          f64 real, f64 imag
s     str              len, UTF-8 (lone surrogates kept with ``surrogatepass``)
b B   bytes, bytearray len, bytes
l t   list, tuple      count, values
e E   set, frozenset   count, values
d     dict             count, key and value pairs in insertion order
D     Decimal          len, ASCII ``str(value)``
U     UUID             16 bytes, is_safe (0 unknown, 1 safe, 2 unsafe)
W     datetime         u16 year, u8 month day hour minute second, u32 us, u8 fold, tz
a     date             u16 year, u8 month, u8 day
h     time             u8 hour minute second, u32 us, u8 fold, tz
r     timedelta        i32 days, i32 seconds, i32 microseconds
n     numpy scalar     dtype, the scalar's raw bytes
x X   np.str_, bytes_  len, UTF-8 or bytes
A     ndarray (raw)    dtype, order C or F, ndim, dims, zero padding, raw data in that order
O     ndarray (object) order C or F, ndim, dims, the elements as values in that order
P     pandas object    sub-tag and payload, see `runtable._codec_pandas`
====  ===============  =============================================================

The zero padding (version 2 on; version 1 had none) puts an array's raw data at an offset from
the start of the encoding that is a multiple of 16, the largest alignment of any numpy dtype:
a buffer that starts 16-aligned (as ``bytes`` objects do) holds every array aligned, so decoding
can hand out read-only views of it instead of copies.

``tz`` is 0 (naive), 1 (``datetime.timezone``: offset as in ``r``, len, name) or
2 (``zoneinfo.ZoneInfo``: len, key). ``dtype`` is one length byte and numpy's ``dtype.str``
(``"<f8"``, ``"|b1"``, ``">M8[ns]"``, ``"<U5"``); only kinds b i u f c m M U S are accepted.
"""

from __future__ import annotations

import contextvars
import datetime as _dt
import re
import struct
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from runtable.errors import CodecError, UnsupportedValueError

if TYPE_CHECKING:
    import numpy

__all__ = ["CODEC_VERSION", "decode", "digest_bytes", "encode", "encode_buffers"]

CODEC_VERSION: int = 2
"""Version written by `encode`; `decode` reads this and every older version (1: arrays unpadded)."""

_HEADER = b"RT" + bytes([CODEC_VERSION])
_HEADER_V1 = b"RT\x01"
#: Raw array data starts at a multiple of this offset in the encoding (version 2 on).
ALIGNMENT = 16
_MAX_DEPTH = 200  # nesting limit, both ways, well inside Python's recursion limit


class _Reading:
    """How the current `decode` call treats arrays (one object per call, in a context var)."""

    __slots__ = ("handed_over", "padded", "share", "writable")

    def __init__(self, padded: bool, share: bool, handed_over: bool, writable: bool) -> None:
        self.padded = padded  # version 2: raw array data is padded to ALIGNMENT
        self.share = share  # arrays may be views of the buffer (it cannot change under them)
        self.handed_over = handed_over  # the buffer is the decoder's: data may move within it
        self.writable = writable  # arrays come back writable (read-only views otherwise)


_READING: contextvars.ContextVar[_Reading] = contextvars.ContextVar("reading")


Chunks = list[Any]  # bytes or memoryview pieces, joined once at the end
#: id of a Chunks being encoded -> [pieces summed so far, their bytes]: where the next piece
#: starts, so array data can be padded to ALIGNMENT (an entry lives while its encode runs).
_positions: dict[int, list[int]] = {}


def _length(out: Chunks) -> int:
    """Bytes in ``out`` so far; each piece is summed once (linear over a whole encoding)."""
    position = _positions.setdefault(id(out), [0, 0])
    counted, size = position
    for chunk in out[counted:]:
        size += len(chunk)
    position[:] = len(out), size
    return size


_Enc = Callable[[Any, Chunks, int], None]
_Dec = Callable[[memoryview, int, int], tuple[Any, int]]

_F64 = struct.Struct("<d")
_C128 = struct.Struct("<dd")
_TAG_F64 = struct.Struct("<cd")
_TAG_C128 = struct.Struct("<cdd")
_DATETIME = struct.Struct("<HBBBBBIB")
_DATE = struct.Struct("<HBB")
_TIME = struct.Struct("<BBBIB")
_TIMEDELTA = struct.Struct("<iii")
# Patterns are compiled on first use (re caches them), to keep importing runtable fast.
_TZ_KEY = r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*"
_DTYPE = (
    r"[<>|](?:b1|[iu][1248]|f(?:2|4|8|12|16)|c(?:8|16|24|32)"
    r"|[mM]8(?:\[(?:[1-9]\d{0,8})?(?:Y|M|W|D|h|m|s|ms|us|ns|ps|fs|as)\])?|[US][1-9]\d{0,8})"
)


def encode(value: object) -> bytes:
    """Encode ``value`` to bytes that `decode` turns back into an identical value.

    Raises `UnsupportedValueError` (its ``path`` says where inside ``value``) for any
    type the codec does not support, at any depth; nothing is produced then.
    """
    return _joined(_encoded(value, _HEADER))


def digest_bytes(value: object) -> bytes:
    """The version 1 encoding of ``value`` (arrays unpadded, ``b"RT\\x01"``): bytes that stay
    the same across codec versions, for digests stored with runs (params, config) that must
    not change when the codec does. `decode` reads them; `UnsupportedValueError` as `encode`.
    """
    return _joined(_encoded(value, _HEADER_V1))


def _encoded(value: object, header: bytes) -> Chunks:
    """The chunks of ``value``'s encoding after ``header`` (`_HEADER_V1`: unpadded arrays)."""
    out = [header]
    try:
        _enc(value, out, 0)
    finally:
        if _positions:
            _positions.pop(id(out), None)
    return out


def _joined(out: Chunks) -> bytes:
    try:
        return b"".join(out)
    except TypeError:  # a _Strided chunk: see _join_strided
        return _join_strided(out)


def encode_buffers(value: object) -> list[bytes | memoryview]:
    """Like `encode`, as a list of buffers whose concatenation is the encoding, without joining
    them: big arrays stay views of their own memory (for writing a value in parts)."""
    out = _encoded(value, _HEADER)
    if any(isinstance(chunk, _Strided) for chunk in out):
        return [_join_strided(out)]
    return out


def decode(
    data: bytes | bytearray | memoryview, *, writable: bool = False, consume: bool = False
) -> object:
    """Decode bytes made by `encode`; never runs code from the data.

    numpy arrays (and the pandas objects built on them) come back read-only: views of
    ``data`` where it is immutable (``bytes``, a read-only memoryview) and the array's data is
    aligned in it, else read-only copies. With ``writable=True`` they are writable copies that
    share nothing with ``data``.

    With ``consume=True`` the caller hands a writable buffer over for good: arrays are views of
    it (writable ones with ``writable=True``), and an array whose data is not aligned in it is
    moved within it (over its own header, already read), so the buffer no longer holds the
    encoding afterwards. A writable buffer that is not handed over is only read: arrays are
    copied out of it.

    Raises `CodecError`, and no other exception, for anything that is not a valid
    encoding, and for data written by a newer codec version.
    """
    try:
        buf = memoryview(data)
        if buf.format != "B" or buf.ndim != 1:
            buf = buf.cast("B")
    except (TypeError, ValueError) as exc:
        raise CodecError(f"cannot decode a {type(data).__name__}: need contiguous bytes") from exc
    if len(buf) < 3 or buf[0] != 0x52 or buf[1] != 0x54:
        raise CodecError("not a runtable encoding: the data does not start with b'RT'")
    version = buf[2]
    if version > CODEC_VERSION:
        raise CodecError(
            f"value was written by codec version {version}, newer than this runtable's "
            f"codec (version {CODEC_VERSION}): upgrade runtable to read it"
        )
    if version < 1:
        raise CodecError(f"unknown codec version {version}")
    handed_over = consume and not buf.readonly
    reading = _Reading(version >= 2, buf.readonly or handed_over, handed_over, writable)
    token = _READING.set(reading)
    try:
        value, pos = _dec(buf, 3, 0)
    except CodecError:
        raise
    except (IndexError, struct.error) as exc:
        raise CodecError("truncated data: it ends in the middle of a value") from exc
    except ImportError as exc:
        raise CodecError(f"this value needs a module that is not installed: {exc}") from exc
    except RecursionError as exc:
        raise CodecError("corrupt data: nested too deeply") from exc
    except Exception as exc:  # whatever a constructor fed with corrupt fields raises
        raise CodecError(f"corrupt data ({type(exc).__name__}: {exc})") from exc
    finally:
        _READING.reset(token)
    if pos != len(buf):
        raise CodecError(f"corrupt data: {len(buf) - pos} bytes left after the value")
    return value


# ------------------------------------------------------------------------ shared helpers


def _uvarint(n: int) -> bytes:
    """The unsigned LEB128 encoding of ``n >= 0``."""
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _read_len(buf: memoryview, pos: int, unit: int = 1) -> tuple[int, int]:
    """Read a length or count of items of at least ``unit`` bytes each; check that it fits."""
    n = buf[pos]
    pos += 1
    if n >= 0x80:
        n &= 0x7F
        for shift in range(7, 70, 7):
            b = buf[pos]
            pos += 1
            n |= (b & 0x7F) << shift
            if b < 0x80:
                break
        else:
            raise CodecError(f"corrupt data: varint too long at offset {pos}")
    if n * unit > len(buf) - pos:
        raise CodecError(
            f"corrupt data: length {n} at offset {pos} runs past the end of the data "
            f"({len(buf) - pos} bytes left)"
        )
    return n, pos


def _read_blob(buf: memoryview, pos: int) -> tuple[memoryview, int]:
    """Read a length-prefixed byte string (a view into ``buf``)."""
    n, pos = _read_len(buf, pos)
    return buf[pos : pos + n], pos + n


def _read_str(buf: memoryview, pos: int) -> tuple[str, int]:
    n, pos = _read_len(buf, pos)
    return str(buf[pos : pos + n], "utf-8", "surrogatepass"), pos + n


def _str_bytes(s: str) -> bytes:
    raw = s.encode("utf-8", "surrogatepass")
    return _uvarint(len(raw)) + raw


def _located(exc: UnsupportedValueError, segment: str) -> UnsupportedValueError:
    """The same error with ``segment`` prepended to its path."""
    return UnsupportedValueError(exc.value_type, path=segment + exc.path)


def _check_depth(value: object, depth: int) -> None:
    if depth >= _MAX_DEPTH:
        raise UnsupportedValueError(type(value), path=f" (nested deeper than {_MAX_DEPTH})")


def _check_dec_depth(depth: int) -> None:
    if depth >= _MAX_DEPTH:
        raise CodecError(f"corrupt data: nested deeper than {_MAX_DEPTH} levels")


def _enc(v: object, out: Chunks, depth: int) -> None:
    """Append the encoding of ``v`` to ``out``."""
    f = _ENCODERS.get(type(v))
    if f is None:
        f = _late_encoder(type(v))
    f(v, out, depth)


def _dec(buf: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    """Decode the value at ``pos``; return it and the position after it."""
    f = _DECODERS[buf[pos]]
    if f is None:
        raise CodecError(f"corrupt data: unknown tag {bytes([buf[pos]])!r} at offset {pos}")
    return f(buf, pos + 1, depth)


# ---------------------------------------------------------------------- Python built-ins


def _enc_int(v: int, out: Chunks, depth: int) -> None:
    raw = v.to_bytes((v.bit_length() + 8) // 8, "little", signed=True)
    out.append(b"i" + _uvarint(len(raw)) + raw)


def _enc_str(v: str, out: Chunks, depth: int) -> None:
    raw = v.encode("utf-8", "surrogatepass")
    if len(raw) < 0x80:
        out.append(b"s" + bytes((len(raw),)) + raw)
    else:
        out += (b"s" + _uvarint(len(raw)), raw)


def _enc_blob(tag: bytes) -> _Enc:
    def enc(v: bytes, out: Chunks, depth: int) -> None:
        out += (tag + _uvarint(len(v)), v)  # a bytearray is joined before it can change

    return enc


def _enc_seq(tag: bytes, segment: str) -> _Enc:
    def enc(v: list[Any], out: Chunks, depth: int) -> None:
        _check_depth(v, depth)
        out.append(tag + _uvarint(len(v)))
        i = 0
        try:
            for i, x in enumerate(v):  # noqa: B007  (i names the failing element)
                _enc(x, out, depth + 1)
        except UnsupportedValueError as exc:
            raise _located(exc, segment.format(i)) from None

    return enc


def _enc_dict(v: dict[Any, Any], out: Chunks, depth: int) -> None:
    _check_depth(v, depth)
    out.append(b"d" + _uvarint(len(v)))
    for k, x in v.items():
        try:
            _enc(k, out, depth + 1)
        except UnsupportedValueError as exc:
            raise _located(exc, f"{{key {k!r}}}") from None
        try:
            _enc(x, out, depth + 1)
        except UnsupportedValueError as exc:
            raise _located(exc, f"[{k!r}]") from None


def _dec_int(buf: memoryview, pos: int, depth: int) -> tuple[int, int]:
    raw, pos = _read_blob(buf, pos)
    return int.from_bytes(raw, "little", signed=True), pos


def _dec_blob(kind: type[bytes] | type[bytearray]) -> _Dec:
    def dec(buf: memoryview, pos: int, depth: int) -> tuple[Any, int]:
        raw, pos = _read_blob(buf, pos)
        return kind(raw), pos

    return dec


def _dec_seq(kind: Callable[[list[Any]], object]) -> _Dec:
    def dec(buf: memoryview, pos: int, depth: int) -> tuple[Any, int]:
        _check_dec_depth(depth)
        n, pos = _read_len(buf, pos)
        items = []
        for _ in range(n):
            x, pos = _dec(buf, pos, depth + 1)
            items.append(x)
        return kind(items), pos

    return dec


def _dec_dict(buf: memoryview, pos: int, depth: int) -> tuple[dict[Any, Any], int]:
    _check_dec_depth(depth)
    n, pos = _read_len(buf, pos, 2)
    d = {}
    for _ in range(n):
        k, pos = _dec(buf, pos, depth + 1)
        d[k], pos = _dec(buf, pos, depth + 1)
    return d, pos


# ---------------------------------------------------------------- decimal, uuid, datetime


def _dec_decimal(buf: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    import decimal

    text, pos = _read_str(buf, pos)
    if not text.isascii() or not text or text != text.strip() or "_" in text:
        raise CodecError(f"corrupt data: bad Decimal {text[:40]!r}")
    return decimal.Decimal(text), pos


def _enc_uuid(v: Any, out: Chunks, depth: int) -> None:
    out.append(b"U" + v.bytes + bytes(({None: 0, 0: 1, -1: 2}[v.is_safe.value],)))


def _dec_uuid(buf: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    import uuid

    raw = bytes(buf[pos : pos + 16])
    safe = (uuid.SafeUUID.unknown, uuid.SafeUUID.safe, uuid.SafeUUID.unsafe)[buf[pos + 16]]
    return uuid.UUID(bytes=raw, is_safe=safe), pos + 17


def _tz_bytes(tz: _dt.tzinfo | None) -> bytes:
    """The ``tz`` field for a tzinfo; only ``timezone`` and ``ZoneInfo`` by key are stored."""
    if tz is None:
        return b"\x00"
    if type(tz) is _dt.timezone:
        off = tz.utcoffset(None)
        packed = _TIMEDELTA.pack(off.days, off.seconds, off.microseconds)
        return b"\x01" + packed + _str_bytes(tz.tzname(None))
    zoneinfo = sys.modules.get("zoneinfo")
    key: str = getattr(tz, "key", None) or ""  # None for ZoneInfo.from_file
    zone = zoneinfo is not None and type(tz) is zoneinfo.ZoneInfo
    if zone and len(key) < 256 and re.fullmatch(_TZ_KEY, key):
        return b"\x02" + _str_bytes(key)
    raise UnsupportedValueError(type(tz), path=".tzinfo")


def _read_tz(buf: memoryview, pos: int) -> tuple[_dt.tzinfo | None, int]:
    kind = buf[pos]
    if kind == 0:
        return None, pos + 1
    if kind == 1:
        offset = _dt.timedelta(*_TIMEDELTA.unpack_from(buf, pos + 1))
        name, pos = _read_str(buf, pos + 1 + _TIMEDELTA.size)
        tz = _dt.timezone(offset)
        return (tz if tz.tzname(None) == name else _dt.timezone(offset, name)), pos
    if kind == 2:
        key, pos = _read_str(buf, pos + 1)
        if len(key) >= 256 or not re.fullmatch(_TZ_KEY, key):  # no "." at all, so no ".."
            raise CodecError(f"corrupt data: invalid time zone key {key[:40]!r}")
        import zoneinfo

        try:
            return zoneinfo.ZoneInfo(key), pos
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise CodecError(f"unknown time zone {key!r} (missing tzdata?)") from exc
    raise CodecError(f"corrupt data: unknown time zone kind {kind}")


def _enc_datetime(v: _dt.datetime, out: Chunks, depth: int) -> None:
    fields = (v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond, v.fold)
    out.append(b"W" + _DATETIME.pack(*fields) + _tz_bytes(v.tzinfo))


def _dec_datetime(buf: memoryview, pos: int, depth: int) -> tuple[_dt.datetime, int]:
    y, mo, d, h, mi, s, us, fold = _DATETIME.unpack_from(buf, pos)
    tz, pos = _read_tz(buf, pos + _DATETIME.size)
    return _dt.datetime(y, mo, d, h, mi, s, us, tz, fold=fold), pos


def _enc_time(v: _dt.time, out: Chunks, depth: int) -> None:
    fields = (v.hour, v.minute, v.second, v.microsecond, v.fold)
    out.append(b"h" + _TIME.pack(*fields) + _tz_bytes(v.tzinfo))


def _dec_time(buf: memoryview, pos: int, depth: int) -> tuple[_dt.time, int]:
    h, mi, s, us, fold = _TIME.unpack_from(buf, pos)
    tz, pos = _read_tz(buf, pos + _TIME.size)
    return _dt.time(h, mi, s, us, tz, fold=fold), pos


# --------------------------------------------------------------------------------- numpy

_RAW_KINDS = frozenset("biufcmMUS")
_dtype_cache: dict[bytes, numpy.dtype[Any]] = {}


def _dtype_bytes(dt: numpy.dtype[Any]) -> bytes:
    s = dt.str.encode("ascii")
    return bytes((len(s),)) + s


def _read_dtype(buf: memoryview, pos: int) -> tuple[numpy.dtype[Any], int]:
    """Read a dtype field; accept only kinds b i u f c m M U S, in numpy's own spelling."""
    n = buf[pos]
    raw = bytes(buf[pos + 1 : pos + 1 + n])
    if len(raw) != n:
        raise CodecError("truncated data: dtype")
    dt = _dtype_cache.get(raw)
    if dt is not None:
        return dt, pos + 1 + n
    text = raw.decode("ascii", "replace")
    if not re.fullmatch(_DTYPE, text):
        raise CodecError(f"corrupt data: unsupported dtype {text[:40]!r}")
    import numpy as np

    try:
        dt = np.dtype(text)
    except (TypeError, ValueError) as exc:
        raise CodecError(f"dtype {text!r} is not available on this platform") from exc
    if dt.str != text or dt.itemsize <= 0 or dt.kind not in _RAW_KINDS:
        raise CodecError(f"corrupt data: non-canonical dtype {text!r}")
    if len(_dtype_cache) < 1024:
        _dtype_cache[raw] = dt
    return dt, pos + 1 + n


def _enc_npscalar(v: Any, out: Chunks, depth: int) -> None:
    out.append(b"n" + _dtype_bytes(v.dtype) + v.tobytes())


def _dec_npscalar(buf: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    import numpy as np

    dt, pos = _read_dtype(buf, pos)
    if dt.itemsize > len(buf) - pos:
        raise CodecError("truncated data: numpy scalar")
    return np.frombuffer(buf, dt, 1, pos)[0], pos + dt.itemsize


def _dec_npstr(buf: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    import numpy as np

    text, pos = _read_str(buf, pos)
    return np.str_(text), pos


def _dec_npbytes(buf: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    import numpy as np

    raw, pos = _read_blob(buf, pos)
    return np.bytes_(raw), pos


def _shape_bytes(order: str, shape: tuple[int, ...]) -> bytes:
    return order.encode() + _uvarint(len(shape)) + b"".join(_uvarint(d) for d in shape)


def _read_shape(buf: memoryview, pos: int) -> tuple[Literal["C", "F"], list[int], int, int]:
    """Read order, ndim and dims; return order, shape, element count and position."""
    if buf[pos] not in b"CF":
        raise CodecError(f"corrupt data: bad array order at offset {pos}")
    order: Literal["C", "F"] = "C" if buf[pos] == 0x43 else "F"
    ndim, pos = _read_len(buf, pos + 1)
    if ndim > 64:
        raise CodecError(f"corrupt data: array with {ndim} dimensions")
    shape = []
    for _ in range(ndim):
        d, pos = _read_len(buf, pos, 0)
        shape.append(d)
    count = 1
    for d in shape:
        count *= d
    return order, shape, count, pos


def _enc_ndarray(a: Any, out: Chunks, depth: int) -> None:
    """Raw bytes for plain dtypes: no per-element work, and no copy if contiguous."""
    dt = a.dtype
    if dt.kind == "O":
        _enc_objarray(a, out, depth)
        return
    if dt.kind not in _RAW_KINDS or dt.fields is not None or dt.subdtype is not None:
        raise UnsupportedValueError(type(dt), path=".dtype")
    import numpy as np

    order, flat = ("F", a.T) if a.flags.f_contiguous and not a.flags.c_contiguous else ("C", a)
    header = b"A" + _dtype_bytes(dt) + _shape_bytes(order, a.shape)
    pad = 0 if out[0] is _HEADER_V1 else -(_length(out) + len(header)) % ALIGNMENT
    out.append(header + bytes(pad))
    if not a.size:
        return
    if flat.flags.c_contiguous:
        out.append(memoryview(flat.reshape(-1).view(np.uint8)))
    else:
        out.append(_Strided(a))


class _Strided:
    """A chunk for an array that is neither C- nor F-contiguous (not a bytes-like object)."""

    def __init__(self, array: Any) -> None:
        self.array = array

    def __len__(self) -> int:
        return int(self.array.nbytes)


def _join_strided(out: Chunks) -> bytes:
    """Join chunks, copying strided arrays block by block: still one copy of the payload."""
    import io

    import numpy as np

    stream = io.BytesIO()  # getvalue() hands over its buffer without copying it
    for chunk in out:
        if type(chunk) is not _Strided:
            stream.write(chunk)
            continue
        a = chunk.array
        rows = max(1, (1 << 20) // max(1, a[0].nbytes))
        for i in range(0, len(a), rows):
            block: Any = np.ascontiguousarray(a[i : i + rows])
            stream.write(memoryview(block.reshape(-1).view(np.uint8)))
    return stream.getvalue()


def _dec_ndarray(buf: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    import numpy as np

    header = pos - 1  # the tag
    dt, pos = _read_dtype(buf, pos)
    order, shape, count, pos = _read_shape(buf, pos)
    reading = _READING.get()
    if reading.padded:
        pad = -pos % ALIGNMENT
        if buf[pos : pos + pad] != bytes(pad):
            raise CodecError(f"corrupt data: bad array padding at offset {pos}")
        pos += pad
    nbytes = count * dt.itemsize
    if nbytes > len(buf) - pos:
        raise CodecError(f"corrupt data: array of {nbytes} bytes runs past the end of the data")
    if count == 0:
        array = np.empty(shape, dt, order=order)
    else:
        flat = np.frombuffer(buf, dt, count, pos)  # a view; the copy below is the only one
        if reading.share and not (reading.writable and buf.readonly):
            if not flat.flags.aligned and reading.handed_over:
                flat = _move_to_alignment(buf, flat, pos, pos - header)
            if flat.flags.aligned:  # a view: read-only, or writable in a handed-over buffer
                array = flat.reshape(shape, order=order)
                if not reading.writable and array.flags.writeable:
                    array.flags.writeable = False
                return array, pos + nbytes
        array = flat.reshape(shape, order=order).copy(order="K")
    if not reading.writable:
        array.flags.writeable = False
    return array, pos + nbytes


def _move_to_alignment(buf: memoryview, flat: Any, pos: int, room: int) -> Any:
    """Move an unaligned array's data back onto its dtype's alignment, over at most ``room``
    bytes just before it (its own header, already read); the array as it is if that is not
    enough room."""
    import ctypes

    import numpy as np

    address = flat.ctypes.data
    shift = address % flat.dtype.alignment
    if shift > room:
        return flat
    ctypes.memmove(address - shift, address, flat.nbytes)  # overlapping: memmove, no copy
    return np.frombuffer(buf, flat.dtype, flat.size, pos - shift)


def _enc_objarray(a: Any, out: Chunks, depth: int) -> None:
    """Object arrays: element by element, in C or F order."""
    _check_depth(a, depth)
    import numpy as np

    order: Literal["C", "F"] = "F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C"
    out.append(b"O" + _shape_bytes(order, a.shape))
    i = 0
    try:
        for i, x in enumerate(a.reshape(-1, order=order)):  # noqa: B007
            _enc(x, out, depth + 1)
    except UnsupportedValueError as exc:
        where = ", ".join(str(int(j)) for j in np.unravel_index(i, a.shape, order=order))
        raise _located(exc, f"[{where}]") from None


def _dec_objarray(buf: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    _check_dec_depth(depth)
    import numpy as np

    order, shape, count, pos = _read_shape(buf, pos)
    if count > len(buf) - pos:
        raise CodecError("corrupt data: object array runs past the end of the data")
    flat = np.empty(count, dtype=object)
    for i in range(count):
        flat[i], pos = _dec(buf, pos, depth + 1)
    array = flat.reshape(shape, order=order)
    if not _READING.get().writable:
        array.flags.writeable = False
    return array, pos


def _register_numpy() -> None:
    import numpy as np

    _ENCODERS[np.ndarray] = _enc_ndarray
    _ENCODERS[np.str_] = lambda v, out, d: out.append(b"x" + _str_bytes(str.__str__(v)))
    _ENCODERS[np.bytes_] = lambda v, out, d: out.append(b"X" + _uvarint(len(v)) + bytes(v))
    # Only the canonical scalar type of each dtype: an alias such as np.longlong, whose
    # dtype.str is np.int64's, would come back as np.int64.
    for code in np.typecodes["AllInteger"] + np.typecodes["AllFloat"] + "?Mm":
        dt = np.dtype(code)
        if np.dtype(dt.str).type is dt.type:
            _ENCODERS[dt.type] = _enc_npscalar


# -------------------------------------------------------------------------------- tables


def _register_decimal() -> None:
    import decimal

    _ENCODERS[decimal.Decimal] = lambda v, out, d: out.append(b"D" + _str_bytes(str(v)))


def _register_uuid() -> None:
    import uuid

    _ENCODERS[uuid.UUID] = _enc_uuid


def _register_pandas() -> None:
    from runtable import _codec_pandas

    _codec_pandas.register(_ENCODERS)


def _dec_pandas(buf: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    _check_dec_depth(depth)
    from runtable import _codec_pandas

    return _codec_pandas.decode_pandas(buf, pos, depth)


_ENCODERS: dict[type, _Enc] = {
    type(None): lambda v, out, d: out.append(b"N"),
    bool: lambda v, out, d: out.append(b"T" if v else b"F"),
    int: _enc_int,
    float: lambda v, out, d: out.append(_TAG_F64.pack(b"f", v)),
    complex: lambda v, out, d: out.append(_TAG_C128.pack(b"c", v.real, v.imag)),
    str: _enc_str,
    bytes: _enc_blob(b"b"),
    bytearray: _enc_blob(b"B"),
    list: _enc_seq(b"l", "[{}]"),
    tuple: _enc_seq(b"t", "[{}]"),
    set: _enc_seq(b"e", "{{element {}}}"),
    frozenset: _enc_seq(b"E", "{{element {}}}"),
    dict: _enc_dict,
    _dt.datetime: _enc_datetime,
    _dt.date: lambda v, out, d: out.append(b"a" + _DATE.pack(v.year, v.month, v.day)),
    _dt.time: _enc_time,
    _dt.timedelta: lambda v, out, d: out.append(
        b"r" + _TIMEDELTA.pack(v.days, v.seconds, v.microseconds)
    ),
}

# The types of optional modules are registered the first time a value of an unknown type is
# seen after the module was imported: a value cannot be of a type whose module is not loaded.
_LATE: tuple[tuple[str, Callable[[], None]], ...] = (
    ("decimal", _register_decimal),
    ("uuid", _register_uuid),
    ("numpy", _register_numpy),
    ("pandas", _register_pandas),
)
_registered: set[str] = set()


def _late_encoder(t: type) -> _Enc:
    for name, register in _LATE:
        if name not in _registered and name in sys.modules:
            register()
            _registered.add(name)
    f = _ENCODERS.get(t)
    if f is None:
        raise UnsupportedValueError(t)
    return f


_DECODERS: list[_Dec | None] = [None] * 256
for _tag, _decoder in {
    b"N": lambda buf, pos, d: (None, pos),
    b"T": lambda buf, pos, d: (True, pos),
    b"F": lambda buf, pos, d: (False, pos),
    b"i": _dec_int,
    b"f": lambda buf, pos, d: (_F64.unpack_from(buf, pos)[0], pos + 8),
    b"c": lambda buf, pos, d: (complex(*_C128.unpack_from(buf, pos)), pos + 16),
    b"s": lambda buf, pos, d: _read_str(buf, pos),
    b"b": _dec_blob(bytes),
    b"B": _dec_blob(bytearray),
    b"l": _dec_seq(list),
    b"t": _dec_seq(tuple),
    b"e": _dec_seq(set),
    b"E": _dec_seq(frozenset),
    b"d": _dec_dict,
    b"D": _dec_decimal,
    b"U": _dec_uuid,
    b"W": _dec_datetime,
    b"a": lambda buf, pos, d: (_dt.date(*_DATE.unpack_from(buf, pos)), pos + _DATE.size),
    b"h": _dec_time,
    b"r": lambda buf, pos, d: (
        _dt.timedelta(*_TIMEDELTA.unpack_from(buf, pos)),
        pos + _TIMEDELTA.size,
    ),
    b"n": _dec_npscalar,
    b"x": _dec_npstr,
    b"X": _dec_npbytes,
    b"A": _dec_ndarray,
    b"O": _dec_objarray,
    b"P": _dec_pandas,
}.items():
    _DECODERS[_tag[0]] = _decoder
del _tag, _decoder
