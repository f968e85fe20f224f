"""Shared pytest fixtures for the runtable test suite."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

# ---------------------------------------------------------------------------------------------
# PostgreSQL
#
# `postgres_url` is a SQLAlchemy URL to an empty PostgreSQL database that lasts the session:
# $RUNTABLE_TEST_POSTGRES_URL if set, else a throwaway server started from the local binaries
# (tests/pgserver.py). Without either, tests that use it are skipped, except under CI (CI set),
# where they fail: CI must never skip the PostgreSQL suite silently.
# ---------------------------------------------------------------------------------------------
from pgserver import find_pg_bindir, throwaway_postgres  # tests/ is on sys.path (rootdir conftest)

import runtable

POSTGRES_URL_ENV = "RUNTABLE_TEST_POSTGRES_URL"


def _running_in_ci() -> bool:
    """True when $CI is set to anything but an explicit false."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a PostgreSQL database for this test session."""
    configured = os.environ.get(POSTGRES_URL_ENV)
    if configured:
        yield configured
        return
    bindir = find_pg_bindir()
    if bindir is None:
        message = (
            "PostgreSQL server binaries not found: install them (apt-get install postgresql) "
            f"or set {POSTGRES_URL_ENV} to a SQLAlchemy URL of a server to test against"
        )
        if _running_in_ci():
            pytest.fail(f"CI is set: refusing to skip the PostgreSQL tests. {message}", False)
        pytest.skip(message)
    with throwaway_postgres(bindir) as url:
        yield url


# ------------------------------------------------------------------------- end of PostgreSQL --


# ---------------------------------------------------------------------------------------------
# CrateDB
#
# `cratedb_url` is a SQLAlchemy URL of a CrateDB endpoint for this test session:
# $RUNTABLE_TEST_CRATEDB_URL if set (a real CrateDB server, e.g. `docker run -p 4200:4200 crate`
# and RUNTABLE_TEST_CRATEDB_URL=crate://localhost:4200), else the CrateDB stand-in of
# tests/crate_standin.py: an HTTP server on 127.0.0.1 that speaks CrateDB's protocol, runs the
# SQL on SQLite and enforces the CrateDB rules runtable depends on. It is not CrateDB; the real
# server stays the real check. The stand-in is a separate process, so worker processes of a
# test share it.
# ---------------------------------------------------------------------------------------------
CRATEDB_URL_ENV = "RUNTABLE_TEST_CRATEDB_URL"


