"""Tests of runtable.codec: exact round trips, rejected types, hostile bytes, memory use."""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import enum
import io
import json
import math
import pickle
import struct
import sys
import tracemalloc
import uuid
import zoneinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

import hypothesis.extra.numpy as hnp
import hypothesis.extra.pandas as hpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from identical import assert_identical

from runtable.codec import CODEC_VERSION, decode, digest_bytes, encode
from runtable.errors import CodecError, UnsupportedValueError

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
UTC = dt.UTC
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
HOUR = dt.timedelta(hours=1)
UNITS = ["s", "ms", "us", "ns"]


def roundtrip(value: Any) -> Any:
    """Encode, decode from bytes, bytearray and memoryview; each must be identical."""
    data = encode(value)
    assert type(data) is bytes
    assert data[:3] == b"RT" + bytes([CODEC_VERSION])
    out = decode(data)
    assert_identical(value, out)
    assert_identical(value, decode(bytearray(data)))
    assert_identical(value, decode(memoryview(data)))
    return out


# ------------------------------------------------------------------------------- values

PYTHON_VALUES: dict[str, Any] = {
    "none": None,
    "true": True,
    "false": False,
    "zero": 0,
    "int_small": [1, -1, 127, 128, -128, -129, 255, 256, -(2**31)],
    "int_64_edges": [2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64],
    "int_big": 2**200,
    "int_big_negative": -(2**70),
    "float": 1.5,
    "float_specials": [math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324, 1.7976931348623157e308],
    "complex": [1 + 2j, complex(math.nan, -0.0), complex(-math.inf, 0.0), -0j],
    "str_empty": "",
    "str_unicode": "é漢字😀\x00\n",
    "str_lone_surrogates": ["\ud800", "a\udfffb", "\ud83d\ude00", "\udc80"],
    "str_long": "x" * 5000,
    "bytes": [b"", b"\x00\xff" * 100],
    "bytearray": [bytearray(), bytearray(b"ab\x00")],
    "list": [[], [1, [2, [3, []]]]],
    "tuple": [(), (1,), ((),), (1, "a", None)],
    "set": [set(), {1, "a", (1, 2), None, 2.5}],
    "frozenset": [frozenset(), frozenset({1, frozenset({2})})],
    "dict_keys": {"a": 1, 1: "b", (1, 2): [3], None: None, 2.5: {}, frozenset({1}): 1, b"k": 0},
    "dict_order": [{"b": 1, "a": 2}, {"a": 2, "b": 1}],
    "dict_nested": {"model": {"layers": [{"w": 1.5, "tags": ("x", "y")}], "opt": None}},
    "decimal": [
        Decimal("NaN"),
        Decimal("-sNaN12"),
        Decimal("-0"),
        Decimal("1.2300"),
        Decimal("-Infinity"),
        Decimal("1E+1000"),
        Decimal("-1.5E-30"),
        Decimal(2**100),
    ],
    "uuid": [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1), uuid.uuid4()],
    "uuid_safe": uuid.UUID(int=7, is_safe=uuid.SafeUUID.safe),
    "uuid_unsafe": uuid.UUID(int=7, is_safe=uuid.SafeUUID.unsafe),
    "datetime_naive": [dt.datetime(2021, 3, 4, 5, 6, 7, 890123), dt.datetime.min, dt.datetime.max],
    "datetime_fold": dt.datetime(2021, 11, 7, 1, 30, fold=1),
    "datetime_utc": dt.datetime(2021, 3, 4, tzinfo=UTC),
    "datetime_fixed": [
        dt.datetime(2021, 3, 4, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
        dt.datetime(2021, 3, 4, tzinfo=dt.timezone(-dt.timedelta(hours=3), "BRT")),
        dt.datetime(2021, 3, 4, tzinfo=dt.timezone(dt.timedelta(microseconds=1), "\ud800")),
        dt.datetime(2021, 3, 4, tzinfo=dt.timezone(dt.timedelta(0), "Z")),
    ],
    "datetime_zoneinfo": [
        dt.datetime(2021, 7, 1, 12, tzinfo=PARIS),
        dt.datetime(2021, 11, 7, 1, 30, tzinfo=NEW_YORK, fold=1),
        dt.datetime(2021, 11, 7, 1, 30, tzinfo=NEW_YORK, fold=0),
    ],
    "date": [dt.date(2020, 2, 29), dt.date.min, dt.date.max],
    "time": [dt.time(), dt.time(23, 59, 59, 999999, fold=1), dt.time(1, 2, tzinfo=UTC)],
    "time_zoneinfo": dt.time(1, 2, 3, tzinfo=PARIS),
    "timedelta": [dt.timedelta(), dt.timedelta.min, dt.timedelta.max, dt.timedelta(-1, 0, 1)],
}

