"""The ``runtable`` command: ``ls``, ``show NAME``, ``export NAME FILE``, ``report NAME``,
``rm NAME``, ``models ls``, ``sql "SELECT ..."`` and ``version``.

pandas and SQLAlchemy are imported only by the commands that need them, so the CLI starts fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import runtable
from runtable.errors import RuntableError, StorageError
from runtable.names import table_name
from runtable.summary import CELL_WIDTH, cells, headline, summarise

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]

FORMATS = ("table", "csv", "json")
EXPORT_FORMATS = ("csv", "json", "parquet")
LS_ORDER = ("name", "n_runs", "n_fields", "created_at", "updated_at", "seed", "id", "table_name")


class UsageError(Exception):
    """A bad argument found after parsing (unknown column, bad --where): exit status 2."""


def render_table(df: pd.DataFrame, width: int) -> str:
    """``df`` as text at most ``width`` wide, leaving out right-hand columns that do not fit."""
    if df.shape[0] == 0:
        return f"(no rows; columns: {', '.join(map(str, df.columns))})"
    df = cells(df, CELL_WIDTH)

    def draw(frame: pd.DataFrame) -> str:
        return str(frame.to_string(index=False, max_colwidth=CELL_WIDTH))

    def widest(text: str) -> int:
        return max(len(line) for line in text.splitlines())

    keep, used = 0, -2  # estimate from the widths of single columns, then check the real thing
    for i in range(df.shape[1]):
        used += widest(draw(df.iloc[:, [i]])) + 2
        if used > width and keep:
            break
        keep += 1
    text = draw(df.iloc[:, :keep])
    while keep > 1 and widest(text) > width:
        keep -= 1
        text = draw(df.iloc[:, :keep])
    dropped = [str(c) for c in df.columns[keep:]]
    if dropped:
        note = f"... {len(dropped)} more columns: {', '.join(dropped)}"
        text += "\n" + (note if len(note) <= width else note[: max(width - 3, 20)] + "...")
    return text


def emit(df: pd.DataFrame, fmt: str) -> None:
    """Print ``df`` to stdout as a table fitted to the terminal, CSV or JSON records."""
    if fmt == "table":
        print(render_table(df, shutil.get_terminal_size().columns))
    elif fmt == "csv":
        cells(df, None).to_csv(sys.stdout, index=False, lineterminator="\n")
    elif not df.columns.is_unique:
        raise UsageError("JSON records need distinct column names: rename columns with AS")
    else:
        data = cells(df, None).to_json(
            orient="records", date_format="iso", date_unit="us", default_handler=str
        )
        sys.stdout.write(f"{data}\n")


def check_database(url: str | None) -> None:
    """Refuse a SQLite file that does not exist (connecting would create an empty one)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url or runtable.session.default_url())
    except ArgumentError as e:  # Session lets this through unwrapped
        raise RuntableError(f"invalid database URL: {e}") from e
    path = parsed.database or ""
    local = path and path != ":memory:" and not path.startswith("file:")
    if parsed.get_backend_name() == "sqlite" and local and not os.path.exists(path):
        raise RuntableError(f"no database file {os.path.abspath(path)!r}; check --url")


def cmd_ls(session: runtable.Session, args: argparse.Namespace) -> None:
    """Print the stored experiments."""
    df = session.ls()
    first = [c for c in LS_ORDER if c in df.columns]
    emit(df[first + [c for c in df.columns if c not in first]], args.format)


def cmd_show(session: runtable.Session, args: argparse.Namespace) -> None:
    """Print one experiment's fields and its runs, filtered, sorted and cut as asked."""
    exp = session.load_experiment(args.name)
    df = exp.runs.df(meta=args.meta)
    known = [str(c) for c in df.columns]

    def check(column: str, option: str) -> str:
        if column not in known:
            raise UsageError(f"{option}: unknown column {column!r}; known: {', '.join(known)}")
        return column

    if args.where:
        # A bound parameter makes drivers run exactly one statement (no "; DROP ...").
        sql = f"SELECT id_run FROM {table_name(exp.name)} WHERE ({args.where}) AND id_run > :below"
        try:
            ids = session.query(sql, {"below": -1})["id_run"]
        except StorageError as e:
            raise UsageError(f"--where: {e}") from e
        df = df[df["id_run"].isin(ids)]
    if args.sort:
        column = check(args.sort.removeprefix("-"), "--sort")
        try:
            df = df.sort_values(column, ascending=not args.sort.startswith("-"), kind="stable")
        except (TypeError, ValueError) as e:
            raise UsageError(f"--sort: cannot sort by {column!r}: {e}") from e
    if args.limit is not None:
        df = df.head(args.limit)
    if args.columns:
        chosen = [check(c.strip(), "--columns") for c in args.columns.split(",") if c.strip()]
        df = df[list(dict.fromkeys(["id_run", *chosen]))]
    if args.format != "table":
        emit(df, args.format)
        return
    if "error" in df.columns:
        df = df.assign(error=df["error"].map(headline))
    print(f"experiment {exp.name}: {len(exp.runs)} runs, seed {exp.seed}, id {exp.id}")
    for key, value in exp.fields.items():
        print(f"{key} = {summarise(value, 70)}")
    print()
    emit(df, args.format)


def cmd_sql(session: runtable.Session, args: argparse.Namespace) -> None:
    """Print the result of any SQL query."""
    emit(session.query(args.query), args.format)


