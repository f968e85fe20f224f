"""The CrateDB stand-in enforces the CrateDB rules runtable depends on (tests/crate_standin.py).

These talk to ``cratedb_url`` with crate-python directly, as runtable does. With
RUNTABLE_TEST_CRATEDB_URL set they run against a real CrateDB server, which checks that the
stand-in's rules are CrateDB's (only the refresh-visibility test needs the stand-in: a real
server may refresh on its own at any time).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import crate_standin, on_crate_standin

pytestmark = pytest.mark.cratedb


class Client:
    """crate-python's cursor on one connection."""

    def __init__(self, url: str) -> None:
        from crate import client

        self.connection = client.connect(url.replace("crate://", "http://"))
        self.cursor = self.connection.cursor()

    def sql(self, stmt: str, args: list[Any] | None = None) -> list[Any]:
        self.cursor.execute(stmt, args)
        return list(self.cursor.fetchall()) if self.cursor.description else []

    def bulk(self, stmt: str, rows: list[list[Any]]) -> list[dict[str, Any]]:
        return list(self.cursor.executemany(stmt, rows))


@pytest.fixture
def db(cratedb_url: str) -> Iterator[tuple[Client, str]]:
    client = Client(cratedb_url)
    name = f"standin_{uuid.uuid4().hex[:8]}"
    client.sql(f"CREATE TABLE {name} (id BIGINT PRIMARY KEY, s TEXT, m OBJECT(DYNAMIC))")
    yield client, name
    client.sql(f"DROP TABLE IF EXISTS {name}")
    client.connection.close()


def _refused(results: list[dict[str, Any]]) -> list[bool]:
    return [r["rowcount"] == -2 for r in results]


def test_bulk_errors_are_rowcount_minus_two_and_the_rest_goes_in(db: tuple[Client, str]) -> None:
    client, t = db
    results = client.bulk(f"INSERT INTO {t} (id, s) VALUES (?, ?)", [[1, "a"], [1, "b"], [2, "c"]])
    assert _refused(results) == [False, True, False]
    assert "DuplicateKeyException" in results[1]["error"]["message"]
    client.sql(f"REFRESH TABLE {t}")
    assert client.sql(f"SELECT id, s FROM {t} ORDER BY id") == [[1, "a"], [2, "c"]]


def test_object_keys_are_typed_by_their_first_value(db: tuple[Client, str]) -> None:
    client, t = db
    rows = [[1, {"a": 1}], [2, {"a": "x"}], [3, {"a": 2.5}], [4, {"a": True}], [5, {"a": [1]}]]
    results = client.bulk(f"INSERT INTO {t} (id, m) VALUES (?, ?)", rows)
    # 2.5 goes in (truncated to 2 by LongType.sanitizeValue); text, bool and array do not.
    assert _refused(results) == [False, True, False, True, True]
    client.sql(f"REFRESH TABLE {t}")
    assert client.sql(f"SELECT m['a'] FROM {t} ORDER BY id") == [[1], [2]]


@pytest.mark.parametrize("key", ["f1.macro", "a[0]", "tab\there", "new\nline", "cr\rkey"])
def test_object_keys_are_validated_like_column_names(db: tuple[Client, str], key: str) -> None:
    client, t = db
    results = client.bulk(f"INSERT INTO {t} (id, m) VALUES (?, ?)", [[1, {key: 1}], [2, {}]])
    assert _refused(results) == [True, False]


def test_indexed_text_is_at_most_32766_bytes(db: tuple[Client, str]) -> None:
    client, t = db
    fits, too_long = "é" * 16_383, "é" * 16_384  # 32,766 and 32,768 bytes
    rows = [[1, fits, None], [2, too_long, None], [3, None, {"t": too_long}], [4, None, {"t": "x"}]]
    results = client.bulk(f"INSERT INTO {t} (id, s, m) VALUES (?, ?, ?)", rows)
    assert _refused(results) == [False, True, True, False]
    name = f"{t}_off"
    client.sql(f"CREATE TABLE {name} (id BIGINT PRIMARY KEY, s TEXT INDEX OFF)")
    try:
        results = client.bulk(f"INSERT INTO {name} (id, s) VALUES (?, ?)", [[1, too_long]])
        assert _refused(results) == [False]
    finally:
        client.sql(f"DROP TABLE {name}")


