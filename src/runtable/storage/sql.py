"""The SQLAlchemy store: an ``experiments`` table plus one ``e_<name>`` table per experiment.

Layout of ``e_<name>`` (storage format 2): ``id_run`` (primary key), ``id_experiment``,
``runtable_status``, ``runtable_error``, ``runtable_started_at``, ``runtable_ended_at``,
``runtable_steps``, one column per param, one per field, and ``runtable_exact``: per row, the
exact values of the cells whose native column cannot keep them (see `runtable.storage.columns`;
how runs become rows is in `runtable.storage.layout`). Format 1 tables (runtable 0.1) are read
too. The ``experiments`` row is written last, so it marks a complete
experiment; on backends with transactions everything of one persist commits together.

The tables' definitions and DDL are in `runtable.storage.schema`, the bulk transfer of rows in
`runtable.storage.bulk`; this module holds the transactions and what goes in which table.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa

from .. import codec
from ..clock import utcnow
from ..errors import (
    ConflictError,
    CorruptValueError,
    ExperimentExistsError,
    ExperimentNotFoundError,
    SchemaError,
    StorageError,
    UnsupportedValueError,
)
from ..frame import ABSENT, FloatColumn, RunFrame
from ..names import (
    ENDED_AT_COLUMN,
    ERROR_COLUMN,
    EXACT_COLUMN,
    STARTED_AT_COLUMN,
    STATUS_COLUMN,
    STEPS_COLUMN,
    table_name,
)
from . import bulk, hide_password, layout
from .base import IF_EXISTS, ExperimentData, IfExists, StaleRunsError, Store, StoredExperiment
from .chunks import TABLE, is_reference, parts_of, read_value, split_big_values
from .columns import (
    ColumnSpec,
    EncodedColumn,
)
from .dialects import dialect_for
from .schema import EXPERIMENTS, Schema

if TYPE_CHECKING:
    import pandas as pd

#: Suffix of the table a replace fills before swapping it in (backends without transactions).
SWAP_SUFFIX = "__swap"
#: Reads of an experiment that a concurrent replace keeps changing, before giving up.
LOAD_ATTEMPTS = 20
#: Without transactions: tries of a persist that meets another writer creating the same
#: experiment, and how long to wait for that writer's experiments row.
CREATE_ATTEMPTS = 3
CREATE_WAIT_SECONDS = 10.0

_log = logging.getLogger(__name__)


class SQLStore(Store):
    """A Store on any database SQLAlchemy reaches and runtable has a Dialect for.

    Besides the Store contract, the stores that keep tables beside the experiments in the same
    database (the model store) use ``engine`` (the SQLAlchemy Engine), ``dialect`` (runtable's
    `Dialect` of the backend) and `transaction`.
    """

    def __init__(self, url: str | sa.URL, **engine_kwargs: Any) -> None:
        try:
            parsed = sa.make_url(url)
        except (sa.exc.ArgumentError, ValueError) as e:  # ValueError: a port that is no number
            raise StorageError(
                f"{hide_password(str(url))!r} is not a database URL ({e}); use a SQLAlchemy URL "
                "such as 'sqlite:///runtable.db' or 'postgresql://user@host:5432/db'"
            ) from e
        self.dialect = dialect_for(parsed)
        parsed = self.dialect.normalize_url(parsed)
        try:
            self.engine = sa.create_engine(
                parsed, **{**self.dialect.engine_kwargs(parsed), **engine_kwargs}
            )
        except ModuleNotFoundError as e:
            raise StorageError(
                f"the database driver for {parsed.drivername!r} is not installed ({e.name}); "
                f"for PostgreSQL: pip install 'runtable[postgresql]'"
            ) from e
        self.dialect.configure(self.engine)
        self.url = parsed.render_as_string(hide_password=True)
        self._schema = Schema(self.dialect, self.engine.dialect, self.url)
        self._experiments = self._schema.experiments

    # -- writing -----------------------------------------------------------------------------

    def save(self, experiment: ExperimentData, runs: RunFrame, *, if_exists: IfExists) -> str:
        for _ in range(CREATE_ATTEMPTS - 1):
            with contextlib.suppress(_CreatedMeanwhileError):
                return self._save(experiment, runs, if_exists=if_exists)
        return self._save(experiment, runs, if_exists=if_exists)

    def _save(self, experiment: ExperimentData, runs: RunFrame, *, if_exists: IfExists) -> str:
        if if_exists not in IF_EXISTS:
            raise ValueError(f"if_exists must be one of {IF_EXISTS}, not {if_exists!r}")
        name = experiment.name
        # With a pickle, values the codec refuses are kept in the pickle only.
        skipped: list[UnsupportedValueError] | None = [] if experiment.pickle is not None else None
        fields_blob = layout.encode_experiment_value(experiment.fields, "fields", skipped)
        config_blob = layout.encode_experiment_value(experiment.config, "config", skipped)
        now = utcnow()
        with self._connect(f"persist experiment {name!r}", write=True) as conn:
            self._schema.ensure_experiments(conn)
            self.dialect.lock(conn, name)
            stored = self._select_row(conn, name)
            if stored is not None and if_exists == "fail":
                raise ExperimentExistsError(name)
            since = experiment.changed_since
            if since is not None and (stored is None or stored["id"] != since):
                raise StaleRunsError(f"experiment {name!r}: the version {since} is not stored")
            if stored is not None and if_exists == "append":
                self._append(conn, experiment, runs, stored, fields_blob, config_blob, now, skipped)
                return str(stored["id"])
            specs, encoded = layout.plan(runs, {}, self.dialect.capabilities, skipped)
            exp_id = uuid.uuid4().hex
            row = {
                "name": name,
                "id": exp_id,
                "table_name": table_name(name),
                "created_at": now,
                "updated_at": now,
                "n_runs": len(runs),
                "seed": _seed_column(experiment.seed),
                "fields": fields_blob,
                "config": config_blob,
                "meta": layout.dump_meta(experiment.meta, specs, skipped),
                "pickle": experiment.pickle,
            }
            if stored is None:
                try:
                    self._create(conn, name, specs, encoded, runs, row)
                except _CreatedMeanwhileError:
                    if if_exists == "fail":
                        raise ExperimentExistsError(name) from None
                    raise  # save() tries again: now it appends or replaces
            elif self.dialect.transactional:  # the drop commits only with the new version
                conn.execute(sa.text(f"DROP TABLE {self._schema.quote(stored['table_name'])}"))
                conn.execute(self._experiments.delete().where(self._experiments.c.name == name))
                self._delete_chunks(conn, stored["id"])
                self._create(conn, name, specs, encoded, runs, row)
            else:
                self._replace_by_swap(conn, name, specs, encoded, runs, row)
                self._delete_chunks(conn, stored["id"])
        return exp_id

    def _create(
        self,
        conn: sa.Connection,
        name: str,
        specs: list[ColumnSpec],
        encoded: Mapping[str, EncodedColumn],
        runs: RunFrame,
        row: Mapping[str, Any],
    ) -> None:
        """A new run table, filled, then the experiments row that marks it complete. Without
        transactions, a failure before that row drops the new table again."""
        table = self._schema.run_table(name, specs)
        if sa.inspect(conn).has_table(table.name) and not self._created_meanwhile(conn, name):
            raise SchemaError(
                f"table {table.name!r} exists but no experiment {name!r} is recorded in "
                f"{EXPERIMENTS!r}; it was not made by runtable (or is a leftover of a crash): "
                "drop it or choose another experiment name"
            )
        try:
            table.create(conn)
        except sa.exc.SQLAlchemyError:
            if sa.inspect(conn).has_table(table.name):  # another writer's, just now?
                self._created_meanwhile(conn, name)
            raise
        try:
            self._insert_runs(conn, table, row["id"], runs, specs, encoded)
            self.dialect.refresh(conn, [table.name])
            conn.execute(self._experiments.insert().values(**row))
            self.dialect.refresh(conn, [EXPERIMENTS])
        except BaseException:
            if not self.dialect.transactional:
                with contextlib.suppress(sa.exc.SQLAlchemyError):
                    table.drop(conn)
            raise

    def _created_meanwhile(self, conn: sa.Connection, name: str) -> bool:
        """Without transactions, another writer may create experiment ``name`` while this one
        does: raise _CreatedMeanwhileError once its experiments row appears, or its table is
        gone again (its persist failed). False when neither happens (a stray table)."""
        if self.dialect.transactional:
            return False
        found = {c["name"] for c in self._schema.columns_of(conn, table_name(name))}
        if not {c.name for c in self._schema.run_table(name, []).columns} <= found:
            return False  # not a run table: nobody is creating the experiment
        deadline = time.monotonic() + CREATE_WAIT_SECONDS
        while time.monotonic() < deadline:
            if self._select_row(conn, name) is not None:
                raise _CreatedMeanwhileError(name)
            if not sa.inspect(conn).has_table(table_name(name)):
                raise _CreatedMeanwhileError(name)
            time.sleep(0.05)
        return False

    def _replace_by_swap(
        self,
        conn: sa.Connection,
        name: str,
        specs: list[ColumnSpec],
        encoded: Mapping[str, EncodedColumn],
        runs: RunFrame,
        row: Mapping[str, Any],
    ) -> None:
        """Replace without transactions: fill a new table beside the old one, swap the two in
        one statement, then point the experiments row at the new version. Until the swap the
        old version is complete and visible; readers that see the new table before the new
        row retry (the run rows carry the experiment id)."""
        # A name of its own: two replacers at once never fill one table.
        table = self._schema.run_table(name, specs, suffix=f"{SWAP_SUFFIX}_{uuid.uuid4().hex[:8]}")
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {self._schema.quote(table.name)}"))
        table.create(conn)
        try:
            self._insert_runs(conn, table, row["id"], runs, specs, encoded)
        except BaseException:
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                table.drop(conn)
            raise
        self.dialect.refresh(conn, [table.name])
        conn.exec_driver_sql(
            self.dialect.swap_tables_sql(self._schema.quote(table.name), row["table_name"])
        )
        values = {k: v for k, v in row.items() if k != "name"}
        conn.execute(
            self._experiments.update().where(self._experiments.c.name == name).values(**values)
        )
        self.dialect.refresh(conn, [EXPERIMENTS])

    def _append(
        self,
        conn: sa.Connection,
        experiment: ExperimentData,
        runs: RunFrame,
        stored: Mapping[str, Any],
        fields_blob: bytes,
        config_blob: bytes,
        now: datetime,
        skipped: list[UnsupportedValueError] | None,
    ) -> None:
        specs, n_new = self._write_runs(conn, experiment, runs, stored, skipped=skipped)
        self._update_row(
            conn, experiment, stored, specs, fields_blob, config_blob, now, skipped, n_new
        )

    def save_runs(self, experiment: ExperimentData, runs: RunFrame) -> datetime:
        """Write ``runs`` into a stored experiment, replacing stored runs of the same ids (which
        must have the same params), and update the experiment's row. One transaction. Returns
        the ``updated_at`` written."""
        name = experiment.name
        encoded = experiment.encoded
        if not encoded:
            encoded["fields"] = layout.encode_experiment_value(experiment.fields, "fields")
            encoded["config"] = layout.encode_experiment_value(experiment.config, "config")
        fields_blob, config_blob = encoded["fields"], encoded["config"]
        with self._connect(f"save runs of experiment {name!r}", write=True) as conn:
            self.dialect.lock(conn, name)
            stored = self._select_row(conn, name) if self._schema.has_experiments(conn) else None
            if stored is None:
                raise ExperimentNotFoundError(name, self.url)
            # Runs this writer stored, with nobody else writing since: no need to read them.
            known = (
                experiment.written_at is not None
                and stored["updated_at"] == experiment.written_at
                and stored["id"] == experiment.version
            )
            specs, n_new = self._write_runs(conn, experiment, runs, stored, known=known)
            now = utcnow()
            self._update_row(
                conn, experiment, stored, specs, fields_blob, config_blob, now, n_new=n_new
            )
        return now

    def _write_runs(
        self,
        conn: sa.Connection,
        experiment: ExperimentData,
        runs: RunFrame,
        stored: Mapping[str, Any],
        *,
        skipped: list[UnsupportedValueError] | None = None,
        known: bool = False,
    ) -> tuple[list[ColumnSpec], int]:
        """Write runs into a stored experiment's table: new runs inserted, stored runs of the
        same ids updated (the columns these runs carry, the others kept), columns added or
        widened as needed; return the columns and how many runs are new. Refuses a stored id
        with other params and a new grid point that is stored under another id
        (ConflictError). Without transactions the rows are not refreshed yet: _update_row does
        that after the experiments row.

        ``known``: every run is stored as this writer stored it (same params, every stored
        column among the runs' own), so they are not read back first."""
        name = experiment.name
        if experiment.version is not None and stored["id"] != experiment.version:
            raise ConflictError(
                f"experiment {name!r} in {self.url} was replaced since these runs were loaded "
                f"or stored (their version {experiment.version}, stored now {stored['id']}); "
                "appending them would mix the two versions' runs. Load it again "
                "(exp.reload()) to go on from what is stored, or persist with "
                "if_exists='replace' to store these runs instead"
            )
        storage_format, stored_specs = layout.read_meta(stored["meta"], name)
        _check_format(name, storage_format)
        old_specs = {s.name: s for s in stored_specs}
        old_table = self._schema.run_table(name, stored_specs)
        ids = runs.ids
        present: Mapping[int, Any]
        exact_maps: dict[int, dict[str, bytes]]
        own = runs.params.keys() | runs.fields.keys()
        if known and all(s.name in own for s in stored_specs):  # no exact value to keep
            present, exact_maps = dict.fromkeys(ids), {}
        else:
            present, exact_maps = self._stored_runs(conn, old_table, stored_specs, ids, name)
            layout.check_same_grid_points(name, runs, present)
            if any(g and rid not in present for g, rid in zip(runs.grid, ids, strict=True)):
                every = self._stored_runs(conn, old_table, stored_specs, None, name)[0]
                layout.check_new_grid_points(name, runs, every)
        specs, encoded = layout.plan(runs, old_specs, self.dialect.capabilities, skipped)
        missing = [(s.name, s.kind) for s in specs if s.name not in old_specs]
        wider = [(s, old_specs[s.name]) for s in specs if s.name in old_specs]
        wider = [(spec, old) for spec, old in wider if spec.kind != old.kind]
        # Read before the column changes: the values of the other rows, kept exactly.
        kept = self._exact_before_widening(conn, old_table, stored["id"], wider, ids, name)
        for spec, old in wider:
            self._schema.widen_column(conn, old_table.name, spec.name, old.kind, spec.kind)
        if kept:
            update = (
                old_table.update()
                .where(old_table.c.id_run == sa.bindparam("run"))
                .values({EXACT_COLUMN: sa.bindparam("exact")})
            )
            conn.execute(update, [{"run": rid, "exact": raw} for rid, raw in kept.items()])
        if missing:  # room first (CrateDB's field limit), then the columns
            self.dialect.make_room(conn, self._schema.quote(old_table.name), len(missing))
            for column, kind in missing:
                self._schema.add_column(conn, old_table.name, column, kind)
        table = self._schema.run_table(name, specs)
        upsert = bool(present)
        if present:  # the big values about to be rewritten lose their old parts
            written = [*encoded, EXACT_COLUMN]
            self._delete_chunks(conn, stored["id"], sorted(present), written)
        try:
            self._insert_runs(
                conn, table, stored["id"], runs, specs, encoded, upsert=upsert, keep=exact_maps
            )
        except bulk.RefusedRowError as e:
            if not self.dialect.transactional and not upsert:  # the rows written go again
                for chunk in bulk.batches(e.written, 500):
                    conn.execute(table.delete().where(table.c.id_run.in_(chunk)))
                self.dialect.refresh(conn, [table.name])
            if e.duplicate:
                raise ConflictError(
                    f"another writer stored run {e.run_id} of experiment {name!r} at the same "
                    "time; nothing of this write was kept: load the experiment and persist again"
                ) from e
            raise
        return specs, sum(1 for rid in ids if rid not in present)

    def _exact_before_widening(
        self,
        conn: sa.Connection,
        table: sa.Table,
        exp_id: str,
        wider: Sequence[tuple[ColumnSpec, ColumnSpec]],
        ids: Sequence[int],
        name: str,
    ) -> dict[int, bytes]:
        """A column that widens (bool to int or float, int to float) would read its other
        rows' values as the wider kind (another process's ``False`` as ``0``, its ``3`` as
        ``3.0``): the new ``runtable_exact`` maps of the rows this write leaves out, with
        their values of those columns kept exactly, by run id."""
        changing = [(spec, old) for spec, old in wider if old.kind in ("bool", "int")]
        if not changing:
            return {}
        columns = [table.c.id_run, table.c[EXACT_COLUMN], *(table.c[o.name] for _, o in changing)]
        query = sa.select(*columns).where(table.c.id_experiment == exp_id)
        written = set(ids)
        maps: dict[int, bytes] = {}
        for row in conn.execute(query):
            run_id, raw = int(row[0]), row[1]
            if run_id in written:
                continue
            if raw is not None and is_reference(raw):  # a map stored in parts: read it whole
                raw = self._read_big_value(conn, name, (exp_id, run_id, EXACT_COLUMN), raw)
            held = layout.unfold_exact([raw], name, [run_id])
            entries = {column: values[0] for column, values in held.items()}
            added = False
            for k, (spec, old) in enumerate(changing):
                native = row[2 + k]
                if native is None or spec.name in entries:
                    continue
                value = bool(native) if old.kind == "bool" else int(native)
                entries[spec.name] = codec.encode(value)
                added = True
            if added:
                maps[run_id] = codec.encode(entries)
        return maps

    def _stored_runs(
        self,
        conn: sa.Connection,
        table: sa.Table,
        specs: Sequence[ColumnSpec],
        ids: Sequence[int] | None,
        name: str,
    ) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, bytes]]]:
        """The params of the stored runs among ``ids`` (all runs for None), by id, and the
        exact values each of them keeps in its ``runtable_exact`` map."""
        params = [s for s in specs if s.role == "param"]
        columns = [table.c.id_run, table.c.id_experiment, table.c[EXACT_COLUMN]]
        columns += [table.c[s.name] for s in params]
        found: dict[int, dict[str, Any]] = {}
        exact: dict[int, dict[str, bytes]] = {}
        batches = [None] if ids is None else list(bulk.batches(list(ids), 500))
        for chunk in batches:
            query = sa.select(*columns)
            if chunk is not None:
                query = query.where(table.c.id_run.in_(chunk))
            result = conn.execute(query)
            rows = result.all()
            if not rows:
                continue
            data = dict(zip(result.keys(), zip(*rows, strict=True), strict=True))
            self._assemble_big_values(conn, name, data, [])
            decoded = layout.decode_runs(name, params, data, len(rows))
            held = layout.unfold_exact(data[EXACT_COLUMN], name, decoded.ids)
            for i, run_id in enumerate(decoded.ids):
                found[run_id] = {
                    k: col[i] for k, col in decoded.params.items() if col[i] is not ABSENT
                }
                kept = {column: values[i] for column, values in held.items() if i in values}
                if kept and chunk is not None:
                    exact[run_id] = kept
        return found, exact

    def _update_row(
        self,
        conn: sa.Connection,
        experiment: ExperimentData,
        stored: Mapping[str, Any],
        specs: Sequence[ColumnSpec],
        fields_blob: bytes,
        config_blob: bytes,
        now: datetime,
        skipped: list[UnsupportedValueError] | None = None,
        n_new: int = 0,
    ) -> None:
        """Update the experiments row (``stored``, as read under the write's lock) after
        _write_runs wrote ``n_new`` new runs.

        With transactions the count is the stored one plus the new runs: every writer holds
        the lock from reading the row to writing it, so the stored count is exact (counting
        the table instead cost each batch of ``execute(persist=True)`` about 9 ms at 100k
        runs, a pass over every row). Without transactions the row (its column list) changes
        before the new rows are refreshed, so that a reader never sees rows with columns its
        column list lacks (a load that read the old row before and sees a new one after
        retries); the count is the refreshed rows plus the new ones."""
        table = self._schema.run_table(experiment.name, [])
        if self.dialect.transactional:
            n_runs = int(stored["n_runs"]) + n_new
        else:
            n_runs = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            n_runs += n_new
        values = {
            "updated_at": now,
            "n_runs": n_runs,
            "seed": _seed_column(experiment.seed),
            "fields": fields_blob,
            "config": config_blob,
            "meta": layout.dump_meta(experiment.meta, specs, skipped),
        }
        if experiment.pickle is not None:  # else the stored pickle (if any) stays as it was
            values["pickle"] = experiment.pickle
        conn.execute(
            self._experiments.update()
            .where(self._experiments.c.name == experiment.name)
            .values(**values)
        )
        self.dialect.refresh(conn, [EXPERIMENTS, table.name])

    def _insert_runs(
        self,
        conn: sa.Connection,
        table: sa.Table,
        exp_id: str,
        runs: RunFrame,
        specs: Sequence[ColumnSpec],
        encoded: Mapping[str, EncodedColumn],
        *,
        upsert: bool = False,
        keep: Mapping[int, Mapping[str, bytes]] | None = None,
    ) -> None:
        """Insert the runs: the bookkeeping columns and the columns in ``encoded`` (NULL where
        a run has no value); with ``upsert``, stored rows of the same ids are updated in those
        columns and keep the others, with ``keep`` holding their stored exact values."""
        if not runs:
            return
        n = len(runs)
        ids = runs.ids
        limit = self.dialect.max_cell_bytes
        # Exact values bigger than a cell go to parts under their column's name; the row's map
        # holds a reference to them (so they load into one buffer, without a copy).
        big = []
        for name, held in encoded.items():
            if held.companion is not None:
                big += split_big_values({name: held.companion}, [name], ids, limit)
        errors, exact = layout.fold_exact(encoded, runs.error, n)
        if keep:
            exact = _merge_exact(exact, runs.ids, keep, set(encoded))
        columns: dict[str, list[Any]] = {
            "id_run": runs.ids,
            "id_experiment": [exp_id] * n,
            STATUS_COLUMN: runs.status,
            ERROR_COLUMN: errors,
            STARTED_AT_COLUMN: runs.started_at,
            ENDED_AT_COLUMN: runs.ended_at,
            STEPS_COLUMN: runs.steps_text(),
        }
        for spec in specs:
            column = encoded.get(spec.name)
            if column is not None:
                columns[spec.name] = column.native
        columns[EXACT_COLUMN] = exact if exact is not None else [None] * n
        big += split_big_values(columns, layout.blob_columns(specs), columns["id_run"], limit)
        if big:  # the parts go first: a run row never points at parts not written yet
            chunks = self._schema.chunks_table(conn)
            for run_id, name, value in big:
                for part, data in enumerate(parts_of(value, limit)):
                    row = {"id_run": run_id, "name": name, "part": part, "data": data}
                    conn.execute(chunks.insert().values(id_experiment=exp_id, **row))
            self.dialect.refresh(conn, [TABLE])  # deletes by query must see them
        if not upsert:  # a new row's column left out is NULL: so are the columns of NULLs
            for name in [k for k, v in columns.items() if type(v) is list and v.count(None) == n]:
                del columns[name]
        objects = [s.name for s in specs if s.kind == "json" and s.name in columns]
        self.dialect.prepare_insert(conn, self._schema.quote(table.name), columns, objects)
        bulk.executemany_insert(conn, table, columns, self.dialect, upsert=upsert)

    def _delete_chunks(
        self,
        conn: sa.Connection,
        exp_id: str,
        run_ids: Sequence[int] | None = None,
        names: Sequence[str] | None = None,
    ) -> None:
        """Drop the parts of big values of an experiment (of some of its runs, of some of its
        columns)."""
        if not sa.inspect(conn).has_table(TABLE):
            return
        table = self._schema.chunks_table(conn, create=False)
        where = table.c.id_experiment == exp_id
        if names is not None:
            where = sa.and_(where, table.c.name.in_(list(names)))
        if run_ids is None:
            conn.execute(table.delete().where(where))
        else:
            for chunk in bulk.batches(list(run_ids), 500):
                conn.execute(table.delete().where(where, table.c.id_run.in_(chunk)))
        self.dialect.refresh(conn, [TABLE])

    # -- reading -----------------------------------------------------------------------------

    def load(
        self,
        name: str,
        *,
        with_pickle: bool = False,
        where: str | None = None,
        columns: Sequence[str] | None = None,
        writable: bool = False,
    ) -> StoredExperiment:
        for attempt in range(LOAD_ATTEMPTS):
            row, specs, data, n = self._read(name, where, columns, with_pickle)
            if (
                row["runs_read"] == row["n_runs"]  # the rows were selected by experiment id
                if self.dialect.transactional
                else all(i == row["id"] for i in data["id_experiment"]) and self._unchanged(row)
            ):
                break
            # A replace may be between its table swap and its row update (no transactions:
            # the rows carry the new experiment id before the row does), or, on PostgreSQL,
            # the reader's snapshot holds the old row while the table name already resolves
            # to the new table, whose rows that snapshot cannot see. Read again.
            time.sleep(0.05 * (attempt + 1))
        else:
            raise StorageError(
                f"experiment {name!r} kept changing while it was read; try again when the "
                "writer has finished"
            )
        runs = layout.decode_runs(
            name, specs, data, n, row["storage_format"], row["exact"], writable=writable
        )
        return StoredExperiment(
            id=row["id"],
            name=row["name"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            seed=_stored_int(row["seed"], name, "seed"),
            fields=layout.decode_experiment_value(row["fields"], name, "fields", writable),
            config=layout.decode_experiment_value(row["config"], name, "config", writable),
            meta=json.loads(row["meta"]),
            runs=runs,
            pickle=bytes(row["pickle"]) if with_pickle and row.get("pickle") is not None else None,
        )

    def _unchanged(self, row: Mapping[str, Any]) -> bool:
        """Without transactions: whether the experiments row is still ``row`` after its runs
        were read (an append changes it before its rows become visible)."""
        with self._connect(f"look up experiment {row['name']!r}") as conn:
            now = self._select_row(conn, row["name"])
        return now is not None and (now["id"], now["updated_at"], now["meta"]) == (
            row["id"],
            row["updated_at"],
            row["meta"],
        )

    def _read(
        self, name: str, where: str | None, fields: Sequence[str] | None, with_pickle: bool
    ) -> tuple[dict[str, Any], list[ColumnSpec], dict[str, Sequence[Any]], int]:
        with self._connect(f"load experiment {name!r}") as conn:
            row = (
                self._select_row(conn, name, with_pickle=with_pickle)
                if self._schema.has_experiments(conn)
                else None
            )
            if row is None:
                raise ExperimentNotFoundError(name, self.url)
            storage_format, specs = layout.read_meta(row["meta"], name)
            if fields is not None:
                specs = layout.select_specs(name, specs, fields)
            table = self._schema.run_table(name, specs, storage_format=storage_format)
            transactional = self.dialect.transactional
            # With transactions, rows of another version of the experiment (a replace between
            # the experiments row's read and this one) are left out by the database and show
            # as a count that does not match; without, their ids are fetched and compared.
            mine = table.c.id_experiment == sa.bindparam("experiment", row["id"])
            values: dict[str, Any] = {}
            if transactional:
                wanted = [c for c in table.c if c.name != "id_experiment"]
                query = sa.select(*wanted).where(mine).order_by(table.c.id_run)
                values["experiment"] = row["id"]
            else:
                wanted = list(table.c)
                query = sa.select(table).order_by(table.c.id_run)
            if where:
                # The bound parameter makes drivers run exactly one statement: a condition
                # cannot smuggle in a second one ("1=1; DROP TABLE ...").
                # The condition is SQL text with no values to bind: every colon is text, even
                # in a literal such as 'a :word' (which sa.text would take for a parameter).
                condition = sa.text(f"({where})".replace(":", "\\:"))
                query = query.where(condition, table.c.id_run < sa.bindparam("below", 2**63 - 1))
                values["below"] = 2**63 - 1
            # What decides the statement's text, for bulk.compiled_sql's cache of it.
            names = tuple((c.name, getattr(c.name, "quote", None)) for c in wanted)
            shape = ("runs", table.name, names, transactional, where)
            data, n = bulk.select_columns(
                conn, table, query, name, floats=FloatColumn, shape=shape, bound=values
            )
            data["id_run"] = layout.run_ids(data.get("id_run", ()))
            row["runs_read"] = n
            if transactional:
                data["id_experiment"] = [row["id"]] * n
                if where:  # the whole table, to check the snapshot
                    count = sa.select(sa.func.count()).select_from(table).where(mine)
                    row["runs_read"] = conn.execute(count).scalar_one()
            if storage_format == 1:
                for old, new in layout.FORMAT1_COLUMNS.items():
                    data[new] = data.pop(old)
            _check_statuses(name, data)
            self._assemble_big_values(conn, name, data, specs, storage_format)
            row["exact"] = self._read_exact(conn, name, data)
            row["storage_format"] = storage_format
        return row, specs, data, n

    def _assemble_big_values(
        self,
        conn: sa.Connection,
        experiment: str,
        data: dict[str, Sequence[Any]],
        specs: Sequence[ColumnSpec],
        storage_format: int = layout.STORAGE_FORMAT,
    ) -> None:
        """Replace references to parts by the values put back together."""
        for name in layout.blob_columns(specs, storage_format):
            values = data.get(name, ())
            if values.count(None) == len(values):  # no value at all: nothing to put together
                continue
            for i, value in enumerate(values):
                if value is None or not is_reference(value):
                    continue
                key = (data["id_experiment"][i], int(data["id_run"][i]), name)
                whole = self._read_big_value(conn, experiment, key, value)
                if not isinstance(values, list):
                    values = data[name] = list(values)
                values[i] = whole

    def _read_big_value(
        self, conn: sa.Connection, experiment: str, key: tuple[str, int, str], reference: Any
    ) -> memoryview:
        """The value a reference cell names, read from its parts (experiment id, run id,
        column name) into one buffer; CorruptValueError naming run and column if damaged."""
        exp_id, run_id, name = key
        table = self._schema.chunks_table(conn, create=False)
        where = (table.c.id_experiment == exp_id, table.c.id_run == run_id, table.c.name == name)
        try:
            return read_value(conn, table, where, reference)
        except (ValueError, sa.exc.SQLAlchemyError) as e:
            raise CorruptValueError(experiment, run_id, name, f"big value: {e}") from e

    def _read_exact(
        self, conn: sa.Connection, experiment: str, data: Mapping[str, Sequence[Any]]
    ) -> dict[str, dict[int, Any]]:
        """The rows' exact values (see `layout.unfold_exact`), big ones read from their parts
        into one buffer each."""
        ids = data.get("id_run", ())
        exact: dict[str, dict[int, Any]] = dict(
            layout.unfold_exact(data.get(EXACT_COLUMN), experiment, ids)
        )
        for column, entries in exact.items():
            for i, raw in entries.items():
                if is_reference(raw):
                    key = (data["id_experiment"][i], ids[i], column)
                    entries[i] = self._read_big_value(conn, experiment, key, raw)
        return exact

    def check_writable(self, name: str) -> None:
        with self._connect(f"look up experiment {name!r}") as conn:
            row = self._select_row(conn, name) if self._schema.has_experiments(conn) else None
        if row is not None:
            _check_format(name, layout.read_meta(row["meta"], name)[0])

    def exists(self, name: str) -> bool:
        with self._connect(f"look up experiment {name!r}") as conn:
            return self._schema.has_experiments(conn) and self._select_row(conn, name) is not None

    def list(self) -> list[dict[str, Any]]:
        e = self._experiments.c
        columns = [e.name, e.id, e.table_name, e.created_at, e.updated_at, e.n_runs, e.seed]
        with self._connect("list experiments") as conn:
            if not self._schema.has_experiments(conn):
                return []
            query = sa.select(*columns, e.meta).order_by(e.created_at, e.name)
            # A damaged row must not hide the others: its damaged cells are listed as None.
            damaged: dict[int, list[str]] = {}
            data, n = bulk.select_columns(conn, self._experiments, query, EXPERIMENTS, damaged)
        for column in ("n_runs", "seed"):
            for i, value in enumerate(data[column]):
                if value is not None and type(value) is not int:
                    damaged.setdefault(i, []).append(column)
        out = []
        for i in range(n):
            try:
                meta = json.loads(data["meta"][i])
            except (TypeError, ValueError):
                meta = {}
            meta = meta if isinstance(meta, dict) else {}
            specs = meta.get("columns")
            specs = specs if isinstance(specs, list) else []
            item = {c.name: data[c.name][i] for c in columns}
            for column in damaged.get(i, ()):
                item[column] = None
                _log.warning(
                    "experiment %r: its %s in %r is damaged", item["name"], column, EXPERIMENTS
                )
            item["n_fields"] = sum(
                1 for c in specs if isinstance(c, dict) and c.get("role") == "field"
            )
            item["runtable"] = meta.get("runtable")
            out.append(item)
        return out

    def delete(self, name: str) -> bool:
        with self._connect(f"delete experiment {name!r}", write=True) as conn:
            self.dialect.lock(conn, name)
            if not self._schema.has_experiments(conn):
                return False
            row = self._select_row(conn, name)
            if row is None:
                return False
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {self._schema.quote(row['table_name'])}"))
            conn.execute(self._experiments.delete().where(self._experiments.c.name == name))
            self.dialect.refresh(conn, [EXPERIMENTS])
            self._delete_chunks(conn, row["id"])
            return True

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        import pandas as pd

        with self._connect("run a query") as conn:
            result = conn.execute(sa.text(sql), dict(params or {}))
            # crate-python describes a row count as zero columns, not as no result set
            if not result.returns_rows or not result.keys():
                return pd.DataFrame()
            columns = list(result.keys())
            rows = result.all()
        return pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)

    def close(self) -> None:
        self.engine.dispose()

    def transaction(
        self, what: str, *, write: bool = False
    ) -> AbstractContextManager[sa.Connection]:
        """A connection inside one transaction (committed when the block ends without an
        error); a driver error becomes a StorageError saying "could not ``what``". ``write``
        starts it as the backend's writers do (SQLite: ``BEGIN IMMEDIATE``)."""
        return self._connect(what, write=write)

    # -- helpers -----------------------------------------------------------------------------

    @contextmanager
    def _connect(self, what: str, *, write: bool = False) -> Iterator[sa.Connection]:
        """A connection inside one transaction; driver errors become StorageError."""
        try:
            with self.engine.connect() as conn:
                if write:
                    self.dialect.begin_write(conn)
                else:
                    self.dialect.begin_read(conn)
                with conn.begin():
                    yield conn
        except sa.exc.SQLAlchemyError as e:
            detail = getattr(e, "orig", None) or e
            raise StorageError(f"could not {what} in {self.url}: {detail}") from e

    def _select_row(
        self, conn: sa.Connection, name: str, *, with_pickle: bool = False
    ) -> dict[str, Any] | None:
        """The experiments row of ``name``; its pickle (maybe large) only when asked for."""
        e = self._experiments
        columns = [c for c in e.columns if with_pickle or c.name != "pickle"]
        query = sa.select(*columns).where(e.c.name == sa.bindparam("name", name))
        shape = (EXPERIMENTS, tuple(c.name for c in columns))
        sql, args = bulk.compiled_sql(query, conn.dialect, shape, {"name": name})
        result = conn.exec_driver_sql(sql, args)
        description = result.cursor.description
        found = result.cursor.fetchone()
        result.close()
        if found is None:
            return None
        row = {}
        try:
            for column, (_, type_code, *_), value in zip(columns, description, found, strict=True):
                processor = bulk.result_processor(column.type, conn.dialect, type_code)
                row[column.name] = value if value is None or processor is None else processor(value)
        except (TypeError, ValueError) as error:  # a damaged cell: a created_at that is no time
            raise CorruptValueError(
                name, None, f"{EXPERIMENTS} row", f"{type(error).__name__}: {error}"
            ) from error
        return row


