"""Time to action with Salesforce: the tasks the ``salesforce_task`` channel created are read back
through SOQL (``WHERE Id IN (...)``, at most 200 ids a query, paged), and a task counts as done
when Salesforce closed it (``IsClosed``), at its ``CompletedDateTime`` — both fields Salesforce
sets itself when an owner moves the task to a closed status."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from acct_pipeline import cli
from acct_pipeline.alerts import ledger
from acct_pipeline.alerts.config import SALESFORCE_TASK
from acct_pipeline.alerts.followup import (
    ALERT_FOLLOWUPS,
    SALESFORCE_TASK_IDS_PER_QUERY,
    compute_followups,
    salesforce_task_reader,
)
from acct_pipeline.alerts.suppression import DECISIONS_DDL
from acct_pipeline.connectors.http import ApiError
from acct_pipeline.services.salesforce import salesforce_client
from acct_pipeline.warehouse import ALERT_DELIVERIES
from acct_pipeline_tests.fakes.base import FakeClock
from acct_pipeline_tests.fakes.salesforce import API_VERSION, TOKEN, FakeSalesforce

TASKS = f"/services/data/{API_VERSION}/sobjects/Task"


def _now(clock: FakeClock) -> datetime:
    return datetime.fromtimestamp(clock(), UTC).replace(tzinfo=None)


def _alerts(db: Path, fake: FakeSalesforce, n: int) -> tuple[datetime, list[str]]:
    """``n`` delivered alerts, each with the Salesforce task the channel created for it (through
    the API, as ``SalesforceTasks.send`` does); returns the alert time and the task ids."""
    client = salesforce_client(TOKEN, fake.url)
    alerted_at = _now(fake.clock)
    task_ids = []
    with duckdb.connect(str(db)) as con:
        ledger.ensure_ledger(con)
        con.execute(DECISIONS_DDL)
        for i in range(n):
            account = fake.add("Account", {"Name": f"Account {i}"})["Id"]
            task = client.post_json(
                TASKS,
                {"Subject": "health alert", "WhatId": account, "Status": "Not Started"},
                idempotent=False,
            )["id"]
            task_ids.append(task)
            con.execute(
                f"INSERT INTO {ALERT_DELIVERIES} VALUES (?, ?, ?, ?, 'delivered', 1, ?, NULL, "
                "'r', ?, ?, ?)",
                [f"e{i:03d}", SALESFORCE_TASK, alerted_at.date(), account, task] + [alerted_at] * 3,
            )
            con.execute(
                "INSERT INTO alerts.alert_decisions VALUES (?, ?, ?, ?, 'Critical', 'send', "
                "['x'], NULL, ?)",
                [f"e{i:03d}", alerted_at.date(), account, f"owner{i % 2}@example.com", alerted_at],
            )
    return alerted_at, task_ids


def test_salesforce_closes_a_task_by_its_status_and_refuses_to_be_told_when(
    fake_salesforce: FakeSalesforce, fake_clock: FakeClock
) -> None:
    """The fake is no kinder than Salesforce: ``IsClosed`` and ``CompletedDateTime`` are
    read-only and follow the status; reopening a task clears its completion time."""
    client = salesforce_client(TOKEN, fake_salesforce.url)
    account = fake_salesforce.add("Account", {"Name": "Acme"})["Id"]
    task = client.post_json(TASKS, {"WhatId": account, "Status": "Not Started"}, idempotent=False)
    record = fake_salesforce.records["Task"][task["id"]]
    assert (record["IsClosed"], record["CompletedDateTime"]) == (False, None)

    with pytest.raises(ApiError, match="INVALID_FIELD_FOR_INSERT_UPDATE"):
        client.request(
            "PATCH", f"{TASKS}/{task['id']}", json={"CompletedDateTime": "2027-01-01T00:00:00Z"}
        )
    fake_clock.sleep(3600)
    client.request("PATCH", f"{TASKS}/{task['id']}", json={"Status": "Completed"})
    assert record["IsClosed"] is True
    assert record["CompletedDateTime"].startswith(_now(fake_clock).strftime("%Y-%m-%dT%H:%M:%S"))
    client.request("PATCH", f"{TASKS}/{task['id']}", json={"Status": "In Progress"})
    assert (record["IsClosed"], record["CompletedDateTime"]) == (False, None)


def test_followup_reads_salesforce_tasks_in_chunks_of_200(
    tmp_path: Path,
    fake_salesforce: FakeSalesforce,
    fake_clock: FakeClock,
) -> None:
    """205 alerts: two SOQL queries (200 + 5 ids); the completed tasks count at their closing
    time, the open and reopened ones do not, and every alert is accounted for."""
    fake_salesforce.page_size = 150  # the first query's 200 answers come in two pages
    db = tmp_path / "warehouse.duckdb"
    alerted_at, task_ids = _alerts(db, fake_salesforce, 205)
    client = salesforce_client(TOKEN, fake_salesforce.url)

    def close(task: str, hours: float) -> None:
        fake_clock.sleep(max(0.0, alerted_at.timestamp() + hours * 3600 - fake_clock()))
        client.request("PATCH", f"{TASKS}/{task}", json={"Status": "Completed"})

    close(task_ids[0], 2.0)
    close(task_ids[204], 6.0)  # the second query's
    close(task_ids[1], 30.0)
    client.request("PATCH", f"{TASKS}/{task_ids[1]}", json={"Status": "In Progress"})
    close(task_ids[2], 50.0)
    client.request("PATCH", f"{TASKS}/{task_ids[3]}", json={"Status": "In Progress"})

    with duckdb.connect(str(db)) as con:
        found = compute_followups(
            con,
            alerted_at - timedelta(days=1),
            salesforce_task_reader(client, API_VERSION),
            SALESFORCE_TASK,
        )
    by_key = {f.event_key: f for f in found}
    assert len(found) == 205
    assert by_key["e000"].action_kind == "task_completed"
    assert by_key["e000"].hours == pytest.approx(2.0, abs=1e-3)
    assert by_key["e204"].hours == pytest.approx(6.0, abs=1e-3)
    assert by_key["e002"].hours == pytest.approx(50.0, abs=1e-3)
    assert by_key["e001"].first_action_at is None  # completed, then reopened: not done
    assert by_key["e003"].first_action_at is None  # in progress
    assert sum(f.first_action_at is not None for f in found) == 3

    queries = fake_salesforce.calls_to(r"/query/?$", "GET")
    asked = [re.findall(r"'([^']+)'", c.query["q"][0]) for c in queries]
    assert [len(a) for a in asked] == [SALESFORCE_TASK_IDS_PER_QUERY, 5]
    assert sorted(i for a in asked for i in a) == sorted(task_ids)
    assert len(fake_salesforce.calls_to(r"/query/[^/?]+$", "GET")) == 1  # the next page


def test_the_followup_command_with_salesforce_tasks(
    tmp_path: Path,
    fake_salesforce: FakeSalesforce,
    fake_clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = tmp_path / "warehouse.duckdb"
    alerted_at, task_ids = _alerts(db, fake_salesforce, 3)
    fake_clock.sleep(4 * 3600)
    salesforce_client(TOKEN, fake_salesforce.url).request(
        "PATCH", f"{TASKS}/{task_ids[0]}", json={"Status": "Completed"}
    )
    for name, value in {
        "ACCT_WAREHOUSE": str(db),
        "ACCT_READ_COPY": str(tmp_path / "read.duckdb"),
        "ACCT_ALERT_CRM_TASKS": "salesforce",
        "SALESFORCE_ACCESS_TOKEN": TOKEN,
        "SALESFORCE_INSTANCE_URL": fake_salesforce.url,
    }.items():
        monkeypatch.setenv(name, value)

    assert cli.main(["followup", "--days", "1"]) == 0
    out = capsys.readouterr().out

    assert "3 delivered alert(s), 1 with an action since" in out
    assert TOKEN not in out
    with duckdb.connect(str(db), read_only=True) as con:
        stored = con.execute(
            f"SELECT event_key, action_kind, hours_to_action FROM {ALERT_FOLLOWUPS} "
            "ORDER BY event_key"
        ).fetchall()
    assert stored[0][:2] == ("e000", "task_completed")
    assert stored[0][2] == pytest.approx(4.0, abs=1e-3)
    assert [r[1] for r in stored[1:]] == [None, None]