DATETIME_UNITS = ["Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "fs", "as"]
ARRAY_DTYPES = [
    "?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "g", "c8", "c16",
    "G", ">i2", ">i8", ">u4", ">f4", ">f8", ">c16", "<U3", ">U3", "S5",
    *(f"M8[{u}]" for u in DATETIME_UNITS),
    *(f"m8[{u}]" for u in DATETIME_UNITS),
    ">M8[ns]", "M8[5s]", "M8", "m8",
]  # fmt: skip


def _filled(dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    n = math.prod(shape)
    d = np.dtype(dtype)
    if d.kind in "US":
        base = np.array((["ab", "", "xyz", "é" if d.kind == "U" else "q"] * n)[:n], d)
    elif d.kind in "mM":
        base = np.arange(n, dtype="i8").view(d)
    else:
        base = np.arange(n).astype(d)
    return base.reshape(shape)


def _numpy_values() -> dict[str, Any]:
    v: dict[str, Any] = {}
    for code in ARRAY_DTYPES:
        v[f"array_{code}"] = _filled(code, (2, 3))
    big = np.arange(24.0).reshape(2, 3, 4)
    v |= {
        "array_0d": np.array(3.5),
        "array_0d_str": np.array("abc"),
        "array_0d_datetime": np.array(np.datetime64("2020-01-01", "D")),
        "array_empty": np.array([], "f8"),
        "array_empty_2d": np.zeros((0, 3), "i4"),
        "array_empty_3d_fortran": np.asfortranarray(np.zeros((3, 0, 2), "c8")),
        "array_strided": np.arange(20)[::3],
        "array_reversed": np.arange(5.0)[::-1],
        "array_transposed": big.T,
        "array_fortran": np.asfortranarray(big),
        "array_neither_order": big[:, ::2, 1:],
        "array_fortran_bigendian": np.asfortranarray(np.arange(6, dtype=">f8").reshape(2, 3)),
        "array_nan_inf": np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-310]),
        "array_nan_f2": np.array([np.nan, -np.inf, -0.0], "f2"),
        "array_nat": np.array(["2020-01-01T00:00:00.000000001", "NaT"], "M8[ns]"),
        "array_nat_timedelta": np.array([1, "NaT"], "m8[us]"),
        "array_object": np.array([1, "x", None, 2.5, [1, 2], {"a": (1,)}], dtype=object),
        "array_object_2d_fortran": np.asfortranarray(
            np.array([[1, "a", None], [b"b", 2.0, (3,)]], dtype=object)
        ),
        "array_object_nested_arrays": _object_array(
            [np.arange(3), np.array(["x"]), np.array(5), _object_0d(1.5)]
        ),
        "array_object_0d": _object_0d([1, 2]),
        "array_object_empty": np.empty((2, 0), dtype=object),
        "scalar_float32": np.float32(1.5),
        "scalar_float32_specials": [np.float32("nan"), np.float32("-inf"), np.float32(-0.0)],
        "scalar_float16": np.float16(2.5),
        "scalar_float64": [np.float64(-0.0), np.float64("nan")],
        "scalar_longdouble": np.longdouble("1.1"),
        "scalar_complex": [np.complex64(1 - 2j), np.complex128(complex(math.nan, 1)),
                           np.clongdouble(3j)],
        "scalar_bool": [np.bool_(True), np.bool_(False)],
        "scalar_ints": [np.int8(-8), np.int16(16), np.int32(-32), np.int64(2**62), np.uint8(255),
                        np.uint16(1), np.uint32(2**32 - 1), np.uint64(2**64 - 1)],
        "scalar_datetime64": [np.datetime64(1, u) for u in DATETIME_UNITS],
        "scalar_datetime64_nat": [np.datetime64("NaT"), np.datetime64("NaT", "ns")],
        "scalar_timedelta64": [np.timedelta64(-3, u) for u in DATETIME_UNITS],
        "scalar_timedelta64_nat": np.timedelta64("NaT"),
        "scalar_str": [np.str_(""), np.str_("é\ud800"), np.str_("a\x00")],
        "scalar_bytes": [np.bytes_(b""), np.bytes_(b"a\x00")],
        "nested_with_numpy": {
            "lr": np.float32(0.1),
            "steps": np.int64(3),
            "when": dt.datetime(2020, 1, 1, tzinfo=PARIS),
            "stamps": [np.datetime64("2020-01-01", "D"), pd.Timestamp("2020", tz="UTC")],
            "weights": {"w": np.ones((2, 2), "f4"), (1, "b"): np.bool_(False)},
        },
    }  # fmt: skip
    return v


def _object_array(items: list[Any]) -> np.ndarray:
    a = np.empty(len(items), dtype=object)
    for i, x in enumerate(items):
        a[i] = x
    return a


def _object_0d(item: Any) -> np.ndarray:
    a = np.empty((), dtype=object)
    a[()] = item
    return a


