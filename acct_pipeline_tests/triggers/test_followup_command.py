"""`acct-pipeline followup` through the command line's main: CRM tasks read back from the fake
HubSpot (status and completion time), logged touches from the warehouse, the follow-ups stored in
alerts.alert_followups and the summary printed by owner and by tier."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from acct_pipeline import cli
from acct_pipeline.alerts import ledger
from acct_pipeline.alerts.followup import ALERT_FOLLOWUPS
from acct_pipeline.alerts.suppression import DECISIONS_DDL
from acct_pipeline.scoring.tiers import model_tier_names
from acct_pipeline.warehouse import ALERT_DELIVERIES, CRM_ACTIVITIES, raw_table_ddl
from acct_pipeline_tests.fakes.hubspot import TOKEN, FakeHubSpot
from acct_pipeline_tests.fakes.hubspot_tasks import plant_task

T0 = datetime(2026, 6, 1, 8, 0)
TIERS = model_tier_names()
# key -> owner, tier, channel, hours to the task's completion (None: still open), hours to the
# next logged touch (None: none)
ALERTS = {
    "e1": ("ann@example.com", TIERS[0], "hubspot_task", 2.0, None),
    "e2": ("ann@example.com", TIERS[0], "hubspot_task", 30.0, None),
    "e3": ("ann@example.com", TIERS[-1], "hubspot_task", None, 5.0),
    "e4": ("bob@example.com", TIERS[-1], "hubspot_task", None, None),
    "e5": ("bob@example.com", TIERS[0], "log", None, 10.0),
}


def _warehouse(path: Path, fake: FakeHubSpot) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS ingest")
        ledger.ensure_ledger(con)
        con.execute(DECISIONS_DDL)
        con.execute(raw_table_ddl(CRM_ACTIVITIES))
        for n, (key, (owner, tier, channel, done, touch)) in enumerate(ALERTS.items()):
            task = f"task_{key}" if channel == "hubspot_task" else None
            con.execute(
                f"INSERT INTO {ALERT_DELIVERIES} VALUES (?, ?, ?, ?, 'delivered', 1, ?, NULL, "
                "'r', ?, ?, ?)",
                [key, channel, T0.date(), f"acc_{key}", task or "log", T0, T0, T0],
            )
            con.execute(
                "INSERT INTO alerts.alert_decisions VALUES (?, ?, ?, ?, ?, 'send', ['x'], NULL, ?)",
                [key, T0.date(), f"acc_{key}", owner, tier, T0 + timedelta(seconds=n)],
            )
            if task:
                plant_task(fake, task, T0, None if done is None else T0 + timedelta(hours=done))
            if touch is not None:
                kind = "call" if key == "e3" else "meeting"
                con.execute(
                    f"INSERT INTO {CRM_ACTIVITIES.qualified} (activity_id, company_id, "
                    "activity_type, occurred_at, _source, _loaded_at) "
                    "VALUES (?, ?, ?, ?, 't', now())",
                    [f"act_{key}", f"acc_{key}", kind, T0 + timedelta(hours=touch)],
                )


def test_the_followup_command_stores_and_summarises(
    tmp_path: Path,
    fake_hubspot: FakeHubSpot,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = tmp_path / "warehouse.duckdb"
    _warehouse(db, fake_hubspot)
    for name, value in {
        "ACCT_WAREHOUSE": str(db),
        "ACCT_READ_COPY": str(tmp_path / "read.duckdb"),
        "ACCT_ALERT_CRM_TASKS": "hubspot",
        "HUBSPOT_ACCESS_TOKEN": TOKEN,
        "HUBSPOT_BASE_URL": fake_hubspot.url,
    }.items():
        monkeypatch.setenv(name, value)
    out_csv = tmp_path / "followups.csv"

    assert cli.main(["followup", "--days", "1", "--csv", str(out_csv)]) == 0
    out = capsys.readouterr().out

    with duckdb.connect(str(db), read_only=True) as con:
        stored = {
            r[0]: r[1:]
            for r in con.execute(
                f"SELECT event_key, owner, tier, action_kind, hours_to_action "
                f"FROM {ALERT_FOLLOWUPS} ORDER BY event_key"
            ).fetchall()
        }
    assert stored == {
        "e1": ("ann@example.com", TIERS[0], "task_completed", pytest.approx(2.0)),
        "e2": ("ann@example.com", TIERS[0], "task_completed", pytest.approx(30.0)),
        "e3": ("ann@example.com", TIERS[-1], "activity:call", pytest.approx(5.0)),
        "e4": ("bob@example.com", TIERS[-1], None, None),
        "e5": ("bob@example.com", TIERS[0], "activity:meeting", pytest.approx(10.0)),
    }
    lines = [line.split() for line in out.splitlines()]
    assert "5 delivered alert(s), 4 with an action since" in out
    assert "by owner (hours to first action; share without action within 1 days):" in out
    # ann: 2, 30, 5 h -> median 5, p90 5 + 0.8 * (30 - 5) = 25; 30 h > 1 day: 1 of 3 late
    assert ["ann@example.com", "3", "alerts", "median", "5.0", "p90", "25.0", "no", "action",
            "33%"] in lines  # fmt: skip
    # bob: 10 h and never -> 1 of 2 without action
    assert ["bob@example.com", "2", "alerts", "median", "10.0", "p90", "10.0", "no", "action",
            "50%"] in lines  # fmt: skip
    # tiers: 2, 30, 10 h (p90 10 + 0.8 * 20 = 26) and 5 h, never
    assert [TIERS[0], "3", "alerts", "median", "10.0", "p90", "26.0", "no", "action",
            "33%"] in lines  # fmt: skip
    assert [TIERS[-1], "2", "alerts", "median", "5.0", "p90", "5.0", "no", "action",
            "50%"] in lines  # fmt: skip
    with out_csv.open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["event_key"] for r in rows] == list(ALERTS)
    # the HubSpot batch read was asked for the four task ids, never for the log-only alert
    asked = {
        i["id"]
        for call in fake_hubspot.calls_to(r"/tasks/batch/read$", "POST")
        for i in json.loads(call.body)["inputs"]
    }
    assert asked == {"task_e1", "task_e2", "task_e3", "task_e4"}
