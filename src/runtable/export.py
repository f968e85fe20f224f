"""Values of runs and query results written out: one encoding for ``show``, ``sql`` and ``export``.

Every value goes through `plain` first, so JSON, JSON lines, CSV and parquet agree:

- missing values (None, NaN, NaT, ``pd.NA``) are JSON ``null`` and empty CSV cells (NaN and the
  infinities are ``nan``, ``inf`` and ``-inf`` in CSV, where text can say so);
- floats are written exactly (shortest round-trip digits; ``-0.0`` keeps its sign), ints of any
  size with all their digits (beyond Python's 4,300-digit ``str`` limit too), ``Decimal`` as a
  number with its digits, ``UUID`` as its text;
- dates, times and datetimes in ISO 8601 (``isoformat()``, the same for Python, numpy and pandas
  values), timedeltas as ISO 8601 durations (``P0DT0H1M30S``);
- complex numbers as ``{"real": ..., "imag": ...}``;
- dicts as objects, lists, tuples and sets as arrays, numpy scalars as their Python value;
- arrays, frames and series by their summary (``ndarray(shape=(10,), dtype=bool)``), or with
  ``full=True`` as lists (frames as lists of records); bytes always by their size;
- in CSV each cell is one line: containers and arrays as compact JSON, never Python reprs.

Tables for people (`table_frame`: the terminal table, Markdown) show the same text cut to a
width, with arrays, frames and long containers by their summary.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any
from uuid import UUID

from .summary import CELL_WIDTH, MAX_ITEMS, int_text, summarise

if TYPE_CHECKING:
    import pandas as pd

#: The formats `write` knows, besides parquet (`parquet_frame`).
TEXT_FORMATS = ("csv", "json", "jsonl", "markdown")


def plain(value: Any, full: bool = False) -> Any:
    """``value`` as JSON's model: None, bool, int, float (finite), str, Decimal (finite), list or
    dict with str keys. ``full=False`` replaces arrays, frames and series by their summary."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)  # an int subclass (IntEnum, np.timedelta64 is not one) as int
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, complex):
        return {"real": plain(value.real), "imag": plain(value.imag)}
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {_key(k): plain(v, full) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, full) for v in value]
    if isinstance(value, set | frozenset):
        return [plain(v, full) for v in _ordered(value)]
    if isinstance(value, bytes | bytearray | memoryview):
        return summarise(value, None)
    if isinstance(value, timedelta) or type(value).__name__ in ("timedelta64", "Timedelta"):
        return _duration(value)
    if isinstance(value, datetime | date | time) or type(value).__name__ == "datetime64":
        return _iso(value)
    shape = getattr(value, "shape", None)
    if shape == () and hasattr(value, "item"):  # a numpy scalar
        item = value.item()
        return str(value) if item is value else plain(item, full)
    if isinstance(shape, tuple):  # arrays, frames, series, index
        if not full:
            return summarise(value, None)
        if type(value).__name__ == "DataFrame":
            return [plain(r, full) for r in value.to_dict(orient="records")]
        if hasattr(value, "tolist"):
            return plain(value.tolist(), full)
    if _is_missing(value):
        return None
    return str(value)


def dumps(value: Any) -> str:
    """JSON text of a `plain` value, on one line (``", "`` and ``": "`` as separators).

    Written here rather than by ``json.dumps`` so that Decimal and huge ints keep all their
    digits; strings with lone surrogates (which UTF-8 cannot encode) are written as escapes."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int_text(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        return str(value)  # finite Decimals print as valid JSON numbers ("1E+3", "-0", ...)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_string(k)}: {dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dumps(v) for v in value) + "]"
    raise TypeError(f"not a plain value: {type(value).__name__}")  # plain() never returns one


def json_text(value: Any, full: bool = False) -> str:
    """``value`` as JSON text (see `plain`)."""
    return dumps(plain(value, full))


def csv_cell(value: Any, full: bool = False) -> str:
    """``value`` as the text of one CSV cell: one line whatever the value."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, complex):
        return str(value)
    value = plain(value, full)
    if value is None:
        return ""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, bool):
        return "True" if value else "False"
    return dumps(value)


def records(df: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """The rows of ``df`` as dicts (column names as str), values as stored (numpy scalars and
    pandas timestamps included)."""
    names = [str(c) for c in df.columns]
    for row in df.itertuples(index=False, name=None):
        yield dict(zip(names, row, strict=True))


def write(df: pd.DataFrame, fmt: str, out: IO[str], *, full: bool = False) -> None:
    """Write ``df`` to ``out`` as csv, json (one array), jsonl (one object a line) or markdown.

    json and jsonl need distinct column names (ValueError otherwise)."""
    if fmt in ("json", "jsonl") and not df.columns.is_unique:
        raise ValueError("JSON records need distinct column names")
    if fmt == "csv":
        import csv

        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([str(c) for c in df.columns])
        for row in df.itertuples(index=False, name=None):
            writer.writerow([csv_cell(v, full) for v in row])
    elif fmt == "json":
        out.write("[" + ", ".join(json_text(r, full) for r in records(df)) + "]\n")
    elif fmt == "jsonl":
        for r in records(df):
            out.write(json_text(r, full) + "\n")
    elif fmt == "markdown":
        out.write(markdown(df) + "\n")
    else:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(TEXT_FORMATS)}")


