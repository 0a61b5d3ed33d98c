"""Time to action: from CRM task completions (fake HubSpot) and from logged activities alone."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from acct_pipeline.alerts import ledger
from acct_pipeline.alerts.followup import (
    ALERT_FOLLOWUPS,
    TASK_DONE,
    compute_followups,
    hubspot_task_reader,
    store_followups,
    summarise,
)
from acct_pipeline.alerts.suppression import DECISIONS_DDL
from acct_pipeline.scoring.tiers import model_tier_names
from acct_pipeline.services.hubspot import client_from_env
from acct_pipeline.warehouse import ALERT_DELIVERIES, CRM_ACTIVITIES, raw_table_ddl
from acct_pipeline_tests.fakes.hubspot import TOKEN, FakeHubSpot
from acct_pipeline_tests.fakes.hubspot_tasks import plant_task

T0 = datetime(2026, 6, 1, 8, 0)
# hours from alert to the completed task, per alert (owner a: 4 alerts, owner b: 1 alert)
HOURS = {"e1": 2.0, "e2": 4.0, "e3": 10.0, "e4": 30.0, "e5": 1.0}
OWNER = {"e1": "a", "e2": "a", "e3": "a", "e4": "a", "e5": "b"}


def _warehouse(path: Path, channel: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    for schema in ("ingest", "alerts"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    ledger.ensure_ledger(con)
    con.execute(DECISIONS_DDL)
    con.execute(raw_table_ddl(CRM_ACTIVITIES))
    tier = model_tier_names()[0]
    for n, key in enumerate([*HOURS, "e6"]):
        con.execute(
            f"INSERT INTO {ALERT_DELIVERIES} VALUES (?, ?, ?, ?, 'delivered', 1, ?, NULL, 'r', "
            "?, ?, ?)",
            [key, channel, T0.date(), f"acc_{key}", f"task_{key}", T0, T0, T0],
        )
        con.execute(
            "INSERT INTO alerts.alert_decisions VALUES (?, ?, ?, ?, ?, 'send', ['x'], NULL, ?)",
            [key, T0.date(), f"acc_{key}", OWNER.get(key, "b"), tier, T0 + timedelta(n)],
        )
    return con


def test_time_to_action_from_crm_tasks(tmp_path: Path, fake_hubspot: FakeHubSpot) -> None:
    for key, hours in HOURS.items():
        plant_task(fake_hubspot, f"task_{key}", T0, T0 + timedelta(hours=hours))
    plant_task(fake_hubspot, "task_e6", T0)  # still open: no action
    client = client_from_env(
        {"HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_BASE_URL": fake_hubspot.url}, rate_limit=None
    )
    con = _warehouse(tmp_path / "w.duckdb", "hubspot_task")
    followups = compute_followups(con, T0 - timedelta(days=1), hubspot_task_reader(client))
    assert {f.event_key: f.hours for f in followups} == {**HOURS, "e6": None}
    assert {f.action_kind for f in followups if f.hours is not None} == {TASK_DONE}
    by_owner = summarise(followups, days=1, by="owner").set_index("owner")
    assert by_owner.loc["a", "median_hours"] == pytest.approx(7.0)  # of 2, 4, 10, 30
    assert by_owner.loc["a", "p90_hours"] == pytest.approx(24.0)  # 10 + 0.7 * (30 - 10)
    assert by_owner.loc["a", "no_action_share"] == pytest.approx(0.25)  # 30 h > 1 day
    assert by_owner.loc["b", "no_action_share"] == pytest.approx(0.5)  # e6: never
    by_tier = summarise(followups, days=7, by="tier")
    assert by_tier["alerts"].tolist() == [6]
    assert store_followups(con, followups) == 6
    assert con.execute(f"SELECT count(first_action_at) FROM {ALERT_FOLLOWUPS}").fetchone() == (5,)


def test_time_to_action_from_activities_only(tmp_path: Path) -> None:
    con = _warehouse(tmp_path / "w.duckdb", "log")
    con.execute(
        f"INSERT INTO {CRM_ACTIVITIES.qualified} (activity_id, company_id, activity_type, "
        "occurred_at, _source, _loaded_at) VALUES "
        "('x0', 'acc_e1', 'call', ?, 't', now()), ('x1', 'acc_e1', 'email_sent', ?, 't', now()), "
        "('x2', 'acc_e1', 'meeting', ?, 't', now()), ('x3', 'acc_e2', 'call', ?, 't', now())",
        [T0 - timedelta(hours=5), T0 + timedelta(hours=3), T0 + timedelta(hours=9),
         T0 + timedelta(hours=12)],
    )  # fmt: skip
    followups = {f.event_key: f for f in compute_followups(con, T0 - timedelta(days=1))}
    assert followups["e1"].hours == pytest.approx(3.0)  # the touch before the alert is no answer
    assert followups["e1"].action_kind == "activity:email_sent"
    assert followups["e2"].hours == pytest.approx(12.0)
    assert followups["e3"].first_action_at is None
    share = summarise(list(followups.values()), days=7, by="owner").set_index("owner")
    assert share.loc["a", "no_action_share"] == pytest.approx(0.5)  # e3, e4 without action