@contextmanager
def crate_standin(directory: Path, *args: str) -> Iterator[str]:
    """Start tests/crate_standin.py in a process of its own; yield its crate:// URL."""
    script = Path(__file__).resolve().parent / "crate_standin.py"
    process = subprocess.Popen(
        [sys.executable, str(script), "--dir", str(directory), *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the CrateDB stand-in did not start (it printed {line!r})")
        yield f"crate://127.0.0.1:{int(line.split()[1])}"
    finally:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def cratedb_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLAlchemy URL of a CrateDB server ($RUNTABLE_TEST_CRATEDB_URL) or of the stand-in."""
    configured = os.environ.get(CRATEDB_URL_ENV)
    if configured:
        yield configured
        return
    with crate_standin(tmp_path_factory.mktemp("crate-standin")) as url:
        yield url


def on_crate_standin(url: str) -> bool:
    """Whether ``url`` is the stand-in (tests of its own rules only make sense there)."""
    return not os.environ.get(CRATEDB_URL_ENV) and url.startswith("crate://127.0.0.1:")


# ---------------------------------------------------------------------------- end of CrateDB --


# ---------------------------------------------------------------------------------------------
# Backends
#
# `url` runs a test once per storage backend: SQLite in memory, a SQLite file, a real
# PostgreSQL server, and CrateDB (`cratedb_url`: a real server when $RUNTABLE_TEST_CRATEDB_URL
# names one, else the CrateDB stand-in).
# `shared_url` leaves out in-memory SQLite, for tests that open a second session or process.
# ---------------------------------------------------------------------------------------------
FILE_BACKENDS = [
    "sqlite-file",
    pytest.param("postgresql", marks=pytest.mark.postgresql),
    pytest.param("cratedb", marks=pytest.mark.cratedb),
]
BACKENDS = ["sqlite-memory", *FILE_BACKENDS]


def _backend_id(backend: Any) -> str:
    return str(backend.values[0] if hasattr(backend, "values") else backend)


def except_cratedb(backends: list[Any]) -> list[Any]:
    """``backends`` (BACKENDS or FILE_BACKENDS) without the CrateDB one, for
    ``@pytest.mark.parametrize("url", except_cratedb(BACKENDS), indirect=True)`` (or
    ``shared_url``) on a test that exercises no CrateDB-specific code: say why beside it."""
    return [b for b in backends if _backend_id(b) != "cratedb"]


def backend_cases(
    fixture: str, argname: str, values: list[Any], on_cratedb: list[Any]
) -> pytest.MarkDecorator:
    """Parametrize the backend fixture ``fixture`` ("url" or "shared_url") and ``argname``:
    every value on every other backend, and only the values in ``on_cratedb`` on CrateDB. For
    a test whose values differ only in backend-independent code (say why beside it): CrateDB
    then runs a representative of its own path, not every value again."""
    cases = []
    for backend in BACKENDS if fixture == "url" else FILE_BACKENDS:
        marks = backend.marks if hasattr(backend, "marks") else ()
        ident = _backend_id(backend)
        for value in on_cratedb if ident == "cratedb" else values:
            cases.append(pytest.param(ident, value, marks=marks, id=f"{value!r}-{ident}"))
    return pytest.mark.parametrize((fixture, argname), cases, indirect=[fixture])


def _backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    backend = request.param
    if backend == "sqlite-memory":
        yield "sqlite://"
    elif backend == "sqlite-file":
        yield f"sqlite:///{tmp_path / 'runtable.db'}"
    elif backend == "cratedb":
        url = request.getfixturevalue("cratedb_url")
        empty_cratedb(url)
        yield url
        empty_cratedb(url)
    else:
        url = request.getfixturevalue("postgres_url")
        yield url
        _empty_postgres(url)


def _empty_postgres(url: str) -> None:
    """Drop everything a test created, so the next one starts from an empty database."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    finally:
        engine.dispose()


def empty_cratedb(url: Any, schema: str = "doc") -> None:
    """Drop the tables of one schema of a CrateDB (or the stand-in): the test server is a
    throwaway one."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = conn.exec_driver_sql(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                (schema,),
            ).scalars()
            for name in list(names):
                conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{schema}"."{name}"')
    finally:
        engine.dispose()


def backend_name(session: runtable.Session) -> str:
    """The SQLAlchemy dialect name of a session's database: sqlite, postgresql or crate."""
    import sqlalchemy as sa

    return str(sa.make_url(session.url).get_backend_name())


# ---------------------------------------------------------------------------------------------
# SQL of the tests' own, through the public API
#
# Tests that damage a database on purpose, or look at its tables, do it with SQL through
# `session.query` (which also reaches an in-memory SQLite database), never through runtable's
# storage objects.
# ---------------------------------------------------------------------------------------------


def table_names(session: runtable.Session) -> set[str]:
    """The tables of the session's database (in the schema runtable writes to)."""
    backend = backend_name(session)
    if backend == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    else:
        schema = "'doc'" if backend == "crate" else "current_schema()"
        sql = (
            "SELECT table_name AS name FROM information_schema.tables "
            f"WHERE table_schema = {schema}"
        )
    return set(session.query(sql)["name"])


def blob(session: runtable.Session, data: bytes) -> bytes | str:
    """``data`` as a parameter of `session.query` for a binary column: base64 text on CrateDB,
    which has no binary columns (runtable keeps bytes there as base64)."""
    if backend_name(session) == "crate":
        import base64

        return base64.b64encode(data).decode("ascii")
    return data


def write_sql(session: runtable.Session, sql: str, *tables: str, **params: Any) -> None:
    """Run a statement that changes data (bytes given with `blob`), then make the change
    visible to every reader: CrateDB's reads see a write only after ``REFRESH TABLE``."""
    session.query(sql, params)
    if tables and backend_name(session) == "crate":
        session.query(f"REFRESH TABLE {', '.join(tables)}")


def shrink_cells(
    session: runtable.Session,
    max_cell_bytes: int,
    monkeypatch: pytest.MonkeyPatch | None = None,
    *,
    buffers_above: int | None = None,
) -> None:
    """Make the session store values longer than ``max_cell_bytes`` encoded bytes in parts
    and, with ``buffers_above`` (and ``monkeypatch`` to undo it), write encoded values at least
    that long from the codec's buffers without joining them.

    The private size thresholds the behaviour tests turn (storage's cell limit, 256 MB by
    default and 16 MB on CrateDB; the buffers threshold, 64 MB), so that kilobytes cross them:
    what follows is observed through the public API and SQL only. Every use of storage's
    internals by those tests is here, so a change of them changes this function only."""
    session.store.dialect.max_cell_bytes = max_cell_bytes  # type: ignore[attr-defined]
    if buffers_above is not None:
        assert monkeypatch is not None, "the buffers threshold is module-wide: undo it"
        import runtable.storage.columns as columns

        monkeypatch.setattr(columns, "BUFFERS_ABOVE", buffers_above)


# ------------------------------------------------------------------- end of the tests' own SQL --


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL, once per backend."""
    yield from _backend_url(request, tmp_path)


@pytest.fixture(params=FILE_BACKENDS)
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL that several sessions and processes can open, once per backend."""
    yield from _backend_url(request, tmp_path)


@pytest.fixture
def session(url: str) -> Iterator[runtable.Session]:
    """A Session on each backend, closed after the test."""
    with runtable.connect(url) as s:
        yield s


# ---------------------------------------------------------------------------- end of backends --
