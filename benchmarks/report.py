"""The markdown report of a benchmark run: its environment, the table of issue 11's targets, then
the detailed tables (same-process ratios, memory, 1M runs, import). Reads the cases of
``run.py``; measures nothing itself."""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import subprocess
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import venvs

if TYPE_CHECKING:
    import argparse

    from run import Case

REPO = Path(__file__).resolve().parent.parent
LOCAL_PACKAGES = ("runtable", "numpy", "pandas", "sqlalchemy", "joblib")

# -- environment ------------------------------------------------------------------------------


def _first(path: str, key: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":" if ":" in line else "=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "?"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def environment(
    args: argparse.Namespace, command: str, elapsed: float, sizes: dict[str, int]
) -> dict[str, Any]:
    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=REPO, capture_output=True, text=True)
        return done.stdout.strip() or "?"

    mem_kb = _first("/proc/meminfo", "MemTotal").split()[0]
    versions = {p: _version(p) for p in LOCAL_PACKAGES}
    for tool in venvs.PEERS:
        if tool in args.tools:
            versions[tool] = venvs.version_of(tool, tool)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _first("/proc/cpuinfo", "model name"),
        "cores": os.cpu_count(),
        "ram_gb": round(int(mem_kb) / 2**20, 1) if mem_kb.isdigit() else "?",
        "os": f"{_first('/etc/os-release', 'PRETTY_NAME')} ({platform.platform()})",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "versions": versions,
        "commit": git("describe", "--always", "--dirty"),
        "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
        "command": command,
        "quick": args.quick,
        "pairs": args.pairs,
        "reps": args.reps,
        "elapsed_min": round(elapsed / 60, 1),
        "sizes": sizes,
    }


# -- formatting -------------------------------------------------------------------------------


def fs(x: float | None) -> str:
    """Seconds (or any quantity) with 3 significant digits."""
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def fx(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f}x" if x >= 100 else f"{x:.2f}x"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def ok(case: Case | None) -> list[dict[str, Any]]:
    return [r for r in case.results if r["status"] == "ok"] if case else []


def failure(case: Case | None) -> str:
    """Why a case has no value, as a short table cell."""
    if case is None:
        return "not run"
    for result in case.results:
        if result["status"] != "ok":
            text = result.get("reason") or result.get("error") or ""
            return f"{result['status']}: {text}".replace("|", "/")[:160]
    return "not run"


def med(results: list[dict[str, Any]], key: str) -> float | None:
    found = [r[key] for r in results if r.get(key) is not None]
    return statistics.median(found) if found else None


# -- the report -------------------------------------------------------------------------------

#: (workload, row of the issue's table, target, the limit, what is compared)
PAIR_TARGETS = [
    ("W2-with", "W2 {n} runs, `with exp.run()` idiom", 2.0),
    ("W2-grid", "W2 {n} runs, grid + step idiom", 1.5),
    ("W3", "W3 {n} values of one metric", 1.3),
    ("W4-write", "W4 write 10 x {n} MB", 1.2),
    ("W4-read", "W4 read 10 x {n} MB", 1.1),
    ("W5", "W5 load {n} runs to DataFrame", 1.2),
    ("persist", "`execute(persist=True)` vs `execute()` + `persist()`, {n} runs", 1.3),
    ("jobs2", "n_jobs=2, {n} trivial runs, vs plain joblib (warm)", 3.0),
    ("wide30k", "{n} runs x 100 fields to DataFrame: time", 1.2),
]
REFERENCE = {
    "persist": "`execute()` + `persist()`",
    "jobs1": "plain loop",
    "jobs2": "plain joblib n_jobs=2",
}


