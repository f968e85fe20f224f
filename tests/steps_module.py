"""Module-level steps for the execution tests.

Worker processes (loky) import these by reference, as they would import a user's own module, so
they must stay at module level and importable as ``steps_module`` (tests/ is on sys.path).
"""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np

import runtable as rt


class CoinError(Exception):
    """A step's own exception type: execution must raise it unchanged."""


@rt.step
def toss(run: rt.Run) -> None:
    """Toss ``n`` coins of bias ``p`` (config) with the run's generator."""
    run.fields.tosses = run.rng.random(run.params.n) < run.config.p


@rt.step(name="estimate_error")
def estimate(tosses: np.ndarray, p: float) -> dict[str, Any]:
    """Read ``tosses`` (a field) and ``p`` (config); return the estimate's error."""
    return {"err": float(abs(tosses.mean() - p))}


@rt.step
def draw(run: rt.Run) -> None:
    """Record a few numbers from the run's generator and from the global random states."""
    run.fields.rng_draw = run.rng.random(3).tolist()
    run.fields.random_draw = random.random()
    run.fields.np_random_draw = float(np.random.random())


@rt.step
def fail_on_three(n: int) -> dict[str, Any]:
    """Raise CoinError for ``n == 3``; otherwise record ``n`` squared."""
    if n == 3:
        raise CoinError(f"bad coin for n={n}")
    return {"square": n * n}


@rt.step
def divide(n: int) -> dict[str, Any]:
    """Divide by ``n - 2``: a ZeroDivisionError for ``n == 2``."""
    return {"ratio": 1 / (n - 2)}


@rt.step
def summarize_big(run: rt.Run, big: np.ndarray) -> None:
    """Read a big field, write small ones, delete a field and set a var."""
    run.fields.total = float(big.sum()) + run.params.n
    del run.fields.scratch
    run.vars.note = f"summed {big.size}"


@rt.step
def where(run: rt.Run) -> None:
    """Record the id of the process that executes the run."""
    run.fields.pid = os.getpid()


def plain_square(n: int) -> dict[str, Any]:
    """An undecorated function used as a step."""
    return {"square": n * n}


class Tally:
    """A value the safe codec does not store, changed in place by a step."""

    def __init__(self) -> None:
        self.count = 0


def bump_tally(tally: Tally) -> None:
    """Change a field in place without assigning it again."""
    tally.count += 10