def _pandas_values() -> dict[str, Any]:
    n = 4
    idx_dt = pd.date_range("2021-03-27", periods=n, freq="D", tz=PARIS, unit="s")
    string_py = pd.StringDtype("python", na_value=np.nan)
    mixed = pd.DataFrame(
        {
            "int": np.arange(n),
            "float": [1.5, np.nan, -0.0, np.inf],
            "bool": [True, False, True, True],
            "f4": np.arange(n, dtype="f4"),
            "dt_ns": pd.to_datetime(
                ["2020-01-01", None, "2021-01-01 00:00:00.000000001", "2022"], format="ISO8601"
            ).as_unit("ns"),
            "dt_s": pd.date_range("2020", periods=n, unit="s"),
            "dt_tz": pd.date_range("2021-10-31", periods=n, freq="h", tz=PARIS),
            "dt_utc": pd.date_range("2021", periods=n, tz="UTC", unit="ms"),
            "td": pd.to_timedelta([1, 2, None, 4], unit="s"),
            "obj": pd.Series([1, "a", None, (2,)], dtype=object),
            "str": pd.Series(["a", None, "", "é"], dtype="str"),
            "str_py": pd.Series(["a", None, "", "é"], dtype=string_py),
            "string": pd.Series(["a", None, "", "é"], dtype="string[python]"),
            "string_arrow": pd.Series(["a", None, "", "é"], dtype="string[pyarrow]"),
            "cat": pd.Categorical(["b", "a", None, "b"], categories=["b", "a", "unused"]),
            "cat_ordered": pd.Categorical([3, 1, 2, 3], ordered=True),
            "Int64": pd.array([1, None, -3, 2**62], dtype="Int64"),
            "UInt8": pd.array([1, None, 255, 0], dtype="UInt8"),
            "Float64": pd.arrays.FloatingArray(
                np.array([1.5, np.nan, 0.0, -0.0]), np.array([False, False, True, False])
            ),
            "Float32": pd.array([1.5, None, 0.0, 2.0], dtype="Float32"),
            "boolean": pd.array([True, None, False, True], dtype="boolean"),
        }
    )
    multi = pd.MultiIndex.from_tuples([(1, "a"), (1, "b"), (2, "a"), (2, None)], names=["n", None])
    v: dict[str, Any] = {
        "df_mixed": mixed,
        "df_mixed_index_dt": mixed.set_axis(idx_dt),
        "df_multiindex_rows": mixed.iloc[:, :3].set_axis(multi),
        "df_multiindex_columns": pd.DataFrame(
            np.arange(8.0).reshape(2, 4),
            columns=pd.MultiIndex.from_product([["x", "y"], [1, 2]], names=["a", "b"]),
        ),
        "df_non_str_columns": pd.DataFrame([[1, 2, 3, 4]], columns=[0, 2.5, None, (1, "t")]),
        "df_duplicate_columns": pd.DataFrame([[1, "x", 2.0]], columns=["a", "a", "b"]),
        "df_int_column_index": pd.DataFrame([[1, 2]], columns=pd.Index([10, 20], dtype="int8")),
        "df_empty": pd.DataFrame(),
        "df_no_rows": pd.DataFrame({"a": pd.Series([], dtype="f4"), "b": pd.Series([], dtype=str)}),
        "df_no_columns": pd.DataFrame(index=pd.Index(["r1", "r2"], name="row")),
        "df_fortran_block": pd.DataFrame(np.asfortranarray(np.arange(6.0).reshape(3, 2))),
        "df_attrs": pd.DataFrame({"a": [1]}).pipe(_with_attrs),
        "df_no_duplicates_flag": pd.DataFrame({"a": [1]}).set_flags(allows_duplicate_labels=False),
        "df_named_axes": mixed.iloc[:, :2].rename_axis(index="rows", columns="cols"),
        "series_name_tuple": pd.Series([1.5, 2.5], name=("a", 1)),
        "series_name_int": pd.Series([1], name=0),
        "series_float16": pd.Series(np.array([1, np.nan], "f2")),
        "series_range_index": pd.Series([1, 2, 3], index=pd.RangeIndex(10, 4, -2, name="r")),
        "series_str_index": pd.Series([1, 2], index=pd.Index(["a", "b"], name="k")),
        "series_object_index": pd.Series([1, 2], index=pd.Index(["a", 1], dtype=object)),
        "series_obj_str_index": pd.Series([1], index=pd.Index(["a"], dtype=object)),
        "series_bool_index": pd.Series([1, 2], index=pd.Index([True, False])),
        "series_cat_index": pd.Series([1, 2], index=pd.CategoricalIndex(["a", "b"], name="c")),
        "series_tz_index": pd.Series(np.arange(n), index=idx_dt),
        "series_attrs": pd.Series([1]).pipe(_with_attrs),
        "index_int": pd.Index([3, 1, 2], name="i"),
        "index_uint8": pd.Index(np.array([1, 2], "u1")),
        "index_float32": pd.Index(np.array([1.5, np.nan], "f4")),
        "index_complex": pd.Index([1 + 1j, 2]),
        "index_str": pd.Index(["a", None]),
        "index_string_na": pd.Index(["a", None], dtype="string"),
        "index_object": pd.Index([1, "a", None], dtype=object),
        "index_Int64": pd.Index(pd.array([1, None], dtype="Int64")),
        "index_range": pd.RangeIndex(1, 100, 7, name=("x", 2)),
        "index_range_empty": pd.RangeIndex(0),
        "index_datetime_freq": pd.date_range("2020", periods=5, freq="D", name="d"),
        "index_datetime_freqs": [
            pd.date_range("2020", periods=4, freq=f) for f in ("2h", "B", "W-SUN", "MS", "QE-DEC")
        ],
        "index_datetime_tz_freq": pd.date_range("2021-03-28", periods=5, freq="h", tz=PARIS),
        "index_datetime_nofreq": pd.DatetimeIndex(["2020-01-03", "2020-01-01", None]),
        "index_datetime_unit_s": pd.date_range("2020", periods=3, unit="s", freq="min"),
        "index_timedelta_freq": pd.timedelta_range(0, periods=3, freq="h", name="t"),
        "index_timedelta": pd.to_timedelta(["1s", None]).as_unit("ms"),
        "index_categorical": pd.CategoricalIndex(["a", "b", "a"], ordered=True),
        "index_multi": multi,
        "index_multi_datetime_level": pd.MultiIndex.from_arrays(
            [pd.date_range("2020", periods=2, tz=UTC), pd.Index([1.5, 2.5])], names=["t", "x"]
        ),
        "timestamp_tz_ns": pd.Timestamp("2020-01-01 00:00:00.000000001", tz=PARIS),
        "timestamp_units": [pd.Timestamp("2020-01-01 01:02:03").as_unit(u) for u in UNITS],
        "timestamp_tz_units": [pd.Timestamp("2020-06-01", tz=PARIS).as_unit(u) for u in UNITS],
        "timestamp_far": [pd.Timestamp("3000-01-01").as_unit("s"), pd.Timestamp.min,
                          pd.Timestamp.max],
        "timestamp_far_tz": pd.Timestamp("1000-01-01 12:00").as_unit("s").tz_localize(PARIS),
        "timestamp_fixed_offset": pd.Timestamp("2020-06-01 12:00", tz=dt.timezone(-HOUR * 4)),
        "timestamp_ambiguous": pd.Timestamp(
            dt.datetime(2021, 11, 7, 1, 30, tzinfo=NEW_YORK, fold=1)
        ),
        "timestamp_naive_fold": pd.Timestamp(2021, 1, 1, fold=1),
        "timedelta_units": [pd.Timedelta(1, "s").as_unit(u) for u in UNITS],
        "timedelta_big": pd.Timedelta(days=10**6).as_unit("s"),
        "timedelta_ns": pd.Timedelta(1),
        "nat": pd.NaT,
        "na": pd.NA,
        "in_containers": {"df": pd.DataFrame({"a": [1]}), "s": [pd.Series([1.0]), pd.NA]},
    }  # fmt: skip
    return v


def _with_attrs(obj: Any) -> Any:
    obj.attrs = {"source": "test", "n": [1, 2]}
    return obj


ALL_VALUES = {**PYTHON_VALUES, **_numpy_values(), **_pandas_values()}


@pytest.mark.parametrize("name", list(ALL_VALUES))
def test_roundtrip(name: str) -> None:
    value = ALL_VALUES[name]
    roundtrip(value)
    if type(value) is list:
        for item in value:  # each item alone too, not only inside a list
            roundtrip(item)


def test_small_values_are_compact() -> None:
    assert len(encode(1.5)) == 12
    assert len(encode(7)) == 6
    assert len(encode("abc")) == 8
    assert len(encode(None)) == 4
    assert len(encode(np.float32(1.5))) <= 12


def test_decoded_array_is_read_only_by_default_and_writable_on_request() -> None:
    data = encode(np.arange(10.0))
    out = decode(data)
    assert isinstance(out, np.ndarray)
    assert not out.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        out[0] = 99.0
    mine = decode(data, writable=True)
    assert isinstance(mine, np.ndarray)
    assert mine.flags.writeable
    assert mine.flags.owndata
    mine[0] = 99.0
    assert decode(data)[0] == 0.0  # the bytes are untouched


def test_order_is_kept() -> None:
    f = np.asfortranarray(np.arange(12).reshape(3, 4))
    out = decode(encode(f))
    assert isinstance(out, np.ndarray)
    assert out.flags.f_contiguous
    assert not out.flags.c_contiguous
    c = decode(encode(f[:, ::2]))  # neither order: comes back as C
    assert isinstance(c, np.ndarray)
    assert c.flags.c_contiguous


def test_dict_key_order_matters_to_assert_identical() -> None:
    with pytest.raises(AssertionError, match="keys"):
        assert_identical({"a": 1, "b": 2}, {"b": 2, "a": 1})
    with pytest.raises(AssertionError):
        assert_identical(0.0, -0.0)
    with pytest.raises(AssertionError):
        assert_identical(np.arange(3, dtype="<i4"), np.arange(3, dtype=">i4"))
    with pytest.raises(AssertionError, match=r"\[1\]"):
        assert_identical([1, 2], [1, 2.0])


# ---------------------------------------------------------------------- property tests

