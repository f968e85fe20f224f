"""Per-run seeds derived from the experiment's seed and the run's params.

A run's seed depends on what the run is (its params), never on where it is (position, id,
worker), so a grid gives the same random numbers in any order, with any n_jobs and backend, and
again after the experiment is stored and loaded. numpy scalars count as the Python numbers they
equal, since stored params may come back as Python scalars.
"""

from __future__ import annotations

import functools
import hashlib
import os
import random
import sys
from _random import Random as _CRandom
from collections.abc import Callable, Mapping, Sequence
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
        items = tuple(
            sorted((str(k), _canonical(_stored_param_of(k, v))) for k, v in params.items())
        )
        if all(type(v) in _REPR_SAFE for _, v in items):
            canonical = b"r" + repr(items).encode("utf-8", "surrogatepass")
        else:
            canonical = b"c" + _encode_params(items)
    return int.from_bytes(hashlib.sha256(canonical).digest()[:16], "little")


def digester(columns: Mapping[str, Sequence[Any]]) -> Callable[[int], int]:
    """``digest(i) == params_digest(params of position i)`` for these param columns (a
    frame's), faster where each column holds only plain scalars: the canonical text is then
    made by one format of the values, with the names sorted and checked once."""
    names = sorted(columns)
    plain = [columns[name] for name in names]
    if not all(set(map(type, column)) <= _REPR_SAFE for column in plain):
        from .frame import ABSENT

        def digest_any(i: int) -> int:
            return params_digest({n: c[i] for n, c in columns.items() if c[i] is not ABSENT})

        return digest_any
    if not names:
        constant = params_digest({})
        return lambda i: constant
    # repr(tuple(sorted(params.items()))) with the values still to format; names are str
    pairs = ["(" + repr(name).replace("%", "%%") + ", %r)" for name in names]
    pattern = "r(" + ", ".join(pairs) + ("," if len(pairs) == 1 else "") + ")"
    values = _values_at(plain)
    sha256 = hashlib.sha256
    from_bytes = int.from_bytes

    def digest_plain(i: int) -> int:
        text = (pattern % values(i)).encode("utf-8", "surrogatepass")
        return from_bytes(sha256(text).digest()[:16], "little")

    return digest_plain


def _values_at(columns: list[Sequence[Any]]) -> Callable[[int], tuple[Any, ...]]:
    """``i -> tuple(column[i] for column in columns)``, spelled out for up to three columns
    (a list comprehension costs four times as much)."""
    if len(columns) == 1:
        (a,) = columns
        return lambda i: (a[i],)
    if len(columns) == 2:
        a, b = columns
        return lambda i: (a[i], b[i])
    if len(columns) == 3:
        a, b, c = columns
        return lambda i: (a[i], b[i], c[i])
    return lambda i: tuple([column[i] for column in columns])


def _stored_param_of(name: str, value: Any) -> Any:
    from .errors import UnsupportedValueError

    try:
        return stored_param(_plain(value))
    except UnsupportedValueError as e:
        raise e.located(run_id=None, field=f"param {name!r}") from None


def config_digest(config: Mapping[str, Any]) -> str:
    """A short hex digest of a config, the same in every process for equal stored configs
    (sets ordered canonically), and the same as runtable 0.1 recorded for configs without
    sets, so its databases resume; a config the codec cannot store never matches."""
    try:
        from .codec import digest_bytes  # not encode: the bytes of one codec version

        data = digest_bytes(tuple(sorted((k, _canonical(v)) for k, v in config.items())))
    except Exception:  # not storable (or keys that do not sort): never equal to another
        data = os.urandom(16)
    return hashlib.sha256(data).hexdigest()[:16]


def stored_param(value: Any) -> Any:
    """What a param is stored (and identified) as: the value itself, except for classes,
    functions and ``functools.partial`` objects (model constructors in a grid), which are
    stored as readable text: the qualified name, a partial with its arguments. A lambda has
    no name that tells two apart: UnsupportedValueError."""
    if isinstance(value, type) or (callable(value) and not _codec_native(value)):
        text = callable_text(value)
        if "<lambda>" in text:
            from .errors import UnsupportedValueError

            raise UnsupportedValueError(
                type(value),
                fix="a lambda has no name that identifies it as a grid point (two lambdas "
                "would be one point); define it with def, or use functools.partial",
            )
        return text
    return value


def callable_text(value: Any) -> str:
    """``module.QualName`` of a class or function; ``partial(module.f, 1, k=2)`` of a
    partial (arguments by their repr)."""
    if isinstance(value, functools.partial):
        args = [callable_text(value.func), *map(_arg_text, value.args)]
        args += [f"{k}={_arg_text(v)}" for k, v in value.keywords.items()]
        return f"partial({', '.join(args)})"
    module = getattr(value, "__module__", None) or ""
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    if name is None:
        name = type(value).__qualname__
        module = type(value).__module__
    return f"{module}.{name}" if module and module != "builtins" else str(name)


