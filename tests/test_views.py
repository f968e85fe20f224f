"""Notebook views and reprs: short, escaped, never dumping big values."""

from __future__ import annotations

import html as html_module
import os
import re
import sys
import types
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from browser import Browser

import runtable as rt
from runtable import execution
from runtable.views import STATUS_COLOURS


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.append(tag)


def _tags(text: str) -> list[str]:
    parser = _Tags()
    parser.feed(text)
    return parser.tags


def _sweep(session: rt.Session) -> rt.Experiment:
    exp = session.create_experiment("view", note="<b>bold</b>").add_runs(n=range(30))
    for run in exp.runs:
        run.fields.samples = np.zeros(10_000)
        run.fields.err = 1 / (run.params.n + 1)
    failed = list(exp.runs)[3]
    failed.status = "failed"
    failed.error = "Traceback: <script>"
    return exp


def test_experiment_runs_and_run_render_html_without_dumping_arrays() -> None:
    session = rt.connect("sqlite://")
    exp = _sweep(session)
    page = exp._repr_html_()
    assert "Experiment view" in page
    assert "30 runs" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page  # escaped
    assert "f64[10000]" in page
    assert "... 20 more runs" in page
    assert len(page) < 20_000
    assert _tags(page).count("table") >= 2

    runs_page = exp.runs._repr_html_()
    assert "... 10 more runs" in runs_page
    failed = next(run for run in exp.runs if run.status == "failed")
    run_page = failed._repr_html_()
    assert f"Run {failed.id} (<span" in run_page
    assert ">failed</span>" in run_page
    assert "&lt;script&gt;" in run_page


def test_session_html_lists_stored_experiments(tmp_path: object) -> None:
    session = rt.connect("sqlite://")
    assert "no experiments stored" in session._repr_html_()
    _sweep(session).persist()
    page = session._repr_html_()
    assert "view" in page
    assert "<table" in page


def test_reprs_are_short() -> None:
    session = rt.connect("sqlite://")
    exp = _sweep(session)
    assert repr(session) == "<Session sqlite://>"
    assert repr(exp) == "<Experiment 'view': 30 runs, 0 steps, fields: note>"
    assert repr(exp.runs) == "<Runs 30: 29 pending, 1 failed>"
    text = repr(exp.runs.first())
    assert text.startswith(f"<Run {exp.runs.first().id} pending (n=0) fields: samples, err>")
    assert len(repr(exp.runs.first().fields)) < 200


def _mixed() -> rt.Experiment:
    """Runs with a dict, an array, a logged series and every status."""
    exp = rt.connect("sqlite://").create_experiment("mixed").add_runs(lr=[0.1, 0.01, 0.001])

    def step(run: rt.Run) -> None:
        if run.params.lr == 0.001:
            raise ValueError("diverged")
        for i in range(3):
            run.log(loss=run.params.lr * (3 - i))
        run.fields.weights = np.ones((32, 8))
        run.fields.scores = {"f1": 0.9, "auc": 0.95}
        run.fields.note = "a long note " * 20

    exp.execute(step, on_error="record", progress=False)
    exp.add_run(lr=1.0)  # pending
    return exp


def test_cells_are_one_line_dicts_tables_series_last_values_status_coloured() -> None:
    exp = _mixed()
    page = exp.runs._repr_html_()
    assert "f64[32x8]" in page
    assert "loss 0.1 (3 steps)" in page  # lr 0.1: the last logged loss
    assert re.search(r"<table[^>]*><tr><th[^>]*>f1</th><td[^>]*>0.9</td>", page)  # dict: table
    assert all("white-space:nowrap" in td for td in re.findall(r"<td[^>]*>", page))
    for status, (fg, _) in STATUS_COLOURS.items():
        assert re.search(f"color:{fg};[^>]*>{status}</span>", page)
    assert "a long note a long note" in page
    assert "a long note " * 5 not in page  # cut to the cell width
    failed = next(run for run in exp.runs if run.status == "failed")
    assert "ValueError: diverged" in failed._repr_html_()


def test_reprs_in_chromium(tmp_path: Path) -> None:
    exp = _mixed()
    session_page = rt.connect("sqlite://")._repr_html_()
    html = "".join(
        f"<section id='{name}'>{part}</section>"
        for name, part in [
            ("experiment", exp._repr_html_()),
            ("runs", exp.runs._repr_html_()),
            ("run", exp.runs.first()._repr_html_()),
            ("session", session_page),
        ]
    )
    path = tmp_path / "reprs.html"
    path.write_text(f"<!DOCTYPE html><meta charset='utf-8'><body>{html}</body>", encoding="utf-8")
    with Browser(tmp_path / "profile", width=900) as browser:
        page = browser.open(path.as_uri())
        rows = page.js(
            "[].map.call(document.querySelectorAll('#runs > div > table > tbody > tr'),"
            "function(r){return [r.offsetHeight, r.cells[1].textContent];})"
        )
        assert [status for _, status in rows] == ["done", "done", "failed", "pending"]
        heights = {h for h, status in rows if status != "done"}  # no dict table in these rows
        assert len(heights) == 1
        assert heights.pop() < 30  # one line
        colour = "getComputedStyle(document.querySelector('#runs tbody span')).color"
        assert page.js(colour) == "rgb(26, 110, 26)"  # done: green
        page.screenshot(tmp_path / "reprs.png")
        assert page.errors == []


