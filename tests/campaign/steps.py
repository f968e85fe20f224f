"""Steps of the campaign tests, importable by loky workers as ``campaign.steps``.

Faults are switched on per run through ``run.vars`` (kept in memory, sent to workers with the
run, never stored): a resumed execution of a loaded experiment has empty vars and so runs the
very same step (same source hash, same config) without the fault.
"""

from __future__ import annotations

import os
import signal
import time

import runtable as rt


class FlakyError(Exception):
    """The step's own exception type: runtable must let it through unchanged."""


def _log(run: rt.Run, what: str) -> None:
    path = run.vars.get("log")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{what} {run.params.i}\n".encode())
        finally:
            os.close(fd)


@rt.step
def measure(run: rt.Run) -> None:
    """Values from ``run.rng`` alone; a fault when the run's vars ask for one."""
    _log(run, "start")
    fault = run.vars.get("fault")
    pause = run.vars.get("sleep")
    if pause:
        time.sleep(pause)
    if fault == "raise":
        raise FlakyError(f"injected failure in run i={run.params.i}")
    if fault == "exit":
        os._exit(1)  # the worker dies: no exception, no cleanup
    if fault == "interrupt":
        raise KeyboardInterrupt
    if fault == "sigint":
        os.kill(os.getpid(), signal.SIGINT)
    run.fields.value = float(run.rng.normal())
    run.fields.square = run.params.i * run.params.i
    run.fields.path = run.rng.random(run.params.get("size", 20))
    _log(run, "end")