def _arg_text(value: Any) -> str:
    return callable_text(value) if callable(value) else repr(value)


def _codec_native(value: Any) -> bool:
    """Callable values the codec stores as what they are (numpy ufuncs are not among them;
    a pandas or numpy object that happens to be callable is)."""
    module = type(value).__module__ or ""
    return module.startswith(("numpy", "pandas")) and not isinstance(value, _UFUNC_TYPES())


def _UFUNC_TYPES() -> tuple[type, ...]:
    np = sys.modules.get("numpy")
    return (np.ufunc,) if np is not None else ()


def _canonical(value: Any) -> Any:
    """`_canonical_sets`, or ``value`` as it is when it is nested too deep to walk (the codec
    then refuses it with its own clear error)."""
    try:
        return _canonical_sets(value)
    except RecursionError:
        return value


def _canonical_sets(value: Any) -> Any:
    """``value`` with every set replaced by a tuple in a fixed order (by the elements' codec
    bytes), so that equal values give equal bytes whatever their sets' iteration order."""
    t = type(value)
    if t in (set, frozenset):
        from .codec import digest_bytes

        items = sorted((_canonical_sets(v) for v in value), key=digest_bytes)
        return ("\x00" + t.__name__, tuple(items))
    if t is tuple or t is list:
        return t(_canonical_sets(v) for v in value)
    if t is dict:
        return {k: _canonical_sets(v) for k, v in value.items()}
    return value


def _encode_params(items: tuple[tuple[str, Any], ...]) -> bytes:
    from .codec import digest_bytes, encode
    from .errors import UnsupportedValueError

    try:
        return digest_bytes(items)  # the bytes of one codec version: digests must not change
    except UnsupportedValueError:
        for name, value in items:  # say which param it was
            try:
                encode(value)
            except UnsupportedValueError as inner:
                raise inner.located(run_id=None, field=f"param {name!r}") from None
        raise


_SEED_RANGE = 2**64


def seed_entropy(experiment_seed: int) -> int:
    """The non-negative integer an experiment's seed enters the streams as, one-to-one: a seed
    in [0, 2**64) as itself (the streams runtable always gave), any other past 2**64 (a seed
    ``s`` above at ``2 * s - 2**64``, a negative one at ``2**64 - 2 * s - 1``), so that seeds
    such as 5 and 2**64 + 5, or -1 and 2**64 - 1, give different numbers."""
    seed = int(experiment_seed)
    if 0 <= seed < _SEED_RANGE:
        return seed
    return 2 * seed - _SEED_RANGE if seed > 0 else _SEED_RANGE - 2 * seed - 1


def run_seed_sequence(experiment_seed: int, digest: int) -> np.random.SeedSequence:
    """The SeedSequence of a run: entropy from the experiment's seed and its params' digest."""
    import numpy as np

    return np.random.SeedSequence([seed_entropy(experiment_seed), digest])


def global_seeder(experiment_seed: int) -> Callable[[int], None]:
    """A call per run taking its params' digest that seeds ``random`` and ``numpy.random``'s
    global state for that run (process-local), with the lookups made once: what
    ``random.seed`` and ``numpy.random.seed`` (bound to their global
    instances at import) would do. About 7.5 µs a run, nearly all of it the two generators'
    own seeding (Mersenne Twister state initialisation), which no shortcut may change.

    numpy's legacy state takes the low 32 bits for a seed in [0, 2**64) (as it always did);
    for a seed outside it, every bit (as an array of 32-bit words)."""
    mixed = seed_entropy(experiment_seed)
    instance = random._inst
    import numpy as np

    seed_numpy = np.random.mtrand._rand.seed

    if mixed < _SEED_RANGE:

        def seed(digest: int) -> None:
            digest ^= mixed
            _seed_random(instance, digest)  # what random.seed(digest) does, minus a Python layer
            seed_numpy(digest & 0xFFFFFFFF)

        return seed

    def seed_wide(digest: int) -> None:
        digest ^= mixed
        _seed_random(instance, digest)
        seed_numpy(_words(digest))

    return seed_wide


def _words(value: int) -> list[int]:
    """A non-negative int as its 32-bit words, least significant first."""
    words = []
    while True:
        words.append(value & 0xFFFFFFFF)
        value >>= 32
        if not value:
            return words


def _plain(value: Any) -> Any:
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.generic):
        return value.item()
    return value
