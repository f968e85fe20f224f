"""The front door: ``connect(url)`` gives a Session that creates, loads, lists and deletes
experiments and runs SQL on the database behind them."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .experiment import Experiment
from .names import check_experiment_name
from .run import flush_series
from .storage.base import StaleRunsError

if TYPE_CHECKING:
    from datetime import datetime

    import pandas as pd

    from .storage.base import ExperimentData, IfExists, Store
    from .storage.models import ModelStore

#: Environment variable with the database URL used when ``connect()`` is given none.
URL_ENV = "RUNTABLE_URL"
DEFAULT_DATABASE = "runtable.db"


def default_url() -> str:
    """``$RUNTABLE_URL``, else a SQLite file ``runtable.db`` in the current directory."""
    url = os.environ.get(URL_ENV)
    if url:
        return url
    return "sqlite:///" + os.path.abspath(DEFAULT_DATABASE)


class Session:
    """A connection to one database of experiments.

    The database is first contacted when something is read or written, not when the session
    is made. ``repr`` hides any password in the URL.
    """

    def __init__(self, url: str | None = None, **engine_kwargs: Any) -> None:
        self._url = url or default_url()
        self._engine_kwargs = engine_kwargs
        self._store: Store | None = None
        self._models: ModelStore | None = None

    @property
    def store(self) -> Store:
        """The storage backend (created on first use)."""
        if self._store is None:
            from .storage import open_store

            self._store = open_store(self._url, **self._engine_kwargs)
        return self._store

    @property
    def models(self) -> ModelStore:
        """The model store of this database (see `runtable.models`)."""
        if self._models is None:
            from .storage.models import ModelStore

            self._models = ModelStore(self.store)
        return self._models

    @property
    def url(self) -> str:
        """The database URL with any password hidden."""
        if self._store is not None:
            return self._store.url
        from .storage import hide_password

        return hide_password(self._url)

    def create_experiment(self, name: str, **fields: Any) -> Experiment:
        """A new experiment with these experiment-level fields, in memory until persisted."""
        return Experiment(name, session=self, fields=fields)

    def load_experiment(
        self,
        name: str | None = None,
        *,
        id: str | None = None,
        unpickle: bool = False,
        where: str | None = None,
        columns: Sequence[str] | None = None,
        writable: bool = False,
    ) -> Experiment:
        """Load a stored experiment: its fields, config, seed and every run.

        Arrays (and the pandas objects built on them) come back read-only, as views of the
        bytes read, without a copy; changing one in place raises numpy's "assignment
        destination is read-only": use ``a.copy()``, or load with ``writable=True`` to get
        writable copies.

        Steps are code and are not stored: pass them to ``execute()`` again. With
        ``unpickle=True`` the experiment's stored pickle is unpickled instead (only do this for
        databases you trust: unpickling runs code); it must have been persisted with
        ``store_pickle=True``.

        ``id`` loads by the experiment's id (``exp.id``, the ``id`` column of ``ls()``) instead
        of its name.

        ``where`` (a SQL condition on the run table, e.g.
        ``"n > 100 AND runtable_status = 'done'"``)
        and ``columns`` (the fields to load; params are always loaded) load a slice: only
        those runs and values are read. A slice can be executed and viewed but not persisted.
        """
        name = self._name_of(name, id)
        sliced = where is not None or columns is not None
        if unpickle and sliced:
            raise ValueError("unpickle=True loads the whole pickled experiment: drop where/columns")
        stored = self.store.load(
            name, with_pickle=unpickle, where=where, columns=columns, writable=writable
        )
        if not unpickle:
            _warn_only_in_pickle(name, stored.meta.get("only_in_pickle"))
            experiment = Experiment._from_stored(stored, self)
            if sliced:
                experiment._slice = f"where={where!r}, columns={columns!r}"
            return experiment
        if stored.pickle is None:
            from .errors import RuntableError

            raise RuntableError(
                f"experiment {name!r} has no stored pickle; persist it with store_pickle=True, "
                "or load it without unpickle=True"
            )
        import cloudpickle

        experiment = cloudpickle.loads(stored.pickle)
        if not isinstance(experiment, Experiment):
            from .errors import CorruptValueError

            raise CorruptValueError(name, None, "pickle", f"holds a {type(experiment)}")
        experiment._session = self
        # Pickled before it was stored: it is the stored version now, as a load would say.
        experiment.id = stored.id
        experiment.created_at = stored.created_at
        experiment.updated_at = stored.updated_at
        experiment._stored_in = self
        return experiment

    def _name_of(self, name: str | None, experiment_id: str | None) -> str:
        if experiment_id is None:
            return check_experiment_name(name)  # InvalidNameError for None too
        if name is not None:
            raise ValueError("give load_experiment the experiment's name or its id, not both")
        listed = self.ls()
        found = listed.loc[listed["id"] == experiment_id, "name"]
        if found.empty:
            from .errors import ExperimentNotFoundError

            raise ExperimentNotFoundError(f"<id {experiment_id}>", self.url)
        return str(found.iloc[0])

    def ls(self) -> pd.DataFrame:
        """One row per stored experiment: name, id, table, created/updated, n_runs, ..."""
        import pandas as pd

        columns = ["name", "id", "table_name", "created_at", "updated_at", "n_runs", "n_fields"]
        rows = self.store.list()
        extra = ["seed", "runtable"]
        return pd.DataFrame(rows, columns=[*columns, *extra])

    def delete_experiment(self, name: str, *, missing_ok: bool = False) -> None:
        """Delete a stored experiment and its run table."""
        check_experiment_name(name)
        if not self.store.delete(name) and not missing_ok:
            from .errors import ExperimentNotFoundError

            raise ExperimentNotFoundError(name, self.url)

    def query(
        self, sql: str, params: Mapping[str, Any] | None = None, *, decode: bool = False
    ) -> pd.DataFrame:
        """Run SQL (with ``:name`` placeholders filled from ``params``) and return a DataFrame.

        ``decode=True`` turns cells holding runtable's codec bytes (arrays, the experiments'
        ``fields`` and ``config``, the ``runtable_exact`` maps) into Python values; it never
        runs code from the data.
        """
        frame = self.store.query(sql, params)
        if decode:
            from .decoding import decode_frame

            frame = decode_frame(frame)
        return frame

    def _persist(self, experiment: Experiment, *, if_exists: IfExists, store_pickle: bool) -> None:
        pickle = None
        if store_pickle:
            import cloudpickle

            pickle = cloudpickle.dumps(experiment)
        frame = experiment.runs.frame
        flush_series(frame)
        data = experiment._stored_data(pickle)
        runs = frame
        if if_exists == "append" and experiment._stored_in is self and experiment.id is not None:
            data.version = experiment.id  # another version stored since is refused
            changed = frame.changed_positions()  # the others are stored as they are
            if len(changed) < len(frame):
                data.changed_since = experiment.id
                runs = frame.take(changed)
        try:
            experiment.id = self.store.save(data, runs, if_exists=if_exists)
        except StaleRunsError:  # stored by someone else meanwhile: give every run
            data.changed_since = None
            experiment.id = self.store.save(data, frame, if_exists=if_exists)
        frame.mark_stored()
        experiment._stored_in = self

    def _save_runs(
        self, experiment: Experiment, positions: list[int], data: ExperimentData | None = None
    ) -> datetime | None:
        """Write the runs at ``positions`` of the experiment (a batch costs its own size);
        ``data``: the experiment's own values when the caller keeps them across batches."""
        frame = experiment.runs.frame
        flush_series(frame, positions)
        if data is None:
            data = experiment._stored_data()
        if experiment._stored_in is self and experiment.id is not None:
            data.version = experiment.id  # another version stored since is refused
        written = self.store.save_runs(data, frame.take(positions))
        if experiment._stored_in is self:
            frame.mark_stored(positions)
        return written

    def close(self) -> None:
        """Release the database connections."""
        if self._store is not None:
            self._store.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce__(self) -> tuple[Any, ...]:
        """A session travels (to joblib's process workers, say) as its URL and engine options
        and connects again where it lands; an in-memory SQLite database is not shared."""
        return (_reconnect, (self._url, self._engine_kwargs))

    def _repr_html_(self) -> str:
        from .views import session_html

        return session_html(self)

    def __repr__(self) -> str:
        return f"<Session {self.url}>"


