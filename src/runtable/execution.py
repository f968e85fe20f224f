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

import hashlib
import logging
import sys
import traceback
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from time import monotonic as time_monotonic
from typing import Any, Literal
from uuid import UUID

from .clock import utcnow
from .run import Run, Status
from .seeding import seed_globals
from .step import Step

OnError = Literal["raise", "record"]
ON_ERROR: tuple[OnError, ...] = ("raise", "record")

#: Executions of fewer runs than this never show a progress bar in "auto" mode.
PROGRESS_MIN_RUNS = 20
#: In "auto" mode the bar appears only once an execution has lasted this many seconds.
PROGRESS_DELAY = 2.0


@dataclass(slots=True)
class _Outcome:
    """What a worker sends back: the run's new state and the fields its steps changed."""

    id: int
    status: Status
    error: str | None
    started_at: datetime
    ended_at: datetime
    steps: dict[str, dict[str, Any]]
    fields: dict[str, Any]
    deleted: tuple[str, ...]
    vars: dict[str, Any]
    in_place: bool = False  #: executed on the parent's own Run: nothing to copy back


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
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, not {on_error!r}")
    finished = (
        _execute_here(runs, steps, on_error, key)
        if _effective_n_jobs(n_jobs, backend) == 1
        else _execute_joblib(runs, steps, n_jobs, backend, on_error, key)
    )
    yield from _with_progress(finished, len(runs), progress, label=label)


def _execute_here(
    runs: Sequence[Run], steps: Sequence[Step], on_error: OnError, key: StepKey | None
) -> Iterator[Run]:
    for run in runs:
        _run_steps(run, steps, on_error, key)
        yield run


#: Runs of the executions under way in this process, so that a worker in this process (a
#: thread) can tell that it holds the parent's own Run rather than a copy.
_HOME_RUNS: dict[tuple[str, int], Run] = {}


def _execute_joblib(
    runs: Sequence[Run],
    steps: Sequence[Step],
    n_jobs: int | None,
    backend: Any,
    on_error: OnError,
    key: StepKey | None,
) -> Iterator[Run]:
    import joblib

    token = uuid.uuid4().hex
    by_id = {run.id: run for run in runs}
    _HOME_RUNS.update({(token, run.id): run for run in runs})
    try:
        parallel = joblib.Parallel(n_jobs=n_jobs, backend=backend, return_as="generator_unordered")
    except ValueError:
        # joblib's "multiprocessing" backend returns all results at the end, in order: runs
        # then finish (and are stored) together, and a failure surfaces only after all ran.
        parallel = joblib.Parallel(n_jobs=n_jobs, backend=backend, return_as="list")
    tasks = (joblib.delayed(_execute_remote)(run, steps, on_error, key, token) for run in runs)
    try:
        for outcome in parallel(tasks):
            run = by_id[outcome.id]
            if not outcome.in_place:
                _apply(run, outcome)
            yield run
    except Exception as exc:
        failed = by_id.get(getattr(exc, "runtable_run_id", None))  # type: ignore[arg-type]
        if failed is not None:
            failed.status = "failed"
            failed.error = _format(exc)
            failed.ended_at = failed.ended_at or utcnow()
        raise
    finally:
        for run in runs:
            _HOME_RUNS.pop((token, run.id), None)


def _execute_remote(
    run: Run, steps: Sequence[Step], on_error: OnError, key: StepKey | None, token: str
) -> _Outcome:
    """Worker side: run the steps and report what changed.

    In a thread of the parent process the Run is the parent's own and changes in place. In
    another process it is a copy: fields set or deleted, and fields whose mutable values were
    changed in place (found by fingerprint), travel back; unchanged fields do not.
    """
    if _HOME_RUNS.get((token, run.id)) is run:
        _run_steps(run, steps, on_error, key)
        return _outcome(run, (), in_place=True)
    before = {k: _fingerprint(v) for k, v in run.fields._data.items() if not _immutable(v)}
    run.fields._track_changes()
    _run_steps(run, steps, on_error, key)
    data = run.fields._data
    changed = set(run.fields._changed or ())
    # A value the codec cannot encode has no fingerprint: it always travels back.
    changed.update(
        k for k, f in before.items() if k in data and (f is None or _fingerprint(data[k]) != f)
    )
    return _outcome(run, changed)


