"""The ``runtable`` command line, through ``main([...])`` and once through the real entry point."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import subprocess
import sys
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
    code, out, _ = run(capsys, "sql", "SELECT * FROM e_flaky", "--url", url)
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
