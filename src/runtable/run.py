"""Runs: one point of the grid with its params, config, fields and vars; and their collection."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from .errors import InvalidNameError
from .names import (
    ENDED_AT_COLUMN,
    ERROR_COLUMN,
    STARTED_AT_COLUMN,
    STATUS_COLUMN,
    check_column_name,
)
from .seeding import params_digest, run_seed_sequence
from .series import FIELD as SERIES_FIELD
from .series import SeriesLog
from .storage.columns import ABSENT

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

Status = Literal["pending", "done", "failed"]
_NO_VARS: Mapping[str, Any] = {}
STATUSES: tuple[Status, ...] = ("pending", "done", "failed")


class Namespace(MutableMapping[str, Any]):
    """A dict with attribute access: ``ns.x`` is ``ns["x"]``."""

    __slots__ = ("_data",)
    _kind = "key"

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "_data", {})
        if data:
            self.update(data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise InvalidNameError(self._kind, key, "names are strings")
        self._data[key] = value

    def __delitem__(self, key: str) -> None:
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            known = ", ".join(self._data) or "none"
            raise AttributeError(f"no {self._kind} named {name!r} (there are: {known})") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(f"no {self._kind} named {name!r}") from None

    def __dir__(self) -> Iterable[str]:
        return [*super().__dir__(), *self._data]

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={_short(v)}" for k, v in self._data.items())
        return f"{type(self).__name__}({inner})"

    def to_dict(self) -> dict[str, Any]:
        """A shallow copy as a plain dict."""
        return dict(self._data)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self._data, {}))


class ReadOnlyNamespace(Namespace):
    """A Namespace that refuses changes after construction (params, config)."""

    __slots__ = ()

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "_data", dict(data) if data else {})

    def __setitem__(self, key: str, value: Any) -> None:
        raise TypeError(f"{self._kind}s are read-only during a run; {key!r} cannot be set")

    def __delitem__(self, key: str) -> None:
        raise TypeError(f"{self._kind}s are read-only during a run; {key!r} cannot be deleted")


class Params(ReadOnlyNamespace):
    """A run's grid values: read-only."""

    __slots__ = ()
    _kind = "param"


class Config(ReadOnlyNamespace):
    """Execute-time constants shared by every run: read-only."""

    __slots__ = ()
    _kind = "config"


class Vars(Namespace):
    """Temporary values: kept in memory, never stored (except inside an opt-in pickle)."""

    __slots__ = ()
    _kind = "var"


class Fields(Namespace):
    """Values that are persisted: each becomes a column of the run table.

    Names are checked when first set (letters, digits, underscores; not a param's name and not a
    reserved column). ``changed`` collects the names set or deleted since tracking started, so
    results can travel back from worker processes without re-sending unchanged values.
    """

    __slots__ = ("_changed", "_lower", "_params")
    _kind = "field"

    def __init__(
        self, data: Mapping[str, Any] | None = None, params: Mapping[str, Any] | None = None
    ) -> None:
        object.__setattr__(self, "_params", params if params is not None else {})
        object.__setattr__(self, "_changed", None)
        object.__setattr__(self, "_lower", None)
        object.__setattr__(self, "_data", dict(data) if data else {})

    def __setitem__(self, key: str, value: Any) -> None:
        data = self._data
        if key not in data:
            self._check_new(key)
        data[key] = value
        if self._changed is not None:
            self._changed.add(key)

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        if isinstance(self._lower, dict):
            self._lower.pop(key.lower(), None)
        if self._changed is not None:
            self._changed.add(key)

    def _check_new(self, key: str) -> None:
        """A new field name: valid, not a param, not differing only in case from another."""
        check_column_name(key, "field")
        if key in self._params:
            raise InvalidNameError(
                "field", key, "is a param of this run; params are read-only, pick another name"
            )
        lower = self._lower
        if lower is None:  # decided on the first new name, kept up to date afterwards
            names = (*self._params, *self._data)
            lower = _ALL_LOWER if all(n.islower() for n in names) else _lowered(names)
            object.__setattr__(self, "_lower", lower)
        if lower is _ALL_LOWER:
            if key.islower():  # no name here has a capital: a new lowercase name cannot clash
                return
            lower = _lowered((*self._params, *self._data))
            object.__setattr__(self, "_lower", lower)
        other = lower.setdefault(key.lower(), key)
        if other != key:
            raise InvalidNameError(
                "field",
                key,
                f"clashes with {other!r}: SQL treats names that differ only in case as one",
            )

    def _track_changes(self) -> None:
        object.__setattr__(self, "_changed", set())

    def __reduce__(self) -> tuple[Any, ...]:
        extra = {"_params": self._params, "_changed": None, "_lower": None}
        return (_rebuild, (Fields, self._data, extra))


