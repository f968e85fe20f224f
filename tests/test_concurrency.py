"""Concurrency campaign: real processes writing and reading one database at the same time.

Every test runs on a SQLite file and on a real PostgreSQL server (``shared_url``). Writers are
tests/campaign/writer.py processes that warm up, then wait at a file barrier before each round,
so that their writes start within a millisecond of each other. Whatever happens, each writer
must either succeed or get a clear runtable error (ExperimentExistsError, ConflictError), and
afterwards every experiment must load and be consistent.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from campaign.checks import (
    WRITER,
    check_sweep,
    index,
    script_env,
    start_sweep,
    statuses,
    sweep_uninterrupted,
)
from campaign.tally import record
from conftest import empty_cratedb

import runtable as rt

#: Errors that say clearly what happened when two writers meet; anything else is a bug.
CLEAR = {"ExperimentExistsError", "ConflictError"}


def race(
    url: str, mode: str, rounds: int, barrier: Path, writers: str = "ab"
) -> list[dict[str, Any]]:
    """Run one writer process per letter of ``writers`` in ``mode`` for ``rounds`` rounds,
    releasing each round once every writer is ready; return their outcomes."""
    barrier.mkdir()
    children = {
        tag: subprocess.Popen(
            [sys.executable, str(WRITER), url, tag, mode, str(rounds), str(barrier)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=script_env(),
        )
        for tag in writers
    }
    try:
        for k in range(rounds):
            deadline = time.monotonic() + 120
            while not all((barrier / f"ready_{tag}_{k}").exists() for tag in writers):
                for tag, child in children.items():
                    if child.poll() is not None:
                        _, err = child.communicate()
                        pytest.fail(f"writer {tag} ended early in round {k}:\n{err}")
                assert time.monotonic() < deadline, f"writers never got ready for round {k}"
                time.sleep(0.001)
            (barrier / f"go_{k}").touch()
        outcomes = []
        for tag, child in children.items():
            out, err = child.communicate(timeout=300)
            assert child.returncode == 0, f"writer {tag} failed:\n{err}"
            outcomes += [json.loads(line) for line in out.splitlines()]
    finally:
        for child in children.values():
            if child.poll() is None:
                child.kill()
                child.wait()
    assert len(outcomes) == rounds * len(writers)
    return outcomes


def unclear(outcomes: list[dict[str, Any]]) -> list[str]:
    """The outcomes that are neither a success nor a clear error, for the failure message."""
    return [
        f"round {o['round']} writer {o['writer']}: {o['error']}: {o['message']}"
        for o in outcomes
        if not o["ok"] and o["error"] not in CLEAR
    ]


@pytest.mark.slow
def test_two_processes_persist_different_experiments_at_once(
    shared_url: str, tmp_path: Path
) -> None:
    """Each writer persists 20 experiments, one per round, both at once every round."""
    session = rt.connect(shared_url)
    session.create_experiment("base").add_runs(x=range(3)).persist()  # tables exist already
    rounds = 20
    outcomes = race(shared_url, "many", rounds, tmp_path / "barrier")
    record("test_concurrency.py::many", faults=rounds, inputs=2 * rounds)
    failed = [o for o in outcomes if not o["ok"]]
    assert not failed, failed

    names = sorted(session.ls()["name"])
    assert names == sorted(["base", *(f"{tag}_{k}" for tag in "ab" for k in range(rounds))])
    for name in names:
        if name != "base":
            _check_many(session, name)
    assert [r.params.x for r in session.load_experiment("base").runs] == [0, 1, 2]
    session.close()


@pytest.mark.slow
def test_two_processes_persisting_first_into_an_empty_database(
    shared_url: str, tmp_path: Path
) -> None:
    """The first persists into an empty database (no ``experiments`` table yet), both at once:
    a new database every round (a new SQLite file; a new PostgreSQL schema)."""
    rounds = 6
    import sqlalchemy as sa

    crate_schemas: list[str] = []
    if shared_url.startswith("sqlite"):
        template = f"sqlite:///{tmp_path}/fresh_{{round}}.db"
        schemas: list[str] = []
    elif shared_url.startswith("crate"):
        # CrateDB makes a schema when a table is created in it (CREATE SCHEMA needs 6.2+);
        # sqlalchemy-cratedb takes the default schema from the URL's `schema`.
        schemas = []
        crate_schemas = [f"campaign_fresh_{k}" for k in range(rounds)]
        url = sa.make_url(shared_url).update_query_dict({"schema": "campaign_fresh_ROUND"})
        template = url.render_as_string(hide_password=False).replace("ROUND", "{round}")
    else:
        schemas = [f"campaign_fresh_{k}" for k in range(rounds)]
        engine = sa.create_engine(shared_url)
        with engine.begin() as conn:
            for schema in schemas:
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
                conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        url = sa.make_url(shared_url).update_query_dict(
            {"options": "-csearch_path=campaign_fresh_ROUND"}
        )
        template = url.render_as_string(hide_password=False).replace("ROUND", "{round}")
    try:
        outcomes = race(template, "fresh", rounds, tmp_path / "barrier")
        record("test_concurrency.py::fresh", faults=rounds, inputs=2 * rounds)
        failed = [
            f"round {o['round']} writer {o['writer']}: {o['message']}"
            for o in outcomes
            if not o["ok"]
        ]
        assert not failed, "\n".join(failed)
        for k in range(rounds):
            with rt.connect(template.replace("{round}", str(k))) as session:
                assert sorted(session.ls()["name"]) == [f"a_{k}", f"b_{k}"]
                for tag in "ab":
                    _check_many(session, f"{tag}_{k}")
    finally:
        if schemas:
            with engine.begin() as conn:
                for schema in schemas:
                    conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            engine.dispose()
        for k, schema in enumerate(crate_schemas):
            empty_cratedb(template.replace("{round}", str(k)), schema)


def _check_many(session: rt.Session, name: str) -> None:
    """An experiment of writer mode "many" or "fresh", loaded back whole."""
    tag, k = name.split("_")
    loaded = session.load_experiment(name)
    assert dict(loaded.fields) == {"writer": tag, "round": int(k)}
    assert [r.params.x for r in loaded.runs] == list(range(10))
    for run in loaded.runs:
        assert run.status == "done"
        assert run.fields.y == run.params.x * 1.5
        np.testing.assert_array_equal(run.fields.path, np.arange(run.params.x + 1.0))


@pytest.mark.slow
def test_two_processes_creating_the_same_experiment_one_wins_one_is_told(
    shared_url: str, tmp_path: Path
) -> None:
    rounds = 6
    outcomes = race(shared_url, "fail", rounds, tmp_path / "barrier")
    record("test_concurrency.py::fail", faults=rounds, inputs=2 * rounds)
    assert not unclear(outcomes), "\n".join(unclear(outcomes))

    session = rt.connect(shared_url)
    for k in range(rounds):
        mine = [o for o in outcomes if o["round"] == k]
        winners = [o["writer"] for o in mine if o["ok"]]
        assert len(winners) == 1, mine  # never both: that would be a silent overwrite
        assert [o["error"] for o in mine if not o["ok"]] == ["ExperimentExistsError"]
        loaded = session.load_experiment(f"same_{k}")
        assert dict(loaded.fields) == {"writer": winners[0]}
        assert [(r.params.x, r.fields.y, r.status) for r in loaded.runs] == [
            (x, x * 1.5, "done") for x in range(10)
        ]
    session.close()


@pytest.mark.slow
def test_two_processes_appending_the_same_runs_merge_run_by_run(
    shared_url: str, tmp_path: Path
) -> None:
    """Both writers execute the same 20-run grid with persist=True and if_exists="append".
    Either may get a ConflictError; otherwise each run ends up as one writer wrote it, whole."""
    rounds = 6
    outcomes = race(shared_url, "append", rounds, tmp_path / "barrier")
    record("test_concurrency.py::append", faults=rounds, inputs=2 * rounds)
    assert not unclear(outcomes), "\n".join(unclear(outcomes))

    session = rt.connect(shared_url)
    for k in range(rounds):
        winners = {o["writer"] for o in outcomes if o["round"] == k and o["ok"]}
        assert winners, f"round {k}: neither writer stored anything"
        name = f"app_{k}"
        loaded = session.load_experiment(name)
        assert [r.params.x for r in loaded.runs] == list(range(20))
        assert statuses(session, name) == {"done": 20}
        assert session.ls().set_index("name").loc[name, "n_runs"] == 20
        for run in loaded.runs:
            fields = dict(run.fields)
            assert fields.pop("y") == run.params.x * 1.5
            assert len(fields) == 1, (run.id, fields)  # written whole by one writer
            ((writer, value),) = fields.items()
            assert writer in winners
            assert value == k
    session.close()


@pytest.mark.slow
def test_two_processes_replacing_the_same_experiment_leave_one_whole_version(
    shared_url: str, tmp_path: Path
) -> None:
    rounds = 6
    outcomes = race(shared_url, "replace", rounds, tmp_path / "barrier")
    record("test_concurrency.py::replace", faults=rounds, inputs=2 * rounds)
    assert not unclear(outcomes), "\n".join(unclear(outcomes))

    session = rt.connect(shared_url)
    for k in range(rounds):
        loaded = session.load_experiment(f"rep_{k}")
        writer = loaded.fields.writer
        assert {o["writer"] for o in outcomes if o["round"] == k and o["ok"]} >= {writer}
        n = 10 if writer == "a" else 15
        assert [(r.params.x, r.fields.y, r.fields.writer) for r in loaded.runs] == [
            (x, x * 1.5, writer) for x in range(n)
        ]
        assert session.ls().set_index("name").loc[f"rep_{k}", "n_runs"] == n
    session.close()


def _runtable_command() -> list[str]:
    script = Path(sys.executable).with_name("runtable")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "runtable.cli"]


@pytest.mark.slow
def test_readers_work_while_a_sweep_writes(shared_url: str) -> None:
    """load_experiment, session.query and the command line (`runtable ls`, `runtable sql`) in
    a loop while a sweep subprocess persists its runs: every read succeeds and is consistent,
    and the count of done runs only grows."""
    a, b = 20, 20
    reference = {index(r): dict(r.fields) for r in sweep_uninterrupted(a, b).runs}
    child = start_sweep(shared_url, "live", a, b, RUNTABLE_SWEEP_SLEEP="0.006")
    session = rt.connect(shared_url)
    loads: list[int] = []
    queries: list[int] = []
    cli_ls: list[int] = []
    cli_sql: list[int] = []
    cli: tuple[str, subprocess.Popen[str]] | None = None
    runtable = [*_runtable_command(), "--url", shared_url]
    commands = {
        "ls": [*runtable, "ls", "--format", "json"],
        "sql": [*runtable, "sql", DONE_SQL, "--format", "json"],
    }
    try:
        while child.poll() is None or cli is not None:
            if cli is not None and cli[1].poll() is not None:
                what, proc = cli
                out, err = proc.communicate()
                assert proc.returncode == 0, f"runtable {what}: {err}"
                rows = json.loads(out)
                if what == "sql":
                    cli_sql.append(int(rows[0]["n"]))
                else:
                    cli_ls += [int(row["n_runs"]) for row in rows if row["name"] == "live"]
                cli = None
            if cli is None and child.poll() is None and loads:  # once the table exists
                what = "sql" if len(cli_ls) > len(cli_sql) else "ls"
                cli = (
                    what,
                    subprocess.Popen(
                        commands[what],
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                        env=script_env(),
                    ),
                )
            if child.poll() is not None:
                continue
            try:
                done = check_sweep(session, "live", a * b, reference)
            except rt.ExperimentNotFoundError:
                continue  # not created yet
            loads.append(len(done))
            by_status = statuses(session, "live")
            assert sum(by_status.values()) == a * b
            queries.append(by_status.get("done", 0))
            time.sleep(0.01)  # leave the writer some of the two cores
    finally:
        for proc in (child, cli[1] if cli else None):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    out, err = child.communicate()
    assert child.returncode == 0, err
    assert "finished" in out
    reads = len(loads) + len(queries) + len(cli_ls) + len(cli_sql)
    record("test_concurrency.py::readers", inputs=reads)

    for counts in (loads, queries, cli_sql):
        assert counts == sorted(counts)
    assert cli_ls, "no `runtable ls` finished while the sweep ran"
    assert set(cli_ls) == {a * b}  # the whole grid, always
    assert len(loads) >= 3
    assert any(0 < n < a * b for n in loads), f"no read saw the sweep in progress: {loads}"
    assert check_sweep(session, "live", a * b, reference) == set(reference)
    session.close()


DONE_SQL = "SELECT COUNT(*) AS n FROM e_live WHERE runtable_status = 'done'"


def read_while_writing(
    url: str, mode: str, rounds: int, name: str, check: Callable[[rt.Experiment], str | None]
) -> tuple[list[int], list[str]]:
    """Start a writer process (campaign/writer.py MODE ROUNDS) and load experiment ``name`` in
    a loop until it ends; return the number of runs of each load and what ``check`` found
    wrong with each (None: nothing)."""
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), url, "w", mode, str(rounds), "-"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=script_env(),
    )
    session = rt.connect(url)
    sizes: list[int] = []
    wrong: list[str] = []
    try:
        while writer.poll() is None:
            try:
                loaded = session.load_experiment(name)
            except rt.ExperimentNotFoundError:
                continue
            sizes.append(len(loaded.runs))
            problem = check(loaded)
            if problem is not None:
                wrong.append(f"load {len(sizes)}: {problem}")
    finally:
        if writer.poll() is None:
            writer.kill()
        out, err = writer.communicate()
        session.close()
    assert writer.returncode == 0, err
    assert "finished" in out
    return sizes, wrong


@pytest.mark.slow
def test_a_reader_never_sees_half_of_a_commit(shared_url: str) -> None:
    """A writer appends 100 runs one commit at a time, each with a new field column; a reader
    loads the experiment in a loop meanwhile. Every load must be one committed state: each run
    that is there has its field (a load that reads the column list before a commit and the
    rows after it shows runs without their fields)."""
    # each append rewrites the runs stored before it: 30 rounds keep the stand-in's run short
    # (100 took 68 s there on the shared 2-core machine, 30 take about 7 s)
    rounds = 30 if shared_url.startswith("crate") else 100

    def torn(loaded: rt.Experiment) -> str | None:
        for run in loaded.runs:
            k = run.params.x
            if dict(run.fields) != {f"f{k}": k}:
                return f"run {run.id} has fields {dict(run.fields)}"
        return None

    sizes, wrong = read_while_writing(shared_url, "grow", rounds, "grow", torn)
    record("test_concurrency.py::torn_reads", faults=rounds, inputs=len(sizes))
    assert not wrong, f"{len(wrong)} torn reads in {len(sizes)} loads, e.g. " + "; ".join(wrong[:3])
    assert sizes == sorted(sizes)
    with rt.connect(shared_url) as session:
        assert len(session.load_experiment("grow").runs) == rounds + 1


@pytest.mark.slow
def test_a_reader_during_replaces_sees_a_whole_version(shared_url: str) -> None:
    """Issue 14 #1: on PostgreSQL a load during another process's replace returned the
    experiment with 0 runs (its snapshot held the old experiments row while the table name
    already meant the new table). Every load must be the old or the new version, whole."""
    rounds = 30

    def partial(loaded: rt.Experiment) -> str | None:
        runs = list(loaded.runs)
        if len(runs) not in (10, 15) or any(r.fields.n != len(runs) for r in runs):
            return f"{len(runs)} runs"
        return None

    sizes, wrong = read_while_writing(shared_url, "swap", rounds, "swap", partial)
    record("test_concurrency.py::replace_reads", faults=rounds, inputs=len(sizes))
    assert sizes, "the reader never loaded the experiment"
    assert not wrong, f"{len(wrong)} of {len(sizes)} loads were not whole: {wrong[:3]}"
