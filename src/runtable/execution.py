"""Running steps over runs: in-process, or in parallel with any joblib backend.

Parallelism belongs to joblib: ``n_jobs=None`` and ``backend=None`` inherit an enclosing
``joblib.parallel_config``. When the effective number of jobs is 1 the runs execute in this
process, in order, without joblib (no worker start-up, a few microseconds per run); otherwise each
run travels to a worker and only what its steps changed travels back.

A failing step keeps its exception type. ``on_error="raise"`` stops at the first failure and
raises it with notes naming the run, its params and the step; ``on_error="record"`` marks the run
failed, keeps the traceback in ``run.error`` and goes on.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import logging
import os
import sys
import threading
import traceback
import warnings
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from time import monotonic as time_monotonic
from typing import Any, Literal
from uuid import UUID

from .clock import micros_datetime, micros_text, now_micros, utcnow
from .errors import InputChangedError, InvalidNameError, RuntableError, describe
from .frame import ABSENT, RunFrame, StepsTemplate
from .run import Run, Vars, flush_series
from .seeding import digester, global_seeder
from .step import Step

OnError = Literal["raise", "record"]
ON_ERROR: tuple[OnError, ...] = ("raise", "record")

#: Executions of fewer runs than this never show a progress bar in "auto" mode.
PROGRESS_MIN_RUNS = 20
#: In "auto" mode the bar appears only once an execution has lasted this many seconds.
PROGRESS_DELAY = 2.0


@dataclass(slots=True)
class _BatchOutcome:
    """What a worker sends back for a batch of runs: the bookkeeping of the runs it executed
    (the first ``n`` of the batch) and, per field, only the cells its steps changed."""

    batch: int
    n: int
    status: list[str]
    error: list[str | None]
    started_at: list[datetime | None]
    ended_at: list[datetime | None]
    steps: list[Any]
    #: field name -> (positions in the batch, new values; ABSENT for a deleted field)
    fields: dict[str, tuple[list[int], list[Any]]]
    vars: dict[int, Any]
    #: the first failure, with on_error="raise" (the runs after it were not executed)
    failure: BaseException | None = None
    #: vars left out because they do not pickle: (position in the batch, name, why)
    dropped: list[tuple[int, str, str]] = field(default_factory=list)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled back to the parent: the vars that do not pickle are left out and named in
        ``dropped``, so that they cannot lose the batch's results."""
        kept, _, dropped = _split_vars(self.vars)
        return (
            _BatchOutcome,
            (
                self.batch,
                self.n,
                self.status,
                self.error,
                self.started_at,
                self.ended_at,
                self.steps,
                self.fields,
                kept,
                self.failure,
                [*self.dropped, *dropped],
            ),
        )


class _Outbound:
    """A batch on its way to a worker. Pickled (to a process), it leaves out the vars that do
    not pickle: they stay here in ``held`` and go back into their runs with the batch's
    outcome. In this process (threads) the worker takes ``frame`` itself."""

    __slots__ = ("frame", "held")

    def __init__(self, frame: RunFrame) -> None:
        self.frame = frame
        self.held: dict[int, dict[str, Any]] = {}

    def __reduce__(self) -> tuple[Any, ...]:
        frame = self.frame
        if frame.vars:
            kept, held, _ = _split_vars(frame.vars)
            if held:
                self.held = held
                frame.vars = kept  # this batch's own dict: the runs' vars are not changed
        return (_arrived, (frame,))


def _arrived(frame: RunFrame) -> RunFrame:
    return frame


def _split_vars(
    vars: dict[int, Any],
) -> tuple[dict[int, Any], dict[int, dict[str, Any]], list[tuple[int, str, str]]]:
    """Each run's vars (by position) that pickle, those that do not, and why not. A run's
    namespace is copied only when some of its vars are left out."""
    kept: dict[int, Any] = {}
    held: dict[int, dict[str, Any]] = {}
    why: list[tuple[int, str, str]] = []
    for j, namespace in vars.items():
        out = {}
        for name, value in namespace.items():
            reason = _unpicklable(value)
            if reason is not None:
                out[name] = value
                why.append((j, name, reason))
        if out:
            held[j] = out
            kept[j] = type(namespace)({n: v for n, v in namespace.items() if n not in out})
        else:
            kept[j] = namespace
    return kept, held, why


def _unpicklable(value: Any) -> str | None:
    """Why ``value`` cannot travel to or from a worker process (what cloudpickle, which
    loky and dask use, says), or None when it can. Plain values and numeric arrays are not
    tried."""
    if _immutable(value):
        return None
    np = sys.modules.get("numpy")
    if np is not None and type(value) is np.ndarray and value.dtype != object:
        return None
    import cloudpickle

    try:
        cloudpickle.dumps(value)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@dataclass(frozen=True, slots=True)