#: Marks a Fields whose names are all lowercase (no case clash is possible for lowercase keys).
_ALL_LOWER: dict[str, str] = {}


def _lowered(names: Iterable[str]) -> dict[str, str]:
    return {name.lower(): name for name in names}


def _rebuild(cls: type[Namespace], data: dict[str, Any], extra: dict[str, Any]) -> Namespace:
    """Unpickle a namespace without going through its (validating) __setitem__."""
    ns = cls.__new__(cls)
    object.__setattr__(ns, "_data", data)
    for name, value in extra.items():
        object.__setattr__(ns, name, value)
    return ns


class Run:
    """One run: ``params`` (grid values), ``config`` (execute-time constants), ``fields``
    (persisted), ``vars`` (temporary), its ``status``, ``error`` and timestamps.

    ``rng`` is a numpy Generator seeded from the experiment's seed and the run's params (never its
    position or id), so the same grid gives the same numbers in any order and with any backend.
    """

    __slots__ = (
        "_digest",
        "_experiment_seed",
        "_grid",
        "_rng",
        "_series",
        "_steps",
        "_vars",
        "config",
        "ended_at",
        "error",
        "fields",
        "id",
        "params",
        "started_at",
        "status",
    )

    def __init__(
        self,
        id: int,
        params: Mapping[str, Any] | None = None,
        *,
        fields: Mapping[str, Any] | None = None,
        config: Config | None = None,
        experiment_seed: int = 0,
        status: Status = "pending",
        error: str | None = None,
        started_at: datetime | None = None,
        ended_at: datetime | None = None,
    ) -> None:
        self.id = id
        self.params = params if isinstance(params, Params) else Params(params)
        self.config = config if config is not None else Config()
        self.fields = Fields(fields, self.params)
        self._vars: Vars | None = None
        self.status: Status = status
        self.error = error
        self.started_at = started_at
        self.ended_at = ended_at
        self._steps: dict[str, dict[str, Any]] | str | None = None
        self._grid = False
        self._experiment_seed = experiment_seed
        self._rng: np.random.Generator | None = None
        self._series: SeriesLog | None = None
        self._digest: int | None = None

    @property
    def vars(self) -> Vars:
        """Temporary values of this run: never stored, except inside an opt-in pickle."""
        if self._vars is None:
            self._vars = Vars()
        return self._vars

    @property
    def steps(self) -> Mapping[str, Mapping[str, Any]]:
        """What each step executed on this run did, by step name (read-only): its source
        ``hash``, the ``config`` digest and ``seed`` it ran with, its ``status`` and its
        ``started_at``/``ended_at`` (ISO 8601, UTC). ``execute(resume=True)`` skips a run
        whose record of every given step matches."""
        return MappingProxyType({k: MappingProxyType(v) for k, v in self._step_records().items()})

    @property
    def duration(self) -> float | None:
        """Seconds spent in this run's steps (their recorded times added up; a later
        evaluation step adds to the generating one), or None when it never ran."""
        total = 0.0
        timed = False
        for record in self._step_records().values():
            started, ended = record.get("started_at"), record.get("ended_at")
            if started and ended:
                total += (
                    datetime.fromisoformat(ended) - datetime.fromisoformat(started)
                ).total_seconds()
                timed = True
        if timed:
            return total
        if self.started_at is not None and self.ended_at is not None:
            return (self.ended_at - self.started_at).total_seconds()
        return None

    @property
    def grid_point(self) -> bool:
        """Whether the run was added from a grid (``add_runs``/``add_run``): such params are
        one run per experiment, in memory and in the database. Runs tracked with
        ``with exp.run()`` may repeat params."""
        return self._grid

    @property
    def steps_record(self) -> str | None:
        """The steps record as stored (JSON text), or None when no step ran."""
        steps = self._steps
        if steps is None or isinstance(steps, str):
            return steps
        return json.dumps(steps, separators=(",", ":")) if steps else None

    def _mark_unstored(self) -> None:
        """The run finished but could not be stored: its records no longer say "done", so
        ``execute(resume=True)`` executes it again rather than skipping it."""
        records = self._step_records()
        for record in records.values():
            if record.get("status") == "done":
                record["status"] = "unstored"
        self._steps = records

    def _step_records(self) -> dict[str, dict[str, Any]]:
        """The steps record as a dict (parsed from its stored text on first use)."""
        steps = self._steps
        if isinstance(steps, str):
            try:
                parsed = json.loads(steps)
            except ValueError:
                parsed = {}
            steps = self._steps = parsed if isinstance(parsed, dict) else {}
        return steps if steps is not None else {}

    @property
    def params_digest(self) -> int:
        """A 128-bit digest of the params (computed once): the run's identity in the grid."""
        if self._digest is None:
            self._digest = params_digest(self.params._data)
        return self._digest

    @property
    def rng(self) -> np.random.Generator:
        """This run's numpy Generator (created on first use)."""
        if self._rng is None:
            import numpy as np

            self._rng = np.random.default_rng(self.seed_sequence)
        return self._rng

    def log(self, step: int | None = None, **metrics: Any) -> None:
        """Append a row to this run's metric series: ``run.log(loss=0.3, acc=0.8)``.

        The row gets ``step`` (default: the previous step plus one) and a UTC timestamp. The
        series is stored as one DataFrame field, ``series`` (see `runtable.series`).
        """
        if self._series is None:
            existing = self.fields._data.get(SERIES_FIELD)
            self._series = SeriesLog(existing)
        self._series.append(step, metrics)

    @property
    def series(self) -> pd.DataFrame | None:
        """The logged metric series as a DataFrame, or None when nothing was logged."""
        self._flush_series()
        value = self.fields._data.get(SERIES_FIELD)
        return value if self._series is not None or value is not None else None

    def _flush_series(self) -> None:
        if self._series is not None:
            self._series.flush_into(self.fields)

    @property
    def seed_sequence(self) -> np.random.SeedSequence:
        """The SeedSequence behind ``rng``: from the experiment's seed and this run's params."""
        return run_seed_sequence(self._experiment_seed, self.params_digest)

    def _namespaces(self) -> tuple[Mapping[str, Any], ...]:
        vars_ = self._vars._data if self._vars is not None else _NO_VARS
        return (self.params._data, self.config._data, self.fields._data, vars_)

    @classmethod
    def _restore(
        cls,
        id: int,
        params: dict[str, Any],
        fields: dict[str, Any],
        config: Config,
        experiment_seed: int,
        status: Status,
        error: str | None,
        started_at: datetime | None,
        ended_at: datetime | None,
        steps: str | None,
        grid: bool = False,
    ) -> Run:
        """A run built from dicts it now owns, without checking names again: the caller checked
        them (a grid being added) or storage did when they were stored (a run being loaded)."""
        run = cls.__new__(cls)
        run.id = id
        run.params = p = Params.__new__(Params)
        object.__setattr__(p, "_data", params)
        run.fields = f = Fields.__new__(Fields)
        object.__setattr__(f, "_data", fields)
        object.__setattr__(f, "_params", params)
        object.__setattr__(f, "_changed", None)
        object.__setattr__(f, "_lower", None)
        run.config = config
        run._vars = None
        run.status = status
        run.error = error
        run.started_at = started_at
        run.ended_at = ended_at
        run._steps = steps
        run._grid = grid
        run._experiment_seed = experiment_seed
        run._rng = None
        run._series = None
        run._digest = None
        return run

    def df(self) -> pd.DataFrame:
        """This run as a one-row DataFrame: ``id_run``, its params, its fields."""
        return Runs([self]).df()

    def _repr_html_(self) -> str:
        from .views import run_html

        return run_html(self)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={_short(v)}" for k, v in self.params.items())
        return f"<Run {self.id} {self.status} ({params}) fields: {', '.join(self.fields) or '-'}>"

    def __getstate__(self) -> dict[str, Any]:
        state = {name: getattr(self, name) for name in self.__slots__ if name != "_rng"}
        state["_rng"] = None  # a fresh Generator is derived again from the seed on use
        self._flush_series()
        state["_series"] = None  # the series travels as its field
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)


