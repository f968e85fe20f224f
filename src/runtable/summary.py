"""Short text for values in tables: arrays by shape, long text cut, errors by their last line.

Shared by the CLI, the HTML report and the notebook views.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

CELL_WIDTH = 40  # widest cell of a table, in characters
MAX_ITEMS = 50  # longer lists, dicts, ... are shown by their length only
_STR_BITS = 10_000  # ints this many bits long (3,010 digits) are always within str()'s limit


def summarise(value: Any, width: int | None = CELL_WIDTH) -> Any:
    """A short stand-in for a cell: arrays, frames and bytes by their shape or size.

    ``width=None`` (csv, json) keeps numbers, dates, text and small containers whole; else the
    result is a number or a one-line string of at most ``width`` characters."""
    if isinstance(value, int) and not isinstance(value, bool) and width is not None:
        if abs(value).bit_length() > _STR_BITS:  # str() may refuse it: say how long it is
            return f"int({len(int_text(abs(value)))} digits)"
        return value
    if value is None or isinstance(value, bool | int | float | date | time | timedelta):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return f"bytes({memoryview(value).nbytes})"
    kind = type(value).__name__
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple):  # numpy and pandas objects
        if shape == () and hasattr(value, "item"):  # a numpy scalar
            return summarise(value.item(), width)
        if kind == "DataFrame" and len(shape) == 2:
            return f"DataFrame({shape[0]}x{shape[1]})"
        dtype = getattr(value, "dtype", None)
        return f"{kind}(shape={shape}{f', dtype={dtype}' if dtype is not None else ''})"
    if isinstance(value, list | tuple | dict | set | frozenset):
        if len(value) > MAX_ITEMS:
            return f"{kind}(len={len(value)})"
        if width is None:
            return value
    text = value if isinstance(value, str) else repr(value)
    if width is None:
        return text
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def int_text(n: int) -> str:
    """The decimal digits of ``n``, also beyond Python's int-to-str limit (4,300 digits)."""
    n = int(n)
    if n < 0:
        return "-" + int_text(-n)
    if n.bit_length() <= _STR_BITS:
        return str(n)
    half = int(n.bit_length() * 0.30103) // 2  # about half of its digits
    high, low = divmod(n, 10**half)
    return int_text(high) + int_text(low).zfill(half)


def cells(df: pd.DataFrame, width: int | None) -> pd.DataFrame:
    """A copy of ``df`` with every non-numeric cell summarised."""
    out = df.copy()
    import pandas as pd

    out.columns = pd.RangeIndex(df.shape[1])  # by position: SQL results may repeat a column name
    for i in out.columns:
        kind = out[i].dtype.kind
        if kind == "M" and width is not None:  # datetimes: to the second in tables
            out[i] = out[i].dt.strftime("%Y-%m-%d %H:%M:%S")
        elif kind not in "biufcmM":
            out[i] = out[i].astype(object).map(lambda v: summarise(v, width))
    out.columns = df.columns
    return out


def headline(error: Any) -> Any:
    """The line of a traceback that names the exception (the first after the last frame)."""
    if not isinstance(error, str) or not error.strip():
        return error
    lines = error.strip().splitlines()
    frames = [i for i, line in enumerate(lines) if line.startswith(" ")]
    return lines[frames[-1] + 1] if frames and frames[-1] + 1 < len(lines) else lines[-1]


_DTYPE_KINDS = {"f": "f", "i": "i", "u": "u", "c": "c"}


def dtype_code(dtype: Any) -> str:
    """A short name for an array's dtype: ``f64``, ``i32``, ``bool``, ``str``, ``obj``, ...

    numpy dtypes by kind and size; others (torch's ``torch.float32``, say) from their name."""
    kind, size = getattr(dtype, "kind", None), getattr(dtype, "itemsize", None)
    if isinstance(kind, str) and isinstance(size, int):
        if kind in _DTYPE_KINDS:
            return f"{_DTYPE_KINDS[kind]}{size * 8}"
        names = {"b": "bool", "U": "str", "S": "bytes", "O": "obj", "M": "datetime"}
        return names.get(kind, "timedelta" if kind == "m" else str(dtype))
    text = str(dtype).rsplit(".", 1)[-1]
    for long, short in (("complex", "c"), ("float", "f"), ("uint", "u"), ("int", "i")):
        if text.startswith(long) and text[len(long) :].isdigit():
            return short + text[len(long) :]
    return text


def is_series(value: Any) -> bool:
    """Whether ``value`` is a metric series: a DataFrame with a ``step`` column (what
    ``run.log`` stores)."""
    columns = getattr(value, "columns", None)
    return type(value).__name__ == "DataFrame" and columns is not None and "step" in columns


def series_metrics(value: Any) -> list[str]:
    """The metric columns of a series (all but ``step`` and ``timestamp``)."""
    return [str(c) for c in value.columns if c not in ("step", "timestamp")]


def series_last(value: Any) -> dict[str, float]:
    """The last logged (non-NaN) value of each metric of a series."""
    out: dict[str, float] = {}
    for name in series_metrics(value):
        column = value[name].dropna()
        if len(column):
            out[name] = float(column.iloc[-1])
    return out


def compact(value: Any, width: int = CELL_WIDTH) -> str:
    """One unbreakable line for a table cell: arrays as ``f64[32x8]``, series by their last
    values, other DataFrames as ``DataFrame[30x5]``, everything else as ``summarise`` does."""
    if is_series(value):
        last = series_last(value)
        text = ", ".join(f"{k} {v:.4g}" for k, v in last.items()) or "no values"
        return f"{text} ({len(value)} steps)"
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    is_frame = type(value).__name__ == "DataFrame"
    if isinstance(shape, tuple) and shape and dtype is not None and not is_frame:
        return f"{dtype_code(dtype)}[{'x'.join(map(str, shape))}]"
    if is_frame and isinstance(shape, tuple):
        return f"DataFrame[{shape[0]}x{shape[1]}]"
    out = summarise(value, width)
    return out if isinstance(out, str) else str(out)