class ExecutionSummary:
    """What one ``execute()`` did: runs ``done`` and ``failed``, runs ``skipped`` because
    ``resume=True`` found them done with the same steps, and runs ``not_run`` because an
    earlier failure stopped the execution (``on_error="raise"``)."""

    experiment: str
    steps: tuple[str, ...]
    done: int
    failed: int
    skipped: int
    not_run: int
    seconds: float

    def __str__(self) -> str:
        parts = [f"{self.done} done"]
        if self.failed:
            parts.append(f"{self.failed} failed (see run.error)")
        if self.not_run:
            parts.append(f"{self.not_run} not run (stopped at the first failure)")
        if self.skipped:
            parts.append(f"{self.skipped} skipped: already done with the same steps (resume=True)")
        steps = ", ".join(self.steps)
        return f"{self.experiment!r} [{steps}]: {', '.join(parts)} in {self.seconds:.2f} s"

    def log(self, logger: logging.Logger) -> None:
        """One line on ``logger``: a warning when runs failed or were not run, else info."""
        level = logging.WARNING if self.failed or self.not_run else logging.INFO
        logger.log(level, "runtable: %s", self)


def execute_runs(
    runs: Sequence[Run],
    steps: Sequence[Step],
    *,
    n_jobs: int | None = None,
    backend: Any = None,
    on_error: OnError = "raise",
    progress: bool | None = None,
    key: StepKey | None = None,
    label: str = "runtable",
) -> Iterator[Run]:
    """Execute ``steps`` in order on each run, yielding each run once it has finished.

    Runs are updated in place (status, error, timestamps, fields, vars, and the record of each
    step executed, with the config digest and seed of ``key``). Yield order is completion
    order; a progress bar is labelled ``label``. With ``on_error="raise"`` the first failure is
    raised after its run is marked failed; runs finished before it keep their results.
    """
    check_arguments(steps, on_error, n_jobs, backend)
    finished = (
        _execute_here(runs, steps, on_error, key)
        if _effective_n_jobs(n_jobs, backend) == 1
        else _execute_joblib(runs, steps, n_jobs, backend, on_error, key)
    )
    yield from _with_progress(finished, len(runs), progress, label=label)


def check_arguments(steps: Sequence[Step], on_error: Any, n_jobs: int | None, backend: Any) -> None:
    """Refuse, before anything runs or changes, what an execution would refuse: no steps
    (executing nothing would still mark every run done), an unknown ``on_error``, a backend
    joblib does not know, an ``n_jobs`` joblib refuses."""
    if not steps:
        raise RuntableError(
            "execute() was given an empty list of steps: executing no step would mark every "
            "run done (and erase failed runs' errors). Pass at least one step, or skip the call"
        )
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, not {on_error!r}")
    if backend is not None:
        import joblib

        with joblib.parallel_config(backend=backend):  # ValueError naming the known backends
            pass
    _effective_n_jobs(n_jobs, backend)


def _execute_here(
    runs: Sequence[Run], steps: Sequence[Step], on_error: OnError, key: StepKey | None
) -> Iterator[Run]:
    if not runs:
        return
    frame = runs[0]._frame
    executor = _Executor(frame, steps, on_error, key)
    for run in runs:
        if run._frame is not frame:  # runs of several frames (not what an experiment passes)
            frame = run._frame
            executor = _Executor(frame, steps, on_error, key)
        yield executor.run(run)


#: Batches per worker an execution is cut into: enough for progress and balance, few enough
#: that the per-task cost of joblib stays small next to the runs'.
BATCHES_PER_JOB = 32
#: The most runs one batch carries.
BATCH_MAX = 1000


