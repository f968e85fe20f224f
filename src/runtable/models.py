"""The model store's public names: `ModelStore` (reached as ``session.models``) and its errors.

The model store lives in `runtable.storage.models`; its errors are in `runtable.errors` and
exported from `runtable`. This module keeps ``runtable.models.ModelStore`` and the error names of
runtable 0.1 importable.
"""

from __future__ import annotations

from .errors import CorruptModelError, InvalidRunIdError, ModelNotFoundError
from .storage.models import ModelStore

__all__ = ["CorruptModelError", "InvalidRunIdError", "ModelNotFoundError", "ModelStore"]
