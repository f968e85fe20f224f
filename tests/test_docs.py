"""The documentation site (mkdocs/): its examples run and print what the pages show; it builds.

- Every ``examples/*.py`` runs in a fresh interpreter in an empty temporary directory with the
  default database (the files of one chain in ``CHAINS`` share a directory and run in order),
  exits 0 and, when ``examples/<name>.out`` exists, prints exactly that.
- Every ``examples/*.console`` transcript runs its ``$ command`` lines with bash in the directory
  of its chain, after the examples before it, and each command exits 0 and prints what the
  transcript shows below it.
- The pages show the temporary directory as ``/home/user/demo`` (``shown``), and outputs are
  compared with ids, digests and timestamps masked, since they change at every run
  (``normalize``); ``...`` in an expected output matches anything (as doctest's ELLIPSIS).
- Every ``--8<--`` include in mkdocs/ names an existing file, every example file is included by
  some page, every Python or console code block of a page is an include, and the reference pages
  document exactly ``runtable.__all__``.
- ``mkdocs build --strict`` succeeds (skipped without mkdocs, except under CI).

``python tests/test_docs.py --update`` runs every example and transcript and rewrites the
``.out`` files and the outputs in the transcripts from what they printed.
"""

from __future__ import annotations

import doctest
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DOCS = ROOT / "mkdocs"
SHOWN_CWD = "/home/user/demo"  # how the pages show the directory the examples run in
TIMEOUT = 60  # seconds, for one example or command

#: Examples that build on what an earlier one stored: they share a directory, in this order.
CHAINS: list[list[str]] = [
    ["coins_generate.py", "coins_evaluate.py", "models_store.py", "cli.console"],
    ["getting_started_sweep.py", "getting_started_reload.py", "getting_started.console"],
    ["resume_start.py", "resume_finish.py"],
    ["scaling_dask.py", "scaling_slices.py"],
]
#: Files a page may include that are not examples (and may not exist yet).
OPTIONAL_INCLUDES = {"benchmarks/results.md"}

#: What `mkdocs build` needs: pip install -e ".[docs]".
DOCS_MODULES = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers")
INCLUDE = re.compile(r"""^\s*(?:;*)--8<--\s+["']([^"']+)["']\s*$""", re.MULTILINE)
SECTION = re.compile(r"--8<--\s*\[\s*(?:start|end)\s*:")
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)[^\n]*\n(.*?)^\1\2\s*$", re.MULTILINE | re.DOTALL)
MASKS = [
    (re.compile(r"\b[0-9a-f]{40}\b"), "<digest>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<id>"),
    (re.compile(r"\b\d{15,16}\b"), "<run id>"),  # run ids: 15 digits, random per process
    (re.compile(r"\bin \d+\.\d\d s\b"), "in <seconds>"),  # how long an execution took
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)?"), "<time>"),
]


def example_files() -> list[str]:
    return sorted(p.name for p in EXAMPLES.iterdir() if p.suffix in (".py", ".console"))


def chains() -> list[list[str]]:
    """Every example file, in chains of the files that share a directory."""
    files = example_files()
    chained = {name for chain in CHAINS for name in chain}
    alone = [[name] for name in files if name not in chained]
    kept = [[name for name in chain if name in files] for chain in CHAINS]
    return [chain for chain in kept if chain] + alone


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RUNTABLE_URL"}
    bindir = str(Path(sys.executable).parent)  # the `runtable` command of this interpreter
    env.update(
        PATH=bindir + os.pathsep + env.get("PATH", ""),
        COLUMNS="80",
        LINES="40",
        MPLBACKEND="Agg",
        PYTHONHASHSEED="0",
        NO_MKDOCS_2_WARNING="1",
    )
    env.pop("FORCE_COLOR", None)
    return env


def shown(text: str, cwd: Path) -> str:
    """What a page shows of an output: the run's directory as SHOWN_CWD, lines right-stripped,
    no blank lines at the end."""
    for path in sorted({str(cwd), os.path.realpath(cwd)}, key=len, reverse=True):
        text = text.replace(path, SHOWN_CWD)
    return "\n".join(line.rstrip() for line in text.splitlines()).rstrip("\n")


def normalize(text: str) -> str:
    """``text`` with the values that change at every run (ids, digests, times) masked."""
    for pattern, mask in MASKS:
        text = pattern.sub(mask, text)
    return "\n".join(line.rstrip() for line in text.splitlines()).rstrip("\n")


def matches(expected: str, got: str) -> bool:
    want, have = normalize(expected), normalize(got)
    if want == have:
        return True
    return doctest.OutputChecker().check_output(want + "\n", have + "\n", doctest.ELLIPSIS)


# -- console transcripts ------------------------------------------------------------------------


@dataclass
class Command:
    line: int  # index of the "$ " line in the transcript
    command: str
    expected: str


