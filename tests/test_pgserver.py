"""The PostgreSQL test server (tests/pgserver.py) and the `postgres_url` fixture."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pgserver import BINDIR_ENV, find_pg_bindir, throwaway_postgres
from sqlalchemy import create_engine, make_url, text


@pytest.mark.postgresql
def test_roundtrip(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            version = conn.execute(text("SHOW server_version")).scalar_one()
            conn.execute(text("CREATE TABLE pgserver_smoke (id integer PRIMARY KEY, name text)"))
            conn.execute(text("INSERT INTO pgserver_smoke VALUES (1, 'grüße')"))
            rows = conn.execute(text("SELECT id, name FROM pgserver_smoke")).all()
            conn.execute(text("DROP TABLE pgserver_smoke"))
    finally:
        engine.dispose()
    assert version[0].isdigit()
    assert [tuple(row) for row in rows] == [(1, "grüße")]


@pytest.mark.postgresql
def test_listens_on_loopback_only(postgres_url: str) -> None:
    if os.environ.get("RUNTABLE_TEST_POSTGRES_URL"):
        pytest.skip("external server from RUNTABLE_TEST_POSTGRES_URL: not ours to check")
    assert make_url(postgres_url).host == "127.0.0.1"
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            listen = conn.execute(text("SHOW listen_addresses")).scalar_one()
            server_addr = conn.execute(text("SELECT host(inet_server_addr())")).scalar_one()
    finally:
        engine.dispose()
    assert listen == "127.0.0.1"
    assert server_addr == "127.0.0.1"


@pytest.mark.postgresql
def test_cleans_up_when_body_raises() -> None:
    bindir = find_pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found")
    with pytest.raises(ZeroDivisionError), throwaway_postgres(bindir) as url:  # noqa: PT012
        engine = create_engine(url)
        with engine.connect() as conn:
            data_dir = Path(conn.execute(text("SHOW data_directory")).scalar_one())
        engine.dispose()
        assert data_dir.is_dir()
        1 / 0  # noqa: B018
    assert not data_dir.parent.exists()


def test_find_pg_bindir_honours_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("initdb", "pg_ctl"):
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(stat.S_IRWXU)
    monkeypatch.setenv(BINDIR_ENV, str(tmp_path))
    assert find_pg_bindir() == tmp_path
    monkeypatch.setenv(BINDIR_ENV, str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match=BINDIR_ENV):
        find_pg_bindir()