surrogate_text = st.text(st.characters(exclude_categories=()), max_size=20)
offsets = st.integers(-86399, 86399).map(lambda s: dt.timezone(dt.timedelta(seconds=s)))
tzs = st.none() | st.just(UTC) | offsets | st.sampled_from([PARIS, NEW_YORK])
hashables = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | surrogate_text
    | st.binary(max_size=20)
    | st.decimals(allow_nan=False)
    | st.uuids()
    | st.dates()
    | st.datetimes(timezones=tzs, allow_imaginary=True)
    | st.times(timezones=st.none() | st.just(UTC))
    | st.timedeltas()
    | st.complex_numbers()
)
numpy_scalars = hnp.from_dtype(np.dtype("f4"), allow_nan=True) | st.sampled_from(
    ["i1", "u8", "f2", "c8", "?", "M8[ms]", "m8[D]", "U3"]
).flatmap(lambda d: hnp.from_dtype(np.dtype(d)))
leaves = hashables | st.decimals() | numpy_scalars | st.builds(bytearray, st.binary(max_size=10))
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(hashables, inner, max_size=4)
        | st.frozensets(hashables, max_size=4)
        | st.sets(hashables, max_size=4)
    ),
    max_leaves=20,
)
array_dtypes = (
    hnp.boolean_dtypes()
    | hnp.integer_dtypes(endianness="?")
    | hnp.unsigned_integer_dtypes(endianness="?")
    | hnp.floating_dtypes(endianness="?")
    | hnp.complex_number_dtypes(endianness="?")
    | hnp.datetime64_dtypes(max_period="Y", min_period="as", endianness="?")
    | hnp.timedelta64_dtypes(max_period="Y", min_period="as", endianness="?")
    | hnp.unicode_string_dtypes(endianness="?", max_len=4)
    | hnp.byte_string_dtypes(max_len=4)
)
arrays = hnp.arrays(array_dtypes, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
layouts = st.sampled_from(["C", "F", "T", "slice"])


def _layout(a: np.ndarray, how: str) -> np.ndarray:
    if how == "F":
        return np.asfortranarray(a)
    if how == "T":
        return a.T
    if how == "slice" and a.ndim:
        return a[::2]
    return a


@FAST
@given(values)
def test_property_python_values(value: Any) -> None:
    roundtrip(value)


@FAST
@given(arrays, layouts)
def test_property_arrays(a: np.ndarray, how: str) -> None:
    roundtrip(_layout(a, how))


@FAST
@given(arrays)
def test_property_object_arrays(a: np.ndarray) -> None:
    roundtrip(a.astype(object))


frames = hpd.data_frames(
    [
        hpd.column("i", dtype="int64"),
        hpd.column("f", dtype="float64"),
        hpd.column("b", dtype=bool),
        hpd.column("t", dtype="datetime64[ns]"),
        hpd.column("d", dtype="timedelta64[us]"),
        hpd.column("o", elements=st.one_of(st.none(), st.integers(), surrogate_text)),
        hpd.column("s", elements=st.text(max_size=5)),
    ],
    index=hpd.range_indexes(max_size=6) | hpd.indexes(dtype="int64", max_size=6),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames)
def test_property_frames(df: pd.DataFrame) -> None:
    roundtrip(df)
    roundtrip(df.iloc[:, 1])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hpd.series(dtype=float, index=hpd.indexes(elements=st.text(max_size=3), max_size=5)))
def test_property_series(s: pd.Series) -> None:
    roundtrip(s)


# ----------------------------------------------------------------------- unsupported values


class Color(enum.IntEnum):
    RED = 1


class MyDict(dict):  # type: ignore[type-arg]
    pass


class MyFloat(float):
    pass


Point = collections.namedtuple("Point", "x y")


class MyTz(dt.tzinfo):
    def utcoffset(self, d: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(0)


def _generator() -> Any:
    yield 1


UNSUPPORTED: dict[str, tuple[Any, type]] = {
    "function": (lambda: 1, type(lambda: 1)),
    "object": (object(), object),
    "class": (int, type),
    "generator": (_generator(), type(_generator())),
    "file": (io.BytesIO(), io.BytesIO),
    "int_enum": (Color.RED, Color),
    "dict_subclass": (MyDict(), MyDict),
    "float_subclass": (MyFloat(1.0), MyFloat),
    "ordered_dict": (collections.OrderedDict(), collections.OrderedDict),
    "defaultdict": (collections.defaultdict(list), collections.defaultdict),
    "namedtuple": (Point(1, 2), Point),
    "range": (range(3), range),
    "custom_tz": (dt.datetime(2020, 1, 1, tzinfo=MyTz()), MyTz),
    "timezone_subclass_time": (dt.time(tzinfo=MyTz()), MyTz),
    "structured_array": (np.zeros(2, dtype=[("a", "i4")]), type(np.dtype([("a", "i4")]))),
    "void_scalar": (np.zeros(1, dtype=[("a", "i4")])[0], np.void),
    "masked_array": (np.ma.masked_array([1, 2]), np.ma.MaskedArray),
    "matrix": (np.eye(2).view(np.matrix), np.matrix),
    "numpy_string_dtype": (np.array(["a"], dtype=np.dtypes.StringDType()), np.dtypes.StringDType),
    "numpy_dtype_object": (np.dtype("f8"), type(np.dtype("f8"))),
    "period": (pd.Period("2020-01", "M"), pd.Period),
    "interval": (pd.Interval(0, 1), pd.Interval),
    "period_index": (pd.period_range("2020", periods=2, freq="M"), pd.PeriodIndex),
    "interval_index": (pd.interval_range(0, 2), pd.IntervalIndex),
    "period_series": (pd.Series(pd.period_range("2020", periods=2)), pd.PeriodDtype),
    "arrow_series": (pd.Series([1], dtype="int64[pyarrow]"), pd.ArrowDtype),
    "sparse_series": (pd.Series(pd.arrays.SparseArray([0, 1])), pd.SparseDtype),
    "categorical_alone": (pd.Categorical(["a"]), pd.Categorical),
    "dateutil_tz": (pd.Timestamp("2020", tz="dateutil/Europe/Paris"), None),
    "zoneinfo_from_file": (None, zoneinfo.ZoneInfo),
}

if np.dtype("q").type is not np.dtype(np.dtype("q").str).type:  # np.longlong is an alias
    UNSUPPORTED["longlong_alias"] = (np.longlong(1), np.longlong)


@pytest.mark.parametrize("name", list(UNSUPPORTED))
def test_unsupported_type_is_rejected(name: str) -> None:
    value, expected = UNSUPPORTED[name]
    if name == "zoneinfo_from_file":
        with open(zoneinfo.TZPATH[0] + "/Europe/Paris", "rb") as f:
            value = dt.datetime(2020, 1, 1, tzinfo=zoneinfo.ZoneInfo.from_file(f))
    with pytest.raises(UnsupportedValueError) as info:
        encode(value)
    if expected is not None:
        assert info.value.value_type is expected
        assert expected.__qualname__ in str(info.value)


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"model": [1, 2, object()]}, "['model'][2]"),
        ([1, (2, {"k": lambda: 1})], "[1][1]['k']"),
        ({object(): 1}, "{key <object"),
        ({1, (object(),)}, "[0]"),
        (np.array([[1, object()]], dtype=object), "[0, 1]"),
        (pd.DataFrame({"a": [1, 2], "col": [1, object()]}), "['col'].iloc[1]"),
        (pd.Series([1], name=object()), ".name"),
        (pd.Series([1], index=pd.Index([object()], dtype=object)), ".index[0]"),
        ({"when": dt.datetime(2020, 1, 1, tzinfo=MyTz())}, "['when'].tzinfo"),
        ({"s": pd.Series(pd.period_range("2020", periods=1))}, "['s'].iloc.dtype"),
        (pd.Series(pd.date_range("2020", periods=1, tz="dateutil/UTC")), ".iloc.dtype.tzinfo"),
    ],
)
def test_unsupported_error_names_the_path(value: Any, path: str) -> None:
    with pytest.raises(UnsupportedValueError) as info:
        encode(value)
    assert path in info.value.path
    assert path in str(info.value)


