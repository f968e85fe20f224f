"""Runs as columns: the one in-memory form of an experiment's runs.

A `RunFrame` holds every run of an experiment column by column: run ids, the bookkeeping
(status, error, timestamps, step records, whether the run is a grid point), one list per param
and one per field, with `ABSENT` where a run does not have a value (distinct from ``None``,
which is a value). Names are checked once, when a column is created, not per run.

`runtable.run.Run` is a view of one position of a frame; storage writes a frame with one
row/column flip and reads back into one; ``df()`` is built from its columns. Storage imports
this module and nothing else of the domain.
"""

from __future__ import annotations

import json
import sys
import threading
from array import array
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from .errors import InvalidNameError
from .names import check_column_name


class _Absent:
    """Marks a value a run does not have (distinct from a stored ``None``)."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __reduce__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


#: Held while a FloatColumn is written or turned into its list.
_UNPACKING = threading.Lock()


class FloatColumn(array):  # type: ignore[type-arg]  # of floats: array("d")
    """A param or field column in which every run has a float, packed: 8 bytes a value
    instead of a float object and a pointer to it. A load makes one of each such column
    (from the fetched bytes), then `bind` puts it in its frame.

    It stands for the list of those floats: reading a cell gives the float, writing a float
    writes it. Any other change (another kind of value, ``ABSENT``, runs added or removed)
    first turns it into that list, put in its place in its frame's columns; a reference to
    it taken before then passes its writes on to the list (and holds no values). Writes and
    that change hold one lock, so threads writing cells lose none. Copied or pickled, it is
    that list."""

    __slots__ = ("_columns", "_list", "_name")

    def __new__(cls, values: Iterable[float] | bytes = ()) -> Any:
        return super().__new__(cls, "d", values)

    def __init__(self, values: Iterable[float] | bytes = ()) -> None:
        self._columns: dict[str, Any] | None = None
        self._name = ""
        self._list: list[Any] | None = None

    def bind(self, columns: dict[str, list[Any]], name: str) -> list[Any]:
        """Put the column in ``columns[name]``; returns it (typed as the list it stands
        for)."""
        self._columns = columns
        self._name = name
        columns[name] = self  # type: ignore[assignment]  # a list in every way that is used
        return self  # type: ignore[return-value]

    def unpack(self) -> list[Any]:
        """The column as a list, in its place in the frame from now on."""
        with _UNPACKING:
            return self._unpack()

    def _unpack(self) -> list[Any]:
        moved = self._list
        if moved is None:
            moved = self._list = self.tolist()
            if self._columns is not None and self._columns.get(self._name) is self:
                self._columns[self._name] = moved
            array.__delitem__(self, slice(None))  # a stale reader fails instead of misreading
        return moved

    def values(self) -> list[Any]:
        """The values as a list (a copy)."""
        with _UNPACKING:
            moved = self._list
            return list(moved) if moved is not None else self.tolist()

    def __setitem__(self, index: Any, value: Any) -> None:
        with _UNPACKING:  # no float written by one thread is lost to another's unpacking
            if type(value) is float and type(index) is int and self._list is None:
                array.__setitem__(self, index, value)
                return
            moved = self._unpack()
        moved[index] = value

    def append(self, value: Any) -> None:
        with _UNPACKING:
            if type(value) is float and self._list is None:
                array.append(self, value)
                return
            moved = self._unpack()
        moved.append(value)

    def extend(self, values: Iterable[Any]) -> None:
        self.unpack().extend(values)

    def insert(self, index: int, value: Any) -> None:
        self.unpack().insert(index, value)

    def pop(self, index: int = -1) -> Any:
        return self.unpack().pop(index)

    def remove(self, value: Any) -> None:
        self.unpack().remove(value)

    def reverse(self) -> None:
        self.unpack().reverse()

    def __delitem__(self, index: Any) -> None:
        del self.unpack()[index]

    def __copy__(self) -> list[Any]:  # type: ignore[override]  # the list it stands for
        return self.values()

    def __deepcopy__(self, memo: Any) -> list[Any]:  # type: ignore[override]
        return self.values()

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return (list, (self.values(),))


#: ``json.dumps(x, separators=...)`` builds an encoder per call; one, made once, is twice as
#: fast on a run's small steps record (which every stored run has).
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


class StepsTemplate:
    """The steps record every run of one execution shares when it ran distinct steps on
    runs without earlier records: per step, its compact JSON up to its start time. A run's
    record is the template with its times: the first step began at the run's ``started_at``,
    each later one when the step before it ended, the last ended at its ``ended_at``. A run
    of one step holds the template itself in ``RunFrame.steps`` (8 bytes instead of ~250 of
    JSON text); a run of several holds ``(template, *texts)``, the ISO times between its
    steps. `render` gives the same text the dicts of those records encode to."""

    __slots__ = ("done", "prefixes")

    def __init__(self, prefixes: tuple[str, ...], done: Mapping[str, tuple[str, str, int]]) -> None:
        #: per step: ``"name":{"hash":...,"started_at":"`` (compact JSON, no opening brace)
        self.prefixes = prefixes
        #: step name -> its record's (hash, config, seed); every step's status is "done"
        self.done = done

    def render(self, started: datetime, ended: datetime, middle: Sequence[str] = ()) -> str:
        """The record's JSON text for a run with these times."""
        prefixes = self.prefixes
        first = started.isoformat()
        last = ended.isoformat()
        if len(prefixes) == 1:
            return f'{{{prefixes[0]}{first}","ended_at":"{last}"}}}}'
        times = (first, *middle, last)
        return (
            "{"
            + ",".join(
                f'{prefix}{times[k]}","ended_at":"{times[k + 1]}"}}'
                for k, prefix in enumerate(prefixes)
            )
            + "}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (StepsTemplate, (self.prefixes, self.done))


#: A run's steps record in the frame: JSON text (as stored or loaded), dicts (once parsed or
#: written), a `StepsTemplate` with the times between steps, or None when no step ran.
StepsCell = str | dict[str, Any] | StepsTemplate | tuple[Any, ...] | None


#: Values that cannot change in place (``ABSENT`` among them).
_FROZEN_TYPES = frozenset(
    {type(None), bool, int, float, complex, str, bytes, _Absent, datetime, date, timedelta}
)


def _frozen(value: Any) -> bool:
    """Whether a value cannot change in place: an immutable type, or a read-only numeric
    numpy array (what a load returns)."""
    if type(value) in _FROZEN_TYPES:
        return True
    np = sys.modules.get("numpy")
    if np is not None and type(value) is np.ndarray:
        return not value.flags.writeable and value.dtype.kind != "O"
    return False


class RunFrame:
    """Runs column by column. Positions (0..n-1) are stable: runs are only ever appended.

    Per run: ``ids``, ``status``, ``error``, ``started_at``, ``ended_at``, ``steps`` (the steps
    record as stored JSON text, a dict once parsed or written, or a shared `StepsTemplate`
    completed by the run's times; read it through `step_records` and `step_text`), ``grid``
    (added from a grid: its params are one run per experiment). Per name: ``params[name]``
    and ``fields[name]``, lists of the runs' values with `ABSENT` where a run lacks one.
    Sparse, by position: ``vars`` (temporary values), ``rngs`` (each run's Generator once
    used), ``series`` (metric logs not yet flushed into their field) and ``digests`` (params
    digests once computed).
    ``changed`` flags the runs that may differ from what is stored (see `changed_positions`).
    ``config`` and ``seed`` are the experiment's, shared by every run.
    """

    __slots__ = (
        "_lower",
        "_positions",
        "changed",
        "config",
        "digests",
        "ended_at",
        "error",
        "fields",
        "grid",
        "ids",
        "params",
        "rngs",
        "seed",
        "series",
        "started_at",
        "status",
        "steps",
        "vars",
    )

    def __init__(self, config: Mapping[str, Any] | None = None, seed: int = 0) -> None:
        self.ids: list[int] = []
        self.status: list[str] = []
        self.error: list[str | None] = []
        self.started_at: list[datetime | None] = []
        self.ended_at: list[datetime | None] = []
        self.steps: list[StepsCell] = []
        self.grid: list[bool] = []
        self.params: dict[str, list[Any]] = {}
        self.fields: dict[str, list[Any]] = {}
        self.vars: dict[int, Any] = {}
        self.rngs: dict[int, Any] = {}
        self.series: dict[int, Any] = {}
        self.digests: dict[int, int] = {}
        self.config: Mapping[str, Any] = config if config is not None else {}
        self.seed = seed
        #: per run, 1 when it may differ from what is stored (new, or written through a view
        #: since it was loaded or persisted), 0 when it is stored as it is
        self.changed = bytearray()
        self._positions: dict[int, int] | None = {}
        self._lower: dict[str, str] | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (to a worker, or inside an experiment's pickle): the columns, vars and
        digests; Generators are derived again on use, metric logs must be flushed first."""
        state = {name: getattr(self, name) for name in self.__slots__}
        state["rngs"] = {}
        state["series"] = {}
        state["_positions"] = None
        state["_lower"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)

    # -- size and lookup ---------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.ids)

    def position(self, run_id: int) -> int | None:
        """The position of the run with this id, or None."""
        return self._index().get(run_id)

    def _index(self) -> dict[int, int]:
        """Run id -> position; built on first use after runs were loaded, taken or added
        from a grid."""
        positions = self._positions
        if positions is None:
            positions = self._positions = {rid: i for i, rid in enumerate(self.ids)}
        return positions

    # -- adding runs -------------------------------------------------------------------------

    def append(
        self,
        run_id: int,
        params: Mapping[str, Any],
        *,
        grid: bool,
        status: str = "pending",
        error: str | None = None,
        started_at: datetime | None = None,
        ended_at: datetime | None = None,
    ) -> int:
        """Add one run, without fields (new params checked as new columns); its position."""
        positions = self._index()
        if run_id in positions:
            raise ValueError(f"a run with id {run_id} already exists")
        columns = self.params
        if not columns.keys() >= params.keys():
            for name in params:
                if name not in columns:
                    self.add_column(name, "param")
        i = len(self.ids)
        self.ids.append(run_id)
        self.status.append(status)
        self.error.append(error)
        self.started_at.append(started_at)
        self.ended_at.append(ended_at)
        self.steps.append(None)
        self.grid.append(grid)
        self.changed.append(1)
        if len(params) == len(columns):  # every param column has a value: no lookups to miss
            for name, column in columns.items():
                column.append(params[name])
        else:
            for name, column in columns.items():
                column.append(params.get(name, ABSENT))
        for column in self.fields.values():
            column.append(ABSENT)
        positions[run_id] = i
        return i

    def extend_grid(
        self, ids: range, names: Sequence[str], points: Iterable[tuple[Any, ...]]
    ) -> None:
        """Add grid runs (pending, no fields) with ids ``ids``, one per point of values for
        ``names`` (new params checked; the caller checked the points are new)."""
        for name in names:
            if name not in self.params:
                self.add_column(name, "param")
        n = len(ids)
        columns = list(zip(*points, strict=True)) if names else []
        if columns and len(columns[0]) != n:
            raise ValueError("one id per grid point")
        self.ids.extend(ids)
        self.status.extend(["pending"] * n)
        self.error.extend([None] * n)
        self.started_at.extend([None] * n)
        self.ended_at.extend([None] * n)
        self.steps.extend([None] * n)
        self.grid.extend([True] * n)
        self.changed.extend(b"\x01" * n)
        given = dict(zip(names, columns, strict=True))
        for name, column in self.params.items():
            values = given.get(name)
            column.extend(values if values is not None else [ABSENT] * n)
        for column in self.fields.values():
            column.extend([ABSENT] * n)
        self._positions = None  # rebuilt on the first lookup by id, if there is one

    def add_column(self, name: str, role: str) -> list[Any]:
        """A new param or field column, all ``ABSENT``, after checking its name: valid, not
        the other role's, not differing only in case from another column."""
        check_column_name(name, role)
        other = self.fields if role == "param" else self.params
        if name in other:
            reason = (
                "is a field of this experiment's runs; params and fields are columns of one "
                "table, pick another name"
                if role == "param"
                else "is a param of this experiment's runs; params are read-only, pick another name"
            )
            raise InvalidNameError(role, name, reason)
        lower = self._lower
        if lower is None:
            lower = self._lower = {n.lower(): n for n in (*self.params, *self.fields)}
        clash = lower.setdefault(name.lower(), name)
        if clash != name and self._unused_field(clash):  # deleted from every run: free
            del self.fields[clash]
            lower[name.lower()] = clash = name
        if clash != name:
            raise InvalidNameError(
                role,
                name,
                f"clashes with {clash!r}: SQL treats names that differ only in case as one",
            )
        column = [ABSENT] * len(self.ids)
        (self.params if role == "param" else self.fields)[name] = column
        return column

    def _unused_field(self, name: str) -> bool:
        column = self.fields.get(name)
        return column is not None and all(v is ABSENT for v in column)

    # -- reading runs ------------------------------------------------------------------------

    def params_at(self, i: int) -> dict[str, Any]:
        """The params of the run at ``i`` as a dict (absent ones left out)."""
        return {k: c[i] for k, c in self.params.items() if c[i] is not ABSENT}

    def fields_at(self, i: int) -> dict[str, Any]:
        """The fields of the run at ``i`` as a dict (absent ones left out)."""
        return {k: c[i] for k, c in self.fields.items() if c[i] is not ABSENT}

    def step_records(self, i: int) -> dict[str, dict[str, Any]]:
        """The steps record of the run at ``i`` as a dict (parsed on first use; the run then
        holds that dict, its own to change)."""
        steps = self.steps[i]
        if steps is None or type(steps) is dict:
            return steps if steps is not None else {}
        try:
            parsed = json.loads(self.step_text(i) or "{}")
        except ValueError:
            parsed = {}
        records = parsed if isinstance(parsed, dict) else {}
        self.steps[i] = records
        return records

    def step_text(self, i: int) -> str | None:
        """The steps record of the run at ``i`` as stored: JSON text, None when no step ran."""
        steps = self.steps[i]
        if steps is None or type(steps) is str:
            return steps
        if type(steps) is StepsTemplate:
            return steps.render(self.started_at[i], self.ended_at[i])  # type: ignore[arg-type]
        if type(steps) is tuple:
            return steps[0].render(self.started_at[i], self.ended_at[i], steps[1:])  # type: ignore[no-any-return]
        return _COMPACT_JSON.encode(steps) if steps else None

    def own_steps(self, i: int) -> None:
        """Make the run at ``i`` hold its steps record as text of its own, no longer made from
        its timestamps (called before a timestamp of the run changes)."""
        steps = self.steps[i]
        if type(steps) is StepsTemplate or type(steps) is tuple:
            self.steps[i] = self.step_text(i)

    def steps_text(self) -> list[str | None]:
        """Every run's steps record as stored: JSON text, None when no step ran."""
        step_text = self.step_text
        return [step_text(i) for i in range(len(self.steps))]

    def changed_positions(self) -> list[int]:
        """The positions of the runs that may differ from what is stored."""
        changed = self.changed
        return [i for i in range(len(changed)) if changed[i]]

    def mark_stored(
        self, positions: Iterable[int] | None = None, *, mutable: Iterable[str] | None = None
    ) -> None:
        """These runs (all for None) are now stored as they are. A run holding a field value
        that can change in place (a writable array, a list, a dict, a DataFrame...) stays
        flagged: such a change cannot be seen, so it is written again. ``mutable``: the only
        field columns that can hold such values, when the caller knows (all by default)."""
        changed = self.changed
        chosen = range(len(self.ids)) if positions is None else list(positions)
        if positions is None:
            changed[:] = bytes(len(changed))
        else:
            for i in chosen:
                changed[i] = 0
        names = self.fields if mutable is None else mutable
        for name in names:
            column = self.fields[name]
            if isinstance(column, FloatColumn):
                continue
            # Only these runs' cells: a batch of an execution costs its own size.
            cells = column if positions is None else [column[i] for i in chosen]
            if set(map(type, cells)) <= _FROZEN_TYPES:
                continue
            for i in chosen:
                if not _frozen(column[i]):
                    changed[i] = 1

    # -- whole frames ------------------------------------------------------------------------

    def adopt(self, other: RunFrame) -> None:
        """Hold ``other``'s runs from now on, in place (views of this frame see them at the
        same positions); ``other`` is not to be used after."""
        for name in self.__slots__:
            setattr(self, name, getattr(other, name))

    def take(self, positions: Sequence[int], *, drop_absent: bool = False) -> RunFrame:
        """A new frame of the runs at ``positions`` (values shared, lists new). Every column
        is kept (a run without a value there may have had it deleted), unless
        ``drop_absent``: then the columns none of these runs has are left out."""
        out = RunFrame(self.config, self.seed)
        out._positions = None
        for name in ("ids", "status", "error", "started_at", "ended_at", "steps", "grid"):
            source = getattr(self, name)
            setattr(out, name, [source[i] for i in positions])
        for source, target in ((self.params, out.params), (self.fields, out.fields)):
            for name, column in source.items():
                values = [column[i] for i in positions]
                if not (drop_absent and all(v is ABSENT for v in values)):
                    target[name] = values
        out.changed = bytearray(self.changed[i] for i in positions)
        for store, sparse in (
            (self.vars, out.vars),
            (self.rngs, out.rngs),
            (self.series, out.series),
            (self.digests, out.digests),
        ):
            if store:
                for j, i in enumerate(positions):
                    if i in store:
                        sparse[j] = store[i]
        return out

    def concat(self, other: RunFrame, ids: Iterable[int] | None = None) -> None:
        """Append ``other``'s runs (with new ``ids`` when given), vars included."""
        n0 = len(self.ids)
        m = len(other.ids)
        for name in other.params:
            if name not in self.params:
                self.add_column(name, "param")
        for name in other.fields:
            if name not in self.fields:
                self.add_column(name, "field")
        new_ids = list(other.ids if ids is None else ids)
        for run_id in new_ids:
            if self.position(run_id) is not None:
                raise ValueError(f"a run with id {run_id} already exists")
        self.ids.extend(new_ids)
        for name in ("status", "error", "started_at", "ended_at", "grid"):
            getattr(self, name).extend(getattr(other, name))
        self.changed.extend(b"\x01" * m)
        self.steps.extend(other.steps_text())
        for source, target in ((other.params, self.params), (other.fields, self.fields)):
            for name, column in target.items():
                column.extend(source.get(name, [ABSENT] * m))
        for j, value in other.vars.items():  # a copy's vars are its own
            self.vars[n0 + j] = type(value)(value)
        if self._positions is not None:
            self._positions.update(zip(new_ids, range(n0, n0 + m), strict=True))
