"""The one family of exceptions runtable raises.

Every error says what went wrong, which thing it concerns and, where there is one, how to fix it.
Errors that stand for a kind of Python error also derive from it (an invalid name is a
``ValueError``, a missing experiment a ``LookupError``), so generic handlers keep working.
Driver errors are wrapped with ``raise ... from`` so the original stays in the chain.
"""

from __future__ import annotations

from typing import Any


class RuntableError(Exception):
    """Base class of every error raised by runtable itself."""


class InvalidNameError(RuntableError, ValueError):
    """An experiment, param or field name that cannot become a SQL table or column name."""

    def __init__(self, kind: str, name: object, reason: str) -> None:
        self.kind = kind
        self.name = name
        self.reason = reason
        super().__init__(f"invalid {kind} name {name!r}: {reason}")


class UnsupportedValueError(RuntableError, TypeError):
    """A value the safe codec cannot store.

    ``run_id`` and ``field`` say where the value was found, when it belongs to a run.
    """

    def __init__(
        self,
        value_type: type,
        *,
        path: str = "",
        run_id: int | None = None,
        field: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.value_type = value_type
        self.path = path
        self.run_id = run_id
        self.field = field
        self.fix = fix
        super().__init__(self._message())

    def located(
        self, *, run_id: int | None, field: str, fix: str | None = None
    ) -> UnsupportedValueError:
        """Return a copy of this error that names the run and field where the value was (and,
        when given, the fix that fits the call that met it)."""
        return UnsupportedValueError(
            self.value_type, path=self.path, run_id=run_id, field=field, fix=fix or self.fix
        )

    def _message(self) -> str:
        name = f"{self.value_type.__module__}.{self.value_type.__qualname__}"
        where = []
        if self.run_id is not None:
            where.append(f"run {self.run_id}")
        if self.field is not None:
            labelled = self.field.startswith(("param ", "experiment "))
            where.append(self.field if labelled else f"field {self.field!r}")
        place = f" in {', '.join(where)}" if where else ""
        inner = f" at {self.path}" if self.path else ""
        if self.fix is not None:
            return f"cannot store a value of type {name}{place}{inner}: {self.fix}"
        if self.field is not None and self.field.startswith("param "):
            return (
                f"cannot store a value of type {name}{place}{inner}: params are stored as SQL "
                "columns and identify their run, so they must be numbers, str, bytes, dates or "
                "other values the safe codec supports; pass a name or a number instead"
            )
        return (
            f"cannot store a value of type {name}{place}{inner}: the safe codec does not "
            "support it. Convert it to a supported type (numbers, str, bytes, lists, dicts, "
            "numpy arrays, pandas objects, ...), keep it in run.vars (never stored), or persist "
            "with store_pickle=True to keep it in the experiment's pickle"
        )


class CodecError(RuntableError, ValueError):
    """Stored bytes that cannot be decoded: corrupted, truncated or from a newer codec."""


class CorruptValueError(CodecError):
    """A stored value of a known run and field that cannot be decoded."""

    def __init__(self, experiment: str, run_id: int | None, field: str, reason: str) -> None:
        self.experiment = experiment
        self.run_id = run_id
        self.field = field
        self.reason = reason
        where = f"run {run_id}" if run_id is not None else "experiment fields"
        super().__init__(
            f"experiment {experiment!r}, {where}, field {field!r}: stored value cannot be "
            f"decoded ({reason})"
        )


class CorruptModelError(CodecError):
    """A stored model whose bytes are missing or do not match its digest (never unpickled)."""

    def __init__(self, digest: str, reason: str) -> None:
        self.digest = digest
        self.reason = reason
        super().__init__(f"model {digest}: {reason}")


class ExperimentExistsError(RuntableError):
    """``persist(if_exists="fail")`` found an experiment of that name already stored."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"experiment {name!r} is already stored; use persist(if_exists='replace') to "
            "overwrite it or if_exists='append' to add new runs to it"
        )


class ExperimentNotFoundError(RuntableError, LookupError):
    """No experiment of that name is stored."""

    def __init__(self, name: str, url: str = "") -> None:
        self.name = name
        where = f" in {url}" if url else ""
        super().__init__(
            f"no experiment named {name!r} is stored{where}; session.ls() lists what is there"
        )


class ModelNotFoundError(RuntableError, LookupError):
    """No model with that digest is stored."""

    def __init__(self, digest: str, url: str) -> None:
        self.digest = digest
        super().__init__(f"no model {digest} is stored in {url}; session.models.ls() lists them")


class InvalidRunIdError(RuntableError, ValueError):
    """A run id given to ``session.models.put`` that no run table can hold (outside 64 bits)."""


class StepError(RuntableError, TypeError):
    """A step that cannot be called on a run: a parameter that resolves nowhere or twice."""

    def __init__(self, step: str, parameter: str, reason: str) -> None:
        self.step = step
        self.parameter = parameter
        self.reason = reason
        super().__init__(f"step {step!r}, parameter {parameter!r}: {reason}")


class InputChangedError(RuntableError, TypeError):
    """A step changed a param of its run or a config value in place: they are read-only (the
    value is put back, and the run fails)."""


class ConflictError(RuntableError):
    """Two writers disagree about an experiment (e.g. different runs under one run id)."""


class StorageError(RuntableError):
    """The database refused an operation; the driver's error is the ``__cause__``."""


class SchemaError(RuntableError):
    """Stored tables that do not look like runtable's (wrong or newer schema)."""


def describe(value: Any) -> str:
    """A short description of a value's type for error messages."""
    t = type(value)
    return f"{t.__module__}.{t.__qualname__}"