def test_too_deep_nesting_is_rejected_on_encode() -> None:
    value: Any = 1
    for _ in range(500):
        value = [value]
    with pytest.raises(UnsupportedValueError, match="nested deeper"):
        encode(value)
    shallow: Any = 1
    for _ in range(150):
        shallow = [shallow]
    roundtrip(shallow)


def test_custom_business_day_frequency_is_rejected() -> None:
    freq = pd.offsets.CustomBusinessDay(holidays=["2020-01-02"])
    with pytest.raises(UnsupportedValueError, match="freq"):
        encode(pd.date_range("2020-01-01", periods=3, freq=freq))


# ------------------------------------------------------------------------- hostile bytes

HEADER = b"RT" + bytes([CODEC_VERSION])


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _array_payload(dtype: bytes, shape: tuple[int, ...], data: bytes = b"") -> bytes:
    """An array encoding: header, then zero padding to a multiple of 16, then ``data``."""
    dims = b"".join(_varint(d) for d in shape)
    head = HEADER + b"A" + bytes([len(dtype)]) + dtype + b"C" + _varint(len(shape)) + dims
    return head + bytes(-len(head) % 16) + data


BAD: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "b'RT'"),
    "magic_only": (b"RT", "b'RT'"),
    "wrong_magic": (b"PK\x01N", "b'RT'"),
    "version_0": (b"RT\x00N", "version 0"),
    "header_only": (HEADER, "truncated"),
    "unknown_tag": (HEADER + b"?", "unknown tag"),
    "trailing": (HEADER + b"NN", "left after"),
    "truncated_float": (HEADER + b"f\x00\x00", "truncated"),
    "huge_str_length": (HEADER + b"s" + _varint(2**60), "past the end"),
    "huge_bytes_length": (HEADER + b"b" + _varint(2**40) + b"abc", "past the end"),
    "huge_int_length": (HEADER + b"i" + _varint(2**62), "past the end"),
    "huge_list_count": (HEADER + b"l" + _varint(2**62) + b"N", "past the end"),
    "huge_dict_count": (HEADER + b"d" + _varint(2**30) + b"NN", "past the end"),
    "varint_too_long": (HEADER + b"s" + b"\xff" * 20, "varint too long"),
    "huge_array": (_array_payload(b"<f8", (10**9, 10**9)), "past the end"),
    "huge_array_many_dims": (_array_payload(b"<f8", (2**62,) * 8), "past the end"),
    "array_too_many_dims": (_array_payload(b"<f8", (1,) * 65), "dimensions"),
    "array_short_data": (_array_payload(b"<f8", (2,), b"\x00" * 9), "past the end"),
    "array_long_data": (_array_payload(b"<f8", (1,), b"\x00" * 9), "left after"),
    "empty_array_huge_dims": (_array_payload(b"<f8", (0, 2**62, 2**62)), "corrupt"),
    "dtype_object": (_array_payload(b"|O", (1,), b"\x00" * 8), "dtype"),
    "dtype_object8": (_array_payload(b"<O8", (1,), b"\x00" * 8), "dtype"),
    "dtype_void": (_array_payload(b"|V8", (1,), b"\x00" * 8), "dtype"),
    "dtype_no_byteorder": (_array_payload(b"f8", (1,), b"\x00" * 8), "dtype"),
    "dtype_noncanonical": (_array_payload(b"<i1", (1,), b"\x00"), "dtype"),
    "dtype_bad_size": (_array_payload(b"<f3", (1,), b"\x00" * 3), "dtype"),
    "dtype_bad_unit": (_array_payload(b"<M8[xs]", (1,), b"\x00" * 8), "dtype"),
    "dtype_zero_str": (_array_payload(b"<U0", (1,)), "dtype"),
    "dtype_struct": (_array_payload(b"[('a','<i4')]", (1,), b"\x00" * 4), "dtype"),
    "dtype_not_ascii": (_array_payload("<fé".encode(), (1,), b"\x00" * 8), "dtype"),
    "dtype_length_past_end": (HEADER + b"A\x40<f8", "dtype"),
    "bad_order": (HEADER + b"A\x03<f8Z\x00" + b"\x00" * 8, "order"),
    "array_padding_not_zero": (HEADER + b"A\x03<f8C\x01\x01" + b"\x01" * 5 + bytes(8), "padding"),
    "array_padding_missing": (HEADER + b"A\x03<f8C\x01\x01" + b"\x00" * 3, "padding"),
    "object_array_huge": (HEADER + b"OC\x01" + _varint(2**50), "past the end"),
    "tz_traversal": (HEADER + b"W" + bytes(12) + b"\x02\x10../../etc/passwd", "time zone"),
    "tz_unknown_key": (HEADER + b"W\xe4\x07\x01\x01" + bytes(8) + b"\x02\x07No/Zone", "time zone"),
    "tz_unknown_kind": (HEADER + b"W\xe4\x07\x01\x01" + bytes(8) + b"\x09", "time zone"),
    "bad_datetime": (HEADER + b"W" + bytes(13), "corrupt"),
    "bad_utf8": (HEADER + b"s\x01\xff", "corrupt"),
    "bad_decimal": (HEADER + b"D\x03abc", "corrupt"),
    "bad_decimal_spaces": (HEADER + b"D\x03 1 ", "Decimal"),
    "unhashable_set_item": (HEADER + b"e\x01l\x00", "corrupt"),
    "unknown_pandas_tag": (HEADER + b"P?", "pandas"),
    "pandas_bad_array_kind": (HEADER + b"PS?", "pandas array"),
    "pandas_bad_masked_name": (HEADER + b"PSm\x06object", "nullable"),
    "pandas_deprecated_freq": (
        encode(pd.Index(np.zeros(1, "M8[ns]")))[:-1] + b"\x01c",  # no frequency -> "c"
        "frequency",
    ),
    "pandas_bad_freq": (encode(pd.Index(np.zeros(1, "M8[ns]")))[:-1] + b"\x03a b", "frequency"),
    "deep_nesting": (HEADER + b"l\x01" * 100_000 + b"N", "nested deeper"),
}