def test_the_column_limit_counts_object_sub_columns(db: tuple[Client, str]) -> None:
    client, t = db
    client.sql(f'ALTER TABLE {t} SET ("mapping.total_fields.limit" = 10)')
    wide = {f"k{j}": j for j in range(8)}  # 3 columns + 8 sub-columns > 10
    results = client.bulk(f"INSERT INTO {t} (id, m) VALUES (?, ?)", [[1, wide], [2, {"k": 1}]])
    assert _refused(results) == [True, False]
    assert "Limit of total columns [10]" in results[0]["error"]["message"]
    columns = client.sql(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [t]
    )
    assert sorted(c for (c,) in columns) == ["id", "m", "m['k']", "s"]


def test_on_conflict_target_must_be_the_primary_key(db: tuple[Client, str]) -> None:
    from crate.client.exceptions import ProgrammingError

    client, t = db
    with pytest.raises(ProgrammingError, match="did not match"):
        client.sql(f"INSERT INTO {t} (id, s) VALUES (?, ?) ON CONFLICT (s) DO NOTHING", [1, "a"])
    upsert = f"INSERT INTO {t} (id, s) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET s = excluded.s"
    client.bulk(upsert, [[1, "a"], [1, "b"]])
    assert client.sql(f"SELECT s FROM {t} WHERE id = 1") == [["b"]]


def test_swap_and_refresh_need_existing_tables(db: tuple[Client, str]) -> None:
    from crate.client.exceptions import ProgrammingError

    client, t = db
    missing = f"{t}_missing"
    with pytest.raises(ProgrammingError, match="unknown"):
        client.sql(f"ALTER CLUSTER SWAP TABLE {missing} TO {t}")
    with pytest.raises(ProgrammingError, match="unknown"):
        client.sql(f"REFRESH TABLE {t}, {missing}")
    other = f"{t}_other"
    client.sql(f"CREATE TABLE {other} (id BIGINT PRIMARY KEY, s TEXT, m OBJECT(DYNAMIC))")
    client.sql(f"INSERT INTO {other} (id, s) VALUES (7, 'swapped')")
    client.sql(f"ALTER CLUSTER SWAP TABLE {other} TO {t} WITH (drop_source = true)")
    assert client.sql(f"SELECT s FROM {t} WHERE id = 7") == [["swapped"]]
    tables = client.sql(
        "SELECT table_name FROM information_schema.tables WHERE table_name = ?", [other]
    )
    assert tables == []


def test_requests_over_the_content_length_cap_are_refused(tmp_path: Path, cratedb_url: str) -> None:
    from crate.client.exceptions import ProgrammingError

    if not on_crate_standin(cratedb_url):
        pytest.skip("a real server's cap is 100 MB: too big to send in a test")
    with crate_standin(tmp_path / "capped", "--max-content-length", "100000") as url:
        client = Client(url)
        client.sql("CREATE TABLE t (id BIGINT PRIMARY KEY, s TEXT INDEX OFF)")
        client.bulk("INSERT INTO t (id, s) VALUES (?, ?)", [[1, "x" * 90_000]])
        with pytest.raises(ProgrammingError, match="413"):  # gzip does not help: it is inflated
            client.bulk("INSERT INTO t (id, s) VALUES (?, ?)", [[2, "x" * 100_001]])


def test_reads_see_writes_after_refresh_except_primary_key_lookups(
    db: tuple[Client, str], cratedb_url: str
) -> None:
    if not on_crate_standin(cratedb_url):
        pytest.skip("a real server refreshes on its own every second")
    client, t = db
    client.bulk(f"INSERT INTO {t} (id, s) VALUES (?, ?)", [[1, "a"], [2, "b"]])
    assert client.sql(f"SELECT s FROM {t} WHERE id = 1") == [["a"]]  # a get: sees it
    assert client.sql(f"SELECT s FROM {t} WHERE id IN (1, 2) ORDER BY s") == [["a"], ["b"]]
    assert client.sql(f"SELECT count(*) FROM {t}") == [[0]]  # a collect: not yet
    assert client.sql(f"SELECT s FROM {t} WHERE s = 'a'") == []
    assert client.sql(f"DELETE FROM {t} WHERE s = 'a'") == []  # deletes by query: nothing
    client.sql(f"REFRESH TABLE {t}")
    assert client.sql(f"SELECT count(*) FROM {t}") == [[2]]
    client.sql(f"DELETE FROM {t} WHERE s = 'a'")
    assert client.sql(f"SELECT count(*) FROM {t}") == [[2]]  # until the next refresh
    client.sql(f"REFRESH TABLE {t}")
    assert client.sql(f"SELECT id FROM {t}") == [[2]]
