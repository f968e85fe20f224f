"""A self-contained HTML report of one experiment: summary, metric curves, plots, parallel
coordinates and a filterable runs table.

The page is one file with no external resources: Python gathers the runs into a compact JSON
payload (`report_data`), and a small inline script (``report.js``, no library) draws the SVG
plots and the table from it, so the filter box, the colour and metric pickers and sorting work
offline. ``render_report(exp)`` returns the page, ``write_report`` writes it.

Choices made for the reader (each overridable, see `report_data`):

* params with one value are listed in the summary, not plotted; params named like replicate
  indices or seeds (``seed``, ``trial``, ``rep``, ``fold``, ... as a word of the name) are what
  means and bands are taken over, never an axis;
* the metric (``metric=``) is a numeric field whose name looks like a loss, error or score, else
  the first numeric field; lower is better unless its name looks like a score (``acc``, ``auc``,
  ``f1``, ``r2``, ``score``, ...) or it is given as ``"name:max"``;
* runs are coloured by the varying param with the fewest values (``color_by=``); plots say in
  their caption which other varying params they pool over;
* dict values become one column per key (``metrics.acc``); series logged by ``run.log`` become
  one column per metric (last and best value) and one curve plot per metric.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import runtable
from runtable.errors import RuntableError
from runtable.summary import compact, headline, is_series, series_metrics, summarise

if TYPE_CHECKING:
    from runtable.experiment import Experiment
    from runtable.run import Run

MAX_CURVE_POINTS = 150  # points kept per run and metric curve (evenly spaced, last one kept)
MAX_DICT_COLUMNS = 30  # keys of one dict field expanded into columns
MAX_DICT_DEPTH = 2  # nested dicts expanded this deep, deeper ones shown compact
CELL_WIDTH = 60  # characters of a text cell
ID = "id_run"  # the run id column (key and label)

_REPLICATE_WORDS = frozenset(
    ("seed", "trial", "rep", "replicate", "repeat", "repetition", "fold", "restart")
)
_METRIC_WORDS = re.compile(
    r"(^|_)(loss|err|error|acc|accuracy|score|auc|f1|rmse|mse|mae|r2|reward|return)(_|$)", re.I
)
_MAX_WORDS = re.compile(
    r"(^|_)(acc|accuracy|score|auc|auroc|f1|precision|recall|r2|reward|return|iou|map|ap)(_|$)",
    re.I,
)


def write_report(
    experiment: Experiment,
    path: str | Path,
    *,
    metric: str | None = None,
    color_by: str | None = None,
    plots: Sequence[str] | None = None,
) -> Path:
    """Write the report of ``experiment`` to ``path`` (UTF-8) and return the path.

    ``metric``, ``color_by`` and ``plots`` are those of `report_data`."""
    path = Path(path)
    page = render_report(experiment, metric=metric, color_by=color_by, plots=plots)
    path.write_text(page, encoding="utf-8")
    return path


def render_report(
    experiment: Experiment,
    *,
    metric: str | None = None,
    color_by: str | None = None,
    plots: Sequence[str] | None = None,
) -> str:
    """The report of ``experiment`` as one HTML page."""
    data = report_data(experiment, metric=metric, color_by=color_by, plots=plots)
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False)
    payload = payload.replace("<", "\\u003c")  # no "</script>" nor "<!--" inside <script>
    name = escape(experiment.name)
    assets = files("runtable")
    css = assets.joinpath("report.css").read_text(encoding="utf-8")
    script = assets.joinpath("report.js").read_text(encoding="utf-8")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{name} - runtable report</title><style>{css}</style></head><body>"
        f"<h1>Experiment <code>{name}</code></h1>"
        "<noscript><p class='note'>This report draws its plots and table with JavaScript: "
        "allow scripts for this file.</p></noscript><main id='report'></main>"
        f"<footer>Written by runtable {escape(runtable.__version__)} on "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}.</footer>"
        f"<script type='application/json' id='report-data'>{payload}</script>"
        f"<script>{script}</script></body></html>\n"
    )


# -- columns ----------------------------------------------------------------------------------


@dataclass
class _Column:
    """One column of the table: where its values come from and what they are."""

    key: str
    label: str
    kind: str  # "meta", "param" or "field"
    values: list[Any] = field(default_factory=list)
    type: str = "num"  # "num", "cat" (categories: few distinct values), "text" or "id"
    role: str = ""  # "replicate", "axis", "fixed" (params); "series" (last values); "best"
    hidden: bool = False
    best: str | None = None  # the key of the column with the best value of a series metric
    title: list[str | None] | None = None  # hover text per cell (errors)

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "label": self.label, "kind": self.kind}
        out.update(type=self.type, role=self.role, hidden=self.hidden, values=self.values)
        if self.best:
            out["best"] = self.best
        if self.title is not None:
            out["title"] = self.title
        return out


def _flatten(prefix: str, value: Any, depth: int = 0) -> Iterable[tuple[str, Any]]:
    """``(name, value)`` pairs: a dict becomes one pair per key (``prefix.key``), recursively."""
    if isinstance(value, Mapping) and value and depth < MAX_DICT_DEPTH:
        items = list(value.items())
        for k, v in items[:MAX_DICT_COLUMNS]:
            yield from _flatten(f"{prefix}.{k}", v, depth + 1)
        if len(items) > MAX_DICT_COLUMNS:
            yield f"{prefix}.\u2026", f"{len(items) - MAX_DICT_COLUMNS} more keys"
    else:
        yield prefix, value


def _columns(runs: list[Run], kind: str) -> list[_Column]:
    """The param or field columns of ``runs``: dicts expanded, series split per metric."""
    n = len(runs)
    cells: dict[str, list[Any]] = {}
    series: dict[str, list[Any]] = {}
    absent = object()
    for i, run in enumerate(runs):
        source = run.params if kind == "param" else run.fields
        for name, value in source.items():
            if is_series(value):
                series.setdefault(name, [None] * n)[i] = value
                continue
            for key, v in _flatten(name, value):
                cells.setdefault(key, [absent] * n)[i] = v
    out = [
        _column(key, kind, [None if v is absent else v for v in vs], vs, absent)
        for key, vs in cells.items()
    ]
    for name, frames in series.items():
        out.extend(_series_columns(name, frames))
    return out


def _column(key: str, kind: str, values: list[Any], raw: list[Any], absent: object) -> _Column:
    column = _Column(key, key, kind)
    numbers_ = [_number(v) for v in values if v is not None]
    if numbers_ and all(x is not None for x in numbers_):
        column.values = [_json_number(v) for v in values]
        return column
    simple = all(isinstance(v, str | bool) or v is None or _number(v) is not None for v in values)
    present = (v for v, r in zip(values, raw, strict=True) if r is not absent)
    if simple and len({_category(v) for v in present}) <= max(12, len(values) // 4):
        column.type = "cat"  # strings, bools and None (as "None") are categories
        column.values = [
            None if r is absent else _category(v) for v, r in zip(values, raw, strict=True)
        ]
    else:
        column.type = "text"
        column.values = [
            None if r is absent else compact(v, CELL_WIDTH)
            for v, r in zip(values, raw, strict=True)
        ]
    return column


def _series_columns(name: str, frames: list[Any]) -> list[_Column]:
    metrics = list(dict.fromkeys(m for f in frames if f is not None for m in series_metrics(f)))
    out: list[_Column] = []
    for metric in metrics:
        key = f"{name}.{metric}"
        last: list[Any] = []
        best: list[Any] = []
        maximise = bool(_MAX_WORDS.search(metric))
        for frame in frames:
            _, values = _finite_points(frame, metric)
            if len(values):
                last.append(float(values[-1]))
                best.append(float(values.max() if maximise else values.min()))
            else:
                last.append(None)
                best.append(None)
        label = f"{metric} (best)"
        best_column = _Column(f"{key}:best", label, "field", best, role="best", hidden=True)
        out += [
            _Column(key, metric, "field", last, role="series", best=best_column.key),
            best_column,
        ]
    return out


def _finite_points(frame: Any, metric: str) -> tuple[Any, Any]:
    """The steps and values of ``metric`` in a series where the value is finite."""
    import numpy as np

    if frame is None or metric not in frame.columns:
        return (), ()
    steps = np.asarray(frame["step"], dtype=np.int64)
    values = np.asarray(frame[metric], dtype=np.float64)
    keep = np.isfinite(values)
    return steps[keep], values[keep]


def _curves(name: str, frames: list[Any]) -> dict[str, Any]:
    """Per metric of the series field ``name``: the runs' steps and values, thinned.

    Steps shared by several runs are stored once (``steps``, indexed by ``x``)."""
    import numpy as np

    out: dict[str, Any] = {}
    for i, frame in enumerate(frames):
        if frame is None:
            continue
        for metric in series_metrics(frame):
            steps, values = _finite_points(frame, metric)
            if not len(values):
                continue
            if len(values) > MAX_CURVE_POINTS:
                picks = np.unique(np.linspace(0, len(values) - 1, MAX_CURVE_POINTS).round())
                steps, values = steps[picks.astype(np.int64)], values[picks.astype(np.int64)]
            entry = out.setdefault(
                f"{name}.{metric}", {"rows": [], "x": [], "y": [], "steps": [], "_seen": {}}
            )
            step_list = steps.tolist()
            seen = entry["_seen"]
            index = seen.setdefault(tuple(step_list), len(seen))
            if index == len(entry["steps"]):
                entry["steps"].append(step_list)
            entry["rows"].append(i)
            entry["x"].append(index)
            entry["y"].append([float(f"{v:.5g}") for v in values.tolist()])
    for entry in out.values():
        del entry["_seen"]
    return out


# -- meta columns ------------------------------------------------------------------------------


def _meta_columns(runs: list[Run]) -> list[_Column]:
    # ids may exceed 2**53, where JavaScript numbers lose digits: they travel as text
    ids = _Column(ID, ID, "meta", [str(r.id) for r in runs], type="id")
    status = _Column("@status", "status", "meta", [r.status for r in runs], type="cat")
    durations = [
        (r.ended_at - r.started_at).total_seconds() if r.started_at and r.ended_at else None
        for r in runs
    ]
    duration = _Column("@duration", "duration", "meta", durations)
    started = _Column(
        "@started",
        "started_at",
        "meta",
        [f"{r.started_at:%Y-%m-%d %H:%M:%S}" if r.started_at else None for r in runs],
        type="text",
        hidden=True,
    )
    errors = [r.error if isinstance(r.error, str) else None for r in runs]
    error = _Column(
        "@error",
        "error",
        "meta",
        [str(headline(e))[:CELL_WIDTH] if e else None for e in errors],
        type="text",
        hidden=not any(errors),
        title=[e[-600:] if e else None for e in errors],
    )
    return [ids, status, duration, error, started]


# -- choices -----------------------------------------------------------------------------------


def _is_replicate(name: str) -> bool:
    """Named like a replicate index or a seed: ``seed``, ``trial``, ``reps``, ``fold_id``, ..."""
    words = [w.removesuffix("s") for w in re.split(r"[_\d]+", name.lower()) if w]
    return name.lower() == "random_state" or any(w in _REPLICATE_WORDS for w in words)


def _choose(
    columns: list[_Column], key: str | None, what: str, candidates: list[_Column]
) -> _Column | None:
    """The column labelled or keyed ``key``, with an error listing the candidates if none is."""
    if key is None:
        return None
    for c in candidates:
        if key in (c.key, c.label):
            return c
    known = ", ".join(c.key for c in candidates) or "none"
    raise RuntableError(f"{what} {key!r} is not among the report's choices; choose one of: {known}")


def report_data(
    experiment: Experiment,
    *,
    metric: str | None = None,
    color_by: str | None = None,
    plots: Sequence[str] | None = None,
) -> dict[str, Any]:
    """What the report shows, as JSON-ready data (the page's script draws it).

    ``metric``: a numeric field (or ``series.loss`` for a logged metric's last value), with
    ``:min`` or ``:max`` to say which way is better. ``color_by``: a param (``"none"`` for no
    colours). ``plots``: instead of the default plots, these: ``"Y"`` plots field Y against each
    varying param (or, for a logged metric, its curves), ``"Y:X"`` against X only. Unknown names
    raise RuntableError listing the choices."""
    runs = list(experiment.runs)
    for run in runs:
        _ = run.series  # writes rows logged since the series field was last written
    meta = _meta_columns(runs)
    params = _columns(runs, "param")
    fields = _columns(runs, "field")
    for p in params:
        distinct = {json.dumps(v) for v in p.values}
        p.role = "replicate" if _is_replicate(p.key) else "axis" if len(distinct) > 1 else "fixed"
    columns = meta + params + fields
    labels = [c.label for c in columns]
    for c in columns:  # a logged metric named like a field: label it by its key
        if c.role in ("series", "best") and labels.count(c.label) > 1:
            c.label = c.key.replace(":best", " (best)")
    numeric = [c for c in fields if c.type == "num" and c.role != "best"]
    metrics = [c for c in fields if c.type == "num"]
    axes = [p for p in params if p.role == "axis"]

    direction = None
    if metric is not None and metric.rsplit(":", 1)[-1] in ("min", "max"):
        metric, direction = metric.rsplit(":", 1)
    chosen = _choose(columns, metric, "metric", metrics) or _default_metric(numeric, metrics)
    if chosen is not None and direction is None:
        direction = "max" if _MAX_WORDS.search(chosen.label) else "min"
    colour = None
    if color_by != "none":
        colour = _choose(columns, color_by, "color_by", [p for p in params if p.type != "text"])
        if colour is None and axes:
            colour = min(axes, key=lambda p: len({json.dumps(v) for v in p.values}))

    curves: dict[str, Any] = {}
    for name in dict.fromkeys(k for r in runs for k, v in r.fields.items() if is_series(v)):
        curves.update(
            _curves(
                name, [r.fields.get(name) if is_series(r.fields.get(name)) else None for r in runs]
            )
        )
    if plots:
        figures = [_plot_spec(s, columns, numeric + metrics, params, axes, curves) for s in plots]
        chart = [f for group in figures for f in group]
    else:
        replicates = [p for p in params if p.role == "replicate"]
        chart = _default_plots(chosen, numeric, axes or replicates[:1], curves)
    return {
        "name": experiment.name,
        "info": _info(experiment, params),
        "columns": [c.payload() for c in columns],
        "curves": curves,
        "plots": chart,
        "metric": {"key": chosen.key, "dir": direction} if chosen else None,
        "colorBy": colour.key if colour else None,
        "axes": [p.key for p in axes],
        "replicates": [p.key for p in params if p.role == "replicate"],
    }


def _default_metric(numeric: list[_Column], metrics: list[_Column]) -> _Column | None:
    named = [c for c in numeric if _METRIC_WORDS.search(c.label) and c.role != "series"]
    plain = [c for c in numeric if c.role != "series" and not _is_replicate(c.key)]
    series = [c for c in metrics if c.role == "best"]
    return next(iter(named or plain or series or metrics), None)


def _default_plots(
    metric: _Column | None, numeric: list[_Column], axes: list[_Column], curves: dict[str, Any]
) -> list[dict[str, str]]:
    """Curves of logged metrics, the metric against each varying param, then each other
    numeric field against the first varying param (``axes``: a replicate index when no other
    param varies)."""
    chart = [{"kind": "curve", "y": key} for key in curves]
    if metric is not None and metric.role != "series":
        chart += [{"kind": "scatter", "y": metric.key, "x": p.key} for p in axes]
    if axes:
        chart += [
            {"kind": "scatter", "y": c.key, "x": axes[0].key}
            for c in numeric
            if c is not metric and c.role != "series" and not _is_replicate(c.key)
        ]
    return chart


def _plot_spec(
    spec: str,
    columns: list[_Column],
    ys: list[_Column],
    params: list[_Column],
    axes: list[_Column],
    curves: dict[str, Any],
) -> list[dict[str, str]]:
    y_name, _, x_name = spec.partition(":")
    if not x_name:
        for key in curves:
            if y_name in (key, key.split(".", 1)[1]):
                return [{"kind": "curve", "y": key}]
    y = _choose(columns, y_name, "plot", [*ys, *(c for c in columns if c.key in curves)])
    assert y is not None
    if y.key in curves and not x_name:
        return [{"kind": "curve", "y": y.key}]
    xs = [_choose(columns, x_name, "plot x", params)] if x_name else axes
    if not xs:
        raise RuntableError(f"plot {spec!r}: no param varies; name one as in {y_name}:PARAM")
    return [{"kind": "scatter", "y": y.key, "x": x.key} for x in xs if x is not None]


def _info(experiment: Experiment, params: list[_Column]) -> list[list[str]]:
    rows: list[tuple[str, Any]] = [("id", experiment.id or "not stored"), ("seed", experiment.seed)]
    for name in ("created_at", "updated_at"):
        value = getattr(experiment, name, None)
        if value is not None:
            rows.append((name, str(value)[:19]))
    rows += [(f"config {k}", v) for k, v in experiment.config.items()]
    rows += [(f"field {k}", v) for k, v in experiment.fields.items()]
    rows += [(f"param {p.key}", p.values[0]) for p in params if p.role == "fixed" and p.values]
    return [[k, str(summarise(v, 300))] for k, v in rows]


# -- values ------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    """``value`` as a float when it is a real number (not a bool), else None."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return None
    if not isinstance(value, numbers.Real):  # numpy's ints and floats are Reals
        return None
    try:
        return float(value)
    except (OverflowError, ValueError):  # a huge Fraction, say
        return None


def _json_number(value: Any) -> Any:
    """A number for JSON: ints stay exact, non-finite floats become the strings NaN, +inf, -inf."""
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    number = _number(value)
    if number is None:
        return None
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+inf" if number > 0 else "-inf"
    return number


def _category(value: Any) -> Any:
    """A param or field value as a category: numbers stay numbers, the rest become text."""
    if value is None:
        return "None"
    number = _json_number(value)
    return number if number is not None else str(value)
