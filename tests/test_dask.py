"""Sweeps on a real Dask cluster (worker processes on loopback) through joblib's dask backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import joblib
import numpy as np
import pytest

import runtable as rt

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=40,
    )
    with cluster, distributed.Client(cluster) as c:
        yield c


class SimulationError(RuntimeError):
    """A failure type that must come back from the workers as itself."""


def test_a_grid_of_hundreds_of_runs_with_incremental_persistence(
    client: object, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'dask.db'}"

    @rt.step
    def simulate(run: rt.Run) -> None:  # defined here: cloudpickle ships it by value
        import os

        run.fields.value = float(run.rng.normal())
        run.fields.path = run.rng.random(100)
        run.fields.pid = os.getpid()

    exp = rt.connect(url).create_experiment("cluster").add_runs(a=range(20), b=range(15))
    with joblib.parallel_config(backend="dask"):
        exp.execute(simulate, persist=True)

    loaded = rt.connect(url).load_experiment("cluster")
    assert len(loaded.runs) == 300
    assert {r.status for r in loaded.runs} == {"done"}
    assert len({r.fields.pid for r in loaded.runs}) == 2  # both worker processes took runs

    local = rt.connect("sqlite://").create_experiment("cluster").add_runs(a=range(20), b=range(15))
    local.execute(simulate)
    for remote_run, local_run in zip(loaded.runs, local.runs, strict=True):
        assert remote_run.fields.value == local_run.fields.value  # same seeds everywhere
        np.testing.assert_array_equal(remote_run.fields.path, local_run.fields.path)


def test_failures_in_workers_keep_their_type_and_resume_finishes(
    client: object, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'dask.db'}"
    broken = {7, 13}

    @rt.step(name="simulate")
    def flaky(run: rt.Run) -> None:
        if run.params.i in broken:
            raise SimulationError(f"run {run.params.i}")
        run.fields.square = run.params.i**2

    exp = rt.connect(url).create_experiment("flaky").add_runs(i=range(200))
    with joblib.parallel_config(backend="dask"):
        exp.execute(flaky, persist=True, on_error="record")
    failed = [r for r in exp.runs if r.status == "failed"]
    assert sorted(r.params.i for r in failed) == [7, 13]
    assert all("SimulationError" in (r.error or "") for r in failed)

    with joblib.parallel_config(backend="dask"), pytest.raises(SimulationError) as info:
        rt.connect(url).load_experiment("flaky").execute(flaky)
    assert any("failed in step 'simulate'" in note for note in info.value.__notes__)

    broken.clear()
    resumed = rt.connect(url).load_experiment("flaky")
    with joblib.parallel_config(backend="dask"):
        resumed.execute(flaky, persist=True)
    stored = rt.connect(url).load_experiment("flaky")
    assert [r.fields.square for r in stored.runs] == [i * i for i in range(200)]
