"""Per-run seeds derived from the experiment's seed and the run's params.

A run's seed depends on what the run is (its params), never on where it is (position, id,
worker), so a grid gives the same random numbers in any order, with any n_jobs and backend, and
again after the experiment is stored and loaded. numpy scalars count as the Python numbers they
equal, since stored params may come back as Python scalars.
"""

from __future__ import annotations

import hashlib
import random
import sys
from _random import Random as _CRandom
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


_seed_random = _CRandom.seed

_REPR_SAFE = frozenset({int, float, str, bool, type(None)})


def params_digest(params: Mapping[str, Any]) -> int:
    """A 128-bit integer that identifies a params mapping, independent of key order.

    Plain scalars (the usual grid values) are hashed through their ``repr``, which is stable
    across processes and Python versions; anything else through the codec's exact encoding.
    """
    if all(type(v) in _REPR_SAFE for v in params.values()):  # the fast, common case
        items = tuple(sorted(params.items()))
        canonical = b"r" + repr(items).encode("utf-8", "surrogatepass")
    else:
        items = tuple(sorted((str(k), _plain(v)) for k, v in params.items()))
        if all(type(v) in _REPR_SAFE for _, v in items):
            canonical = b"r" + repr(items).encode("utf-8", "surrogatepass")
        else:
            canonical = b"c" + _encode_params(items)
    return int.from_bytes(hashlib.sha256(canonical).digest()[:16], "little")


def _encode_params(items: tuple[tuple[str, Any], ...]) -> bytes:
    from .codec import encode
    from .errors import UnsupportedValueError

    try:
        return encode(items)
    except UnsupportedValueError:
        for name, value in items:  # say which param it was
            try:
                encode(value)
            except UnsupportedValueError as inner:
                raise inner.located(run_id=None, field=f"param {name!r}") from None
        raise


def run_seed_sequence(experiment_seed: int, digest: int) -> np.random.SeedSequence:
    """The SeedSequence of a run: entropy from the experiment's seed and its params' digest."""
    import numpy as np

    return np.random.SeedSequence([int(experiment_seed) & (2**64 - 1), digest])


def seed_globals(experiment_seed: int, digest: int) -> None:
    """Seed ``random`` and ``numpy.random``'s global state for one run (process-local)."""
    digest ^= int(experiment_seed) & (2**64 - 1)
    _seed_random(random._inst, digest)  # what random.seed(digest) does, minus a Python layer
    import numpy as np

    np.random.mtrand._rand.seed(digest & 0xFFFFFFFF)


def _plain(value: Any) -> Any:
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.generic):
        return value.item()
    return value