class Runs:
    """The runs of an experiment, in insertion order.

    Iterating yields `Run` objects; ``runs[id]`` looks one up by run id. Runs loaded
    from storage are built on first use; until then ``df()`` reads the stored columns
    directly, which is what makes loading a large experiment into a DataFrame fast.
    """

    __slots__ = ("_by_id", "_deferred")

    def __init__(self, runs: Iterable[Run] = ()) -> None:
        self._by_id: dict[int, Run] = {}
        self._deferred: tuple[Any, Callable[[], Iterable[Run]]] | None = None
        for run in runs:
            self._add(run)

    def _defer(self, stored: Any, build: Callable[[], Iterable[Run]]) -> None:
        """Hold runs read from storage (``stored`` has ids, status and params/fields columns)
        and the function that builds their Run objects when they are first needed."""
        self._deferred = (stored, build)

    def _runs(self) -> dict[int, Run]:
        if self._deferred is not None:
            _, build = self._deferred
            self._deferred = None
            for run in build():
                self._add(run)
        return self._by_id

    def _add(self, run: Run) -> None:
        by_id = self._runs()
        if run.id in by_id:
            raise ValueError(f"a run with id {run.id} already exists")
        by_id[run.id] = run

    def __iter__(self) -> Iterator[Run]:
        return iter(self._runs().values())

    def __len__(self) -> int:
        if self._deferred is not None:
            return len(self._deferred[0].ids)
        return len(self._by_id)

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._runs()

    def __getitem__(self, run_id: int) -> Run:
        try:
            return self._runs()[run_id]
        except KeyError:
            raise KeyError(f"no run with id {run_id!r} (ids are {self._id_range()})") from None

    def ids(self) -> list[int]:
        """Run ids in insertion order."""
        if self._deferred is not None:
            return list(self._deferred[0].ids)
        return list(self._by_id)

    def at(self, position: int) -> Run:
        """The run at ``position`` in insertion order (negative counts from the end); run ids
        are not positions (see `Run.id`)."""
        runs = self._runs()
        n = len(runs)
        if not -n <= position < n:
            raise IndexError(f"no run at position {position}: there are {n} runs")
        return list(runs.values())[position]

    def apply(self, func: Callable[[Run], Any]) -> Runs:
        """Call ``func(run)`` on every run, in order, in this process (a quick change of many
        runs; unlike a step it records nothing); returns the runs, so calls chain."""
        for run in self:
            func(run)
        return self

    def first(self) -> Run:
        """The first run added; IndexError when there are none."""
        for run in self._runs().values():
            return run
        raise IndexError("the experiment has no runs; add some with add_runs() or add_run()")

    def df(self, *, meta: bool = False) -> pd.DataFrame:
        """One row per run: ``id_run``, then params, then fields (absent values are missing).

        With ``meta=True`` also ``runtable_status``, ``runtable_error``,
        ``runtable_started_at`` and ``runtable_ended_at`` (named as in SQL, so they never clash
        with a field called ``status`` or ``error``).
        """
        from ._frames import dataframe  # text with lone surrogates stays object

        if self._deferred is not None:
            return dataframe(_stored_columns(self._deferred[0], meta))
        runs = list(self._by_id.values())
        columns: dict[str, Sequence[Any]] = {"id_run": [r.id for r in runs]}
        if meta:
            columns[STATUS_COLUMN] = [r.status for r in runs]
            columns[ERROR_COLUMN] = [r.error for r in runs]
            columns[STARTED_AT_COLUMN] = [r.started_at for r in runs]
            columns[ENDED_AT_COLUMN] = [r.ended_at for r in runs]
        columns.update(_columns([r.params._data for r in runs]))
        columns.update(_columns([r.fields._data for r in runs]))
        return dataframe({k: _frame_column(v) for k, v in columns.items()})

    def _repr_html_(self) -> str:
        from .views import runs_html

        return runs_html(self)

    def __repr__(self) -> str:
        counts = {s: 0 for s in STATUSES}
        statuses = (
            self._deferred[0].status
            if self._deferred is not None
            else [r.status for r in self._by_id.values()]
        )
        for status in statuses:
            counts[status] += 1
        detail = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        return f"<Runs {len(self)}{': ' + detail if detail else ''}>"

    def _id_range(self) -> str:
        ids = self.ids()
        if not ids:
            return "none"
        return f"{min(ids)}..{max(ids)}"


