"""Storage: the Store contract, the SQL store, column typing and backend dialects."""

from __future__ import annotations

from typing import Any

from .base import Store


def open_store(url: str, **engine_kwargs: Any) -> Store:
    """The Store for a SQLAlchemy URL (the one factory; backends differ by Dialect)."""
    from .sql import SQLStore

    return SQLStore(url, **engine_kwargs)


def hide_password(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    import sqlalchemy as sa

    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):  # not a URL, or a port that is no number
        import re

        return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", str(url))


__all__ = ["Store", "hide_password", "open_store"]
