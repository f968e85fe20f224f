"""A writer process for the concurrency tests: ``python writer.py URL TAG MODE ROUNDS BARRIER``.

The process connects and warms up (imports, first connection) before it waits at the barrier,
so that two writers start their writes within a millisecond of each other. ``{round}`` in URL
is replaced by the round number (a new database per round). Before round ``k``
it creates ``BARRIER/ready_<TAG>_<k>`` and waits for ``BARRIER/go_<k>``, which the test creates
once every writer is ready. Each outcome is printed as one JSON line: round, experiment, and
``ok`` or the error's class and message.

Modes:

- ``many``: round k persists a new experiment ``<TAG>_<k>`` (10 runs, a float and an array).
- ``fresh``: like ``many``, into the database of round k (``{round}`` in URL), empty until then.
- ``fail``: round k persists experiment ``same_<k>`` with ``if_exists="fail"``.
- ``append``: round k executes experiment ``app_<k>`` (20 runs) with ``persist=True`` and
  ``if_exists="append"``; each run gets field ``y`` and a field named after the writer.
- ``replace``: round k persists experiment ``rep_<k>`` with ``if_exists="replace"``; writer
  ``a`` stores 10 runs, any other 15, every run with ``writer`` = the tag.

Mode ``swap`` has no barrier: it persists experiment ``swap`` with ``if_exists="replace"``
ROUNDS times, alternately 10 and 15 runs whose field ``n`` says how many, then prints
``finished``.

Mode ``grow`` has no barrier: it persists experiment ``grow`` (run x=0 with field ``f0``),
then ROUNDS times appends one run x=k whose only field is a new column ``f<k>`` = k, as fast as
it can, so that the stored column list changes with every commit; then prints ``finished``.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

import runtable as rt

WAIT_SECONDS = 120.0


def wait_for(path: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise SystemExit(f"writer: {path} never appeared")
        time.sleep(0.0005)


def write(session: rt.Session, tag: str, mode: str, k: int) -> str:
    if mode in ("many", "fresh"):
        name = f"{tag}_{k}"
        exp = session.create_experiment(name, writer=tag, round=k).add_runs(x=range(10))
        exp.execute(many_values).persist()
    elif mode == "fail":
        name = f"same_{k}"
        exp = session.create_experiment(name, writer=tag).add_runs(x=range(10))
        exp.execute(many_values).persist(if_exists="fail")
    elif mode == "append":
        name = f"app_{k}"
        exp = session.create_experiment(name).add_runs(x=range(20))
        exp.execute(lambda x: {"y": x * 1.5, tag: k}, persist=True, if_exists="append")
    elif mode == "replace":
        name = f"rep_{k}"
        n = 10 if tag == "a" else 15
        exp = session.create_experiment(name, writer=tag).add_runs(x=range(n))
        exp.execute(lambda x: {"y": x * 1.5, "writer": tag}).persist(if_exists="replace")
    else:
        raise SystemExit(f"writer: unknown mode {mode!r}")
    return name


def many_values(x: int) -> dict[str, object]:
    return {"y": x * 1.5, "path": np.arange(x + 1, dtype=np.float64)}


def grow(url: str, rounds: int) -> None:
    session = rt.connect(url)
    exp = session.create_experiment("grow").add_run(x=0)
    exp.runs.at(0).fields.f0 = 0
    exp.persist()
    for k in range(1, rounds + 1):
        run = exp.add_run(x=k).runs.at(-1)
        run.fields[f"f{k}"] = k
        exp.persist(if_exists="append")
    session.close()
    print("finished", flush=True)


def swap(url: str, rounds: int) -> None:
    session = rt.connect(url)
    for k in range(rounds):
        n = 10 if k % 2 else 15
        exp = session.create_experiment("swap").add_runs(x=range(n))
        exp.execute(lambda x, n=n: {"n": n}).persist(if_exists="replace")
    session.close()
    print("finished", flush=True)


def main() -> None:
    url, tag, mode, rounds, barrier = sys.argv[1:6]
    if mode == "grow":
        grow(url, int(rounds))
        return
    if mode == "swap":
        swap(url, int(rounds))
        return
    for k in range(int(rounds)):
        session = rt.connect(url.replace("{round}", str(k)))
        session.query("SELECT 1")  # warm up: imports and the first connection
        open(os.path.join(barrier, f"ready_{tag}_{k}"), "w").close()
        wait_for(os.path.join(barrier, f"go_{k}"))
        try:
            name = write(session, tag, mode, k)
            outcome = {"round": k, "writer": tag, "ok": True, "name": name}
        except Exception as e:
            outcome = {
                "round": k,
                "writer": tag,
                "ok": False,
                "error": type(e).__name__,
                "message": str(e),
            }
        print(json.dumps(outcome), flush=True)
        session.close()


if __name__ == "__main__":
    main()
