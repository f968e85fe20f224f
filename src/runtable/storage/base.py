"""The storage contract: what every backend guarantees, and the plain data it exchanges.

Storage never sees Experiment or Run objects: it takes `ExperimentData` and the runs as columns
(`runtable.frame.RunFrame`), and returns `StoredExperiment`, whose runs are a RunFrame too. Only
the session and the experiment join storage and execution.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from ..errors import StorageError
from ..frame import RunFrame

if TYPE_CHECKING:
    import pandas as pd

IfExists = Literal["fail", "replace", "append"]
IF_EXISTS: tuple[IfExists, ...] = ("fail", "replace", "append")


@dataclass(slots=True)
class ExperimentData:
    """An experiment's own values, as persist hands them to storage."""

    name: str
    fields: Mapping[str, Any]
    config: Mapping[str, Any]
    seed: int
    meta: dict[str, Any]
    pickle: bytes | None = None
    #: ``fields`` and ``config`` as codec bytes, once a store has encoded them: an incremental
    #: persist hands the same ExperimentData with every batch, and they are encoded once.
    encoded: dict[str, bytes] = field(default_factory=dict)
    #: With "append": the runs given are only those changed since they were stored in the
    #: stored version of this id (the others are stored as they are; a column that widens
    #: keeps their values exact). When that version is no longer the stored one, the store
    #: writes nothing and raises StaleRunsError.
    changed_since: str | None = None
    #: With "append" (and `Store.save_runs`): the stored version these runs were loaded from
    #: or stored in, when known. Another version stored under the name (a replace since) is
    #: refused with ConflictError: the runs would mix with its runs.
    version: str | None = None
    #: With `Store.save_runs`: when this writer last wrote the experiment (the ``updated_at``
    #: that write stored, as ``save_runs`` returned it), for runs this writer stored before
    #: (every run of ``runs``, with every column stored). When the stored row still says so,
    #: nobody else wrote since, and the store may skip reading those runs back.
    written_at: datetime | None = None


class StaleRunsError(StorageError):
    """An append of changed runs only (``ExperimentData.changed_since``) found another stored
    version, or none."""


@dataclass(slots=True)
class StoredExperiment:
    """An experiment as read from storage."""

    id: str
    name: str
    created_at: datetime
    updated_at: datetime
    seed: int
    fields: dict[str, Any]
    config: dict[str, Any]
    meta: dict[str, Any]
    runs: RunFrame
    pickle: bytes | None = None


class Store(ABC):
    """Where experiments live.

    Guarantees every backend gives:

    - ``save`` is all-or-nothing: when it raises, what was stored before is unchanged (no orphan
      experiment row, no half-written run table; under "replace" the previous version intact).
    - After ``save`` returns, ``load``, ``list`` and ``query`` (from any connection) see it.
    - Experiment names are unique, enforced by the database, not by a check-then-write.
    - Loading never executes stored code: a stored pickle is returned as bytes, only on request.
    """

    url: str  #: the database URL with any password hidden

    @abstractmethod
    def save(self, experiment: ExperimentData, runs: RunFrame, *, if_exists: IfExists) -> str:
        """Store an experiment and its runs; return the stored experiment's id.

        ``if_exists``: "fail" raises ExperimentExistsError when the name is stored; "replace"
        swaps the stored version for this one; "append" writes the runs into the stored version
        as `save_runs` does (new runs added, stored runs of the same ids updated, columns added
        as needed) and updates the experiment's own fields and metadata.
        Raises UnsupportedValueError (naming run and field) before writing anything when a value
        cannot be stored, StorageError when the database refuses.
        """

    @abstractmethod
    def save_runs(self, experiment: ExperimentData, runs: RunFrame) -> datetime | None:
        """Write runs into a stored experiment as they finish (incremental persistence), and
        return the ``updated_at`` written (see ``ExperimentData.written_at``), when known.

        A stored run with the same id is updated: its bookkeeping and the params and fields
        these runs carry are written, its other columns are kept; it must be the same grid
        point (same params), else ConflictError. New runs are inserted and columns added (or
        widened) as needed; a new grid point (``grid_point``) whose params are already stored
        under another id is refused with ConflictError. A param or field column whose values
        are all ``ABSENT`` in ``runs`` is written only if it is stored (a deleted value is
        stored as NULL). The experiment's row (run count, fields,
        config, metadata) is updated with them. As atomic as ``save``.
        ExperimentNotFoundError when the experiment is not stored; SchemaError when it was
        stored in a format this version reads but does not write into.
        """

    @abstractmethod
    def check_writable(self, name: str) -> None:
        """Raise SchemaError when the stored experiment ``name`` is in a storage format this
        version reads but does not write into (and say how to upgrade it); nothing when it is
        writable or not stored."""

    @abstractmethod
    def load(
        self,
        name: str,
        *,
        with_pickle: bool = False,
        where: str | None = None,
        columns: Sequence[str] | None = None,
        writable: bool = False,
    ) -> StoredExperiment:
        """Read an experiment; ExperimentNotFoundError when there is none of that name.

        ``where``: a SQL condition on the run table selecting the runs to read; ``columns``:
        the fields to read (params are always read). Both read only what is asked for.
        Arrays are read-only views of the bytes read unless ``writable``.
        """

    @abstractmethod
    def exists(self, name: str) -> bool:
        """Whether an experiment of that name is stored."""

    @abstractmethod
    def list(self) -> list[dict[str, Any]]:
        """One dict per stored experiment: name, id, table, timestamps, n_runs, ..."""

    @abstractmethod
    def delete(self, name: str) -> bool:
        """Remove an experiment and its runs; False when there was none of that name."""

    @abstractmethod
    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run a SQL query and return its rows as a DataFrame."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
