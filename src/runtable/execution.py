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
    done_with: str | None
    fields: dict[str, Any]
    deleted: tuple[str, ...]
    vars: dict[str, Any]
    in_place: bool = False  #: executed on the parent's own Run: nothing to copy back


def execute_runs(
    runs: Sequence[Run],
    steps: Sequence[Step],
    *,
    n_jobs: int | None = None,
    backend: Any = None,
    on_error: OnError = "raise",
    progress: bool | None = None,
    done_with: str | None = None,
) -> Iterator[Run]:
    """Execute ``steps`` in order on each run, yielding each run once it has finished.

    Runs are updated in place (status, error, timestamps, fields, vars; ``done_with`` is set on
    success). Yield order is completion order. With ``on_error="raise"`` the first failure is
    raised after its run is marked failed; runs finished before it keep their results.
    """
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, not {on_error!r}")
    finished = (
        _execute_here(runs, steps, on_error, done_with)
        if _effective_n_jobs(n_jobs, backend) == 1
        else _execute_joblib(runs, steps, n_jobs, backend, on_error, done_with)
    )
    yield from _with_progress(finished, len(runs), progress)


def _execute_here(
    runs: Sequence[Run], steps: Sequence[Step], on_error: OnError, done_with: str | None
) -> Iterator[Run]:
    for run in runs:
        _run_steps(run, steps, on_error, done_with)
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
    done_with: str | None,
) -> Iterator[Run]:
    import joblib

    token = uuid.uuid4().hex
    by_id = {run.id: run for run in runs}
    _HOME_RUNS.update({(token, run.id): run for run in runs})
    parallel = joblib.Parallel(n_jobs=n_jobs, backend=backend, return_as="generator_unordered")
    tasks = (
        joblib.delayed(_execute_remote)(run, steps, on_error, done_with, token) for run in runs
    )
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
    run: Run, steps: Sequence[Step], on_error: OnError, done_with: str | None, token: str
) -> _Outcome:
    """Worker side: run the steps and report what changed.

    In a thread of the parent process the Run is the parent's own and changes in place. In
    another process it is a copy: fields set or deleted, and fields whose mutable values were
    changed in place (found by fingerprint), travel back; unchanged fields do not.
    """
    if _HOME_RUNS.get((token, run.id)) is run:
        _run_steps(run, steps, on_error, done_with)
        return _outcome(run, (), in_place=True)
    before = {k: _fingerprint(v) for k, v in run.fields._data.items() if not _immutable(v)}
    run.fields._track_changes()
    _run_steps(run, steps, on_error, done_with)
    data = run.fields._data
    changed = set(run.fields._changed or ())
    changed.update(k for k, f in before.items() if k in data and _fingerprint(data[k]) != f)
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
        done_with=run.done_with,
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
    run.done_with = outcome.done_with
    run.started_at = outcome.started_at
    run.ended_at = outcome.ended_at


def _run_steps(
    run: Run, steps: Sequence[Step], on_error: OnError, done_with: str | None = None
) -> None:
    run.started_at = utcnow()
    run.error = None
    run.done_with = None
    run._rng = None  # every execution starts the run's stream afresh, on every backend
    seed_globals(run._experiment_seed, run.params_digest)
    current: Step | None = None
    try:
        for current in steps:
            current.apply(run)
    except Exception as exc:
        run._flush_series()
        run.ended_at = utcnow()
        run.status = "failed"
        _annotate(exc, run, current.name if current is not None else "?")
        run.error = _format(exc)
        if on_error == "raise":
            raise
        return
    run._flush_series()
    run.ended_at = utcnow()
    run.status = "done"
    run.done_with = done_with


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
    value is then always sent back)."""
    from .codec import encode

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