@pytest.mark.filterwarnings("ignore")  # pandas warns about the deprecated frequency "c"
@pytest.mark.parametrize("name", list(BAD))
def test_bad_bytes_raise_codec_error(name: str) -> None:
    data, message = BAD[name]
    with pytest.raises(CodecError, match=message):
        decode(data)


def test_newer_version_asks_to_upgrade() -> None:
    data = b"RT" + bytes([CODEC_VERSION + 1]) + b"N"
    with pytest.raises(CodecError, match=f"version {CODEC_VERSION + 1}.*upgrade runtable"):
        decode(data)


def test_non_bytes_input_is_a_codec_error() -> None:
    with pytest.raises(CodecError):
        decode("RT\x01N")  # type: ignore[arg-type]
    assert decode(memoryview(np.frombuffer(HEADER + b"N", "u1"))) is None


SAMPLES = [
    ALL_VALUES[k]
    for k in (
        "dict_nested",
        "decimal",
        "uuid",
        "datetime_zoneinfo",
        "time",
        "array_fortran",
        "array_object",
        "array_M8[ns]",
        "scalar_datetime64",
        "scalar_str",
        "df_mixed",
        "df_multiindex_columns",
        "index_datetime_freq",
        "index_multi",
        "timestamp_tz_ns",
        "series_cat_index",
    )
]
ENCODED = [encode(v) for v in SAMPLES]


def _decode_or_codec_error(data: bytes) -> None:
    with contextlib.suppress(CodecError):
        decode(data)


@pytest.mark.filterwarnings("ignore")  # pandas may warn about corrupt fields it parses
@FAST
@given(st.binary(max_size=200))
def test_random_bytes(data: bytes) -> None:
    _decode_or_codec_error(data)
    _decode_or_codec_error(HEADER + data)


@pytest.mark.filterwarnings("ignore")
@FAST
@given(st.sampled_from(ENCODED), st.data())
def test_bit_flips(data: bytes, draw: st.DataObject) -> None:
    corrupt = bytearray(data)
    for _ in range(draw.draw(st.integers(1, 3))):
        i = draw.draw(st.integers(3, len(data) - 1))
        corrupt[i] ^= 1 << draw.draw(st.integers(0, 7))
    _decode_or_codec_error(bytes(corrupt))


@pytest.mark.filterwarnings("ignore")
@FAST
@given(st.sampled_from(ENCODED), st.data())
def test_spliced_bytes(data: bytes, draw: st.DataObject) -> None:
    i = draw.draw(st.integers(3, len(data)))
    junk = draw.draw(st.binary(min_size=1, max_size=12))
    _decode_or_codec_error(data[:i] + junk + data[i:])
    _decode_or_codec_error(data[:i] + junk + data[i + len(junk) :])


