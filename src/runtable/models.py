"""The model store: content-addressed model blobs beside the runs (being written)."""

from __future__ import annotations

from typing import Any


class ModelStore:
    """Placeholder until the model store lands; every method raises NotImplementedError."""

    def __init__(self, store: Any) -> None:
        self._store = store
