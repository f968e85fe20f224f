"""MLflow's workloads (run in ``benchmarks/.venvs/mlflow``). See ``_common`` for the protocol.

The tracking store is SQLite (``sqlite:///<tmpdir>/mlflow.db``, artifacts in ``<tmpdir>/mlruns``);
a workload name ending in ``_file`` uses MLflow's file store (``file://<tmpdir>/mlruns``) instead.
Params become MLflow params, float fields metrics, arrays ``.npy`` artifacts. MLflow has no
execution engine, so W6 is not available.
"""

from __future__ import annotations

import os
import time
from typing import Any

from _common import W4_RUNS, Timings, float_source, main, not_available, w2_points, w3_value

#: MLflow's limit on metrics per ``log_batch`` call.
BATCH = 1000


def tracking_uri(tmpdir: str, file_store: bool) -> str:
    if file_store:
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # opt in to the file store of MLflow 3
        return "file://" + os.path.join(tmpdir, "mlruns")
    return "sqlite:///" + os.path.join(tmpdir, "mlflow.db")


def preload(tmpdir: str, file_store: bool = False) -> Any:
    """Import MLflow and open its store (creating the database schema, untimed)."""
    import mlflow
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(tracking_uri(tmpdir, file_store))
    MlflowClient().search_experiments()  # creates the tables (alembic migrations) when new
    return mlflow


def w1(size: int, tmpdir: str) -> None:
    import mlflow  # cold: W1 is the whole process, imports and schema creation included

    mlflow.set_tracking_uri(tracking_uri(tmpdir, False))
    mlflow.set_experiment("w1")
    with mlflow.start_run():
        mlflow.log_metric("x", 0.5)
    Timings().emit()


def w2(size: int, tmpdir: str) -> None:
    mlflow = preload(tmpdir)
    timings = Timings()
    with timings.time("total"):
        mlflow.set_experiment("w2")
        value = float_source()
        for a, b, c in w2_points(size):
            with mlflow.start_run():
                mlflow.log_params({"a": a, "b": b, "c": c})
                mlflow.log_metrics(
                    {"f0": value(), "f1": value(), "f2": value(), "f3": value(), "f4": value()}
                )
    timings.info["runs"] = size
    timings.emit()


def w3(size: int, tmpdir: str, each: bool = False) -> None:
    mlflow = preload(tmpdir)
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    timings = Timings()
    with timings.time("total"):
        mlflow.set_experiment("w3")
        with mlflow.start_run() as run:
            if each:
                for i in range(size):
                    mlflow.log_metric("loss", w3_value(i), step=i)
            else:
                client = MlflowClient()
                metrics = []
                for i in range(size):
                    metrics.append(Metric("loss", w3_value(i), int(time.time() * 1000), i))
                for start in range(0, size, BATCH):
                    client.log_batch(run.info.run_id, metrics=metrics[start : start + BATCH])
    timings.info["api"] = "log_metric per value" if each else f"log_batch of {BATCH} metrics"
    timings.emit()


def w4_write(size: int, tmpdir: str, file_store: bool = False) -> None:
    import numpy as np

    mlflow = preload(tmpdir, file_store)
    timings = Timings()
    n = size * 2**20 // 8
    data = [np.random.default_rng(i).random(n) for i in range(W4_RUNS)]
    stage = os.path.join(tmpdir, "stage")
    os.makedirs(stage, exist_ok=True)
    with timings.time("total"):
        mlflow.set_experiment("w4")
        for i, array in enumerate(data):
            with mlflow.start_run():
                mlflow.log_param("i", i)
                path = os.path.join(stage, "x.npy")
                np.save(path, array)
                mlflow.log_artifact(path)
    timings.info["data_mb"] = sum(a.nbytes for a in data) / 2**20
    timings.emit()


def w4_read(size: int, tmpdir: str, file_store: bool = False) -> None:
    import numpy as np

    mlflow = preload(tmpdir, file_store)
    timings = Timings()
    with timings.time("total"):
        runs = mlflow.search_runs(experiment_names=["w4"], output_format="list")
        arrays = []
        for k, run in enumerate(runs):
            path = mlflow.artifacts.download_artifacts(
                run_id=run.info.run_id,
                artifact_path="x.npy",
                dst_path=os.path.join(tmpdir, f"d{k}"),
            )
            arrays.append(np.load(path))
    timings.info["data_mb"] = sum(a.nbytes for a in arrays) / 2**20
    timings.emit()


def w5(size: int, tmpdir: str) -> None:
    mlflow = preload(tmpdir)
    timings = Timings()
    with timings.time("total"):
        df = mlflow.search_runs(experiment_names=["w2"], max_results=max(size, 1))
    timings.info["shape"] = list(df.shape)
    timings.emit()


def no_engine(size: int, tmpdir: str) -> None:
    not_available("MLflow has no execution engine (runs are tracked, not executed)")


WORKLOADS = {
    "W1": w1,
    "W2": w2,
    "W3": w3,
    "W3each": lambda size, tmpdir: w3(size, tmpdir, each=True),
    "W4w": w4_write,
    "W4r": w4_read,
    "W4w_file": lambda size, tmpdir: w4_write(size, tmpdir, file_store=True),
    "W4r_file": lambda size, tmpdir: w4_read(size, tmpdir, file_store=True),
    "W5": w5,
    "W6j1": no_engine,
    "W6j2": no_engine,
}

if __name__ == "__main__":
    main(WORKLOADS)
