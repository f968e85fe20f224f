"""W4 write on PostgreSQL: the peak memory of storing 10 arrays of 8 MB, runtable against raw
psycopg (one ``executemany`` of each array's bytes), each side in a fresh process.

``python benchmarks/postgres_w4.py`` starts a throwaway server (as the tests do:
``tests/pgserver.py``, which needs the PostgreSQL server binaries) and prints one line per
side: seconds, and the peak RSS during the write above the RSS before it (the arrays exist
before, so 0 MB would be a write that copies nothing).
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
RUNS, MB = 10, 8


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(key)


def _arrays() -> list[Any]:
    import numpy as np

    return [np.random.default_rng(i).random(MB * 2**20 // 8) for i in range(RUNS)]


def write_runtable(url: str, name: str, data: list[Any]) -> None:
    import runtable as rt

    session = rt.connect(url)
    exp = session.create_experiment(name).add_runs(i=range(len(data)))
    for run in exp.runs:
        run.fields.x = data[run.params.i]
    exp.persist()
    session.close()


def write_raw(url: str, name: str, data: list[Any]) -> None:
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        conn.execute(f"CREATE TABLE {name} (id_run BIGINT PRIMARY KEY, x BYTEA)")
        with conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {name} VALUES (%s, %b)",
                [(i, a.tobytes()) for i, a in enumerate(data)],
            )


def side(which: str, url: str) -> None:
    """One side in this (fresh) process: a warm-up write, then the measured one."""
    import numpy  # noqa: F401

    write = write_runtable if which == "runtable" else write_raw
    data = _arrays()
    write(url, f"warm_{which}", data[:1])
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the high-water mark to the current RSS
    base = _status_mb("VmRSS")
    start = time.perf_counter()
    write(url, f"w4_{which}", data)
    seconds = time.perf_counter() - start
    peak = _status_mb("VmHWM") - base
    print(
        json.dumps({"side": which, "seconds": round(seconds, 3), "peak_above_mb": round(peak, 1)})
    )


def main() -> None:
    from pgserver import throwaway_postgres

    with throwaway_postgres() as url:
        print(f"{RUNS} arrays of {MB} MB ({RUNS * MB} MB of data) on a throwaway PostgreSQL")
        for which in ("runtable", "raw"):
            out = subprocess.run(
                [sys.executable, __file__, which, url], capture_output=True, text=True, check=True
            )
            print(out.stdout.strip())


if __name__ == "__main__":
    if len(sys.argv) == 3:
        side(sys.argv[1], sys.argv[2])
    else:
        main()
