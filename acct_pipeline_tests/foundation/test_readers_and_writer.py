"""Readers never collide with the writer (issue 25).

While another process holds the warehouse (a run writing), the read-only commands answer from
the last published read copy, and a second writer waits for it, then proceeds, or gives up after
``ACCT_WRITER_WAIT_SECONDS`` with one line naming the process that holds the lock.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from acct_pipeline import read_copy, warehouse

CLI = [sys.executable, "-m", "acct_pipeline.cli"]
CLI_TIMEOUT = 180  # seconds: a bound on a hung command, not a timing assertion

# A run in the middle of writing: it has opened the warehouse read-write and committed a new
# day's scores that no published copy holds yet; it keeps the file until told to stop.
WRITER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute(
    "INSERT INTO scores.account_scores "
    "SELECT * REPLACE (as_of_date + 1 AS as_of_date) FROM scores.account_scores "
    "WHERE as_of_date = (SELECT max(as_of_date) FROM scores.account_scores)"
)
print("writing", flush=True)
sys.stdin.readline()
"""


def _env(tmp: Path, db: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != read_copy.READ_COPY_ENV}
    env.update(
        ACCT_WAREHOUSE=str(db),
        DAGSTER_HOME=str(tmp / "dagster_home"),
        ACCT_SYNC_OUTBOX_DIR=str(tmp / "outbox"),
        ACCT_ALERT_LOG=str(tmp / "alerts.jsonl"),
        ACCT_REPORTS_DIR=str(tmp / "reports"),
        **extra,
    )
    return env


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        CLI + args, env=env, cwd=cwd, capture_output=True, text=True, timeout=CLI_TIMEOUT
    )


@pytest.fixture
def published(scored_warehouse: Path, tmp_path: Path) -> tuple[Path, date, str]:
    """A private copy of the shared warehouse and of the read copy its run published."""
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(scored_warehouse, db)
    shutil.copy(read_copy.read_copy_path(scored_warehouse), read_copy.read_copy_path(db))
    with duckdb.connect(str(db), read_only=True) as con:
        day, account = con.execute(
            "SELECT as_of_date, min(account_id) FROM scores.account_scores "
            "WHERE as_of_date = (SELECT max(as_of_date) FROM scores.account_scores) "
            "AND tier IS NOT NULL GROUP BY 1"
        ).fetchone()
    return db, day, account


@pytest.fixture
def writer(published: tuple[Path, date, str]) -> Iterator[subprocess.Popen]:
    """Another process writing the warehouse (holding its lock) until the test ends."""
    db = published[0]
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_the_daily_run_publishes_a_read_copy_without_the_raw_events(
    scored_warehouse: Path,
) -> None:
    copy = read_copy.read_copy_path(scored_warehouse)
    assert copy.exists(), "the daily job did not publish the read copy"
    with (
        duckdb.connect(str(scored_warehouse), read_only=True) as wh,
        duckdb.connect(str(copy), read_only=True) as ro,
    ):
        q = "SELECT count(*), max(as_of_date) FROM scores.account_scores"
        assert ro.execute(q).fetchone() == wh.execute(q).fetchone()
        assert warehouse.table_exists(ro, warehouse.ACCOUNT_SIGNALS)
        assert warehouse.table_exists(ro, warehouse.CRM_SYNC_LEDGER)
        assert warehouse.table_exists(ro, warehouse.QUARANTINE)
        assert not warehouse.table_exists(ro, warehouse.PRODUCT_EVENTS.qualified)
        assert read_copy.published_at(ro) is not None


def test_readers_answer_from_the_published_day_while_a_run_writes(
    published: tuple[Path, date, str], writer: subprocess.Popen, tmp_path: Path
) -> None:
    db, day, account = published
    env = _env(tmp_path, db)
    # the writer's new day is in the warehouse, invisible to readers until it is published
    answers = {
        "summary": (["summary"], f"tiers on {day}"),
        "explain": (["explain", account], f"as of {day}"),
        "sync --dry-run": (["sync", "--dry-run"], f"for {day}"),
        "alerts": (["alerts"], f"{day}: "),
    }
    for name, (args, expected) in answers.items():
        done = _cli(args, env, tmp_path)
        assert done.returncode == 0, f"{name}: exit {done.returncode}\n{done.stdout}{done.stderr}"
        assert expected in done.stdout, f"{name} did not answer for {day}:\n{done.stdout}"
        assert "Traceback" not in done.stderr, done.stderr
        assert "waiting for" not in done.stderr, f"{name} waited for the writer"


