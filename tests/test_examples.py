"""Every example runs, as a user would run it: a fresh interpreter in an empty directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

import runtable as rt

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(script: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k != "RUNTABLE_URL"}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_coins_generate_then_evaluate_in_another_process(tmp_path: Path) -> None:
    generated = _run("coins_generate.py", tmp_path)
    assert "stored 20 runs of 'coins'" in generated
    assert (tmp_path / "runtable.db").exists()  # the default database, in the cwd

    evaluated = _run("coins_evaluate.py", tmp_path)
    assert "mean_err" in evaluated

    session = rt.connect(f"sqlite:///{tmp_path / 'runtable.db'}")
    exp = session.load_experiment("coins")
    assert exp.fields.evaluated_with == "estimate"
    assert dict(exp.config) == {"p": 0.5}
    for run in exp.runs:
        assert run.fields.tosses.dtype == bool
        assert run.fields.tosses.shape == (run.params.n,)
        assert run.fields.err == abs(run.fields.tosses.mean() - 0.5)
    errors = session.query("SELECT n, AVG(err) AS e FROM e_coins GROUP BY n ORDER BY n")
    assert list(errors["n"]) == [10, 100, 1000, 10000]
    assert errors["e"].is_monotonic_decreasing  # more tosses, better estimates (fixed seeds)


def test_examples_reproduce_the_same_tosses(tmp_path: Path) -> None:
    """Seeds come from the experiment seed and params: a second machine gets the same data."""
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    frames = []
    for where in (first, second):
        _run("coins_generate.py", where)
        session = rt.connect(f"sqlite:///{where / 'runtable.db'}")
        df = session.load_experiment("coins").runs.df().drop(columns="id_run")  # random ids
        frames.append(df.assign(tosses=df["tosses"].map(lambda a: a.tobytes())))
    pd.testing.assert_frame_equal(frames[0], frames[1])
