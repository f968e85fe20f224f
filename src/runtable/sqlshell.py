"""One SQL statement typed by a person (``runtable sql``): read-only unless writes are allowed.

How each backend keeps a read-only statement from changing anything:

- SQLite: ``PRAGMA query_only = ON`` for the statement; the driver runs one statement per call.
- PostgreSQL: a ``READ ONLY`` transaction (and session default, so a ``COMMIT`` inside the text
  cannot leave it), rolled back at the end. With psycopg 3 the statement is also prepared (with
  ``write`` too), so the server refuses a second statement after a ``;``.
- CrateDB has no transactions and no read-only sessions: only statements that begin with
  ``SELECT``, ``WITH``, ``SHOW``, ``EXPLAIN`` or ``VALUES`` run (CrateDB takes one statement per
  request, and those cannot write). For a guarantee, connect as a user with only the ``DQL``
  privilege.

With ``write=True`` the statement runs in a write transaction that commits.
Every ``:`` is taken literally: the text has no bind parameters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import RuntableError, StorageError

if TYPE_CHECKING:
    import pandas as pd
    import sqlalchemy as sa

    from .storage.base import Store

#: First words of the statements CrateDB may run without ``write``.
CRATE_READS = ("select", "with", "show", "explain", "values")
_FIRST_WORD = re.compile(r"\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*\(*\s*([A-Za-z]+)", re.DOTALL)


class ReadOnlyError(StorageError):
    """A statement that would change the database, run without ``write=True``."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(
            f"the statement would change the database, which is opened read-only ({detail}); "
            "allow changes with --write"
        )


@dataclass
class Outcome:
    """What a statement gave: its rows (None for a statement that returns none) and the number
    of rows it changed (None where the driver does not say)."""

    rows: pd.DataFrame | None
    rowcount: int | None


def run_statement(store: Store, sql: str, *, write: bool = False) -> Outcome:
    """Run ``sql`` on ``store``'s database; ReadOnlyError if it writes without ``write``."""
    import sqlalchemy as sa

    engine: sa.Engine | None = getattr(store, "engine", None)
    if engine is None:
        raise RuntableError(f"cannot run SQL on {store!r}: it is not a SQL database")
    backend = engine.dialect.name
    if backend == "crate" and not write:
        word = _first_word(sql)
        if word not in CRATE_READS:
            raise ReadOnlyError(f"CrateDB runs only {', '.join(CRATE_READS)} read-only")
    url = engine.url.render_as_string(hide_password=True)
    try:
        with _connection(engine, store, backend, write) as conn:
            result = conn.execute(sa.text(sql.replace(":", "\\:")))
            # crate-python describes a row count as zero columns, not as no result set
            has_rows = result.returns_rows and len(result.keys()) > 0
            rows = _frame(result) if has_rows else None
            count = None if has_rows or result.rowcount < 0 else result.rowcount
    except sa.exc.SQLAlchemyError as e:
        detail = getattr(e, "orig", None) or e
        if _is_read_only_refusal(e):
            raise ReadOnlyError(str(detail).strip().splitlines()[0]) from e
        one = "; runtable sql runs one statement at a time" if _several(str(detail)) else ""
        raise StorageError(f"could not run the statement in {url}: {detail}{one}") from e
    return Outcome(rows, count)


@contextmanager
def _connection(
    engine: sa.Engine, store: Store, backend: str, write: bool
) -> Iterator[sa.Connection]:
    """A connection inside one transaction: committed when ``write``, else read-only and
    rolled back."""
    dialect = getattr(store, "dialect", None)
    with engine.connect() as conn:
        if write and dialect is not None:
            dialect.begin_write(conn)
        if backend == "postgresql":
            raw: Any = conn.connection.dbapi_connection
            if hasattr(raw, "prepare_threshold"):  # psycopg 3: one statement per call
                raw.prepare_threshold = 0
        transaction = conn.begin()
        try:
            if backend == "sqlite" and not write:
                conn.exec_driver_sql("PRAGMA query_only = ON")
            elif backend == "postgresql" and not write:
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                conn.exec_driver_sql("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            yield conn
            if write:
                transaction.commit()
        finally:
            if transaction.is_active:
                transaction.rollback()
            if backend == "postgresql" or (backend == "sqlite" and not write):
                conn.invalidate()  # its read-only or prepare settings go with it


def _frame(result: sa.CursorResult[Any]) -> pd.DataFrame:
    import pandas as pd

    columns = list(result.keys())
    return pd.DataFrame.from_records(result.all(), columns=columns, coerce_float=True)


def _first_word(sql: str) -> str:
    match = _FIRST_WORD.match(sql)
    return match.group(1).lower() if match else ""


def _several(message: str) -> bool:
    """Whether a driver refused the text for holding more than one statement."""
    return "one statement at a time" in message or "multiple commands" in message


def _is_read_only_refusal(error: BaseException) -> bool:
    orig = getattr(error, "orig", None)
    if getattr(orig, "sqlstate", None) == "25006":  # PostgreSQL: read_only_sql_transaction
        return True
    return "readonly database" in str(orig)  # SQLite: "attempt to write a readonly database"
