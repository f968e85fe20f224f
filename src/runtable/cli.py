"""The ``runtable`` command: ``ls``, ``show NAME``, ``export NAME FILE``, ``report NAME``,
``rm NAME``, ``models ls``, ``sql "SELECT ..."`` and ``version``.

Exit status: 0 on success, 1 when runtable or the database refused (the message says why and
what to do), 2 for a bad command line, 130 when interrupted. Errors are worded for the shell:
they name options and commands, not Python calls. Values are written by `runtable.export`.

pandas and SQLAlchemy are imported only by the commands that need them, so the CLI starts fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import runtable
from runtable.errors import ExperimentNotFoundError, InvalidNameError, RuntableError, StorageError
from runtable.names import ERROR_COLUMN, META_COLUMNS, STATUS_COLUMN, table_name
from runtable.summary import headline, summarise
from runtable.terminal import render_table, vertical

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]

FORMATS = ("table", "csv", "json", "jsonl", "markdown")
EXPORT_FORMATS = ("csv", "json", "jsonl", "parquet")
LS_ORDER = ("name", "n_runs", "n_fields", "created_at", "updated_at", "seed", "id", "table_name")


class UsageError(Exception):
    """A bad argument found after parsing (unknown column, bad --where): exit status 2."""


def emit(df: pd.DataFrame, fmt: str) -> None:
    """Print ``df`` to stdout as a table fitted to the terminal, or in a `runtable.export`
    format (csv, json, jsonl, markdown)."""
    from runtable.export import write

    if fmt == "table":
        print(render_table(df, shutil.get_terminal_size().columns))
        return
    if fmt in ("json", "jsonl") and not df.columns.is_unique:
        raise UsageError("JSON records need distinct column names: rename columns with AS")
    write(df, fmt, sys.stdout)


def sqlite_path(url: str | None) -> str | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url or runtable.session.default_url())
    except ArgumentError as e:  # Session lets this through unwrapped
        raise RuntableError(f"invalid database URL: {e}") from e
    path = parsed.database or ""
    local = path and path != ":memory:" and not path.startswith("file:")
    return path if parsed.get_backend_name() == "sqlite" and local else None


def check_database(url: str | None) -> None:
    """Refuse a SQLite file that does not exist (connecting would create an empty one)."""
    path = sqlite_path(url)
    if path is not None and not os.path.exists(path):
        raise RuntableError(f"no database file {os.path.abspath(path)!r}; check --url")


def check_target(path: str, url: str | None, what: str) -> None:
    """Refuse to write ``what`` over the database file itself."""
    database = sqlite_path(url)
    exists = database and os.path.exists(path) and os.path.exists(database)
    if exists and os.path.samefile(path, database or ""):
        raise RuntableError(
            f"refusing to write the {what} to {path!r}: that is the database it is read "
            "from; choose another file name"
        )


def cmd_ls(session: runtable.Session, args: argparse.Namespace) -> None:
    """Print the stored experiments."""
    df = session.ls()
    first = [c for c in LS_ORDER if c in df.columns]
    emit(df[first + [c for c in df.columns if c not in first]], args.format)


def load(
    session: runtable.Session,
    name: str,
    *,
    where: str | None = None,
    columns: Sequence[str] | None = None,
) -> runtable.Experiment:
    """``session.load_experiment`` with a SQL error in ``where`` reported as a usage error."""
    try:
        return session.load_experiment(name, where=where, columns=columns)
    except StorageError as e:
        if where is None:
            raise
        detail = str(getattr(e.__cause__, "orig", None) or e).strip().splitlines()
        raise UsageError(f"--where {where!r}: the database refused it: {detail[0]}") from e


def known_columns(session: runtable.Session, name: str, meta: bool) -> tuple[list[str], set[str]]:
    """The columns ``show`` can print for experiment ``name`` and, of those, the ones that are
    not fields (id_run, params and, with ``meta``, the bookkeeping columns). Reads no runs."""
    every = [str(c) for c in load(session, name, where="1 = 0").runs.df(meta=meta).columns]
    others = {str(c) for c in load(session, name, where="1 = 0", columns=[]).runs.df(meta=meta)}
    return every, others


def status_counts(session: runtable.Session, name: str) -> str:
    """``6 runs (5 done, 1 failed)`` for the whole stored experiment, counted by SQL."""
    table = table_name(name)
    sql = f"SELECT {STATUS_COLUMN} AS s, COUNT(*) AS k FROM {table} GROUP BY {STATUS_COLUMN}"
    counts = {str(s): int(k) for s, k in session.query(sql).itertuples(index=False, name=None)}
    total = sum(counts.values())
    order = sorted(counts, key=lambda s: (s != "done", s != "failed", s))
    parts = ", ".join(f"{counts[s]} {s}" for s in order)
    return f"{total} run{'' if total == 1 else 's'}" + (f" ({parts})" if parts else "")


def sort_runs(df: pd.DataFrame, spec: str) -> pd.DataFrame:
    """``df`` sorted by column ``spec`` (``-col``: descending), missing values last; a column
    of arrays, containers or values that cannot be compared is a usage error."""
    column = spec.removeprefix("-")
    present = [v for v in df[column] if v is not None]
    unordered = next((v for v in present if not orderable(v)), None)
    if unordered is not None:
        raise UsageError(
            f"--sort: cannot sort by {column!r}: it holds {type(unordered).__name__} values, "
            "which have no order; sort by a column of numbers, text or dates"
        )
    try:
        return df.sort_values(column, ascending=not spec.startswith("-"), kind="stable")
    except (TypeError, ValueError) as e:
        kinds = sorted({type(v).__name__ for v in present})
        raise UsageError(
            f"--sort: cannot sort by {column!r}: its values ({', '.join(kinds)}) cannot be "
            "compared with each other"
        ) from e


def orderable(value: Any) -> bool:
    """Whether ``value`` is a single number, text, date or time (not an array or container)."""
    if isinstance(value, list | tuple | dict | set | frozenset | bytes | bytearray):
        return False
    return getattr(value, "ndim", 0) == 0  # numpy arrays, frames and series have ndim >= 1


def cmd_show(session: runtable.Session, args: argparse.Namespace) -> None:
    """Print one experiment's fields and its runs, filtered (in SQL), sorted and cut as asked,
    or one run vertically (``--run``)."""
    meta = args.meta or args.run is not None
    where = args.where
    if args.run is not None:
        match = f"id_run = {args.run}"
        where = match if where is None else f"({where}) AND {match}"
    chosen = [c.strip() for c in (args.columns or "").split(",") if c.strip()]
    fields = None
    if chosen or args.sort:
        every, others = known_columns(session, args.name, meta)
        for column, option in [*((c, "--columns") for c in chosen), (args.sort, "--sort")]:
            column = (column or "").removeprefix("-")
            if column and column not in every:
                hint = " (add --meta for the bookkeeping columns)" if column in META_COLUMNS else ""
                raise UsageError(
                    f"{option}: unknown column {column!r}{hint}; known: {', '.join(every)}"
                )
        if chosen:
            wanted = [*chosen, *([args.sort.removeprefix("-")] if args.sort else [])]
            fields = [c for c in dict.fromkeys(wanted) if c not in others]
    exp = load(session, args.name, where=where, columns=fields)
    df = exp.runs.df(meta=meta)
    if args.run is not None and df.empty:
        raise RuntableError(
            f"experiment {exp.name} has no run {args.run}"
            + (" matching --where" if args.where else "")
            + f"; `runtable show {exp.name} --columns id_run` lists its run ids"
        )
    if args.sort:
        df = sort_runs(df, args.sort)
    if args.limit is not None:
        df = df.head(args.limit)
    if chosen:
        df = df[list(dict.fromkeys(["id_run", *(c for c in chosen if c in df.columns)]))]
    if args.format != "table":
        emit(df, args.format)
        return
    counts = status_counts(session, exp.name)
    matched = f"; {len(df)} shown" if args.where or args.limit is not None else ""
    print(f"experiment {exp.name}: {counts}, seed {exp.seed}, id {exp.id}{matched}")
    for key, value in exp.fields.items():
        print(f"{key} = {summarise(value, 70)}")
    print()
    if args.run is not None:
        row = {str(k): v for k, v in df.iloc[0].items()}
        print(vertical(row, shutil.get_terminal_size().columns))
        return
    if ERROR_COLUMN in df.columns:
        df = df.assign(**{ERROR_COLUMN: df[ERROR_COLUMN].map(headline)})
    emit(df, args.format)


def cmd_sql(session: runtable.Session, args: argparse.Namespace) -> None:
    """Run one SQL statement: read-only unless --write; print its rows, or how many rows it
    changed."""
    from runtable.sqlshell import run_statement

    outcome = run_statement(session.store, args.query, write=args.write)
    if outcome.rows is not None:
        emit(outcome.rows, args.format)
    elif outcome.rowcount is not None:
        n = outcome.rowcount
        print(f"{n} row{'' if n == 1 else 's'} affected")
    else:
        print("done (no row count)")


def export_format(args: argparse.Namespace) -> str:
    """The format of ``export``: --format, else the file's extension (csv for stdout)."""
    if args.format:
        fmt = str(args.format)
    elif args.file == "-":
        fmt = "csv"
    else:
        fmt = os.path.splitext(args.file)[1].lower().lstrip(".")
        fmt = {"pq": "parquet", "ndjson": "jsonl"}.get(fmt, fmt)
        if fmt not in EXPORT_FORMATS:
            raise UsageError(
                f"cannot tell the format of {args.file!r} from its extension: "
                f"pass --format {'|'.join(EXPORT_FORMATS)}"
            )
    if fmt == "parquet" and args.file == "-":
        raise UsageError("parquet cannot be written to stdout: give a file name")
    return fmt