def table_cell(value: Any, width: int = CELL_WIDTH) -> Any:
    """A cell of a table for people: numbers as themselves, everything else as one line of at
    most ``width`` characters (containers as JSON, arrays and frames by their summary, missing
    values blank, as psql shows NULL)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or _is_na(value):
        return ""
    if isinstance(value, Decimal | UUID):
        value = str(value)
    elif isinstance(value, dict | list | tuple | set | frozenset) and len(value) <= MAX_ITEMS:
        value = json_text(value)
    elif isinstance(value, datetime | date | time) and not _is_missing(value):
        value = value.isoformat(" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, str):
        value = printable(value)
    return summarise(value, width)


def printable(text: str) -> str:
    """``text`` with lone surrogates (which UTF-8 cannot encode) as ``\\udxxx`` escapes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def table_frame(df: pd.DataFrame, width: int = CELL_WIDTH) -> pd.DataFrame:
    """A copy of ``df`` with every non-numeric cell a `table_cell`; datetimes to the second."""
    import pandas as pd

    out = df.copy()
    out.columns = pd.RangeIndex(df.shape[1])  # by position: SQL results may repeat a column name
    for i in out.columns:
        kind = out[i].dtype.kind
        if kind == "M":
            out[i] = out[i].dt.strftime("%Y-%m-%d %H:%M:%S")
        elif kind not in "biufcm":
            out[i] = out[i].astype(object).map(lambda v: table_cell(v, width))
    out.columns = df.columns
    return out


#: Widest cell of a Markdown table: wider than a terminal's, still one line of a page.
MARKDOWN_WIDTH = 80


def markdown(df: pd.DataFrame) -> str:
    """``df`` as a Markdown (GitHub) table of `table_cell` text, numbers right-aligned."""
    shown = table_frame(df, MARKDOWN_WIDTH)
    header = [_md(str(c)) for c in df.columns]
    numeric = [df[c].dtype.kind in "biuf" for c in df.columns] if df.columns.is_unique else []
    rule = ["---:" if numeric and numeric[i] else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    for row in shown.itertuples(index=False, name=None):
        lines.append("| " + " | ".join(_md(csv_cell(v)) for v in row) + " |")
    return "\n".join(lines)


def parquet_frame(df: pd.DataFrame, full: bool = False) -> pd.DataFrame:
    """``df`` ready for ``to_parquet``: complex columns as ``{real, imag}`` structs, other
    non-numeric columns as `plain` values, and a column pyarrow cannot hold as one type (mixed
    values, huge ints, ...) as the JSON text of each value."""
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

    out = df.copy()
    for column in out.columns:
        kind = out[column].dtype.kind
        if kind in "biufmM":
            continue
        if kind == "c":
            out[column] = [plain(complex(v)) for v in out[column]]
            continue
        values = [_parquet_value(v, full) for v in out[column]]
        try:
            pa.array(values, from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            values = [
                None if v is None else (v if isinstance(v, str) else dumps(v)) for v in values
            ]
        out[column] = values
    return out


# -- helpers ----------------------------------------------------------------------------------


def _parquet_value(value: Any, full: bool) -> Any:
    """A cell for pyarrow: dates, times and Decimals as themselves (parquet has types for
    them), everything else `plain`."""
    if isinstance(value, datetime | date | time | Decimal) and not _is_missing(value):
        return value
    return plain(value, full)


def _key(key: Any) -> str:
    return key if isinstance(key, str) else csv_cell(key)


def _ordered(values: Iterable[Any]) -> list[Any]:
    """A set's items in a stable order: sorted when they can be, else by their JSON text."""
    items = list(values)
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=lambda v: json_text(v))


def _string(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: escape it (and everything non-ASCII)
        return json.dumps(text)
    return json.dumps(text, ensure_ascii=False)


def _is_na(value: Any) -> bool:
    """``pd.NA`` or ``NaT`` (without importing pandas for other values)."""
    return type(value).__name__ in ("NAType", "NaTType")


def _is_missing(value: Any) -> bool:
    import pandas as pd

    try:
        return value is pd.NA or value is pd.NaT or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _iso(value: Any) -> str | None:
    import pandas as pd

    if _is_missing(value):
        return None
    if type(value).__name__ == "datetime64":
        value = pd.Timestamp(value)
    return str(value.isoformat())


def _duration(value: Any) -> str | None:
    import pandas as pd

    if _is_missing(value):
        return None
    try:
        return str(pd.Timedelta(value).isoformat())
    except (ValueError, OverflowError):  # units pandas cannot hold (years, months)
        return str(value)


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
