"""The ``runtable`` command line, through ``main([...])`` and once through the real entry point."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import runtable as rt
from runtable.cli import main, summarise
from runtable.names import ERROR_COLUMN, META_COLUMNS, STARTED_AT_COLUMN, STATUS_COLUMN


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file holding experiment "coins" (6 runs) and "flaky" (one failed run)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('cli')}/t.db"
    s = rt.connect(url)
    exp = s.create_experiment("coins", note="fair")
    exp.add_runs(n=[10, 100], trial=range(3))

    @exp.step
    def toss(run: rt.Run) -> None:
        run.fields.tosses = run.rng.random(run.params.n) < 0.5
        run.fields.err = abs(run.fields.tosses.mean() - 0.5)

    exp.execute().persist()

    def shaky(run: rt.Run) -> None:
        if run.params.k == 1:
            raise ValueError("bad k\nsecond line")
        run.fields.blob = b"x" * 1024
        run.fields.frame = pd.DataFrame({"a": [1, 2, 3], "b": [4, 5, 6]})

    s.create_experiment("flaky").add_runs(k=range(3)).execute(shaky, on_error="record").persist()
    s.close()
    return url


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wide terminal and no $RUNTABLE_URL, whatever the test runner's environment."""
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("RUNTABLE_URL", raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``runtable argv``."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def table_rows(out: str, first: str = "id_run") -> list[list[str]]:
    """The rows (header first) of the table in ``out`` whose header starts with ``first``."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [first])
    return [line.split() for line in lines[start:] if line.strip() and not line.startswith("...")]


def records(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, object]]:
    code, out, err = run(capsys, *argv, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert isinstance(data, list)
    return data


# -- ls ---------------------------------------------------------------------------------------


def test_ls_lists_coins_with_6_runs(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, err = run(capsys, "ls", "--url", url)
    assert code == 0, err
    rows = {row[0]: row for row in table_rows(out, "name")[1:]}
    header = table_rows(out, "name")[0]
    assert header[:2] == ["name", "n_runs"]
    assert rows["coins"][1] == "6"
    assert rows["flaky"][1] == "3"


def test_ls_json_has_iso_dates(capsys: pytest.CaptureFixture[str], url: str) -> None:
    data = {r["name"]: r for r in records(capsys, "ls", "--url", url)}
    assert data["coins"]["n_runs"] == 6
    created = data["coins"]["created_at"]
    assert isinstance(created, str)
    assert "T" in created
    assert pd.Timestamp(created).year >= 2024


def test_ls_on_an_empty_database(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    empty = f"sqlite:///{tmp_path}/empty.db"
    rt.connect(empty).query("SELECT 1")  # creates the file
    code, out, _ = run(capsys, "ls", "--url", empty)
    assert code == 0
    assert "no rows" in out
    assert records(capsys, "ls", "--url", empty) == []


# -- show -------------------------------------------------------------------------------------


def test_show_prints_fields_and_summarised_arrays(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    code, out, err = run(capsys, "show", "coins", "--url", url)
    assert code == 0, err
    assert "note = fair" in out
    assert "ndarray(shape=(10,), dtype=bool)" in out
    assert "ndarray(shape=(100,), dtype=bool)" in out
    assert "True" not in out
    assert "False" not in out
    rows = table_rows(out)
    assert rows[0][0] == "id_run"
    assert {"n", "trial", "err"} <= set(rows[0])
    assert [r[0] for r in rows[1:]] == [str(i) for i in stored_ids(url, "coins")]


def stored_ids(url: str, name: str) -> list[int]:
    """The run ids of a stored experiment, in order (they are random per process)."""
    with rt.connect(url) as session:
        return [
            int(i) for i in session.query(f"SELECT id_run FROM e_{name} ORDER BY id_run")["id_run"]
        ]


def test_show_columns(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, err = run(capsys, "show", "coins", "--columns", "n,err", "--url", url)
    assert code == 0, err
    rows = table_rows(out)
    assert rows[0] == ["id_run", "n", "err"]
    assert len(rows) == 7
    assert "ndarray" not in out


def test_show_where_keeps_matching_runs(capsys: pytest.CaptureFixture[str], url: str) -> None:
    data = records(capsys, "show", "coins", "--where", "n > 10", "--url", url)
    ids = stored_ids(url, "coins")
    assert [r["id_run"] for r in data] == ids[3:]
    assert {r["n"] for r in data} == {100}
    code, out, _ = run(capsys, "show", "coins", "--where", "n > 10 AND trial = 1", "--url", url)
    assert code == 0
    assert [r[0] for r in table_rows(out)[1:]] == [str(ids[4])]


def test_show_sort_descending_and_ascending(capsys: pytest.CaptureFixture[str], url: str) -> None:
    down = [r["err"] for r in records(capsys, "show", "coins", "--sort", "-err", "--url", url)]
    assert down == sorted(down, reverse=True)  # type: ignore[type-var]
    up = [r["err"] for r in records(capsys, "show", "coins", "--sort=err", "--url", url)]
    assert up == sorted(up)  # type: ignore[type-var]
    assert up != down


def test_show_limit(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, _ = run(capsys, "show", "coins", "--limit", "2", "--url", url)
    assert code == 0
    assert [r[0] for r in table_rows(out)[1:]] == [str(i) for i in stored_ids(url, "coins")[:2]]
    data = records(capsys, "show", "coins", "--sort", "-n", "--limit", "2", "--url", url)
    assert [r["n"] for r in data] == [100, 100]


def test_show_csv_parses(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, err = run(capsys, "show", "coins", "--format", "csv", "--url", url)
    assert code == 0, err
    assert "note = fair" not in out  # machine formats carry only the data
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 6
    assert list(rows[0]) == ["id_run", "n", "trial", "tosses", "err"]
    assert rows[3]["tosses"] == "ndarray(shape=(100,), dtype=bool)"
    assert float(rows[0]["err"]) == pytest.approx(float(rows[0]["err"]))


def test_show_json_parses(capsys: pytest.CaptureFixture[str], url: str) -> None:
    data = records(capsys, "show", "coins", "--url", url)
    assert len(data) == 6
    assert data[0]["tosses"] == "ndarray(shape=(10,), dtype=bool)"
    assert all(isinstance(r["err"], float) for r in data)


def test_show_meta_and_summarised_values(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, err = run(capsys, "show", "flaky", "--meta", "--url", url)
    assert code == 0, err
    assert "failed" in out
    assert "ValueError: bad k" in out  # the exception line, not the whole traceback
    assert "Traceback" not in out
    assert "bytes(1024)" in out
    assert "DataFrame(3x2)" in out
    data = records(capsys, "show", "flaky", "--meta", "--url", url)
    assert [r[STATUS_COLUMN] for r in data] == ["done", "failed", "done"]
    assert "Traceback" in str(data[1][ERROR_COLUMN])  # json keeps the full text
    assert str(data[0][STARTED_AT_COLUMN]).count("T") == 1


# -- sql --------------------------------------------------------------------------------------


def test_sql_group_by(capsys: pytest.CaptureFixture[str], url: str) -> None:
    sql = "SELECT n, COUNT(*) AS k, AVG(err) AS mean_err FROM e_coins GROUP BY n ORDER BY n"
    code, out, err = run(capsys, "sql", sql, "--url", url)
    assert code == 0, err
    rows = table_rows(out, "n")
    assert rows[0] == ["n", "k", "mean_err"]
    assert [r[:2] for r in rows[1:]] == [["10", "3"], ["100", "3"]]
    data = records(capsys, "sql", sql, "--url", url)
    assert [r["k"] for r in data] == [3, 3]


def test_sql_json_needs_distinct_names(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, _, err = run(capsys, "sql", "SELECT 1 AS a, 2 AS a", "--format", "json", "--url", url)
    assert code == 2
    assert "distinct column names" in err
    code, out, _ = run(capsys, "sql", "SELECT 1 AS a, 2 AS a", "--format", "csv", "--url", url)
    assert code == 0
    assert out.splitlines() == ["a,a", "1,2"]


def test_sql_summarises_raw_blob_columns(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, _ = run(capsys, "sql", "SELECT id_run, blob, frame FROM e_flaky", "--url", url)
    assert code == 0
    assert "bytes(" in out
    assert "xxxx" not in out


# -- the database URL ------------------------------------------------------------------------


def test_url_before_and_after_the_command(capsys: pytest.CaptureFixture[str], url: str) -> None:
    after = run(capsys, "show", "coins", "--url", url)
    before = run(capsys, "--url", url, "show", "coins")
    assert after[0] == before[0] == 0
    assert after[1] == before[1]
    assert "ndarray" in after[1]


def test_url_from_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("RUNTABLE_URL", url)
    code, out, err = run(capsys, "ls")
    assert code == 0, err
    assert "coins" in out


def test_default_url_is_runtable_db_in_cwd(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "ls")
    assert code == 1
    assert "runtable.db" in err
    assert not (tmp_path / "runtable.db").exists()  # a read-only command creates no file
    s = rt.connect()
    s.create_experiment("here").add_run(x=1).persist()
    s.close()
    code, out, _ = run(capsys, "ls")
    assert code == 0
    assert "here" in out


# -- errors -----------------------------------------------------------------------------------


def test_unknown_experiment(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, err = run(capsys, "show", "nope", "--url", url)
    assert code == 1
    assert out == ""
    assert err.startswith("runtable: error:")
    assert "'nope'" in err


def test_invalid_experiment_name(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, _, err = run(capsys, "show", "Bad-Name", "--url", url)
    assert code == 2  # a malformed argument: a usage error
    assert "runtable: error: invalid experiment name 'Bad-Name'" in err


def test_bad_sql(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, err = run(capsys, "sql", "SELEC * FROM e_coins", "--url", url)
    assert code != 0
    assert out == ""
    assert "syntax error" in err
    assert "Traceback" not in err


def test_bad_where(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, err = run(capsys, "show", "coins", "--where", "nosuch > 1", "--url", url)
    assert code == 2
    assert out == ""
    assert "no such column: nosuch" in err


def test_unknown_column(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, err = run(capsys, "show", "coins", "--columns", "n,zz", "--url", url)
    assert code == 2
    assert out == ""
    assert "'zz'" in err
    assert "err" in err.split("known:")[1]  # the known columns are listed


def test_meta_column_without_meta_says_to_add_it(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    from runtable.names import STATUS_COLUMN

    code, _, err = run(capsys, "show", "coins", "--columns", STATUS_COLUMN, "--url", url)
    assert code == 2
    assert "add --meta" in err
    code, out, err = run(
        capsys, "show", "coins", "--columns", STATUS_COLUMN, "--meta", "--url", url
    )
    assert code == 0, err
    assert table_rows(out)[0] == ["id_run", STATUS_COLUMN]


def test_bad_sort(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, _, err = run(capsys, "show", "coins", "--sort", "-zz", "--url", url)
    assert code == 2
    assert "'zz'" in err
    code, _, err = run(capsys, "show", "coins", "--sort", "tosses", "--url", url)
    assert code == 2
    assert "cannot sort by 'tosses'" in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], url: str) -> None:
    assert run(capsys, "ls", "--format", "xml", "--url", url)[0] == 2
    assert run(capsys, "show", "--url", url)[0] == 2  # no name
    assert run(capsys, "show", "coins", "--limit", "-1", "--url", url)[0] == 2
    assert run(capsys, "frobnicate")[0] == 2
    code, out, err = run(capsys)  # no command: help, exit 2
    assert code == 2
    assert "usage: runtable" in out + err
    assert "show" in out + err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "show", "--help")
    assert code == 0
    assert "--where" in out


def test_invalid_url(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "ls", "--url", "not a url")
    assert code == 1
    assert err.startswith("runtable: error:")


# -- version, width, logging ------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "version")
    assert code == 0
    assert f"runtable {rt.__version__}" in out
    assert f"Python {sys.version.split()[0]}" in out
    assert "SQLAlchemy 2." in out


def test_wide_table_is_cut_to_terminal_width(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    for argv in (["show", "coins", "--meta"], ["ls"], ["sql", "SELECT * FROM e_coins"]):
        code, out, err = run(capsys, *argv, "--url", url)
        assert code == 0, err
        lines = [line for line in out.splitlines() if not line.startswith(("note", "experiment"))]
        assert max(len(line) for line in lines) <= 60, out
        assert "more columns" in out
    assert "id_run" in out


def test_verbose_logs_the_database(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, url: str
) -> None:
    caplog.set_level(logging.INFO, logger="runtable")
    assert run(capsys, "ls", "-v", "--url", url)[0] == 0
    assert any("database:" in r.getMessage() for r in caplog.records)


def test_summarise() -> None:
    assert summarise(np.zeros(1000, dtype=bool)) == "ndarray(shape=(1000,), dtype=bool)"
    assert summarise(pd.DataFrame({"a": [1, 2, 3], "b": [1, 2, 3]})) == "DataFrame(3x2)"
    assert summarise(b"\0" * 1024) == "bytes(1024)"
    assert summarise(np.int64(3)) == 3
    assert summarise(1.5) == 1.5
    assert summarise(None) is None
    assert summarise(list(range(10_000))) == "list(len=10000)"
    long = summarise("line\n" * 10_000)
    assert len(long) <= 40
    assert "\n" not in long
    assert summarise([1, 2], None) == [1, 2]
    assert summarise("a\nb", None) == "a\nb"


# -- export -----------------------------------------------------------------------------------


def stored(url: str, name: str = "coins") -> pd.DataFrame:
    with rt.connect(url) as s:
        return s.load_experiment(name).runs.df()


def test_export_csv_round_trip(
    capsys: pytest.CaptureFixture[str], url: str, tmp_path: Path
) -> None:
    target = tmp_path / "coins.csv"
    code, out, err = run(capsys, "export", "coins", str(target), "--url", url)
    assert code == 0, err
    assert out.strip() == str(target)
    df = pd.read_csv(target, converters={"err": float})
    want = stored(url)
    assert list(df.columns) == list(want.columns)
    assert df["id_run"].tolist() == want["id_run"].tolist()
    assert df["n"].tolist() == want["n"].tolist()
    assert df["err"].tolist() == want["err"].tolist()  # floats exactly
    assert df["tosses"][0] == "ndarray(shape=(10,), dtype=bool)"


def test_export_json_round_trip_and_full(
    capsys: pytest.CaptureFixture[str], url: str, tmp_path: Path
) -> None:
    want = stored(url)
    target = tmp_path / "coins.json"
    assert run(capsys, "export", "coins", str(target), "--url", url)[0] == 0
    data = json.loads(target.read_text())
    assert [r["err"] for r in data] == want["err"].tolist()
    assert data[3]["tosses"] == "ndarray(shape=(100,), dtype=bool)"
    assert pd.read_json(io.StringIO(target.read_text()))["n"].tolist() == want["n"].tolist()
    assert run(capsys, "export", "coins", str(target), "--full", "--url", url)[0] == 0
    data = json.loads(target.read_text())
    assert [len(r["tosses"]) for r in data] == want["n"].tolist()
    assert data[3]["tosses"] == want["tosses"][3].tolist()
    assert data[0]["err"] == want["err"][0]


def test_export_full_json_of_frames_bytes_and_meta(
    capsys: pytest.CaptureFixture[str], url: str, tmp_path: Path
) -> None:
    target = tmp_path / "flaky.json"
    code, _, err = run(capsys, "export", "flaky", str(target), "--full", "--meta", "--url", url)
    assert code == 0, err
    data = json.loads(target.read_text())
    assert [r[STATUS_COLUMN] for r in data] == ["done", "failed", "done"]
    assert data[0]["frame"] == [{"a": 1, "b": 4}, {"a": 2, "b": 5}, {"a": 3, "b": 6}]
    assert data[0]["blob"] == "bytes(1024)"
    assert data[1]["frame"] is None  # the failed run has no fields
    assert "Traceback" in data[1][ERROR_COLUMN]
    assert pd.Timestamp(data[0][STARTED_AT_COLUMN]).year >= 2024


def test_export_parquet_round_trip(
    capsys: pytest.CaptureFixture[str], url: str, tmp_path: Path
) -> None:
    pytest.importorskip("pyarrow")
    want = stored(url)
    target = tmp_path / "coins.parquet"
    code, out, err = run(capsys, "export", "coins", str(target), "--url", url)
    assert code == 0, err
    assert out.strip() == str(target)
    df = pd.read_parquet(target)
    assert df["err"].tolist() == want["err"].tolist()
    assert df["trial"].tolist() == want["trial"].tolist()
    assert df["tosses"][0] == "ndarray(shape=(10,), dtype=bool)"
    full = tmp_path / "full.data"
    args = ("export", "coins", str(full), "--format", "parquet", "--full", "--url", url)
    assert run(capsys, *args)[0] == 0
    df = pd.read_parquet(full)
    assert [list(v) for v in df["tosses"]] == [v.tolist() for v in want["tosses"]]
    flaky = tmp_path / "flaky.parquet"  # mixed frames and missing values still write
    assert run(capsys, "export", "flaky", str(flaky), "--full", "--meta", "--url", url)[0] == 0
    assert pd.read_parquet(flaky)[STATUS_COLUMN].tolist() == ["done", "failed", "done"]


def test_export_parquet_without_pyarrow(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow raises ImportError
    code, out, err = run(capsys, "export", "coins", str(tmp_path / "x.parquet"), "--url", url)
    assert code == 1
    assert out == ""
    assert "runtable: error: parquet export needs pyarrow" in err
    assert not (tmp_path / "x.parquet").exists()


def test_export_to_stdout(capsys: pytest.CaptureFixture[str], url: str) -> None:
    want = stored(url)
    code, out, err = run(capsys, "export", "coins", "-", "--url", url)
    assert code == 0, err
    df = pd.read_csv(io.StringIO(out), converters={"err": float})
    assert df["err"].tolist() == want["err"].tolist()
    code, out, _ = run(capsys, "--url", url, "export", "coins", "-", "--format", "json")
    assert code == 0
    assert [r["n"] for r in json.loads(out)] == want["n"].tolist()


def test_export_errors(capsys: pytest.CaptureFixture[str], url: str, tmp_path: Path) -> None:
    code, _, err = run(capsys, "export", "coins", "-", "--format", "parquet", "--url", url)
    assert code == 2
    assert "stdout" in err
    code, _, err = run(capsys, "export", "coins", str(tmp_path / "x.xlsx"), "--url", url)
    assert code == 2
    assert "--format" in err
    assert run(capsys, "export", "coins", "x.csv", "--format", "xml", "--url", url)[0] == 2
    code, _, err = run(capsys, "export", "nope", str(tmp_path / "x.csv"), "--url", url)
    assert code == 1
    assert "'nope'" in err
    code, _, err = run(capsys, "export", "coins", str(tmp_path / "no" / "x.csv"), "--url", url)
    assert code == 1
    assert err.startswith("runtable: error: cannot write")


# -- rm ---------------------------------------------------------------------------------------


class FakeTTY(io.StringIO):
    """Standard input that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def doomed(tmp_path: Path) -> str:
    """A SQLite file with experiments "gone" (2 runs) and "kept" (1 run)."""
    url = f"sqlite:///{tmp_path}/rm.db"
    with rt.connect(url) as s:
        s.create_experiment("gone").add_runs(x=[1, 2]).persist()
        s.create_experiment("kept").add_run(x=1).persist()
    return url


def names(url: str) -> list[str]:
    with rt.connect(url) as s:
        return sorted(s.ls()["name"])


def test_rm_yes(capsys: pytest.CaptureFixture[str], doomed: str) -> None:
    code, out, err = run(capsys, "rm", "gone", "--yes", "--url", doomed)
    assert code == 0, err
    assert "deleted experiment gone (2 runs)" in out
    assert names(doomed) == ["kept"]
    with rt.connect(doomed) as s, pytest.raises(rt.ExperimentNotFoundError):
        s.load_experiment("gone")
    code, _, err = run(capsys, "rm", "gone", "-y", "--url", doomed)
    assert code == 1
    assert "'gone'" in err


def test_rm_refuses_without_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, doomed: str
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))  # piped: never read
    code, out, err = run(capsys, "rm", "gone", "--url", doomed)
    assert code == 1
    assert out == ""
    assert "--yes" in err
    assert names(doomed) == ["gone", "kept"]


