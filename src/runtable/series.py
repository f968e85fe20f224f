"""Metric series: ``run.log(loss=0.3, acc=0.8)`` rows kept column-wise, stored as one field.

A run's series is a pandas DataFrame in the field ``series`` with the columns ``step`` (int64),
``timestamp`` (datetime64[ns], UTC) and one float64 column per metric (NaN where a row did not
log it). Appending costs a few list appends; the DataFrame is built when the run's fields are
read for storage or through ``run.series``, so 10,000 logged values cost about one array.
"""

from __future__ import annotations

import math
import operator
import sys
from collections.abc import Mapping
from time import time_ns
from typing import TYPE_CHECKING, Any

from .errors import InvalidNameError, RuntableError

if TYPE_CHECKING:
    import pandas as pd

FIELD = "series"
#: The series' own columns; no metric may take these names.
RESERVED = ("step", "timestamp")


class MetricValueError(RuntableError, TypeError, ValueError):
    """A value given to ``run.log()`` that is not a number a float64 column holds, or a step
    that is not an integer."""


class SeriesFieldError(RuntableError, ValueError):
    """``run.log()`` on a run whose ``series`` field holds something other than a series."""


def _number(name: str, value: Any) -> float:
    """The float64 value of metric ``name``; refuse names and values the series cannot keep.

    Numbers are taken as floats: ints, floats, bools (1.0 and 0.0), numpy scalars and anything
    else a number converts from (``__float__``: a 0-d array, a tensor, a Decimal). Text is
    refused, even text that reads as a number.
    """
    if name in RESERVED:
        raise InvalidNameError(
            "metric",
            name,
            f"the series has its own {name!r} column; log the metric under another name "
            f"(for example {name + '_value'!r})",
        )
    if isinstance(value, str | bytes | bytearray):
        raise MetricValueError(
            f"run.log({name}=...) takes numbers; got {type(value).__name__} {_short(value)}: "
            "convert it yourself (float(...)) or store text as a field"
        )
    try:
        return float(value)
    except OverflowError:
        raise MetricValueError(
            f"run.log({name}=...) takes numbers a float64 holds; this int has "
            f"{value.bit_length()} bits: log a float, or store the value as a field"
        ) from None
    except (TypeError, ValueError):
        raise MetricValueError(
            f"run.log({name}=...) takes numbers; got {type(value).__name__}: store "
            "other values as fields"
        ) from None


_INT64 = range(-(2**63), 2**63)


def _step(step: Any) -> int:
    """``step`` as the int it is; MetricValueError for anything that is not an integer of the
    int64 step column (a float, even a whole one, a bool, text)."""
    if type(step) is not int:
        np = sys.modules.get("numpy")
        if isinstance(step, bool) or (np is not None and isinstance(step, np.bool_)):
            raise MetricValueError(
                f"run.log(step={step!r}): the step is an integer, not a bool; give the step "
                "number, as in run.log(step=3, loss=0.5)"
            )
        try:
            step = operator.index(step)  # ints and numpy integers, never a float or text
        except TypeError:
            raise MetricValueError(
                f"run.log(step={_short(step)}): the step is an integer (the series' step column "
                f"is int64), not {_article(type(step).__name__)}; pass int(...) for a whole "
                "number, or log a fractional position (an epoch) as a metric, as in "
                "run.log(step=i, epoch=0.25, loss=0.5)"
            ) from None
    if step not in _INT64:
        raise MetricValueError(
            f"run.log(step={step}): the step must fit the series' int64 step column "
            "(-2**63 to 2**63 - 1)"
        )
    return int(step)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _article(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


class SeriesLog:
    """The rows logged by one run, column by column.

    ``source`` is the value of the run's ``series`` field these rows were read from or last
    written into (by identity): when the field holds anything else, the user set or deleted it
    since, and the field wins over these rows (`runtable.run` then drops or rebuilds the log).
    """

    __slots__ = ("_dirty", "next_step", "source", "steps", "times", "values")

    def __init__(self, existing: Any = None, source: Any = None) -> None:
        self.steps: list[int] = []
        self.times: list[int] = []
        self.values: dict[str, list[float]] = {}
        self.next_step = 0  # the step of a row logged without one: the last row's plus one
        self._dirty = False
        self.source = source
        if existing is not None:
            self._extend(existing)

    def _extend(self, frame: pd.DataFrame) -> None:
        columns = getattr(frame, "columns", None)
        if columns is None:
            raise SeriesFieldError(
                f"field {FIELD!r} holds {_article(type(frame).__name__)}, not a metric series; "
                f"run.log() keeps its series in that field: store that value under another "
                f"name, or delete the field to start a new series"
            )
        missing = {"step", "timestamp"} - set(columns)
        if missing:
            raise SeriesFieldError(
                f"field {FIELD!r} holds a DataFrame without {sorted(missing)}; run.log() keeps "
                f"its series in that field: store that value under another name, or delete "
                f"the field to start a new series"
            )
        self.steps = [int(s) for s in frame["step"]]
        self.times = [int(t) for t in frame["timestamp"].astype("int64")]
        self.next_step = self.steps[-1] + 1 if self.steps else 0
        for name in frame.columns:
            if name not in RESERVED:
                self.values[str(name)] = [float(v) for v in frame[name]]

    def append(self, step: int | None, values: Mapping[str, Any]) -> None:
        """Add one row; ``step`` defaults to the previous step plus one (0 first).

        Raises InvalidNameError for a metric named like a column of the series itself
        (``step``, ``timestamp``), MetricValueError for a value that is not a number a
        float64 holds (text included) and for a step that is not an int64 integer (a float,
        a bool); the series is unchanged then.
        """
        columns = self.values
        if step is None and len(values) == 1 == len(columns):
            # The common case, one float metric logged row after row: three appends.
            ((name, value),) = values.items()
            column = columns.get(name)
            if column is not None and type(value) is float:
                column.append(value)
                self.next_step += 1
                self.steps.append(self.next_step - 1)
                self.times.append(time_ns())
                self._dirty = True
                return
        if not values:
            raise MetricValueError("run.log() needs at least one metric, as in run.log(loss=0.5)")
        # Checked first, all of them: a refused value leaves the series unchanged.
        numbers = [
            (name, value)
            if type(value) is float and name not in RESERVED
            else (name, _number(name, value))
            for name, value in values.items()
        ]
        step = self.next_step if step is None else _step(step)
        steps = self.steps
        n = len(steps)
        for name, number in numbers:
            column = columns.get(name)
            if column is None:
                column = columns[name] = [math.nan] * n
            column.append(number)
        steps.append(step)
        self.next_step = step + 1
        self.times.append(time_ns())
        if len(numbers) != len(columns):
            for column in columns.values():
                if len(column) == n:  # a metric this row did not log
                    column.append(math.nan)
        self._dirty = True

    def frame(self) -> pd.DataFrame:
        """The series as a DataFrame (step, timestamp, one column per metric)."""
        import numpy as np
        import pandas as pd

        columns: dict[str, Any] = {
            "step": np.array(self.steps, dtype=np.int64),
            "timestamp": pd.to_datetime(np.array(self.times, dtype="datetime64[ns]"), utc=True),
        }
        for name, column in self.values.items():
            columns[name] = np.array(column, dtype=np.float64)
        return pd.DataFrame(columns)

    @property
    def dirty(self) -> bool:
        """Whether rows were added since the series was last taken (`take`)."""
        return self._dirty

    def take(self) -> pd.DataFrame:
        """The series as a DataFrame, to be written into the field: it becomes ``source``."""
        frame = self.source = self.frame()
        self._dirty = False
        return frame
