"""A catalogue of values every backend must store and load exactly, by name."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": [1.5, np.nan, -np.inf],
            "n": np.array([1, 2, 3], dtype=np.int32),
            "s": pd.Series(["a", "b", None], dtype="str"),
            "t": pd.to_datetime(["2024-01-01", "2024-06-01 12:00:00", None], format="ISO8601"),
            "tz": pd.to_datetime(["2024-01-01", "2024-06-01", "2024-12-31"]).tz_localize(
                "Europe/Rome"
            ),
            "o": ["x", 1, None],
        },
        index=pd.Index([10, 20, 30], name="step"),
    )


def _multi() -> pd.DataFrame:
    index = pd.MultiIndex.from_product([["a", "b"], [1, 2]], names=["letter", "number"])
    return pd.DataFrame({"v": [1.0, 2.0, 3.0, 4.0]}, index=index)


VALUES: dict[str, Callable[[], Any]] = {
    "none": lambda: None,
    "true": lambda: True,
    "int": lambda: 42,
    "negative_int": lambda: -7,
    "int64_max": lambda: 2**63 - 1,
    "big_int": lambda: 2**200,
    "negative_big_int": lambda: -(2**70),
    "float": lambda: 0.1,
    "nan": lambda: float("nan"),
    "inf": lambda: float("inf"),
    "minus_inf": lambda: float("-inf"),
    "minus_zero": lambda: -0.0,
    "str": lambda: "héllo ☃",
    "empty_str": lambda: "",
    "str_with_nul": lambda: "a\x00b",
    "long_str": lambda: "x" * 100_000,
    "bytes": lambda: b"\x00\x01\xff",
    "list": lambda: [1, "two", 3.0, None],
    "tuple": lambda: (1, (2, 3)),
    "set": lambda: {1, 2, 3},
    "frozenset": lambda: frozenset({"a"}),
    "json_dict": lambda: {"precision": 0.667, "recall": 0.5, "tags": ["a", "b"], "n": 3},
    "nested_dict": lambda: {
        "a": {"b": np.float32(1.5), "when": dt.datetime(2024, 1, 2, 3, 4, 5)},
        "c": (1, 2),
        7: np.int16(3),
    },
    "empty_dict": lambda: {},
    "array_f64": lambda: np.linspace(0, 1, 11),
    "array_i8": lambda: np.arange(-5, 5, dtype=np.int8),
    "array_u64": lambda: np.array([0, 2**64 - 1], dtype=np.uint64),
    "array_bool": lambda: np.array([True, False, True]),
    "array_c128": lambda: np.array([1 + 2j, np.nan]),
    "array_f16": lambda: np.array([1.5, -2.0], dtype=np.float16),
    "array_2d": lambda: np.arange(12.0).reshape(3, 4),
    "array_0d": lambda: np.array(3.5),
    "array_empty": lambda: np.empty((0, 3)),
    "array_noncontiguous": lambda: np.arange(20.0).reshape(4, 5)[:, ::2],
    "array_fortran": lambda: np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    "array_datetime64": lambda: np.array(["2024-01-01", "NaT"], dtype="datetime64[ns]"),
    "array_datetime64_days": lambda: np.array(["2024-01-01"], dtype="datetime64[D]"),
    "array_timedelta64": lambda: np.array([1, 2], dtype="timedelta64[ms]"),
    "array_str": lambda: np.array(["a", "bcd"]),
    "np_float32": lambda: np.float32(1.5),
    "np_int64": lambda: np.int64(-3),
    "np_bool": lambda: np.bool_(True),
    "np_datetime64": lambda: np.datetime64("2024-01-01T00:00:00.123456789"),
    "datetime": lambda: dt.datetime(2024, 5, 6, 7, 8, 9, 123456),
    "datetime_utc": lambda: dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC),
    "datetime_zone": lambda: dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=ZoneInfo("Asia/Tokyo")),
    "date": lambda: dt.date(2024, 2, 29),
    "time": lambda: dt.time(23, 59, 59, 999999),
    "timedelta": lambda: dt.timedelta(days=-1, seconds=5),
    "decimal": lambda: decimal.Decimal("3.14159265358979323846"),
    "uuid": lambda: uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "series": lambda: pd.Series([1.0, 2.0], index=["a", "b"], name="s"),
    "series_datetime": lambda: pd.Series(pd.date_range("2024-01-01", periods=3, freq="D")),
    "frame": _frame,
    "frame_multiindex": _multi,
    "frame_multi_columns": lambda: _multi().T,
    "frame_empty": lambda: pd.DataFrame(),
    "timestamp": lambda: pd.Timestamp("2024-01-01 00:00:00.000000001", tz="UTC"),
}
