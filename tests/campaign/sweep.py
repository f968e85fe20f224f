"""A sweep run as a real process: ``python sweep.py URL NAME A B``.

Loads experiment NAME from URL, or creates it with the grid ``a=range(A), b=range(B)``, and
executes :func:`simulate` on it with ``persist=True``, so that running it again after a crash
resumes the sweep. Prints ``finished`` at the end. Environment variables:

- ``RUNTABLE_SWEEP_SLEEP``: seconds each run sleeps (default 0), to give a test time to act;
- ``RUNTABLE_SWEEP_LOG``: a file to which each run appends ``start <k>`` and ``end <k>``,
  ``k = a * 1000 + b`` (run ids are random per process);
- ``RUNTABLE_SWEEP_READY``: a file created once runtable is imported and connected;
- ``RUNTABLE_SWEEP_JOBS`` and ``RUNTABLE_SWEEP_BACKEND``: joblib's ``n_jobs`` and backend.

The step's values come from ``run.rng`` alone, so every execution of the same grid (killed and
resumed, in any order, on any backend) must give the same results, and they do not depend on
the variables above, which are read from the environment rather than passed as config.
"""

from __future__ import annotations

import os
import sys
import time

import runtable as rt


def log(line: str) -> None:
    path = os.environ.get("RUNTABLE_SWEEP_LOG")
    if path:  # one O_APPEND write per line: lines of concurrent workers never interleave
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{line}\n".encode())
        finally:
            os.close(fd)


@rt.step
def simulate(run: rt.Run) -> None:
    log(f"start {run.params.a * 1000 + run.params.b}")
    pause = float(os.environ.get("RUNTABLE_SWEEP_SLEEP", "0"))
    if pause:
        time.sleep(pause)
    run.fields.value = float(run.rng.normal())
    run.fields.path = run.rng.random(50)
    run.fields.label = f"a{run.params.a}-b{run.params.b}"
    log(f"end {run.params.a * 1000 + run.params.b}")


def main() -> None:
    url, name, a, b = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    session = rt.connect(url)
    session.query("SELECT 1")
    ready = os.environ.get("RUNTABLE_SWEEP_READY")
    if ready:
        open(ready, "w").close()
    try:
        exp = session.load_experiment(name)
    except rt.ExperimentNotFoundError:
        exp = session.create_experiment(name).add_runs(a=range(a), b=range(b))
    n_jobs = int(os.environ.get("RUNTABLE_SWEEP_JOBS", "1"))
    backend = os.environ.get("RUNTABLE_SWEEP_BACKEND") or None
    exp.execute(simulate, persist=True, resume=True, n_jobs=n_jobs, backend=backend)
    print("finished", flush=True)


if __name__ == "__main__":
    main()
