"""Experiments: fields, a parameter grid of runs, registered steps, execute() and persist()."""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self, overload

from .clock import utcnow
from .errors import ConflictError, RuntableError, StorageError, UnsupportedValueError
from .execution import OnError, _annotate, _format, execute_runs
from .names import check_column_name, check_distinct, check_experiment_name
from .run import Config, Namespace, Run, Runs
from .seeding import params_digest
from .step import Step, as_step

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    import pandas as pd

    from .session import Session
    from .storage.base import IfExists, StoredExperiment


class ExperimentFields(Namespace):
    """An experiment's own fields: stored together as one value in the ``experiments`` table."""

    __slots__ = ()
    _kind = "experiment field"


class Experiment:
    """A named set of runs over a parameter grid, with steps that compute each run's fields.

    Build one with ``session.create_experiment(name, **fields)``; nothing touches the database
    until `persist`. ``add_runs``, ``add_run``, ``execute`` and ``persist`` return the
    experiment, so calls chain.
    """

    def __init__(
        self,
        name: str,
        *,
        session: Session | None = None,
        fields: Mapping[str, Any] | None = None,
        seed: int = 0,
    ) -> None:
        self.name = check_experiment_name(name)
        self.fields = ExperimentFields(fields)
        self.runs = Runs()
        self.steps: list[Step] = []
        self.config = Config()
        self.seed = seed
        self.id: str | None = None  #: the stored experiment's id, once persisted or loaded
        self.created_at: datetime | None = None  #: when it was first stored (UTC), if loaded
        self.updated_at: datetime | None = None  #: when it was last stored (UTC), if loaded
        self._session = session
        self._next_id = 0
        self._digests: dict[int, int] | None = {}  # params digest -> run id (None: not built)
        self._executed: dict[str, str] = {}  # step name -> source hash, for the metadata
        self._slice: str | None = None  # set when loaded with where/columns: not persistable

    # -- building ----------------------------------------------------------------------------

    @overload
    def step(self, func: Callable[..., Any], /) -> Step: ...
    @overload
    def step(self, *, name: str | None = None) -> Callable[[Callable[..., Any]], Step]: ...
    def step(
        self, func: Callable[..., Any] | None = None, *, name: str | None = None
    ) -> Step | Callable[[Callable[..., Any]], Step]:
        """Register a step on this experiment (``@exp.step`` or ``@exp.step(name=...)``).

        Registered steps run in registration order when ``execute()`` is called without steps.
        """

        def register(f: Callable[..., Any]) -> Step:
            s = Step(f, name) if name or not isinstance(f, Step) else f
            self.steps.append(s)
            return s

        return register(func) if func is not None else register

    def add_runs(self, **grid: Any) -> Self:
        """Add one run per combination of the grid's values (cartesian product, in order).

        Each keyword is a param; its value is an iterable of values (a str, bytes, mapping or
        non-iterable counts as a single value). A combination that is already a run of this
        experiment is skipped, so extending a grid adds only the new points.
        """
        names = list(grid)
        _check_param_names(names)
        axes = [_values(name, grid[name]) for name in names]
        if len(self.runs) == 0 and all(_distinct(axis) for axis in axes):
            # A product of distinct values on an empty experiment has no duplicate points: add
            # the runs without a digest each (seeding computes it when the run executes).
            restore, config, seed = Run._restore, self.config, self.seed
            next_id = self._next_id
            add = self.runs._add
            for combination in itertools.product(*axes):
                params = dict(zip(names, combination, strict=True))
                add(restore(next_id, params, {}, config, seed, "pending", None, None, None, None))
                next_id += 1
            self._next_id = next_id
            self._digests = None  # rebuilt from the runs if a later add needs it
            return self
        for combination in itertools.product(*axes):
            self._add(dict(zip(names, combination, strict=True)), checked=True)
        return self

    def add_run(self, **params: Any) -> Self:
        """Add one run with these params (skipped when an identical run exists)."""
        self._add(params)
        return self

    def _add(self, params: dict[str, Any], *, unique: bool = True, checked: bool = False) -> Run:
        if not checked:
            _check_param_names(params)
        digests = self._run_digests()
        digest = params_digest(params)
        if unique and digest in digests:
            return self.runs[digests[digest]]
        run = Run._restore(
            self._next_id, params, {}, self.config, self.seed, "pending", None, None, None, None
        )
        run._digest = digest
        self._next_id += 1
        self.runs._add(run)
        digests.setdefault(digest, run.id)
        return run

    def _run_digests(self) -> dict[int, int]:
        if self._digests is None:  # loaded runs: built on the first add, not on every load
            self._digests = {}
            for run in self.runs:
                self._digests.setdefault(params_digest(run.params), run.id)
        return self._digests

    @contextmanager
    def run(self, **params: Any) -> Iterator[Run]:
        """Track a run by hand: ``with exp.run(lr=0.1) as run: run.fields.loss = ...``.

        Always adds a new run (even with params an earlier run has). It is "done" when the block
        ends normally and "failed" (with the traceback in ``error``) when it raises; the
        exception propagates.
        """
        run = self._add(params, unique=False)
        run.config = self.config
        run.started_at = utcnow()
        try:
            yield run
        except Exception as exc:
            run.ended_at = utcnow()
            run.status = "failed"
            _annotate(exc, run, "<with exp.run()>")
            run.error = _format(exc)
            raise
        run._flush_series()
        run.ended_at = utcnow()
        run.status = "done"

    # -- executing ---------------------------------------------------------------------------

    def execute(
        self,
        steps: Step | Callable[..., Any] | Sequence[Step | Callable[..., Any]] | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        n_jobs: int | None = None,
        backend: Any = None,
        on_error: OnError = "raise",
        progress: bool | None = None,
        persist: bool = False,
        if_exists: IfExists = "fail",
        force: bool = False,
    ) -> Self:
        """Run steps, in order, on every run that needs them.

        ``steps``: one step or a list; None means the registered steps. ``config``: constants
        every step can read (merged into the experiment's config and persisted with it).
        ``n_jobs``/``backend``: joblib's; None inherits an enclosing ``joblib.parallel_config``
        (1 job, in this process, by default). ``on_error``: "raise" stops at the first failure and
        raises it with its own type; "record" marks failed runs and goes on. ``progress``: True,
        False, or None for a bar only on long executions in a terminal.

        A run already done with the same steps (names and source hashes), config and seed is
        skipped, so executing a loaded experiment again finishes what is missing or failed;
        ``force=True`` runs everything. ``persist=True`` writes finished runs to the database
        as they complete, in batches (every second or 500 runs), so a crash loses at most the
        runs not yet written; an experiment not stored yet is first persisted with
        ``if_exists``.
        """
        chosen = self._steps(steps)
        if config:
            self.config = Config({**self.config, **config})
        key = done_key(chosen, self.config, self.seed)
        todo = [r for r in self.runs if force or r.status != "done" or r.done_with != key]
        for run in todo:
            run.config = self.config
            run._experiment_seed = self.seed
        for s in chosen:
            self._executed[s.name] = s.source_hash
        sink = _RunSink(self, if_exists) if persist else None
        failure: BaseException | None = None
        try:
            for run in execute_runs(
                todo,
                chosen,
                n_jobs=n_jobs,
                backend=backend,
                on_error=on_error,
                progress=progress,
                done_with=key,
            ):
                if sink is not None:
                    sink.add(run)
        except BaseException as exc:
            failure = exc
            failed = getattr(exc, "runtable_run_id", None)
            if sink is not None and isinstance(failed, int) and failed in self.runs:
                sink.add(self.runs[failed])
            raise
        finally:
            if sink is not None:
                sink.close(failure)
        return self

    def _steps(self, steps: Any) -> list[Step]:
        if steps is None:
            if not self.steps:
                raise RuntableError(
                    f"experiment {self.name!r} has no registered steps: decorate functions with "
                    "@exp.step or pass them, as in exp.execute([step1, step2])"
                )
            return list(self.steps)
        if isinstance(steps, Step) or callable(steps):
            return [as_step(steps)]
        return [as_step(s) for s in steps]

    # -- storing -----------------------------------------------------------------------------

    def persist(self, if_exists: IfExists = "fail", *, store_pickle: bool = False) -> Self:
        """Store the experiment and its runs in the session's database.

        ``if_exists``: "fail" (an error if the name is stored), "replace" (the stored version is
        swapped for this one, atomically), or "append" (runs not stored yet are added, by run
        id). ``store_pickle=True`` also stores a cloudpickle of the whole experiment, vars and
        steps included, which only ``load_experiment(name, unpickle=True)`` ever unpickles.
        All-or-nothing: when persist raises, the database is as it was.
        """
        self._require_session()._persist(self, if_exists=if_exists, store_pickle=store_pickle)
        return self

    def _require_session(self) -> Session:
        if self._slice is not None:
            raise RuntableError(
                f"experiment {self.name!r} was loaded as a slice ({self._slice}) and cannot be "
                "stored: storing it would drop what was not loaded. Load it whole to persist"
            )
        if self._session is None:
            raise RuntableError(
                f"experiment {self.name!r} is not attached to a session; create it with "
                "runtable.connect(url).create_experiment(...)"
            )
        return self._session

    def _metadata(self) -> dict[str, Any]:
        from .provenance import environment, git_commit
        from .storage.columns import _jsonable

        return {
            **environment(),
            "git_commit": git_commit(),
            "config": _jsonable(dict(self.config), 0),
            "steps": [{"name": n, "hash": h} for n, h in self._executed.items()],
            "registered_steps": [s.name for s in self.steps],
        }

    @classmethod
    def _from_stored(cls, stored: StoredExperiment, session: Session) -> Experiment:

        exp = cls(stored.name, session=session, fields=stored.fields, seed=stored.seed)
        exp.id = stored.id
        exp.created_at = stored.created_at
        exp.updated_at = stored.updated_at
        exp.config = Config(stored.config)
        exp._executed = {s["name"]: s["hash"] for s in stored.meta.get("steps", [])}
        runs = stored.runs
        config, seed = exp.config, exp.seed

        def build() -> Iterator[Run]:
            restore = Run._restore
            n = len(runs.ids)
            rows = zip(
                runs.ids,
                _row_dicts(runs.params, n, runs.with_absent),
                _row_dicts(runs.fields, n, runs.with_absent),
                runs.status,
                runs.error,
                runs.started_at,
                runs.ended_at,
                runs.done_with,
                strict=True,
            )
            for run_id, params, fields, status, error, started, ended, done in rows:
                yield restore(
                    run_id, params, fields, config, seed, status, error, started, ended, done
                )

        exp.runs._defer(runs, build)
        exp._digests = None
        exp._next_id = max(runs.ids, default=-1) + 1
        return exp

    # -- viewing -----------------------------------------------------------------------------

    def df(self, *, meta: bool = False) -> pd.DataFrame:
        """The runs as a DataFrame (see `Runs.df`)."""
        return self.runs.df(meta=meta)

    def plot(self, x: str, y: str, hue: str | None = None, ax: Any = None) -> Any:
        """Mean of field ``y`` per value of param ``x`` (±1 std band), a line per ``hue``
        value; returns the matplotlib Axes (``pip install "runtable[plot]"``)."""
        from .plotting import plot

        return plot(self, x, y, hue=hue, ax=ax)

    def plot_series(self, name: str, hue: str | None = None, ax: Any = None) -> Any:
        """One curve per run of the logged metric ``name`` (see ``Run.log``), coloured by the
        param ``hue``; returns the matplotlib Axes."""
        from .plotting import plot_series

        return plot_series(self, name, hue=hue, ax=ax)

    def _repr_html_(self) -> str:
        from .views import experiment_html

        return experiment_html(self)

    def __repr__(self) -> str:
        stored = " stored" if self.id else ""
        return (
            f"<Experiment {self.name!r}{stored}: {len(self.runs)} runs, "
            f"{len(self.steps)} steps, fields: {', '.join(self.fields) or '-'}>"
        )

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_session"] = None  # connections do not pickle; load_experiment re-attaches
        return state


