"""Checks shared by the campaign tests: what a stored sweep must look like at any moment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import runtable as rt

HERE = Path(__file__).resolve().parent
SWEEP = HERE / "sweep.py"
WRITER = HERE / "writer.py"
SWEEP_FIELDS = ("value", "path", "label")


def script_env(**extra: str) -> dict[str, str]:
    """The environment of a helper script: this one, with tests/ importable, plus ``extra``."""
    env = dict(os.environ)
    tests = str(HERE.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (tests, env.get("PYTHONPATH")) if p)
    env.pop("RUNTABLE_URL", None)
    env.update(extra)
    return env


def start_sweep(url: str, name: str, a: int, b: int, **env: str) -> subprocess.Popen[str]:
    """Start tests/campaign/sweep.py (see its docstring for ``env``)."""
    return subprocess.Popen(
        [sys.executable, str(SWEEP), url, name, str(a), str(b)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=script_env(**env),
    )


def run_sweep(url: str, name: str, a: int, b: int, **env: str) -> None:
    """Run the sweep to its end in a subprocess; fail with its stderr if it does not finish."""
    child = start_sweep(url, name, a, b, **env)
    out, err = child.communicate(timeout=300)
    assert child.returncode == 0, err
    assert "finished" in out


def sweep_uninterrupted(a: int, b: int) -> rt.Experiment:
    """The sweep of sweep.py executed here at once, stored and loaded again: the reference
    that interrupted and resumed sweeps must equal (the same step, so the same results)."""
    from campaign.sweep import simulate

    session = rt.connect("sqlite://")
    exp = session.create_experiment("sweep").add_runs(a=range(a), b=range(b))
    exp.execute(simulate, persist=True)
    return session.load_experiment("sweep")


def frame(experiment: rt.Experiment) -> pd.DataFrame:
    """The runs as a DataFrame whose array cells are replaced by their exact bytes and dtype."""
    df = experiment.runs.df().drop(columns="id_run")  # ids are random per process
    for column in df.columns:
        if df[column].map(lambda v: isinstance(v, np.ndarray)).any():
            df[column] = df[column].map(
                lambda v: (v.dtype.str, v.shape, v.tobytes()) if isinstance(v, np.ndarray) else v
            )
    return df


def assert_same_runs(a: rt.Experiment, b: rt.Experiment) -> None:
    """Same params and fields in the same order, exactly (arrays compared byte for byte)."""
    pd.testing.assert_frame_equal(frame(a), frame(b), check_exact=True)


def index(run: rt.Run) -> int:
    """Where a run is in its campaign grid, from its params: ``i``, or ``a`` and ``b`` as
    ``a * 1000 + b``. Run ids are random per process, so the campaign keys runs by this."""
    params = run.params
    if "i" in params:
        return int(params["i"])
    return int(params["a"]) * 1000 + int(params["b"])


def log_ids(path: Path) -> tuple[set[int], set[int]]:
    """The indices (see `index`) of the runs that started and that ended, from a
    RUNTABLE_SWEEP_LOG file."""
    started: set[int] = set()
    ended: set[int] = set()
    if path.exists():
        for line in path.read_text().splitlines():
            what, _, run_id = line.partition(" ")
            if run_id.isdigit():
                (started if what == "start" else ended).add(int(run_id))
    return started, ended


def check_sweep(
    session: rt.Session, name: str, n_runs: int, reference: Mapping[int, Mapping[str, Any]]
) -> set[int]:
    """Load a (possibly interrupted) sweep and check that it is consistent; return the indices
    (see `index`) of its done runs; ``reference`` maps each index to its fields.

    Consistent: the whole grid is there; every run is pending (no field at all) or done (every
    field, each equal to the uninterrupted reference); the ``experiments`` row counts the runs.
    """
    experiment = session.load_experiment(name)
    assert len(experiment.runs) == n_runs
    stored = session.ls().set_index("name").loc[name, "n_runs"]
    assert stored == n_runs
    done: set[int] = set()
    for run in experiment.runs:
        fields = dict(run.fields)
        if run.status == "done":
            assert sorted(fields) == sorted(SWEEP_FIELDS), (index(run), fields)
            expected = reference[index(run)]
            assert fields["value"] == expected["value"], index(run)
            assert fields["label"] == expected["label"], index(run)
            assert fields["path"].tobytes() == expected["path"].tobytes(), index(run)
            assert run.error is None
            assert run.started_at is not None
            assert run.ended_at is not None
            done.add(index(run))
        else:
            assert run.status == "pending", (index(run), run.status, run.error)
            assert fields == {}, (index(run), fields)
    return done


def statuses(session: rt.Session, name: str) -> dict[str, int]:
    """Run counts by status, straight from SQL."""
    df = session.query(
        f"SELECT runtable_status AS status, COUNT(*) AS n FROM e_{name} GROUP BY runtable_status"
    )
    return {str(s): int(n) for s, n in zip(df["status"], df["n"], strict=True)}