def _warn_only_in_pickle(name: str, skipped: Any) -> None:
    """A plain load leaves out what only the pickle holds: say which values those are."""
    if not skipped or not isinstance(skipped, list):
        return
    import warnings

    places = sorted(
        {
            str(item.get("field")) if item.get("run") is None else f"{item.get('field')!r}"
            for item in skipped
            if isinstance(item, dict)
        }
    )
    warnings.warn(
        f"experiment {name!r} keeps some values only in its pickle, which a plain load leaves "
        f"out: {', '.join(places)}; load_experiment({name!r}, unpickle=True) brings them "
        "back (it runs the pickle's code: only for databases you trust)",
        UserWarning,
        stacklevel=3,
    )


def _reconnect(url: str, engine_kwargs: dict[str, Any]) -> Session:
    return Session(url, **engine_kwargs)


def connect(url: str | None = None, **engine_kwargs: Any) -> Session:
    """Open a Session on a SQLAlchemy URL.

    ``url=None`` reads ``$RUNTABLE_URL``, else uses ``sqlite:///runtable.db`` in the current
    directory. Keyword arguments go to ``sqlalchemy.create_engine``.
    """
    return Session(url, **engine_kwargs)


def create_experiment(name: str, url: str | None = None, **fields: Any) -> Experiment:
    """Shortcut for ``connect(url).create_experiment(name, **fields)``."""
    return connect(url).create_experiment(name, **fields)
