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
from ..names import RUN_COLUMNS, check_column_name, check_distinct
from ..seeding import params_digest
from .base import RunLike, StoredRuns
from .columns import (
    ABSENT,
    Capabilities,
    ColumnSpec,
    EncodedColumn,
    decode_column,
    encode_column,
    infer_kind,
)

#: Version of the table layout written in each experiment's metadata.
STORAGE_FORMAT = 1


def plan(
    runs: Sequence[RunLike],
    stored: Mapping[str, ColumnSpec],
    caps: Capabilities,
    skipped: list[UnsupportedValueError] | None = None,
) -> tuple[list[ColumnSpec], dict[str, EncodedColumn]]:
    """Column specs for ``runs`` (stored columns keep their kind) and their encoded values.

    With a ``skipped`` list, values the codec cannot store are left out (they live in the
    experiment's pickle) and their errors collected; without it they raise.
    """
    params = [getattr(r.params, "_data", r.params) for r in runs]  # namespaces keep a dict
    fields = [getattr(r.fields, "_data", r.fields) for r in runs]
    param_names = ordered_union(params)
    field_names = ordered_union(fields)
    check_names(param_names, field_names, stored)
    ids = [r.id for r in runs]
    specs = [s for s in stored.values() if s.name not in param_names and s.name not in field_names]
    encoded: dict[str, EncodedColumn] = {}
    for role, names, dicts in (("param", param_names, params), ("field", field_names, fields)):
        for name in names:
            values = [d.get(name, ABSENT) for d in dicts]
            old = stored.get(name)
            kind = old.kind if old else infer_kind([v for v in values if v is not ABSENT])
            column = encode_column(kind, name, values, ids, caps, skipped)
            encoded[name] = column
            exact = bool(old and old.exact) or column.companion is not None
            specs.append(ColumnSpec(name, role, kind, exact))  # type: ignore[arg-type]
    order = {s.name: i for i, s in enumerate(stored.values())}
    specs.sort(key=lambda s: order.get(s.name, len(order)))
    return specs, encoded


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
    experiment: str, specs: Sequence[ColumnSpec], columns: Mapping[str, Sequence[Any]], n: int
) -> StoredRuns:
    ids = [int(i) for i in columns.get("id_run", ())]
    runs = StoredRuns(
        ids=ids,
        status=list(columns.get("status", ())),
        error=list(columns.get("error", ())),
        started_at=list(columns.get("started_at", ())),
        ended_at=list(columns.get("ended_at", ())),
        done_with=list(columns.get("done_with", ())),
    )
    for spec in specs:
        native = columns.get(spec.name, (None,) * n)
        companion = columns.get(spec.companion) if spec.exact else None
        values = decode_column(
            spec.kind, native, companion, experiment=experiment, name=spec.name, run_ids=ids
        )
        if None in native:
            if holds_absent(values):
                runs.with_absent.add(spec.name)
        elif spec.kind == "float" and not spec.exact:
            runs.all_floats.add(spec.name)
        (runs.params if spec.role == "param" else runs.fields)[spec.name] = values
    return runs


def blob_columns(specs: Sequence[ColumnSpec]) -> list[str]:
    """The columns that hold codec bytes: blob kinds and companions."""
    return [s.name for s in specs if s.kind == "blob"] + [s.companion for s in specs if s.exact]


def holds_absent(values: Sequence[Any]) -> bool:
    return id(ABSENT) in map(id, values)  # by identity: `in` would compare arrays elementwise


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


def decode_experiment_value(raw: Any, experiment: str, what: str) -> dict[str, Any]:
    try:
        value = codec.decode(raw)
    except CodecError as e:
        raise CorruptValueError(experiment, None, what, str(e)) from e
    if not isinstance(value, dict):
        raise CorruptValueError(experiment, None, what, f"expected a dict, found {type(value)}")
    return value


def specs_from_meta(meta: str, experiment: str = "?") -> list[ColumnSpec]:
    """The column specs recorded in an experiment's ``meta``; CorruptValueError if damaged."""
    try:
        return [ColumnSpec.from_meta(c) for c in json.loads(meta)["columns"]]
    except (TypeError, ValueError, KeyError, AttributeError, CodecError) as e:
        raise CorruptValueError(experiment, None, "meta", f"{type(e).__name__}: {e}") from e


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


def ordered_union(dicts: Sequence[Mapping[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for keys in dict.fromkeys(map(tuple, dicts)):  # runs mostly share one key order
        names.update(dict.fromkeys(keys))
    return list(names)


def check_same_grid_points(
    experiment: str, runs: Sequence[RunLike], stored: Mapping[int, Mapping[str, Any]]
) -> None:
    """Refuse to overwrite a stored run with a run of the same id but other params (two
    processes that added different runs to one experiment)."""
    for run in runs:
        old = stored.get(run.id)
        if old is not None and params_digest(old) != params_digest(run.params):
            raise ConflictError(
                f"experiment {experiment!r}: run {run.id} is stored with params {dict(old)} "
                f"but this run has {dict(run.params)}; another process added different runs. "
                "Load the experiment again and add your runs to it"
            )


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
