"""Try to write a database as user ``nobody``: ``python as_nobody.py URL SCRATCH_DIR``.

The interpreter is started by root and drops to ``nobody`` after a warm-up, because the
interpreter's own files may be unreadable to ``nobody`` (a Python under /root): the warm-up, in
SCRATCH_DIR, imports everything the attempts need. Then, as ``nobody``, it persists a new
experiment, replaces experiment ``first``, executes it with ``persist=True``, deletes it, and
loads it; it prints one JSON object with the outcome of each.
"""

from __future__ import annotations

import json
import os
import pwd
import sys
from collections.abc import Callable
from typing import Any

import runtable as rt


def values(x: int) -> dict[str, Any]:
    return {"y": x * 2.5, "label": f"x{x}"}


def attempt(action: Callable[[], object]) -> dict[str, Any]:
    try:
        result = action()
    except Exception as e:
        return {"ok": False, "error": type(e).__name__, "message": str(e)}
    return {"ok": True, "result": result}


def main() -> None:
    url, scratch = sys.argv[1], sys.argv[2]
    warm = rt.connect(f"sqlite:///{scratch}/warm.db")
    warm.create_experiment("warm").add_runs(x=range(2)).execute(values).persist()
    warm.load_experiment("warm").execute(values, persist=True)
    warm.ls()
    attempt(lambda: warm.create_experiment("warm").persist())  # the error path's imports
    warm.delete_experiment("warm")
    warm.close()

    user = pwd.getpwnam("nobody")
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)
    session = rt.connect(url)
    outcome = {
        "uid": os.getuid(),
        "persist": attempt(
            lambda: session.create_experiment("second").add_runs(x=range(3)).persist() and None
        ),
        "replace": attempt(
            lambda: (
                session.create_experiment("first").add_runs(x=range(9)).persist("replace") and None
            )
        ),
        "execute": attempt(
            lambda: session.load_experiment("first").execute(values, persist=True) and None
        ),
        "delete": attempt(lambda: session.delete_experiment("first")),
        "load": attempt(lambda: len(session.load_experiment("first").runs)),
    }
    print(json.dumps(outcome))


if __name__ == "__main__":
    main()
