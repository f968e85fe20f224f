"""Experiments: fields, a parameter grid of runs, registered steps, execute() and persist()."""

from __future__ import annotations

import itertools
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self, overload

from .clock import utcnow
from .errors import RuntableError, UnsupportedValueError
from .execution import (
    ExecutionSummary,
    OnError,
    StepKey,
    _annotate,
    _format,
    check_arguments,
    execute_runs,
    resumable,
)
from .frame import RunFrame
from .names import check_column_name, check_distinct, check_experiment_name
from .run import Config, Namespace, Run, Runs, flush_series
from .seeding import config_digest, params_digest
from .step import Step, as_step

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    import pandas as pd

    from .session import Session
    from .storage.base import ExperimentData, IfExists, StoredExperiment


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
        self.steps: list[Step] = []
        self.config = Config()
        self.seed = seed
        self.runs = Runs(RunFrame(self.config, self.seed))
        self.id: str | None = None  #: the stored experiment's id, once persisted or loaded
        self.created_at: datetime | None = None  #: when it was first stored (UTC), if loaded
        self.updated_at: datetime | None = None  #: when it was last stored (UTC), if loaded
        self._session = session
        self._next_id = new_run_id_origin()
        #: what the last ``execute()`` did: runs done, failed and skipped (see ExecutionSummary)
        self.last_execution: ExecutionSummary | None = None
        self._digests: dict[int, int] | None = {}  # params digest -> run id (None: not built)
        self._executed: dict[str, str] = {}  # step name -> source hash, for the metadata
        self._slice: str | None = None  # set when loaded with where/columns: not persistable
        #: the session whose database holds the runs not flagged as changed (see RunFrame)
        self._stored_in: Session | None = None

    @property
    def seed(self) -> int:
        """The experiment's seed: every run's ``rng`` derives from it and the run's params."""
        return self._seed

    @seed.setter
    def seed(self, value: int) -> None:
        self._seed = check_seed(value)
        runs = self.__dict__.get("runs")
        if runs is not None:
            runs.frame.seed = self._seed
            runs.frame.rngs.clear()  # each run's Generator derives from the seed

    @property
    def config(self) -> Config:
        """Execute-time constants every run reads (``execute(config=...)`` adds to them)."""
        return self._config

    @config.setter
    def config(self, value: Mapping[str, Any]) -> None:
        self._config = value if isinstance(value, Config) else Config(value)
        runs = self.__dict__.get("runs")
        if runs is not None:
            runs.frame.config = self._config

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
        frame = self.runs.frame
        if len(frame) == 0 and all(_distinct(axis) for axis in axes):
            # A product of distinct values on an empty experiment has no duplicate points: add
            # the runs as columns, without a digest each (seeding computes it on execution).
            n = 1
            for axis in axes:
                n *= len(axis)
            ids = range(self._next_id, self._next_id + n)
            frame.extend_grid(ids, names, itertools.product(*axes))
            self._next_id += n
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
        frame = self.runs.frame
        if not unique:  # a run tracked by hand: no digest needed
            i = frame.append(self._next_id, params, grid=False)
            self._next_id += 1
            if self._digests is not None:
                self._digests = None
            return Run._view(frame, i)
        digests = self._run_digests()
        digest = params_digest(params)
        if digest in digests:
            return self.runs[digests[digest]]
        i = frame.append(self._next_id, params, grid=True)
        frame.digests[i] = digest
        self._next_id += 1
        digests.setdefault(digest, frame.ids[i])
        return Run._view(frame, i)

    def _run_digests(self) -> dict[int, int]:
        if self._digests is None:  # built on the first add that needs it, not on every load
            frame = self.runs.frame
            self._digests = {}
            for run in self.runs:
                self._digests.setdefault(run.params_digest, frame.ids[run._i])
        return self._digests

    def run(self, **params: Any) -> _TrackedRun:
        """Track a run by hand: ``with exp.run(lr=0.1) as run: run.fields.loss = ...``.

        Always adds a new run (even with params an earlier run has). It is "done" when the block
        ends normally and "failed" (with the traceback in ``error``) when it raises; the
        exception propagates.
        """
        if not self.runs.frame.params.keys() >= params.keys():  # known columns were checked
            _check_param_names(params)
        return _TrackedRun(self, params)

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
        resume: bool = False,
    ) -> Self:
        """Run steps, in order, on every run (an experiment without runs gets one, with no
        params, as in MLTRAQ).

        ``steps``: one step or a list; None means the registered steps. ``config``: constants
        every step can read (merged into the experiment's config and persisted with it).
        ``n_jobs``/``backend``: joblib's; None inherits an enclosing ``joblib.parallel_config``
        (1 job, in this process, by default). ``on_error``: "raise" stops at the first failure and
        raises it with its own type; "record" marks failed runs and goes on. ``progress``: True,
        False, or None for a bar only on long executions in a terminal.

        ``resume=True`` skips the runs that are done and whose own record of each of these
        steps (name, source hash, config digest, seed) matches: what finishing an interrupted
        sweep needs. ``persist=True`` writes finished runs to the database as they complete, in
        batches (every second or 2,000 runs), so a crash loses at most the runs not yet written;
        an experiment not stored yet is first persisted with ``if_exists``.

        What happened is in ``last_execution`` (runs done, failed, skipped) and logged on the
        ``runtable`` logger (a warning when runs failed).
        """
        chosen = self._steps(steps)
        # Everything an execution would refuse is refused before anything changes.
        check_arguments(chosen, on_error, n_jobs, backend)
        merged = Config({**self.config, **config}) if config else self.config
        if persist:
            from .storage.base import IF_EXISTS

            if if_exists not in IF_EXISTS:
                raise ValueError(f"if_exists must be one of {IF_EXISTS}, not {if_exists!r}")
            self._require_session()
            self._check_storable(merged)
        before = (self.config, dict(self._executed))
        self.config = merged
        if len(self.runs) == 0:
            self._add({})
        key = StepKey(config_digest(self.config), self.seed)
        runs = list(self.runs)
        todo = [r for r in runs if not resumable(r, chosen, key)] if resume else runs
        for s in chosen:
            self._executed[s.name] = s.source_hash
        try:
            sink = _RunSink(self, if_exists) if persist else None
        except BaseException:  # refused before any run started: nothing executed
            self.config, self._executed = before
            raise
        failure: BaseException | None = None
        counts = {"done": 0, "failed": 0}
        started = time.monotonic()
        try:
            for run in execute_runs(
                todo,
                chosen,
                n_jobs=n_jobs,
                backend=backend,
                on_error=on_error,
                progress=progress,
                key=key,
                label=self.name,
            ):
                counts[run.status] = counts.get(run.status, 0) + 1
                if sink is not None:
                    sink.add(run)
        except BaseException as exc:
            failure = exc
            failed = getattr(exc, "runtable_run_id", None)
            if isinstance(failed, int) and failed in self.runs:
                counts["failed"] += 1
                if sink is not None:
                    sink.add(self.runs[failed])
            raise
        finally:
            if sink is not None:
                sink.close(failure)
            self.last_execution = ExecutionSummary(
                experiment=self.name,
                steps=tuple(s.name for s in chosen),
                done=counts["done"],
                failed=counts["failed"],
                skipped=len(runs) - len(todo),
                not_run=len(todo) - counts["done"] - counts["failed"],
                seconds=time.monotonic() - started,
            )
            self.last_execution.log(logger)
        return self

    def _check_storable(self, config: Mapping[str, Any]) -> None:
        """Before any run starts: the config must be storable, or an execution that persists
        as it goes would lose its work at the first write."""
        from .codec import encode

        try:
            encode(dict(config))
        except UnsupportedValueError as e:
            raise e.located(
                run_id=None,
                field="experiment config",
                fix="execute(persist=True) stores the config as runs finish: give a storable "
                "config, or execute without persist=True and then persist(store_pickle=True)",
            ) from None

    def _steps(self, steps: Any) -> list[Step]:
        if steps is None:
            if not self.steps:
                raise RuntableError(
                    f"experiment {self.name!r} has no registered steps: decorate functions with "
                    "@exp.step or pass them, as in exp.execute([step1, step2])"
                )
            chosen = list(self.steps)
        elif isinstance(steps, Step) or callable(steps):
            chosen = [as_step(steps)]
        else:
            chosen = [as_step(s) for s in steps]
        _check_step_names(chosen)
        return chosen

    # -- storing -----------------------------------------------------------------------------

    def persist(
        self,
        if_exists: IfExists = "fail",
        *,
        store_pickle: bool = False,
        session: Session | None = None,
    ) -> Self:
        """Store the experiment and its runs in the session's database.

        ``if_exists``: "fail" (an error if the name is stored), "replace" (the stored version is
        swapped for this one, atomically), or "append" (new runs added, stored runs of the same
        ids updated with the fields they carry). ``store_pickle=True`` also stores a cloudpickle
        of the whole experiment, vars and steps included, which only
        ``load_experiment(name, unpickle=True)`` ever unpickles. ``session``: store it in that
        session's database instead, and attach the experiment to it (copying an experiment from
        one database to another). All-or-nothing: when persist raises, the database is as it
        was.
        """
        target = self._require_session() if session is None else session
        if session is not None and self._slice is not None:
            self._require_session()  # a slice is refused with its reason
        target._persist(self, if_exists=if_exists, store_pickle=store_pickle)
        self._session = target
        return self

    def reload(self) -> Self:
        """Read this experiment again from its database, in place: its fields, config, seed
        and runs as stored now (registered steps stay). ExperimentNotFoundError when it is not
        stored.

        Runs taken before (``best = exp.runs[...]``) see what is stored now, and writes through
        them reach the experiment, as long as every one of its runs is still stored; when the
        stored experiment has lost runs (it was replaced), they are left as they were: take
        them again from ``exp.runs``."""
        steps = self.steps
        fresh = self._require_session().load_experiment(self.name)
        old, frame = self.runs.frame, fresh.runs.frame
        found = [frame.position(run_id) for run_id in old.ids]
        positions = [i for i in found if i is not None]
        if len(positions) == len(found):
            # Every run is still stored: each keeps its position, so runs taken before the
            # reload see what is stored now, and writes through them reach the experiment.
            kept = set(positions)
            order = [*positions, *(i for i in range(len(frame)) if i not in kept)]
            if order != list(range(len(frame))):
                frame = frame.take(order)
            old.adopt(frame)
            fresh.runs = self.runs
        self.__dict__.update(fresh.__dict__)
        self.steps = steps
        return self

    def merge_runs(self, *sources: Experiment | Iterable[Run]) -> Self:
        """Copy the runs of other experiments (or collections of runs) into this one, as new
        runs with ids of this experiment: params, fields, vars, status, error, timestamps and
        step records. Runs with equal params are all kept, as runs tracked by hand are."""
        frame = self.runs.frame
        for source in sources:
            runs = list(source.runs if isinstance(source, Experiment) else source)
            start = 0
            while start < len(runs):  # consecutive runs of one frame are copied together
                other = runs[start]._frame
                end = start
                while end < len(runs) and runs[end]._frame is other:
                    end += 1
                positions = [r._i for r in runs[start:end]]
                flush_series(other, positions)
                copy = other.take(positions, drop_absent=True)
                copy.grid = [False] * len(copy)
                frame.concat(copy, range(self._next_id, self._next_id + len(copy)))
                self._next_id += len(copy)
                start = end
        self._digests = None
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

    def _stored_data(self, pickle: bytes | None = None) -> ExperimentData:
        """The experiment's own values as storage takes them."""
        from .storage.base import ExperimentData

        return ExperimentData(
            name=self.name,
            fields=self.fields,
            config=self.config,
            seed=self.seed,
            meta=self._metadata(),
            pickle=pickle,
        )

    def _metadata(self) -> dict[str, Any]:
        from .provenance import environment, git_commit
        from .storage.columns import _jsonable

        return {
            **environment(),
            "git_commit": git_commit(),
            "seed": str(self.seed),
            "config": _jsonable(dict(self.config), 0),
            "steps": [{"name": n, "hash": h} for n, h in self._executed.items()],
            "registered_steps": [s.name for s in self.steps],
        }

    @classmethod
    def _from_stored(cls, stored: StoredExperiment, session: Session) -> Experiment:

        seed = stored.meta.get("seed", stored.seed)  # exact, whatever its size
        exp = cls(stored.name, session=session, fields=stored.fields, seed=int(seed))
        exp.id = stored.id
        exp.created_at = stored.created_at
        exp.updated_at = stored.updated_at
        exp._executed = {s["name"]: s["hash"] for s in stored.meta.get("steps", [])}
        exp.runs = Runs(stored.runs)
        exp.config = Config(stored.config)  # given to the runs too
        exp.seed = exp.seed
        exp._digests = None
        exp._next_id = run_id_origin_after(max(stored.runs.ids, default=0))
        exp._stored_in = session
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
        flush_series(self.runs.frame)  # the logged metrics travel as their field
        state = self.__dict__.copy()
        state["_session"] = None  # connections do not pickle; load_experiment re-attaches
        state["_stored_in"] = None
        return state


