"""``assert_identical``: strict recursive equality for test suites.

Stricter than ``==``: the type must match at every level, NaN equals NaN, -0.0 differs from
0.0, dict key order counts, numpy arrays must agree in dtype (byte order included), shape,
memory order (F or C) and values, pandas objects in dtypes, index, names and freq.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from typing import Any

__all__ = ["assert_identical"]


def assert_identical(a: Any, b: Any, path: str = "value") -> None:
    """Raise AssertionError naming the path of the first difference between ``a`` and ``b``."""
    if type(a) is not type(b):
        _fail(path, f"type {type(a).__name__} != {type(b).__name__}")
    t = type(a)
    np = sys.modules.get("numpy")
    pd = sys.modules.get("pandas")
    if t is float:
        _same_float(a, b, path)
    elif t is complex:
        _same_float(a.real, b.real, path + ".real")
        _same_float(a.imag, b.imag, path + ".imag")
    elif t in (list, tuple):
        if len(a) != len(b):
            _fail(path, f"length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, y, f"{path}[{i}]")
    elif t is dict:
        ka, kb = list(a), list(b)
        if len(ka) != len(kb):
            _fail(path, f"{len(ka)} keys != {len(kb)} keys")
        for i, (x, y) in enumerate(zip(ka, kb, strict=True)):
            assert_identical(x, y, f"{path}.keys()[{i}]")
            assert_identical(a[x], b[y], f"{path}[{x!r}]")
    elif t in (set, frozenset):
        _same_set(a, b, path)
    elif t in (dt.datetime, dt.time):
        if a.replace(tzinfo=None) != b.replace(tzinfo=None) or a.fold != b.fold:
            _fail(path, f"{a!r} != {b!r}")
        _same_tz(a.tzinfo, b.tzinfo, path + ".tzinfo")
    elif t.__module__ == "decimal":
        if a.as_tuple() != b.as_tuple():
            _fail(path, f"{a!r} != {b!r}")
    elif t.__module__ == "uuid":
        if a != b or a.is_safe != b.is_safe:
            _fail(path, f"{a!r} != {b!r}")
    elif np is not None and t is np.ndarray:
        _same_array(np, a, b, path)
    elif np is not None and isinstance(a, np.generic):
        if a.dtype.str != b.dtype.str:
            _fail(path, f"dtype {a.dtype.str} != {b.dtype.str}")
        _same_array(np, np.asarray(a), np.asarray(b), path)
    elif pd is not None and t.__module__.startswith("pandas"):
        _same_pandas(pd, np, a, b, path)
    elif a != b:
        _fail(path, f"{a!r} != {b!r}")


def _fail(path: str, what: str) -> None:
    raise AssertionError(f"{path}: {what}")


def _same_float(a: float, b: float, path: str) -> None:
    if math.isnan(a) and math.isnan(b):
        return
    if a != b or math.copysign(1.0, a) != math.copysign(1.0, b):
        _fail(path, f"{a!r} != {b!r}")


def _same_set(a: Any, b: Any, path: str) -> None:
    if len(a) != len(b):
        _fail(path, f"{len(a)} elements != {len(b)}")
    left = list(b)
    for x in a:
        for i, y in enumerate(left):
            try:
                assert_identical(x, y, path)
            except AssertionError:
                continue
            del left[i]
            break
        else:
            _fail(path, f"element {x!r} missing from the second set")


def _same_tz(a: Any, b: Any, path: str) -> None:
    if type(a) is not type(b):
        _fail(path, f"{a!r} != {b!r}")
    if a is None:
        return
    if isinstance(a, dt.timezone):
        same = a.utcoffset(None) == b.utcoffset(None) and a.tzname(None) == b.tzname(None)
    else:
        same = getattr(a, "key", a) == getattr(b, "key", b)
    if not same:
        _fail(path, f"{a!r} != {b!r}")


def _order(a: Any) -> str:
    return "F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C"


def _same_array(np: Any, a: Any, b: Any, path: str) -> None:
    if a.dtype != b.dtype or a.dtype.str != b.dtype.str:
        _fail(path, f"dtype {a.dtype.str} != {b.dtype.str}")
    if a.shape != b.shape:
        _fail(path, f"shape {a.shape} != {b.shape}")
    if _order(a) != _order(b):
        _fail(path, f"order {_order(a)} != {_order(b)}")
    kind = a.dtype.kind
    if kind == "O":
        for idx in np.ndindex(a.shape):
            assert_identical(a[idx], b[idx], f"{path}[{', '.join(map(str, idx))}]")
        return
    if kind in "mM":
        same = np.array_equal(a.view("i8"), b.view("i8"))
    elif kind in "fc":
        same = np.array_equal(a, b, equal_nan=True) and all(
            np.array_equal(np.signbit(x), np.signbit(y))
            for x, y in ((a.real, b.real), (a.imag, b.imag))
        )
    else:
        same = np.array_equal(a, b)
    if not same:
        _fail(path, f"values differ:\n{a!r}\n{b!r}")


def _same_pandas(pd: Any, np: Any, a: Any, b: Any, path: str) -> None:
    try:
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(
                a, b, check_exact=True, check_column_type=True, check_freq=True, check_flags=True
            )
            _same_pandas(pd, np, a.index, b.index, path + ".index")
            _same_pandas(pd, np, a.columns, b.columns, path + ".columns")
            for j in range(a.shape[1]):
                _same_values(pd, np, a.iloc[:, j], b.iloc[:, j], f"{path}.iloc[:, {j}]")
            assert_identical(a.attrs, b.attrs, path + ".attrs")
        elif isinstance(a, pd.Series):
            pd.testing.assert_series_equal(
                a, b, check_exact=True, check_index_type=True, check_freq=True, check_flags=True
            )
            _same_pandas(pd, np, a.index, b.index, path + ".index")
            assert_identical(a.name, b.name, path + ".name")
            _same_values(pd, np, a, b, path)
            assert_identical(a.attrs, b.attrs, path + ".attrs")
        elif isinstance(a, pd.Index):
            pd.testing.assert_index_equal(a, b, exact=True, check_exact=True, check_names=True)
            assert_identical(list(a.names), list(b.names), path + ".names")
            if getattr(a, "freq", None) != getattr(b, "freq", None):
                _fail(path, f"freq {a.freq!r} != {b.freq!r}")
            if isinstance(a, pd.MultiIndex):
                for i in range(a.nlevels):
                    assert_identical(a.levels[i], b.levels[i], f"{path}.levels[{i}]")
            elif not isinstance(a, pd.RangeIndex):
                _same_values(pd, np, a, b, path)
        elif isinstance(a, pd.Timestamp):
            if a.unit != b.unit or a.asm8 != b.asm8 or a.fold != b.fold:
                _fail(path, f"{a!r} (unit {a.unit}) != {b!r} (unit {b.unit})")
            _same_tz(a.tzinfo, b.tzinfo, path + ".tzinfo")
        elif isinstance(a, pd.Timedelta):
            if a.unit != b.unit or a.asm8 != b.asm8:
                _fail(path, f"{a!r} (unit {a.unit}) != {b!r} (unit {b.unit})")
        elif a is pd.NaT or a is pd.NA:
            if a is not b:
                _fail(path, f"{a!r} != {b!r}")
        elif a != b:
            _fail(path, f"{a!r} != {b!r}")
    except AssertionError as exc:
        if str(exc).startswith(path):
            raise
        raise AssertionError(f"{path}: {exc}") from None


def _same_values(pd: Any, np: Any, a: Any, b: Any, path: str) -> None:
    """Element types of object columns, and the sign of zeros, which pandas does not check."""
    if a.dtype != b.dtype or str(a.dtype) != str(b.dtype):
        _fail(path, f"dtype {a.dtype!r} != {b.dtype!r}")
    if isinstance(a.dtype, pd.DatetimeTZDtype):
        _same_tz(a.dtype.tz, b.dtype.tz, path + ".dtype.tz")
    if isinstance(a.dtype, pd.StringDtype) and a.dtype.storage != b.dtype.storage:
        _fail(path, f"string storage {a.dtype.storage} != {b.dtype.storage}")
    if isinstance(a.dtype, pd.CategoricalDtype):
        assert_identical(a.dtype.categories, b.dtype.categories, path + ".categories")
    if not np.array_equal(np.asarray(a.isna()), np.asarray(b.isna())):
        _fail(path, "missing values differ")
    if isinstance(a.dtype, np.dtype) and a.dtype.kind in "Ofc":
        assert_identical(a.to_numpy(), b.to_numpy(), path + ".values")
