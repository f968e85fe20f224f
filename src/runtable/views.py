"""Notebook views: the HTML that Session, Experiment, Runs and Run show in Jupyter.

Cells never wrap: arrays show as ``f64[32x8]``, metric series by their last values, small dicts
as nested tables, long text cut. Status is coloured. Styles are inline, since notebooks and
their HTML exports drop or scope ``<style>`` blocks differently.
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .experiment import Experiment
    from .run import Run, Runs
    from .session import Session

#: Rows of a runs table shown in a notebook before "... N more".
MAX_ROWS = 20
#: Dicts with more keys than this show as ``dict[n]`` instead of a nested table.
MAX_DICT_ROWS = 8
#: Colours of run statuses (text colour, background).
STATUS_COLOURS = {
    "done": ("#1a6e1a", "#e3f4e3"),
    "failed": ("#b00020", "#fde7ea"),
    "pending": ("#8a5a00", "#fff4d6"),
}

_TABLE = "border-collapse:collapse;font-size:12px"
_TD = "padding:2px 8px;white-space:nowrap;text-align:left;vertical-align:top"
_NUM = (
    "padding:2px 8px;white-space:nowrap;text-align:right;vertical-align:top;"
    "font-variant-numeric:tabular-nums"
)


def runs_html(runs: Runs, limit: int = MAX_ROWS) -> str:
    """The first ``limit`` runs as an HTML table: id, status, params, fields, one line each."""
    if len(runs) == 0:
        return "<p><i>no runs</i></p>"
    shown = []
    for i, run in enumerate(runs):
        if i == limit:
            break
        shown.append(run)
    params = list(dict.fromkeys(k for run in shown for k in run.params))
    fields = list(dict.fromkeys(k for run in shown for k in run.fields))
    head = "".join(
        f"<th style='{_TD};border-bottom:1px solid #999' title='{kind}'>{_e(name)}</th>"
        for kind, name in [
            ("run id", "id_run"),
            ("run status", "status"),
            *(("param", p) for p in params),
            *(("field", f) for f in fields),
        ]
    )
    rows = []
    for run in shown:
        cells = [_cell(run.id), f"<td style='{_TD}'>{status_html(run.status)}</td>"]
        cells += [_cell(run.params[p]) if p in run.params else _empty() for p in params]
        cells += [_cell(run.fields[f]) if f in run.fields else _empty() for f in fields]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    more = f"<p>... {len(runs) - limit} more runs</p>" if len(runs) > limit else ""
    return (
        f"<div style='overflow-x:auto'><table style='{_TABLE}'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>{more}"
    )


def experiment_html(experiment: Experiment) -> str:
    """Name, storage state, counts by status, experiment fields, then the first runs."""
    counts: dict[str, int] = {}
    for run in experiment.runs:
        counts[run.status] = counts.get(run.status, 0) + 1
    status = ", ".join(f"{n} {status_html(s)}" for s, n in counts.items()) or "no runs"
    stored = f"stored, id {experiment.id}" if experiment.id else "not stored"
    steps = ", ".join(s.name for s in experiment.steps) or "none"
    return (
        f"<h4>Experiment {_e(experiment.name)}</h4>"
        f"<p>{len(experiment.runs)} runs ({status}); {_e(stored)}; seed {experiment.seed}; "
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
    error = (
        f"<pre style='white-space:pre-wrap;color:#b00020'>{_e(run.error)}</pre>"
        if run.error
        else ""
    )
    return (
        f"<h4>Run {run.id} ({status_html(run.status)}{took})</h4>"
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


def status_html(status: str) -> str:
    """A run status as a coloured label."""
    fg, bg = STATUS_COLOURS.get(status, ("#333", "#eee"))
    return (
        f"<span style='color:{fg};background:{bg};padding:0 5px;border-radius:3px;"
        f"font-weight:600;white-space:nowrap'>{_e(status)}</span>"
    )


def value_html(value: Any) -> str:
    """A value on one line: numbers as numbers, small dicts as a nested table, arrays by dtype
    and shape, series by their last values, text cut to the cell width."""
    from .summary import CELL_WIDTH, compact

    if isinstance(value, Mapping) and 0 < len(value) <= MAX_DICT_ROWS:
        rows = "".join(
            f"<tr><th style='{_TD};color:#666;font-weight:normal'>{_e(k)}</th>"
            f"<td style='{_TD}'>{value_html(v)}</td></tr>"
            for k, v in value.items()
        )
        return f"<table style='{_TABLE};margin:0'>{rows}</table>"
    if isinstance(value, Mapping):
        return f"dict[{len(value)}]"
    number = _number(value)
    if number is not None:
        return _e(_format_number(value, number))
    return _e(compact(value, CELL_WIDTH))


def _cell(value: Any) -> str:
    style = _NUM if _number(value) is not None else _TD
    return f"<td style='{style}'>{value_html(value)}</td>"


def _empty() -> str:
    return f"<td style='{_TD}'></td>"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return None
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except (OverflowError, ValueError):
            return None
    return None


def _format_number(value: Any, number: float) -> str:
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if math.isnan(number):
        return "NaN"
    return f"{number:.6g}"


def _mapping_html(title: str, mapping: Any) -> str:
    if not mapping:
        return ""
    rows = "".join(
        f"<tr><th style='{_TD}'>{_e(k)}</th><td style='{_TD}'>{value_html(v)}</td></tr>"
        for k, v in mapping.items()
    )
    return (
        f"<details open><summary>{_e(title)}</summary><table style='{_TABLE}'>{rows}</table>"
        "</details>"
    )


def _e(value: Any) -> str:
    return html.escape(str(value))
