"""The HTML report: what it chooses to show (the JSON payload), escaping, and its behaviour in a
real headless Chromium (filter, sort, column picker, colour and metric pickers, plots)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser import Browser, Page

import runtable as rt
from runtable.errors import RuntableError
from runtable.report import render_report, report_data, write_report

XSS = "</script><script>alert(1)</script>"


def train_sweep(
    seeds: int = 2, name: str = "train", fail: bool = True, session: rt.Session | None = None
) -> rt.Experiment:
    """lr (3 values), width (2), opt (2), seed (replicates): series loss/acc, dict, array."""
    exp = (session or rt.connect("sqlite://")).create_experiment(name, note=XSS)
    exp.add_runs(lr=[0.1, 0.01, 0.001], width=[16, 64], opt=["sgd", "adam"], seed=range(seeds))

    def train(run: rt.Run) -> None:
        if fail and run.params.opt == "sgd" and run.params.lr == 0.1 and run.params.seed == 0:
            raise FloatingPointError("loss is NaN")
        base = 1 + math.log10(run.params.lr) ** 2 / 4 + 16 / run.params.width
        base *= 0.8 if run.params.opt == "adam" else 1.0
        for step in range(20):
            loss = base * math.exp(-step / 6) + 0.01 * run.rng.random()
            run.log(loss=loss, acc=1 - loss / 4)
        run.fields.final_loss = loss
        run.fields.weights = np.zeros((32, 8))
        run.fields.metrics = {"f1": 1 - loss / 5, "auc": 1 - loss / 9}
        run.fields.label = XSS

    return exp.execute(train, on_error="record")


def column(data: dict[str, Any], key: str) -> dict[str, Any]:
    return next(c for c in data["columns"] if c["key"] == key)


# -- what is shown ----------------------------------------------------------------------------


def test_default_choices_leave_out_replicates_and_expand_dicts_and_series() -> None:
    exp = train_sweep()
    data = report_data(exp)
    assert data["axes"] == ["lr", "width", "opt"]  # seed varies, but it is a replicate index
    assert data["replicates"] == ["seed"]
    assert data["metric"] == {"key": "final_loss", "dir": "min"}
    assert data["colorBy"] in ("width", "opt")  # two values each: the fewest
    keys = [c["key"] for c in data["columns"]]
    assert keys[:3] == ["id_run", "@status", "@duration"]
    assert {"metrics.f1", "metrics.auc", "series.loss", "series.loss:best"} <= set(keys)
    assert "metrics" not in keys  # the dict became columns
    assert column(data, "weights")["values"][1] == "f64[32x8]"
    assert column(data, "metrics.f1")["type"] == "num"
    assert column(data, "opt")["type"] == "cat"
    loss = column(data, "series.loss")
    best = column(data, "series.loss:best")
    assert loss["best"] == best["key"]
    assert best["hidden"]
    ok = [i for i, s in enumerate(column(data, "@status")["values"]) if s == "done"]
    assert all(best["values"][i] <= loss["values"][i] for i in ok)
    assert column(data, "@status")["values"].count("failed") == 2
    assert all(d is not None and d >= 0 for d in column(data, "@duration")["values"])
    # logged series: one curve plot per metric, with every finished run's points
    assert [p for p in data["plots"] if p["kind"] == "curve"] == [
        {"kind": "curve", "y": "series.loss"},
        {"kind": "curve", "y": "series.acc"},
    ]
    curve = data["curves"]["series.loss"]
    assert len(curve["rows"]) == len(ok)
    assert curve["steps"] == [list(range(20))]  # shared by all runs: stored once
    # the metric against each varying param; other numeric fields against one param only
    scatter = [(p["y"], p["x"]) for p in data["plots"] if p["kind"] == "scatter"]
    assert scatter[:3] == [("final_loss", "lr"), ("final_loss", "width"), ("final_loss", "opt")]
    assert set(scatter[3:]) == {("metrics.f1", "lr"), ("metrics.auc", "lr")}
    assert not any("seed" in pair for pair in scatter)


def test_categorical_params_include_none_and_fixed_params_go_to_the_summary() -> None:
    exp = rt.connect("sqlite://").create_experiment("cats")
    exp.add_runs(kernel=[None, "rbf", "linear"], C=[1.0], trial=range(3))
    for run in exp.runs:
        run.fields.score = 0.5 if run.params.kernel is None else 0.8
    data = report_data(exp)
    kernel = column(data, "kernel")
    assert kernel["type"] == "cat"
    assert set(kernel["values"]) == {"None", "rbf", "linear"}
    assert data["axes"] == ["kernel"]  # C has one value, trial is a replicate index
    assert ["param C", "1.0"] in data["info"]
    assert data["metric"] == {"key": "score", "dir": "max"}  # a score: higher is better
    assert data["plots"] == [{"kind": "scatter", "y": "score", "x": "kernel"}]


def test_a_sweep_over_seeds_only_plots_the_metric_per_seed() -> None:
    exp = rt.connect("sqlite://").create_experiment("seeds").add_runs(seed=range(5))
    for run in exp.runs:
        run.fields.loss = run.params.seed / 10
    data = report_data(exp)
    assert data["axes"] == []
    assert data["colorBy"] is None
    assert data["plots"] == [{"kind": "scatter", "y": "loss", "x": "seed"}]


def test_chosen_metric_colour_and_plots() -> None:
    exp = train_sweep()
    data = report_data(
        exp, metric="metrics.f1:max", color_by="lr", plots=["final_loss:width", "loss"]
    )
    assert data["metric"] == {"key": "metrics.f1", "dir": "max"}
    assert data["colorBy"] == "lr"
    assert data["plots"] == [
        {"kind": "scatter", "y": "final_loss", "x": "width"},
        {"kind": "curve", "y": "series.loss"},
    ]
    assert report_data(exp, color_by="none")["colorBy"] is None
    everywhere = report_data(exp, plots=["metrics.auc"])["plots"]
    assert [p["x"] for p in everywhere] == ["lr", "width", "opt"]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"metric": "nope"}, "metric 'nope'"),
        ({"color_by": "final_loss"}, "color_by 'final_loss'"),
        ({"plots": ["final_loss:nope"]}, "plot x 'nope'"),
        ({"plots": ["weights"]}, "plot 'weights'"),
    ],
)
def test_unknown_choices_name_the_choices(options: dict[str, Any], named: str) -> None:
    with pytest.raises(RuntableError, match=re.escape(named)) as info:
        report_data(train_sweep(fail=False), **options)
    assert "choose one of:" in str(info.value)


def test_user_strings_cannot_end_the_script() -> None:
    text = render_report(train_sweep())
    assert XSS not in text
    assert text.count("<script") == 2  # the data and the report's own script
    assert text.count("</script>") == 2
    payload = re.search(r"id='report-data'>(.*?)</script>", text, re.S)
    assert payload is not None
    data = json.loads(payload.group(1))
    assert XSS in column(data, "label")["values"]
    assert ["field note", XSS] in data["info"]


def test_nan_infinities_and_empty_experiments() -> None:
    exp = rt.connect("sqlite://").create_experiment("odd")
    exp.add_runs(x=[1.0, 2.0, math.nan, math.inf])
    for run, y in zip(exp.runs, [0.5, math.nan, math.inf, -math.inf], strict=True):
        run.fields.y = y
    data = report_data(exp)  # JSON without NaN: allow_nan=False would raise
    assert column(data, "y")["values"] == [0.5, "NaN", "+inf", "-inf"]
    assert column(data, "x")["values"] == [1.0, 2.0, "NaN", "+inf"]
    render_report(exp)
    empty = report_data(rt.connect("sqlite://").create_experiment("empty"))
    assert empty["plots"] == []
    assert empty["metric"] is None
    assert len(empty["columns"][0]["values"]) == 0


def test_a_loaded_experiment_shows_its_times_errors_and_series(tmp_path: Path) -> None:
    session = rt.connect(f"sqlite:///{tmp_path}/t.db")
    train_sweep(name="stored", session=session).persist()
    data = report_data(session.load_experiment("stored"))
    names = [k for k, _ in data["info"]]
    assert {"created_at", "updated_at"} <= set(names)
    error = column(data, "@error")
    failed = [i for i, s in enumerate(column(data, "@status")["values"]) if s == "failed"]
    assert [error["values"][i] for i in failed] == ["FloatingPointError: loss is NaN"] * 2
    assert "Traceback" in error["title"][failed[0]]  # the whole error on hover
    assert not error["hidden"]
    assert len(data["curves"]["series.loss"]["rows"]) == 24 - 2
    session.close()


def test_write_report_and_size_of_a_large_sweep(tmp_path: Path) -> None:
    exp = rt.connect("sqlite://").create_experiment("big")
    exp.add_runs(a=range(100), method=["sgd", "adam"], seed=range(50))
    rng = np.random.default_rng(0)
    for run in exp.runs:
        run.fields.loss = float(rng.normal(run.params.a / 100, 1))
    path = write_report(exp, tmp_path / "r.html", metric="loss")
    assert path == tmp_path / "r.html"
    size = path.stat().st_size
    assert size < 1_500_000  # 10,000 runs, every one in the page


# -- in a real browser ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with Browser(tmp_path_factory.mktemp("chromium")) as b:
        yield b


def open_report(browser: Browser, path: Path, fragment: str = "") -> Page:
    page = browser.open(path.as_uri() + fragment)
    assert page.js("document.body.getAttribute('data-ready')") == "1"
    assert page.errors == []
    return page


def cells(page: Page, label: str) -> list[str]:
    """The texts of one column of the runs table, as drawn."""
    return page.js(  # type: ignore[no-any-return]
        "(function(){var t=document.getElementById('runs'),h=[].map.call(t.tHead.rows[0].cells,"
        "function(c){return c.textContent;}),i=h.indexOf(" + json.dumps(label) + ");"
        "return i<0?null:[].map.call(t.tBodies[0].rows,"
        "function(r){return r.cells[i].textContent;});})()"
    )


def headers(page: Page) -> list[str]:
    return page.js(  # type: ignore[no-any-return]
        "[].map.call(document.querySelectorAll('#runs thead th'),"
        "function(c){return c.textContent;})"
    )


def test_filter_sort_and_picker_in_chromium(browser: Browser, tmp_path: Path) -> None:
    exp = train_sweep(seeds=3)
    report = write_report(exp, tmp_path / "report.html")
    page = open_report(browser, report)
    assert page.js("document.getElementById('count').textContent") == "36 of 36 runs match"
    assert len(cells(page, "id_run")) == 36
    assert headers(page)[:4] == ["id_run", "status", "duration", "error"]
    assert cells(page, "weights")[1] == "f64[32x8]"  # run 0 failed: empty
    assert re.fullmatch(r"[\d.e+-]+ \u00b7 best [\d.e+-]+", cells(page, "loss")[-1])

    page.type("#filter", "opt=adam lr<0.05")
    page.settle()
    assert page.js("document.getElementById('count').textContent") == "12 of 36 runs match"
    assert set(cells(page, "opt")) == {"adam"}
    assert {float(v) for v in cells(page, "lr")} == {0.01, 0.001}
    assert "thin lines: 12 runs" in page.js("document.querySelector('figure').textContent")

    page.type("#filter", "floatingpoint")  # free text matches any cell, the error here
    page.settle()
    assert cells(page, "status") == ["failed", "failed"]  # sgd, lr 0.1, seed 0, both widths
    assert page.js("document.querySelector('#summary').textContent").startswith("2 runs (of 36)")

    page.type("#filter", "")
    page.settle()
    page.js("document.querySelector('#runs th[data-col=final_loss]').click()")
    shown = [float(v) for v in cells(page, "final_loss") if v]
    assert shown == sorted(shown)
    assert cells(page, "final_loss")[-2:] == ["", ""]  # failed runs have none: last
    page.js("document.querySelector('#runs th[data-col=final_loss]').click()")
    shown = [float(v) for v in cells(page, "final_loss") if v]
    assert shown == sorted(shown, reverse=True)
    sort = "document.querySelector('#runs th[data-col=final_loss]').getAttribute('aria-sort')"
    assert page.js(sort) == "descending"
    assert page.js("location.hash") == "#sort=-final_loss"

    # the column picker hides and shows columns
    assert "weights" in headers(page)
    assert "started_at" not in headers(page)
    page.js(
        "(function(){[].forEach.call(document.querySelectorAll('#picker-body label'),function(l){"
        "var t=l.textContent.trim();if(t==='weights'||t==='started_at'){var b=l.firstChild;"
        "b.checked=!b.checked;b.dispatchEvent(new Event('change',{bubbles:true}));}});})()"
    )
    assert "weights" not in headers(page)
    assert "started_at" in headers(page)
    # id_run stays in view when the table scrolls sideways; cells never wrap
    style = "getComputedStyle(document.querySelector('#runs tbody td')).position"
    assert page.js(style) == "sticky"
    assert page.js(
        "document.querySelector('.scroll').scrollLeft=400,"
        "document.querySelector('#runs tbody td').getBoundingClientRect().left"
        "-document.querySelector('.scroll').getBoundingClientRect().left"
    ) == pytest.approx(1, abs=2)
    heights = page.js(
        "[].map.call(document.querySelectorAll('#runs tbody tr'),"
        "function(r){return r.offsetHeight;})"
    )
    assert max(heights) == min(heights)  # one line each
    assert page.errors == []


def test_plots_colour_and_metric_in_chromium(browser: Browser, tmp_path: Path) -> None:
    report = write_report(train_sweep(seeds=3), tmp_path / "report.html")
    page = open_report(browser, report, "#sort=final_loss")
    figures = (
        "[].map.call(document.querySelectorAll('#plots figure'),"
        "function(f){return f.dataset.y+' vs '+f.dataset.x;})"
    )
    assert page.js(figures) == [
        "series.loss vs step",
        "series.acc vs step",
        "final_loss vs lr",
        "final_loss vs width",
        "final_loss vs opt",
        "metrics.f1 vs lr",
    ]
    runs_drawn = "document.querySelectorAll('#plots figure path.run').length"
    assert page.js(runs_drawn) >= 2  # one path per colour
    more = "document.querySelectorAll('#more-body figure').length"
    assert page.js(more) == 0  # collapsed: not drawn until opened
    page.js("document.getElementById('more-plots').open=true")
    page.settle(100)
    assert page.js(more) == 1  # metrics.auc vs lr

    caption = "document.querySelectorAll('#plots figcaption')[2].textContent"
    assert "mean \u00b1 1 sd over seed" in page.js(caption)
    colour = page.js("document.getElementById('color').value")
    other = "opt" if colour == "width" else "width"
    assert f"pools over {other} (2 values)" in page.js(caption)
    page.js(
        "(function(){var s=document.getElementById('color');s.value='lr';"
        "s.dispatchEvent(new Event('change'));})()"
    )
    assert page.js("document.getElementById('legend').textContent").startswith("lr:")
    assert (
        page.js(
            "new Set([].map.call(document.querySelectorAll('#plots path.run'),"
            "function(p){return p.getAttribute('stroke');})).size"
        )
        == 3
    )
    # final_loss vs lr: colouring by lr says nothing, so it is coloured by another param
    assert page.js(caption).startswith("coloured by width: 16 64;")
    assert "pools over opt (2 values)" in page.js(caption)
    width_caption = "document.querySelectorAll('#plots figcaption')[3].textContent"
    assert "pools over opt (2 values)" in page.js(width_caption)  # coloured by lr

    best = "document.querySelector('#summary h3').textContent"
    assert page.js(best) == "Best runs by final_loss (lowest)"
    page.js(
        "(function(){var s=document.getElementById('metric');s.value='metrics.f1';"
        "s.dispatchEvent(new Event('change'));var d=document.getElementById('dir');d.value='max';"
        "d.dispatchEvent(new Event('change'));})()"
    )
    assert page.js(best) == "Best runs by metrics.f1 (highest)"
    f1 = [
        float(v)
        for v in page.js(
            "[].map.call(document.querySelectorAll('#summary table.best tbody tr'),"
            "function(r){return r.cells[1].textContent;})"
        )
    ]
    assert f1 == sorted(f1, reverse=True)
    assert len(f1) == 5
    axes = (
        "[].map.call(document.querySelectorAll('#parcoords .pcax'),"
        "function(g){return g.dataset.key;})"
    )
    assert page.js(axes) == ["lr", "width", "opt", "metrics.f1"]
    assert page.js("document.querySelectorAll('#parcoords path.pc').length") >= 2
    shot = page.screenshot(tmp_path / "report.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.errors == []


def test_many_runs_page_and_show_more(browser: Browser, tmp_path: Path) -> None:
    exp = rt.connect("sqlite://").create_experiment("many")
    exp.add_runs(x=range(250), rep=range(2))
    for run in exp.runs:
        run.fields.y = run.params.x * 0.5
        for step in range(3):
            run.log(loss=run.params.x / (step + 1))
    page = open_report(browser, write_report(exp, tmp_path / "many.html"))
    caption = page.js("document.querySelector('#plots figcaption').textContent")
    assert caption.startswith("thin lines: 400 of 500 runs;")  # a sample drawn, means of all
    lines = page.js(
        "[].map.call(document.querySelectorAll('#plots figure')[0].querySelectorAll('path.run'),"
        "function(p){return p.getAttribute('d');}).join('')"
    )
    assert lines.count("M") == 400  # one path per colour, one M per run
    assert len(cells(page, "id_run")) == 200  # a page of rows; the rest on demand
    page.js("document.getElementById('show-more').click()")
    assert len(cells(page, "id_run")) == 500
    assert page.js("document.getElementById('more-rows').textContent") == ""
    page.type("#filter", "x>=240")
    page.settle()
    assert sorted({int(v) for v in cells(page, "x")}) == list(range(240, 250))
    assert page.errors == []


def test_brushing_an_axis_of_the_parallel_coordinates(browser: Browser, tmp_path: Path) -> None:
    exp = train_sweep(seeds=3)
    page = open_report(browser, write_report(exp, tmp_path / "report.html"))
    x, top, bottom = page.js(  # where the metric's axis is on screen, once scrolled to
        "(function(){var e=document.querySelector('#parcoords .pcax[data-key=final_loss] .hit');"
        "e.scrollIntoView({block:'center'});var r=e.getBoundingClientRect();"
        "return [r.left+r.width/2,r.top,r.bottom];})()"
    )
    page.drag(x, bottom - 2, (top + bottom) / 2)  # the lower half of the axis: the lower losses
    page.settle(100)
    count = page.js("document.getElementById('count').textContent")
    kept = int(count.split()[0])
    assert 0 < kept < 34, count
    assert "brushed: final_loss" in count
    ids = {int(v) for v in cells(page, "id_run")}
    assert len(ids) == kept
    loss = {r.id: r.fields.final_loss for r in exp.runs if r.status == "done"}
    inside = [loss[i] for i in ids]
    outside = [v for i, v in loss.items() if i not in ids]
    assert max(inside) < min(outside)  # exactly the lowest losses
    assert page.js("document.querySelectorAll('#plots figure').length") == 6  # redrawn
    page.drag(x, top + 10, top + 10)  # a click on the axis clears its brush
    page.settle(100)
    assert page.js("document.getElementById('count').textContent") == "36 of 36 runs match"
    assert page.errors == []


def test_large_run_ids_keep_their_digits_and_sort_as_numbers(
    browser: Browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import runtable.report as report

    exp = rt.connect("sqlite://").create_experiment("ids").add_runs(x=range(4))
    for run in exp.runs:
        run.fields.y = float(run.params.x)
    data = report.report_data(exp)
    assert column(data, "id_run")["values"] == [str(r.id) for r in exp.runs]
    big = ["9223372036854775807", "9007199254740993", "77", "9223372036854775806"]
    column(data, "id_run")["values"] = big  # ids as 63-bit run ids will be
    monkeypatch.setattr(report, "report_data", lambda *a, **k: data)
    page = open_report(browser, write_report(exp, tmp_path / "ids.html"), "#sort=id_run")
    assert cells(page, "id_run") == [
        "77",
        "9007199254740993",  # 2**53 + 1: a JavaScript number would print ...992
        "9223372036854775806",
        "9223372036854775807",
    ]
    page.type("#filter", "id_run=9007199254740993")
    page.settle()
    assert cells(page, "x") == ["1"]


def test_hovering_a_point_names_its_run(browser: Browser, tmp_path: Path) -> None:
    exp = train_sweep(seeds=3)
    page = open_report(browser, write_report(exp, tmp_path / "report.html"))
    x, y = page.js(  # the first point of "final_loss vs lr", on screen
        "(function(){var f=document.querySelector('#plots figure[data-y=final_loss][data-x=lr]');"
        "f.scrollIntoView({block:'center'});var m=/M([\\d.]+) ([\\d.]+)h0/.exec("
        "f.querySelector('path.pts').getAttribute('d')),r=f.querySelector('svg')"
        ".getBoundingClientRect();return [r.left+ +m[1],r.top+ +m[2]];})()"
    )
    page.move(x + 1, y)
    tip = page.js("document.getElementById('tip').innerText").splitlines()
    assert page.js("document.getElementById('tip').style.display") == "block"
    assert tip[0].startswith("run ")
    run = exp.runs[int(tip[0].split()[1])]
    assert tip[1].startswith("final_loss = ")
    assert float(tip[1].split()[-1]) == pytest.approx(run.fields.final_loss, rel=1e-3)
    assert tip[2] == f"lr = {run.params.lr}"
    colour = page.js("document.getElementById('color').value")  # the colour param's value
    assert tip[3] == f"{colour} = {run.params[colour]}"
    page.move(5, 5)  # away from every plot
    assert page.js("document.getElementById('tip').style.display") == "none"
    assert page.errors == []
