"""Where an experiment was made: versions, host and git commit, stored in its metadata."""

from __future__ import annotations

import functools
import platform
import socket
import subprocess
import sys
from importlib import metadata
from typing import Any

_PACKAGES = ("numpy", "pandas", "sqlalchemy", "joblib", "cloudpickle")


@functools.cache
def environment() -> dict[str, Any]:
    """Versions of runtable, Python and key packages, the host name (computed once)."""
    from . import __version__
    from .codec import CODEC_VERSION

    packages: dict[str, str | None] = {}
    for name in _PACKAGES:
        module = sys.modules.get(name)  # an imported package knows its version: no file reads
        version = getattr(module, "__version__", None)
        if version is None:
            try:
                version = metadata.version(name)
            except metadata.PackageNotFoundError:
                version = None
        packages[name] = str(version) if version is not None else None
    return {
        "runtable": __version__,
        "python": platform.python_version(),
        "packages": packages,
        "codec": CODEC_VERSION,
        "host": socket.gethostname(),
    }


def git_commit(path: str = ".") -> str | None:
    """The commit checked out in the git working tree at ``path``, with ``+dirty`` when it has
    uncommitted changes; None outside a git tree or without git. Asked of git once per process
    and directory (two subprocesses): every batch of an incremental persist records it."""
    import os

    return _git_commit(os.path.abspath(path))


@functools.cache
def _git_commit(path: str) -> str | None:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, timeout=5
        )
        if head.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=path,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = head.stdout.strip()
    return commit + ("+dirty" if status.stdout.strip() else "")
