"""A throwaway PostgreSQL server for the test suite.

:func:`throwaway_postgres` builds a fresh cluster in a temporary directory, starts it on
``127.0.0.1`` at a free port with settings tuned for speed rather than durability, creates the
database ``runtable_test`` and yields a SQLAlchemy URL for it. On exit the server is stopped
and the directory removed, also when the body raised.

PostgreSQL refuses to run as root; when the tests run as root the server runs as the
``postgres`` system user (created if missing) through ``runuser`` (or ``su``).

This module only needs the standard library plus ``psycopg`` (for the readiness check and
for creating the database); it does not import pytest.
"""

from __future__ import annotations

import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = ["BINDIR_ENV", "DATABASE", "find_pg_bindir", "throwaway_postgres"]

#: Environment variable naming a directory with the server binaries (``initdb``, ``pg_ctl``).
BINDIR_ENV = "RUNTABLE_PG_BINDIR"
#: Name of the database created in the throwaway cluster.
DATABASE = "runtable_test"
#: Name of the cluster's superuser (the user in the yielded URL).
SUPERUSER = "postgres"
#: System user that runs the server when the tests run as root.
SYSTEM_USER = "postgres"

_START_TIMEOUT = 60.0  # seconds; a healthy server starts in about a second
_PORT_ATTEMPTS = 5
_SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "32MB",
    "max_connections": "50",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "logging_collector": "off",
}


def _has_server_binaries(path: Path) -> bool:
    """True if ``path`` holds executable ``initdb`` and ``pg_ctl``."""
    return all(
        (path / name).is_file() and os.access(path / name, os.X_OK) for name in ("initdb", "pg_ctl")
    )


def _version_key(path: Path) -> tuple[int, ...]:
    """Sort key for ``/usr/lib/postgresql/<version>/bin`` (``15`` > ``9.6``)."""
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name))


def find_pg_bindir() -> Path | None:
    """Return a directory holding the PostgreSQL server binaries, or ``None``.

    Looked up in order: ``$RUNTABLE_PG_BINDIR`` (an error if set but lacking the binaries),
    ``pg_config --bindir`` (only if it holds ``initdb`` and ``pg_ctl``: Debian's ``libpq-dev``
    ships a ``pg_config`` without the server), then the newest
    ``/usr/lib/postgresql/*/bin`` that holds them.
    """
    configured = os.environ.get(BINDIR_ENV)
    if configured:
        path = Path(configured)
        if not _has_server_binaries(path):
            raise FileNotFoundError(f"${BINDIR_ENV}={configured} lacks initdb or pg_ctl")
        return path

    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and _has_server_binaries(Path(out)):
            return Path(out)

    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if _has_server_binaries(p)]
    if candidates:
        return max(candidates, key=_version_key)
    return None


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _world_traversable(path: Path) -> bool:
    """True if every directory from ``/`` down to ``path`` is searchable by anyone."""
    path = path.resolve()
    for directory in (path, *path.parents):
        try:
            if not directory.stat().st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    """Return the passwd entry of ``name``, creating it as a system user if missing."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    subprocess.run(
        [
            *("useradd", "--system", "--user-group", "--no-create-home"),
            *("--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name),
        ],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(name)


def _as_user(user: str | None, cmd: Sequence[str]) -> list[str]:
    """``cmd`` wrapped to run as ``user`` (``None``: as ourselves) via ``runuser`` or ``su``."""
    if user is None:
        return list(cmd)
    runuser = shutil.which("runuser")
    if runuser is not None:
        return [runuser, "-u", user, "--", *cmd]
    su = shutil.which("su")
    if su is not None:
        return [su, "-s", "/bin/sh", user, "-c", shlex.join(cmd)]
    raise FileNotFoundError(f"neither runuser nor su found: cannot run PostgreSQL as {user}")


def _clean_env() -> dict[str, str]:
    """Our environment without libpq's ``PG*`` variables and with the C locale."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C", LANG="C")
    env.pop("LANGUAGE", None)
    return env


