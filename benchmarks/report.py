"""The markdown report of a benchmark run: environment header, one table per workload, and
runtable's targets. Medians over the repetitions that succeeded; ratios are to the raw sqlite3
baseline measured in the same run."""

from __future__ import annotations

import itertools
import os
import platform
import sqlite3
import statistics
import subprocess
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import venvs

if TYPE_CHECKING:
    import argparse

    from run import Case, Sizes

REPO = Path(__file__).resolve().parent.parent

# -- environment ------------------------------------------------------------------------------


def environment(args: argparse.Namespace, elapsed: float, sizes: Sizes) -> dict[str, Any]:
    from importlib import metadata

    def first(path: str, key: str) -> str:
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(key):
                    return line.split(":" if ":" in line else "=", 1)[1].strip().strip('"')
        except OSError:
            pass
        return "?"

    mem_kb = first("/proc/meminfo", "MemTotal").split()[0]
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": first("/proc/cpuinfo", "model name"),
        "cores": os.cpu_count(),
        "ram_gb": round(int(mem_kb) / 2**20, 1) if mem_kb.isdigit() else "?",
        "os": f"{first('/etc/os-release', 'PRETTY_NAME')} ({platform.platform()})",
        "python": platform.python_version(),
        "runtable": f"{metadata.version('runtable')} (git {commit or '?'})",
        "mltraq": venvs.version_of("mltraq", "mltraq") if "mltraq" in args.tools else "-",
        "mlflow": venvs.version_of("mlflow", "mlflow") if "mlflow" in args.tools else "-",
        "sqlite": sqlite3.sqlite_version,
        "reps": args.reps,
        "quick": args.quick,
        "timeout": args.timeout,
        "elapsed_min": round(elapsed / 60, 1),
        "sizes": {"w2": sizes.w2, "w3": sizes.w3, "w4_mb": sizes.w4_mb, "w6": sizes.w6},
        "command": "python benchmarks/run.py " + " ".join(_given_args(args)),
    }


def _given_args(args: argparse.Namespace) -> list[str]:
    out = ["--quick"] if args.quick else [f"--reps {args.reps}"]
    if args.timeout != 300:
        out.append(f"--timeout {args.timeout:g}")
    return out


# -- numbers ----------------------------------------------------------------------------------


def values(case: Case, step: str, key: str = "total") -> list[float]:
    """The measurements of ``key`` over the repetitions where ``step`` succeeded."""
    out = []
    for rep in case.results:
        result = rep.get(step)
        if result is None or result["status"] != "ok":
            continue
        if key == "wall":
            out.append(result["wall"])
        elif key in result.get("t", {}):
            out.append(result["t"][key])
        elif key in result:
            out.append(result[key])
    return out


def median(case: Case | None, step: str, key: str = "total") -> float | None:
    found = values(case, step, key) if case is not None else []
    return statistics.median(found) if found else None


def failure(case: Case, step: str, timeout: float) -> str:
    """Why a case has no value: timeout, n/a or error, as a short table cell."""
    for rep in case.results:
        result = rep.get(step) or rep.get("_") or next(iter(rep.values()), None)
        if result is None or result["status"] == "ok":
            continue
        if result["status"] == "timeout":
            took = "" if result.get("killed") else f"; finished in {result['wall']:.0f} s"
            return f"timeout (>{timeout:g} s{took})"
        text = result.get("reason") or result.get("error") or "?"
        return f"{result['status']}: {text}".replace("|", "/")[:160]
    return "not run"


def fs(x: float | None) -> str:
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
    if x is None:
        return "-"
    return f"{x:.0f}x" if x >= 100 else f"{x:.1f}x" if x >= 10 else f"{x:.2f}x"


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def spread(case: Case, step: str, key: str = "total") -> str:
    found = values(case, step, key)
    if len(found) < 2:
        return "-"
    return f"{fs(min(found))}-{fs(max(found))}"


# -- tables -----------------------------------------------------------------------------------


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


