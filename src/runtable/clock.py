"""The one clock runtable stamps runs and experiments with: naive UTC datetimes."""

from __future__ import annotations

from datetime import datetime, timedelta
from time import time_ns
from typing import Any

_EPOCH = datetime(1970, 1, 1)


def utcnow() -> datetime:
    """The current UTC time, naive (twice as fast as ``datetime.now(UTC)`` and a tz strip)."""
    return _EPOCH + timedelta(microseconds=time_ns() // 1000)


_second_text: list[Any] = [None, ""]  # the last whole second stamped, and its ISO text


def utcnow_text() -> tuple[datetime, str]:
    """``utcnow()`` and its ``isoformat()`` from one clock read; the text of the second is
    made once per second, so a stamp costs about a third of a call to ``isoformat``."""
    micros = time_ns() // 1000
    now = _EPOCH + timedelta(microseconds=micros)
    second, fraction = divmod(micros, 1_000_000)
    cached = _second_text
    if cached[0] != second:
        cached[1] = now.replace(microsecond=0).isoformat()
        cached[0] = second
    return now, f"{cached[1]}.{fraction:06d}" if fraction else cached[1]