def _outcome(run: Run, changed: Iterable[str], *, in_place: bool = False) -> _Outcome:
    data = run.fields._data
    changed = set(changed)
    return _Outcome(
        id=run.id,
        status=run.status,
        error=run.error,
        started_at=run.started_at,  # type: ignore[arg-type]  # set by _run_steps
        ended_at=run.ended_at,  # type: ignore[arg-type]
        steps=run._step_records(),
        fields={k: v for k, v in data.items() if k in changed},  # in the run's field order
        deleted=tuple(sorted(k for k in changed if k not in data)),
        vars=run._vars._data if run._vars is not None else {},
        in_place=in_place,
    )


def _apply(run: Run, outcome: _Outcome) -> None:
    data = run.fields._data
    data.update(outcome.fields)
    for name in outcome.deleted:
        data.pop(name, None)
    if outcome.vars:
        object.__setattr__(run.vars, "_data", outcome.vars)
    else:
        run._vars = None
    run.status = outcome.status
    run.error = outcome.error
    run._steps = outcome.steps
    run.started_at = outcome.started_at
    run.ended_at = outcome.ended_at


@dataclass(frozen=True, slots=True)
class StepKey:
    """What an execution records with each step besides its name and source hash: a digest
    of the config and the experiment's seed (what ``resume=True`` compares)."""

    config: str
    seed: int


def _run_steps(run: Run, steps: Sequence[Step], on_error: OnError, key: StepKey | None) -> None:
    """Run ``steps`` in order on ``run`` and record each one in ``run.steps``.

    ``started_at`` stays when the run keeps records of steps not executed now (a later
    evaluation step does not erase the time of the fit before it); ``ended_at`` is now.
    """
    records = dict(run._step_records())
    now = utcnow()
    if run.started_at is None or not set(records) - {s.name for s in steps}:
        run.started_at = now
    run.error = None
    run._rng = None  # every execution starts the run's stream afresh, on every backend
    seed_globals(run._experiment_seed, run.params_digest)
    config = key.config if key is not None else ""
    seed = key.seed if key is not None else run._experiment_seed
    first: dict[str, str] = {}
    current: Step | None = None
    try:
        for current in steps:
            began = first.setdefault(current.name, utcnow().isoformat())
            try:
                current.apply(run)
            except BaseException:
                records[current.name] = _record(current, config, seed, "failed", began)
                raise
            records[current.name] = _record(current, config, seed, "done", began)
    except Exception as exc:
        run._flush_series()
        run._steps = records
        run.ended_at = utcnow()
        run.status = "failed"
        _annotate(exc, run, current.name if current is not None else "?")
        run.error = _format(exc)
        if on_error == "raise":
            raise
        return
    run._flush_series()
    run._steps = records
    run.ended_at = utcnow()
    run.status = "done"


def _record(step: Step, config: str, seed: int, status: str, began: str) -> dict[str, Any]:
    return {
        "hash": step.source_hash,
        "config": config,
        "seed": seed,
        "status": status,
        "started_at": began,
        "ended_at": utcnow().isoformat(),
    }


def resumable(run: Run, steps: Sequence[Step], key: StepKey) -> bool:
    """Whether ``run`` is done and its own record of every step in ``steps`` shows the same
    source hash, config digest and seed, with status done (what ``resume=True`` skips)."""
    if run.status != "done" or not steps:
        return False
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
        value = np.asarray(value)  # joblib hands big arrays to workers as read-only memmaps
    try:
        return hashlib.blake2b(encode(value), digest_size=16).digest()
    except Exception:
        return None


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