class Report:
    def __init__(self, meta: dict[str, Any], cases: list[Case], sizes: Sizes) -> None:
        self.meta, self.cases, self.sizes = meta, cases, sizes
        self.timeout = float(meta["timeout"])

    def find(self, workload: str, label: str, size: int | None = None) -> Case | None:
        for case in self.cases:
            if (case.workload, case.label) == (workload, label) and size in (None, case.size):
                return case
        return None

    def baseline(self, workload: str, size: int | None = None) -> Case | None:
        for case in self.cases:
            if (case.workload, case.tool) == (workload, "sqlite") and size in (None, case.size):
                return case
        return None

    def simple(self, workload: str, key: str, with_size: bool = False) -> str:
        """tool | (runs) | median s | range | (µs/run) | x sqlite3 | peak RSS MB"""
        step_of: Callable[[Case], str] = lambda c: c.steps[0]  # noqa: E731
        rows = []
        for case in [c for c in self.cases if c.workload == workload]:
            step = step_of(case)
            base = self.baseline(workload, case.size if with_size else None)
            value = median(case, step, key)
            base_value = median(base, step_of(base), key) if base else None
            label = case.label + (f" ({case.note})" if case.note else "")
            if value is None:
                cells = [failure(case, step, self.timeout), "-"]
                cells += ["-"] if with_size else []
                cells += ["-", "-"]
            else:
                cells = [fs(value), spread(case, step, key)]
                cells += [f"{value / case.size * 1e6:.1f}"] if with_size else []
                cells += [fx(ratio(value, base_value)), fs(median(case, step, "rss_peak_mb"))]
            rows.append([label, *([f"{case.size:,}"] if with_size else []), *cells])
        header = ["tool", *(["runs"] if with_size else []), "median s", "range"]
        header += ["µs/run"] if with_size else []
        return table([*header, "x sqlite3", "peak RSS MB"], rows)

    def w4(self) -> str:
        data_mb = 10 * self.sizes.w4_mb
        base = self.baseline("W4")
        rows = []
        for case in [c for c in self.cases if c.workload == "W4"]:
            write, read = case.steps
            cells = [case.label]
            for step, base_step in ((write, "W4w"), (read, "W4r")):
                value = median(case, step)
                base_value = median(base, base_step)
                if value is None:
                    cells += [failure(case, step, self.timeout), "-"]
                else:
                    cells += [fs(value), fx(ratio(value, base_value))]
            for step in (write, read):
                delta = median(case, step, "rss_delta_mb")
                peak = median(case, step, "rss_peak_mb")
                cells.append(
                    "-" if delta is None else f"{delta:.0f} ({delta / data_mb:.2f}x) / {peak:.0f}"
                )
            rows.append(cells)
        header = ["tool", "write s", "x sqlite3", "read s", "x sqlite3"]
        header += [
            "write: peak-base MB (x data) / peak RSS",
            "read: peak-base MB (x data) / peak RSS",
        ]
        return table(header, rows)

    def w6(self) -> str:
        loop_case = self.baseline("W6")
        rows = []
        for case in [c for c in self.cases if c.workload == "W6"]:
            step = case.steps[0]
            total = median(case, step)
            if total is None:
                rows.append([case.label, failure(case, step, self.timeout), *["-"] * 5])
                continue
            loop = median(case, step, "loop")
            warm = median(case, step, "warm")
            per_run = self.overhead(case, "total")
            warm_per_run = self.overhead(case, "warm")
            rows.append(
                [
                    case.label,
                    fs(total),
                    fs(loop),
                    "-" if case.tool == "sqlite" else f"{per_run:.1f}",
                    "-" if warm is None or case.tool == "sqlite" else f"{warm_per_run:.1f}",
                    fx(ratio(total, median(loop_case, "W6j1") if loop_case else None)),
                    fs(median(case, step, "rss_peak_mb")),
                ]
            )
        header = ["tool", "median s", "plain loop s (same process)", "overhead µs/run"]
        header += ["warm overhead µs/run", "x plain loop", "peak RSS MB"]
        return table(header, rows)

    def overhead(self, case: Case | None, key: str) -> float | None:
        """Median over reps of (execution - plain loop of the same process) / runs, in µs."""
        if case is None:
            return None
        per = []
        for rep in case.results:
            result = rep.get(case.steps[0])
            if result and result["status"] == "ok" and key in result["t"]:
                per.append((result["t"][key] - result["t"]["loop"]) / case.size * 1e6)
        return float(statistics.median(per)) if per else None

    # -- targets ------------------------------------------------------------------------------

    def targets(self) -> str:
        mid = self.sizes.w2[1]
        rows: list[list[str]] = []

        def check(
            name: str, value: float | None, limit: float, shown: str, below: bool = True
        ) -> None:
            if value is None:
                met = "not measured"
            else:
                met = "met" if (value <= limit) == below else "**not met**"
            rows.append([name, shown if value is not None else "-", met])

        def vs_base(
            workload: str, label: str, size: int | None, step: str, base_step: str
        ) -> float | None:
            case = self.find(workload, label, size)
            base = self.baseline(workload, size)
            return ratio(median(case, step), median(base, base_step))

        rt_w3 = self.runtable_w3()
        for name, r in (
            (f"W2 at {mid:,} runs ≤ 1.5x sqlite3", vs_base("W2", "runtable", mid, "W2", "W2")),
            (f"W3 {rt_w3} ≤ 1.5x sqlite3", vs_base("W3", rt_w3, None, "W3", "W3")),
            (f"W5 at {mid:,} runs ≤ 1.5x sqlite3", vs_base("W5", "runtable", mid, "W5", "W5")),
            ("W4 write ≤ 1.3x sqlite3", vs_base("W4", "runtable", None, "W4w", "W4w")),
            ("W4 read ≤ 1.3x sqlite3", vs_base("W4", "runtable", None, "W4r", "W4r")),
        ):
            check(name, r, 1.5 if name.startswith(("W2", "W3", "W5")) else 1.3, fx(r))
        rt4, file4 = self.find("W4", "runtable"), self.find("W4", "mlflow (file store)")
        for step, fstep, what in (("W4w", "W4w_file", "write"), ("W4r", "W4r_file", "read")):
            r = ratio(median(rt4, step), median(file4, fstep))
            check(f"W4 {what} faster than MLflow file store", r, 1.0, f"{fx(r)} of its time")
        data_mb = 10 * self.sizes.w4_mb
        for step, what in (("W4w", "write"), ("W4r", "read")):
            delta = median(rt4, step, "rss_delta_mb")
            r = delta / data_mb if delta is not None else None
            check(
                f"W4 {what} peak memory ≤ 2x data ({data_mb} MB)",
                r,
                2.0,
                f"{fs(delta)} MB = {fx(r)}",
            )
        imp = median(self.find("import", "runtable"), "import")
        check("`import runtable` ≤ 0.15 s", imp, 0.15, f"{fs(imp)} s")
        w6 = self.find("W6", "runtable n_jobs=1")
        over, warm = self.overhead(w6, "total"), self.overhead(w6, "warm")
        shown = f"{fs(over)} µs/run (warm: {fs(warm)})"
        check("W6 n_jobs=1 overhead ≤ 20 µs/run (first execution)", over, 20.0, shown)
        for name, workload, rt_label, mq_label, rt_step, mq_step, size in self.mltraq_pairs():
            key = "wall" if workload == "W1" else "total"
            rt = median(self.find(workload, rt_label, size), rt_step, key)
            mq = median(self.find(workload, mq_label, size), mq_step, key)
            r = ratio(mq, rt)
            check(f"≥ 3x faster than MLTRAQ: {name}", r, 3.0, f"{fx(r)} faster", below=False)
        rows.append(self.linearity())
        return table(["target", "runtable", "status"], rows)

    def runtable_w3(self) -> str:
        """The label of runtable's main W3 row (run.log when it exists)."""
        labels = [c.label for c in self.cases if c.workload == "W3" and c.tool == "runtable"]
        return labels[0] if labels else "runtable"

    def mltraq_pairs(self) -> list[tuple[str, str, str, str, str, str, int | None]]:
        """(name, workload, runtable row, MLTRAQ row, runtable step, MLTRAQ step, size)."""
        mid = self.sizes.w2[1]
        rt_w3 = self.runtable_w3()
        pairs = [
            ("import", "import", "runtable", "mltraq", "import", "import", None),
            ("W1", "W1", "runtable", "mltraq", "W1", "W1", None),
            *[
                (f"W2 {n:,} runs", "W2", "runtable", "mltraq", "W2", "W2", n)
                for n in self.sizes.w2[:2]
            ],
            (
                f"W3, {rt_w3} vs mltraq array field",
                "W3",
                rt_w3,
                "mltraq (np.array field)",
                "W3",
                "W3",
                None,
            ),
        ]
        if "log" in rt_w3:
            pairs.append(
                (
                    "W3, per-value tracking: run.log vs Sequence.append",
                    "W3",
                    rt_w3,
                    "mltraq (Sequence.append per value)",
                    "W3",
                    "W3seq",
                    None,
                )
            )
        pairs += [
            ("W4 write", "W4", "runtable", "mltraq", "W4w", "W4w", None),
            ("W4 read", "W4", "runtable", "mltraq", "W4r", "W4r", None),
            ("W5", "W5", "runtable", "mltraq", "W5", "W5", mid),
            *[
                (
                    f"W6 n_jobs={j}",
                    "W6",
                    f"runtable n_jobs={j}",
                    f"mltraq n_jobs={j}",
                    f"W6j{j}",
                    f"W6j{j}",
                    None,
                )
                for j in (1, 2)
            ],
        ]
        return pairs

    def linearity(self) -> list[str]:
        sizes = self.sizes.w2
        per = []
        for size in sizes:
            value = median(self.find("W2", "runtable", size), "W2")
            per.append((size, None if value is None else value / size * 1e6))
        shown = ", ".join(f"{n:,}: {'-' if p is None else f'{p:.1f}'} µs/run" for n, p in per)
        name = f"W2 linear {sizes[0]:,}→{sizes[-1]:,} runs (µs/run grows ≤ 25% per size step)"
        known = [p for _, p in per if p is not None]
        if len(known) < len(per):
            return [name, shown, "not measured"]
        grows = any(b > a * 1.25 for a, b in itertools.pairwise(known))
        return [name, shown, "**not met**" if grows else "met"]

    # -- whole report -------------------------------------------------------------------------

    def render(self) -> str:
        m = self.meta
        s = self.sizes
        out = [
            "# runtable benchmarks",
            "",
            f"- Date: {m['date']}; command: `{m['command']}`; the whole run took "
            f"{m['elapsed_min']} min",
            f"- Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, {m['os']} "
            "(shared and noisy: compare ratios within this run, not seconds across runs)",
            f"- Versions: Python {m['python']}, runtable {m['runtable']}, mltraq {m['mltraq']}, "
            f"mlflow {m['mlflow']}, SQLite {m['sqlite']}",
            f"- Medians of {m['reps']} repetitions (fewer where a row says so), each a fresh "
            f"subprocess; timeout {m['timeout']:g} s per measurement. `range` is min-max; "
            "`x sqlite3` is the median divided by the raw sqlite3 baseline's median in this run "
            "(1.00x = the practical limit; higher is slower). Peak RSS is the measured "
            "subprocess's high-water mark (VmHWM, the per-process ru_maxrss), imports included.",
            "",
            "## Targets (runtable)",
            "",
            self.targets(),
            "",
            "## Import time (`import X` in a fresh interpreter)",
            "",
            self.simple("import", "total"),
            "",
            "## W1: import + create experiment + one run with one float + persist "
            "(whole subprocess wall time, fresh database)",
            "",
            self.simple("W1", "wall"),
            "",
            f"## W2: {', '.join(f'{n:,}' for n in s.w2)} runs, 3 params + 5 float fields, "
            "persisted (create/add/fill/persist)",
            "",
            self.simple("W2", "total", with_size=True),
            "",
            f"## W3: one run tracking {s.w3:,} values of one metric, persisted",
            "",
            self.simple("W3", "total"),
            "",
            f"## W4: 10 runs x one {s.w4_mb} MB float64 array ({10 * s.w4_mb} MB), write then "
            "read back",
            "",
            "Memory: peak RSS minus the RSS after imports (before the arrays exist), so the "
            "data itself counts once (1.00x).",
            "",
            self.w4(),
            "",
            f"## W5: load the W2 experiment ({s.w2[1]:,} runs) into a pandas DataFrame",
            "",
            self.simple("W5", "total", with_size=True),
            "",
            f"## W6: execute {s.w6:,} trivial runs (a step that sets one field)",
            "",
            "Overhead = (execution - a plain loop calling the same function on stand-in objects "
            "in the same process) / runs. The first execution is cold; 'warm' is a second one in "
            "the same process. n_jobs=2 includes starting the workers.",
            "",
            self.w6(),
            "",
            "## Method notes",
            "",
            "- W2-W6 time only the workload: each script imports its tool (and numpy, pandas) "
            "before the timer, so lazy imports are not counted there; import cost is in W1 and "
            "the import table. MLflow's database schema is created before the timer too.",
            "- W2 fills fields by plain assignment (no execution engine). MLTRAQ persists only "
            "`run.fields`, so it also copies the 3 params into fields. MLflow logs params and "
            "metrics per run with the fluent API (`start_run`, `log_params`, `log_metrics`).",
            "- W4: arrays are runtable/MLTRAQ fields, MLflow `.npy` artifacts "
            "(`log_artifact`, `download_artifacts`), sqlite3 BLOBs written from memoryviews.",
            "- MLTRAQ's progress bars are disabled; MLflow telemetry is off (no network).",
            "",
        ]
        return "\n".join(out)


def render(meta: dict[str, Any], cases: list[Case], sizes: Sizes) -> str:
    return Report(meta, cases, sizes).render()