def cmd_export(session: runtable.Session, args: argparse.Namespace) -> None:
    """Write the runs of an experiment to a csv, json, jsonl or parquet file (or stdout)."""
    from runtable.export import parquet_frame, write

    fmt = export_format(args)
    if args.file != "-":
        check_target(args.file, args.url, "export")
    if fmt == "parquet":
        try:
            import pyarrow  # type: ignore[import-untyped, unused-ignore]  # noqa: F401
        except ImportError as e:
            raise RuntableError(
                "parquet export needs pyarrow, which is not installed: pip install pyarrow "
                "(or export to csv or json)"
            ) from e
    df = session.load_experiment(args.name).runs.df(meta=args.meta)
    try:
        if args.file == "-":
            write(df, fmt, sys.stdout, full=args.full)
        elif fmt == "parquet":
            write_parquet(parquet_frame(df, args.full), args.file)
        else:
            with open(args.file, "w", encoding="utf-8", newline="") as f:
                write(df, fmt, f, full=args.full)
    except OSError as e:
        if isinstance(e, BrokenPipeError):
            raise
        raise RuntableError(f"cannot write {args.file!r}: {e.strerror or e}") from e
    if args.file != "-":
        print(os.path.abspath(args.file))


def write_parquet(df: pd.DataFrame, path: str) -> None:
    """``df`` to a parquet file; a column pyarrow refuses is named in a RuntableError."""
    import pyarrow as pa

    try:
        df.to_parquet(path, index=False)
    except (pa.ArrowException, TypeError, ValueError) as e:
        raise RuntableError(
            f"cannot write {path!r} as parquet: {e}; export to json or csv instead"
        ) from e