class Report:
    def __init__(self, meta: dict[str, Any], cases: list[Case]) -> None:
        self.meta, self.cases = meta, cases
        self.sizes: dict[str, int] = meta["sizes"]

    def find(self, workload: str, tool: str, kind: str) -> Case | None:
        for case in self.cases:
            if (case.workload, case.tool, case.kind) == (workload, tool, kind):
                return case
        return None

    def n(self, workload: str) -> str:
        return f"{self.sizes[workload]:,}"

    # -- targets ----------------------------------------------------------------------------

    def targets(self) -> str:
        rows: list[list[str]] = []

        def row(
            name: str,
            target: str,
            value: float | None,
            limit: float,
            shown: str,
            floor: str = "",
        ) -> None:
            met = "not measured" if value is None else "yes" if value <= limit else "**no**"
            rows.append([name, target, shown, floor, met])

        for workload, name, limit in PAIR_TARGETS:
            results = ok(self.find(workload, "runtable", "pairs"))
            ratio = results[0]["ratio"] if results else None
            against = REFERENCE.get(workload, "sqlite3")
            shown = (
                fx(ratio)
                if ratio is not None
                else failure(self.find(workload, "runtable", "pairs"))
            )
            if workload == "jobs2" and results:
                tool_us, ref_us = self.per_run_us(results[0], workload)
                shown += f" ({tool_us:.1f} vs {ref_us:.1f} µs/run)"
            floor = ok(self.find(workload, "floor", "pairs"))
            row(
                name.format(n=self.n(workload)),
                f"≤ {limit:.1f}x {against}",
                ratio,
                limit,
                shown,
                fx(floor[0]["ratio"]) if floor else "",
            )
            if workload == "W4-write":
                delta, data = self.w4_memory("runtable")
                x = delta / data if delta is not None and data else None
                shown = f"{fs(delta)} MB = {fx(x)} data" if x is not None else "-"
                row("W4 write: peak memory", "≤ 1.3x data", x, 1.3, shown)
        x, rt, raw = self.mem_ratio("mem100k", "growth_mb")
        per = self.sizes["mem100k"] / 2**20  # MB per run -> bytes per run
        shown = "-" if x is None else f"{fx(x)} ({rt / per:.0f} vs {raw / per:.0f} B/run)"
        row(f"memory per run at {self.n('mem100k')} runs", "≤ 2.0x raw", x, 2.0, shown)
        x, rt, raw = self.mem_ratio("wide30k", "peak_delta_mb")
        shown = "-" if x is None else f"{fx(x)} ({fs(rt)} vs {fs(raw)} MB)"
        name = f"{self.n('wide30k')} runs x 100 fields to DataFrame: peak memory"
        row(name, "≤ 0.6x raw", x, 0.6, shown)
        million = ok(self.find("1M", "runtable", "mem"))
        seconds = med(million, "seconds")
        peak = med(million, "peak_mb")
        name = f"{self.n('1M')} runs x 8 fields: grid, trivial step, persist, load to DataFrame"
        row(
            name + ": time", "≤ 15 s", seconds, 15.0, "-" if seconds is None else f"{fs(seconds)} s"
        )
        shown = "-" if peak is None else f"{peak / 1024:.2f} GB"
        row(name + ": peak RSS", "≤ 1.5 GB", None if peak is None else peak / 1024, 1.5, shown)
        return table(["workload", "target", "measured", "floor", "met?"], rows)

    def mem_ratio(self, workload: str, key: str) -> tuple[float | None, float, float]:
        """runtable's median ``key`` over the raw baseline's (None when either is missing)."""
        rt = med(ok(self.find(workload, "runtable", "mem")), key)
        raw = med(ok(self.find(workload, "sqlite", "mem")), key)
        if rt is None or not raw:
            return None, 0.0, 0.0
        return rt / raw, rt, raw

    def w4_memory(self, tool: str) -> tuple[float | None, float | None]:
        results = ok(self.find("W4-write", tool, "mem"))
        data = results[0]["info"].get("data_mb") if results else None
        return med(results, "peak_delta_mb"), data

    def per_run_us(self, result: dict[str, Any], workload: str) -> tuple[float, float]:
        runs = self.sizes[workload]
        return result["tool_median_s"] / runs * 1e6, result["ref_median_s"] / runs * 1e6

    # -- details ----------------------------------------------------------------------------

    def pairs(self) -> str:
        rows = []
        for case in [c for c in self.cases if c.kind == "pairs"]:
            reference = REFERENCE.get(case.workload, "sqlite3")
            results = ok(case)
            head = [case.workload, case.tool, f"{case.size:,}"]
            if not results:
                rows.append([*head, failure(case), reference, "-", "-", "-", "-", "-"])
                continue
            r = results[0]
            spread = f"{fx(min(r['ratios']))}-{fx(max(r['ratios']))}"
            rows.append(
                [
                    *head,
                    fs(r["tool_median_s"]),
                    reference,
                    fs(r["ref_median_s"]),
                    f"**{fx(r['ratio'])}**",
                    spread,
                    str(len(r["ratios"])),
                    self.note(case.workload, r),
                ]
            )
        header = ["workload", "tool", "size", "tool s", "reference", "reference s"]
        return table([*header, "ratio", "ratio range", "pairs", "notes"], rows)

    def note(self, workload: str, result: dict[str, Any]) -> str:
        info = result.get("info", {})
        tool, ref = info.get("tool", {}), info.get("ref", {})
        if workload.startswith("jobs"):
            tool_us, ref_us = self.per_run_us(result, workload)
            return f"{tool_us:.1f} vs {ref_us:.1f} µs/run; overhead {tool_us - ref_us:.1f} µs/run"
        if "writeable" in tool:
            kind: Callable[[dict[str, Any]], str] = lambda i: (  # noqa: E731
                "writable" if i.get("writeable") else "read-only"
            )
            return f"arrays: tool {kind(tool)}, sqlite3 {kind(ref)}"
        if "api" in tool:
            return str(tool["api"])
        if "shape" in tool:
            return f"shapes {tool['shape']} vs {ref.get('shape')}"
        return ""

    def memory(self) -> str:
        rows = []
        for case in [c for c in self.cases if c.kind == "mem" and c.workload != "1M"]:
            results = ok(case)
            head = [case.workload, "sqlite3 (raw)" if case.tool == "sqlite" else case.tool]
            head.append(f"{case.size:,}")
            if not results:
                rows.append([*head, failure(case), "-", "-", "-", "-"])
                continue
            growth = med(results, "growth_mb")
            extra = ""
            if case.workload == "mem100k" and growth is not None:
                extra = f"{growth * 2**20 / case.size:.0f} B/run kept"
            if case.workload == "W4-write":
                data = results[0]["info"].get("data_mb")
                peak = med(results, "peak_delta_mb")
                if data and peak is not None:
                    extra = f"peak = {peak / data:.2f}x the {data:.0f} MB of data"
            rows.append(
                [
                    *head,
                    fs(med(results, "seconds")),
                    fs(med(results, "peak_delta_mb")),
                    fs(growth),
                    str(len(results)),
                    extra,
                ]
            )
        header = ["workload", "side", "size", "seconds", "peak above base MB", "RSS kept MB"]
        return table([*header, "processes", "notes"], rows)

    def million(self) -> str:
        rows = []
        for tool in ("runtable", "sqlite"):
            case = self.find("1M", tool, "mem")
            if case is None:
                continue
            results = ok(case)
            label = "sqlite3 (raw)" if tool == "sqlite" else tool
            if not results:
                rows.append([label, failure(case), "-", "-", "-"])
                continue
            r = results[0]
            phases = ", ".join(f"{k} {fs(v)}" for k, v in r["info"].get("phases", {}).items())
            rows.append(
                [label, fs(r["seconds"]), phases, f"{r['peak_mb']:.0f}", f"{r['rss_base_mb']:.0f}"]
            )
        header = ["side", "total s", "phases s", "peak RSS MB", "RSS before MB"]
        return table(header, rows)

    def imports(self) -> str:
        rows = []
        for case in [c for c in self.cases if c.kind == "import"]:
            results = ok(case)
            seconds = [r["seconds"] for r in results]
            if not seconds:
                rows.append([case.tool, failure(case), "-"])
                continue
            rows.append([case.tool, fs(statistics.median(seconds)), str(len(seconds))])
        return table(["tool", "median s", "processes"], rows)

    def render(self) -> str:
        m = self.meta
        versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        out = [
            "# runtable benchmarks",
            "",
            f"- Date: {m['date']}; the whole run took {m['elapsed_min']} min",
            f"- Command: `{m['command']}` (at git `{m['commit']}`, branch `{m['branch']}`)",
            f"- Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, {m['os']}",
            f"- Python {m['python']}, SQLite {m['sqlite']}; {versions}",
            f"- Ratios: median of {m['pairs']} per-pair ratios in one process (tool, reference, "
            "tool, reference, ... after an untimed warm-up of both); memory: median over "
            f"fresh processes, {m['reps']} per side (1M runs: one).",
        ]
        if m["quick"]:
            out += [
                "",
                "**A `--quick` run: tiny sizes, a smoke test of the harness, not a measurement.**",
            ]
        sections: list[tuple[str, str, Callable[[], str]]] = [
            (
                "Targets (issue 11)",
                "Same-process ratios to raw sqlite3 (or the reference named). `floor`: raw "
                "sqlite3 writing or reading the very tables runtable stores (its bookkeeping "
                "columns and `experiments` row included), in the same kind of process: the "
                "part of the ratio the stored format costs by itself (`workloads/floor_w.py`).",
                self.targets,
            ),
            (
                "Same-process ratios",
                "Each row is one process; `ratio` is the median of the per-pair ratios "
                "tool/reference, the seconds are medians of each side.",
                self.pairs,
            ),
            (
                "Memory",
                "Fresh processes, one side each, after a warm-up: the peak RSS during the "
                "workload (high-water mark reset before it) above the RSS before it, and the RSS "
                "it keeps (its result alive). W4 write counts its arrays' creation, so 1.00x data "
                "is the data itself.",
                self.memory,
            ),
            (
                f"{self.n('1M')} runs x 8 fields",
                "One fresh process per side: grid, a step setting the 5 float fields, persist, "
                "load to a DataFrame. Peak RSS is the whole process's (imports included).",
                self.million,
            ),
            ("Import time", "`import X` in a fresh interpreter (after one untimed).", self.imports),
        ]
        for title, text, build in sections:
            built = build()
            if built.count("\n") > 1:  # a table with rows
                out += ["", f"## {title}", "", text, "", built]
        return "\n".join(out) + "\n"


def render(meta: dict[str, Any], cases: list[Case]) -> str:
    return Report(meta, cases).render()
