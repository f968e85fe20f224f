"""Sweep plots with matplotlib (the optional extra ``runtable[plot]``).

matplotlib is imported inside the functions only, so ``import runtable.plotting`` works without
it; calling a function without it raises an ImportError that says what to install.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes  # type: ignore[import-not-found, unused-ignore]

    from runtable.experiment import Experiment

INSTALL = 'plotting needs matplotlib: pip install "runtable[plot]"'
SERIES = "series"  # the field that run.log() fills: a DataFrame with step, timestamp, metrics


def plot(
    experiment: Experiment, x: str, y: str, hue: str | None = None, ax: Axes | None = None
) -> Axes:
    """The sweep picture: the mean of ``y`` per value of ``x``, with a band of +-1 standard
    deviation over the runs, one line per value of ``hue``.

    ``x`` and ``hue`` are params or fields; ``y`` a numeric field (bools count as 0 and 1). Runs
    without a finite ``y`` or without ``x`` are left out. A numeric ``x`` spanning two decades or
    more of positive values gets a log scale; other values of ``x`` are placed in order of
    appearance. Returns the Axes (a new figure's unless ``ax`` is given).
    """
    df = experiment.runs.df()
    for role, column in (("x", x), ("y", y), ("hue", hue)):
        if column is not None and column not in df.columns:
            known = ", ".join(map(str, df.columns))
            raise ValueError(f"{role}={column!r} is no param or field of the runs; known: {known}")
    ys = [_number(v, bools=True) for v in df[y]]
    if not any(v is not None and math.isfinite(v) for v in ys):
        raise ValueError(f"field {y!r} has no finite numeric value to plot")
    ax = _axes(ax)
    xs = list(df[x])
    numeric_x = all(_number(v) is not None for v in xs if v is not None)
    positions: dict[Hashable, int] = {}  # category -> x position, for a non-numeric x
    groups: dict[Hashable, dict[Any, list[float]]] = {}  # hue -> x -> y values
    hues = list(df[hue]) if hue is not None else [None] * len(xs)
    for xv, yv, hv in zip(xs, ys, hues, strict=True):
        if xv is None or yv is None or not math.isfinite(yv) or _missing(xv):
            continue
        if numeric_x and not math.isfinite(_number(xv) or 0.0):
            continue
        key = _number(xv) if numeric_x else positions.setdefault(_label(xv), len(positions))
        groups.setdefault(_label(hv), {}).setdefault(key, []).append(yv)
    for name in _sorted(groups):
        by_x = groups[name]
        points = sorted(by_x.items())
        px = [p[0] for p in points]
        mean = [sum(v) / len(v) for _, v in points]
        std = [_std(v) for _, v in points]
        label = str(name) if hue is not None else y
        (line,) = ax.plot(px, mean, marker="o", label=label)
        low = [m - s for m, s in zip(mean, std, strict=True)]
        high = [m + s for m, s in zip(mean, std, strict=True)]
        ax.fill_between(px, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    if not numeric_x:
        ax.set_xticks(list(positions.values()), [str(p) for p in positions])
    elif _decades([k for by_x in groups.values() for k in by_x]):
        ax.set_xscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(f"{y} (mean \u00b1 1 sd)")
    if hue is not None:
        ax.legend(title=hue)
    return ax


def plot_series(
    experiment: Experiment, name: str, hue: str | None = None, ax: Axes | None = None
) -> Axes:
    """One curve per run of the logged metric ``name`` against the step.

    Each run's field ``series`` (filled by ``run.log``) is a DataFrame with the columns ``step``,
    ``timestamp`` and one per metric. Runs without it, or without the metric, are skipped; when
    no run has the metric, ValueError. With ``hue`` (a param or field), the curves are coloured
    by its value, with one legend entry per value (not per run).
    """
    if hue is not None and not any(hue in r.params or hue in r.fields for r in experiment.runs):
        raise ValueError(f"hue={hue!r} is no param or field of the runs")
    groups: dict[Hashable, list[Any]] = {}  # hue value -> the runs' series
    for run in experiment.runs:
        series = run.series  # flushes rows logged since the field was last written
        columns = getattr(series, "columns", ())
        if name in columns and "step" in columns:
            value = run.params.get(hue, run.fields.get(hue)) if hue is not None else None
            groups.setdefault(_label(value), []).append(series)
    if not groups:
        raise ValueError(
            f"no run has a logged metric {name!r}: log it with run.log({name}=...), which fills "
            f"the field {SERIES!r} with a DataFrame of step, timestamp and one column per metric"
        )
    ax = _axes(ax)
    keys = _sorted(groups)
    for key, colour in zip(keys, _colours(len(keys)), strict=True):
        for i, series in enumerate(groups[key]):
            data = series[["step", name]].dropna()
            label = str(key) if hue is not None and i == 0 else "_nolegend_"
            ax.plot(data["step"], data[name], color=colour, alpha=0.8, linewidth=1.2, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel(name)
    if hue is not None:
        ax.legend(title=hue)
    return ax


def _axes(ax: Axes | None) -> Axes:
    try:
        import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]
    except ImportError as e:
        raise ImportError(INSTALL) from e
    if ax is None:
        _, ax = plt.subplots()
    return ax


def _colours(n: int) -> list[Any]:
    """``n`` distinct colours: matplotlib's cycle when it has enough, else viridis."""
    import matplotlib as mpl  # type: ignore[import-not-found, unused-ignore]

    cycle = list(mpl.rcParams["axes.prop_cycle"].by_key().get("color", []))
    if 0 < n <= len(cycle):
        return cycle[:n]
    cmap = mpl.colormaps["viridis"]
    return [cmap(i / max(n - 1, 1)) for i in range(n)]


def _number(value: Any, bools: bool = False) -> float | None:
    """A real number (a bool only if ``bools``) as a float; anything else, None."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return float(value) if bools else None
    try:
        return float(value) if isinstance(value, numbers.Real) else None
    except (OverflowError, ValueError):
        return None


def _missing(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _label(value: Any) -> Hashable:
    """A hashable stand-in for a param value: itself when hashable, else its text."""
    if _missing(value):
        return "NaN"
    try:
        hash(value)
    except TypeError:
        return str(value)
    return value  # type: ignore[no-any-return]


def _sorted(values: Iterable[Hashable]) -> list[Hashable]:
    """Numbers in increasing order, then the other values in order of appearance."""
    values = list(values)
    numbers = sorted((v for v in values if _number(v) is not None), key=lambda v: _number(v) or 0)
    return numbers + [v for v in values if _number(v) is None]


def _std(values: list[float]) -> float:
    """The sample standard deviation (0 for a single value)."""
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _decades(values: Iterable[Any]) -> bool:
    """Positive numbers spanning a factor of 100 or more, with at least three distinct."""
    numbers = {float(v) for v in values}
    return len(numbers) >= 3 and min(numbers) > 0 and max(numbers) / min(numbers) >= 100