def cmd_rm(session: runtable.Session, args: argparse.Namespace) -> None:
    """Delete a stored experiment, after asking on a terminal unless --yes."""
    from runtable.names import check_experiment_name

    name = check_experiment_name(args.name)
    stored = session.ls()
    row = stored[stored["name"] == name]
    if row.empty:
        raise ExperimentNotFoundError(name, session.url)
    n_runs = int(row["n_runs"].iloc[0])
    what = f"experiment {name} ({n_runs} run{'' if n_runs == 1 else 's'})"
    if not args.yes:
        if sys.stdin is None or not sys.stdin.isatty():
            raise RuntableError(
                f"not deleting {what}: stdin is not a terminal to confirm on; "
                "pass --yes to delete without asking"
            )
        sys.stderr.write(f"Delete {what}? [y/N] ")
        sys.stderr.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            raise RuntableError(f"not deleted: {what} is kept")
    session.delete_experiment(name)
    print(f"deleted {what}")


MODELS_ORDER = ("digest", "name", "experiment", "id_run", "created", "created_at", "kind", "size")


def cmd_models_ls(session: runtable.Session, args: argparse.Namespace) -> None:
    """Print the stored models."""
    ls = getattr(session.models, "ls", None)
    if ls is None:
        raise RuntableError(
            "the model store is not available in this version of runtable "
            f"({runtable.__version__}): session.models has no ls()"
        )
    try:
        df = ls()
    except NotImplementedError as e:
        raise RuntableError(f"the model store cannot list models yet: {e}") from e
    first = [c for c in MODELS_ORDER if c in df.columns]
    emit(df[first + [c for c in df.columns if c not in first]], args.format)


