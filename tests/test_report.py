"""The HTML report: structure, escaping, edge cases, and a real headless browser if there is one."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import runtable as rt
from runtable.report import MAX_ROWS, render_report, write_report

XSS = "<script>alert(1)</script>"


def sweep(n_trials: int = 3, name: str = "coins") -> rt.Experiment:
    """A coins-like sweep: params n and trial; fields tosses (array), err (float), label (str)."""
    exp = rt.connect("sqlite://").create_experiment(name, note=XSS, p=0.5)
    exp.add_runs(n=[10, 100, 1000, 10000], trial=range(n_trials))

    def toss(run: rt.Run) -> None:
        run.fields.tosses = run.rng.random(run.params.n) < 0.5
        run.fields.err = float(abs(run.fields.tosses.mean() - 0.5))
        run.fields.label = XSS if run.id == 1 else f"run {run.id}"

    return exp.execute(toss)


class Page(HTMLParser):
    """Parses a page, checks that elements nest, and keeps what the tests look at."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "col", "wbr", "source"})

    def __init__(self, text: str) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.rows: list[list[str]] = []  # the runs table, header first
        self.attrs: list[dict[str, str | None]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()
        assert self.stack == [], f"unclosed elements: {self.stack}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.append(dict(attrs))
        if tag == "tr" and "table" in self.stack:
            self.rows.append([])
        if tag in ("td", "th") and self.rows:
            self.rows[-1].append("")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.append(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1:] == [tag], f"</{tag}> does not close {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.stack and self.stack[-1] in ("td", "th", "span") and self.rows:
            self.rows[-1][-1] += data

    def column(self, name: str) -> list[str]:
        i = [c.strip(" \u25b2\u25bc") for c in self.rows[0]].index(name)
        return [row[i] for row in self.rows[1:]]


# -- structure --------------------------------------------------------------------------------


def test_small_sweep_structure() -> None:
    exp = sweep()
    text = render_report(exp)
    page = Page(text)
    assert text.startswith("<!DOCTYPE html>")
    assert page.tags.count("tr") == 1 + 12
    assert page.rows[0][:7] == ["id_run", "status", "error", "started_at", "ended_at", "n", "trial"]
    assert page.rows[0][7:] == ["tosses", "err", "label"]
    assert page.column("tosses")[0] == "ndarray(shape=(10,), dtype=bool)"
    assert page.column("n") == [str(n) for n in [10] * 3 + [100] * 3 + [1000] * 3 + [10000] * 3]
    assert text.count("<svg") == 2  # the numeric field err against each param: n and trial
    assert "err vs n" in text
    assert "err vs trial" in text
    assert "n on a log scale" in text
    assert "12 (12 done)" in "".join(page.text)
    assert "config" not in "".join(page.text)  # execute() got no config
    # every number cell carries its exact value for sorting
    values = [a["data-n"] for a in page.attrs if "data-n" in a and a.get("class") == "num"]
    errs = [repr(run.fields.err) for run in exp.runs]
    assert set(errs) <= set(values)


def test_user_strings_are_escaped() -> None:
    exp = sweep()
    exp.add_run(n='"quoted" & <b>', trial=0)  # a string param: a strip of categories
    exp.runs[12].fields.err = 0.25
    text = render_report(exp)
    page = Page(text)
    assert XSS not in text
    assert text.count("<script") == 1  # the report's own sorting script only
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<b>" not in text
    assert XSS in page.column("label")  # shown as text
    assert '"quoted" & <b>' in page.column("n")
    assert f"note{XSS}" in "".join(page.text)  # the experiment's own field, as text


def test_write_report(tmp_path: Path) -> None:
    path = write_report(sweep(), tmp_path / "r.html")
    assert path == tmp_path / "r.html"
    assert "coins" in path.read_text(encoding="utf-8")


def test_stored_experiment_shows_times_and_failures(tmp_path: Path) -> None:
    session = rt.connect(f"sqlite:///{tmp_path}/t.db")
    exp = session.create_experiment("flaky")
    exp.add_runs(k=range(4))

    def step(run: rt.Run) -> None:
        if run.params.k == 2:
            raise ValueError("k is <2>")
        run.fields.y = run.params.k * 1.5

    exp.execute(step, on_error="record").persist()
    page = Page(render_report(session.load_experiment("flaky")))
    text = "".join(page.text)
    assert "4 (3 done, 1 failed)" in text
    assert "created_at" in text
    assert "updated_at" in text
    assert page.column("status") == ["done", "done", "failed", "done"]
    assert page.column("error")[2] == "ValueError: k is <2>"
    assert page.column("y")[2] == ""  # absent, not NaN
    assert any("Traceback" in str(a.get("title")) for a in page.attrs)


# -- edge cases -------------------------------------------------------------------------------


def test_no_runs() -> None:
    exp = rt.connect("sqlite://").create_experiment("empty")
    text = render_report(exp)
    Page(text)
    assert "This experiment has no runs." in text
    assert "<svg" not in text
    assert "<table" not in text
    assert "no fields of its own" in text


def test_no_numeric_fields() -> None:
    exp = rt.connect("sqlite://").create_experiment("words")
    exp.add_runs(x=[1, 2])
    for run in exp.runs:
        run.fields.word = "w" * run.params.x
        run.fields.data = np.zeros(3)
    text = render_report(exp)
    page = Page(text)
    assert "No numeric fields to plot" in text
    assert "<svg" not in text
    assert page.tags.count("tr") == 3


def test_nan_and_infinities() -> None:
    exp = rt.connect("sqlite://").create_experiment("odd")
    exp.add_runs(x=[1.0, 2.0, 3.0, math.nan, math.inf], trial=range(2))
    values = [0.5, math.nan, math.inf, -math.inf]
    for i, run in enumerate(exp.runs):
        run.fields.y = values[i % 4]
        run.fields.gone = math.nan  # no finite value at all
    text = render_report(exp)
    page = Page(text)
    assert {"NaN", "+inf", "-inf", "0.5"} <= set(page.column("y"))
    assert {"NaN", "+inf"} <= set(page.column("x"))
    assert text.count("<svg") == 4  # y and gone against x and trial
    assert "no finite values" in text  # gone
    assert "runs skipped (missing, NaN or infinite)" in text
    coordinates = re.findall(r" (?:d|points|cx|cy|x|y)='([^']*)'", text)
    assert coordinates
    assert not any(re.search("nan|inf", c, re.I) for c in coordinates)


def test_ten_thousand_runs() -> None:
    exp = rt.connect("sqlite://").create_experiment("big")
    exp.add_runs(a=range(100), method=["sgd", "adam"], seed=range(50))
    rng = np.random.default_rng(0)
    for run in exp.runs:
        run.fields.loss = float(rng.normal(run.params.a / 100, 1))
        run.fields.ok = bool(run.fields.loss < 0.5)
    start = time.perf_counter()
    text = render_report(exp)
    assert time.perf_counter() - start < 15
    assert len(text.encode()) < 3_000_000
    page = Page(text)
    assert page.tags.count("tr") == 1 + MAX_ROWS
    assert "Showing the first 1,000 of 10,000 runs" in text
    assert text.count("<svg") == 2 * 3
    assert "distinct points drawn" in text  # loss vs seed: sampled


def test_categories_bools_and_long_names() -> None:
    long = "a_field_name_that_goes_on_and_on_for_quite_a_while_ok"
    exp = rt.connect("sqlite://").create_experiment("cats")
    exp.add_runs(method=["sgd", "adam", "lbfgs"], flag=[True, False], rep=range(2))
    for run in exp.runs:
        run.fields[long] = len(run.params.method) + run.params.rep
        run.fields.converged = run.params.flag
    text = render_report(exp)
    Page(text)
    assert text.count("<svg") == 2 * 3
    assert ">sgd</text>" in text  # category ticks
    assert ">True</text>" in text  # bools are categories along x
    assert f"<title>{long} vs method</title>" in text  # the full name on hover
    assert f">{long} vs method</text>" not in text  # the drawn title is shortened
    assert "\u2026 vs method</text>" in text


# -- a real browser ---------------------------------------------------------------------------


def chromium() -> str:
    """The chromium binary; skipped locally without one, a failure under CI."""
    path = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium")
    if path:
        return path
    message = "chromium not found: apt-get install chromium"
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI is set: refusing to skip the browser test. {message}", False)
    pytest.skip(message)


def browse(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1200,900",
        *args,
        url,
    ]
    done = subprocess.run(command, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done


def test_in_a_headless_browser(tmp_path: Path) -> None:
    report = write_report(sweep(n_trials=5), tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    browse(tmp_path, report.as_uri(), f"--screenshot={shot}")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000

    dom = browse(tmp_path, report.as_uri() + "#sort=-err", "--dump-dom").stdout.decode()
    page = Page(dom)
    table = next(a for t, a in zip(page.tags, page.attrs, strict=True) if t == "table")
    assert table.get("data-ready") == "1"  # the script ran
    assert len(page.rows) == 1 + 20
    heads = [a for t, a in zip(page.tags, page.attrs, strict=True) if t == "th"]
    assert [h.get("aria-sort") for h in heads if h.get("data-col") == "err"] == ["descending"]
    errs = [float(v) for v in page.column("err")]
    assert errs == sorted(errs, reverse=True)
    assert page.column("id_run") != [str(i) for i in range(20)]  # the rows moved
