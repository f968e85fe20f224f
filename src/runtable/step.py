"""Steps: plain functions that read a run and write its fields.

``@step`` wraps a function in a `Step`, which still calls like the function (so steps stay
plain callables in tests) and adds what execution needs: a name, the parameters to inject, and a
hash of the source that tells whether a stored run was made by the same code.

A ``functools.partial`` and a callable object have no source of their own: their hash covers
the source of the function (of the object's class) and the values they hold (the bound
arguments, the object's state), by their codec bytes. A value without a stable form (an open
file, a lambda, an object the codec cannot encode) makes the hash new on every use, so
``resume=True`` never skips such a step: it executes again, which is always safe.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from .errors import StepError
from .names import RUN_ARGUMENT

if TYPE_CHECKING:
    from .run import Run

_MISSING = object()
_SOURCES = ("params", "config", "fields", "vars")


@dataclass(frozen=True, slots=True)
class _Parameter:
    name: str
    default: Any


class Step:
    """A function registered as a step.

    Calling a Step calls the function unchanged. `apply` calls it on a run: the parameter
    named ``run`` receives the Run; every other parameter is looked up by name in the run's
    params, config, fields and vars (in that order), falling back to the parameter's default.
    A returned mapping is merged into ``run.fields``; ``None`` changes nothing.
    """

    def __init__(self, func: Callable[..., Any], name: str | None = None) -> None:
        if isinstance(func, Step):
            func = func.func
        if not callable(func):
            raise TypeError(f"a step must be callable, not {type(func).__name__}")
        functools.update_wrapper(self, func)
        self.func: Callable[..., Any] = func
        self.name: str = name or _name_of(func)
        self._parameters = _injected_parameters(func)
        #: the common ``def step(run)``: nothing to look up
        self._run_only = len(self._parameters) == 1 and self._parameters[0].name == RUN_ARGUMENT
        self._source_hash: str | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Step {self.name}>"

    @property
    def source_hash(self) -> str:
        """A short SHA-256 of the step's source code (of its bytecode when no source exists).

        For a ``functools.partial`` or a callable object: of the function's (the class's)
        source and the bound arguments (the object's state), computed once, when first asked
        for. When one of those values has no stable form, a new random hash on every call:
        such a step never matches a stored record, so ``resume=True`` executes it again.
        """
        found = self._source_hash
        if found is None:  # read once: a value without a stable form stays without one
            found = self._source_hash = _identity_hash(self.func) or _UNSTABLE
        return found or os.urandom(8).hex()  # _UNSTABLE is the empty text

    def apply(self, run: Run) -> None:
        """Run the step on ``run``: inject its parameters, merge a returned mapping into fields."""
        if self._run_only:
            result = self.func(run=run)
        else:
            result = self.func(**{p.name: self._resolve(p, run) for p in self._parameters})
        if result is None:
            return
        if not isinstance(result, Mapping):
            raise StepError(
                self.name,
                "<return value>",
                f"returned {_article(type(result).__name__)}; a step returns a mapping of field "
                "names to values (merged into run.fields), or None",
            )
        run.fields.update(result)

    def _resolve(self, parameter: _Parameter, run: Run) -> Any:
        name = parameter.name
        if name == RUN_ARGUMENT:
            return run
        found: list[tuple[str, Any]] = []
        for source, mapping in zip(_SOURCES, run._namespaces(), strict=True):
            if name in mapping:
                found.append((source, mapping[name]))
        if not found:
            if parameter.default is not _MISSING:
                return parameter.default
            raise StepError(
                self.name,
                name,
                f"not found in the params, config, fields or vars of run {run.id}; add it "
                "to the grid, to execute(config=...), set it in an earlier step, or give the "
                "parameter a default",
            )
        value = found[0][1]
        for source, other in found[1:]:
            if not _same_value(value, other):
                raise StepError(
                    self.name,
                    name,
                    f"run {run.id} has different values for it in {found[0][0]} and {source}; "
                    "rename one of them",
                )
        return value

    def __reduce__(self) -> str | tuple[Any, ...]:
        # A decorated module-level function is the Step itself: pickle it by reference, as
        # pickle does for functions. Anything else (a step in __main__, a lambda, a closure)
        # travels by value, which cloudpickle (used by joblib, dask and ray) provides.
        module = getattr(self, "__module__", None)
        qualname = getattr(self, "__qualname__", None)
        if module and qualname and module != "__main__" and _lookup(module, qualname) is self:
            return str(qualname)
        # The hash travels along: a worker cannot read the source of a function that came by
        # value (it would hash the bytecode, and resume=True would never match).
        return (_rebuilt, (self.func, self.name, self.source_hash))


#: `Step.source_hash` of a step holding a value without a stable form (never a real hash).
_UNSTABLE = ""


def _rebuilt(func: Callable[..., Any], name: str, source_hash: str) -> Step:
    """A Step unpickled in a worker, with the hash its parent computed."""
    rebuilt = Step(func, name)
    rebuilt._source_hash = source_hash
    return rebuilt


def _lookup(module: str, qualname: str) -> Any:
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    return obj


@overload
def step(func: Callable[..., Any], /) -> Step: ...
@overload
def step(*, name: str | None = None) -> Callable[[Callable[..., Any]], Step]: ...
def step(
    func: Callable[..., Any] | None = None, /, *, name: str | None = None
) -> Step | Callable[[Callable[..., Any]], Step]:
    """Declare a reusable step: ``@step`` or ``@step(name="...")``."""
    if func is not None:
        return Step(func, name)
    return lambda f: Step(f, name)


def as_step(obj: Step | Callable[..., Any]) -> Step:
    """Return ``obj`` as a Step; plain callables are wrapped."""
    return obj if isinstance(obj, Step) else Step(obj)


def _injected_parameters(func: Callable[..., Any]) -> tuple[_Parameter, ...]:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as e:
        raise TypeError(f"cannot read the signature of step {func!r}: {e}") from e
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    params = []
    for p in signature.parameters.values():
        if p.kind == inspect.Parameter.POSITIONAL_ONLY:
            raise TypeError(
                f"step {getattr(func, '__name__', func)!r}: positional-only parameter "
                f"{p.name!r} cannot be injected by name"
            )
        if p.kind in kinds:
            default = _MISSING if p.default is inspect.Parameter.empty else p.default
            params.append(_Parameter(p.name, default))
    return tuple(params)


def _article(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _plain(value: Any) -> Any:
    np = sys.modules.get("numpy")
    return value.item() if np is not None and isinstance(value, np.generic) else value


def _name_of(func: Any) -> str:
    """A step's default name: the function's; a partial's function's; an object's class's."""
    while isinstance(func, functools.partial | Step):
        func = func.func
    return str(getattr(func, "__name__", None) or type(func).__name__)


def _identity_hash(func: Callable[..., Any]) -> str | None:
    """`_hash_source` for functions and classes (unchanged, so stored records still match);
    for a partial or a callable object the hash of its `_fingerprint`; None when it has no
    stable one."""
    target = inspect.unwrap(func)
    if inspect.isroutine(target) or isinstance(target, type):
        return _hash_source(func)
    found = _fingerprint(target, 0)
    return None if found is None else hashlib.sha256(found).hexdigest()[:16]


_MAX_DEPTH = 50


def _fingerprint(value: Any, depth: int) -> bytes | None:
    """Bytes that are equal for equal steps and step arguments, in every process: the source
    hash of functions and classes, a callable object's class source and state, a plain value's
    codec bytes. None when some part has no stable form (never equal to anything)."""
    if depth > _MAX_DEPTH:
        return None
    depth += 1
    if isinstance(value, Step):
        value = value.func
    if isinstance(value, functools.partial):
        parts = [_fingerprint(value.func, depth), _fingerprint(value.args, depth)]
        parts.append(_fingerprint(value.keywords, depth))
        return _joined(b"p", parts)
    if isinstance(value, tuple | list):
        return _joined(
            b"t" if isinstance(value, tuple) else b"l", [_fingerprint(v, depth) for v in value]
        )
    if type(value) is dict:
        keys = [_plain_bytes(k) for k in value]
        values = [_fingerprint(v, depth) for v in value.values()]
        return _joined(b"d", [b for pair in zip(keys, values, strict=True) for b in pair])
    if inspect.isroutine(value) or isinstance(value, type):
        return b"f" + _hash_source(value).encode()
    plain = _plain_bytes(value)
    if plain is not None or not callable(value):
        return plain
    # A callable object: its class's source and its state.
    cls = type(value)
    try:
        state = value.__getstate__()
    except Exception:
        return None
    return _joined(b"o", [_class_hash(cls).encode(), _fingerprint(state, depth)])


def _plain_bytes(value: Any) -> bytes | None:
    from .codec import digest_bytes  # the bytes of one codec version: stable across versions
    from .seeding import _canonical

    try:
        return b"v" + digest_bytes(_canonical(value))
    except Exception:
        return None


def _joined(tag: bytes, parts: list[bytes | None]) -> bytes | None:
    """``parts`` framed by their lengths after ``tag``; None when one of them is None."""
    out = [tag, len(parts).to_bytes(4, "little")]
    for part in parts:
        if part is None:
            return None
        out += [len(part).to_bytes(8, "little"), part]
    return b"".join(out)


def _class_hash(cls: type) -> str:
    """The hash of a class's source; of its ``__call__`` when the class's source is not found."""
    try:
        return hashlib.sha256(inspect.getsource(cls).encode()).hexdigest()[:16]
    except (OSError, TypeError):
        return _hash_source(cls.__call__)


def _hash_source(func: Callable[..., Any]) -> str:
    target = inspect.unwrap(func)
    try:
        text = inspect.getsource(target).encode()
    except (OSError, TypeError):
        code = getattr(target, "__code__", None)
        text = repr((code.co_code, code.co_consts, code.co_names)).encode() if code else b""
    return hashlib.sha256(text).hexdigest()[:16]


def _same_value(a: Any, b: Any) -> bool:
    if a is b:
        return True
    a, b = _plain(a), _plain(b)
    if type(a) is not type(b):
        return False
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # arrays and frames: compare their exact encodings
        from .codec import encode

        try:
            return encode(a) == encode(b)
        except Exception:
            return False