def parse_console(text: str) -> list[Command]:
    """The ``$ command`` lines of a transcript with the output shown below each."""
    lines = text.splitlines()
    commands: list[Command] = []
    for i, line in enumerate(lines):
        if line.startswith("$ "):
            out = []
            for following in lines[i + 1 :]:
                if following.startswith("$ ") or SECTION.search(following):
                    break
                out.append(following)
            commands.append(Command(i, line[2:], "\n".join(out)))
    return commands


def updated_console(text: str, outputs: list[str]) -> str:
    """``text`` with each command's shown output replaced by ``outputs``."""
    lines = text.splitlines()
    commands = parse_console(text)
    result: list[str] = []
    skip_until = 0
    command_at = {c.line: n for n, c in enumerate(commands)}
    for i, line in enumerate(lines):
        if i < skip_until:
            continue
        result.append(line)
        if i in command_at:
            expected_lines = commands[command_at[i]].expected.splitlines()
            skip_until = i + 1 + len(expected_lines)
            if outputs[command_at[i]]:
                result.extend(outputs[command_at[i]].splitlines())
    return "\n".join(result) + "\n"


# -- running ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    name: str
    cwd: Path
    returncode: int
    stdout: str
    stderr: str
    commands: list[tuple[Command, int, str]] | None = None  # transcripts: command, status, out