@pytest.mark.parametrize("answer", ["y\n", "YES\n"])
def test_rm_asks_and_deletes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, doomed: str, answer: str
) -> None:
    monkeypatch.setattr(sys, "stdin", FakeTTY(answer))
    code, out, err = run(capsys, "rm", "gone", "--url", doomed)
    assert code == 0, err
    assert "Delete experiment gone (2 runs)? [y/N]" in err
    assert "deleted" in out
    assert names(doomed) == ["kept"]


@pytest.mark.parametrize("answer", ["n\n", "\n", ""])  # no, just return, end of input
def test_rm_asks_and_keeps(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, doomed: str, answer: str
) -> None:
    monkeypatch.setattr(sys, "stdin", FakeTTY(answer))
    code, out, err = run(capsys, "rm", "kept", "--url", doomed)
    assert code == 1
    assert "Delete experiment kept (1 run)? [y/N]" in err
    assert "not deleted" in err
    assert out == ""
    assert names(doomed) == ["gone", "kept"]


# -- report -----------------------------------------------------------------------------------


class Checker(HTMLParser):
    """Checks that every element is closed in order (void elements excepted)."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "col", "wbr", "source"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack, f"</{tag}> closes nothing"
        assert self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1]}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_html(text: str) -> Checker:
    checker = Checker()
    checker.feed(text)
    checker.close()
    assert checker.stack == [], f"unclosed: {checker.stack}"
    return checker


def test_report(capsys: pytest.CaptureFixture[str], url: str, tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    code, out, err = run(capsys, "report", "coins", "-o", str(target), "--url", url)
    assert code == 0, err
    assert out.strip() == str(target)
    text = target.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    checker = check_html(text)
    assert "coins" in "".join(checker.text)
    data = report_payload(text)
    assert len(data["columns"][0]["values"]) == 6  # one row per run
    assert [p["x"] for p in data["plots"]] == ["n"]  # err vs n; trial is a replicate index


def report_payload(text: str) -> dict[str, object]:
    """The data a report's script draws (its JSON)."""
    start = text.index("id='report-data'>") + len("id='report-data'>")
    return json.loads(text[start : text.index("</script>", start)])