REPORT_MARKS = (b"runtable report", b'content="runtable', b"content='runtable")


def is_report(path: str) -> bool:
    """Whether ``path`` looks like a report runtable wrote (HTML naming runtable at the top)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8192)
    except OSError:
        return False
    html = head.lstrip().lower().startswith(b"<!doctype html")
    return html and any(mark in head for mark in REPORT_MARKS)


def cmd_report(session: runtable.Session, args: argparse.Namespace) -> None:
    """Write the HTML report of an experiment and print its path."""
    from runtable.report import write_report

    exp = session.load_experiment(args.name)
    path = args.output or f"{exp.name}.html"
    check_target(path, args.url, "report")
    if os.path.isdir(path):
        raise RuntableError(f"cannot write the report to {path!r}: it is a directory")
    if os.path.exists(path) and not args.force and not is_report(path):
        raise RuntableError(
            f"not overwriting {path!r}: it is not an earlier runtable report; pass --force to "
            "replace it, or choose another file with -o"
        )
    try:
        written = write_report(
            exp, path, metric=args.metric, color_by=args.color_by, plots=args.plot
        )
    except OSError as e:
        raise RuntableError(f"cannot write {path!r}: {e.strerror or e}") from e
    print(os.path.abspath(written))


def cmd_version(args: argparse.Namespace) -> None:
    """Print the versions of runtable, Python and SQLAlchemy (without importing them)."""
    from importlib.metadata import version

    print(f"runtable {runtable.__version__}")
    print(f"Python {sys.version.split()[0]} ({sys.implementation.name})")
    for package in ("SQLAlchemy", "pandas", "numpy"):
        print(f"{package} {version(package)}")


def not_found(session: runtable.Session, name: str) -> str:
    """The message for an experiment that is not stored, with the closest stored names."""
    import difflib

    try:
        names = [str(n) for n in session.ls()["name"]]
    except RuntableError:
        names = []
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    n = len(names)
    stored = (
        f"`runtable ls` lists the {n} stored experiment{'' if n == 1 else 's'}"
        if n
        else "the database holds no experiments yet"
    )
    return f"no experiment named {name!r} in {session.url}{hint} ({stored})"


#: Advice in runtable's messages meant for Python code, and what the shell user does instead.
SHELL_WORDS = {
    "session.ls() lists what is there": "`runtable ls` lists what is there",
    "session.models.ls() lists them": "`runtable models ls` lists them",
    "session.models has no ls()": "it cannot list models",
}


def shell_message(error: BaseException) -> str:
    """``error``'s message with advice about Python calls reworded for the command line."""
    text = str(error)
    for python, shell in SHELL_WORDS.items():
        text = text.replace(python, shell)
    return text


def limit(text: str) -> int:
    """A row count for --limit (zero or more)."""
    n = int(text)
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be zero or more, not {n}")
    return n