def text(output: str | bytes | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def run_example(name: str, cwd: Path) -> Outcome:
    path = EXAMPLES / name
    env = environment()
    if path.suffix == ".py":
        try:
            done = subprocess.run(
                [sys.executable, str(path)],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as e:
            return Outcome(name, cwd, -1, text(e.stdout), f"timed out after {TIMEOUT} s")
        return Outcome(name, cwd, done.returncode, done.stdout, done.stderr)
    results = []
    for command in parse_console(path.read_text(encoding="utf-8")):
        try:
            done = subprocess.run(
                ["bash", "-c", command.command],
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=TIMEOUT,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as e:
            results.append((command, -1, f"{text(e.output)}\ntimed out after {TIMEOUT} s"))
            break
        results.append((command, done.returncode, done.stdout))
    failed = [r for r in results if r[1] != 0]
    status = failed[0][1] if failed else 0
    return Outcome(name, cwd, status, "", "", results)


def run_chain(chain: list[str], base: Path) -> list[Outcome]:
    cwd = Path(tempfile.mkdtemp(prefix=Path(chain[0]).stem + "-", dir=base))
    outcomes = []
    for name in chain:
        outcome = run_example(name, cwd)
        outcomes.append(outcome)
        if outcome.returncode != 0:  # what follows depends on it
            break
    return outcomes


def run_all(base: Path) -> dict[str, Outcome]:
    # One more thread than cores: examples also wait (worker start-up, a refused connection).
    with ThreadPoolExecutor(max_workers=(os.cpu_count() or 1) + 1) as pool:
        done = pool.map(lambda chain: run_chain(chain, base), chains())
        return {o.name: o for outcomes in done for o in outcomes}


@dataclass
class Build:
    process: subprocess.Popen[bytes] | None  # None: mkdocs is not installed
    site: Path
    log: Path


@pytest.fixture(scope="module")
def site_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Build]:
    """``mkdocs build --strict``, started before the examples run so that the two overlap."""
    base = tmp_path_factory.mktemp("site")
    build = Build(None, base / "site", base / "mkdocs.log")
    if all(importlib.util.find_spec(m) is not None for m in DOCS_MODULES):
        with open(build.log, "wb") as log:
            command = ["mkdocs", "build", "--strict", "--site-dir", str(build.site)]
            build.process = subprocess.Popen(
                [sys.executable, "-m", *command],
                cwd=ROOT,
                env=environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
    yield build
    if build.process is not None and build.process.poll() is None:
        build.process.kill()
        build.process.wait()


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory, site_build: Build) -> dict[str, Outcome]:
    return run_all(tmp_path_factory.mktemp("examples"))


@pytest.mark.parametrize("name", example_files())
def test_example_runs_and_prints_what_the_docs_show(
    name: str, outcomes: dict[str, Outcome]
) -> None:
    outcome = outcomes.get(name)
    assert outcome is not None, f"{name} did not run: an example before it in its chain failed"
    if outcome.commands is not None:
        for command, status, out in outcome.commands:
            assert status == 0, f"{name}: `{command.command}` exited {status}:\n{out}"
            assert matches(command.expected, shown(out, outcome.cwd)), (
                f"{name}: `{command.command}` printed\n{shown(out, outcome.cwd)}\n"
                f"but the transcript shows\n{command.expected}\n"
                "(python tests/test_docs.py --update rewrites the transcripts)"
            )
        return
    assert outcome.returncode == 0, f"{name} exited {outcome.returncode}:\n{outcome.stderr}"
    expected = EXAMPLES / (Path(name).stem + ".out")
    if expected.exists():
        got = shown(outcome.stdout, outcome.cwd)
        assert matches(expected.read_text(encoding="utf-8"), got), (
            f"{name} printed\n{got}\nbut {expected.name} says\n{expected.read_text()}\n"
            "(python tests/test_docs.py --update rewrites the .out files)"
        )


def test_the_chains_name_existing_examples() -> None:
    missing = [name for chain in CHAINS for name in chain if name not in example_files()]
    assert not missing, f"CHAINS names examples that do not exist: {missing}"


# -- the pages ------------------------------------------------------------------------------------


def pages() -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in sorted(DOCS.rglob("*.md"))}


def includes() -> dict[str, list[Path]]:
    """Each included file (without any ``:section``) and the pages that include it."""
    found: dict[str, list[Path]] = {}
    for page, text in pages().items():
        for target in INCLUDE.findall(text):
            path = re.sub(r":[a-z][-_0-9a-z]*$|(:-?\d*)+(,.*)?$", "", target)
            found.setdefault(path, []).append(page)
    return found


def test_every_include_names_an_existing_file() -> None:
    missing = {
        path: [str(p.relative_to(ROOT)) for p in where]
        for path, where in includes().items()
        if path not in OPTIONAL_INCLUDES and not (ROOT / path).is_file()
    }
    assert not missing, f"pages include files that do not exist: {missing}"


def test_every_example_and_output_is_shown_by_a_page() -> None:
    included = set(includes())
    files = [*example_files(), *(p.name for p in EXAMPLES.glob("*.out"))]
    orphans = [name for name in files if f"examples/{name}" not in included]
    assert not orphans, f"examples no page includes: {orphans}"
    stray = [p.name for p in EXAMPLES.glob("*.out") if not (EXAMPLES / f"{p.stem}.py").exists()]
    assert not stray, f".out files without their example: {stray}"


def test_every_python_and_console_block_is_an_include() -> None:
    inline = []
    for page, text in pages().items():
        for match in FENCE.finditer(text):
            language, body = match.group(3).lower(), match.group(4)
            if language in ("python", "py", "pycon", "console"):
                lines = [line for line in body.splitlines() if line.strip()]
                if not lines or not all(INCLUDE.match(line) for line in lines):
                    inline.append(f"{page.relative_to(ROOT)}: {body[:60]!r}")
    assert not inline, f"code blocks written in the page instead of included: {inline}"


def test_the_reference_documents_exactly_the_public_names() -> None:
    import runtable

    reference = "".join(t for p, t in pages().items() if "reference" in p.parts)
    documented = set(re.findall(r"^:::\s+runtable\.(\w+)\s*$", reference, re.MULTILINE))
    # A public name may be documented from its module (`runtable.step.step`, the function,
    # since `runtable.step` names the module for mkdocstrings) when it is the same object.
    for module, name in re.findall(r"^:::\s+runtable\.(\w+)\.(\w+)\s*$", reference, re.M):
        found = getattr(importlib.import_module(f"runtable.{module}"), name, None)
        if name in runtable.__all__ and found is getattr(runtable, name):
            documented.add(name)
    assert documented == set(runtable.__all__), (
        f"missing: {sorted(set(runtable.__all__) - documented)}, "
        f"not public: {sorted(documented - set(runtable.__all__))}"
    )


def test_the_site_builds_strictly(site_build: Build) -> None:
    if site_build.process is None:
        missing = [m for m in DOCS_MODULES if importlib.util.find_spec(m) is None]
        message = f"{', '.join(missing)} not installed: pip install -e '.[docs]'"
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(f"CI is set: refusing to skip the documentation build. {message}")
        pytest.skip(message)
    status = site_build.process.wait(timeout=180)
    assert status == 0, site_build.log.read_text(encoding="utf-8", errors="replace")
    assert (site_build.site / "index.html").exists()


# -- --update -------------------------------------------------------------------------------------


def update() -> int:
    """Run everything and rewrite the .out files and transcript outputs from what was printed."""
    with tempfile.TemporaryDirectory() as base:
        results = run_all(Path(base))
        status = 0
        for name in example_files():
            outcome = results.get(name)
            if outcome is None:
                print(f"{name}: not run (an earlier example of its chain failed)")
                status = 1
                continue
            path = EXAMPLES / name
            if outcome.commands is not None:
                outputs = [
                    command.expected if matches(command.expected, got) else got
                    for command, got in (
                        (c, shown(out, outcome.cwd)) for c, _, out in outcome.commands
                    )
                ]
                text = updated_console(path.read_text(encoding="utf-8"), outputs)
                path.write_text(text, encoding="utf-8")
                for command, code, out in outcome.commands:
                    if code != 0:
                        print(f"{name}: `{command.command}` exited {code}:\n{out}")
                        status = 1
                continue
            if outcome.returncode != 0:
                print(f"{name}: exited {outcome.returncode}\n{outcome.stderr}")
                status = 1
                continue
            out = EXAMPLES / f"{path.stem}.out"
            text = shown(outcome.stdout, outcome.cwd)
            if out.exists() and matches(out.read_text(encoding="utf-8"), text):
                print(f"{name}: ok")
                continue
            if text:
                out.write_text(text + "\n", encoding="utf-8")
            elif out.exists():
                out.unlink()
            print(f"{name}: ok")
        return status


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/test_docs.py --update")
    sys.exit(update())