class _CreatedMeanwhileError(StorageError):
    """Another writer created the experiment while this one tried to (no transactions)."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"another writer created experiment {name!r} at the same time as this persist, "
            "again and again; persist again when it has finished"
        )


#: The statuses a stored run may have (runtable.run.STATUSES; storage does not import runs).
RUN_STATUSES = frozenset({"pending", "done", "failed"})


_STR = frozenset({str})


def _check_statuses(experiment: str, data: Mapping[str, Sequence[Any]]) -> None:
    """CorruptValueError for a run whose stored status is none runtable writes."""
    statuses = data.get(STATUS_COLUMN, ())
    if set(map(type, statuses)) <= _STR and set(statuses) <= RUN_STATUSES:
        return
    ids = data.get("id_run", ())
    for i, status in enumerate(statuses):
        if type(status) is not str or status not in RUN_STATUSES:
            raise CorruptValueError(
                experiment,
                ids[i] if i < len(ids) else None,
                STATUS_COLUMN,
                f"unknown status {status!r}; runs are {', '.join(sorted(RUN_STATUSES))}",
            )


def _stored_int(value: Any, experiment: str, what: str) -> int:
    """An integer cell of the experiments row; CorruptValueError for anything else."""
    if type(value) is int:
        return value
    raise CorruptValueError(experiment, None, what, f"{value!r} is not an integer")


def _merge_exact(
    exact: list[bytes | None] | None,
    ids: Sequence[int],
    keep: Mapping[int, Mapping[str, bytes]],
    written: set[str],
) -> list[bytes | None]:
    """The exact maps of rows being updated: the new entries, plus the stored entries of the
    columns this write does not touch (their cells keep their values)."""
    from .. import codec

    out: list[bytes | None] = list(exact) if exact is not None else [None] * len(ids)
    for i, run_id in enumerate(ids):
        stored = {k: v for k, v in keep.get(run_id, {}).items() if k not in written}
        stored.pop(ERROR_COLUMN, None)  # the error is always rewritten
        if not stored:
            continue
        new = out[i]
        merged: dict[str, Any] = dict(stored)
        if new is not None:
            merged.update(cast(dict[str, Any], codec.decode(new)))  # a map we wrote
        out[i] = codec.encode(merged)
    return out


def _seed_column(seed: int) -> int:
    """The ``seed`` column's value: the seed when it fits 64 bits, else its low 63 bits (the
    exact seed, of any size, is in the experiment's metadata)."""
    return seed if -(2**63) <= seed < 2**63 else seed & (2**63 - 1)


def _check_format(name: str, storage_format: int) -> None:
    if storage_format != layout.STORAGE_FORMAT:
        raise SchemaError(
            f"experiment {name!r} is stored in storage format {storage_format} (runtable 0.1), "
            "which this version reads but does not write into: load it and persist it with "
            "if_exists='replace' once to upgrade it, then append or resume"
        )
