"""A self-contained HTML report of one experiment: summary, fields, plots and a sortable table.

CSS, the sorting script and the SVG plots are inline (no external resources): the file can be
mailed or archived as is. ``render_report(exp)`` returns the page, ``write_report`` writes it.
"""

from __future__ import annotations

import math
import numbers
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import runtable
from runtable.summary import headline, summarise

if TYPE_CHECKING:
    from runtable.experiment import Experiment
    from runtable.run import Run

MAX_ROWS = 1_000  # runs shown in the table
MAX_POINTS = 2_000  # points drawn per plot, after merging those on the same pixel
MAX_CATEGORIES = 30  # categories shown along the x axis of a strip plot
CELL_WIDTH = 80  # characters of a summarised table cell
W, H = 480, 300  # plot size, in pixels
LEFT, RIGHT, TOP, BOTTOM = 70, 24, 30, 50  # plot margins
META = ("id_run", "status", "error", "started_at", "ended_at")


def write_report(experiment: Experiment, path: str | Path) -> Path:
    """Write the report of ``experiment`` to ``path`` (UTF-8) and return the path."""
    path = Path(path)
    path.write_text(render_report(experiment), encoding="utf-8")
    return path


def render_report(experiment: Experiment) -> str:
    """The report of ``experiment`` as one HTML page."""
    df = experiment.runs.df(meta=True)
    params = list(dict.fromkeys(k for run in experiment.runs for k in run.params))
    fields = list(dict.fromkeys(k for run in experiment.runs for k in run.fields))
    numeric = [f for f in fields if _is_numeric(df[f], bools=True)]
    name = escape(experiment.name)
    parts = [
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{name} - runtable report</title><style>{CSS}</style></head><body>",
        f"<h1>Experiment <code>{name}</code></h1>",
        _summary(experiment),
        "<h2>Plots</h2>",
        _plots(df, params, numeric, fields),
        f"<h2>Runs</h2>{_table(df, list(experiment.runs)[:MAX_ROWS], params, fields)}",
        f"<footer>Written by runtable {escape(runtable.__version__)} on "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}.</footer>",
        f"<script>{SCRIPT}</script></body></html>\n",
    ]
    return "\n".join(parts)


# -- summary ----------------------------------------------------------------------------------


def _summary(experiment: Experiment) -> str:
    statuses = ", ".join(f"{n} {s}" for s, n in Counter(r.status for r in experiment.runs).items())
    rows = [
        ("name", experiment.name),
        ("id", experiment.id or "not stored"),
        ("runs", f"{len(experiment.runs)}" + (f" ({statuses})" if statuses else "")),
        *_stored_times(experiment).items(),
        ("seed", experiment.seed),
        *((f"config {k}", v) for k, v in experiment.config.items()),
    ]
    own = experiment.fields.items()
    none = "<p class='note'>This experiment has no fields of its own.</p>"
    return f"<h2>Summary</h2>{_dl(rows)}<h2>Experiment fields</h2>{_dl(own) if own else none}"


def _stored_times(experiment: Experiment) -> dict[str, str]:
    """created_at and updated_at: from the experiment if it has them, else from its database."""
    times = {k: getattr(experiment, k, None) for k in ("created_at", "updated_at")}
    session = experiment._session
    if None in times.values() and session is not None and experiment.id:
        with suppress(runtable.RuntableError, KeyError):
            row = session.ls().set_index("name").loc[experiment.name]
            times = {k: row[k] if v is None else v for k, v in times.items()}
    return {k: str(v)[:19] for k, v in times.items() if v is not None and str(v) != "NaT"}


def _dl(rows: Iterable[tuple[str, Any]]) -> str:
    """A definition list of names and summarised values, both escaped."""
    items = (f"<dt>{escape(k)}</dt><dd>{escape(str(summarise(v, 300)))}</dd>" for k, v in rows)
    return f"<dl>{''.join(items)}</dl>"


# -- table ------------------------------------------------------------------------------------


