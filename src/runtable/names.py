"""The rules that turn user names into SQL table and column names.

Experiment names become table names (``e_<name>``) and must be lowercase, so that every backend
sees the same unquoted identifier and no two names can map to one table. Param and field names
become column names: letters, digits and underscores, starting with a letter, case kept, but two
names of one experiment may not differ only in case (most databases would fold them together).

Users' names are theirs: runtable reserves only ``id_run``, ``id_experiment`` and the prefix
``runtable_``, under which it keeps its own bookkeeping columns (status, error, timestamps, the
record of executed steps, exact values). PostgreSQL's system columns (``xmin``, ``ctid``, ...)
cannot be column names there, so they are refused on every backend alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .errors import InvalidNameError

MAX_EXPERIMENT_NAME = 48
#: PostgreSQL keeps 63 bytes of an identifier; names are ASCII, so 63 characters.
MAX_COLUMN_NAME = 63

#: The prefix of every column runtable adds to a run table besides ``id_run``/``id_experiment``.
PREFIX = "runtable_"

#: The bookkeeping columns of ``df(meta=True)`` and of the run table, by what they hold.
STATUS_COLUMN = "runtable_status"
ERROR_COLUMN = "runtable_error"
STARTED_AT_COLUMN = "runtable_started_at"
ENDED_AT_COLUMN = "runtable_ended_at"
META_COLUMNS = (STATUS_COLUMN, ERROR_COLUMN, STARTED_AT_COLUMN, ENDED_AT_COLUMN)
#: The record of each step a run executed (JSON: name -> hash, config, seed, times, status).
STEPS_COLUMN = "runtable_steps"
#: Exact values of the cells whose SQL column cannot hold them exactly (one codec map per row).
EXACT_COLUMN = "runtable_exact"
ID_COLUMNS = ("id_run", "id_experiment")

#: Columns every run table has, in order (storage format 2).
RUN_COLUMNS = (*ID_COLUMNS, *META_COLUMNS, STEPS_COLUMN)

#: PostgreSQL's system columns: no user column may have these names there.
SYSTEM_COLUMNS = frozenset({"xmin", "xmax", "cmin", "cmax", "ctid", "tableoid"})

#: Step parameter that receives the Run itself (a param or field of that name is still allowed:
#: read it as ``run.params.run`` or ``run.fields.run``).
RUN_ARGUMENT = "run"

_EXPERIMENT_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
_COLUMN_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_valid_columns: set[str] = set()


def check_experiment_name(name: object) -> str:
    """Return ``name`` if it is a valid experiment name, else raise InvalidNameError."""
    if not isinstance(name, str):
        raise InvalidNameError("experiment", name, "names are strings")
    if not _EXPERIMENT_RE.match(name):
        hint = _slug(name.lower())
        fix = f"; for example {hint!r}" if hint and _EXPERIMENT_RE.match(hint) else ""
        raise InvalidNameError(
            "experiment",
            name,
            "use lowercase letters, digits and underscores, starting with a letter" + fix,
        )
    if "__" in name:
        raise InvalidNameError("experiment", name, "double underscores are reserved")
    if len(name) > MAX_EXPERIMENT_NAME:
        raise InvalidNameError(
            "experiment", name, f"at most {MAX_EXPERIMENT_NAME} characters are allowed"
        )
    return name


def table_name(experiment: str) -> str:
    """The run table of an experiment: ``e_<name>``."""
    return "e_" + check_experiment_name(experiment)


def check_column_name(name: object, kind: str = "field") -> str:
    """Return ``name`` if it can be a param or field column, else raise InvalidNameError."""
    if name in _valid_columns:
        return name  # only str names are ever cached
    if not isinstance(name, str):
        raise InvalidNameError(kind, name, "names are strings")
    if not _COLUMN_RE.match(name):
        raise InvalidNameError(
            kind, name, "use letters, digits and underscores, starting with a letter"
        )
    if len(name) > MAX_COLUMN_NAME:
        raise InvalidNameError(kind, name, f"at most {MAX_COLUMN_NAME} characters are allowed")
    lower = name.lower()
    if lower in ID_COLUMNS or lower.startswith(PREFIX):
        raise InvalidNameError(
            kind, name, f"reserved by runtable (id_run, id_experiment and names starting {PREFIX})"
        )
    if lower in SYSTEM_COLUMNS:
        raise InvalidNameError(
            kind, name, "a system column of PostgreSQL, refused on every backend; pick another name"
        )
    _valid_columns.add(name)
    return name


def check_distinct(names: Iterable[str], what: str = "name") -> None:
    """Raise InvalidNameError if two of ``names`` differ only in case."""
    seen: dict[str, str] = {}
    for name in names:
        key = name.lower()
        other = seen.setdefault(key, name)
        if other != name:
            raise InvalidNameError(
                what,
                name,
                f"clashes with {other!r}: SQL treats names that differ only in case as one",
            )


def _slug(text: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9_]", "_", text)).strip("_")
