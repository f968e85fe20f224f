/* runtable report: draws the summary, plots, parallel coordinates and the runs table from the
   JSON in #report-data. No library, no network: SVG strings and the DOM. */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("report-data").textContent);
  var root = document.getElementById("report");
  var cols = D.columns, byKey = {};
  cols.forEach(function (c) { byKey[c.key] = c; });
  var N = cols.length ? cols[0].values.length : 0;
  var OPEN_PLOTS = 6, PAGE = 200, MAX_LINES = 400, W = 360, H = 260, L = 62, R = 16, T = 28, B = 44;
  var PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b",
    "#9d755d", "#ff9da6", "#79706e"];
  var VIRIDIS = ["#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962",
    "#addc30", "#fde725"];
  var S = { rows: [], sort: null, desc: false, shown: PAGE, color: D.colorBy,
    metric: D.metric ? D.metric.key : null, dir: D.metric ? D.metric.dir : "min",
    brush: {}, brushPx: {}, pc: null, unknown: [] };

  function esc(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }
  function num(v) { return typeof v === "number" && isFinite(v) ? v : null; }
  function fmt(v) {
    if (typeof v !== "number") return v === null || v === undefined ? "" : String(v);
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3).replace(/\.?0+e/, "e");
    var t = v.toPrecision(4);
    return t.indexOf(".") >= 0 ? t.replace(/\.?0+$/, "") : t;
  }
  function dur(s) {
    if (typeof s !== "number") return "";
    if (s < 1) return (s * 1000).toPrecision(3).replace(/\.?0+$/, "") + " ms";
    if (s < 120) return s.toPrecision(3).replace(/\.?0+$/, "") + " s";
    if (s < 7200) return (s / 60).toFixed(1) + " min";
    return (s / 3600).toFixed(1) + " h";
  }
  function text(c, i) {
    var v = c.values[i];
    if (c.key === "@duration") return dur(v);
    if (c.best && v !== null) return fmt(v) + " \u00b7 best " + fmt(byKey[c.best].values[i]);
    return fmt(v);
  }
  function label(c) { return c ? c.label : ""; }

  /* ---- filtering ------------------------------------------------------------------------ */
  var rowText = null;
  function haystack(i) {
    if (!rowText) {
      rowText = [];
      for (var j = 0; j < N; j++)
        rowText.push(cols.map(function (c) { return text(c, j); }).join("\u0001").toLowerCase());
    }
    return rowText[i];
  }
  function column(name) {
    var lower = name.toLowerCase();
    return byKey[name] || cols.filter(function (c) { return c.label.toLowerCase() === lower; })[0];
  }
  function parse(query) {
    var tests = [];
    S.unknown = [];
    query.trim().split(/\s+/).forEach(function (term) {
      if (!term) return;
      var m = /^([^<>=!]+)(<=|>=|!=|=|<|>)(.*)$/.exec(term), c = m && column(m[1]);
      if (m && !c) S.unknown.push(m[1]);
      if (!c) {
        var t = term.toLowerCase();
        tests.push(function (i) { return haystack(i).indexOf(t) >= 0; });
        return;
      }
      var op = m[2], want = m[3], wn = parseFloat(want);
      tests.push(function (i) {
        var v = c.values[i], s = text(c, i).toLowerCase();
        if (op === "=" || op === "!=") {
          var eq = typeof v === "number" && want !== "" && !isNaN(+want) ? v === +want
            : s === want.toLowerCase() || String(v).toLowerCase() === want.toLowerCase();
          return op === "=" ? eq : !eq;
        }
        if (typeof v !== "number" || isNaN(wn)) return false;
        return op === "<" ? v < wn : op === ">" ? v > wn : op === "<=" ? v <= wn : v >= wn;
      });
    });
    return tests;
  }
  function applyFilter() {
    var tests = parse(document.getElementById("filter").value), rows = [];
    var brushes = Object.keys(S.brush);
    for (var i = 0; i < N; i++) {
      var ok = tests.every(function (t) { return t(i); });
      for (var b = 0; ok && b < brushes.length; b++) ok = S.brush[brushes[b]](i);
      if (ok) rows.push(i);
    }
    S.rows = rows;
    S.shown = PAGE;
    var note = rows.length + " of " + N + " runs match";
    if (S.unknown.length) note += " (no column named " + S.unknown.map(esc).join(", ") +
      ": searched as text)";
    if (brushes.length) note += "; brushed: " + brushes.map(function (k) { return esc(byKey[k].label); })
      .join(", ") + " (click the axis to clear)";
    document.getElementById("count").innerHTML = note;
  }

  /* ---- colours -------------------------------------------------------------------------- */
  function distinct(c, rows) {
    var seen = {}, out = [];
    (rows || c.values.map(function (_, i) { return i; })).forEach(function (i) {
      var v = c.values[i], k = typeof v + ":" + v;
      if (v !== null && !seen[k]) { seen[k] = 1; out.push(v); }
    });
    var nums = out.filter(function (v) { return typeof v === "number"; });
    nums.sort(function (a, b) { return a - b; });
    return nums.concat(out.filter(function (v) { return typeof v !== "number"; }));
  }
  function colouring(key) {
    var c = byKey[key === undefined ? S.color : key];
    if (!c) return { group: function () { return ""; }, colour: function () { return PALETTE[0]; },
      groups: [""], legend: "" };
    var values = distinct(c);
    if (c.type === "num" && values.length > PALETTE.length) {
      var nums = values.filter(function (v) { return num(v) !== null; });
      var lo = nums[0], hi = nums[nums.length - 1], log = lo > 0 && hi / lo >= 100;
      var f = function (v) { return log ? Math.log(v) : v; };
      var colour = function (i) {
        var v = num(c.values[i]);
        if (v === null) return "#999";
        var t = hi === lo ? 0.5 : (f(v) - f(lo)) / (f(hi) - f(lo));
        return VIRIDIS[Math.round(t * (VIRIDIS.length - 1))];
      };
      return { group: function () { return ""; }, colour: colour, groups: [""], continuous: true,
        legend: esc(c.label) + ": " + fmt(lo) + " <span class='ramp'></span> " + fmt(hi) };
    }
    var index = {};
    values.forEach(function (v, k) { index[typeof v + ":" + v] = k; });
    var key = function (i) { var v = c.values[i]; return typeof v + ":" + v; };
    var col = function (i) { var k = index[key(i)]; return k === undefined ? "#999"
      : PALETTE[k % PALETTE.length]; };
    return { group: key, colour: col, groups: values.map(function (v) { return typeof v + ":" + v; }),
      names: values, legend: esc(c.label) + ": " + values.map(function (v, k) {
        return "<span class='sw' style='background:" + PALETTE[k % PALETTE.length] + "'></span>" +
          esc(fmt(v)); }).join(" ") };
  }

  /* ---- scales and axes ------------------------------------------------------------------ */
  function ticks(lo, hi, n) {
    if (!(hi > lo)) return [lo];
    var raw = (hi - lo) / (n || 5), mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 2.5, 5, 10].map(function (m) { return m * mag; })
      .filter(function (s) { return s >= raw; })[0];
    var out = [];
    for (var k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++)
      out.push(+(k * step).toPrecision(12));
    return out;
  }
  function extent(values) {
    var lo = Infinity, hi = -Infinity;
    for (var k = 0; k < values.length; k++) { if (values[k] < lo) lo = values[k]; if (values[k] > hi) hi = values[k]; }
    return [lo, hi];
  }
  function scale(values, a, b, log) {
    var e = extent(values), lo = e[0], hi = e[1];
    if (log) {
      var l0 = Math.log10(lo), l1 = Math.log10(hi), p = (l1 - l0) * 0.05 || 0.5;
      var s = function (v) { return a + (Math.log10(v) - l0 + p) / (l1 - l0 + 2 * p) * (b - a); };
      var t = [];
      for (var k = Math.floor(l0); k <= Math.ceil(l1); k++) if (k >= l0 - p && k <= l1 + p)
        t.push(Math.pow(10, k));
      s.ticks = t.length ? t : [lo, hi];
      return s;
    }
    var pad = hi > lo ? (hi - lo) * 0.05 : Math.abs(lo) * 0.1 || 1;
    lo -= pad; hi += pad;
    var lin = function (v) { return a + (v - lo) / (hi - lo) * (b - a); };
    lin.ticks = ticks(lo, hi, 5).filter(function (v) { return v >= lo && v <= hi; });
    return lin;
  }
  function logScale(values) {
    var e = extent(values), lo = e[0], hi = e[1];
    if (!(lo > 0 && hi / lo >= 100)) return false;
    var n = {}, k = 0;
    for (var j = 0; j < values.length && k < 3; j++) if (!n[values[j]]) { n[values[j]] = 1; k++; }
    return k >= 3;
  }
  function frame(title, xl, yl, xt, yt) {
    var out = ["<svg xmlns='http://www.w3.org/2000/svg' width='" + W + "' height='" + H +
      "' viewBox='0 0 " + W + " " + H + "' role='img'><title>" + esc(title) + "</title>",
      "<text class='t' x='" + W / 2 + "' y='16' text-anchor='middle'>" + esc(short(title, 60)) +
      "</text><path class='ax' d='M" + L + " " + T + "V" + (H - B) + "H" + (W - R) + "'/>"];
    xt.forEach(function (t) {
      out.push("<path class='tk' d='M" + t[0].toFixed(1) + " " + (H - B) + "v4'/><text x='" +
        t[0].toFixed(1) + "' y='" + (H - B + 16) + "' text-anchor='middle'>" + esc(t[1]) + "</text>");
    });
    yt.forEach(function (t) {
      out.push("<path class='grid' d='M" + L + " " + t[0].toFixed(1) + "H" + (W - R) + "'/><text x='" +
        (L - 5) + "' y='" + (t[0] + 4).toFixed(1) + "' text-anchor='end'>" + esc(t[1]) + "</text>");
    });
    out.push("<text class='lb' x='" + (L + W - R) / 2 + "' y='" + (H - 8) +
      "' text-anchor='middle'>" + esc(short(xl, 60)) + "</text><text class='lb' transform='rotate(-90)' x='" +
      -(T + H - B) / 2 + "' y='13' text-anchor='middle'>" + esc(short(yl, 36)) + "</text>");
    return out.join("");
  }
  function short(s, n) { s = String(s); return s.length <= n ? s : s.slice(0, n - 1) + "\u2026"; }
  function stats(vs) {
    var m = vs.reduce(function (a, b) { return a + b; }, 0) / vs.length, s = 0;
    if (vs.length > 1) s = Math.sqrt(vs.reduce(function (a, v) { return a + (v - m) * (v - m); }, 0)
      / (vs.length - 1));
    return [m, s];
  }
  function meanBand(byGroup, col, sx, sy) {  /* byGroup: g -> x -> [y]; draws band then line */
    var out = [];
    Object.keys(byGroup).forEach(function (g) {
      var xs = Object.keys(byGroup[g]).map(Number).sort(function (a, b) { return a - b; });
      var pts = xs.map(function (x) { var st = stats(byGroup[g][x]); return [x, st[0], st[1]]; });
      var c = col[g] || "#333";
      if (pts.some(function (p) { return p[2] > 0; })) {
        var up = pts.map(function (p) { return sx(p[0]).toFixed(1) + "," + sy(p[1] + p[2]).toFixed(1); });
        var dn = pts.slice().reverse().map(function (p) {
          return sx(p[0]).toFixed(1) + "," + sy(p[1] - p[2]).toFixed(1); });
        out.push("<polygon class='band' fill='" + c + "' points='" + up.concat(dn).join(" ") + "'/>");
      }
      out.push("<polyline class='mean' stroke='" + c + "' points='" + pts.map(function (p) {
        return sx(p[0]).toFixed(1) + "," + sy(p[1]).toFixed(1); }).join(" ") + "'/>");
    });
    return out.join("");
  }
  function pooled(rows, except) {  /* the varying axes a plot does not show, with value counts */
    return D.axes.filter(function (k) { return except.indexOf(k) < 0; }).map(function (k) {
      return [byKey[k], distinct(byKey[k], rows).length];
    }).filter(function (p) { return p[1] > 1; });
  }
  function caption(rows, except, extra) {
    var parts = [extra];
    var reps = D.replicates.filter(function (k) {
      return except.indexOf(k) < 0 && distinct(byKey[k], rows).length > 1; });
    if (reps.length) parts.push("mean \u00b1 1 sd over " + reps.map(function (k) {
      return esc(byKey[k].label); }).join(", "));
    else parts.push("mean \u00b1 1 sd of the runs");
    var pool = pooled(rows, except);
    if (pool.length) parts.push("<b class='warn'>pools over " + pool.map(function (p) {
      return esc(p[0].label) + " (" + p[1] + " values)"; }).join(", ") +
      "</b>: colour by it or filter, e.g. <code>" + esc(pool[0][0].label) + "=" +
      esc(fmt(distinct(pool[0][0], rows)[0])) + "</code>");
    return parts.filter(Boolean).join("; ");
  }

  /* ---- plots ---------------------------------------------------------------------------- */
  function scatter(p, rows, cl) {
    var yc = byKey[p.y], xc = byKey[p.x], numeric = xc.type === "num", cats = [], where = {};
    var by = S.color;
    if (p.x === S.color) {  /* colour by the x axis says nothing: by the next varying param */
      by = D.axes.filter(function (k) { return k !== p.x && distinct(byKey[k], rows).length > 1; })
        .sort(function (a, b) { return distinct(byKey[a]).length - distinct(byKey[b]).length; })[0] || null;
      cl = colouring(by);
    }
    if (!numeric) distinct(xc).forEach(function (v, k) { cats.push(v); where[typeof v + ":" + v] = k; });
    var pts = [];
    rows.forEach(function (i) {
      var y = num(yc.values[i]), v = xc.values[i];
      var x = numeric ? num(v) : v === null ? null : where[typeof v + ":" + v];
      if (y !== null && x !== null && x !== undefined) pts.push([x, y, i]);
    });
    var title = yc.label + " vs " + xc.label;
    if (!pts.length) return figure(p, frame(title, xc.label, yc.label, [], []) +
      "<text x='" + W / 2 + "' y='" + H / 2 + "' text-anchor='middle'>no finite values</text></svg>",
      "no run has both values");
    var xv = pts.map(function (q) { return q[0]; }), log = numeric && logScale(xv);
    var sx = numeric ? scale(xv, L, W - R, log)
      : function (k) { return L + (k + 0.5) * (W - L - R) / cats.length; };
    var sy = scale(pts.map(function (q) { return q[1]; }), H - B, T, false);
    var xt = numeric ? sx.ticks.map(function (t) { return [sx(t), fmt(t)]; })
      : cats.slice(0, 30).map(function (v, k) { return [sx(k), short(fmt(v), Math.max(3, 60 / cats.length | 0))]; });
    var body = [frame(title, xc.label, yc.label, xt, sy.ticks.map(function (t) { return [sy(t), fmt(t)]; }))];
    var paths = {}, groups = {}, col = {}, band = (W - L - R) / Math.max(cats.length, 1);
    var hover = [];
    pts.forEach(function (q, j) {
      var c = cl.colour(q[2]), g = cl.group(q[2]);
      var px = sx(q[0]) + (numeric ? 0 : Math.min(band * 0.3, 24) * (2 * ((j * 0.618034) % 1) - 1));
      (paths[c] = paths[c] || []).push("M" + px.toFixed(1) + " " + sy(q[1]).toFixed(1) + "h0");
      hover.push([px, sy(q[1]), q[2], fmt(q[1]), numeric ? fmt(q[0]) : fmt(cats[q[0]])]);
      if (!cl.continuous) { col[g] = c; ((groups[g] = groups[g] || {})[q[0]] = groups[g][q[0]] || []).push(q[1]); }
    });
    Object.keys(paths).forEach(function (c) {
      body.push("<path class='pts' stroke='" + c + "' d='" + paths[c].join("") + "'/>");
    });
    if (cl.continuous) {  /* one grey mean over all runs */
      groups = { all: {} }; col = { all: "#333" };
      pts.forEach(function (q) { (groups.all[q[0]] = groups.all[q[0]] || []).push(q[1]); });
    }
    body.push(meanBand(groups, col, sx, sy), "</svg>");
    var skipped = rows.length - pts.length;
    var notes = [by !== S.color && by ? "coloured by " + cl.legend : "",
      log ? esc(xc.label) + " on a log scale" : "",
      skipped ? skipped + " runs without a finite value" : "",
      cats.length > 30 ? "first 30 of " + cats.length + " values labelled" : ""];
    return figure(p, body.join(""), caption(rows, [p.x, by], notes.filter(Boolean).join("; ")),
      hover, [yc.label, xc.label, by]);
  }
  function curve(p, rows, cl) {
    var C = D.curves[p.y], yc = byKey[p.y], at = {};
    C.rows.forEach(function (r, k) { at[r] = k; });
    var use = rows.filter(function (i) { return at[i] !== undefined; });
    var title = (yc ? yc.label : p.y) + " per step";
    if (!use.length) return figure(p, frame(title, "step", "", [], []) + "<text x='" + W / 2 +
      "' y='" + H / 2 + "' text-anchor='middle'>no run in the filter logged it</text></svg>", "");
    var xs = [], ys = [];
    use.forEach(function (i) { var k = at[i], sx = C.steps[C.x[k]];
      for (var j = 0; j < sx.length; j++) { xs.push(sx[j]); ys.push(C.y[k][j]); } });
    var ylog = logScale(ys), sx = scale(xs, L, W - R, false), sy = scale(ys, H - B, T, ylog);
    var body = [frame(title, "step", (yc ? yc.label : p.y) + (ylog ? " (log)" : ""),
      sx.ticks.map(function (t) { return [sx(t), fmt(t)]; }),
      sy.ticks.map(function (t) { return [sy(t), fmt(t)]; }))];
    var paths = {}, groups = {}, col = {}, every = Math.max(1, use.length / MAX_LINES), next = 0;
    var hover = [];
    use.forEach(function (i, n) {
      var k = at[i], c = cl.colour(i), g = cl.continuous ? "all" : cl.group(i);
      col[g] = cl.continuous ? "#333" : c;
      var steps = C.steps[C.x[k]];
      if (n >= next) {  /* beyond MAX_LINES runs, an even sample is drawn; means take all */
        next += every;
        var d = steps.map(function (x, j) {
          var px = sx(x), py = sy(C.y[k][j]);
          hover.push([px, py, i, fmt(C.y[k][j]), fmt(x)]);
          return (j ? "L" : "M") + px.toFixed(1) + " " + py.toFixed(1); });
        (paths[c] = paths[c] || []).push(d.join(""));
      }
      var gr = groups[g] = groups[g] || {};
      steps.forEach(function (x, j) { (gr[x] = gr[x] || []).push(C.y[k][j]); });
    });
    var op = use.length > 200 ? 0.12 : use.length > 40 ? 0.25 : 0.45;
    Object.keys(paths).forEach(function (c) {
      body.push("<path class='run' stroke='" + c + "' stroke-opacity='" + op + "' d='" + paths[c].join("") + "'/>");
    });
    if (ylog) {  /* mean and band of the log values, drawn back on the log axis */
      Object.keys(groups).forEach(function (g) { Object.keys(groups[g]).forEach(function (x) {
        groups[g][x] = groups[g][x].map(Math.log10); }); });
      var sl = function (v) { return sy(Math.pow(10, v)); };
      body.push(meanBand(groups, col, sx, sl));
    } else body.push(meanBand(groups, col, sx, sy));
    body.push("</svg>");
    var drawn = use.length > MAX_LINES ? Math.ceil(use.length / every - 1e-9) + " of " : "";
    return figure(p, body.join(""), caption(rows, [S.color], "thin lines: " + drawn + use.length + " runs" +
      (ylog ? "; log scale, geometric mean" : "")), hover, [yc ? yc.label : p.y, "step", S.color]);
  }
  var HOVER = [];  /* per drawn figure: [x px, y px, row, y text, x text] and the labels */
  function figure(p, svg, cap, hover, names) {
    var n = HOVER.push({ pts: hover || [], names: names || [] }) - 1;
    return "<figure data-kind='" + p.kind + "' data-y='" + esc(p.y) + "' data-x='" + esc(p.x || "step") +
      "' data-fig='" + n + "'>" + svg + "<figcaption>" + cap + "</figcaption></figure>";
  }
  function tooltip(e) {  /* the run nearest the pointer, within 10 px, named in a tooltip */
    var tip = document.getElementById("tip"), f = e.target.closest && e.target.closest("figure[data-fig]");
    var h = f && HOVER[+f.getAttribute("data-fig")], best = null, dist = 100;
    if (h) {
      var r = f.querySelector("svg").getBoundingClientRect(), x = e.clientX - r.left, y = e.clientY - r.top;
      h.pts.forEach(function (q) { var d = (q[0] - x) * (q[0] - x) + (q[1] - y) * (q[1] - y); if (d < dist) { dist = d; best = q; } });
    }
    if (!best) { tip.style.display = "none"; return; }
    var c = byKey[h.names[2]], lines = ["run " + byKey.id_run.values[best[2]],
      esc(h.names[0]) + " = " + esc(best[3]), esc(h.names[1]) + " = " + esc(best[4])];
    if (c) lines.push(esc(c.label) + " = " + esc(fmt(c.values[best[2]])));
    tip.innerHTML = lines.join("<br>");
    tip.style.display = "block";
    tip.style.left = (e.clientX + 12) + "px";
    tip.style.top = (e.clientY + 12) + "px";
  }
  function drawPlots() {
    var cl = colouring(), out = [], more = document.getElementById("more-plots");
    HOVER = [];
    document.getElementById("legend").innerHTML = cl.legend;
    D.plots.forEach(function (p, k) {
      if (k >= OPEN_PLOTS && !(more && more.open)) return;
      out.push(p.kind === "curve" ? curve(p, S.rows, cl) : scatter(p, S.rows, cl));
    });
    document.getElementById("plots").innerHTML = out.slice(0, OPEN_PLOTS).join("") ||
      "<p class='note'>" + (N ? "Nothing to plot: no numeric field varies with a param, and no run logged a series." : "No runs: nothing to plot.") + "</p>";
    if (more) document.getElementById("more-body").innerHTML = out.slice(OPEN_PLOTS).join("");
  }

  /* ---- parallel coordinates --------------------------------------------------------------- */
  function parcoords() {
    var box = document.getElementById("parcoords"), m = byKey[S.metric];
    var dims = D.axes.map(function (k) { return byKey[k]; }).concat(m ? [m] : []);
    if (dims.length < 2) { box.innerHTML = "<p class='note'>Needs at least one varying param and a metric.</p>"; return; }
    var PW = Math.max(560, Math.min(1400, 170 * dims.length)), PH = 300, top = 34, bot = 20;
    var x = function (k) { return 60 + k * (PW - 120) / (dims.length - 1); };
    var scales = dims.map(function (c) {
      var vs = distinct(c).filter(function (v) { return c.type !== "num" || num(v) !== null; });
      if (c.type === "num") {
        var s = scale(vs.length ? vs : [0], PH - bot, top, vs.length && logScale(vs));
        return { f: function (v) { return num(v) === null ? null : s(v); }, ticks: s.ticks.map(function (t) { return [s(t), fmt(t)]; }) };
      }
      var pos = {};
      vs.forEach(function (v, k) { pos[typeof v + ":" + v] = PH - bot - (k + 0.5) * (PH - top - bot) / vs.length; });
      return { f: function (v) { var q = pos[typeof v + ":" + v]; return q === undefined ? null : q; },
        ticks: vs.slice(0, 25).map(function (v) { return [pos[typeof v + ":" + v], short(fmt(v), 14)]; }) };
    });
    var mv = S.rows.map(function (i) { return m ? num(m.values[i]) : null; }).filter(function (v) { return v !== null; });
    var me = extent(mv), lo = me[0], hi = me[1], paths = {};
    S.rows.forEach(function (i) {
      var ys = dims.map(function (c, k) { return scales[k].f(c.values[i]); });
      if (ys.some(function (y) { return y === null; })) return;
      var v = m ? num(m.values[i]) : null, t = v === null ? 0.5 : hi > lo ? (v - lo) / (hi - lo) : 1;
      if (S.dir === "min") t = 1 - t;
      var c = VIRIDIS[Math.round(t * (VIRIDIS.length - 1))];
      (paths[c] = paths[c] || []).push(ys.map(function (y, k) { return (k ? "L" : "M") + x(k).toFixed(1) + " " + y.toFixed(1); }).join(""));
    });
    var out = ["<svg xmlns='http://www.w3.org/2000/svg' width='" + PW + "' height='" + PH + "' role='img'><title>parallel coordinates</title>"];
    VIRIDIS.forEach(function (c) { if (paths[c]) out.push("<path class='pc' stroke='" + c + "' d='" + paths[c].join("") + "'/>"); });
    dims.forEach(function (c, k) {
      out.push("<g class='pcax' data-key='" + esc(c.key) + "'><path class='ax' d='M" + x(k) + " " + top + "V" + (PH - bot) + "'/>" +
        "<text class='lb' x='" + x(k) + "' y='14' text-anchor='middle'>" + esc(short(c.label, 22)) + (c === m ? (S.dir === "min" ? " \u2193" : " \u2191") : "") + "</text>");
      scales[k].ticks.forEach(function (t) { out.push("<text x='" + (x(k) + 5) + "' y='" + (t[0] + 4).toFixed(1) + "'>" + esc(t[1]) + "</text>"); });
      var b = S.brushPx[c.key];
      out.push("<rect class='brush' x='" + (x(k) - 7) + "' y='" + (b ? b[0] : 0) + "' width='14' height='" +
        (b ? b[1] - b[0] : 0) + "'/><rect class='hit' data-k='" + k + "' x='" + (x(k) - 14) + "' y='" + (top - 4) +
        "' width='28' height='" + (PH - top - bot + 8) + "'/></g>");
    });
    out.push("</svg>");
    box.innerHTML = out.join("");
    S.pc = { dims: dims, scales: scales };
  }
  function brushing() {  /* drag along an axis to keep the runs inside; click it to clear */
    var box = document.getElementById("parcoords"), drag = null;
    function y(e) { return e.clientY - box.querySelector("svg").getBoundingClientRect().top; }
    box.addEventListener("mousedown", function (e) {
      if (!e.target.classList.contains("hit")) return;
      var k = +e.target.getAttribute("data-k");
      drag = { k: k, y0: y(e), rect: e.target.previousSibling };
      e.preventDefault();
    });
    window.addEventListener("mousemove", function (e) {
      if (!drag) return;
      var a = Math.min(drag.y0, y(e)), b = Math.max(drag.y0, y(e));
      drag.rect.setAttribute("y", a); drag.rect.setAttribute("height", b - a);
    });
    window.addEventListener("mouseup", function (e) {
      if (!drag) return;
      var c = S.pc.dims[drag.k], f = S.pc.scales[drag.k].f;
      var a = Math.min(drag.y0, y(e)), b = Math.max(drag.y0, y(e));
      drag = null;
      if (b - a < 3) { delete S.brush[c.key]; delete S.brushPx[c.key]; }
      else {
        S.brushPx[c.key] = [a, b];
        S.brush[c.key] = function (i) { var q = f(c.values[i]); return q !== null && q >= a && q <= b; };
      }
      all();
    });
  }

  /* ---- summary ---------------------------------------------------------------------------- */
  function summary() {
    var st = byKey["@status"], du = byKey["@duration"], counts = {}, ds = [];
    S.rows.forEach(function (i) { counts[st.values[i]] = (counts[st.values[i]] || 0) + 1;
      if (num(du.values[i]) !== null) ds.push(du.values[i]); });
    ds.sort(function (a, b) { return a - b; });
    var html = ["<div class='cards'><div class='card'><b>" + S.rows.length + "</b> runs" +
      (S.rows.length < N ? " (of " + N + ")" : "") + "<br>" + Object.keys(counts).map(function (s) {
        return counts[s] + " <span class='s-" + esc(s) + "'>" + esc(s) + "</span>"; }).join(", ") + "</div>"];
    if (ds.length) html.push("<div class='card'><b>" + dur(ds.reduce(function (a, b) { return a + b; }, 0)) +
      "</b> of run time<br>median " + dur(ds[ds.length >> 1]) + ", min " + dur(ds[0]) + ", max " + dur(ds[ds.length - 1]) + "</div>");
    html.push("</div>");
    var m = byKey[S.metric];
    if (m) {
      var best = S.rows.filter(function (i) { return num(m.values[i]) !== null; });
      best.sort(function (a, b) { return S.dir === "min" ? m.values[a] - m.values[b] : m.values[b] - m.values[a]; });
      var show = [byKey.id_run, m].concat(D.axes.map(function (k) { return byKey[k]; }));
      html.push("<h3>Best runs by " + esc(m.label) + " (" + (S.dir === "min" ? "lowest" : "highest") + ")</h3>" +
        "<table class='best'><thead><tr>" + show.map(function (c) { return "<th>" + esc(c.label) + "</th>"; }).join("") +
        "</tr></thead><tbody>" + best.slice(0, 5).map(function (i) { return "<tr>" + show.map(function (c) {
          return "<td>" + esc(text(c, i)) + "</td>"; }).join("") + "</tr>"; }).join("") + "</tbody></table>");
    }
    html.push("<details class='info'><summary>Experiment</summary><dl>" + D.info.map(function (r) {
      return "<dt>" + esc(r[0]) + "</dt><dd>" + esc(r[1]) + "</dd>"; }).join("") + "</dl></details>");
    document.getElementById("summary").innerHTML = html.join("");
  }

  /* ---- table ------------------------------------------------------------------------------ */
  function order() {
    if (S.sort === null) return S.rows;
    var c = byKey[S.sort], d = S.desc ? -1 : 1;
    function k(i) {
      var v = c.values[i];
      if (c.type === "id") return [0, BigInt(v)];  /* 63-bit ids, exactly */
      return v === null ? [2, ""] : typeof v === "number" && isFinite(v) ? [0, v] : [1, String(v)];
    }
    return S.rows.map(function (i) { return [i, k(i)]; }).sort(function (a, b) {
      if (a[1][0] !== b[1][0]) return a[1][0] - b[1][0];
      if (a[1][0] === 2) return a[0] - b[0];
      var x = a[1][1], y = b[1][1];
      var r = a[1][0] === 0 ? (x < y ? -1 : x > y ? 1 : 0) : x.localeCompare(y);
      return d * r || a[0] - b[0];
    }).map(function (p) { return p[0]; });
  }
  function table() {
    var shown = cols.filter(function (c) { return !c.hidden; }), rows = order();
    var head = shown.map(function (c) {
      var s = S.sort === c.key ? " aria-sort='" + (S.desc ? "descending" : "ascending") + "'" : "";
      return "<th class='" + c.kind + (c.type === "num" || c.type === "id" ? " num" : "") + "' data-col='" + esc(c.key) +
        "' title='" + c.kind + " " + esc(c.key) + "'" + s + ">" + esc(c.label) + "</th>";
    }).join("");
    var body = rows.slice(0, S.shown).map(function (i) {
      return "<tr>" + shown.map(function (c) {
        var v = c.values[i], t = text(c, i), cls = c.type === "num" || c.type === "id" ? "num" : "";
        if (c.key === "@status") t = "<span class='s-" + esc(v) + "'>" + esc(v) + "</span>";
        else t = esc(t);
        var title = c.title && c.title[i] ? " title='" + esc(c.title[i]) + "'" : "";
        return "<td class='" + cls + "'" + title + ">" + t + "</td>";
      }).join("") + "</tr>";
    }).join("");
    var t = document.getElementById("runs");
    t.innerHTML = "<thead><tr>" + head + "</tr></thead><tbody>" + body + "</tbody>";
    var more = rows.length - S.shown;
    document.getElementById("more-rows").innerHTML = more > 0 ? "<button id='show-more'>show " +
      Math.min(more, 500) + " more rows (" + more + " not shown)</button>" : "";
    t.setAttribute("data-ready", "1");
  }
  function picker() {
    document.getElementById("picker-body").innerHTML = cols.map(function (c, k) {
      return "<label class='" + c.kind + "'><input type='checkbox' data-k='" + k + "'" + (c.hidden ? "" : " checked") +
        (c.key === "id_run" ? " disabled" : "") + "> " + esc(c.label) + "</label>";
    }).join("");
    pickerCount();
  }
  function pickerCount() {
    document.getElementById("picker-count").textContent = cols.filter(function (c) { return !c.hidden; }).length + " of " + cols.length;
  }

  /* ---- page ------------------------------------------------------------------------------- */
  function options(list, sel, none) {
    return (none ? "<option value=''>" + none + "</option>" : "") + list.map(function (c) {
      return "<option value='" + esc(c.key) + "'" + (c.key === sel ? " selected" : "") + ">" + esc(c.label) + "</option>"; }).join("");
  }
  var colourable = cols.filter(function (c) { return c.kind === "param" && c.type !== "text"; });
  var metrics = cols.filter(function (c) { return c.kind === "field" && c.type === "num"; });
  root.innerHTML =
    "<div class='controls'><input id='filter' type='search' placeholder='filter: text, or lr=0.1 loss<0.5 status=failed' size='44'>" +
    " <label>colour by <select id='color'>" + options(colourable, S.color, "(none)") + "</select></label>" +
    " <label>metric <select id='metric'>" + options(metrics, S.metric, metrics.length ? "" : "(none)") + "</select></label>" +
    " <select id='dir'><option value='min'>lower is better</option><option value='max'>higher is better</option></select>" +
    " <span id='count' class='note'></span><div id='legend' class='legend'></div></div>" +
    "<h2>Summary</h2><div id='summary'></div>" +
    "<h2>Plots</h2><div id='plots' class='plots'></div>" +
    (D.plots.length > OPEN_PLOTS ? "<details id='more-plots'><summary>" + (D.plots.length - OPEN_PLOTS) +
      " more plots</summary><div id='more-body' class='plots'></div></details>" : "") +
    "<h2>Parallel coordinates</h2><p class='note'>One line per run across the varying params, coloured by the metric (yellow: best). Drag along an axis to keep the runs inside the range; click the axis to clear.</p><div id='parcoords' class='scroll-x'></div>" +
    "<h2>Runs</h2><details id='picker'><summary>Columns (<span id='picker-count'></span>)</summary><div id='picker-body'></div></details>" +
    "<p class='note'>Click a header to sort, again to reverse. Header colours: <span class='param'>params</span>, <span class='field'>fields</span>.</p>" +
    "<div class='scroll'><table id='runs'></table></div><div id='more-rows'></div><div id='tip'></div>";
  document.getElementById("dir").value = S.dir;

  function all() { applyFilter(); summary(); drawPlots(); parcoords(); table(); }
  var timer = null;
  document.getElementById("filter").addEventListener("input", function () {
    clearTimeout(timer); timer = setTimeout(all, 120); });
  document.getElementById("color").addEventListener("change", function (e) { S.color = e.target.value || null; drawPlots(); });
  document.getElementById("metric").addEventListener("change", function (e) {
    S.metric = e.target.value || null; S.brush = {}; S.brushPx = {}; all(); });
  document.getElementById("dir").addEventListener("change", function (e) { S.dir = e.target.value; summary(); parcoords(); });
  var more = document.getElementById("more-plots");
  if (more) more.addEventListener("toggle", drawPlots);
  document.addEventListener("mousemove", tooltip);
  document.getElementById("runs").addEventListener("click", function (e) {
    var th = e.target.closest("th");
    if (!th) return;
    var key = th.getAttribute("data-col");
    S.desc = S.sort === key ? !S.desc : false;
    S.sort = key;
    table();
    try { history.replaceState(null, "", "#sort=" + (S.desc ? "-" : "") + encodeURIComponent(key)); } catch (err) { /* file: URLs may refuse */ }
  });
  document.getElementById("more-rows").addEventListener("click", function (e) {
    if (e.target.id === "show-more") { S.shown += 500; table(); } });
  document.getElementById("picker-body").addEventListener("change", function (e) {
    var c = cols[+e.target.getAttribute("data-k")];
    if (c) { c.hidden = !e.target.checked; pickerCount(); table(); } });

  var h = /^#sort=(-?)(.+)$/.exec(location.hash);  /* report.html#sort=-loss opens sorted */
  if (h) { var sc = column(decodeURIComponent(h[2])); if (sc) { S.sort = sc.key; S.desc = h[1] === "-"; } }
  picker();
  brushing();
  all();
  document.body.setAttribute("data-ready", "1");
})();