def _tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a text file ("" if unreadable)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class _Cluster:
    """Commands against one data directory, run as the right OS user."""

    def __init__(self, bindir: Path, root: Path, user: str | None) -> None:
        self.bindir = bindir
        self.root = root
        self.data = root / "data"
        self.sockets = root / "sockets"
        self.log = root / "server.log"
        self.user = user
        self.env = _clean_env()

    def run(self, program: str, *args: str, timeout: float = _START_TIMEOUT) -> str:
        """Run a server program; raise ``RuntimeError`` with its output if it fails."""
        cmd = _as_user(self.user, [str(self.bindir / program), *args])
        proc = subprocess.run(
            cmd,
            cwd=self.root,  # the server user may not be able to enter our cwd
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"{shlex.join(cmd)} failed with exit code {proc.returncode}:\n"
                f"{proc.stdout}{proc.stderr}"
            )
        return proc.stdout

    def init(self) -> None:
        """Create the cluster and append the fast, local-only settings."""
        self.run(
            "initdb",
            "--pgdata", str(self.data),
            "--username", SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )  # fmt: skip
        settings = dict(_SERVER_SETTINGS, unix_socket_directories=f"'{self.sockets}'")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# runtable throwaway test server\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def start(self) -> int:
        """Start the server on a free port (retrying on a clash); return the port."""
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            port = _free_port()
            log_size = self.log.stat().st_size if self.log.exists() else 0
            try:
                self.run(
                    "pg_ctl", "start", "--wait", "--timeout", str(int(_START_TIMEOUT)),
                    "--pgdata", str(self.data),
                    "--log", str(self.log),
                    "--options", f"-p {port}",
                )  # fmt: skip
                return port
            except RuntimeError as exc:
                new_log = ""
                if self.log.exists():
                    with self.log.open(errors="replace") as log:
                        log.seek(log_size)
                        new_log = log.read()
                if "could not bind" in new_log and attempt < _PORT_ATTEMPTS:
                    continue
                raise RuntimeError(f"{exc}\nserver log:\n{_tail(self.log)}") from None
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """Stop the server at once; kill the postmaster if ``pg_ctl`` cannot."""
        if not (self.data / "postmaster.pid").exists():
            return
        try:
            self.run("pg_ctl", "stop", "--wait", "--pgdata", str(self.data), "--mode=immediate")
        except (RuntimeError, subprocess.TimeoutExpired):
            try:
                pid = int((self.data / "postmaster.pid").read_text().split()[0])
                os.kill(pid, signal.SIGKILL)
            except (OSError, ValueError, IndexError):
                pass


def _wait_until_ready(host: str, port: int, log: Path, timeout: float = _START_TIMEOUT) -> None:
    """Connect until the server answers, then create :data:`DATABASE`."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = psycopg.connect(
                host=host, port=port, user=SUPERUSER, dbname="postgres", connect_timeout=5
            )
            break
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"PostgreSQL on {host}:{port} did not accept connections within "
                    f"{timeout:.0f} s: {exc}\nserver log:\n{_tail(log)}"
                ) from exc
            time.sleep(0.05)
    with conn:
        conn.autocommit = True
        conn.execute(f'CREATE DATABASE "{DATABASE}"')


@contextmanager
def throwaway_postgres(bindir: Path | None = None) -> Iterator[str]:
    """Run a disposable PostgreSQL server; yield a SQLAlchemy URL to an empty database.

    The URL is ``postgresql+psycopg://postgres@127.0.0.1:PORT/runtable_test`` (trust
    authentication, no password). ``bindir`` defaults to :func:`find_pg_bindir`. The server
    listens on 127.0.0.1 only, keeps its unix socket inside its temporary directory, and is
    stopped (immediate mode) and deleted on exit, also when the body raised. Raises
    ``FileNotFoundError`` if no binaries are found and ``RuntimeError`` (with the end of the
    server log) if the server does not come up.
    """
    if bindir is None:
        bindir = find_pg_bindir()
        if bindir is None:
            raise FileNotFoundError(
                f"PostgreSQL server binaries not found (install postgresql or set ${BINDIR_ENV})"
            )

    as_root = os.geteuid() == 0
    base = Path(tempfile.gettempdir())
    # The server user must be able to reach its directory, and the unix socket path must
    # stay short (about 100 bytes at most): fall back to /tmp otherwise.
    if (as_root and not _world_traversable(base)) or len(str(base)) > 40:
        base = Path("/tmp")
    root = Path(tempfile.mkdtemp(prefix="runtable-pg-", dir=base))  # mode 0o700
    try:
        cluster = _Cluster(bindir, root, SYSTEM_USER if as_root else None)
        cluster.sockets.mkdir(mode=0o700)
        if as_root:
            user = _ensure_system_user(SYSTEM_USER)
            for path in (root, cluster.sockets):
                os.chown(path, user.pw_uid, user.pw_gid)
        try:
            cluster.init()
            port = cluster.start()
            _wait_until_ready("127.0.0.1", port, cluster.log)
            yield f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{port}/{DATABASE}"
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
