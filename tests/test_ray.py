"""Sweeps on Ray through its joblib backend (runs where ray is installed: runtable[ray])."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import joblib
import pytest

import runtable as rt

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'runtable[ray]')")


@pytest.fixture(scope="module")
def ray_backend() -> Iterator[None]:
    from ray.util.joblib import register_ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    register_ray()
    try:
        yield
    finally:
        ray.shutdown()


class RayStepError(RuntimeError):
    """A failure type that must come back from Ray's workers as itself."""


def test_a_sweep_on_ray_persists_and_keeps_failure_types(ray_backend: None, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ray.db'}"

    @rt.step
    def simulate(run: rt.Run) -> None:
        if run.params.i == 13:
            raise RayStepError("thirteen")
        run.fields.value = float(run.rng.normal())

    exp = rt.connect(url).create_experiment("on_ray").add_runs(i=range(40))
    with joblib.parallel_config(backend="ray"):
        exp.execute(simulate, persist=True, on_error="record")
    loaded = rt.connect(url).load_experiment("on_ray")
    assert sum(r.status == "done" for r in loaded.runs) == 39
    assert "RayStepError" in (loaded.runs.at(13).error or "")

    local = rt.connect("sqlite://").create_experiment("on_ray").add_runs(i=range(40))
    local.execute(simulate, on_error="record")
    assert [r.fields.get("value") for r in loaded.runs] == [
        r.fields.get("value") for r in local.runs
    ]

    with joblib.parallel_config(backend="ray"), pytest.raises(RayStepError):
        rt.connect(url).load_experiment("on_ray").execute(simulate)