@pytest.mark.parametrize("index", range(len(ENCODED)))
def test_every_truncation_is_a_codec_error(index: int) -> None:
    data = ENCODED[index]
    for end in range(0, len(data), 1 + len(data) // 500):  # at most 500 cuts each
        with pytest.raises(CodecError):
            decode(data[:end])


def test_decoding_never_uses_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("pickle used while decoding")

    for name in ("loads", "load", "Unpickler", "_loads", "_load", "_Unpickler"):
        if hasattr(pickle, name):
            monkeypatch.setattr(pickle, name, forbidden)
    for name, value in ALL_VALUES.items():
        try:
            roundtrip(value)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc


def test_numpy_and_pandas_are_not_imported_by_the_codec() -> None:
    import subprocess

    code = (
        "import sys, runtable.codec as c; c.decode(c.encode([1, 'a', {2: 3.5}]));"
        "assert 'numpy' not in sys.modules and 'pandas' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=_env())


def _env() -> dict[str, str]:
    import os

    src = str(__import__("runtable").__path__[0]).rsplit("/runtable", 1)[0]
    return {**os.environ, "PYTHONPATH": src}


def test_values_of_modules_imported_later_are_supported() -> None:
    # decimal, uuid, numpy and pandas types are registered on first sight, whatever the order
    import subprocess

    code = (
        "import runtable.codec as c; c.encode(1);"
        "import numpy as np; assert c.decode(c.encode(np.int8(3))) == 3;"
        "import decimal; d = decimal.Decimal('1.5'); assert c.decode(c.encode(d)) == d;"
        "import pandas as pd; assert c.decode(c.encode(pd.NA)) is pd.NA"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=_env())


# -------------------------------------------------------------------------------- memory


def _peak_during(func: Any, *args: Any) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = func(*args)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_memory_of_large_array(layout: str) -> None:
    if layout == "strided":
        a = np.ones((10_000, 2_000))[:, ::2]  # 80 MB, neither C- nor F-contiguous
    else:
        a = np.ones((10_000, 1_000), order=layout)  # type: ignore[call-overload]  # 80 MB
    data, peak = _peak_during(encode, a)
    assert peak < 1.2 * a.nbytes, f"encode peaked at {peak / a.nbytes:.2f}x"
    out, peak = _peak_during(decode, data)
    assert peak < 1.2 * a.nbytes, f"decode peaked at {peak / a.nbytes:.2f}x"
    del data
    assert_identical(a, out)


def test_memory_of_large_frame() -> None:
    df = pd.DataFrame({"a": np.ones(5_000_000), "b": np.arange(5_000_000)})  # 80 MB
    size = 80_000_000
    data, peak = _peak_during(encode, df)
    assert peak < 1.2 * size, f"encode peaked at {peak / size:.2f}x"
    out, peak = _peak_during(decode, data)
    assert peak < 1.2 * size, f"decode peaked at {peak / size:.2f}x"
    assert_identical(df, out)


def test_float_struct_is_little_endian() -> None:
    assert encode(1.5)[4:] == struct.pack("<d", 1.5)


# -- a buffer handed over (consume=True): big arrays share it, even unaligned ones ---------------

BIG = 1 << 18  # elements: 2 MiB of float64


def _handed_over_values() -> list[Any]:
    rng = np.random.default_rng(5)
    return [
        rng.random(BIG),
        {"a": rng.random(BIG), "label": "x", "b": rng.integers(0, 9, BIG).astype(np.int32)},
        [b"12345", rng.random((BIG // 4, 4)).T, np.arange(BIG, dtype=np.complex128)],
        pd.DataFrame({"x": rng.random(BIG), "n": np.arange(BIG), "s": ["a", "b"] * (BIG // 2)}),
        {"ld": np.arange(BIG // 2, dtype=np.longdouble), "f4": np.ones(BIG, np.float32)},
    ]


@pytest.mark.parametrize("index", range(5))
@pytest.mark.parametrize("offset", range(8))
def test_a_handed_over_buffer_is_decoded_without_copying_big_arrays(
    index: int, offset: int
) -> None:
    value = _handed_over_values()[index]
    data = encode(value)
    raw = bytearray(len(data) + 8)
    raw[offset : offset + len(data)] = data  # any alignment of the encoding in memory
    buffer = memoryview(raw)[offset : offset + len(data)]
    decoded = decode(buffer, consume=True)
    assert_identical(decoded, value)
    arrays = [decoded] if isinstance(decoded, np.ndarray) else []
    if isinstance(decoded, dict):
        arrays = [v for v in decoded.values() if isinstance(v, np.ndarray)]
    for array in arrays:
        assert array.flags.aligned
        assert array.base is not None or array.dtype.alignment > 8  # shares the buffer


def test_a_buffer_that_is_not_handed_over_is_left_as_it_was() -> None:
    value = {"a": np.random.default_rng(6).random(BIG), "b": np.arange(BIG, dtype=np.float64)}
    data = encode(value)
    for offset in range(8):
        raw = bytearray(len(data) + 8)
        raw[offset : offset + len(data)] = data
        decoded = decode(memoryview(raw)[offset : offset + len(data)])
        assert_identical(decoded, value)
        assert bytes(raw[offset : offset + len(data)]) == data
    shared = decode(data, consume=True)  # immutable bytes: shared, never moved
    assert_identical(shared, value)
    assert isinstance(shared, dict)
    assert not shared["a"].flags.owndata


# -- version 2: aligned array data, read-only views by default -----------------------------------

#: Every raw dtype kind the codec stores, in native and swapped byte order where it has one.
RAW_DTYPES = [
    *"?bhilqBHILQefdgFDG",
    "M8[ns]",
    "M8[D]",
    "m8[s]",
    "U3",
    "S5",
    ">f8",
    ">i4",
    ">c16",
    "<U2",
    ">M8[us]",
]


def _address(data: bytes) -> int:
    return int(np.frombuffer(data, np.uint8).ctypes.data)


@pytest.mark.parametrize("dtype", RAW_DTYPES)
@pytest.mark.parametrize("prefix", [0, 1, 5, 15])
def test_array_data_is_aligned_in_the_encoding(dtype: str, prefix: int) -> None:
    a = np.ones(7, dtype)
    data = encode(["x" * prefix, a, {"k": a[::2], "n": np.ones(3, dtype=dtype)}])
    start = _address(data)
    out = decode(data)
    assert isinstance(out, list)
    for array in (out[1], out[2]["k"], out[2]["n"]):
        assert array.flags.aligned
        assert (array.ctypes.data - start) % 16 == 0  # from the start of the encoding
        assert not array.flags.writeable
        assert np.shares_memory(array, np.frombuffer(data, np.uint8))  # a view, no copy
        assert array.dtype.str == np.dtype(dtype).str
    assert_identical(out[1], a)
    assert_identical(out[2]["k"], a[::2].copy())


@pytest.mark.parametrize("dtype", RAW_DTYPES)
def test_writable_arrays_are_copies_sharing_nothing_with_the_bytes(dtype: str) -> None:
    a = np.zeros((2, 3), dtype)
    data = encode({"a": a})
    out = decode(data, writable=True)
    assert isinstance(out, dict)
    array = out["a"]
    assert array.flags.writeable
    assert array.flags.aligned
    assert not np.shares_memory(array, np.frombuffer(data, np.uint8))
    array[0, 0] = np.ones(1, dtype)[0]
    assert_identical(decode(data)["a"], a)  # type: ignore[index]


LAYOUTS: dict[str, Any] = {
    "fortran": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
    "strided": np.arange(40, dtype=np.int32).reshape(5, 8)[::2, 1::3],
    "byteswapped": np.arange(6, dtype=">i8").reshape(2, 3),
    "byteswapped_fortran": np.asfortranarray(np.arange(6, dtype=">f4").reshape(2, 3)),
    "zero_size": np.zeros((0, 4), np.float32),
    "zero_size_fortran": np.zeros((3, 0), np.complex128, order="F"),
    "zero_dims": np.array(2.5),
    "transposed_view": np.arange(6.0).reshape(2, 3).T,
    "readonly_source": np.frombuffer(np.arange(4.0).tobytes()),
}


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_any_layout_comes_back_identical_read_only_or_writable(name: str) -> None:
    a = LAYOUTS[name]
    data = encode(a)
    out = decode(data)
    assert_identical(out, a.copy(order="K") if name == "strided" else a)
    assert isinstance(out, np.ndarray)
    assert not out.flags.writeable
    assert out.flags.aligned
    if a.size:
        assert np.shares_memory(out, np.frombuffer(data, np.uint8))
        with pytest.raises(ValueError, match="read-only"):
            out.flat[0] = 1
    mine = decode(data, writable=True)
    assert isinstance(mine, np.ndarray)
    assert_identical(mine, out)
    assert mine.flags.writeable
    if a.size:
        mine.flat[0] = 1
        assert_identical(decode(data), out)


def test_object_arrays_are_read_only_by_default_down_to_their_elements() -> None:
    value = np.array([np.arange(3.0), "a", None], dtype=object)
    out = decode(encode(value))
    assert isinstance(out, np.ndarray)
    assert not out.flags.writeable
    assert not out[0].flags.writeable
    mine = decode(encode(value), writable=True)
    assert isinstance(mine, np.ndarray)
    assert mine.flags.writeable
    assert mine[0].flags.writeable
    mine[1] = "b"
    mine[0][0] = 5.0


@pytest.mark.parametrize("offset", range(1, 16))
def test_bytes_not_aligned_in_memory_give_aligned_read_only_copies(offset: int) -> None:
    value = {"c": np.arange(5, dtype=np.clongdouble), "f": np.arange(9.0), "i": np.arange(3)}
    data = encode(value)
    held = bytes(offset) + data
    view = memoryview(held)[offset:]  # read-only, starting at any address
    out = decode(view)
    assert_identical(out, value)
    assert isinstance(out, dict)
    for array in out.values():
        assert array.flags.aligned
        assert not array.flags.writeable
    assert all(decode(view, writable=True)[k].flags.writeable for k in value)  # type: ignore[index]


def test_a_writable_buffer_not_handed_over_is_copied_from() -> None:
    raw = bytearray(encode(np.arange(4.0)))
    out = decode(raw)
    assert isinstance(out, np.ndarray)
    assert not out.flags.writeable
    raw[-8:] = bytes(8)  # the caller's buffer changes; the decoded array does not
    assert out[-1] == 3.0


@pytest.mark.parametrize("writable", [False, True])
def test_a_handed_over_buffer_is_shared_read_only_or_writable(writable: bool) -> None:
    value = {"a": np.arange(1000.0), "s": "x"}
    raw = bytearray(encode(value))
    out = decode(memoryview(raw), consume=True, writable=writable)
    assert isinstance(out, dict)
    assert out["a"].flags.writeable is writable
    assert np.shares_memory(out["a"], np.frombuffer(raw, np.uint8))
    assert_identical(out, value)


def test_pandas_objects_are_built_on_read_only_views() -> None:
    df = pd.DataFrame({"x": np.arange(5.0), "n": np.arange(5), "s": list("abcde")})
    data = encode(df)
    out = decode(data)
    assert isinstance(out, pd.DataFrame)
    assert_identical(out, df)
    assert np.shares_memory(out["x"].to_numpy(), np.frombuffer(data, np.uint8))
    with pytest.raises(ValueError, match="read-only"):
        out.iloc[0, 0] = 9.0
    mine = decode(data, writable=True)
    assert isinstance(mine, pd.DataFrame)
    mine.iloc[0, 0] = 9.0
    assert mine.iloc[0, 0] == 9.0
    series = decode(encode(df["x"]))
    assert isinstance(series, pd.Series)
    with pytest.raises(ValueError, match="read-only"):
        series.iloc[0] = 1.0


def test_decoding_a_big_array_from_bytes_allocates_no_copy() -> None:
    a = np.random.default_rng(1).random(4_000_000)  # 32 MB
    data = encode(a)
    out, peak = _peak_during(decode, data)
    assert peak < 0.01 * a.nbytes, f"decode allocated {peak / a.nbytes:.2f}x"
    assert_identical(out, a)
    _, peak = _peak_during(lambda d: decode(d, writable=True), data)
    assert peak >= a.nbytes  # the writable copy


# -- version 1 (no padding): values written by runtable 0.1 still decode -------------------------

V1_DATA: dict[str, bytes] = {
    name: bytes.fromhex(text)
    for name, text in json.loads(
        (Path(__file__).parent / "data" / "codec_v1.json").read_text()
    ).items()
}


def v1_values() -> dict[str, Any]:
    """The values whose version 1 encodings tests/data/codec_v1.json holds (made by runtable's
    codec version 1 from exactly these values)."""
    return {
        "none_bool_int_float": [None, True, False, -(2**70), 1.5, 2j],
        "str_bytes": ["héllo", b"\x00\x01", bytearray(b"ab")],
        "dict_set": {"a": (1, 2), "b": {3}, "c": frozenset({"x"})},
        "datetime": dt.datetime(2024, 3, 1, 12, 30, 5, 7, tzinfo=dt.UTC),
        "array_f8": np.arange(7.0) / 3,
        "array_f4_2d": np.arange(12, dtype=np.float32).reshape(3, 4),
        "array_fortran_i2": np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3)),
        "array_big_endian": np.arange(5, dtype=">f8"),
        "array_u1": np.arange(3, dtype=np.uint8),
        "array_c16": np.array([1 + 2j, -3j]),
        "array_bool": np.array([True, False, True]),
        "array_M8": np.array(["2024-01-01", "NaT"], dtype="M8[ns]"),
        "array_m8": np.array([1, 2], dtype="m8[s]"),
        "array_U": np.array(["ab", "c"]),
        "array_S": np.array([b"x", b"yz"]),
        "array_empty": np.zeros((0, 3)),
        "array_object": np.array([1, "a", None], dtype=object),
        "scalars": [np.float32(1.25), np.int64(-3), np.datetime64("2024-01-01", "D")],
        "dict_of_arrays": {"x": np.arange(3.0), "label": "run", "n": np.arange(4, dtype=np.int32)},
        "series": pd.Series([1.5, 2.5], index=["a", "b"], name="s"),
        "frame": pd.DataFrame({"x": [1.0, 2.0], "n": [1, 2], "s": ["a", "b"]}),
    }


def test_version_1_literal_data_covers_every_value() -> None:
    assert set(V1_DATA) == set(v1_values())
    assert all(data[:3] == b"RT\x01" for data in V1_DATA.values())


@pytest.mark.parametrize("name", list(v1_values()))
def test_version_1_values_still_decode(name: str) -> None:
    data = V1_DATA[name]
    value = v1_values()[name]
    for writable in (False, True):
        out = decode(data, writable=writable)
        assert_identical(out, value)
        arrays = [out] if isinstance(out, np.ndarray) else []
        arrays += list(out.values()) if isinstance(out, dict) else []
        for array in (a for a in arrays if isinstance(a, np.ndarray)):
            assert array.flags.writeable is writable
            assert array.flags.aligned
    again = encode(value)
    assert again[:3] == b"RT\x02"
    assert_identical(decode(again), value)


def test_version_1_arrays_unaligned_in_a_handed_over_buffer_are_moved_not_copied() -> None:
    data = V1_DATA["array_f8"]
    raw = bytearray(data)
    out = decode(memoryview(raw), consume=True)
    assert_identical(out, v1_values()["array_f8"])
    assert isinstance(out, np.ndarray)
    assert out.flags.aligned
    assert np.shares_memory(out, np.frombuffer(raw, np.uint8))


@pytest.mark.parametrize("name", list(v1_values()))
def test_digest_bytes_are_version_1_bytes(name: str) -> None:
    """Digests stored with runs (params, config) hash these: they must not change with the
    codec version, or resuming would see every config as changed."""
    assert digest_bytes(v1_values()[name]) == V1_DATA[name]


@FAST
@given(st.lists(st.tuples(surrogate_text, arrays, layouts), min_size=1, max_size=4))
def test_property_every_array_is_an_aligned_read_only_view(
    items: list[tuple[str, np.ndarray, str]],
) -> None:
    """Whatever precedes them in the encoding, arrays come back aligned at a multiple of 16
    from its start, read-only views of the bytes; writable copies on request."""
    value = [(text, _layout(a, how)) for text, a, how in items]
    data = encode(value)
    start = _address(data)
    out = decode(data)
    assert_identical(out, [(t, a if a.flags.forc else a.copy()) for t, a in value])
    assert isinstance(out, list)
    for _, array in out:
        assert not array.flags.writeable
        if array.size:
            assert (array.ctypes.data - start) % 16 == 0
            assert np.shares_memory(array, np.frombuffer(data, np.uint8))
    mine = decode(data, writable=True)
    assert isinstance(mine, list)
    assert all(array.flags.writeable for _, array in mine)
    assert_identical(mine, out)