class _Notebook:
    """Stands for IPython's kernel shell (type name is what runtable checks)."""

    config: dict[str, object] = {}  # noqa: RUF012  # no IPKernelApp: tqdm.auto falls back to text


def test_progress_counts_failures_and_leaves_the_elapsed_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    exp = rt.connect("sqlite://").create_experiment("bar").add_runs(k=range(25))

    def step(run: rt.Run) -> None:
        if run.params.k % 10 == 3:
            raise ValueError("no")

    exp.execute(step, on_error="record", progress=True)
    err = capsys.readouterr().err
    final = err.replace("\r", "\n").strip().splitlines()[-1]
    assert "25/25" in final
    assert "3 failed" in final
    assert re.search(r"\[\d\d:\d\d<", final)  # the elapsed time stays on screen


def test_progress_label_and_notebook_auto_mode(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shell = type("ZMQInteractiveShell", (_Notebook,), {})()
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    monkeypatch.setattr(execution, "PROGRESS_DELAY", 0.0)
    runs = iter([types.SimpleNamespace(status="done")] * 30)
    assert len(list(execution._with_progress(runs, 30, None, label="sweep"))) == 30  # type: ignore[arg-type]
    err = capsys.readouterr().err
    assert "sweep: 100%" in err  # auto mode shows a bar under a notebook kernel, not a tty
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: None))
    runs = iter([types.SimpleNamespace(status="done")] * 30)
    assert len(list(execution._with_progress(runs, 30, None, label="sweep"))) == 30  # type: ignore[arg-type]
    assert capsys.readouterr().err == ""  # neither a terminal nor a notebook: silent


NOTEBOOK = [
    """import math, numpy as np, runtable as rt
exp = rt.connect("sqlite://").create_experiment("nbsweep")
exp.add_runs(lr=[0.1, 0.01, 0.001], width=[16, 64], seed=range(5))
def train(run):
    if run.params.seed == 0 and run.params.lr == 0.1:
        raise ValueError("diverged")
    for s in range(20):
        run.log(loss=run.params.lr * math.exp(-s / 5) + 0.01)
    run.fields.weights = np.zeros((32, 8))
    run.fields.metrics = {"f1": 0.91, "auc": 0.95}
exp.execute(train, on_error="record", progress=True)""",
    "exp",
    "exp.runs",
    "next(r for r in exp.runs if r.status == 'failed')",
]


def test_a_rendered_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real kernel executes the notebook: the progress widget and the reprs, rendered."""
    if os.environ.get("CI", "").strip().lower() in ("", "0", "false", "no"):
        for module in ("nbclient", "nbconvert", "ipykernel", "ipywidgets"):
            pytest.importorskip(module, reason="the notebook check needs the dev extra")
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    src = str(Path(rt.__file__).parent.parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in NOTEBOOK])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()

    # the progress bar is tqdm's widget; its saved state is what the notebook shows
    outputs = nb.cells[0].outputs
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    models = [m for m in state.values() if m["model_name"] in ("HTMLModel", "FloatProgressModel")]
    texts = [
        html_module.unescape(m["state"]["value"]).replace("\u2007", " ")
        for m in models
        if m["model_name"] == "HTMLModel"
    ]
    bar = next(m["state"] for m in models if m["model_name"] == "FloatProgressModel")
    assert (bar["value"], bar["max"]) == (30, 30)
    assert re.match(r"nbsweep: 100%", texts[0])  # the bar is labelled with the experiment
    assert re.search(r"30/30 \[\d\d:\d\d<00:00, .*2 failed\]", texts[1])  # elapsed time, failures

    html = [c.outputs[0]["data"]["text/html"] for c in nb.cells[1:]]
    assert "f64[32x8]" in html[1]
    assert "loss 0.01022 (20 steps)" in html[1]  # a series by its last value (lr 0.01)
    assert ">failed</span>" in html[2]
    body, _ = HTMLExporter().from_notebook_node(nb)
    page_path = tmp_path / "notebook.html"
    page_path.write_text(body, encoding="utf-8")
    with Browser(tmp_path / "profile", width=1100) as browser:
        page = browser.open(page_path.as_uri())
        heights = page.js(
            "[].map.call(document.querySelectorAll('.jp-OutputArea-output > div > table > tbody"
            " > tr'),function(r){return r.cells[1].textContent+' '+r.offsetHeight;})"
        )
        failed = [int(h.split()[1]) for h in heights if h.startswith("failed")]
        assert failed
        assert max(failed) < 30  # one line: no wrapped array or dict cell in a failed run
        page.screenshot(tmp_path / "notebook.png")
        assert page.errors == []
