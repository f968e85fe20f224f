"""Property: random grids with random field values persist and load back identical."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from identical import assert_identical

import runtable as rt

NAMES = st.sampled_from(["a", "b", "loss", "Acc", "x1", "metric_2"])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)),
)
ARRAYS = hnp.arrays(
    dtype=st.sampled_from([np.float64, np.int32, np.bool_, np.complex64, np.uint8]),
    shape=hnp.array_shapes(min_dims=0, max_dims=2, max_side=4),
)
VALUES = st.recursive(
    st.one_of(SCALARS, ARRAYS),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=5), inner, max_size=3),
        st.tuples(inner, inner),
    ),
    max_leaves=6,
)
GRID = st.dictionaries(
    st.sampled_from(["n", "lr", "model"]),
    st.lists(
        st.one_of(st.integers(-5, 5), st.floats(0, 1), st.text(max_size=3)),
        min_size=1,
        max_size=3,
        unique_by=repr,
    ),
    min_size=1,
    max_size=2,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grid=GRID, data=st.data())
def test_random_grids_and_fields_round_trip(
    grid: dict[str, list[Any]], data: st.DataObject
) -> None:
    session = rt.connect("sqlite://")
    exp = session.create_experiment("prop").add_runs(**grid)
    for run in exp.runs:
        names = data.draw(st.lists(NAMES, max_size=4, unique_by=str.lower))
        for name in names:
            run.fields[name] = data.draw(VALUES)
    exp.persist()
    loaded = session.load_experiment("prop")
    assert len(loaded.runs) == len(exp.runs)
    for before, after in zip(exp.runs, loaded.runs, strict=True):
        assert before.id == after.id
        assert_identical(dict(after.params), dict(before.params))
        assert_identical(_sorted(after.fields), _sorted(before.fields))  # column order
    session.close()


def _sorted(fields: Any) -> dict[str, Any]:
    return {name: fields[name] for name in sorted(fields)}
