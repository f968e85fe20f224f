"""The hand-written attribute tables of the reference (runs.md, experiments.md) name attributes
that exist, and name every data attribute of a Run."""

from __future__ import annotations

import re
from pathlib import Path

import runtable as rt

REFERENCE = Path(__file__).resolve().parent.parent / "mkdocs" / "reference"


def listed(page: str, prefix: str) -> set[str]:
    """The attribute names in the first column of ``page``'s tables (``run.a``, ``run.b``)."""
    text = (REFERENCE / page).read_text(encoding="utf-8")
    rows = re.findall(r"^\| (`[^|]+`) \|", text, re.MULTILINE)
    return {name for row in rows for name in re.findall(rf"`{prefix}\.(\w+)`", row)}


def test_the_run_table_names_real_attributes_and_all_data_attributes() -> None:
    exp = rt.connect("sqlite://").create_experiment("ref").add_run(n=1)
    exp.execute(lambda run: run.log(loss=1.0))
    run = exp.runs.first()
    names = listed("runs.md", "run")
    assert names, "no attribute table in runs.md"
    missing = sorted(n for n in names if not hasattr(run, n))
    assert not missing, f"runs.md lists attributes a Run does not have: {missing}"
    data = {"id", "params", "config", "fields", "vars", "status", "error"}
    assert data | {"started_at", "ended_at"} <= names


def test_the_experiment_table_names_real_attributes() -> None:
    exp = rt.connect("sqlite://").create_experiment("ref")
    names = listed("experiments.md", "exp")
    assert {"name", "runs", "fields", "config", "seed", "id"} <= names
    missing = sorted(n for n in names if not hasattr(exp, n))
    assert not missing, f"experiments.md lists attributes an Experiment does not have: {missing}"
