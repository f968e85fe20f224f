"""Shared pytest fixtures for the runtable test suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

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
# Backends
#
# `url` runs a test once per storage backend: SQLite in memory, a SQLite file, a real
# PostgreSQL server, and CrateDB when $RUNTABLE_TEST_CRATEDB_URL names a server (for example
# `docker run -p 4200:4200 crate` and RUNTABLE_TEST_CRATEDB_URL=crate://localhost:4200).
# `shared_url` leaves out in-memory SQLite, for tests that open a second session or process.
# ---------------------------------------------------------------------------------------------
CRATEDB_URL_ENV = "RUNTABLE_TEST_CRATEDB_URL"
FILE_BACKENDS = [
    "sqlite-file",
    pytest.param("postgresql", marks=pytest.mark.postgresql),
    pytest.param("cratedb", marks=pytest.mark.cratedb),
]
BACKENDS = ["sqlite-memory", *FILE_BACKENDS]


def _backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    backend = request.param
    if backend == "sqlite-memory":
        yield "sqlite://"
    elif backend == "sqlite-file":
        yield f"sqlite:///{tmp_path / 'runtable.db'}"
    elif backend == "cratedb":
        url = os.environ.get(CRATEDB_URL_ENV)
        if not url:
            pytest.skip(f"set {CRATEDB_URL_ENV} to a CrateDB URL (crate://host:4200) to run it")
        _empty_cratedb(url)
        yield url
        _empty_cratedb(url)
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


def _empty_cratedb(url: str) -> None:
    """Drop the tables of the `doc` schema (the test server is a throwaway one)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = conn.exec_driver_sql(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'doc'"
            ).scalars()
            for name in list(names):
                conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')
    finally:
        engine.dispose()


def backend_name(session: runtable.Session) -> str:
    """The SQLAlchemy dialect name of a session's database: sqlite, postgresql or crate."""
    return str(session.store.engine.dialect.name)  # type: ignore[attr-defined]


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
