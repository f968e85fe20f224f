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
    assert [r[0] for r in rows[1:]] == ["0", "1", "2", "3", "4", "5"]


def test_show_columns(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, err = run(capsys, "show", "coins", "--columns", "n,err", "--url", url)
    assert code == 0, err
    rows = table_rows(out)
    assert rows[0] == ["id_run", "n", "err"]
    assert len(rows) == 7
    assert "ndarray" not in out


def test_show_where_keeps_matching_runs(capsys: pytest.CaptureFixture[str], url: str) -> None:
    data = records(capsys, "show", "coins", "--where", "n > 10", "--url", url)
    assert [r["id_run"] for r in data] == [3, 4, 5]
    assert {r["n"] for r in data} == {100}
    code, out, _ = run(capsys, "show", "coins", "--where", "n > 10 AND trial = 1", "--url", url)
    assert code == 0
    assert [r[0] for r in table_rows(out)[1:]] == ["4"]


def test_show_sort_descending_and_ascending(capsys: pytest.CaptureFixture[str], url: str) -> None:
    down = [r["err"] for r in records(capsys, "show", "coins", "--sort", "-err", "--url", url)]
    assert down == sorted(down, reverse=True)  # type: ignore[type-var]
    up = [r["err"] for r in records(capsys, "show", "coins", "--sort=err", "--url", url)]
    assert up == sorted(up)  # type: ignore[type-var]
    assert up != down


def test_show_limit(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, _ = run(capsys, "show", "coins", "--limit", "2", "--url", url)
    assert code == 0
    assert [r[0] for r in table_rows(out)[1:]] == ["0", "1"]
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
    assert [r["status"] for r in data] == ["done", "failed", "done"]
    assert "Traceback" in str(data[1]["error"])  # json keeps the full text
    assert str(data[0]["started_at"]).count("T") == 1


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
    assert code == 1
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
    assert [r["status"] for r in data] == ["done", "failed", "done"]
    assert data[0]["frame"] == [{"a": 1, "b": 4}, {"a": 2, "b": 5}, {"a": 3, "b": 6}]
    assert data[0]["blob"] == "bytes(1024)"
    assert data[1]["frame"] is None  # the failed run has no fields
    assert "Traceback" in data[1]["error"]
    assert pd.Timestamp(data[0]["started_at"]).year >= 2024


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
    assert pd.read_parquet(flaky)["status"].tolist() == ["done", "failed", "done"]


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
