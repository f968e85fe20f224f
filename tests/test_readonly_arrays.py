"""Arrays loaded from a database are read-only views of the fetched bytes (codec version 2),
on every backend; the codec gives writable copies on request."""

from __future__ import annotations

import base64
import json
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from identical import assert_identical

import runtable as rt
from runtable import codec
from runtable.decoding import decode_cell
from runtable.storage.columns import decode_column


def _values(i: int) -> dict[str, Any]:
    rng = np.random.default_rng(i)
    return {
        "x": rng.random(1000),
        "m": np.asfortranarray(rng.integers(0, 9, (30, 7)).astype(np.int32)),
        "be": np.arange(5, dtype=">f8") + i,
        "d": {"a": rng.random(10), "label": f"run {i}", "c": np.arange(3, dtype=np.complex128)},
        "frame": pd.DataFrame({"f": rng.random(4), "n": np.arange(4) + i}),
        "empty": np.zeros((0, 2), np.float32),
    }


def _arrays(value: Any) -> list[np.ndarray]:
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, dict):
        return [v for v in value.values() if isinstance(v, np.ndarray)]
    return []


def _persist(url: str) -> None:
    session = rt.connect(url)
    exp = session.create_experiment("arrays", weights=np.linspace(0, 1, 11))
    exp.add_runs(i=[0, 1, 2])
    for run in exp.runs:
        for name, value in _values(run.params.i).items():
            setattr(run.fields, name, value)
    exp.persist()
    session.close()


def test_loaded_arrays_are_equal_and_read_only(shared_url: str) -> None:
    _persist(shared_url)
    with rt.connect(shared_url) as session:
        loaded = session.load_experiment("arrays")
    assert_identical(loaded.fields["weights"], np.linspace(0, 1, 11))
    assert not loaded.fields["weights"].flags.writeable
    for run in loaded.runs:
        expected = _values(run.params.i)
        for name, value in expected.items():
            got = getattr(run.fields, name)
            assert_identical(got, value)
            for array in _arrays(got):
                assert array.flags.aligned
                assert not array.flags.writeable
    x = loaded.runs.first().fields.x
    with pytest.raises(ValueError, match="assignment destination is read-only"):
        x[0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        loaded.runs.first().fields.frame.iloc[0, 0] = 1.0
    mine = x.copy()  # the way to change a loaded array
    mine[0] = 1.0


def test_load_experiment_writable_gives_writable_arrays(shared_url: str) -> None:
    _persist(shared_url)
    with rt.connect(shared_url) as session:
        loaded = session.load_experiment("arrays", writable=True)
    assert loaded.fields["weights"].flags.writeable
    for run in loaded.runs:
        for name, value in _values(run.params.i).items():
            got = getattr(run.fields, name)
            assert_identical(got, value)
            assert all(array.flags.writeable for array in _arrays(got))
    loaded.runs.first().fields.x[0] = 1.0


def test_stored_cells_decode_read_only_or_writable(shared_url: str) -> None:
    _persist(shared_url)
    with rt.connect(shared_url) as session:
        table = session.ls().set_index("name").loc["arrays", "table_name"]
        cells = session.query(f'SELECT x, m FROM "{table}" ORDER BY id_run')
    for i, (x, m) in enumerate(zip(cells["x"], cells["m"], strict=True)):
        expected = _values(i)
        value = rt.decode(x)
        assert_identical(value, expected["x"])
        assert not value.flags.writeable
        raw = base64.b64decode(x) if isinstance(x, str) else x  # base64 text on CrateDB
        mine = codec.decode(raw, writable=True)
        assert isinstance(mine, np.ndarray)
        assert mine.flags.writeable
        mine[0] = -1.0
        assert_identical(rt.decode(x), expected["x"])  # the cell is untouched
        fortran = rt.decode(m)
        assert_identical(fortran, expected["m"])
        assert not fortran.flags.writeable
        assert fortran.flags.f_contiguous
        raw_m = base64.b64decode(m) if isinstance(m, str) else m
        assert codec.decode(raw_m, writable=True).flags.writeable  # type: ignore[attr-defined]


def test_values_in_parts_load_read_only(shared_url: str) -> None:
    session = rt.connect(shared_url)
    session.store.dialect.max_cell_bytes = 3000  # type: ignore[attr-defined, misc]
    value = {"a": np.arange(4000.0), "b": np.arange(1000, dtype=np.int16)}
    exp = session.create_experiment("big").add_run(i=0)
    exp.runs.first().fields.v = value
    exp.persist()
    session.close()
    with rt.connect(shared_url) as reader:
        loaded = reader.load_experiment("big").runs.first().fields.v
    assert_identical(loaded, value)
    for array in _arrays(loaded):
        assert array.flags.aligned
        assert not array.flags.writeable


@pytest.mark.parametrize("writable", [False, True])
def test_a_value_put_together_from_parts_is_shared_read_only_or_writable(
    writable: bool,
) -> None:
    """What storage hands decode_column for a value read from its parts (chunks.read_value's
    buffer): arrays share it, writable only when asked."""
    value = np.arange(5000.0)
    buffer = memoryview(bytearray(codec.encode(value)))
    (out,) = decode_column(
        "blob", [buffer], None, experiment="e", name="v", run_ids=[0], writable=writable
    )
    assert_identical(out, value)
    assert out.flags.writeable is writable
    assert np.shares_memory(out, np.frombuffer(buffer, np.uint8))


def test_base64_text_of_every_codec_version_is_decoded() -> None:
    """CrateDB keeps codec bytes as base64 text; query(decode=True) must recognise the text of
    version 1 values as well as today's."""
    data = json.loads((Path(__file__).parent / "data" / "codec_v1.json").read_text())
    old = bytes.fromhex(data["array_f8"])
    assert_identical(decode_cell(base64.b64encode(old).decode(), "x"), codec.decode(old))
    new = codec.encode(np.arange(3.0))
    assert_identical(decode_cell(base64.b64encode(new).decode(), "x"), np.arange(3.0))


def test_persisting_arrays_joins_one_cell_at_a_time(tmp_path: Path) -> None:
    """SQLite: each array's cell (codec header + the array's own memory) is joined only as the
    driver binds its row, so Python-level allocations while persisting ten 2 MiB arrays stay
    far below their 20 MiB (they were all joined before the insert)."""
    arrays = [np.random.default_rng(i).random(2**18) for i in range(10)]
    url = f"sqlite:///{tmp_path / 'w.db'}"
    session = rt.connect(url)
    exp = session.create_experiment("w").add_runs(i=range(10))
    for run in exp.runs:
        run.fields.x = arrays[run.params.i]
    session.ls()  # the store's first queries, out of the measurement
    tracemalloc.start()
    try:
        exp.persist()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    session.close()
    data = sum(a.nbytes for a in arrays)
    assert peak < 0.4 * data, f"persist allocated {peak / data:.2f}x the arrays"
    with rt.connect(url) as reader:
        for run in reader.load_experiment("w").runs:
            assert_identical(run.fields.x, arrays[run.params.i])