def run_id(text: str) -> int:
    """A run id for --run (an integer)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a run id is an integer, not {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The parser; --url and --verbose work before and after the command."""
    SUPPRESS = argparse.SUPPRESS
    url_help = "database URL (default: $RUNTABLE_URL, else sqlite:///runtable.db in the cwd)"
    parser = argparse.ArgumentParser(
        prog="runtable", description="List, show, export, report and query runtable experiments."
    )
    parser.add_argument("--url", default=None, help=url_help)
    parser.add_argument("--version", action="version", version=f"runtable {runtable.__version__}")
    v_help = "log INFO messages to stderr"
    parser.add_argument("-v", "--verbose", action="store_true", help=v_help)
    common = argparse.ArgumentParser(add_help=False)  # after the command: keep earlier values
    common.add_argument("--url", default=SUPPRESS, help=url_help)
    common.add_argument("-v", "--verbose", action="store_true", default=SUPPRESS, help=v_help)
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument("--format", choices=FORMATS, default="table", help="default: table")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, func: Callable[..., None], text: str, *, out: bool = True) -> Any:
        parents = [common, output] if out else [common]
        p = sub.add_parser(name, parents=parents, help=text, description=text)
        p.set_defaults(func=func)
        return p

    add("ls", cmd_ls, "list the stored experiments")
    show = add("show", cmd_show, "show the runs of one experiment")
    show.add_argument("name", help="experiment name")
    show.add_argument("--columns", metavar="A,B,C", help="only these columns (id_run first)")
    where_help = "only runs matching this SQL condition (run in the database)"
    show.add_argument("--where", metavar="SQL", help=where_help)
    show.add_argument("--sort", metavar="COL", help="sort by COL; -COL sorts descending")
    show.add_argument("--limit", metavar="N", type=limit, help="at most N runs")
    show.add_argument("--meta", action="store_true", help="add status, error and timestamps")
    run_help = "one run, vertically: every column with its whole value"
    show.add_argument("--run", metavar="ID", type=run_id, help=run_help)
    sql = add("sql", cmd_sql, "run one SQL statement (read-only unless --write)")
    sql.add_argument("query", help='for example "SELECT * FROM experiments"')
    write_help = "allow the statement to change the database (prints the rows affected)"
    sql.add_argument("--write", action="store_true", help=write_help)
    export = add("export", cmd_export, "write the runs of one experiment to a file", out=False)
    export.add_argument("name", help="experiment name")
    export.add_argument("file", help="output file; - writes csv or json to stdout")
    export.add_argument(
        "--format",
        choices=EXPORT_FORMATS,
        help="default: from the file's extension (csv for stdout); parquet needs pyarrow",
    )
    export.add_argument(
        "--full",
        action="store_true",
        help="arrays and frames as lists (JSON lists in csv cells), not summaries",
    )
    export.add_argument("--meta", action="store_true", help="add status, error and timestamps")
    report = add("report", cmd_report, "write an HTML report of one experiment", out=False)
    report.add_argument("name", help="experiment name")
    report.add_argument("-o", "--output", metavar="FILE", help="default: NAME.html")
    force_help = "overwrite FILE even if it is not an earlier report (never the database)"
    report.add_argument("--force", action="store_true", help=force_help)
    report.add_argument(
        "--metric",
        metavar="FIELD[:min|:max]",
        help="the metric of the summary and parallel coordinates (default: a loss, error or "
        "score field; lower is better unless it looks like a score or :max is given)",
    )
    report.add_argument(
        "--color-by",
        metavar="PARAM",
        help="colour runs by PARAM (default: the varying param "
        "with the fewest values; none for no colours)",
    )
    report.add_argument(
        "--plot",
        metavar="Y[:X]",
        action="append",
        help="draw field Y against param X (every varying param without :X; a logged metric "
        "draws its curves); repeat for more plots; replaces the default plots",
    )
    rm = add("rm", cmd_rm, "delete one experiment and its runs", out=False)
    rm.add_argument("name", help="experiment name")
    rm.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    models_text = "the model store"
    models = sub.add_parser("models", parents=[common], help=models_text, description=models_text)
    models_sub = models.add_subparsers(dest="models_command", metavar="COMMAND", required=True)
    text = "list the stored models"
    models_ls = models_sub.add_parser("ls", parents=[common, output], help=text, description=text)
    models_ls.set_defaults(func=cmd_models_ls)
    add("version", cmd_version, "print the versions of runtable, Python and SQLAlchemy", out=False)
    return parser


def _join_sort(argv: list[str]) -> list[str]:
    """Turn ``--sort -col`` into ``--sort=-col`` (argparse takes ``-col`` for an option)."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] == "--sort" and arg.startswith("-") and len(arg) > 1:
            out[-1] = f"--sort={arg}"
        else:
            out.append(arg)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(_join_sort(list(sys.argv[1:] if argv is None else argv)))
    except SystemExit as e:  # usage errors (2) and --help (0)
        return e.code if isinstance(e.code, int) else 2
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.verbose:
        logging.basicConfig(
            level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
        )
    try:
        if args.command == "version":
            args.func(args)
        else:
            check_database(args.url)
            with runtable.connect(args.url) as session:
                logging.getLogger(__name__).info("database: %s", session.url)
                try:
                    args.func(session, args)
                except ExperimentNotFoundError as e:
                    raise RuntableError(not_found(session, e.name)) from e
    except UsageError as e:
        print(f"runtable {args.command}: error: {e}", file=sys.stderr)
        return 2
    except InvalidNameError as e:
        print(f"runtable: error: {shell_message(e)}", file=sys.stderr)
        return 2 if e.kind == "experiment" else 1
    except RuntableError as e:
        print(f"runtable: error: {shell_message(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("runtable: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head & co.: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