def test_a_second_writer_gives_up_with_one_line_naming_the_lock_holder(
    published: tuple[Path, date, str], writer: subprocess.Popen, tmp_path: Path
) -> None:
    db = published[0]
    done = _cli(["sync"], _env(tmp_path, db, ACCT_WRITER_WAIT_SECONDS="1"), tmp_path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("acct-pipeline sync: ")
    assert f"PID {writer.pid}" in last and "ACCT_WRITER_WAIT_SECONDS" in last
    assert not (tmp_path / "outbox").exists()  # nothing was sent


def test_a_second_writer_waits_then_proceeds_and_publishes(
    published: tuple[Path, date, str], writer: subprocess.Popen, tmp_path: Path
) -> None:
    db, day, _ = published
    env = _env(tmp_path, db, ACCT_WRITER_WAIT_SECONDS="600")
    proc = subprocess.Popen(
        CLI + ["sync", "--force"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        lines = []  # read until the sync says it waits (blocks meanwhile)
        while not lines or ("waiting for" not in lines[-1] and lines[-1]):
            lines.append(proc.stderr.readline())
        assert f"waiting for PID {writer.pid}" in lines[-1], "".join(lines)
        assert proc.poll() is None  # still waiting: nothing was written meanwhile
        assert writer.stdin is not None
        writer.stdin.write("done\n")
        writer.stdin.flush()
        writer.wait(timeout=60)
        out, err = proc.communicate(timeout=CLI_TIMEOUT)
    finally:
        proc.kill()
    assert proc.returncode in (0, 1), out + err  # 1: records pending (the writer's new day)
    newest = date.fromordinal(day.toordinal() + 1)
    assert f"for {newest}" in out, out  # it synced the day the writer had added
    assert "read copy published" in err
    with read_copy.connect_read(db) as con:  # and published it for the readers
        assert con.execute("SELECT max(as_of_date) FROM scores.account_scores").fetchone()[0] == (
            newest
        )


def test_a_reader_keeps_its_copy_while_a_new_one_is_published(tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    with warehouse.connect(db) as con:
        con.execute(f"CREATE TABLE {warehouse.ACCOUNT_SCORES} AS SELECT range AS i FROM range(3)")
        con.execute(f"CREATE TABLE {warehouse.PRODUCT_EVENTS.qualified} AS SELECT 1 AS x")
        read_copy.publish(con, read_copy.read_copy_path(db), db)
    with read_copy.connect_read(db) as old:
        with warehouse.connect(db) as con:
            con.execute(f"INSERT INTO {warehouse.ACCOUNT_SCORES} SELECT 9")
            read_copy.publish(con, read_copy.read_copy_path(db), db)
        count = f"SELECT count(*) FROM {warehouse.ACCOUNT_SCORES}"
        assert old.execute(count).fetchone()[0] == 3  # the copy it opened, whole
    # (in one process DuckDB shares an open file between connections: reopen after closing)
    with read_copy.connect_read(db) as new:
        assert new.execute(count).fetchone()[0] == 4
        assert not warehouse.table_exists(new, warehouse.PRODUCT_EVENTS.qualified)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "warehouse.duckdb",
        "warehouse.read.duckdb",
    ]  # no temporary file left behind


def test_a_reader_without_a_copy_publishes_one_first(tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    with warehouse.connect(db) as con:
        con.execute(f"CREATE TABLE {warehouse.ACCOUNT_SCORES} AS SELECT 1 AS i")
    with read_copy.connect_read(db) as con:
        assert con.execute(f"SELECT i FROM {warehouse.ACCOUNT_SCORES}").fetchall() == [(1,)]
    assert read_copy.read_copy_path(db).exists()


def test_the_lock_wait_gives_up_naming_the_holder(tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(db)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,sys; c=duckdb.connect({str(db)!r}); "
            "print('held', flush=True); sys.stdin.readline()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    messages: list[str] = []
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(warehouse.WarehouseBusy, match=f"PID {holder.pid}"):
            warehouse.wait_for_writer(db, wait_seconds=0.2, on_wait=messages.append)
        assert len(messages) == 1 and f"PID {holder.pid}" in messages[0]
    finally:
        holder.kill()
        holder.wait(timeout=30)
    warehouse.wait_for_writer(db, wait_seconds=30)  # free again


def test_the_read_path_and_the_writer_wait_are_documented() -> None:
    repo = Path(__file__).resolve().parents[2]
    readme = (repo / "README.md").read_text()
    example = (repo / ".env.example").read_text()
    assert "### Reading the results while the pipeline runs" in readme
    for name in (read_copy.READ_COPY_ENV, warehouse.WRITER_WAIT_ENV):
        row = next((r for r in readme.splitlines() if r.startswith(f"| `{name}` |")), None)
        assert row is not None, f"{name} is not in README's configuration table"
        assert name in example, f"{name} is not in .env.example"