def test_report_options(capsys: pytest.CaptureFixture[str], url: str, tmp_path: Path) -> None:
    target = tmp_path / "r.html"
    args = ["report", "coins", "-o", str(target), "--url", url, "--color-by", "n"]
    code, _, err = run(capsys, *args, "--metric", "err:max", "--plot", "err:trial")
    assert code == 0, err
    data = report_payload(target.read_text(encoding="utf-8"))
    assert data["metric"] == {"key": "err", "dir": "max"}
    assert data["colorBy"] == "n"
    assert data["plots"] == [{"kind": "scatter", "y": "err", "x": "trial"}]
    code, _, err = run(capsys, *args, "--plot", "nope")
    assert code == 1
    assert "plot 'nope'" in err
    assert "choose one of: err" in err


def test_report_default_path_and_errors(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "--url", url, "report", "flaky")
    assert code == 0, err
    assert out.strip() == str(tmp_path / "flaky.html")
    check_html((tmp_path / "flaky.html").read_text(encoding="utf-8"))
    code, _, err = run(capsys, "report", "nope", "--url", url)
    assert code == 1
    assert "'nope'" in err
    code, _, err = run(
        capsys, "report", "coins", "-o", str(tmp_path / "no" / "r.html"), "--url", url
    )
    assert code == 1
    assert "cannot write" in err


