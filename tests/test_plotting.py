"""runtable.plotting: the sweep plot and the per-run series plot, drawn with matplotlib's Agg."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import runtable as rt
from runtable.plotting import plot, plot_series

if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
    import matplotlib  # under CI the plot extra is installed: never skip these tests
else:
    matplotlib = pytest.importorskip("matplotlib", reason='needs pip install "runtable[plot]"')
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def sweep() -> rt.Experiment:
    """Params n (4 values), method (2) and trial (3); field err (float)."""
    exp = rt.connect("sqlite://").create_experiment("coins")
    exp.add_runs(n=[10, 100, 1000, 10000], method=["fair", "biased"], trial=range(3))
    for run in exp.runs:
        tosses = run.rng.random(run.params.n) < (0.5 if run.params.method == "fair" else 0.6)
        run.fields.err = float(abs(tosses.mean() - 0.5))
    return exp


def data(values: Any) -> list[Any]:
    """What matplotlib holds (arrays, sequences) as a plain list."""
    return list(np.asarray(values).tolist())


def expected(exp: rt.Experiment, by: list[str]) -> pd.DataFrame:
    return exp.runs.df().groupby(by)["err"].agg(["mean", "std"]).reset_index()


def test_plot_mean_and_band() -> None:
    exp = sweep()
    ax = plot(exp, "n", "err")
    assert len(ax.lines) == 1
    line = ax.lines[0]
    want = expected(exp, ["n"])
    assert data(line.get_xdata()) == [10, 100, 1000, 10000]
    assert np.allclose(line.get_ydata(), want["mean"])
    assert line.get_marker() == "o"
    assert len(ax.collections) == 1  # the band
    band = np.asarray(ax.collections[0].get_paths()[0].vertices)
    assert band[:, 1].min() == pytest.approx((want["mean"] - want["std"]).min())
    assert band[:, 1].max() == pytest.approx((want["mean"] + want["std"]).max())
    assert ax.get_xscale() == "log"  # four decades
    assert ax.get_xlabel() == "n"
    assert ax.get_ylabel().startswith("err")
    assert ax.get_legend() is None


def test_plot_hue_gives_one_line_per_value() -> None:
    exp = sweep()
    _, given = plt.subplots()
    ax = plot(exp, "n", "err", hue="method", ax=given)
    assert ax is given
    assert len(ax.lines) == 2
    legend = ax.get_legend()
    assert legend is not None
    assert legend.get_title().get_text() == "method"
    assert [t.get_text() for t in legend.get_texts()] == ["fair", "biased"]
    want = expected(exp, ["method", "n"])
    for line, method in zip(ax.lines, ["fair", "biased"], strict=True):
        assert np.allclose(line.get_ydata(), want[want["method"] == method]["mean"])
    colours = {tuple(data(c.get_facecolor())[0][:3]) for c in ax.collections}
    assert len(colours) == 2  # each band in its line's colour


def test_plot_categories_along_x() -> None:
    exp = sweep()
    ax = plot(exp, "method", "err", hue="n")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["fair", "biased"]
    legend = ax.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == ["10", "100", "1000", "10000"]


def test_plot_skips_nan_and_missing() -> None:
    exp = rt.connect("sqlite://").create_experiment("holes")
    exp.add_runs(x=[1, 2, 3], rep=range(2))
    for run in exp.runs:
        if run.params.x != 2 or run.params.rep == 0:
            run.fields.y = float("nan") if run.params.x == 3 and run.params.rep else run.params.x
    ax = plot(exp, "x", "y")
    assert data(ax.lines[0].get_xdata()) == [1, 2, 3]
    assert data(ax.lines[0].get_ydata()) == [1, 2, 3]


def test_plot_errors() -> None:
    exp = sweep()
    with pytest.raises(ValueError, match=r"'nope'.*known: id_run, n, method"):
        plot(exp, "nope", "err")
    with pytest.raises(ValueError, match="hue='zz'"):
        plot(exp, "n", "err", hue="zz")
    with pytest.raises(ValueError, match="'method' has no finite numeric value"):
        plot(exp, "n", "method")


def series(steps: int, **metrics: Any) -> pd.DataFrame:
    frame = pd.DataFrame({"step": np.arange(steps)})
    frame["timestamp"] = pd.Timestamp("2025-01-01") + pd.to_timedelta(frame["step"], unit="s")
    for name, values in metrics.items():
        frame[name] = values
    return frame


def logged() -> rt.Experiment:
    """Runs over lr (2 values) x rep (2): series with loss (and acc on some); one run without."""
    exp = rt.connect("sqlite://").create_experiment("training")
    exp.add_runs(lr=[0.1, 0.01], rep=range(2))
    exp.add_run(lr=0.5, rep=0)  # never logged
    for run in exp.runs:
        if run.params.lr == 0.5:
            continue
        steps = 10 + run.params.rep
        loss = np.exp(-run.params.lr * np.arange(steps)) + run.params.rep
        metrics: dict[str, Any] = {"loss": loss}
        if run.params.rep == 0:
            metrics["acc"] = np.linspace(0, 1, steps)
        run.fields.series = series(steps, **metrics)
    return exp


def test_plot_series_one_curve_per_run_one_legend_entry_per_hue() -> None:
    exp = logged()
    ax = plot_series(exp, "loss", hue="lr")
    assert len(ax.lines) == 4  # the run without a series is skipped
    legend = ax.get_legend()
    assert legend is not None
    assert legend.get_title().get_text() == "lr"
    assert [t.get_text() for t in legend.get_texts()] == ["0.01", "0.1"]
    by_lr: dict[float, set[Any]] = {}
    for run in exp.runs:
        if "series" in run.fields:
            loss = list(run.fields.series["loss"])
            (line,) = [li for li in ax.lines if data(li.get_ydata()) == loss]
            by_lr.setdefault(run.params.lr, set()).add(line.get_color())
    assert all(len(colours) == 1 for colours in by_lr.values())  # one colour per value
    assert by_lr[0.1] != by_lr[0.01]
    assert ax.get_xlabel() == "step"
    assert ax.get_ylabel() == "loss"
    first = exp.runs.at(0).fields.series
    assert data(ax.lines[0].get_xdata()) == list(first["step"])


def test_plot_series_skips_runs_without_the_metric() -> None:
    ax = plot_series(logged(), "acc")
    assert len(ax.lines) == 2  # rep 0 only
    assert ax.get_legend() is None


def test_plot_series_of_logged_and_stored_runs(tmp_path: Path) -> None:
    """Series written by run.log, in memory and after a round trip through the database."""
    session = rt.connect(f"sqlite:///{tmp_path}/t.db")
    exp = session.create_experiment("fit")
    exp.add_runs(lr=[0.1, 0.3], rep=range(2))

    def train(run: rt.Run) -> None:
        for step in range(5):
            run.log(loss=float(np.exp(-run.params.lr * step)) + run.params.rep)

    exp.execute(train).persist()
    for current in (exp, session.load_experiment("fit")):
        ax = plot_series(current, "loss", hue="lr")
        assert len(ax.lines) == 4
        assert data(ax.lines[0].get_xdata()) == [0, 1, 2, 3, 4]
        legend = ax.get_legend()
        assert legend is not None
        assert [t.get_text() for t in legend.get_texts()] == ["0.1", "0.3"]
    session.close()


def test_plot_series_errors() -> None:
    with pytest.raises(ValueError, match="no run has a logged metric 'nope'"):
        plot_series(logged(), "nope")
    with pytest.raises(ValueError, match="hue='zz'"):
        plot_series(logged(), "loss", hue="zz")


def test_without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r'pip install "runtable\[plot\]"'):
        plot(sweep(), "n", "err")


def test_save_png(tmp_path: Path) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    plot(sweep(), "n", "err", hue="method", ax=left)
    plot_series(logged(), "loss", hue="lr", ax=right)
    path = tmp_path / "plots.png"
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000
    if os.environ.get("RUNTABLE_PLOT_PNG"):  # to look at it: RUNTABLE_PLOT_PNG=/tmp/p.png
        fig.savefig(os.environ["RUNTABLE_PLOT_PNG"], dpi=80)
