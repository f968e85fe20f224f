"""The README's commands and its sweep tour work as printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_readme_opens_with_the_install_and_test_commands() -> None:
    first, second = _blocks("bash")[:2]
    assert first.strip().startswith(
        "python3 -m venv .venv && . .venv/bin/activate && pip install ."
    )
    assert "examples/coins_generate.py" in first
    assert second.strip() == 'pip install -e ".[dev]" && python -m pytest'
    ci = (ROOT / ".ci" / "run").read_text()
    assert f"TEST_COMMAND='{second.strip()}'" in ci  # CI runs exactly the README's command


def test_the_sweep_tour_runs(tmp_path: Path) -> None:
    tour = next(b for b in _blocks("python") if "A sweep" in b or "add_runs" in b)
    script = tmp_path / "tour.py"
    script.write_text(tour)
    env = {k: v for k, v in os.environ.items() if k != "RUNTABLE_URL"}
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "err" in done.stdout
    assert (tmp_path / "runtable.db").exists()