def check_seed(value: Any) -> int:
    """A seed as an int: any integer (numpy integers too, 128-bit entropy included); anything
    else is refused here rather than rounded or truncated later."""
    import numbers

    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    raise ValueError(
        f"seed must be an integer (of any size, numpy integers too), not {value!r}; "
        "a float seed would be rounded by some databases and change every run's numbers"
    )


#: A new experiment's first run id is drawn from [LOW, HIGH): 15 digits, so tables line up and
#: ids stay exact as JavaScript numbers (below 2**53, the report), with room above for the
#: random gaps of later extensions. Two shards of 10,000 runs collide with odds of about
#: 2.5e-11.
_LOW, _HIGH = 10**14, 9 * 10**14
#: Runs added to a loaded experiment start this far (at random) past its largest id.
_GAP = 2**40


def new_run_id_origin() -> int:
    """The first id of the runs a new Experiment object adds: random, so that processes and
    machines adding runs to one experiment never pick the same ids without coordinating; later
    runs of that object count up from it, so they keep their order."""
    return _LOW + secrets.randbelow(_HIGH - _LOW)


def run_id_origin_after(largest: int) -> int:
    """The first id of runs added to a loaded experiment: past its largest stored id (runs
    load in id order, so new runs come after the old ones) by a random gap (so processes
    extending the same experiment at once do not collide)."""
    return largest + 1 + secrets.randbelow(_GAP)