def full_value(value: Any) -> Any:
    """A JSON-friendly value for ``export --full``: arrays and pandas objects as lists."""
    if isinstance(value, bytes | bytearray | memoryview):
        return summarise(value, None)
    kind = type(value).__name__
    if kind == "DataFrame":
        return value.to_dict(orient="records")
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and hasattr(value, "tolist"):  # arrays, Series, Index, scalars
        return value.tolist()
    return value


def jsonable(value: Any) -> Any:
    """``value`` for ``json.dumps``: containers recursively, numpy scalars as Python's, floats
    exactly (NaN, infinities and NaT as null), dates and times in ISO format, the rest as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if getattr(value, "shape", None) == () and hasattr(value, "item"):  # a numpy scalar
        item = value.item()
        return str(value) if item is value else jsonable(item)
    if hasattr(value, "isoformat"):  # date, time, datetime, Timestamp (NaT says "NaT")
        text = value.isoformat()
        return None if text == "NaT" else text
    return str(value)


def export_format(args: argparse.Namespace) -> str:
    """The format of ``export``: --format, else the file's extension (csv for stdout)."""
    if args.format:
        fmt = str(args.format)
    elif args.file == "-":
        fmt = "csv"
    else:
        fmt = os.path.splitext(args.file)[1].lower().lstrip(".")
        fmt = {"pq": "parquet"}.get(fmt, fmt)
        if fmt not in EXPORT_FORMATS:
            raise UsageError(
                f"cannot tell the format of {args.file!r} from its extension: "
                f"pass --format {'|'.join(EXPORT_FORMATS)}"
            )
    if fmt == "parquet" and args.file == "-":
        raise UsageError("parquet cannot be written to stdout: give a file name")
    return fmt


def parquet_ready(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with each object column pyarrow cannot hold as one type turned into text."""
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

    out = df.copy()
    for column in out.columns:
        if out[column].dtype != object:
            continue
        try:
            pa.array(out[column], from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            out[column] = out[column].map(lambda v: None if v is None else str(v))
    return out


def cmd_export(session: runtable.Session, args: argparse.Namespace) -> None:
    """Write the runs of an experiment to a csv, json or parquet file (or stdout)."""
    fmt = export_format(args)
    if fmt == "parquet":
        try:
            import pyarrow  # type: ignore[import-untyped, unused-ignore]  # noqa: F401
        except ImportError as e:
            raise RuntableError(
                "parquet export needs pyarrow, which is not installed: pip install pyarrow "
                "(or export to csv or json)"
            ) from e
    df = session.load_experiment(args.name).runs.df(meta=args.meta)
    if args.full and fmt != "csv":
        out = df.copy()
        for column in out.columns:
            if out[column].dtype == object:
                out[column] = out[column].map(full_value)
    else:
        out = cells(df, None)
    target = sys.stdout if args.file == "-" else args.file
    try:
        if fmt == "csv":
            out.to_csv(target, index=False, lineterminator="\n")
        elif fmt == "json":
            records = [{str(k): jsonable(v) for k, v in r.items()} for r in out.to_dict("records")]
            text = json.dumps(records, allow_nan=False)
            if args.file == "-":
                sys.stdout.write(f"{text}\n")
            else:
                with open(args.file, "w", encoding="utf-8") as f:
                    f.write(f"{text}\n")
        else:
            parquet_ready(out).to_parquet(args.file, index=False)
    except OSError as e:
        if isinstance(e, BrokenPipeError):
            raise
        raise RuntableError(f"cannot write {args.file!r}: {e.strerror or e}") from e
    if args.file != "-":
        print(os.path.abspath(args.file))


def cmd_rm(session: runtable.Session, args: argparse.Namespace) -> None:
    """Delete a stored experiment, after asking on a terminal unless --yes."""
    from runtable.errors import ExperimentNotFoundError
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


def cmd_report(session: runtable.Session, args: argparse.Namespace) -> None:
    """Write the HTML report of an experiment and print its path."""
    from runtable.report import write_report

    exp = session.load_experiment(args.name)
    path = args.output or f"{exp.name}.html"
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


def limit(text: str) -> int:
    """A row count for --limit (zero or more)."""
    n = int(text)
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be zero or more, not {n}")
    return n


def build_parser() -> argparse.ArgumentParser:
    """The parser; --url and --verbose work before and after the command."""
    SUPPRESS = argparse.SUPPRESS
    url_help = "database URL (default: $RUNTABLE_URL, else sqlite:///runtable.db in the cwd)"
    parser = argparse.ArgumentParser(
        prog="runtable", description="List, show, export, report and query runtable experiments."
    )
    parser.add_argument("--url", default=None, help=url_help)
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
    show.add_argument("--where", metavar="SQL", help="keep runs matching this SQL condition")
    show.add_argument("--sort", metavar="COL", help="sort by COL; -COL sorts descending")
    show.add_argument("--limit", metavar="N", type=limit, help="at most N runs")
    show.add_argument("--meta", action="store_true", help="add status, error and timestamps")
    sql = add("sql", cmd_sql, "run a SQL query and print the result")
    sql.add_argument("query", help='for example "SELECT * FROM experiments"')
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
        help="json, parquet: arrays and frames as lists, not summaries (csv keeps summaries)",
    )
    export.add_argument("--meta", action="store_true", help="add status, error and timestamps")
    report = add("report", cmd_report, "write an HTML report of one experiment", out=False)
    report.add_argument("name", help="experiment name")
    report.add_argument("-o", "--output", metavar="FILE", help="default: NAME.html")
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
                args.func(session, args)
    except UsageError as e:
        print(f"runtable {args.command}: error: {e}", file=sys.stderr)
        return 2
    except RuntableError as e:
        print(f"runtable: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into head & co.: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