def _table(df: Any, runs: list[Run], params: list[str], fields: list[str]) -> str:
    if df.empty:
        return "<p class='note'>This experiment has no runs.</p>"
    shown = df.head(MAX_ROWS)
    note = "Click a column header to sort; click again to reverse."
    if len(df) > MAX_ROWS:
        note = (
            f"Showing the first {MAX_ROWS:,} of {len(df):,} runs (sorting applies to these); "
            "<code>runtable export</code> writes them all. " + note
        )
    kinds = {**dict.fromkeys(params, "param"), **dict.fromkeys(fields, "field")}
    num = {c: " num" if _is_numeric(shown[c], bools=False) else "" for c in map(str, df.columns)}
    head = "".join(
        f"<th class='{kinds.get(c, 'meta')}{num[c]}' data-col='{escape(c)}' "
        f"title='{kinds.get(c, 'run')} {escape(c)}'>{escape(c)}</th>"
        for c in map(str, df.columns)
    )
    body = []
    for row, run in zip(shown.itertuples(index=False), runs, strict=True):
        tds = "".join(
            _cell(col, value) if _present(col, value, run) else "<td></td>"
            for col, value in zip(map(str, df.columns), row, strict=True)
        )
        body.append(f"<tr>{tds}</tr>")
    return (
        f"<p class='note'>{note} Columns: <span class='param'>params</span>, "
        "<span class='field'>fields</span>.</p><div class='scroll'><table id='runs'>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _present(column: str, value: Any, run: Run) -> bool:
    """Whether the run has this value: params and fields it lacks come as NaN or None."""
    if column in META:
        return value is not None and value == value  # neither NaN nor NaT
    return column in run.params or column in run.fields


def _cell(column: str, value: Any) -> str:
    if isinstance(value, bool):
        return f"<td>{value}</td>"
    number = _number(value)
    if number is not None:
        if math.isfinite(number):
            text = str(value) if isinstance(value, numbers.Integral) else f"{number:.6g}"
            return f"<td class='num' data-n='{number!r}'>{text}</td>"
        return f"<td class='num'>{'NaN' if math.isnan(number) else f'{number:+}'}</td>"
    if value is None or (hasattr(value, "isoformat") and str(value) == "NaT"):
        return "<td></td>"
    if column == "status":
        return f"<td><span class='s-{escape(str(value))}'>{escape(str(value))}</span></td>"
    if column == "error" and isinstance(value, str):
        return (
            f"<td title='{escape(value[-500:])}'>{escape(str(headline(value))[:CELL_WIDTH])}</td>"
        )
    if isinstance(value, datetime):
        return f"<td>{value:%Y-%m-%d %H:%M:%S}</td>"
    return f"<td>{escape(str(summarise(value, CELL_WIDTH)))}</td>"


# -- data -------------------------------------------------------------------------------------


def _number(value: Any, bools: bool = False) -> float | None:
    """``value`` as a float when it is a real number (a bool only if ``bools``), else None."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return float(value) if bools else None
    if not isinstance(value, numbers.Real):  # numpy's ints and floats are Reals
        return None
    try:
        return float(value)
    except (OverflowError, ValueError):  # a huge Fraction, say
        return None


def _is_numeric(column: Any, *, bools: bool) -> bool:
    """Some values are present and all are numbers (or bools, if ``bools``)."""
    values = [_number(v, bools) for v in column if v is not None]
    return bool(values) and all(v is not None for v in values)


# -- plots ------------------------------------------------------------------------------------


def _plots(df: Any, params: list[str], numeric: list[str], fields: list[str]) -> str:
    if df.empty:
        return "<p class='note'>No runs: nothing to plot.</p>"
    if not params:
        return "<p class='note'>The runs have no params to plot against.</p>"
    if not numeric:
        listed = ", ".join(escape(f) for f in fields) or "none"
        return f"<p class='note'>No numeric fields to plot (fields: {listed}).</p>"
    figures = [_figure(df, x, y) for y in numeric for x in params]
    return f"<div class='plots'>{''.join(figures)}</div>"


def _figure(df: Any, x: str, y: str) -> str:
    numeric_x = _is_numeric(df[x], bools=False)
    xs = [_number(v) for v in df[x]] if numeric_x else list(df[x])
    ys = [_number(v, True) for v in df[y]]
    pts: list[tuple[Any, float]] = [
        (a, b) for a, b in zip(xs, ys, strict=True) if _finite(a) and b is not None and _finite(b)
    ]
    skipped = len(ys) - len(pts)
    title = f"{_short(y, 28)} vs {_short(x, 28)}"
    svg = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{W}' height='{H}' "
        f"viewBox='0 0 {W} {H}' role='img' aria-label='{escape(y)} vs {escape(x)}'>",
        f"<title>{escape(y)} vs {escape(x)}</title>",
        f"<text class='t' x='{W / 2}' y='18' text-anchor='middle'>{escape(title)}</text>",
    ]
    notes: list[str] = []
    if not pts:
        svg.append(f"<text x='{W / 2}' y='{H / 2}' text-anchor='middle'>no finite values</text>")
    else:
        draw = _numeric_x if numeric_x else _category_x
        svg.append(draw(pts, x, y, notes))
    if skipped:
        notes.append(f"{skipped:,} runs skipped (missing, NaN or infinite)")
    caption = "points: runs; line: mean per value" + "".join(f"; {n}" for n in notes)
    return f"<figure>{''.join(svg)}</svg><figcaption>{escape(caption)}</figcaption></figure>"


def _finite(value: Any) -> bool:
    """Present, and not a NaN nor an infinite float."""
    return value is not None and not (isinstance(value, float) and not math.isfinite(value))


def _numeric_x(pts: list[tuple[Any, float]], x: str, y: str, notes: list[str]) -> str:
    xv = [float(p[0]) for p in pts]
    lo, hi = min(xv), max(xv)
    log = lo > 0 and hi / lo >= 100 and len(set(xv)) >= 3
    if log:
        k0, k1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
        stride = math.ceil((k1 - k0 + 1) / 7)  # at most 7 powers of ten
        xt: list[float] = [10.0**k for k in range(k0, k1 + stride, stride)]
        x0, x1 = math.log10(lo) - 0.05 * (k1 - k0), math.log10(hi) + 0.05 * (k1 - k0)
        xt = [t for t in xt if x0 <= math.log10(t) <= x1]
    else:
        x0, x1, xt = _domain([lo, hi])
    y0, y1, yt = _domain([p[1] for p in pts])

    def sx(v: float) -> float:
        t = math.log10(v) if log else v
        return LEFT + (t - x0) / (x1 - x0) * (W - LEFT - RIGHT)

    sy = _y_scale(y0, y1)
    out = [_axes(x, y, [(sx(t), _fmt(t, xt)) for t in xt], [(sy(t), _fmt(t, yt)) for t in yt])]
    out.append(
        _points([(sx(a), sy(b)) for a, b in zip(xv, (p[1] for p in pts), strict=True)], notes)
    )
    groups: dict[float, list[float]] = {}
    for a, (_, b) in zip(xv, pts, strict=True):
        groups.setdefault(a, []).append(b)
    means = [(sx(a), sy(sum(v) / len(v))) for a, v in sorted(groups.items())]
    line = " ".join(f"{a:.1f},{b:.1f}" for a, b in means)
    out.append(f"<polyline class='mean' points='{line}'/>")
    if len(means) <= 40:  # markers on the mean line, unless they would merge into a band
        out.extend(f"<circle class='mean' cx='{a:.1f}' cy='{b:.1f}' r='3.5'/>" for a, b in means)
    if log:
        notes.append(f"{x} on a log scale")
    return "".join(out)


def _category_x(pts: list[tuple[Any, float]], x: str, y: str, notes: list[str]) -> str:
    labels: dict[str, list[float]] = {}
    for value, b in pts:
        labels.setdefault(str(summarise(value, 40)), []).append(b)
    names = list(labels)
    if len(names) > MAX_CATEGORIES:
        notes.append(f"first {MAX_CATEGORIES} of {len(names)} values of {x}")
        names = names[:MAX_CATEGORIES]
    y0, y1, yt = _domain([b for n in names for b in labels[n]])
    band, sy = (W - LEFT - RIGHT) / len(names), _y_scale(y0, y1)
    width = max(3, int(band / 6.5))
    xt = [(LEFT + band * (i + 0.5), _short(n, width)) for i, n in enumerate(names)]
    out = [_axes(x, y, xt, [(sy(t), _fmt(t, yt)) for t in yt])]
    dots, means = [], []
    for i, n in enumerate(names):
        centre, spread = LEFT + band * (i + 0.5), min(band * 0.35, 30)
        for j, b in enumerate(labels[n]):  # a deterministic jitter
            dots.append((centre + spread * (2 * ((j * 0.618034) % 1) - 1), sy(b)))
        mean = sy(sum(labels[n]) / len(labels[n]))
        half = min(band * 0.45, 36)
        means.append(f"<path class='mean' d='M{centre - half:.1f} {mean:.1f}h{2 * half:.1f}'/>")
    out.append(_points(dots, notes))
    out.extend(means)
    return "".join(out)


def _points(points: Sequence[tuple[float, float]], notes: list[str]) -> str:
    """Dots as one path of round-capped zero-length segments, merged per pixel, sampled."""
    unique = list(dict.fromkeys((round(a), round(b)) for a, b in points))
    if len(unique) > MAX_POINTS:
        notes.append(f"{MAX_POINTS:,} of {len(unique):,} distinct points drawn")
        step = len(unique) / MAX_POINTS
        unique = [unique[int(i * step)] for i in range(MAX_POINTS)]
    return f"<path class='pts' d='{''.join(f'M{a} {b}h0' for a, b in unique)}'/>"


def _axes(x: str, y: str, xt: list[tuple[float, str]], yt: list[tuple[float, str]]) -> str:
    bottom, right = H - BOTTOM, W - RIGHT
    out = [f"<path class='ax' d='M{LEFT} {TOP}V{bottom}H{right}'/>"]
    for px, label in xt:
        out.append(f"<path class='tk' d='M{px:.1f} {bottom}v5'/>")
        out.append(
            f"<text x='{px:.1f}' y='{bottom + 17}' text-anchor='middle'>{escape(label)}</text>"
        )
    for py, label in yt:
        out.append(f"<path class='grid' d='M{LEFT} {py:.1f}H{right}'/>")
        out.append(
            f"<text x='{LEFT - 6}' y='{py + 4:.1f}' text-anchor='end'>{escape(label)}</text>"
        )
    out.append(
        f"<text class='lb' x='{(LEFT + right) / 2}' y='{H - 10}' text-anchor='middle'>"
        f"{escape(_short(x, 60))}</text><text class='lb' transform='rotate(-90)' "
        f"x='{-(TOP + bottom) / 2}' y='14' text-anchor='middle'>{escape(_short(y, 32))}</text>"
    )
    return "".join(out)


def _y_scale(y0: float, y1: float) -> Callable[[float], float]:
    return lambda v: H - BOTTOM - (v - y0) / (y1 - y0) * (H - TOP - BOTTOM)


def _domain(values: list[float]) -> tuple[float, float, list[float]]:
    """The range of an axis (the values' range padded by 5%) and the round ticks inside it."""
    lo, hi = min(values), max(values)
    span = hi - lo
    pad = (span * 0.05 if math.isfinite(span) else 0.0) if span else (abs(lo) * 0.1 or 1.0)
    lo, hi = lo - pad, hi + pad
    return lo, hi, [t for t in _ticks(lo, hi) if lo <= t <= hi]


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values from below ``lo`` to above ``hi``."""
    if not 1e-300 < hi - lo < math.inf:  # beyond the range of floats
        return [lo, hi]
    raw = (hi - lo) / n
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude >= raw)
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [k * step for k in range(first, last + 1)]


def _fmt(value: float, ticks: list[float]) -> str:
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    biggest = max(abs(t) for t in ticks)
    if biggest >= 1e6 or step < 1e-4:
        text = f"{value:.3g}"
    else:
        decimals = max(0, -math.floor(math.log10(step) + 1e-9) + (1 if step % 1 else 0))
        text = f"{value:.{min(decimals, 6)}f}"
        text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("-0", "-0.0") else text


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 1)] + "\u2026"


CSS = """

body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#222;
margin:24px auto;max-width:1500px;padding:0 16px}
h1{font-size:22px;margin:0 0 12px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
code{font-family:ui-monospace,Menlo,Consolas,monospace}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}dt{color:#666}
dd{margin:0;font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
.note{color:#666;font-size:13px}footer{color:#888;font-size:12px;margin-top:24px}
.plots{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;border:1px solid #e3e3e3;border-radius:4px;padding:4px;width:480px}
figcaption{font-size:12px;color:#666;padding:0 6px}svg text{font-size:11px;fill:#333}
svg .t{font-size:13px;font-weight:600}svg .lb{font-size:12px}.ax,.tk{stroke:#444;fill:none}
.grid{stroke:#eee}
.pts{stroke:#4c78a8;stroke-width:6;stroke-linecap:round;stroke-opacity:.6;fill:none}
polyline.mean,path.mean{stroke:#e45756;stroke-width:2.2;fill:none}circle.mean{fill:#e45756}
.scroll{overflow:auto;max-height:80vh;border:1px solid #ddd}
table{border-collapse:collapse;font-size:13px}
th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;white-space:nowrap}
th{position:sticky;top:0;background:#f6f6f6;cursor:pointer;user-select:none;max-width:220px;
overflow:hidden;text-overflow:ellipsis;border-top:3px solid #bbb}
th.param,span.param{border-top-color:#4c78a8}th.field,span.field{border-top-color:#54a24b}
span.param{color:#4c78a8}span.field{color:#54a24b}
span.param,span.field{border-top:3px solid;padding:0 3px;font-weight:600}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}tbody tr:hover{background:#f3f7fc}
.s-failed{color:#b00;font-weight:600}.s-pending{color:#a60}.s-done{color:#262}
"""

SCRIPT = """
(function () {
  var table = document.getElementById("runs"); if (!table) return;
  var heads = table.tHead.rows[0].cells, body = table.tBodies[0], current = -1, down = false;
  function key(td, i) {  /* numbers first, then text, then empty cells; ties keep their order */
    var n = td.getAttribute("data-n"), t = td.textContent;
    return n !== null ? [0, parseFloat(n), i] : [t === "" ? 2 : 1, t, i];
  }
  function sort(col, desc) {
    var rows = [].map.call(body.rows, function (r, i) { return [r, key(r.cells[col], i)]; });
    rows.sort(function (a, b) {
      a = a[1]; b = b[1];
      if (a[0] !== b[0]) return a[0] - b[0];
      var r = a[0] === 0 ? a[1] - b[1] : a[1].localeCompare(b[1]);
      return (desc ? -r : r) || a[2] - b[2];
    });
    var frag = document.createDocumentFragment();
    rows.forEach(function (r) { frag.appendChild(r[0]); });
    body.appendChild(frag);
    for (var k = 0; k < heads.length; k++) heads[k].removeAttribute("aria-sort");
    heads[col].setAttribute("aria-sort", desc ? "descending" : "ascending");
    current = col; down = desc;
    var hash = "#sort=" + (desc ? "-" : "") + encodeURIComponent(heads[col].dataset.col);
    try { history.replaceState(null, "", hash); } catch (e) { /* some file: URLs refuse */ }
  }
  [].forEach.call(heads, function (th, col) {
    th.addEventListener("click", function () { sort(col, current === col && !down); });
  });
  var m = /^#sort=(-?)(.+)$/.exec(location.hash);  /* report.html#sort=-err opens sorted */
  for (var k = 0; m && k < heads.length; k++)
    if (heads[k].dataset.col === decodeURIComponent(m[2])) sort(k, m[1] === "-");
  table.setAttribute("data-ready", "1");
})();
"""
