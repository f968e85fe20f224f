"""Runs: one point of the grid with its params, config, fields and vars; and their collection."""

from __future__ import annotations

import copy
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

from .errors import InvalidNameError
from .frame import ABSENT, FloatColumn, RunFrame
from .names import (
    ENDED_AT_COLUMN,
    ERROR_COLUMN,
    STARTED_AT_COLUMN,
    STATUS_COLUMN,
)
from .seeding import params_digest, run_seed_sequence, stored_param
from .series import FIELD as SERIES_FIELD
from .series import SeriesLog

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

Status = Literal["pending", "done", "failed"]
_NO_VARS: Mapping[str, Any] = {}
STATUSES: tuple[Status, ...] = ("pending", "done", "failed")


class _ByAttribute(MutableMapping[str, Any]):
    """A mapping whose keys are also attributes: ``m.x`` is ``m["x"]``, and an unknown name
    is an AttributeError that lists the names there are (``_kind`` names what they are)."""

    __slots__ = ()
    _kind = "key"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            known = ", ".join(self) or "none"
            raise AttributeError(f"no {self._kind} named {name!r} (there are: {known})") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(f"no {self._kind} named {name!r}") from None

    def __dir__(self) -> Iterable[str]:
        return [*super().__dir__(), *self]


class Namespace(_ByAttribute):
    """A dict with attribute access: ``ns.x`` is ``ns["x"]``."""

    __slots__ = ("_data",)

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

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={_short(v)}" for k, v in self._data.items())
        return f"{type(self).__name__}({inner})"

    def to_dict(self) -> dict[str, Any]:
        """A shallow copy as a plain dict."""
        return dict(self._data)

    def __reduce__(self) -> tuple[Any, ...]:
        # A copy (copy.copy, pickle) has a dict of its own: later changes to one do not
        # show in the other.
        return (_rebuild, (type(self), dict(self._data), {}))


class ReadOnlyNamespace(Namespace):
    """A Namespace that refuses changes after construction (params, config)."""

    __slots__ = ()

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "_data", dict(data) if data else {})

    def __setitem__(self, key: str, value: Any) -> None:
        raise TypeError(f"{self._kind}s are read-only during a run; {key!r} cannot be set")

    def __delitem__(self, key: str) -> None:
        raise TypeError(f"{self._kind}s are read-only during a run; {key!r} cannot be deleted")


class Config(ReadOnlyNamespace):
    """Execute-time constants shared by every run: read-only."""

    __slots__ = ()
    _kind = "config"


class Vars(Namespace):
    """Temporary values: kept in memory, never stored (except inside an opt-in pickle)."""

    __slots__ = ()
    _kind = "var"


class _RunValues(_ByAttribute):
    """One run's params or fields: a view of its position in the frame's columns (a value
    the run does not have is absent: not a key)."""

    __slots__ = ("_columns", "_frame", "_i")

    def __init__(self, frame: RunFrame, i: int, columns: dict[str, list[Any]]) -> None:
        # The slots' own setters: __setattr__ is the view's (it sets a field).
        _set_frame(self, frame)
        _set_i(self, i)
        _set_columns(self, columns)

    def __getitem__(self, key: str) -> Any:
        column = self._columns.get(key)
        if column is not None:
            try:
                value = column[self._i]
            except IndexError:
                value = _moved(self._columns, key, column, self._i)
            if value is not ABSENT:
                return value
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        column = self._columns.get(key)
        return column is not None and _cell(self._columns, key, column, self._i) is not ABSENT

    def __iter__(self) -> Iterator[str]:
        i = self._i
        columns = self._columns
        return iter([k for k, c in columns.items() if _cell(columns, k, c, i) is not ABSENT])

    def __len__(self) -> int:
        i = self._i
        columns = self._columns
        return sum(1 for k, c in columns.items() if _cell(columns, k, c, i) is not ABSENT)

    def __setitem__(self, key: str, value: Any) -> None:
        raise TypeError(f"{self._kind}s are read-only during a run; {key!r} cannot be set")

    def __delitem__(self, key: str) -> None:
        raise TypeError(f"{self._kind}s are read-only during a run; {key!r} cannot be deleted")

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={_short(v)}" for k, v in self.items())
        return f"{type(self).__name__}({inner})"

    def to_dict(self) -> dict[str, Any]:
        """A shallow copy as a plain dict."""
        i = self._i
        cells = {k: _cell(self._columns, k, c, i) for k, c in list(self._columns.items())}
        return {k: v for k, v in cells.items() if v is not ABSENT}

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled on its own, a run's params or fields travel as a one-run copy.
        return (_detached_values, (type(self), self.to_dict()))


