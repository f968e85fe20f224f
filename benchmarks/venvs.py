"""Virtual environments of the peer tools, under ``benchmarks/.venvs/<tool>/``.

Each peer gets its own environment, created on first use with ``python -m venv`` and pip, and
reused when present. runtable itself runs in the current interpreter (the repository's install).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENVS = HERE / ".venvs"

#: pip requirements of each peer (latest releases; numpy/pandas for the workloads themselves).
PEERS: dict[str, list[str]] = {
    "mltraq": ["mltraq", "numpy", "pandas"],
    "mlflow": ["mlflow", "numpy", "pandas"],
}


def python_of(tool: str) -> str:
    """The interpreter that runs ``tool``'s workloads (sqlite and runtable: this one)."""
    if tool not in PEERS:
        return sys.executable
    return str(VENVS / tool / "bin" / "python")


def ensure(tool: str, log: Path | None = None) -> str:
    """Create ``tool``'s environment when missing; return its interpreter."""
    python = python_of(tool)
    if tool not in PEERS:
        return python
    marker = VENVS / tool / ".installed"
    if marker.exists():
        return python
    out = open(log, "a") if log else None  # noqa: SIM115 (closed below)
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", "--clear", str(VENVS / tool)], check=True, stdout=out
        )
        pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True, stdout=out, stderr=out)
        subprocess.run([*pip, *PEERS[tool]], check=True, stdout=out, stderr=out)
    finally:
        if out:
            out.close()
    marker.write_text("ok\n")
    return python


def version_of(tool: str, package: str) -> str:
    """The installed version of ``package`` in ``tool``'s environment ('-' when absent)."""
    code = f"import importlib.metadata as m; print(m.version({package!r}))"
    try:
        done = subprocess.run(
            [python_of(tool), "-c", code], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return "-"
    return done.stdout.strip() if done.returncode == 0 else "-"


if __name__ == "__main__":
    for name in sys.argv[1:] or list(PEERS):
        print(name, ensure(name))