def _execute_joblib(
    runs: Sequence[Run],
    steps: Sequence[Step],
    n_jobs: int | None,
    backend: Any,
    on_error: OnError,
    key: StepKey | None,
) -> Iterator[Run]:
    """Runs travel to workers in batches, as columns (a RunFrame of the batch: params,
    fields, bookkeeping); what comes back is each run's bookkeeping and the field cells its
    steps changed."""
    import joblib

    if not runs:
        return
    frame = runs[0]._frame
    positions = [run._i for run in runs]
    flush_series(frame, positions)  # rows logged here travel to the workers in their field
    jobs = max(1, _effective_n_jobs(n_jobs, backend))
    size = max(1, min(BATCH_MAX, -(-len(positions) // (jobs * BATCHES_PER_JOB))))
    batches = [positions[k : k + size] for k in range(0, len(positions), size)]
    try:
        parallel = joblib.Parallel(n_jobs=n_jobs, backend=backend, return_as="generator_unordered")
    except ValueError:
        # joblib's "multiprocessing" backend returns all results at the end, in order: runs
        # then finish (and are stored) together, and a failure surfaces only after all ran.
        parallel = joblib.Parallel(n_jobs=n_jobs, backend=backend, return_as="list")
    here = os.getpid()
    flight = _Flight()
    _FLIGHTS[id(flight)] = flight
    outbound: dict[int, _Outbound] = {}

    def send(k: int, batch: list[int]) -> _Outbound:
        outbound[k] = _Outbound(frame.take(batch))
        return outbound[k]

    tasks = (
        joblib.delayed(_execute_batch)(k, send(k, batch), steps, on_error, key, (here, id(flight)))
        for k, batch in enumerate(batches)
    )
    names = tuple(s.name for s in steps)
    notices: _Notices = {}

    def apply(outcome: _BatchOutcome) -> tuple[list[int], dict[int, InvalidNameError]]:
        batch = batches[outcome.batch]
        sent = outbound.pop(outcome.batch, None)
        return batch, _apply(frame, batch, outcome, names, sent.held if sent else {}, notices)

    try:
        for outcome in parallel(tasks):
            flight.consumed(outcome.batch)
            batch, refused = apply(outcome)
            last = outcome.n - 1 if outcome.failure is not None else -1  # raised, not yielded
            for j in range(outcome.n):
                if j != last and not (refused and j in refused and on_error == "raise"):
                    yield Run._view(frame, batch[j])
            if refused and on_error == "raise":
                raise next(iter(refused.values()))
            if outcome.failure is not None:
                raise outcome.failure
    except BaseException as exc:
        # Batches still running in threads of this process share their values with these
        # runs: wait for them to end (they start no other run), and apply what they did, so
        # that no run changes after the exception has reached the caller, and a run changed
        # in place has its bookkeeping too.
        late = flight.land()
        for outcome in late:
            batch, _ = apply(outcome)
            if not isinstance(exc, GeneratorExit):
                for j in range(outcome.n):
                    yield Run._view(frame, batch[j])
        if isinstance(exc, Exception):  # a failure joblib raised itself: mark its run
            failed = frame.position(getattr(exc, "runtable_run_id", None))  # type: ignore[arg-type]
            if failed is not None and frame.status[failed] != "failed":
                frame.status[failed] = "failed"
                frame.error[failed] = _format(exc)
                frame.ended_at[failed] = frame.ended_at[failed] or utcnow()
        raise
    finally:
        _FLIGHTS.pop(id(flight), None)
        _warn_vars(notices)


class _Flight:
    """The batches of one execution running in threads of this process: once the execution
    stops (``land``), no batch starts another run, and the parent waits for those running
    to end and takes their outcomes. Batches in other processes never see it."""

    __slots__ = ("_done", "_lock", "_running", "_stopped")

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._running = 0
        self._stopped = False
        self._done: dict[int, _BatchOutcome] = {}

    def board(self) -> bool:
        """A batch starts: False when the execution has stopped (the batch runs nothing)."""
        with self._lock:
            if self._stopped:
                return False
            self._running += 1
            return True

    @property
    def stopped(self) -> bool:
        return self._stopped

    def arrive(self, outcome: _BatchOutcome) -> None:
        with self._lock:
            self._done[outcome.batch] = outcome
            self._running -= 1
            self._lock.notify_all()

    def consumed(self, k: int) -> None:
        with self._lock:
            self._done.pop(k, None)

    def land(self) -> list[_BatchOutcome]:
        """Stop: wait for the running batches, and return the outcomes not consumed."""
        with self._lock:
            self._stopped = True
            while self._running:
                self._lock.wait()
            late = sorted(self._done.values(), key=lambda o: o.batch)
            self._done.clear()
        return late


#: The executions under way in this process, by id: how a batch on a thread finds its own.
_FLIGHTS: dict[int, _Flight] = {}


def _execute_batch(
    k: int,
    sent: _Outbound | RunFrame,
    steps: Sequence[Step],
    on_error: OnError,
    key: StepKey | None,
    home: tuple[int, int],
) -> _BatchOutcome:
    """Worker side: run the steps on each run of the batch and report what changed: fields
    set or deleted, and fields whose mutable values were changed in place (found by
    fingerprint; a value the codec cannot encode has none and always travels back)."""
    batch = sent.frame if type(sent) is _Outbound else sent
    assert type(batch) is RunFrame
    parent, token = home
    flight = _FLIGHTS.get(token) if os.getpid() == parent else None
    if flight is not None and not flight.board():  # the execution stopped before it began
        return _BatchOutcome(k, 0, [], [], [], [], [], {}, {})
    try:
        outcome = _run_batch(k, batch, steps, on_error, key, parent, flight)
    except BaseException:
        if flight is not None:
            flight.arrive(_BatchOutcome(k, 0, [], [], [], [], [], {}, {}))
        raise
    if flight is not None:
        flight.arrive(outcome)
    return outcome


def _run_batch(
    k: int,
    batch: RunFrame,
    steps: Sequence[Step],
    on_error: OnError,
    key: StepKey | None,
    parent: int,
    flight: _Flight | None,
) -> _BatchOutcome:
    """Run the steps on the batch's runs, in order, until one fails (on_error="raise") or,
    on a thread of this process, the execution stops; report what changed."""
    memmap = getattr(sys.modules.get("numpy"), "memmap", None)
    prints: dict[tuple[str, int], bytes | None] = {}
    for name, column in batch.fields.items():
        for j, value in enumerate(column):
            if value is not ABSENT and not _immutable(value):
                if type(value) is memmap and not value.flags.writeable:
                    value = column[j] = _copy_on_write(value)
                prints[name, j] = _fingerprint(value)
    before = {name: list(column) for name, column in batch.fields.items()}
    failure: BaseException | None = None
    n = 0
    executor = _Executor(batch, steps, on_error, key)
    for j in range(len(batch)):
        if flight is not None and flight.stopped:  # the execution has raised: start no run
            break
        n = j + 1
        try:
            executor.run(Run._view(batch, j))
        except Exception as exc:  # on_error="raise": the runs after it are not executed
            failure = exc
            break
    changed: dict[str, tuple[list[int], list[Any]]] = {}
    for name, column in batch.fields.items():
        old = before.get(name)
        where: list[int] = []
        values: list[Any] = []
        for j in range(n):
            value = column[j]
            if old is None:
                if value is ABSENT:
                    continue
            elif value is old[j]:
                if (name, j) not in prints:
                    continue
                mark = prints[name, j]
                if mark is not None and _fingerprint(value) == mark:
                    continue
            where.append(j)
            values.append(value)
        if where:
            changed[name] = (where, values)
    if failure is not None and os.getpid() != parent:  # it travels back pickled
        failure = _sendable(failure)
    return _BatchOutcome(
        batch=k,
        n=n,
        status=batch.status[:n],
        error=batch.error[:n],
        started_at=batch.started_at[:n],
        ended_at=batch.ended_at[:n],
        steps=batch.steps[:n],
        fields=changed,
        vars={j: v for j, v in batch.vars.items() if j < n},
        failure=failure,
    )


def _copy_on_write(value: Any) -> Any:
    """A read-only memmap, as joblib hands arrays over 1 MB to loky and multiprocessing
    workers, made writable like the array of n_jobs=1: its file opened again copy-on-write
    (no copy; a change travels back by fingerprint), or a copy for a view into one.

    Measured (32 runs of an 8 MB array, 2 jobs, loky): a step reading them takes 0.92 s, as
    with joblib's read-only memmaps (0.88 s); without memmaps (``max_nbytes=None``) 1.50 s.
    Passing ``mmap_mode="c"`` to joblib would do the same, but joblib then restarts its
    reusable workers whenever a plain ``joblib.Parallel`` call and an execution alternate
    (about 0.5 s each time)."""
    import mmap

    import numpy as np

    order: Literal["C", "F"] | None = (
        "C" if value.flags.c_contiguous else "F" if value.flags.f_contiguous else None
    )
    if isinstance(value.base, mmap.mmap) and value.filename and order is not None:
        try:
            return np.memmap(
                value.filename,
                dtype=value.dtype,
                mode="c",
                shape=value.shape,
                order=order,
                offset=value.offset,
            )
        except (OSError, ValueError):
            pass  # the file cannot be mapped again: a copy is as good, at the copy's cost
    return np.array(value)


def _sendable(exc: BaseException) -> BaseException:
    """The exception itself when it pickles (it goes back with its type and notes); else a
    RuntableError that names its type and message, so that the batch's finished runs still
    come back (the failed run's error keeps the whole traceback)."""
    import pickle

    try:
        pickle.dumps(exc)
    except Exception:
        stand_in = RuntableError(
            f"a step raised {type(exc).__module__}.{type(exc).__qualname__}: {exc} (it cannot "
            "be pickled, so it could not come back from its worker process as itself; the "
            "run's error has its traceback)"
        )
        for name in ("runtable_run_id", "runtable_step"):
            if hasattr(exc, name):
                setattr(stand_in, name, getattr(exc, name))
        for note in getattr(exc, "__notes__", ()):
            stand_in.add_note(note)
        return stand_in
    return exc


def _apply(
    frame: RunFrame,
    batch: Sequence[int],
    outcome: _BatchOutcome,
    names: Sequence[str],
    held: dict[int, dict[str, Any]],
    notices: _Notices,
) -> dict[int, InvalidNameError]:
    """Copy a batch's outcome into the runs it came from, and return the runs it failed.

    New field names are checked against the whole frame before anything is copied: a name
    that clashes with one another batch created (differing only in case) fails the runs that
    set it, with the error executing them in this process gives, as on_error asks; their other
    fields are copied, their step records of this execution say "failed"."""
    refused: dict[int, InvalidNameError] = {}
    for name, (where, _) in outcome.fields.items():
        if name not in frame.fields:
            try:
                frame.add_column(name, "field")
            except InvalidNameError as exc:
                for j in where:
                    refused.setdefault(j, exc)
    for j in range(outcome.n):
        i = batch[j]
        frame.status[i] = outcome.status[j]
        frame.error[i] = outcome.error[j]
        frame.started_at[i] = outcome.started_at[j]
        frame.ended_at[i] = outcome.ended_at[j]
        frame.steps[i] = outcome.steps[j]
        frame.changed[i] = 1
        frame.rngs.pop(i, None)
        frame.series.pop(i, None)  # the series field that came back has every row
        var = outcome.vars.get(j)
        if var is None:
            frame.vars.pop(i, None)
        else:
            frame.vars[i] = var
        if j in held:  # vars that could not travel to the worker stay the run's
            var = frame.vars.get(i)
            if var is None:
                var = frame.vars[i] = Vars()
            for name, value in held[j].items():
                var.setdefault(name, value)
                _note(notices, ("to", name, describe(value)), frame.ids[i])
    for j, name, reason in outcome.dropped:
        _note(notices, ("from", name, reason), frame.ids[batch[j]])
    for name, (where, values) in outcome.fields.items():
        column = frame.fields.get(name)
        if column is None:  # refused
            continue
        for j, value in zip(where, values, strict=True):
            column[batch[j]] = value
    failures: dict[int, InvalidNameError] = {}
    for j, clash in refused.items():
        i = batch[j]
        error = InvalidNameError(clash.kind, clash.name, clash.reason)
        error.add_note(
            "runtable: the run came back from a worker with this field, after another batch "
            "had created the other name; its other fields are kept"
        )
        run = Run._view(frame, i)
        _annotate(error, run, names[0] if len(names) == 1 else f"one of {', '.join(names)}")
        records = dict(frame.step_records(i))
        for name in names:
            if name in records:
                records[name] = {**records[name], "status": "failed"}
        run._set_steps(records)
        frame.status[i] = "failed"
        frame.error[i] = _format(error)
        failures[j] = error
    return failures


#: vars that did not travel, by (direction "to" or "from" workers, name, why): run ids
_Notices = dict[tuple[str, str, str], list[int]]


def _note(notices: _Notices, what: tuple[str, str, str], run_id: int) -> None:
    notices.setdefault(what, []).append(run_id)


def _warn_vars(notices: _Notices) -> None:
    """One RuntimeWarning per var that did not travel, naming it and its runs, attributed to
    the first caller outside runtable (the execute call)."""
    if not notices:
        return
    package = os.path.dirname(__file__)
    frame, level = sys._getframe(0), 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    for (direction, name, why), ids in notices.items():
        runs = f"run {ids[0]}" if len(ids) == 1 else f"{len(ids)} runs ({_some(ids)})"
        if direction == "to":
            message = (
                f"runtable: var {name!r} ({why}) of {runs} cannot be pickled, so it did not "
                "travel to the worker processes: the steps there did not see it. It is kept "
                "here; vars of any kind stay with n_jobs=1 or backend='threading'"
            )
        else:
            message = (
                f"runtable: var {name!r} of {runs} could not come back from the worker "
                f"processes ({why}) and was dropped; the runs' fields and status came back. "
                "Vars of any kind stay with n_jobs=1 or backend='threading'"
            )
        warnings.warn(message, RuntimeWarning, stacklevel=level)


def _some(ids: list[int], shown: int = 3) -> str:
    more = f", ... {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(map(str, ids[:shown])) + more


@dataclass(frozen=True, slots=True)
class StepKey:
    """What an execution records with each step besides its name and source hash: a digest
    of the config and the experiment's seed (what ``resume=True`` compares)."""

    config: str
    seed: int


class _Executor:
    """Runs steps on the runs of one frame, with what is the same for every run made once:
    the seeding of the global generators, the params digest (`seeding.digester`) and, for
    distinct steps, the shared `StepsTemplate` a run's first record is made from."""

    __slots__ = (
        "config",
        "digest",
        "frame",
        "guarded",
        "key_seed",
        "names",
        "on_error",
        "seed",
        "steps",
        "template",
    )

    def __init__(
        self, frame: RunFrame, steps: Sequence[Step], on_error: OnError, key: StepKey | None
    ) -> None:
        self.frame = frame
        self.steps = tuple(steps)
        self.on_error = on_error
        self.config = key.config if key is not None else ""
        self.key_seed = key.seed if key is not None else frame.seed
        self.seed = global_seeder(frame.seed)
        self.digest = digester(frame.params)
        self.names = frozenset(s.name for s in steps)
        #: the params and config values a step could change in place, watched
        self.guarded = _Guard(frame, _mutable_params(frame))
        #: the record these steps share on runs without one, when the steps are distinct
        self.template = (
            StepsTemplate(
                tuple(
                    _record_prefix(s.name, s.source_hash, self.config, self.key_seed) for s in steps
                ),
                {s.name: (s.source_hash, self.config, self.key_seed) for s in steps},
            )
            if steps and len(self.names) == len(steps)
            else None
        )

    def run(self, run: Run) -> Run:
        """Run the steps in order on ``run`` (a view of this frame) and record each one in its
        steps record.

        ``started_at`` stays when the run keeps records of steps not executed now (a later
        evaluation step does not erase the time of the fit before it); ``ended_at`` is now.
        """
        frame, i = self.frame, run._i
        prior = frame.steps[i]
        records = dict(frame.step_records(i)) if prior is not None else {}
        start = now_micros()
        # The run's bookkeeping is written straight into its columns (this is per run).
        frame.changed[i] = 1
        if not records or frame.started_at[i] is None or not records.keys() - self.names:
            frame.started_at[i] = micros_datetime(start)
        frame.error[i] = None
        if frame.rngs:
            frame.rngs.pop(i, None)  # every execution starts the run's stream afresh
        digest = frame.digests.get(i) if frame.digests else None
        self.seed(digest if digest is not None else self.digest(i))
        marks = [start]  # one clock read per step: a step begins when the one before it ended
        current: Step | None = None
        guard = self.guarded
        watched = guard.watch(i) if guard else None
        try:
            for current in self.steps:
                current.apply(run)
                if watched is not None:
                    guard.check(i, watched, current.name)
                marks.append(now_micros())
        except Exception as exc:
            marks.append(now_micros())
            self._failed(run, records, marks)
            _annotate(exc, run, current.name if current is not None else "?")
            run.error = _format(exc)
            if self.on_error == "raise":
                raise
            return run
        except BaseException:  # Ctrl-C and the like: the run is pending, to be run again
            marks.append(now_micros())
            self._interrupted(run, records, marks)
            raise
        if frame.series:
            run._flush_series()
        template = self.template
        if prior is None and template is not None:
            # A first record of distinct steps: the shared template, completed by the run's
            # times when it is read or stored (no text or dict per run).
            frame.steps[i] = (
                template if len(marks) == 2 else (template, *map(micros_text, marks[1:-1]))
            )
        else:
            self._record_all(records, "done", marks)
            frame.steps[i] = records
        frame.ended_at[i] = micros_datetime(marks[-1])
        frame.status[i] = "done"
        return run

    def _record_all(self, records: dict[str, dict[str, Any]], last: str, marks: list[int]) -> None:
        """Record each step that ran (``len(marks) - 1`` of them), the last with status
        ``last``; a step run twice keeps its first start."""
        _mark_stale_after(records, self.names)
        texts = [micros_text(m) for m in marks]
        first: dict[str, str] = {}
        for k in range(len(marks) - 1):
            step = self.steps[k]
            began = first.setdefault(step.name, texts[k])
            status = last if k == len(marks) - 2 else "done"
            records[step.name] = _record(
                step, self.config, self.key_seed, status, began, texts[k + 1]
            )

    def _interrupted(self, run: Run, records: dict[str, dict[str, Any]], marks: list[int]) -> None:
        """An interrupted run is pending, whatever it was before: none of the records of this
        execution says "done" (``resume=True`` runs it again), and no earlier error stays."""
        frame, i = self.frame, run._i
        self._record_all(records, "interrupted", marks)
        for k in range(len(marks) - 1):
            records[self.steps[k].name]["status"] = "interrupted"
        run._flush_series()
        run._set_steps(records)
        frame.ended_at[i] = None
        frame.error[i] = None
        frame.status[i] = "pending"

    def _failed(self, run: Run, records: dict[str, dict[str, Any]], marks: list[int]) -> None:
        frame, i = self.frame, run._i
        self._record_all(records, "failed", marks)
        run._flush_series()
        run._set_steps(records)
        frame.ended_at[i] = micros_datetime(marks[-1])
        frame.status[i] = "failed"


#: Values whose encoding is longer are not watched for changes in place (each is encoded
#: after every step of every run).
WATCH_MAX_BYTES = 16 * 1024


def _watched(value: Any) -> tuple[Any, bytes] | None:
    """A copy of ``value`` and its fingerprint, when it can change in place and is small
    enough to watch (see WATCH_MAX_BYTES); None otherwise."""
    from .codec import encode

    if value is ABSENT or _immutable(value):
        return None
    try:
        data = encode(value)
    except Exception:
        return None  # a value the codec cannot encode is not watched
    if len(data) > WATCH_MAX_BYTES:
        return None
    return copy.deepcopy(value), _digest(data)


def _put_back(value: Any, original: Any) -> bool:
    """Restore ``value`` to ``original`` (a copy of it) in place, so that every holder of
    the object sees it (runs of a grid share one object; threads share the caller's); False
    for a kind of value that cannot be restored in place (it is then replaced where found)."""
    if isinstance(value, (list, bytearray)) and type(value) is type(original):
        value[:] = original
        return True
    if isinstance(value, (dict, set)) and type(value) is type(original):
        value.clear()
        value.update(original)
        return True
    np = sys.modules.get("numpy")
    if (
        np is not None
        and type(value) is np.ndarray
        and type(original) is np.ndarray
        and value.flags.writeable
        and value.shape == original.shape
        and value.dtype == original.dtype
    ):
        value[...] = original
        return True
    return False


def _mutable_params(frame: RunFrame) -> tuple[str, ...]:
    """The param columns holding a value that can change in place (a list, a dict, ...)."""
    return tuple(
        name
        for name, column in frame.params.items()
        if not set(map(type, column)) <= _PLAIN_TYPES  # one C pass for the usual grid
        and not all(v is ABSENT or _immutable(v) for v in column)
    )


_PLAIN_TYPES = frozenset({int, float, str, bool, type(None), type(ABSENT)})


class _Guard:
    """Read-only inputs as they were before steps ran: a step that changes a param of its
    run or a config value in place fails with InputChangedError, and the value is put back
    (from a copy), so grid points and the config stay what they are."""

    __slots__ = ("_config", "_frame", "_params")

    def __init__(self, frame: RunFrame, params: tuple[str, ...]) -> None:
        self._frame = frame
        self._params = params
        self._config: list[tuple[str, Any, bytes]] = []
        for name, value in frame.config.items():
            watched = _watched(value)
            if watched is not None:
                self._config.append((name, *watched))

    def __bool__(self) -> bool:
        return bool(self._params or self._config)

    def watch(self, i: int) -> list[tuple[str, Any, bytes]]:
        """The watched params of the run at ``i``."""
        out = []
        for name in self._params:
            watched = _watched(self._frame.params[name][i])
            if watched is not None:
                out.append((name, *watched))
        return out

    def check(self, i: int, params: list[tuple[str, Any, bytes]], step: str) -> None:
        frame = self._frame
        for role, watched in (("param", params), ("config", self._config)):
            for name, original, mark in watched:
                value = frame.params[name][i] if role == "param" else frame.config[name]
                if _fingerprint(value) == mark:
                    continue
                if not _put_back(value, copy.deepcopy(original)):  # the guard keeps its own
                    if role == "param":
                        frame.params[name][i] = original
                    else:
                        frame.config._data[name] = copy.deepcopy(original)  # type: ignore[attr-defined]
                if role == "param":
                    frame.digests.pop(i, None)
                    where = f"param {name!r} of run {frame.ids[i]}"
                    access = f"run.params.{name}"
                else:
                    where = f"config {name!r} (running run {frame.ids[i]})"
                    access = f"run.config.{name}"
                raise InputChangedError(
                    f"step {step!r} changed {where} in place; {role}s are read-only, and the "
                    f"value is put back: change a copy (copy.deepcopy({access})) and store "
                    "what you compute as fields"
                )


def _mark_stale_after(records: dict[str, dict[str, Any]], executed: AbstractSet[str]) -> None:
    """A step executed again may change what the steps recorded after it read: their done
    records not executed now become "stale" (``resume=True`` executes them again)."""
    later = False
    for name, record in records.items():
        if name in executed:
            later = True
        elif later and record.get("status") == "done":
            record["status"] = "stale"


@functools.lru_cache(maxsize=256)
def _record_prefix(name: str, source_hash: str, config: str, seed: int) -> str:
    """The compact JSON of a done step's record up to its start time, without the opening
    brace of the whole record (the ISO times that follow need no escaping)."""
    dumps = json.dumps
    return (
        f'{dumps(name)}:{{"hash":{dumps(source_hash)},"config":{dumps(config)},'
        f'"seed":{dumps(seed)},"status":"done","started_at":"'
    )


def _record(
    step: Step, config: str, seed: int, status: str, began: str, ended: str
) -> dict[str, Any]:
    return {
        "hash": step.source_hash,
        "config": config,
        "seed": seed,
        "status": status,
        "started_at": began,
        "ended_at": ended,
    }


def resumable(run: Run, steps: Sequence[Step], key: StepKey) -> bool:
    """Whether ``run`` is done and its own record of every step in ``steps`` shows the same
    source hash, config digest and seed, with status done (what ``resume=True`` skips)."""
    if run.status != "done" or not steps:
        return False
    cell = run._frame.steps[run._i]
    template = cell[0] if type(cell) is tuple else cell
    if type(template) is StepsTemplate:  # answered without making the run's records
        done = template.done
        return all(done.get(s.name) == (s.source_hash, key.config, key.seed) for s in steps)
    records = run._step_records()
    for s in steps:
        record = records.get(s.name)
        if (
            record is None
            or record.get("status") != "done"
            or record.get("hash") != s.source_hash
            or record.get("config") != key.config
            or record.get("seed") != key.seed
        ):
            return False
    return True


def _annotate(exc: BaseException, run: Run, step_name: str) -> None:
    exc.add_note(
        f"runtable: run {run.id} with params {dict(run.params)} failed in step {step_name!r}"
    )
    try:
        exc.runtable_run_id = run.id  # type: ignore[attr-defined]
        exc.runtable_step = step_name  # type: ignore[attr-defined]
    except AttributeError:  # exceptions with __slots__ keep only the note
        pass


def _format(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)).rstrip()


_IMMUTABLE = (type(None), bool, int, float, complex, str, bytes, frozenset, Decimal, UUID)


def _immutable(value: Any) -> bool:
    if isinstance(value, (*_IMMUTABLE, date, time, timedelta)):
        return True
    np = sys.modules.get("numpy")
    return np is not None and isinstance(value, np.generic)


def _fingerprint(value: Any) -> bytes | None:
    """A digest of a mutable value's exact encoding; None when it cannot be encoded (such a
    value is then always sent back: in-place changes to it must not be lost)."""
    from .codec import encode

    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.ndarray) and type(value) is not np.ndarray:
        value = np.asarray(value)  # joblib hands big arrays to workers as memmaps
    try:
        return _digest(encode(value))
    except Exception:
        return None


def _digest(data: bytes) -> bytes:
    """The fingerprint of a value's encoding (`_fingerprint`, `_watched`)."""
    return hashlib.blake2b(data, digest_size=16).digest()


def _effective_n_jobs(n_jobs: int | None, backend: Any) -> int:
    if n_jobs == 1 or (n_jobs is None and backend is None and "joblib" not in sys.modules):
        return 1  # no joblib imported: no parallel_config can be active
    import joblib

    if backend is None:
        return int(joblib.effective_n_jobs(n_jobs))
    with joblib.parallel_config(backend=backend):
        return int(joblib.effective_n_jobs(n_jobs))


def _with_progress(
    runs: Iterator[Run], total: int, progress: bool | None, *, label: str = "runtable"
) -> Iterator[Run]:
    """Yield ``runs``, with a tqdm bar labelled ``label``: always for ``progress=True``, never
    for False, and for None only once an execution of enough runs has lasted PROGRESS_DELAY
    seconds in a terminal or a Jupyter notebook (tqdm is not even imported before that).

    In a notebook the bar is tqdm's widget (``tqdm.auto``). Failed runs (status ``"failed"``)
    are counted on the bar as they come; the bar stays on screen at the end with the elapsed
    time."""
    if progress is False or (progress is None and total < PROGRESS_MIN_RUNS):
        yield from runs
        return

    def visible() -> bool:  # a terminal, or a Jupyter kernel's notebook front end
        if sys.stderr.isatty():
            return True
        shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
        return type(shell).__name__ == "ZMQInteractiveShell"

    bar = _bar(total, 0, label) if progress else None
    start = time_monotonic()
    done = failed = 0
    try:
        for run in runs:
            done += 1
            if run.status == "failed":
                failed += 1
            if bar is not None:
                if run.status == "failed":
                    bar.set_postfix_str(f"{failed} failed", refresh=False)
                bar.update()
            elif time_monotonic() - start >= PROGRESS_DELAY and visible():
                bar = _bar(total, done, label)
                if failed:
                    bar.set_postfix_str(f"{failed} failed")
            yield run
    finally:
        if bar is not None:
            bar.close()


def _bar(total: int, done: int, label: str) -> Any:
    """A tqdm bar (the notebook widget under Jupyter) that stays on screen when closed."""
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, unit="run", desc=label, file=sys.stderr, leave=True)