def _cell(columns: dict[str, Any], key: Any, column: Any, i: int) -> Any:
    """``column[i]``, read again from ``columns`` when another thread turned the packed
    column it was into a list meanwhile (a packed column emptied by that holds no values)."""
    try:
        return column[i]
    except IndexError:
        return _moved(columns, key, column, i)


def _moved(columns: dict[str, Any], key: Any, column: Any, i: int) -> Any:
    current = columns.get(key)
    if isinstance(column, FloatColumn) and current is not None and current is not column:
        return current[i]
    raise IndexError(i)


_set_frame = _RunValues._frame.__set__  # type: ignore[attr-defined]
_set_i = _RunValues._i.__set__  # type: ignore[attr-defined]
_set_columns = _RunValues._columns.__set__  # type: ignore[attr-defined]


class Params(_RunValues):
    """A run's grid values: read-only."""

    __slots__ = ()
    _kind = "param"


class Fields(_RunValues):
    """Values that are persisted: each becomes a column of the run table.

    A new name is checked once, when its column is created for the experiment's runs (letters,
    digits, underscores; not a param's name, not a reserved column, not differing only in case
    from another column).
    """

    __slots__ = ()
    _kind = "field"

    # Rows logged with run.log() and not yet written into the field ``series`` are written
    # first by every read that can see that field, so the field is what was logged.

    def __getitem__(self, key: str) -> Any:
        if self._frame.series and key == SERIES_FIELD:
            _sync_series(self._frame, self._i)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if self._frame.series and key == SERIES_FIELD:
            _sync_series(self._frame, self._i)
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        if self._frame.series:
            _sync_series(self._frame, self._i)
        return super().__iter__()

    def __len__(self) -> int:
        if self._frame.series:
            _sync_series(self._frame, self._i)
        return super().__len__()

    def to_dict(self) -> dict[str, Any]:
        """A shallow copy as a plain dict."""
        if self._frame.series:
            _sync_series(self._frame, self._i)
        return super().to_dict()

    # Setting or deleting ``series`` needs nothing more: the pending log notices that the
    # field no longer holds what it wrote (`SeriesLog.source`) and yields to it.

    def __setitem__(self, key: str, value: Any) -> None:
        column = self._columns.get(key)
        if column is None:
            if not isinstance(key, str):
                raise InvalidNameError(self._kind, key, "names are strings")
            column = self._frame.add_column(key, "field")
        column[self._i] = value
        self._frame.changed[self._i] = 1

    # ``fields.x = v`` is the hot path of a sweep: the same as ``fields["x"] = v``, inline.
    def __setattr__(self, name: str, value: Any) -> None:
        column = self._columns.get(name)
        if column is None:
            column = self._frame.add_column(name, "field")
        column[self._i] = value
        self._frame.changed[self._i] = 1

    def __delitem__(self, key: str) -> None:
        if self._frame.series and key == SERIES_FIELD:
            _sync_series(self._frame, self._i)  # rows logged but not written: deleted too
        column = self._columns.get(key)
        if column is None or column[self._i] is ABSENT:
            raise KeyError(key)
        column[self._i] = ABSENT
        self._frame.changed[self._i] = 1

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Set several fields (as ``dict.update``)."""
        for key, value in dict(*args, **kwargs).items():
            self[key] = value


def _detached_values(cls: type[_RunValues], data: dict[str, Any]) -> _RunValues:
    frame = RunFrame()
    i = frame.append(0, data if cls is Params else {}, grid=False)
    if cls is not Params:
        for key, value in data.items():
            frame.add_column(key, "field")[i] = value
    return cls(frame, i, frame.params if cls is Params else frame.fields)


def _rebuild(cls: type[Namespace], data: dict[str, Any], extra: dict[str, Any]) -> Namespace:
    """Unpickle a namespace without going through its (validating) __setitem__."""
    ns = cls.__new__(cls)
    object.__setattr__(ns, "_data", data)
    for name, value in extra.items():
        object.__setattr__(ns, name, value)
    return ns


T = TypeVar("T")


_TIMES = frozenset({"started_at", "ended_at"})


class _Cell(Generic[T]):
    """A run's cell of one of the frame's bookkeeping columns (named as the attribute), read
    and written through the view; a write flags the run as changed since stored."""

    def __init__(self, doc: str) -> None:
        self.__doc__ = doc
        self._column = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._column = name

    @overload
    def __get__(self, run: None, owner: type | None = None) -> _Cell[T]: ...
    @overload
    def __get__(self, run: Run, owner: type | None = None) -> T: ...
    def __get__(self, run: Run | None, owner: type | None = None) -> T | _Cell[T]:
        if run is None:
            return self
        return getattr(run._frame, self._column)[run._i]  # type: ignore[no-any-return]

    def __set__(self, run: Run, value: T) -> None:
        value = _checked_cell(self._column, value)
        frame = run._frame
        if self._column in _TIMES:  # a steps record made from the run's times keeps them
            frame.own_steps(run._i)
        getattr(frame, self._column)[run._i] = value
        frame.changed[run._i] = 1


def _checked_cell(column: str, value: Any) -> Any:
    """``value`` as the bookkeeping ``column`` keeps it (an aware time as naive UTC), or
    ValueError naming what the column takes: a value it cannot take would be stored, and then
    refused when loaded."""
    if column == "status":
        if value in STATUSES and type(value) is str:
            return value
        raise ValueError(f"a run's status is one of {', '.join(STATUSES)}, not {value!r}")
    if column == "error":
        if value is None or type(value) is str:
            return value
        raise ValueError(
            f"a run's error is the text of its traceback, or None; not a {type(value).__name__}"
        )
    if value is None or (isinstance(value, datetime) and value.tzinfo is None):
        return value
    if isinstance(value, datetime):  # aware: the same instant in UTC, as runtable stamps
        return value.astimezone(UTC).replace(tzinfo=None)
    raise ValueError(
        f"a run's {column} is a datetime (naive in UTC, as runtable stamps it) or None; "
        f"not {type(value).__name__} {value!r}"
    )


class Run:
    """One run: ``params`` (grid values), ``config`` (execute-time constants), ``fields``
    (persisted), ``vars`` (temporary), its ``status``, ``error`` and timestamps.

    A Run is a view of one position of its experiment's runs, which are held as columns (see
    `runtable.frame`): setting ``run.fields.x`` writes that run's cell of the column ``x``.
    ``rng`` is a numpy Generator seeded from the experiment's seed and the run's params (never its
    position or id), so the same grid gives the same numbers in any order and with any backend.
    """

    __slots__ = ("_frame", "_i")

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
        frame = RunFrame(config if config is not None else Config(), experiment_seed)
        self._frame = frame
        self._i = frame.append(
            id,
            dict(params or {}),
            grid=False,
            status=_checked_cell("status", status),
            error=_checked_cell("error", error),
            started_at=_checked_cell("started_at", started_at),
            ended_at=_checked_cell("ended_at", ended_at),
        )
        if fields:
            self.fields.update(fields)

    @classmethod
    def _view(cls, frame: RunFrame, i: int) -> Run:
        run = cls.__new__(cls)
        run._frame = frame
        run._i = i
        return run

    # -- identity and bookkeeping ------------------------------------------------------------

    @property
    def id(self) -> int:
        """The run's id: an integer unique in its experiment (not a position: see Runs.at)."""
        return self._frame.ids[self._i]

    status: _Cell[Status] = _Cell('"pending", "done" or "failed".')
    error: _Cell[str | None] = _Cell("The traceback of the failure, for a failed run.")
    started_at: _Cell[datetime | None] = _Cell("When the run (its first step) started, UTC.")
    ended_at: _Cell[datetime | None] = _Cell("When the run's last step ended, UTC.")

    @property
    def params(self) -> Params:
        """The run's grid values (read-only)."""
        frame = self._frame
        return Params(frame, self._i, frame.params)

    @property
    def fields(self) -> Fields:
        """The run's persisted values: ``run.fields.loss = 0.1``."""
        frame = self._frame
        return Fields(frame, self._i, frame.fields)

    @property
    def config(self) -> Config:
        """The execute-time constants every run shares (read-only)."""
        config = self._frame.config
        return config if isinstance(config, Config) else Config(config)

    @property
    def vars(self) -> Vars:
        """Temporary values of this run: never stored, except inside an opt-in pickle."""
        found = self._frame.vars.get(self._i)
        if found is None:
            found = self._frame.vars[self._i] = Vars()
        return found

    @property
    def steps(self) -> Mapping[str, Mapping[str, Any]]:
        """What each step executed on this run did, by step name (read-only): its source
        ``hash``, the ``config`` digest and ``seed`` it ran with, its ``status`` and its
        ``started_at``/``ended_at`` (ISO 8601, UTC). ``execute(resume=True)`` skips a run
        whose record of every given step matches."""
        records = self._frame.step_records(self._i)
        return MappingProxyType({k: MappingProxyType(v) for k, v in records.items()})

    @property
    def duration(self) -> float | None:
        """Seconds spent in this run's steps (their recorded times added up; a later
        evaluation step adds to the generating one), or None when it never ran."""
        total = 0.0
        timed = False
        for record in self._frame.step_records(self._i).values():
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
        return self._frame.grid[self._i]

    @property
    def params_digest(self) -> int:
        """A 128-bit digest of the params (computed once): the run's identity in the grid."""
        digests = self._frame.digests
        digest = digests.get(self._i)
        if digest is None:
            digest = digests[self._i] = params_digest(self._frame.params_at(self._i))
        return digest

    # -- randomness and metrics --------------------------------------------------------------

    @property
    def rng(self) -> np.random.Generator:
        """This run's numpy Generator (created on first use)."""
        rngs = self._frame.rngs
        rng = rngs.get(self._i)
        if rng is None:
            import numpy as np

            rng = rngs[self._i] = np.random.default_rng(self.seed_sequence)
        return rng

    @property
    def seed_sequence(self) -> np.random.SeedSequence:
        """The SeedSequence behind ``rng``: from the experiment's seed and this run's params."""
        return run_seed_sequence(self._frame.seed, self.params_digest)

    def log(self, step: int | None = None, **metrics: Any) -> None:
        """Append a row to this run's metric series: ``run.log(loss=0.3, acc=0.8)``.

        The row gets ``step`` (default: the previous step plus one) and a UTC timestamp. The
        series is stored as one DataFrame field, ``series`` (see `runtable.series`).
        """
        frame, i = self._frame, self._i
        log = frame.series.get(i)
        column = frame.fields.get(SERIES_FIELD)
        value = ABSENT if column is None else column[i]
        if log is None or value is not log.source:
            # No log yet, or the field was set or deleted since the log last wrote it: the
            # field is where the series continues from (SeriesFieldError if it holds another
            # kind of value; nothing is changed then).
            existing = None if value is ABSENT or value is None else value
            log = SeriesLog(existing, value)
            frame.series[i] = log
        log.append(step, metrics)
        frame.changed[i] = 1

    @property
    def series(self) -> pd.DataFrame | None:
        """The logged metric series as a DataFrame, or None when nothing was logged."""
        return self.fields.get(SERIES_FIELD)

    def _flush_series(self) -> None:
        if self._frame.series:
            _sync_series(self._frame, self._i)

    # -- internals used by execution and the experiment ---------------------------------------

    @property
    def steps_record(self) -> str | None:
        """The steps record as stored (JSON text), or None when no step ran."""
        return self._frame.step_text(self._i)

    def _step_records(self) -> dict[str, dict[str, Any]]:
        return self._frame.step_records(self._i)

    def _set_steps(self, records: dict[str, dict[str, Any]]) -> None:
        self._frame.steps[self._i] = records
        self._frame.changed[self._i] = 1

    def _mark_unstored(self) -> None:
        """The run finished but could not be stored: its records no longer say "done", so
        ``execute(resume=True)`` executes it again rather than skipping it."""
        records = self._step_records()
        for record in records.values():
            if record.get("status") == "done":
                record["status"] = "unstored"
        self._frame.steps[self._i] = records
        self._frame.changed[self._i] = 1

    def _namespaces(self) -> tuple[Mapping[str, Any], ...]:
        vars_ = self._frame.vars.get(self._i)
        return (self.params, self.config, self.fields, vars_ if vars_ is not None else _NO_VARS)

    # -- views -------------------------------------------------------------------------------

    def df(self) -> pd.DataFrame:
        """This run as a one-row DataFrame: ``id_run``, its params, its fields."""
        self._flush_series()
        return Runs(self._frame.take([self._i])).df()

    def _repr_html_(self) -> str:
        from .views import run_html

        return run_html(self)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={_short(v)}" for k, v in self.params.items())
        fields = ", ".join(self.fields) or "-"
        return f"<Run {self.id} {self.status} ({params}) fields: {fields}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Run):
            return NotImplemented
        return self._frame is other._frame and self._i == other._i

    def __hash__(self) -> int:
        return hash((id(self._frame), self._i))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled on its own (a user's own joblib call, say), a run travels as a one-run copy:
        params, fields, vars, bookkeeping; its Generator is derived again on use."""
        self._flush_series()
        frame = self._frame.take([self._i])
        frame.rngs.clear()
        frame.series.clear()
        for j, values in frame.vars.items():  # a copy's vars are its own
            frame.vars[j] = copy.copy(values)
        return (Run._view, (frame, 0))


class Runs:
    """The runs of an experiment, in insertion order, held as columns (a `RunFrame`).

    Iterating yields `Run` objects (views of one position each); ``runs[id]`` looks one up by
    run id; ``df()`` is built from the columns directly.
    """

    __slots__ = ("_frame",)

    def __init__(self, runs: Iterable[Run] | RunFrame = ()) -> None:
        if isinstance(runs, RunFrame):
            self._frame = runs
            return
        self._frame = RunFrame()
        for run in runs:
            run._flush_series()
            self._frame.concat(run._frame.take([run._i]))

    @property
    def frame(self) -> RunFrame:
        """The runs' columns (see `runtable.frame.RunFrame`)."""
        return self._frame

    def __iter__(self) -> Iterator[Run]:
        frame = self._frame
        view = Run._view
        return (view(frame, i) for i in range(len(frame.ids)))

    def __len__(self) -> int:
        return len(self._frame.ids)

    def __contains__(self, run_id: object) -> bool:
        """Whether a run with this id is here; for a `Run`, whether it is one of these runs
        (a view of them, equal to ``runs[run.id]``), not a copy or another experiment's."""
        if isinstance(run_id, Run):
            return run_id._frame is self._frame and 0 <= run_id._i < len(self._frame.ids)
        key = _run_id(run_id)
        return key is not None and self._frame.position(key) is not None

    def __getitem__(self, run_id: int) -> Run:
        key = _run_id(run_id)
        i = self._frame.position(key) if key is not None else None
        if i is None:
            raise KeyError(f"no run with id {run_id!r} (ids are {self._id_range()})")
        return Run._view(self._frame, i)

    def ids(self) -> list[int]:
        """Run ids in insertion order."""
        return list(self._frame.ids)

    def at(self, position: int) -> Run:
        """The run at ``position`` in insertion order (negative counts from the end); run ids
        are not positions (see `Run.id`)."""
        n = len(self._frame.ids)
        if not -n <= position < n:
            raise IndexError(f"no run at position {position}: there are {n} runs")
        return Run._view(self._frame, position % n)

    def apply(self, func: Callable[[Run], Any]) -> Runs:
        """Call ``func(run)`` on every run, in order, in this process (a quick change of many
        runs; unlike a step it records nothing); returns the runs, so calls chain."""
        for run in self:
            func(run)
        return self

    def first(self) -> Run:
        """The first run added; IndexError when there are none."""
        if not self._frame.ids:
            raise IndexError("the experiment has no runs; add some with add_runs() or add_run()")
        return Run._view(self._frame, 0)

    def df(self, *, meta: bool = False) -> pd.DataFrame:
        """One row per run: ``id_run``, then params, then fields (absent values are missing).

        With ``meta=True`` also ``runtable_status``, ``runtable_error``,
        ``runtable_started_at`` and ``runtable_ended_at`` (named as in SQL, so they never clash
        with a field called ``status`` or ``error``).
        """
        from ._frames import dataframe  # text with lone surrogates stays object

        flush_series(self._frame)
        return dataframe(_frame_columns(self._frame, meta))

    def _repr_html_(self) -> str:
        from .views import runs_html

        return runs_html(self)

    def __repr__(self) -> str:
        counts = {s: 0 for s in STATUSES}
        for status in self._frame.status:
            counts[status] += 1  # type: ignore[index]
        detail = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        return f"<Runs {len(self)}{': ' + detail if detail else ''}>"

    def _id_range(self) -> str:
        ids = self._frame.ids
        if not ids:
            return "none"
        return f"{min(ids)}..{max(ids)}"


def _run_id(value: object) -> int | None:
    """A run id as an int (numpy integers too, as ``df()["id_run"]`` holds them), or None."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return None


def flush_series(frame: RunFrame, positions: Iterable[int] | None = None) -> None:
    """Write the metric logs of the runs at ``positions`` (all for None) into their
    ``series`` field."""
    if not frame.series:
        return
    for i in list(frame.series) if positions is None else positions:
        _sync_series(frame, i)


def _sync_series(frame: RunFrame, i: int) -> None:
    """Write the rows logged on position ``i`` and not yet written into its ``series`` field;
    when the field was set or deleted since the log last wrote it, the field wins: the
    pending rows are dropped."""
    log = frame.series.get(i)
    if log is None or not log.dirty:
        return
    column = frame.fields.get(SERIES_FIELD)
    if (ABSENT if column is None else column[i]) is not log.source:
        del frame.series[i]
        return
    if column is None:
        column = frame.add_column(SERIES_FIELD, "field")
    column[i] = log.take()


def _frame_columns(frame: RunFrame, meta: bool) -> dict[str, Sequence[Any]]:
    """The DataFrame columns of a frame's runs."""
    import numpy as np

    ids = frame.ids
    columns: dict[str, Any] = {"id_run": _int64(ids) if set(map(type, ids)) == _INT_ONLY else ids}
    if meta:
        columns[STATUS_COLUMN] = frame.status
        columns[ERROR_COLUMN] = frame.error
        columns[STARTED_AT_COLUMN] = frame.started_at
        columns[ENDED_AT_COLUMN] = frame.ended_at
    for source in (frame.params, frame.fields):
        for name, values in source.items():
            if isinstance(values, FloatColumn):  # packed floats: a view, copied by the DataFrame
                columns[name] = np.frombuffer(values, dtype=np.float64)
                continue
            types = set(map(type, values))
            if source is frame.params and not types <= _PLAIN_PARAM_TYPES:
                # Classes, functions and partials as the text they are stored as, so df()
                # shows the same before and after a load.
                values = [v if v is ABSENT else stored_param(v) for v in values]
                types = set(map(type, values))
            if types == _FLOAT_ONLY:  # straight to float64, no inference
                columns[name] = np.fromiter(values, dtype=np.float64, count=len(values))
            elif types == _INT_ONLY:
                columns[name] = _int64(values)
            elif types == _ABSENT_ONLY:
                continue  # a column no run has any more (its fields were deleted)
            else:
                columns[name] = _frame_column(values, types)
    return columns


def _int64(values: Sequence[int]) -> Any:
    """A column of ints as int64 without pandas' inference (6x faster), as pandas makes it;
    the ints themselves when one does not fit (pandas then picks uint64 or object)."""
    import numpy as np

    try:
        return np.fromiter(values, dtype=np.int64, count=len(values))
    except OverflowError:
        return values


_PLAIN_PARAM_TYPES = frozenset({int, float, str, bool, type(None), type(ABSENT)})
_FLOAT_ONLY = {float}
_INT_ONLY = {int}
_ABSENT_ONLY = {type(ABSENT)}
_NONE_TYPE = type(None)


def _frame_column(values: Sequence[Any], types: set[type]) -> Sequence[Any]:
    """A DataFrame column (of ``values``, whose types are ``types``): an explicit ``None``
    stays ``None`` (an object column, so ints stay ints and a ``None`` grid value is not
    NaN); a run without the value (absent) is missing as pandas shows it (NaN in a numeric
    column)."""
    if not isinstance(values, (list, tuple)):
        return values
    if _NONE_TYPE not in types:
        return [None if v is ABSENT else v for v in values] if type(ABSENT) in types else values
    import numpy as np
    import pandas as pd

    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = None if v is ABSENT else v
    # A Series of dtype object: pandas 3 would infer its str dtype from an object array of
    # texts, and turn the None into NaN, as it shows an absent value.
    return pd.Series(out, dtype=object, copy=False)  # type: ignore[return-value]


def _short(value: Any, limit: int = 40) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None and not isinstance(value, (int, float)):
        dtype = getattr(value, "dtype", None)
        return f"{type(value).__name__}(shape={tuple(shape)}{f', dtype={dtype}' if dtype else ''})"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
