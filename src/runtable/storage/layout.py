"""How runs become rows of a run table and back: column plans, names, metadata, decoding.

Pure functions over plain data (no connections): the SQL store calls them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .. import codec
from ..errors import (
    CodecError,
    ConflictError,
    CorruptValueError,
    SchemaError,
    UnsupportedValueError,
)
from ..frame import ABSENT, FloatColumn, RunFrame, _Absent
from ..names import (
    ENDED_AT_COLUMN,
    ERROR_COLUMN,
    EXACT_COLUMN,
    RUN_COLUMNS,
    STARTED_AT_COLUMN,
    STATUS_COLUMN,
    STEPS_COLUMN,
    check_column_name,
    check_distinct,
)
from ..seeding import params_digest, stored_param
from .columns import (
    Buffers,
    Capabilities,
    ColumnSpec,
    EncodedColumn,
    decode_column,
    encode_column,
    infer_kind,
    text_exact,
    widened,
)

#: Version of the table layout written in each experiment's metadata. Format 2 keeps
#: runtable's columns under the ``runtable_`` prefix and exact values in one map per row;
#: format 1 (runtable 0.1) named them ``status``, ``error``, ... with a companion column per
#: inexact param or field. Both are read; only format 2 is written.
STORAGE_FORMAT = 2
READABLE_FORMATS = (1, 2)

#: Format 1's bookkeeping columns and their format 2 names.
FORMAT1_COLUMNS = {
    "status": STATUS_COLUMN,
    "error": ERROR_COLUMN,
    "started_at": STARTED_AT_COLUMN,
    "ended_at": ENDED_AT_COLUMN,
    "done_with": STEPS_COLUMN,
}


def plan(
    runs: RunFrame,
    stored: Mapping[str, ColumnSpec],
    caps: Capabilities,
    skipped: list[UnsupportedValueError] | None = None,
) -> tuple[list[ColumnSpec], dict[str, EncodedColumn]]:
    """Column specs for ``runs`` (stored columns keep their kind) and their encoded values.

    A column whose every value is ``ABSENT`` is not part of the plan unless it is stored
    (then those runs store NULL there: their value was deleted). With a ``skipped`` list,
    values the codec cannot store are left out (they live in the experiment's pickle) and
    their errors collected; without it they raise.
    """
    # A stored column is written even where none of these runs has a value: their value was
    # deleted (NULL is what a run without one stores).
    # One pass over each column finds its values' types, which every step below reads.
    types = {
        (role, name): set(map(type, values))
        for role, columns in (("param", runs.params), ("field", runs.fields))
        for name, values in columns.items()
    }
    params = {
        k: v for k, v in runs.params.items() if k in stored or types["param", k] != _ONLY_ABSENT
    }
    fields = {
        k: v for k, v in runs.fields.items() if k in stored or types["field", k] != _ONLY_ABSENT
    }
    check_names(list(params), list(fields), stored)
    ids = runs.ids
    specs = [s for s in stored.values() if s.name not in params and s.name not in fields]
    encoded: dict[str, EncodedColumn] = {}
    for role, columns in (("param", params), ("field", fields)):
        for name, values in columns.items():
            value_types = types[role, name]
            if role == "param" and not value_types <= _PLAIN_PARAMS:
                values = stored_params(values)
                value_types = set(map(type, values))
            old = stored.get(name)
            kind = infer_kind(values, value_types)
            if old is not None:  # a stored column keeps its kind unless it can widen to these
                wider = widened(old.kind, kind) if caps.widens_columns else None
                kind = wider if wider is not None else old.kind
            column = encode_column(kind, name, values, ids, caps, skipped, value_types)
            encoded[name] = column
            specs.append(ColumnSpec(name, role, kind))  # type: ignore[arg-type]
    order = {s.name: i for i, s in enumerate(stored.values())}
    specs.sort(key=lambda s: order.get(s.name, len(order)))
    check_limits(specs, caps)
    return specs, encoded


_ONLY_ABSENT = {_Absent}


#: Bytes of a fixed-width cell of each kind (PostgreSQL's widths; others are variable).
_FIXED_WIDTH = {"int": 8, "float": 8, "datetime": 8, "bool": 1}
#: Bytes of the bookkeeping columns, the row header and its null bitmap, roughly.
_ROW_OVERHEAD = 120


_PLAIN_PARAMS = frozenset({int, float, str, bool, type(None), _Absent})


def stored_params(values: list[Any]) -> list[Any]:
    """A param column as stored: classes, functions and partials as their readable text (see
    `runtable.seeding.stored_param`), everything else as it is."""
    if set(map(type, values)) <= _PLAIN_PARAMS:
        return values
    return [v if v is ABSENT else stored_param(v) for v in values]


def check_limits(specs: Sequence[ColumnSpec], caps: Capabilities) -> None:
    """Refuse, before anything is written, a run table the backend cannot hold: too many
    columns, or (PostgreSQL) fixed-width cells that overflow one page."""
    n_columns = len(RUN_COLUMNS) + len(specs) + 1
    if caps.max_columns is not None and n_columns > caps.max_columns:
        raise SchemaError(
            f"the runs have {len(specs)} params and fields: {n_columns} columns with runtable's "
            f"own, over this database's limit of {caps.max_columns}. Keep related values "
            "together in one field (a numpy array, a dict or a DataFrame) instead of one field each"
        )
    if caps.max_fixed_row_bytes is not None:
        width = _ROW_OVERHEAD + n_columns // 8 + sum(_FIXED_WIDTH.get(s.kind, 0) for s in specs)
        if width > caps.max_fixed_row_bytes:
            raise SchemaError(
                f"the runs have {len(specs)} params and fields whose numbers alone take about "
                f"{width:,} bytes per row; PostgreSQL keeps a row within one page "
                f"({caps.max_fixed_row_bytes:,} bytes). Keep related numbers together in one "
                "field (a numpy array or a dict) instead of one field each"
            )


def check_names(
    param_names: Sequence[str], field_names: Sequence[str], stored: Mapping[str, ColumnSpec]
) -> None:
    for name in param_names:
        check_column_name(name, "param")
    for name in field_names:
        check_column_name(name, "field")
    both = set(param_names) & set(field_names)
    if both:
        name = sorted(both)[0]
        raise SchemaError(f"{name!r} is a param of some runs and a field of others; rename one")
    for names, role in ((param_names, "param"), (field_names, "field")):
        for name in names:
            old = stored.get(name)
            if old is not None and old.role != role:
                raise SchemaError(
                    f"{name!r} is stored as a {old.role} of this experiment and cannot become "
                    f"a {role}; rename it"
                )
    check_distinct([*RUN_COLUMNS, *stored, *param_names, *field_names], "param or field")


def decode_runs(
    experiment: str,
    specs: Sequence[ColumnSpec],
    columns: Mapping[str, Sequence[Any]],
    n: int,
    storage_format: int = STORAGE_FORMAT,
    exact: Mapping[str, Mapping[int, Any]] | None = None,
    *,
    writable: bool = False,
) -> RunFrame:
    """Runs column by column from the stored columns (format 2 names; a format 1 table's
    bookkeeping columns renamed by the reader, its companion columns as they are). ``exact``:
    the ``runtable_exact`` column already unfolded (with big values read), when the reader did
    that."""
    ids = run_ids(columns.get("id_run", ()))
    if exact is None:
        exact = unfold_exact(columns.get(EXACT_COLUMN), experiment, ids)
    errors = list(columns.get(ERROR_COLUMN, ()))
    for i, raw in exact.get(ERROR_COLUMN, {}).items():
        errors[i] = _decode_exact(raw, experiment, ERROR_COLUMN, ids[i])
    steps = list(columns.get(STEPS_COLUMN, ()))
    if storage_format == 1:
        steps = [steps_from_done_with(s) for s in steps]
    runs = RunFrame()
    runs._positions = None
    runs.ids = ids
    runs.status = list(columns.get(STATUS_COLUMN, ()))
    runs.error = errors
    runs.started_at = list(columns.get(STARTED_AT_COLUMN, ()))
    runs.ended_at = list(columns.get(ENDED_AT_COLUMN, ()))
    runs.steps = steps
    runs.grid = [False] * n  # a stored run's params are checked against the table, not here
    runs.changed = bytearray(n)
    mutable: list[str] = []  # field columns that may hold values that can change in place
    for spec in specs:
        native = columns.get(spec.name, (None,) * n)
        companion: Sequence[Any] | None = None
        if spec.exact:
            companion = columns.get(spec.companion)
        elif spec.name in exact:
            held = exact[spec.name]
            companion = [held.get(i) for i in range(n)]
        values = decode_column(
            spec.kind,
            native,
            companion,
            experiment=experiment,
            name=spec.name,
            run_ids=ids,
            writable=writable,
        )
        target = runs.params if spec.role == "param" else runs.fields
        if isinstance(values, FloatColumn):  # floats only, as the reader packed them
            values.bind(target, spec.name)
        else:  # a list decode_column made, or the one the reader made
            target[spec.name] = values if type(values) is list else list(values)
        encoded = spec.kind in ("blob", "json") or (
            companion is not None and any(c is not None for c in companion)
        )
        if spec.role == "field" and encoded:  # only codec-decoded values can be mutable
            mutable.append(spec.name)
    runs.mark_stored(mutable=mutable)  # stored as they are, but for those that can change
    return runs


_INT = frozenset({int})


def run_ids(column: Sequence[Any]) -> list[int]:
    """The ``id_run`` column as a list of ints (the column itself when it is one)."""
    if set(map(type, column)) <= _INT:
        return column if type(column) is list else list(column)
    return [int(i) for i in column]


def fold_exact(
    encoded: Mapping[str, EncodedColumn], errors: Sequence[str | None], n: int
) -> tuple[list[Any], list[bytes | None] | None]:
    """The row-wise ``runtable_exact`` column: per run, a codec map from column name to the
    exact encoding of each value its native cell cannot hold (None when there is none); and
    the error texts as their native column keeps them (a text that is not exactly storable,
    such as one with a lone surrogate or a NUL, is kept exactly in the map)."""
    rows: list[dict[str, bytes] | None] = [None] * n
    native_errors: list[Any] = list(errors)
    for i, error in enumerate(errors):
        if error is not None and not text_exact(error):
            native_errors[i] = error.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
            rows[i] = {ERROR_COLUMN: codec.encode(error)}
    for name, column in encoded.items():
        if column.companion is None:
            continue
        for i, raw in enumerate(column.companion):
            if raw is None:
                continue
            if isinstance(raw, Buffers):  # a big exact value: the map is written in parts
                raw = b"".join(raw.buffers)
            row = rows[i]
            if row is None:
                row = rows[i] = {}
            row[name] = raw
    if not any(row is not None for row in rows):
        return native_errors, None
    return native_errors, [None if row is None else codec.encode(row) for row in rows]


def unfold_exact(
    column: Sequence[Any] | None, experiment: str, ids: Sequence[int]
) -> dict[str, dict[int, bytes]]:
    """The ``runtable_exact`` column read back: column name -> row index -> exact bytes."""
    out: dict[str, dict[int, bytes]] = {}
    if column is None or column.count(None) == len(column):  # no run has an exact value
        return out
    for i, raw in enumerate(column):
        if raw is None:
            continue
        row = _decode_exact(raw, experiment, EXACT_COLUMN, ids[i])
        if not isinstance(row, dict) or not all(
            type(k) is str and isinstance(v, bytes) for k, v in row.items()
        ):
            raise CorruptValueError(experiment, ids[i], EXACT_COLUMN, "not a map of exact values")
        for name, value in row.items():
            out.setdefault(name, {})[i] = value
    return out


def _decode_exact(raw: Any, experiment: str, name: str, run_id: int) -> Any:
    try:
        return codec.decode(raw)
    except CodecError as e:
        raise CorruptValueError(experiment, run_id, name, str(e)) from e


def steps_from_done_with(done_with: str | None) -> str | None:
    """A format 1 ``done_with`` (steps, config digest and seed of the last successful
    execution) as a format 2 steps record, so resuming an old database works."""
    if not done_with:
        return None
    try:
        old = json.loads(done_with)
        record = {}
        for item in old["steps"]:
            name, _, source_hash = str(item).rpartition(":")
            record[name] = {
                "hash": source_hash,
                "config": old["config"],
                "seed": old["seed"],
                "status": "done",
            }
    except (TypeError, ValueError, KeyError):
        return None  # an unreadable record only means the run is not resumable
    return json.dumps(record, separators=(",", ":"))


def blob_columns(specs: Sequence[ColumnSpec], storage_format: int = STORAGE_FORMAT) -> list[str]:
    """The columns that hold codec bytes: blob kinds, and the exact map (companions)."""
    names = [s.name for s in specs if s.kind == "blob"]
    if storage_format == 1:
        return names + [s.companion for s in specs if s.exact]
    return [*names, EXACT_COLUMN]


def encode_experiment_value(
    value: Mapping[str, Any], what: str, skipped: list[UnsupportedValueError] | None = None
) -> bytes:
    """The codec bytes of an experiment's fields or config; with a ``skipped`` list, entries
    the codec cannot store are left out and their errors collected."""
    try:
        return codec.encode(dict(value))
    except UnsupportedValueError as e:
        if skipped is None:
            raise e.located(run_id=None, field=f"experiment {what}") from None
    kept = {}
    for key, item in value.items():
        try:
            codec.encode(item)
        except UnsupportedValueError as e:
            skipped.append(e.located(run_id=None, field=f"experiment {what} {key!r}"))
            continue
        kept[key] = item
    return codec.encode(kept)


def skipped_meta(skipped: Sequence[UnsupportedValueError]) -> list[dict[str, Any]]:
    """What a persist left to the pickle, for the experiment's metadata."""
    return [
        {
            "run": e.run_id,
            "field": e.field,
            "type": f"{e.value_type.__module__}.{e.value_type.__qualname__}",
        }
        for e in skipped
    ]


def decode_experiment_value(
    raw: Any, experiment: str, what: str, writable: bool = False
) -> dict[str, Any]:
    try:
        value = codec.decode(raw, writable=writable)
    except CodecError as e:
        raise CorruptValueError(experiment, None, what, str(e)) from e
    if not isinstance(value, dict):
        raise CorruptValueError(experiment, None, what, f"expected a dict, found {type(value)}")
    return value


def specs_from_meta(meta: str, experiment: str = "?") -> list[ColumnSpec]:
    """The column specs recorded in an experiment's ``meta``; CorruptValueError if damaged."""
    return read_meta(meta, experiment)[1]


def read_meta(meta: str, experiment: str = "?") -> tuple[int, list[ColumnSpec]]:
    """The storage format and column specs recorded in an experiment's ``meta``.

    CorruptValueError if damaged; SchemaError for a format this version cannot read."""
    try:
        data = json.loads(meta)
        storage_format = int(data.get("storage_format", 1))
        specs = [ColumnSpec.from_meta(c) for c in data["columns"]]
    except (TypeError, ValueError, KeyError, AttributeError, CodecError) as e:
        raise CorruptValueError(experiment, None, "meta", f"{type(e).__name__}: {e}") from e
    if storage_format not in READABLE_FORMATS:
        raise SchemaError(
            f"experiment {experiment!r} was stored in storage format {storage_format}, which "
            f"this runtable does not read (it reads {READABLE_FORMATS}); upgrade runtable"
        )
    return storage_format, specs


def dump_meta(
    meta: Mapping[str, Any],
    specs: Sequence[ColumnSpec],
    skipped: Sequence[UnsupportedValueError] | None = None,
) -> str:
    """The ``meta`` column: the experiment's metadata, the layout version, the column kinds,
    and the values only the pickle holds."""
    full = {**meta, "storage_format": STORAGE_FORMAT, "columns": [s.to_meta() for s in specs]}
    if skipped:
        full["only_in_pickle"] = skipped_meta(skipped)
    return json.dumps(full, default=str)


def check_new_grid_points(
    experiment: str, runs: RunFrame, stored: Mapping[int, Mapping[str, Any]]
) -> None:
    """Refuse a new run added from a grid whose params are stored under another id (two
    processes that ran the same grid point): a grid point is stored once."""
    if not stored:
        return
    by_digest = {params_digest(p): run_id for run_id, p in stored.items()}
    for i, run_id in enumerate(runs.ids):
        if not runs.grid[i] or run_id in stored:
            continue
        params = runs.params_at(i)
        other = by_digest.get(params_digest(params))
        if other is not None:
            raise ConflictError(
                f"experiment {experiment!r}: grid point {params} is stored already "
                f"(run {other}); this run ({run_id}) would store it twice. Give each process "
                "its own part of the grid, or load the experiment and execute the point there "
                "(runs tracked with `with exp.run()` may repeat params)"
            )


def check_same_grid_points(
    experiment: str, runs: RunFrame, stored: Mapping[int, Mapping[str, Any]]
) -> None:
    """Refuse to overwrite a stored run with a run of the same id but other params (two
    processes that added different runs to one experiment)."""
    for i, run_id in enumerate(runs.ids):
        old = stored.get(run_id)
        if old is None:
            continue
        params = runs.params_at(i)
        if not _same_params(old, params):
            raise ConflictError(
                f"experiment {experiment!r}: run {run_id} is stored with params {dict(old)} "
                f"but this run has {params}; another process added different runs. "
                "Load the experiment again and add your runs to it"
            )


def _same_params(stored: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    """Whether stored params are this run's params: equal as plain values (the usual case,
    decided at once), else by their canonical digests (numpy scalars, arrays, sets...)."""
    try:
        if stored == params:
            return True
    except (ValueError, TypeError):  # arrays compare elementwise: go by the digests
        pass
    return params_digest(stored) == params_digest(params)


def select_specs(
    experiment: str, specs: Sequence[ColumnSpec], fields: Sequence[str]
) -> list[ColumnSpec]:
    """The params and the requested fields, in stored order; unknown names are an error."""
    known = {s.name for s in specs if s.role == "field"}
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise KeyError(
            f"experiment {experiment!r} has no field {unknown[0]!r}; its fields are: "
            f"{', '.join(sorted(known)) or 'none'}"
        )
    wanted = set(fields)
    return [s for s in specs if s.role == "param" or s.name in wanted]