def done_key(steps: Sequence[Step], config: Mapping[str, Any], seed: int) -> str:
    """What a run's successful execution is recognised by: the steps' names and source
    hashes, a digest of the config and the seed (stored in the run's ``done_with``)."""
    try:
        from .codec import encode

        config_bytes = encode(tuple(sorted(config.items())))
    except (UnsupportedValueError, TypeError):  # unstorable or unsortable: never equal twice
        try:
            config_bytes = repr(sorted(config.items(), key=repr)).encode()
        except RecursionError:
            config_bytes = os.urandom(16)
    return json.dumps(
        {
            "steps": [f"{s.name}:{s.source_hash}" for s in steps],
            "config": hashlib.sha256(config_bytes).hexdigest()[:16],
            "seed": seed,
        },
        separators=(",", ":"),
    )


class _RunSink:
    """Writes finished runs of an execution to the database in batches."""

    BATCH_RUNS = 500
    BATCH_SECONDS = 1.0

    def __init__(self, experiment: Experiment, if_exists: IfExists) -> None:
        self.experiment = experiment
        self.session = experiment._require_session()
        if experiment.id is None:  # the whole grid is stored first, runs still pending
            experiment.persist(if_exists=if_exists)
        self.pending: list[Run] = []
        self.last = time.monotonic()

    def add(self, run: Run) -> None:
        self.pending.append(run)
        now = time.monotonic()
        if len(self.pending) >= self.BATCH_RUNS or now - self.last >= self.BATCH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            try:
                self.session._save_runs(self.experiment, self.pending)
            except BaseException:
                for run in self.pending:  # not stored: a later execute() must run them again
                    run.done_with = None
                raise
            self.pending = []
        self.last = time.monotonic()

    def close(self, failure: BaseException | None) -> None:
        """Write what is left; when the execution failed, a write error is logged, not raised
        (the execution's own exception is the one to see)."""
        if isinstance(failure, (StorageError, ConflictError)):
            return  # the store itself failed: the same write would fail again
        try:
            self.flush()
        except Exception:
            if failure is None:
                raise
            logger.exception("runtable: could not store the runs finished before the failure")


