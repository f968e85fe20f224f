"""Notebook views: the HTML that Session, Experiment, Runs and Run show in Jupyter."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .experiment import Experiment
    from .run import Run, Runs
    from .session import Session

#: Rows of a runs table shown in a notebook before "... N more".
MAX_ROWS = 20


def runs_html(runs: Runs, limit: int = MAX_ROWS) -> str:
    """The first ``limit`` runs as an HTML table, values summarised (arrays by shape)."""
    from .summary import CELL_WIDTH, cells

    if len(runs) == 0:
        return "<p><i>no runs</i></p>"
    df = runs.df(meta=True).drop(columns=["error", "started_at", "ended_at"])
    table = cells(df.head(limit), CELL_WIDTH).to_html(index=False, escape=True, na_rep="")
    more = f"<p>... {len(df) - limit} more runs</p>" if len(df) > limit else ""
    return table + more


def experiment_html(experiment: Experiment) -> str:
    """Name, storage state, counts by status, experiment fields, then the first runs."""
    counts: dict[str, int] = {}
    for run in experiment.runs:
        counts[run.status] = counts.get(run.status, 0) + 1
    status = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no runs"
    stored = f"stored, id {experiment.id}" if experiment.id else "not stored"
    steps = ", ".join(s.name for s in experiment.steps) or "none"
    return (
        f"<h4>Experiment {_e(experiment.name)}</h4>"
        f"<p>{len(experiment.runs)} runs ({_e(status)}); {_e(stored)}; seed {experiment.seed}; "
        f"steps: {_e(steps)}</p>"
        f"{_mapping_html('fields', experiment.fields)}"
        f"{_mapping_html('config', experiment.config)}"
        f"{runs_html(experiment.runs, 10)}"
    )


def run_html(run: Run) -> str:
    """One run: status, timing, params and fields."""
    took = ""
    if run.started_at and run.ended_at:
        took = f", {(run.ended_at - run.started_at).total_seconds():.3g} s"
    error = f"<pre>{_e(run.error)}</pre>" if run.error else ""
    return (
        f"<h4>Run {run.id} ({_e(run.status)}{took})</h4>"
        f"{_mapping_html('params', run.params)}{_mapping_html('fields', run.fields)}{error}"
    )


def session_html(session: Session) -> str:
    """The database and its stored experiments."""
    from .summary import CELL_WIDTH, cells

    df = session.ls()
    listing = (
        cells(df, CELL_WIDTH).to_html(index=False, escape=True)
        if len(df)
        else "<p><i>no experiments stored</i></p>"
    )
    return f"<h4>runtable session</h4><p>{_e(session.url)}</p>{listing}"


def _mapping_html(title: str, mapping: Any) -> str:
    from .summary import CELL_WIDTH, summarise

    if not mapping:
        return ""
    rows = "".join(
        f"<tr><th style='text-align:left'>{_e(k)}</th><td>{_e(summarise(v, CELL_WIDTH))}</td></tr>"
        for k, v in mapping.items()
    )
    return f"<details open><summary>{_e(title)}</summary><table>{rows}</table></details>"


def _e(value: Any) -> str:
    return html.escape(str(value))
