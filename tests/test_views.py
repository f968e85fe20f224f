"""Notebook views and reprs: short, escaped, never dumping big values."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np

import runtable as rt


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
    exp.runs[3].status = "failed"
    exp.runs[3].error = "Traceback: <script>"
    return exp


def test_experiment_runs_and_run_render_html_without_dumping_arrays() -> None:
    session = rt.connect("sqlite://")
    exp = _sweep(session)
    page = exp._repr_html_()
    assert "Experiment view" in page
    assert "30 runs" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page  # escaped
    assert "ndarray(shape=(10000,), dtype=float64)" in page
    assert "... 20 more runs" in page
    assert len(page) < 20_000
    assert _tags(page).count("table") >= 2

    runs_page = exp.runs._repr_html_()
    assert "... 10 more runs" in runs_page
    run_page = exp.runs[3]._repr_html_()
    assert "Run 3 (failed" in run_page
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
    assert text.startswith("<Run 0 pending (n=0) fields: samples, err>")
    assert len(repr(exp.runs.first().fields)) < 200
