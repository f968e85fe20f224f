"""Benchmark runtable against MLTRAQ, MLflow and raw sqlite3: ``python benchmarks/run.py``.

Every measurement is a fresh subprocess (``workloads/<tool>_w.py <workload> <size> <tmpdir>``)
that prints one JSON line. Repetitions are interleaved (rep 1 of every case, then rep 2, ...) so
that drift in the machine's load hits every tool alike. The report goes to ``--out``
(``benchmarks/results.md``), the raw measurements to ``benchmarks/results/raw/<timestamp>.json``.
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
TOOLS = ("runtable", "sqlite", "mltraq", "mlflow")
WORKLOADS = ("import", "W1", "W2", "W3", "W4", "W5", "W6")
MODULES = {"runtable": "runtable", "sqlite": "sqlite3", "mltraq": "mltraq", "mlflow": "mlflow"}
#: Only these tools run W2 at its largest size (to show linear growth).
LARGEST_W2 = ("runtable", "sqlite")

IMPORT_CODE = """\
import time
start = time.perf_counter()
import {module}
elapsed = time.perf_counter() - start
import json
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({{"ok": True, "t": {{"total": elapsed}}, "rss_peak_mb": peak / 1024}}))
"""


@dataclass
class Sizes:
    w2: tuple[int, int, int]  # the middle size is W5's and the one the targets refer to
    w3: int
    w4_mb: int  # MB per array; W4 stores 10 of them
    w6: int


FULL = Sizes(w2=(1000, 10000, 100000), w3=10000, w4_mb=8, w6=1000)
QUICK = Sizes(w2=(100, 200, 1000), w3=200, w4_mb=1, w6=100)


@dataclass
class Case:
    """One row of a report table: a tool doing a workload at a size, measured ``reps`` times."""

    workload: str  # the report table: import, W1..W6
    tool: str
    label: str  # the row's name in the table
    steps: list[str]  # script workloads run in order in one fresh directory (W4: write, read)
    size: int
    reps: int
    timeout: float
    hard_timeout: float  # past ``timeout`` the result is "timeout"; the process may go on to here
    keep_dir: bool = False  # W2 at W5's size: its database is W5's setup
    note: str = ""
    results: list[dict[str, Any]] = field(default_factory=list)  # one per rep: step -> result


def build_cases(args: argparse.Namespace, sizes: Sizes, has_log: bool) -> list[Case]:
    reps, timeout, slow = args.reps, args.timeout, args.setup_timeout
    cases: list[Case] = []

    def add(workload: str, tool: str, label: str, steps: list[str], size: int, **kw: Any) -> None:
        if workload in args.only and tool in args.tools:
            kw.setdefault("reps", reps)
            kw.setdefault("hard_timeout", timeout)
            cases.append(Case(workload, tool, label, steps, size, timeout=timeout, **kw))

    for tool in TOOLS:
        add("import", tool, tool, ["import"], 0)
    for tool in TOOLS:
        add("W1", tool, tool, ["W1"], 1)
    w5_size = sizes.w2[1]
    for size in sizes.w2:
        for tool in TOOLS:
            if size == sizes.w2[2] and tool not in LARGEST_W2:
                continue
            capped = tool == "mlflow" and size >= 10000
            add(
                "W2",
                tool,
                tool,
                ["W2"],
                size,
                reps=1 if capped else reps,
                keep_dir=size == w5_size and "W5" in args.only,
                hard_timeout=slow if size == w5_size and "W5" in args.only else timeout,
                note="1 rep (slow peer case)" if capped else "",
            )
    w3 = sizes.w3
    add("W3", "sqlite", "sqlite3 (array as one BLOB)", ["W3"], w3)
    add(
        "W3",
        "runtable",
        f"runtable ({'run.log per value' if has_log else 'np.array field'})",
        ["W3"],
        w3,
    )
    if has_log:
        add("W3", "runtable", "runtable (np.array field)", ["W3arr"], w3)
    add("W3", "mltraq", "mltraq (np.array field)", ["W3"], w3)
    add("W3", "mltraq", "mltraq (Sequence.append per value)", ["W3seq"], w3)
    add("W3", "mlflow", "mlflow (log_batch, 1000 per call)", ["W3"], w3)
    add(
        "W3",
        "mlflow",
        "mlflow (log_metric per value)",
        ["W3each"],
        w3,
        reps=1,
        note="1 rep (slow peer case)",
    )
    for tool in TOOLS:
        add("W4", tool, tool, ["W4w", "W4r"], sizes.w4_mb)
    add("W4", "mlflow", "mlflow (file store)", ["W4w_file", "W4r_file"], sizes.w4_mb)
    for tool in TOOLS:
        add("W5", tool, tool, ["W5"], w5_size)
    add("W6", "sqlite", "plain Python loop", ["W6j1"], sizes.w6)
    for tool in ("runtable", "mltraq", "mlflow"):
        add("W6", tool, f"{tool} n_jobs=1", ["W6j1"], sizes.w6)
        if tool != "mlflow":
            add("W6", tool, f"{tool} n_jobs=2", ["W6j2"], sizes.w6)
    return cases


#: Bytecode cache of every measured process (git-ignored). runtable is an editable install whose
#: modules would otherwise be compiled from source in every subprocess when
#: PYTHONDONTWRITEBYTECODE is set, unlike the peers' pip-compiled packages.
PYCACHE = venvs.VENVS / "pycache"
#: Sizes of the untimed warm-up pass that fills that cache on first use.
WARM_SIZES = {"import": 0, "W1": 1, "W2": 100, "W3": 100, "W4": 1, "W5": 100, "W6": 50}


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("RUNTABLE_URL", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    env.update(
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
        PYTHONHASHSEED="0",
        PYTHONPYCACHEPREFIX=str(PYCACHE),
    )
    return env


def measure(command: list[str], cwd: str, case: Case) -> dict[str, Any]:
    """Run one measurement subprocess; its own process group is killed on the hard timeout."""
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
        out, err = proc.communicate(timeout=case.hard_timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"status": "timeout", "killed": True, "wall": time.perf_counter() - start}
    wall = time.perf_counter() - start
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = [line for line in err.strip().splitlines() if line.strip()][-1:] or ["no output"]
        return {"status": "error", "error": tail[0][:300], "wall": wall, "rc": proc.returncode}
    data = json.loads(lines[-1])
    if not data.pop("ok"):
        return {"status": "n/a", "reason": data.get("na", "?"), "wall": wall}
    status = "timeout" if wall > case.timeout else "ok"
    return {"status": status, "wall": wall, **data}


def command_for(tool: str, step: str, size: int, tmpdir: str) -> list[str]:
    python = venvs.python_of(tool)
    if step == "import":
        return [python, "-c", IMPORT_CODE.format(module=MODULES[tool])]
    return [python, str(WORKLOADS_DIR / f"{tool}_w.py"), step, str(size), tmpdir]


class Runner:
    def __init__(self, base: Path, unavailable: dict[str, str]) -> None:
        self.base = base
        self.unavailable = unavailable
        self.w2_dirs: dict[str, Path] = {}  # tool -> a directory holding W2 at W5's size
        self.w2_failed: dict[str, str] = {}  # tool -> why its W2 at W5's size left no database
        self.counter = 0

    def fresh_dir(self) -> Path:
        self.counter += 1
        path = self.base / f"m{self.counter:04d}"
        path.mkdir()
        return path

    def run_case(self, case: Case, rep: int) -> None:
        if case.tool in self.unavailable:
            case.results.append({"_": {"status": "n/a", "reason": self.unavailable[case.tool]}})
            return
        if case.results and any(
            r.get("status") in ("timeout", "n/a") for r in case.results[-1].values()
        ):
            return  # a case that timed out (or cannot run) is not repeated
        tmpdir = self.w2_dirs.get(case.tool) if case.workload == "W5" else None
        if case.workload == "W5" and tmpdir is None:
            tmpdir = self.setup_w5(case)
            if tmpdir is None:
                return
        owned = tmpdir is None
        tmpdir = tmpdir or self.fresh_dir()
        results: dict[str, Any] = {}
        for step in case.steps:
            result = measure(
                command_for(case.tool, step, case.size, str(tmpdir)), str(tmpdir), case
            )
            results[step] = result
            print(
                f"  rep {rep + 1} {case.workload} {case.label} n={case.size} {step}: "
                f"{describe(result)}",
                flush=True,
            )
            if result["status"] not in ("ok",):
                break
        case.results.append(results)
        finished = all(
            r["status"] in ("ok", "timeout") and not r.get("killed") for r in results.values()
        )
        if case.keep_dir and finished:
            old = self.w2_dirs.get(case.tool)
            self.w2_dirs[case.tool] = tmpdir
            if old is not None and old != tmpdir:
                shutil.rmtree(old, ignore_errors=True)
            return
        if case.keep_dir and case.tool not in self.w2_dirs:
            why = describe(next(iter(results.values())))
            self.w2_failed[case.tool] = f"W2 with {case.size} runs did not finish: {why}"
        if owned:
            shutil.rmtree(tmpdir, ignore_errors=True)

    def warm_up(self, cases: list[Case]) -> None:
        """Run each tool's steps once at tiny sizes (untimed) to fill the bytecode cache; done
        once per tool (Python itself recompiles a module whose source changed later)."""
        for tool in dict.fromkeys(c.tool for c in cases):
            marker = PYCACHE / f".warm-{tool}"
            if tool in self.unavailable or marker.exists():
                continue
            for case in [c for c in cases if c.tool == tool]:
                tmpdir = self.fresh_dir()
                size = WARM_SIZES[case.workload]
                for step in ["W2", *case.steps] if case.workload == "W5" else case.steps:
                    warm = Case(case.workload, tool, "warm-up", [step], size, 1, 600, 600)
                    measure(command_for(tool, step, size, str(tmpdir)), str(tmpdir), warm)
                shutil.rmtree(tmpdir, ignore_errors=True)
            marker.write_text("warm\n")

    def setup_w5(self, case: Case) -> Path | None:
        """W5's untimed setup when no W2 run left a database: the W2 workload, in its own
        subprocess."""
        if case.tool in self.w2_failed:
            case.results.append({"W5": {"status": "n/a", "reason": self.w2_failed[case.tool]}})
            return None
        tmpdir = self.fresh_dir()
        setup = Case("W2", case.tool, "setup", ["W2"], case.size, 1, 1e9, case.hard_timeout)
        print(f"  W5 setup for {case.tool}: W2 with {case.size} runs", flush=True)
        result = measure(command_for(case.tool, "W2", case.size, str(tmpdir)), str(tmpdir), setup)
        if result["status"] != "ok":
            why = result.get("error") or result.get("reason") or result["status"]
            case.results.append({"W5": {"status": "n/a", "reason": f"setup failed: {why}"}})
            return None
        self.w2_dirs[case.tool] = tmpdir
        return tmpdir


def describe(result: dict[str, Any]) -> str:
    status = result["status"]
    if status == "ok":
        seconds = result.get("t", {}).get("total", result["wall"])
        return f"{seconds:.4f} s, peak RSS {result.get('rss_peak_mb', 0):.0f} MB"
    return f"{status} {result.get('error') or result.get('reason') or ''} ({result['wall']:.0f} s)"


def runtable_has_log() -> bool:
    """Whether ``Run.log`` exists (asked in a subprocess: this process stays small)."""
    code = "import runtable; print(hasattr(runtable.Run, 'log'))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return done.stdout.strip() == "True"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and 1 repetition")
    parser.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    parser.add_argument("--only", default=",".join(WORKLOADS), help="e.g. W2,W5 or import,W1")
    parser.add_argument("--tools", default=",".join(TOOLS), help="e.g. runtable,sqlite")
    parser.add_argument("--out", default=str(HERE / "results.md"), help="the markdown report")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per measurement")
    parser.add_argument(
        "--setup-timeout",
        type=float,
        default=600,
        help="hard limit of the W2 run that also seeds W5 (it is still reported as a timeout "
        "past --timeout)",
    )
    args = parser.parse_args(argv)
    args.only = [w.strip() for w in args.only.split(",") if w.strip()]
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    for name, allowed in (("workload", WORKLOADS), ("tool", TOOLS)):
        given = args.only if name == "workload" else args.tools
        bad = [g for g in given if g not in allowed]
        if bad:
            parser.error(f"unknown {name}(s) {bad}; choose from {', '.join(allowed)}")
    if args.quick:
        args.reps = 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RAW_DIR.mkdir(parents=True, exist_ok=True)
    unavailable: dict[str, str] = {}
    for tool in args.tools:
        if tool in venvs.PEERS:
            print(f"environment of {tool}: {venvs.VENVS / tool}", flush=True)
            try:
                venvs.ensure(tool, log=RAW_DIR / "venvs.log")
            except (OSError, subprocess.CalledProcessError) as e:
                unavailable[tool] = f"could not install it ({e}); see {RAW_DIR / 'venvs.log'}"
    sizes = QUICK if args.quick else FULL
    cases = build_cases(args, sizes, runtable_has_log())
    base = Path(tempfile.mkdtemp(prefix="runtable-bench-"))
    runner = Runner(base, unavailable)
    PYCACHE.mkdir(parents=True, exist_ok=True)
    try:
        if not all((PYCACHE / f".warm-{t}").exists() for t in {c.tool for c in cases}):
            print("warm-up (untimed, fills the bytecode cache once)", flush=True)
            runner.warm_up(cases)
        for rep in range(max((c.reps for c in cases), default=0)):
            print(f"repetition {rep + 1}", flush=True)
            for case in cases:
                if rep < case.reps:
                    runner.run_case(case, rep)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    elapsed = time.perf_counter() - started
    meta = report.environment(args, elapsed, sizes)
    raw = RAW_DIR / f"{stamp}.json"
    raw.write_text(json.dumps({"meta": meta, "cases": [asdict(c) for c in cases]}, indent=1))
    Path(args.out).write_text(report.render(meta, cases, sizes))
    print(f"report: {args.out}\nraw measurements: {raw}\ntook {elapsed / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