# -- models -----------------------------------------------------------------------------------


def test_models_ls(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The listing when the model store can list, else a clean error (it is being written)."""
    from runtable.models import ModelStore

    url = f"sqlite:///{tmp_path}/models.db"
    with rt.connect(url) as s:
        s.create_experiment("coins").add_run(n=1).persist()
        can_list = hasattr(ModelStore, "ls")
        if can_list and hasattr(ModelStore, "put"):
            s.models.put(b"weights", name="tiny", experiment="coins")
    code, out, err = run(capsys, "models", "ls", "--url", url)
    if not can_list:
        assert code == 1
        assert err.startswith("runtable: error: the model store is not available")
        assert "Traceback" not in err
        return
    assert code == 0, err
    assert table_rows(out, "digest")[0][:2] == ["digest", "name"]
    data = records(capsys, "--url", url, "models", "ls")
    assert [r["name"] for r in data] == ["tiny"]
    assert data[0]["experiment"] == "coins"


def test_models_ls_without_a_model_store(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    from runtable.models import ModelStore

    monkeypatch.delattr(ModelStore, "ls", raising=False)
    code, out, err = run(capsys, "models", "ls", "--url", url)
    assert code == 1
    assert out == ""
    assert err.startswith("runtable: error: the model store is not available")
    assert "Traceback" not in err


def test_models_needs_a_subcommand(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, _, err = run(capsys, "models", "--url", url)
    assert code == 2
    assert "required" in err
    assert "ls" in run(capsys, "models", "--help")[1]


# -- the installed entry point ----------------------------------------------------------------


def test_entry_points(url: str) -> None:
    env = {**os.environ, "COLUMNS": "200"}
    code = "import sys, runtable.cli as c; c.main(['version']); print(sorted(sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "'pandas'" not in done.stdout  # version starts fast: no pandas
    done = subprocess.run(
        [sys.executable, "-m", "runtable.cli", "version"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    assert f"runtable {rt.__version__}" in done.stdout
    script = Path(sys.executable).with_name("runtable")
    done = subprocess.run([script, "ls", "--url", url], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "coins" in done.stdout
    done = subprocess.run([script, "show", "nope", "--url", url], capture_output=True, text=True)
    assert done.returncode == 1
    assert "runtable: error:" in done.stderr


# -- the library under the CLI ----------------------------------------------------------------


def test_library_query_wraps_database_errors(url: str) -> None:
    """errors.py: a refused query is a StorageError (a RuntableError), the driver's error chained.

    (It once leaked pandas.errors.DatabaseError: pandas.read_sql_query wrapped SQLAlchemy's error.)
    """
    with rt.connect(url) as s, pytest.raises(rt.StorageError, match="syntax error"):
        s.query("SELEC 1")


def test_library_wraps_an_unparsable_url() -> None:
    """errors.py: runtable raises one family of exceptions; a bad URL is sqlalchemy's own."""
    with pytest.raises(rt.RuntableError):
        rt.connect("not a url").ls()


# -- sql is read-only unless --write (issue 13) ---------------------------------------------


def _stored_runs(url: str, name: str) -> tuple[int, int]:
    """(n_runs as `runtable ls` reports it, rows of the run table)."""
    with rt.connect(url) as s:
        listed = int(s.ls().set_index("name").loc[name, "n_runs"])
        return listed, len(s.load_experiment(name).runs)


def test_sql_refuses_changes_without_write(
    capsys: pytest.CaptureFixture[str], shared_url: str
) -> None:
    """DELETE, DROP TABLE, a second statement after a COMMIT: refused, exit 1, nothing changed,
    and `ls` and `show` still agree (they did not after a DELETE on main)."""
    with rt.connect(shared_url) as s:
        s.create_experiment("kept").add_runs(x=range(4)).persist()
    for sql in (
        "DELETE FROM e_kept",
        "DROP TABLE e_kept",
        "UPDATE e_kept SET x = 0",
        "SELECT 1; COMMIT; DELETE FROM e_kept",
        "CREATE TABLE scratch (x INTEGER)",
    ):
        code, out, err = run(capsys, "sql", sql, "--url", shared_url)
        assert code == 1, (sql, out, err)
        assert out == ""
        assert err.startswith("runtable: error:")
        # CrateDB refuses a second statement itself ("one statement per request")
        assert "--write" in err or "one statement" in err, err
        assert "Traceback" not in err
        assert _stored_runs(shared_url, "kept") == (4, 4)
    code, out, err = run(capsys, "sql", "SELECT COUNT(*) AS k FROM e_kept", "--url", shared_url)
    assert code == 0, err
    assert table_rows(out, "k")[1] == ["4"]


def test_sql_write_changes_and_says_how_many_rows(
    capsys: pytest.CaptureFixture[str], shared_url: str
) -> None:
    with rt.connect(shared_url) as s:
        s.create_experiment("edits").add_runs(x=range(5)).persist()
    code, out, err = run(
        capsys, "sql", "DELETE FROM e_edits WHERE x >= 3", "--write", "--url", shared_url
    )
    assert code == 0, err
    assert out == "2 rows affected\n"
    code, out, _ = run(
        capsys, "sql", "UPDATE e_edits SET x = 7 WHERE x = 0", "--write", "--url", shared_url
    )
    assert (code, out) == (0, "1 row affected\n")
    code, out, err = run(
        capsys, "sql", "CREATE TABLE scratch (x INTEGER)", "--write", "--url", shared_url
    )
    assert code == 0, err
    assert out.startswith(("done", "0 rows affected", "1 row affected"))  # CrateDB counts 1
    if shared_url.startswith("crate"):  # its writes are seen by queries after a refresh
        run(capsys, "sql", "REFRESH TABLE e_edits", "--write", "--url", shared_url)
    data = records(capsys, "sql", "SELECT x FROM e_edits ORDER BY x", "--url", shared_url)
    assert [r["x"] for r in data] == [1, 2, 7]
    two = "DELETE FROM e_edits WHERE x = 1; DELETE FROM e_edits WHERE x = 2"
    code, _, err = run(capsys, "sql", two, "--write", "--url", shared_url)
    assert code == 1
    assert "one statement" in err  # runtable's words, or CrateDB's "one statement per request"
    data = records(capsys, "sql", "SELECT x FROM e_edits ORDER BY x", "--url", shared_url)
    assert [r["x"] for r in data] == [1, 2, 7]


def test_sql_colons_are_literal(capsys: pytest.CaptureFixture[str], shared_url: str) -> None:
    """No bind parameters in `runtable sql`: ' :word' in a literal is text (and :: a cast)."""
    with rt.connect(shared_url) as s:
        s.create_experiment("colons").add_run(x=1).persist()
    data = records(capsys, "sql", "SELECT ' :word' AS a, x FROM e_colons", "--url", shared_url)
    assert data == [{"a": " :word", "x": 1}]
    if shared_url.startswith("postgresql"):
        data = records(capsys, "sql", "SELECT '3'::int AS k", "--url", shared_url)
        assert data == [{"k": 3}]


def test_sql_read_only_leaves_no_read_only_connection_behind(url: str) -> None:
    """After a read-only `sql`, the same process can still write through the library."""
    assert main(["sql", "SELECT 1 AS one", "--url", url]) == 0
    with rt.connect(url) as s:
        s.create_experiment("after_sql").add_run(x=1).persist()
        assert len(s.load_experiment("after_sql").runs) == 1
        s.delete_experiment("after_sql")


# -- version, did-you-mean, shell wording (issue 13) ------------------------------------------


def test_version_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out == f"runtable {rt.__version__}\n"


def test_unknown_experiment_suggests_close_names(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    for command in (["show", "coin"], ["export", "coin", "-"], ["report", "coin"]):
        code, out, err = run(capsys, *command, "--url", url)
        assert code == 1
        assert out == ""
        assert "no experiment named 'coin'" in err
        assert "did you mean 'coins'?" in err
        assert "`runtable ls`" in err
        assert "session." not in err  # no Python advice to a shell user
    code, _, err = run(capsys, "rm", "flakey", "--yes", "--url", url)
    assert code == 1
    assert "did you mean 'flaky'?" in err
    code, _, err = run(capsys, "show", "zzzzzz", "--url", url)
    assert "did you mean" not in err
    assert "`runtable ls` lists the 2 stored experiments" in err


def test_sort_by_an_array_column_is_a_clear_usage_error(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    for spec in ("tosses", "-tosses"):
        code, out, err = run(capsys, "show", "coins", "--sort", spec, "--url", url)
        assert code == 2
        assert out == ""
        assert "cannot sort by 'tosses': it holds ndarray values" in err
        assert "ambiguous" not in err
        assert "Traceback" not in err


def test_sort_by_values_of_mixed_types(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/mixed.db"
    with rt.connect(url) as s:
        exp = s.create_experiment("mixed").add_runs(i=range(2))
        exp.execute(lambda i: {"v": [1, "a"][i]}).persist()
    code, _, err = run(capsys, "show", "mixed", "--sort", "v", "--url", url)
    assert code == 2
    assert "cannot sort by 'v'" in err
    assert "int, str" in err


# -- show: header, --run, jsonl, markdown, --where in SQL (issue 13) ---------------------------


def test_show_header_counts_statuses(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, err = run(capsys, "show", "flaky", "--url", url)
    assert code == 0, err
    assert out.splitlines()[0].startswith("experiment flaky: 3 runs (2 done, 1 failed), seed 0")
    code, out, _ = run(capsys, "show", "flaky", "--where", "k > 0", "--url", url)
    assert "3 runs (2 done, 1 failed)" in out.splitlines()[0]  # the whole experiment ...
    assert out.splitlines()[0].endswith("; 2 shown")  # ... and what the filter kept


def test_show_one_run_vertically(capsys: pytest.CaptureFixture[str], url: str) -> None:
    failed = records(capsys, "show", "flaky", "--where", "k = 1", "--meta", "--url", url)[0]
    run_id = str(failed["id_run"])
    code, out, err = run(capsys, "show", "flaky", "--run", run_id, "--url", url)
    assert code == 0, err
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"-[ run {run_id} ]"))
    labels = [line.split("|", 1)[0].strip() for line in lines[start + 1 :]]
    assert [label for label in labels if label][:5] == ["id_run", *META_COLUMNS]
    assert "k" in labels
    width = max(map(len, ["id_run", *META_COLUMNS]))
    assert lines[start + 1].split(" | ") == ["id_run".ljust(width), run_id]
    assert lines[start + 2].split(" | ")[1] == "failed"
    assert "Traceback (most recent call last):" in out  # the whole error, not its last line
    assert "ValueError: bad k" in out
    assert "second line" in out
    data = records(capsys, "show", "flaky", "--run", run_id, "--url", url)
    assert [r["id_run"] for r in data] == [failed["id_run"]]
    assert data[0][STATUS_COLUMN] == "failed"
    code, out, err = run(capsys, "show", "flaky", "--run", "123456789", "--url", url)
    assert code == 1
    assert "experiment flaky has no run 123456789" in err
    assert run(capsys, "show", "flaky", "--run", "x", "--url", url)[0] == 2


def test_show_jsonl_and_markdown(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, err = run(capsys, "show", "coins", "--format", "jsonl", "--url", url)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 6
    rows = [json.loads(line) for line in lines]
    assert rows == records(capsys, "show", "coins", "--url", url)
    code, out, err = run(capsys, "show", "coins", "--format", "markdown", "--url", url)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "| id_run | n | trial | tosses | err |"
    assert lines[1] == "| ---: | ---: | ---: | --- | ---: |"
    assert len(lines) == 2 + 6
    assert "| ndarray(shape=(10,), dtype=bool) |" in lines[2]
    assert "note = fair" not in out  # data only, like csv and json


def test_markdown_escapes_pipes(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, _ = run(capsys, "sql", "SELECT 'a|b' AS t", "--format", "markdown", "--url", url)
    assert code == 0
    assert out.splitlines() == ["| t |", "| --- |", "| a\\|b |"]


def test_show_where_runs_in_the_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--where is part of the load: a damaged run that the condition leaves out is never read
    (on main, show loaded every run first and failed on it)."""
    url = f"sqlite:///{tmp_path}/damaged.db"
    with rt.connect(url) as s:
        exp = s.create_experiment("damaged").add_runs(i=range(3))
        exp.execute(lambda i: {"a": np.arange(i + 5)}).persist()
        ids = [r.id for r in exp.runs]
    bad = ids[2]
    with rt.connect(url) as s:  # damage one stored cell (not through runtable's API)
        s.query(f"UPDATE e_damaged SET a = X'00ff' WHERE id_run = {bad}")
    code, _, err = run(capsys, "show", "damaged", "--url", url)
    assert code == 1
    assert "cannot be decoded" in err
    code, out, err = run(capsys, "show", "damaged", "--where", f"id_run <> {bad}", "--url", url)
    assert code == 0, err
    assert [int(r[0]) for r in table_rows(out)[1:]] == ids[:2]
    data = records(capsys, "show", "damaged", "--where", "i < 2", "--columns", "a", "--url", url)
    assert [r["id_run"] for r in data] == ids[:2]


# -- one encoding of values for show, sql and export (issue 13) ------------------------------


@pytest.fixture(scope="module")
def values_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Experiment "vals": one run holding each kind of value the encoder must treat alike."""
    import datetime as dt
    import decimal
    import uuid

    url = f"sqlite:///{tmp_path_factory.mktemp('values')}/v.db"
    with rt.connect(url) as s:
        exp = s.create_experiment("vals").add_run(k=1)

        @exp.step
        def fill(run: rt.Run) -> None:
            f = run.fields
            f.negzero = -0.0
            f.when = dt.datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=dt.UTC)
            f.day = dt.date(2026, 1, 2)
            f.price = decimal.Decimal("19.99")
            f.uid = uuid.UUID(int=7)
            f.cfg = {"lr": 0.1, "layers": [2, 3], "name": "x"}
            f.small = np.arange(3)
            f.grid = np.zeros((3, 2))
            f.z = 1 + 2j
            f.huge = 7**6000  # 5,071 digits: beyond Python's int-to-str limit

        exp.execute().persist()
    return url


HUGE = 7**6000


def _json_forms(capsys: pytest.CaptureFixture[str], url: str) -> dict[str, dict[str, object]]:
    """The one run of "vals" as show, sql and export write it in JSON."""
    import sys as _sys

    old = _sys.get_int_max_str_digits()
    _sys.set_int_max_str_digits(0)  # to read the huge int back; writing needs no such thing
    try:
        forms = {
            "show": records(capsys, "show", "vals", "--url", url)[0],
            "sql": records(capsys, "sql", "SELECT * FROM e_vals", "--url", url)[0],
        }
        code, out, err = run(capsys, "export", "vals", "-", "--format", "json", "--url", url)
        assert code == 0, err
        forms["export"] = json.loads(out)[0]
        code, out, err = run(capsys, "export", "vals", "-", "--format", "jsonl", "--url", url)
        assert code == 0, err
        forms["export jsonl"] = json.loads(out)
    finally:
        _sys.set_int_max_str_digits(old)
    return forms


def test_one_json_encoding_for_show_sql_and_export(
    capsys: pytest.CaptureFixture[str], values_url: str
) -> None:
    forms = _json_forms(capsys, values_url)
    shown = forms["show"]
    assert forms["export"] == forms["export jsonl"] == shown
    assert str(json.dumps(shown["negzero"])) == "-0.0"  # the sign is kept
    assert shown["when"] == "2026-01-02T03:04:05.600000+00:00"
    assert shown["day"] == "2026-01-02"
    assert shown["price"] == 19.99  # a number, not "Decimal('19.99')"
    assert shown["uid"] == "00000000-0000-0000-0000-000000000007"
    assert shown["cfg"] == {"lr": 0.1, "layers": [2, 3], "name": "x"}
    assert shown["small"] == "ndarray(shape=(3,), dtype=int64)"
    assert shown["z"] == {"real": 1.0, "imag": 2.0}
    assert shown["huge"] == HUGE
    # sql reads the raw columns: plain ones are the same values
    for key in ("negzero", "k", "id_run"):
        assert forms["sql"][key] == shown[key]


def test_json_keeps_the_sign_of_negative_zero_and_decimal_digits(
    capsys: pytest.CaptureFixture[str], values_url: str
) -> None:
    code, out, _ = run(
        capsys,
        "show",
        "vals",
        "--format",
        "jsonl",
        "--columns",
        "negzero,price",
        "--url",
        values_url,
    )
    assert code == 0
    assert out.strip().endswith('"negzero": -0.0, "price": 19.99}')


def test_csv_cells_are_one_line_json_not_python_reprs(
    capsys: pytest.CaptureFixture[str], values_url: str
) -> None:
    code, out, err = run(capsys, "show", "vals", "--format", "csv", "--url", values_url)
    assert code == 0, err
    assert len(out.splitlines()) == 2  # no multi-line array reprs
    row = next(csv.DictReader(io.StringIO(out)))
    assert json.loads(row["cfg"]) == {"lr": 0.1, "layers": [2, 3], "name": "x"}
    assert row["price"] == "19.99"
    assert row["uid"] == "00000000-0000-0000-0000-000000000007"
    assert row["negzero"] == "-0.0"
    assert row["when"] == "2026-01-02T03:04:05.600000+00:00"
    assert row["grid"] == "ndarray(shape=(3, 2), dtype=float64)"
    assert len(row["huge"]) == 5071
    code, out, err = run(capsys, "export", "vals", "-", "--full", "--url", values_url)
    assert code == 0, err
    assert len(out.splitlines()) == 2
    row = next(csv.DictReader(io.StringIO(out)))
    assert json.loads(row["grid"]) == [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
    assert json.loads(row["small"]) == [0, 1, 2]


def test_tables_show_values_not_reprs(capsys: pytest.CaptureFixture[str], values_url: str) -> None:
    columns = "price,uid,cfg,huge"
    code, out, err = run(capsys, "show", "vals", "--columns", columns, "--url", values_url)
    assert code == 0, err
    assert "Decimal(" not in out
    assert "UUID(" not in out
    assert "int(5071 digits)" in out
    code, out, err = run(capsys, "show", "vals", "--format", "markdown", "--url", values_url)
    assert code == 0, err
    assert '{"lr": 0.1, "layers": [2, 3], "name": "x"}' in out
    assert "| 19.99 |" in out


def test_huge_int_in_show_export_and_report(
    capsys: pytest.CaptureFixture[str], values_url: str, tmp_path: Path
) -> None:
    """Issue 14 item 15: an int of 5,071 digits broke show, export and report."""
    for fmt in ("table", "csv", "markdown", "jsonl"):
        code, _, err = run(capsys, "show", "vals", "--format", fmt, "--url", values_url)
        assert code == 0, (fmt, err)
    for name in ("v.csv", "v.json", "v.jsonl"):
        code, _, err = run(capsys, "export", "vals", str(tmp_path / name), "--url", values_url)
        assert code == 0, (name, err)
    text = (tmp_path / "v.csv").read_text()
    digits = next(csv.DictReader(io.StringIO(text)))["huge"]
    assert len(digits) == 5071
    assert int(digits[:50]) == HUGE // 10 ** (5071 - 50)
    code, _, err = run(
        capsys, "report", "vals", "-o", str(tmp_path / "r.html"), "--url", values_url
    )
    assert code == 0, err
    assert (tmp_path / "r.html").stat().st_size > 0


def test_parquet_holds_complex_and_huge_values(
    capsys: pytest.CaptureFixture[str], values_url: str, tmp_path: Path
) -> None:
    """Issue 14 item 18: a complex field made `export x.parquet` fail with
    ArrowNotImplementedError. Complex values are now {real, imag} structs."""
    pytest.importorskip("pyarrow")
    target = tmp_path / "v.parquet"
    code, _, err = run(capsys, "export", "vals", str(target), "--url", values_url)
    assert code == 0, err
    row = pd.read_parquet(target).iloc[0]
    assert dict(row["z"]) == {"real": 1.0, "imag": 2.0}
    assert len(row["huge"]) == 5071  # as its digits: parquet has no such integers
    assert row["price"] == __import__("decimal").Decimal("19.99")
    assert row["uid"] == "00000000-0000-0000-0000-000000000007"
    assert str(row["negzero"]) == "-0.0"


def test_complex_column_of_numpy_dtype_to_parquet(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pytest.importorskip("pyarrow")
    url = f"sqlite:///{tmp_path}/c.db"
    with rt.connect(url) as s:
        exp = s.create_experiment("cplx").add_runs(i=range(3))
        exp.execute(lambda i: {"z": complex(i, -i)}).persist()
    target = tmp_path / "c.parquet"
    code, _, err = run(capsys, "export", "cplx", str(target), "--url", url)
    assert code == 0, err
    assert [dict(v) for v in pd.read_parquet(target)["z"]] == [
        {"real": float(i), "imag": float(-i)} for i in range(3)
    ]


# -- report -o and export never overwrite what they should not (issue 14 item 16) ------------


def test_report_refuses_to_overwrite_the_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "results.db"
    url = f"sqlite:///{db}"
    with rt.connect(url) as s:
        s.create_experiment("r").add_runs(x=range(3)).persist()
    before = db.read_bytes()
    for extra in ([], ["--force"]):
        code, out, err = run(capsys, "report", "r", "-o", str(db), *extra, "--url", url)
        assert code == 1
        assert out == ""
        assert "the database it is read from" in err
        assert db.read_bytes() == before
    code, _, err = run(capsys, "export", "r", str(db), "--format", "csv", "--url", url)
    assert code == 1
    assert "the database it is read from" in err
    assert db.read_bytes() == before
    with rt.connect(url) as s:
        assert len(s.load_experiment("r").runs) == 3


def test_report_overwrites_only_earlier_reports_unless_forced(
    capsys: pytest.CaptureFixture[str], url: str, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.html"
    notes.write_text("<p>my notes</p>")
    code, _, err = run(capsys, "report", "coins", "-o", str(notes), "--url", url)
    assert code == 1
    assert "not an earlier runtable report" in err
    assert "--force" in err
    assert notes.read_text() == "<p>my notes</p>"
    code, _, err = run(capsys, "report", "coins", "-o", str(notes), "--force", "--url", url)
    assert code == 0, err
    assert notes.read_text().startswith("<!DOCTYPE html>")
    code, _, err = run(capsys, "report", "flaky", "-o", str(notes), "--url", url)
    assert code == 0, err  # an earlier report is replaced without --force
    assert "flaky" in notes.read_text()
    code, _, err = run(capsys, "report", "coins", "-o", str(tmp_path), "--url", url)
    assert code == 1
    assert "directory" in err


def test_cratedb_read_only_rule_reads_the_first_word() -> None:
    """CrateDB has no read-only transactions: `runtable sql` runs only statements whose first
    word (after comments and parentheses) is a read. The rule itself, without a server."""
    from runtable.sqlshell import CRATE_READS, _first_word

    reads = [
        "SELECT 1",
        "  select * from e_x",
        "-- note\nSELECT 1",
        "/* a\nb */ WITH q AS (SELECT 1) SELECT * FROM q",
        "(SELECT 1) UNION (SELECT 2)",
        "EXPLAIN SELECT 1",
        "SHOW TABLES",
    ]
    writes = ["DELETE FROM e_x", "DROP TABLE e_x", "-- SELECT\nDELETE FROM e_x", "", "INSERT"]
    assert all(_first_word(sql) in CRATE_READS for sql in reads)
    assert not any(_first_word(sql) in CRATE_READS for sql in writes)


def test_text_with_a_lone_surrogate_is_written_escaped() -> None:
    """A str field may hold a lone surrogate (runtable stores it exactly); UTF-8 output cannot:
    JSON writes the standard escape, CSV and tables a backslash escape, instead of failing."""
    from runtable.export import csv_cell, json_text, table_cell

    value = "a\ud800b"
    assert json.loads(json_text(value)) == value  # exact through JSON
    assert json_text({"k": value}).encode("utf-8")
    assert csv_cell(value) == "a\\ud800b"
    assert table_cell(value) == "a\\ud800b"
    assert csv_cell(["x", value]).encode("utf-8")


def test_tables_show_missing_text_blank(capsys: pytest.CaptureFixture[str], url: str) -> None:
    """The error of a run that did not fail is missing: blank in tables (it showed NaN)."""
    code, out, err = run(capsys, "show", "flaky", "--meta", "--columns", ERROR_COLUMN, "--url", url)
    assert code == 0, err
    rows = out.splitlines()[-3:]
    assert [len(r.split()) for r in rows] == [1, 4, 1]  # id only; id and "ValueError: bad k"
    assert "NaN" not in out
    assert "None" not in out