def _row_dicts(
    columns: Mapping[str, Sequence[Any]], n: int, with_absent: set[str]
) -> Iterator[dict[str, Any]]:
    """One dict per row from stored columns, leaving out absent values."""
    from .storage.columns import ABSENT

    names = list(columns)
    if not names:
        return (({}) for _ in range(n))
    values = list(columns.values())
    rows = zip(*values, strict=True)
    if with_absent.isdisjoint(names):
        return (dict(zip(names, row, strict=True)) for row in rows)
    return ({k: v for k, v in zip(names, row, strict=True) if v is not ABSENT} for row in rows)


def _distinct(values: list[Any]) -> bool:
    """Whether no two values of a grid axis could be the same point (exact types, no NaN)."""
    from .seeding import _plain

    keys = set()
    for value in values:
        plain = _plain(value)
        if type(plain) not in (int, str, bool, bytes) and not (
            type(plain) is float and plain == plain
        ):
            return False  # unhashable, NaN, or a type compared loosely: check point by point
        keys.add((type(plain), plain))
    return len(keys) == len(values)


def _check_param_names(names: Iterable[str]) -> None:
    names = list(names)
    for name in names:
        check_column_name(name, "param")
    check_distinct(names, "param")


def _values(name: str, value: Any) -> list[Any]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        return [value]
    values = list(value)
    if not values:
        raise ValueError(f"param {name!r} has an empty list of values: the grid would be empty")
    return values