class _TrackedRun:
    """``with exp.run(**params) as run:``: adds the run on entry, marks it done or failed (with
    the traceback) on exit; the exception propagates."""

    __slots__ = ("_experiment", "_params", "_run")

    def __init__(self, experiment: Experiment, params: dict[str, Any]) -> None:
        self._experiment = experiment
        self._params = params
        self._run: Run | None = None

    def __enter__(self) -> Run:
        experiment = self._experiment
        frame = experiment.runs.frame
        i = frame.append(experiment._next_id, self._params, grid=False, started_at=utcnow())
        experiment._next_id += 1
        experiment._digests = None
        run = self._run = Run._view(frame, i)
        return run

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        run = self._run
        assert run is not None
        frame, i = run._frame, run._i
        # Written through the columns and flagged: the run may have been stored by a
        # persist inside the block, and its end must reach the next append.
        frame.changed[i] = 1
        # Steps executed inside the block keep their own times: a record made from the
        # run's times (a template) becomes text before the run's end changes.
        frame.own_steps(i)
        if exc is not None and isinstance(exc, Exception):
            frame.ended_at[i] = utcnow()
            frame.status[i] = "failed"
            _annotate(exc, run, "<with exp.run()>")
            frame.error[i] = _format(exc)
            return
        if exc is not None:  # KeyboardInterrupt and the like: the run stays pending
            return
        if frame.series:
            run._flush_series()
        frame.ended_at[i] = utcnow()
        frame.status[i] = "done"


