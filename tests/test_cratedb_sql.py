"""CrateDB's statements: every statement the store issues, compiled with its dialect.

These tests build the store's statements exactly as it builds them for a ``crate://`` URL (no
connection is made) and check the SQL text, which the docs quote. The behaviour is covered by
the storage suite and tests/test_cratedb_rules.py, which run against the CrateDB stand-in
(tests/crate_standin.py) in every test run, or a real server when RUNTABLE_TEST_CRATEDB_URL is
set (see tests/conftest.py). The last tests here check the stand-in itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.schema import CreateTable

import runtable as rt
from runtable.storage.bulk import batches_by_size, insert_sql
from runtable.storage.columns import ColumnSpec, encode_column
from runtable.storage.dialects import CrateDBDialect
from runtable.storage.schema import EXPERIMENTS
from runtable.storage.sql import SWAP_SUFFIX, SQLStore

SPECS = [
    ColumnSpec("n", "param", "int"),
    ColumnSpec("model", "param", "str"),
    ColumnSpec("ok", "field", "bool"),
    ColumnSpec("loss", "field", "float", exact=True),
    ColumnSpec("when", "field", "datetime"),
    ColumnSpec("metrics", "field", "json", exact=True),
    ColumnSpec("weights", "field", "blob"),
]


@pytest.fixture
def store() -> Iterator[SQLStore]:
    s = SQLStore("crate://localhost:4200")  # the engine connects lazily: nothing is contacted
    yield s
    s.close()


def _sql(store: SQLStore, statement: sa.ClauseElement) -> str:
    return " ".join(str(statement.compile(dialect=store.engine.dialect)).split())


def test_a_crate_url_gets_the_cratedb_dialect(store: SQLStore) -> None:
    assert isinstance(store.dialect, CrateDBDialect)
    assert not store.dialect.transactional
    assert store.engine.dialect.name == "crate"


def test_experiments_table_ddl(store: SQLStore) -> None:
    ddl = _sql(store, CreateTable(store._experiments))
    assert ddl.startswith("CREATE TABLE experiments (")
    assert "name STRING NOT NULL" in ddl
    assert "PRIMARY KEY (name)" in ddl  # uniqueness by primary key: CrateDB has no UNIQUE
    for blob in ("fields", "config", "pickle"):
        assert f"{blob} STRING INDEX OFF STORAGE WITH (columnstore = false)" in ddl
    assert "meta STRING INDEX OFF STORAGE WITH (columnstore = false)" in ddl
    assert "BLOB" not in ddl
    assert "BYTEA" not in ddl


def test_run_table_ddl_maps_every_kind(store: SQLStore) -> None:
    ddl = _sql(store, CreateTable(store._schema.run_table("sweep", SPECS)))
    assert ddl.startswith("CREATE TABLE e_sweep (")
    expected = [
        "id_run LONG NOT NULL",
        "PRIMARY KEY (id_run)",
        "runtable_status STRING NOT NULL",
        "runtable_error STRING INDEX OFF STORAGE WITH (columnstore = false)",
        "runtable_started_at TIMESTAMP WITHOUT TIME ZONE",
        "runtable_steps STRING INDEX OFF STORAGE WITH (columnstore = false)",
        '"n" LONG',
        '"model" STRING,',
        '"ok" BOOLEAN',
        '"loss" DOUBLE',
        '"when" TIMESTAMP WITHOUT TIME ZONE',
        '"metrics" OBJECT(DYNAMIC)',
        '"weights" STRING INDEX OFF STORAGE WITH (columnstore = false)',
        "runtable_exact STRING INDEX OFF STORAGE WITH (columnstore = false)",
        'WITH ("mapping.total_fields.limit" = 1000)',
    ]
    for part in expected:
        assert part in ddl, part
    assert "__exact" not in ddl  # exact values share one column per row (format 2)


def test_wide_tables_raise_the_field_limit(store: SQLStore) -> None:
    specs = [ColumnSpec(f"f{i}", "field", "float") for i in range(1400)]
    ddl = _sql(store, CreateTable(store._schema.run_table("wide", specs)))
    assert '"mapping.total_fields.limit" = 3000' in ddl  # 1408 columns, room to grow


def test_replace_fills_a_swap_table_and_swaps_it_in(store: SQLStore) -> None:
    swap = store._schema.run_table("sweep", SPECS, suffix=SWAP_SUFFIX)
    assert swap.name == "e_sweep__swap"
    assert store.dialect.swap_tables_sql(swap.name, "e_sweep") == (
        "ALTER CLUSTER SWAP TABLE e_sweep__swap TO e_sweep WITH (drop_source = true)"
    )


def test_refresh_statement(store: SQLStore) -> None:
    dialect = store.engine.dialect
    assert store.dialect.refresh_sql(dialect, ["e_sweep", EXPERIMENTS]) == (
        "REFRESH TABLE e_sweep, experiments"
    )


def test_insert_and_upsert_statements(store: SQLStore) -> None:
    table = store._schema.run_table("sweep", SPECS)
    names = [c.name for c in table.columns]
    insert = insert_sql(table, names, store.engine.dialect)
    assert insert.startswith(
        "INSERT INTO e_sweep (id_run, id_experiment, runtable_status, runtable_error,"
    )
    assert "%(id_run)s" in insert  # the crate driver's pyformat style
    upsert = insert_sql(table, names, store.engine.dialect, upsert=True)
    assert upsert.startswith(insert)
    assert (
        ' ON CONFLICT ("id_run") DO UPDATE SET "id_experiment" = excluded."id_experiment"' in upsert
    )
    assert '"weights" = excluded."weights"' in upsert
    assert '"id_run" = excluded' not in upsert


def test_schema_growth_statements(store: SQLStore) -> None:
    assert store._schema.add_column_sql("e_sweep", "acc", "float") == (
        'ALTER TABLE e_sweep ADD COLUMN "acc" DOUBLE'
    )
    assert store._schema.add_column_sql("e_sweep", "acc__exact", "blob") == (
        'ALTER TABLE e_sweep ADD COLUMN "acc__exact" STRING INDEX OFF STORAGE WITH '
        "(columnstore = false)"
    )
    assert store._schema.add_column_sql("e_sweep", "scores", "json") == (
        'ALTER TABLE e_sweep ADD COLUMN "scores" OBJECT(DYNAMIC)'
    )


def test_reads_updates_and_deletes(store: SQLStore) -> None:
    e = store._experiments
    table = store._schema.run_table("sweep", SPECS)
    assert _sql(store, sa.select(e).where(e.c.name == "sweep")).endswith(
        "FROM experiments WHERE experiments.name = %(name_1)s"
    )
    assert _sql(store, e.update().where(e.c.name == "x").values(n_runs=3)).startswith(
        "UPDATE experiments SET n_runs = %(n_runs)s WHERE experiments.name = %(name_1)s"
    )
    assert _sql(store, e.delete().where(e.c.name == "x")) == (
        "DELETE FROM experiments WHERE experiments.name = %(name_1)s"
    )
    select = _sql(store, sa.select(table).order_by(table.c.id_run).where(sa.text("n > 1")))
    assert select.endswith("FROM e_sweep WHERE n > 1 ORDER BY e_sweep.id_run")
    count = _sql(store, sa.select(sa.func.count()).select_from(table))
    assert count == "SELECT count(*) AS count_1 FROM e_sweep"


def test_bytes_travel_as_base64_text(store: SQLStore) -> None:
    blob = store.dialect.column_type("blob")
    dialect = store.engine.dialect
    bind = blob.bind_processor(dialect)
    result = blob.result_processor(dialect, None)
    assert bind is not None
    assert result is not None
    payload = bytes(range(256))
    text = bind(payload)
    assert isinstance(text, str)
    assert result(text) == payload


def test_values_cratedb_cannot_keep_go_to_the_companion() -> None:
    caps = CrateDBDialect.capabilities
    import datetime as dt

    values = [1.5, math.nan, math.inf, -0.0]
    column = encode_column("float", "x", values, [0, 1, 2, 3], caps)
    assert column.native == [1.5, None, None, 0.0]
    assert column.companion is not None
    assert [c is None for c in column.companion] == [True, False, False, False]

    long_text = "x" * 40_000  # past the 32 KB cap of indexed text
    column = encode_column("str", "s", ["short", long_text], [0, 1], caps)
    assert column.native == ["short", None]

    column = encode_column(
        "datetime",
        "t",
        [dt.datetime(2024, 1, 1, 0, 0, 0, 5000), dt.datetime(2024, 1, 1, 0, 0, 0, 5)],
        [0, 1],
        caps,
    )
    assert column.companion is not None
    assert column.companion[0] is None  # whole milliseconds: exact in a TIMESTAMP
    assert column.companion[1] is not None

    column = encode_column("json", "m", [{"a": 1}], [0], caps)
    assert column.native == [{"a": 1}]
    assert column.companion is not None
    assert column.companion[0] is not None


def test_bulk_inserts_are_split_under_the_request_limit() -> None:
    rows = [{"id": i, "m": {f"k{j}": True for j in range(100)}} for i in range(100)]
    sizes = [CrateDBDialect().row_bytes(row) for row in rows]
    assert sizes[0] > 1000  # the serialized dict, not 16 bytes for it
    batches = list(batches_by_size(rows, sizes, limit=10 * sizes[5] + 5))
    assert sum(len(b) for b in batches) == 100
    assert all(sum(map(CrateDBDialect().row_bytes, b)) <= 10 * sizes[5] + 5 for b in batches)
    assert [len(b) for b in batches_by_size(rows[:2], sizes[:2], limit=1)] == [1, 1]
    assert CrateDBDialect.max_request_bytes is not None
    assert CrateDBDialect.max_request_bytes < 100 * 1024 * 1024


def test_session_on_a_crate_url_does_not_connect_until_used() -> None:
    session = rt.connect("crate://user:secret@localhost:4200")
    assert "secret" not in repr(session)
    experiment = session.create_experiment("offline").add_run(x=1)
    assert len(experiment.runs) == 1


def test_parts_table_of_big_values(store: SQLStore) -> None:
    from runtable.storage.chunks import chunks_table

    ddl = _sql(store, CreateTable(chunks_table(store._schema.column)))
    assert ddl.startswith("CREATE TABLE runtable_chunks (")
    assert "data STRING INDEX OFF STORAGE WITH (columnstore = false)" in ddl
    assert "PRIMARY KEY (id_experiment, id_run, name, part)" in ddl
    assert CrateDBDialect.max_cell_bytes * 4 // 3 < CrateDBDialect.max_request_bytes  # base64


def test_run_tables_are_clustered_by_run_and_shards_come_from_the_url() -> None:
    store = SQLStore("crate://localhost:4200?shards=6")
    ddl = _sql(store, CreateTable(store._schema.run_table("sweep", SPECS)))
    assert "CLUSTERED BY (id_run) INTO 6 SHARDS" in ddl
    assert "shards" not in str(store.engine.url)  # runtable's option, not the driver's
    default = SQLStore("crate://localhost:4200")
    assert "CLUSTERED BY (id_run)" in _sql(
        default, CreateTable(default._schema.run_table("s", SPECS))
    )
    assert "SHARDS" not in _sql(default, CreateTable(default._schema.run_table("s", SPECS)))


def test_adding_columns_raises_the_field_limit_first(store: SQLStore) -> None:
    dialect = store.dialect
    assert isinstance(dialect, CrateDBDialect)
    assert dialect.field_limit_sql("e_sweep", 1400) == (
        'ALTER TABLE e_sweep SET ("mapping.total_fields.limit" = 3000)'
    )


def test_the_object_projection_leaves_out_what_cratedb_would_refuse_or_change() -> None:
    from runtable.storage.crate_objects import indexable

    known = {("m", "n"): "bigint", ("m", "s"): "text"}
    new: dict[tuple[str, ...], str] = {}
    value = {
        "n": 2.5,  # a double into a bigint: CrateDB truncates it
        "s": "ok",
        "f1.macro": 1,  # a dot: refused as a column name
        "x[0]": 1,
        "tab\t": 1,
        "big": "x" * 40_000,  # past 32,766 bytes of indexed text
        "mixed": [1, "a"],  # one element type per list
        "nested": {"a": 1, "b.c": 2},
        "ints": [1, 2],
        "none": None,
    }
    projected = indexable(value, ("m",), known, new)
    assert projected == {"s": "ok", "nested": {"a": 1}, "ints": [1, 2], "none": None}
    assert new == {
        ("m", "nested"): "object",
        ("m", "nested", "a"): "bigint",
        ("m", "ints"): ("bigint_array"),
    }
    # Within one insert the first value types the key, as in CrateDB.
    assert indexable({"nested": {"a": "x"}}, ("m",), known, new) == {"nested": {}}


def test_the_stand_in_checks_statements_with_cratedb_grammar() -> None:
    from crate_standin import SQLError, check_syntax

    check_syntax("ALTER CLUSTER SWAP TABLE e_a__swap TO e_a WITH (drop_source = true)")
    check_syntax('INSERT INTO t ("a") VALUES ($1) ON CONFLICT ("id") DO UPDATE SET a = excluded.a')
    with pytest.raises(SQLError, match="SQLParseException"):
        check_syntax("INSERT INTO t (a) VALUES ($1) ON DUPLICATE KEY UPDATE a = 1")
    with pytest.raises(SQLError, match="SQLParseException"):
        check_syntax("CREATE TABLE t (a STRING) ENGINE = InnoDB")
