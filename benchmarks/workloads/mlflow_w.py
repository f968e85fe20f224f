"""MLflow's side of the cheap workloads it has (run in ``benchmarks/.venvs/mlflow``): W3 and W4.
See ``_common`` for the protocol and ``sqlite_w`` for the raw baselines they are paired with.

The tracking store is SQLite (``<dir>/mlflow.db``, artifacts under ``<dir>/mlruns``), opened (its
schema created by MLflow's migrations) before the timer, since MLflow has no close. Metrics go
through ``log_batch`` (1,000 per call, MLflow's limit), arrays are ``.npy`` artifacts. MLflow's
W2 (10k runs take minutes) and W5 (it needs that W2) are left out.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import sqlite_w
from _common import Ctx, Side, Timed, main, w3_value

mlflow: Any = None  # the module, imported by preload()
#: MLflow's limit on metrics per ``log_batch`` call.
BATCH = 1000


def preload() -> None:
    global mlflow
    import mlflow as module
    import numpy  # noqa: F401
    import pandas  # noqa: F401

    mlflow = module


def open_store(directory: Path) -> None:
    """Point MLflow at ``directory``'s database, creating its schema when new (untimed)."""
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(f"sqlite:///{directory / 'mlflow.db'}")
    MlflowClient().search_experiments()


def w3(ctx: Ctx) -> Timed:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    open_store(ctx.work)

    def timed() -> None:
        mlflow.set_experiment("w3")
        with mlflow.start_run() as run:
            metrics = []
            for i in range(ctx.size):
                metrics.append(Metric("loss", w3_value(i), int(time.time() * 1000), i))
            client = MlflowClient()
            for start in range(0, ctx.size, BATCH):
                client.log_batch(run.info.run_id, metrics=metrics[start : start + BATCH])

    ctx.info["api"] = f"log_batch of {BATCH} metrics"
    return timed


def write_w4(directory: Path, data: list[Any]) -> None:
    import numpy as np

    stage = directory / "stage"
    stage.mkdir(exist_ok=True)
    artifacts = (directory / "mlruns").as_uri()
    mlflow.set_experiment(experiment_id=mlflow.create_experiment("w4", artifact_location=artifacts))
    for i, array in enumerate(data):
        with mlflow.start_run():
            mlflow.log_param("i", i)
            path = os.path.join(stage, "x.npy")
            np.save(path, array)
            mlflow.log_artifact(path)


def w4_write(ctx: Ctx) -> Timed:
    data = sqlite_w.w4_arrays(ctx.size)
    ctx.info["data_mb"] = sum(a.nbytes for a in data) / 2**20
    open_store(ctx.work)
    return lambda: write_w4(ctx.work, data)


def setup_w4(mb: int, root: Path) -> None:
    directory = root / f"mlflow-w4-{mb}"
    directory.mkdir()
    open_store(directory)
    write_w4(directory, sqlite_w.w4_arrays(mb))
    sqlite_w.setup_w4(mb, root)


def w4_read(ctx: Ctx) -> Timed:
    import numpy as np

    directory = ctx.root / f"mlflow-w4-{ctx.size}"
    open_store(directory)

    def timed() -> list[Any]:
        runs = mlflow.search_runs(experiment_names=["w4"], output_format="list")
        arrays = []
        for k, run in enumerate(runs):
            path = mlflow.artifacts.download_artifacts(
                run_id=run.info.run_id, artifact_path="x.npy", dst_path=str(ctx.work / f"d{k}")
            )
            arrays.append(np.load(path))
        ctx.info["writeable"] = any(a.flags.writeable for a in arrays)
        ctx.info["data_mb"] = sum(a.nbytes for a in arrays) / 2**20
        return arrays

    return timed


SIDES: dict[str, Side] = {"W3": w3, "W4-write": w4_write, "W4-read": w4_read}
SETUPS = {"W4-read": setup_w4}

if __name__ == "__main__":
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    main(SIDES, SETUPS, preload=preload)
