"""DataFrames from columns of run values, whatever text they hold.

pandas may store text columns as UTF-8 (its pyarrow-backed ``str`` dtype); a ``str`` with a lone
surrogate, which runtable stores exactly, has no UTF-8 form and would make building the frame
fail. Such columns are kept as ``object`` columns instead; every other column is inferred as
pandas does by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["dataframe"]


def dataframe(columns: Mapping[str, Any]) -> pd.DataFrame:
    """``pd.DataFrame(columns)``, with columns of text that UTF-8 cannot encode as object.
    The DataFrame holds copies: a numpy column may be a view of memory its caller changes."""
    import pandas as pd

    try:
        return pd.DataFrame(columns, copy=True)
    except UnicodeEncodeError:  # rare: look for the columns only then
        pass
    return pd.DataFrame(
        {
            name: pd.Series(values, dtype=object) if _unencodable(values) else values
            for name, values in columns.items()
        },
        copy=True,
    )


def _unencodable(values: Any) -> bool:
    """Whether ``values`` hold a ``str`` with no UTF-8 form (a lone surrogate)."""
    for value in values:
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False