class _RunSink:
    """Writes finished runs of an execution to the database in batches."""

    BATCH_RUNS = 2000
    BATCH_SECONDS = 1.0

    def __init__(self, experiment: Experiment, if_exists: IfExists) -> None:
        self.experiment = experiment
        self.session = experiment._require_session()
        if experiment.id is None or not self.session.store.exists(experiment.name):
            # The whole grid is stored first, runs still pending (also when the stored copy
            # was deleted since: the runs an execution skips must be stored too).
            experiment.persist(if_exists=if_exists)
        elif experiment.runs.frame.changed_positions():
            # Runs added (or changed) since it was loaded or stored are stored first too, so
            # that a crash leaves them pending in the database, as a new grid's.
            experiment.persist(if_exists="append")
        else:  # before any run starts: can this version write into what is stored?
            self.session.store.check_writable(experiment.name)
        self.pending: list[int] = []
        #: the error of this sink's own write, when one failed (a step's error is not one)
        self.write_error: BaseException | None = None
        self.last = time.monotonic()
        # The experiment's own values and metadata are built (and encoded by the store) once
        # for every batch; a step that changes its fields or config has them stored at close.
        self.data = experiment._stored_data()
        self.own_values = _own_values(experiment)

    def add(self, run: Run) -> None:
        self.pending.append(run._i)
        now = time.monotonic()
        if len(self.pending) >= self.BATCH_RUNS or now - self.last >= self.BATCH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            try:
                # Its stamp lets the next batch skip reading back the runs this sink stored,
                # when nobody else wrote in between.
                self.data.written_at = self.session._save_runs(
                    self.experiment, self.pending, self.data
                )
            except BaseException as exc:
                self.write_error = exc
                frame = self.experiment.runs.frame
                for i in self.pending:  # not stored: resume=True must run them again
                    Run._view(frame, i)._mark_unstored()
                raise
            self.pending = []
        self.last = time.monotonic()

    def close(self, failure: BaseException | None) -> None:
        """Write what is left; when the execution failed, a write error is logged, not raised
        (the execution's own exception is the one to see). A step's exception is never taken
        for the sink's own: only when this sink's write failed is nothing written again (the
        same write would fail again)."""
        if self.write_error is not None:
            return
        try:
            # A step may have changed the experiment's own fields or config (a best so far):
            # the last write stores them as they are now.
            if _own_values(self.experiment) != self.own_values:
                self.data = self.experiment._stored_data()
                if not self.pending:
                    self.experiment.persist(if_exists="append")
            self.flush()
        except Exception:
            if failure is None:
                raise
            logger.exception("runtable: could not store the runs finished before the failure")


def _own_values(experiment: Experiment) -> bytes | None:
    """The codec bytes of the experiment's fields and config (None when they cannot be
    encoded: then they are taken as changed)."""
    from .codec import encode

    try:
        return encode((dict(experiment.fields), dict(experiment.config)))
    except Exception:
        return None


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


def _check_step_names(steps: Sequence[Step]) -> None:
    """A run keeps one record per step name: two different steps of one name (two partials
    of one function, say) would keep only the last one's, and ``resume=True`` would run the
    other again every time. The same step twice is one record, kept."""
    seen: dict[str, Step] = {}
    for s in steps:
        other = seen.setdefault(s.name, s)
        if other.func is not s.func and other.source_hash != s.source_hash:
            raise ValueError(
                f"two different steps are both named {s.name!r} ({other.func!r} and "
                f"{s.func!r}): a run keeps one record per step name, so resume=True could not "
                "tell them apart. Name them apart: runtable.step(func, name=...) or "
                "@exp.step(name=...)"
            )


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