def _stored_columns(stored: Any, meta: bool) -> dict[str, Sequence[Any]]:
    """The DataFrame columns of runs still held as stored columns."""
    columns: dict[str, Sequence[Any]] = {"id_run": stored.ids}
    if meta:
        columns[STATUS_COLUMN] = stored.status
        columns[ERROR_COLUMN] = stored.error
        columns[STARTED_AT_COLUMN] = stored.started_at
        columns[ENDED_AT_COLUMN] = stored.ended_at
    for source in (stored.params, stored.fields):
        for name, values in source.items():
            if name in stored.all_floats:  # straight to float64, no type inference
                import numpy as np

                values = np.fromiter(values, dtype=np.float64, count=len(values))
            else:
                values = _frame_column(values)
            columns[name] = values
    return columns


def _frame_column(values: Sequence[Any]) -> Sequence[Any]:
    """A DataFrame column: an explicit ``None`` stays ``None`` (an object column, so ints
    stay ints and a ``None`` grid value is not NaN); a run without the value (absent) is
    missing as pandas shows it (NaN in a numeric column)."""
    if not isinstance(values, (list, tuple)):
        return values
    nones = False
    absent = False
    for v in values:
        if v is None:
            nones = True
        elif v is ABSENT:
            absent = True
    if not nones:
        return [None if v is ABSENT else v for v in values] if absent else values
    import numpy as np

    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = None if v is ABSENT else v
    return out  # type: ignore[return-value]  # an object array: a sequence pandas keeps as is


def _columns(dicts: list[dict[str, Any]]) -> dict[str, Sequence[Any]]:
    """The values of ``dicts`` column by column (None where a dict lacks a key)."""
    orders = dict.fromkeys(map(tuple, dicts))
    if len(orders) == 1:  # every run has the same names in the same order: transpose at C speed
        (names,) = orders
        values = zip(*map(tuple, map(dict.values, dicts)), strict=True)
        return dict(zip(names, values, strict=True)) if names else {}
    out: dict[str, Sequence[Any]] = {}
    for keys in orders:
        for name in keys:
            if name not in out:
                out[name] = [d.get(name, ABSENT) for d in dicts]
    return out


def _short(value: Any, limit: int = 40) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None and not isinstance(value, (int, float)):
        dtype = getattr(value, "dtype", None)
        return f"{type(value).__name__}(shape={tuple(shape)}{f', dtype={dtype}' if dtype else ''})"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
