"""Measure issue 11's targets: ``python benchmarks/run.py --tools runtable,sqlite,floor,mltraq``.

Every ratio is taken inside one subprocess, which warms up and then times the tool's workload and
its reference (the raw sqlite3 baseline, or what the workload names) alternately
(``workloads/_common.py``). Memory is measured in fresh subprocesses, one side each. The report
goes to ``--out`` (``benchmarks/results.md``), every measurement to
``benchmarks/results/raw/<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import report
import venvs

HERE = Path(__file__).resolve().parent
WORKLOADS_DIR = HERE / "workloads"
RAW_DIR = HERE / "results" / "raw"
#: ``floor``: raw sqlite3 writing and reading the very tables runtable stores (``floor_w.py``).
TOOLS = ("runtable", "sqlite", "floor", "mltraq", "mlflow")
MODULES = {
    "runtable": "runtable",
    "sqlite": "sqlite3",
    "floor": "sqlite3",
    "mltraq": "mltraq",
    "mlflow": "mlflow",
}

#: The workloads, in the order they run. ``pairs``: tools timed against their reference in one
#: process; ``mem``: tools (``sqlite`` = the raw baseline) measured in fresh processes, one side
#: each; ``setup``: whether a process writes the databases first (read workloads);
#: ``pairs_at_least``: more pairs than ``--pairs`` for a noisy workload (``persist``: its 3-pair
#: medians spread from 1.06x to 1.55x over ten runs on a shared 2-core machine, 2026-12-06);
#: ``once``: one memory process only.
WORKLOADS: dict[str, dict[str, Any]] = {
    "import": {"pairs": (), "mem": ()},
    "W2-with": {"pairs": ("runtable", "floor", "mltraq")},
    "W2-grid": {"pairs": ("runtable", "floor", "mltraq")},
    "W3": {"pairs": ("runtable", "floor", "mltraq", "mlflow")},
    "W4-write": {
        "pairs": ("runtable", "mltraq", "mlflow"),
        "mem": ("runtable", "sqlite", "mltraq"),
    },
    "W4-read": {"pairs": ("runtable", "mltraq", "mlflow"), "setup": True},
    "W5": {"pairs": ("runtable", "floor", "mltraq"), "setup": True},
    "persist": {"pairs": ("runtable",), "pairs_at_least": 7},
    "jobs1": {"pairs": ("runtable", "mltraq")},
    "jobs2": {"pairs": ("runtable", "mltraq")},
    "mem100k": {"mem": ("runtable", "sqlite")},
    "wide30k": {"pairs": ("runtable", "floor"), "mem": ("runtable", "sqlite"), "setup": True},
    "1M": {"mem": ("runtable", "sqlite"), "once": True},
}

#: Sizes: runs, or MB per array for W4 (which stores 10 arrays).
FULL = {
    "W2-with": 10_000,
    "W2-grid": 10_000,
    "W3": 10_000,
    "W4-write": 8,
    "W4-read": 8,
    "W5": 10_000,
    "persist": 100_000,
    "jobs1": 10_000,
    "jobs2": 10_000,
    "mem100k": 100_000,
    "wide30k": 30_000,
    "1M": 1_000_000,
}
QUICK = {
    **{k: 200 for k in FULL},
    "W4-write": 1,
    "W4-read": 1,
    "persist": 1000,
    "mem100k": 1000,
    "wide30k": 300,
    "1M": 2000,
}

IMPORT_CODE = """\
import time
start = time.perf_counter()
import {module}
elapsed = time.perf_counter() - start
import json
print(json.dumps({{"ok": True, "seconds": elapsed}}))
"""


@dataclass
class Case:
    """One tool on one workload: a ``pairs`` process, or ``mem``/``import`` processes."""

    workload: str
    tool: str
    kind: str  # "pairs", "mem" or "import"
    size: int
    results: list[dict[str, Any]] = field(default_factory=list)


def plan(args: argparse.Namespace, sizes: dict[str, int]) -> list[Case]:
    cases = []
    for workload, spec in WORKLOADS.items():
        if workload not in args.only:
            continue
        if workload == "import":
            cases += [Case("import", t, "import", 0) for t in args.tools]
            continue
        size = sizes[workload]
        cases += [
            Case(workload, t, "pairs", size) for t in spec.get("pairs", ()) if t in args.tools
        ]
        cases += [Case(workload, t, "mem", size) for t in spec.get("mem", ()) if t in args.tools]
    return cases


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("RUNTABLE_URL", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    env.update(
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
        PYTHONHASHSEED="0",
        PYTHONPYCACHEPREFIX=str(venvs.VENVS / "pycache"),
    )
    return env


def measure(command: list[str], cwd: Path, timeout: float) -> dict[str, Any]:
    """Run one subprocess; its process group is killed past ``timeout``."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"status": "timeout", "wall": time.perf_counter() - start}
    wall = time.perf_counter() - start
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = [line for line in err.strip().splitlines() if line.strip()][-1:] or ["no output"]
        return {"status": "error", "error": tail[0][:300], "wall": wall}
    data = json.loads(lines[-1])
    if not data.pop("ok"):
        return {"status": "n/a", "reason": data.get("na", "?"), "wall": wall}
    return {"status": "ok", "wall": wall, **data}


def script(tool: str, *argv: object) -> list[str]:
    return [venvs.python_of(tool), str(WORKLOADS_DIR / f"{tool}_w.py"), *map(str, argv)]


def describe(result: dict[str, Any]) -> str:
    if result["status"] != "ok":
        why = result.get("error") or result.get("reason") or ""
        return f"{result['status']} {why} ({result['wall']:.0f} s)"
    if "ratio" in result:
        return f"ratio {result['ratio']:.2f}x, tool {result['tool_median_s']:.4g} s"
    if "peak_delta_mb" in result:
        return f"{result['seconds']:.4g} s, peak +{result['peak_delta_mb']:.0f} MB"
    return f"{result.get('seconds', result['wall']):.4g} s"


