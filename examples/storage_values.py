"""What comes back as what: the values a run can store, and the ones it cannot."""

import math
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

import runtable as rt

values = {
    "big": 2**80,  # past 64 bits: NULL in its BIGINT column, exact in the companion
    "minus_zero": -0.0,
    "cplx": 1 + 2j,
    "price": Decimal("19.99"),
    "key": uuid.UUID(int=7),
    "day": date(2025, 3, 1),
    "paris": datetime(2025, 3, 1, 9, 30, tzinfo=ZoneInfo("Europe/Paris")),
    "utc": datetime(2025, 3, 1, 8, 30, tzinfo=UTC),
    "wait": timedelta(minutes=90),
    "nested": {"a": (1, 2), 3: {"b": None}},  # a tuple and an int key: not plain JSON
    "shapes": [np.zeros((2, 2), order="F"), np.arange(3, dtype=np.uint8)],
    "single": np.float32(1.5),  # a numpy scalar in a native column: comes back as 1.5
    "bits": np.array([True, False]),
    "frame": pd.DataFrame({"t": pd.date_range("2025-01-01", periods=2, tz="UTC"), "v": [1, 2]}),
    "none": None,
    "raw": b"\x00\x01",
    "empty": frozenset(),
}

session = rt.connect()
exp = session.create_experiment("values")
with exp.run(case="all") as run:
    run.fields.update(values)
exp.persist(if_exists="replace")

back = session.load_experiment("values").runs.first().fields
for name, value in values.items():
    got = back[name]
    if name == "minus_zero":
        equal = got == 0 and math.copysign(1, got) == -1
    elif isinstance(value, (np.ndarray, pd.DataFrame, list)):
        equal = repr(got) == repr(value)
    else:
        equal = got == value
    print(f"{name:10} {type(value).__name__:9} -> {type(got).__name__:9} equal: {equal}")
print(back["paris"].tzinfo, back["shapes"][0].flags.f_contiguous, back["frame"]["t"].dt.tz)


class Point:  # not something the codec stores: it never executes code on load
    def __init__(self, x):
        self.x = x


bad = session.create_experiment("unsupported")
with bad.run(case=1) as run:
    run.fields.point = Point(1)
try:
    bad.persist()  # refused before anything is written
except rt.UnsupportedValueError as e:
    print(f"UnsupportedValueError: {e}")
print("unsupported" in list(session.ls()["name"]))

# A param must be storable as soon as it is added: it identifies the run in the grid.
try:
    session.create_experiment("fraction").add_run(x=Fraction(1, 3))
except rt.UnsupportedValueError as e:
    print(f"UnsupportedValueError: {str(e).split(':')[0]}")