class Runner:
    def __init__(self, args: argparse.Namespace, base: Path, unavailable: dict[str, str]) -> None:
        self.args, self.base, self.unavailable = args, base, unavailable
        self.setup_done: set[tuple[str, str]] = set()

    def directory(self, workload: str) -> Path:
        """The workload's directory: setups write there, its processes read it."""
        path = self.base / workload
        path.mkdir(exist_ok=True)
        return path

    def record(self, case: Case, result: dict[str, Any]) -> None:
        case.results.append(result)
        label = f"{case.workload} {case.tool} {case.kind} n={case.size}"
        print(f"  {label}: {describe(result)}", flush=True)

    def setup(self, case: Case) -> dict[str, Any] | None:
        """Write the databases ``case`` reads (once per workload and tool); a failure result."""
        # runtable's setup writes the raw baseline's databases too, and the floor reads its.
        tool = "runtable" if case.tool in ("sqlite", "floor") else case.tool
        if not WORKLOADS[case.workload].get("setup") or (case.workload, tool) in self.setup_done:
            return None
        root = self.directory(case.workload)
        result = measure(
            script(tool, "setup", case.workload, case.size, root), root, self.args.timeout
        )
        if result["status"] != "ok":
            why = result.get("error") or result.get("reason") or result["status"]
            return {**result, "reason": f"setup failed: {why}"}
        self.setup_done.add((case.workload, tool))
        return None

    def run(self, case: Case, rep: int) -> None:
        if case.tool in self.unavailable:
            if rep == 0:
                self.record(
                    case, {"status": "n/a", "reason": self.unavailable[case.tool], "wall": 0}
                )
            return
        if case.results and case.results[-1]["status"] != "ok":
            return  # failed once: not repeated
        root = self.directory(case.workload)
        failed = self.setup(case)
        if failed is not None:
            self.record(case, failed)
            return
        timeout = self.args.timeout
        if case.kind == "import":
            code = IMPORT_CODE.format(module=MODULES[case.tool])
            command = [venvs.python_of(case.tool), "-c", code]
            if rep == 0:
                measure(command, root, timeout)  # untimed: fills the bytecode cache
        elif case.kind == "pairs":
            n = max(self.args.pairs, WORKLOADS[case.workload].get("pairs_at_least", 0))
            command = script(case.tool, "pairs", case.workload, case.size, root, n)
        else:
            command = script(case.tool, "mem", case.workload, case.size, root)
        self.record(case, measure(command, root, timeout))


def reps_of(case: Case, args: argparse.Namespace) -> int:
    """Processes per case: one ``pairs`` process; ``--reps`` fresh ones otherwise (1M: one)."""
    if case.kind == "pairs" or WORKLOADS[case.workload].get("once"):
        return 1
    return int(args.reps)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--pairs", type=int, default=5, help="timed pairs per process (>= 3)")
    parser.add_argument("--reps", type=int, default=3, help="fresh processes per memory case")
    parser.add_argument("--only", default=",".join(WORKLOADS), help="e.g. W2-with,W5")
    parser.add_argument(
        "--tools", default="runtable,sqlite,floor,mltraq", help="any of " + ",".join(TOOLS)
    )
    parser.add_argument("--out", default=str(HERE / "results.md"), help="the markdown report")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per process")
    args = parser.parse_args(argv)
    args.only = [w.strip() for w in args.only.split(",") if w.strip()]
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    for name, given, allowed in (("workload", args.only, WORKLOADS), ("tool", args.tools, TOOLS)):
        bad = [g for g in given if g not in allowed]
        if bad:
            parser.error(f"unknown {name}(s) {bad}; choose from {', '.join(allowed)}")
    if args.pairs < 3:
        parser.error("--pairs must be at least 3 (a median of per-pair ratios)")
    if args.quick:
        args.reps, args.pairs = 1, 3
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python benchmarks/run.py " + " ".join(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RAW_DIR.mkdir(parents=True, exist_ok=True)
    (venvs.VENVS / "pycache").mkdir(parents=True, exist_ok=True)
    unavailable: dict[str, str] = {}
    for tool in args.tools:
        if tool in venvs.PEERS:
            print(f"environment of {tool}: {venvs.VENVS / tool}", flush=True)
            try:
                venvs.ensure(tool, log=RAW_DIR / "venvs.log")
            except (OSError, subprocess.CalledProcessError) as e:
                unavailable[tool] = f"could not install it ({e}); see {RAW_DIR / 'venvs.log'}"
    sizes = QUICK if args.quick else FULL
    cases = plan(args, sizes)
    base = Path(tempfile.mkdtemp(prefix="runtable-bench-"))
    runner = Runner(args, base, unavailable)
    try:
        for workload in WORKLOADS:
            mine = [c for c in cases if c.workload == workload]
            if mine:
                print(workload, flush=True)
            for rep in range(max((reps_of(c, args) for c in mine), default=0)):
                for case in mine:  # memory processes alternate tool and raw
                    if rep < reps_of(case, args):
                        runner.run(case, rep)
            shutil.rmtree(base / workload, ignore_errors=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    elapsed = time.perf_counter() - started
    meta = report.environment(args, command, elapsed, sizes)
    raw = RAW_DIR / f"{stamp}.json"
    raw.write_text(json.dumps({"meta": meta, "cases": [asdict(c) for c in cases]}, indent=1))
    Path(args.out).write_text(report.render(meta, cases))
    print(f"report: {args.out}\nraw measurements: {raw}\ntook {elapsed / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
