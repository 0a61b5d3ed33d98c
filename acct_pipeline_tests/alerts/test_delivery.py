"""The alerts asset end to end: rows, deliveries, and never the same alert twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from acct_pipeline.alerts.ledger import ALERT_DELIVERIES
from acct_pipeline.defs.alerts.assets import score_drop_alerts
from acct_pipeline.defs.resources import EngineResource, WarehouseResource
from acct_pipeline.warehouse import SCORE_DROP_ALERTS
from acct_pipeline_tests.alerts.history import ACCOUNTS, write_history
from acct_pipeline_tests.fakes import hubspot
from acct_pipeline_tests.fakes.webhook import WebhookReceiver

SECRET = "whsec-delivery-test"  # noqa: S105 - a test value
START = date(2026, 10, 1)
A, B, C = (row[0] for row in ACCOUNTS)
# Day 9 is the newest day: A drops 15 points (and a tier), C falls to Concerning, B holds.
SCORES = {A: [95.0] * 9 + [80.0], B: [75.0] * 10, C: [72.0] * 9 + [68.0]}
LAST = START + timedelta(days=9)


@dataclass
class Setup:
    db: Path
    log: Path
    hs: hubspot.FakeHubSpot
    hook: WebhookReceiver
    env: pytest.MonkeyPatch

    def run(
        self, day: date = LAST, *, config: dict | None = None, max_per_day: int | None = None
    ) -> dg.ExecuteInProcessResult:
        if max_per_day is not None:
            self.env.setenv("ACCT_ALERT_MAX_PER_DAY", str(max_per_day))
        return dg.materialize(
            [score_drop_alerts],
            partition_key=day.isoformat(),
            resources={
                "warehouse": WarehouseResource(path=str(self.db)),
                "engine": EngineResource(),
            },
            instance=dg.DagsterInstance.ephemeral(),
            run_config={"ops": {"alerts__score_drop_alerts": {"config": config}}}
            if config
            else None,
            raise_on_error=False,
        )

    def tasks(self) -> list[str]:
        return [w.record_id for w in self.hs.writes if w.object_type == "tasks"]

    def log_keys(self) -> list[str]:
        if not self.log.exists():
            return []
        return [json.loads(line)["event_key"] for line in self.log.read_text().splitlines()]


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    db = tmp_path / "w.duckdb"
    write_history(db, SCORES, START)
    model = tmp_path / "model.yaml"
    model.write_text("alerts:\n  drop_points_7d: 10\n  tier_worsened: true\n")
    with hubspot.FakeHubSpot() as hs, WebhookReceiver(secret=SECRET) as hook:
        for account_id, name, *_ in ACCOUNTS:
            hs.add_record("companies", account_id, {"name": name})
        monkeypatch.setenv("ACCT_MODEL", str(model))
        monkeypatch.setenv("ACCT_ALERT_WEBHOOK_SECRET", SECRET)
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", hubspot.TOKEN)
        monkeypatch.setenv("HUBSPOT_BASE_URL", hs.url)
        monkeypatch.setenv("ACCT_ALERT_CHANNELS", "log,webhook,hubspot_task")
        monkeypatch.setenv("ACCT_ALERT_LOG", str(tmp_path / "alerts.jsonl"))
        monkeypatch.setenv("ACCT_ALERT_WEBHOOK_URL", hook.hook_url)
        for name in ("ACCT_ALERT_WINDOW_DAYS", "ACCT_ALERT_MAX_PER_DAY"):
            monkeypatch.delenv(name, raising=False)
        yield Setup(db, tmp_path / "alerts.jsonl", hs, hook, monkeypatch)


def expected_keys() -> set[str]:
    return {f"score_drop:{A}:{LAST}", f"score_drop:{C}:{LAST}"}


def test_a_rerun_of_the_partition_sends_no_duplicate_alert(setup: Setup) -> None:
    first = setup.run()
    assert first.success
    second = setup.run()
    assert second.success
    # exactly one of each, on every channel, after two runs
    assert sorted(setup.hook.event_keys()) == sorted(expected_keys())
    assert all(d.verified for d in setup.hook.received)
    assert len(setup.tasks()) == 2
    assert sorted(setup.log_keys()) == sorted(expected_keys())
    with duckdb.connect(str(setup.db), read_only=True) as con:
        rows = con.execute(
            f"SELECT event_key, owner_email, tier FROM {SCORE_DROP_ALERTS} ORDER BY 1"
        ).fetchall()
        ledger = con.execute(
            f"SELECT channel, status, count(*), max(attempts) FROM {ALERT_DELIVERIES} "
            "GROUP BY 1, 2 ORDER BY 1"
        ).fetchall()
    assert {r[0] for r in rows} == expected_keys()
    assert ledger == [
        ("hubspot_task", "delivered", 2, 1),
        ("log", "delivered", 2, 1),
        ("webhook", "delivered", 2, 1),
    ]
    meta = second.asset_materializations_for_node("alerts__score_drop_alerts")[0].metadata
    assert meta["drop_events"].value == 2
    assert meta["delivery"].data["sent"] == {"log": 0, "webhook": 0, "hubspot_task": 0}
    assert meta["delivery"].data["already_sent"] == {"log": 2, "webhook": 2, "hubspot_task": 2}


def test_a_failed_channel_is_retried_alone_on_the_next_run(setup: Setup) -> None:
    setup.hook.inject("status", 2, status=500, method="POST")  # the webhook is down for this run
    failed = setup.run()
    assert not failed.success
    assert setup.hook.received == [] and len(setup.tasks()) == 2
    retried = setup.run()
    assert retried.success
    assert sorted(setup.hook.event_keys()) == sorted(expected_keys())
    assert len(setup.tasks()) == 2  # HubSpot was not asked again
    assert len(setup.log_keys()) == 2


def test_a_wrong_secret_fails_the_run_and_sends_nothing_unsigned(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCT_ALERT_WEBHOOK_SECRET", "a-stale-secret")
    result = setup.run()
    assert not result.success
    assert setup.hook.received == [] and len(setup.hook.rejected) == 2
    failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"][0]
    assert "a-stale-secret" not in str(failure.event_specific_data)


def test_days_outside_the_recent_window_are_recorded_but_not_sent(setup: Setup) -> None:
    old = START + timedelta(days=1)
    write_history(setup.db, {A: [95.0] + [70.0] * 9, B: [75.0] * 10, C: [72.0] * 10}, START)
    result = setup.run(old)
    assert result.success
    meta = result.asset_materializations_for_node("alerts__score_drop_alerts")[0].metadata
    assert meta["delivery"].value == "outside window" and meta["drop_events"].value == 1
    assert setup.hook.received == [] and setup.tasks() == [] and setup.log_keys() == []
    # A person can still send such a day on purpose.
    forced = setup.run(old, config={"deliver_outside_window": True})
    assert forced.success and setup.hook.event_keys() == [f"score_drop:{A}:{old}"]


def test_too_many_alerts_in_one_day_stop_before_anything_is_sent(setup: Setup) -> None:
    result = setup.run(max_per_day=1)
    assert not result.success
    assert setup.hook.received == [] and setup.tasks() == [] and setup.log_keys() == []
    assert setup.run(max_per_day=1, config={"ignore_max_per_day": True}).success
    assert len(setup.tasks()) == 2


def test_the_command_previews_without_writing_and_sends_through_the_ledger(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    from acct_pipeline.alerts.command import EXIT_OK, alerts_command

    monkeypatch.setenv("ACCT_WAREHOUSE", str(setup.db))
    lines: list[str] = []
    assert alerts_command(None, send=False, say=lines.append) == EXIT_OK
    assert lines[0].startswith(f"{LAST}: 2 drop event(s)")
    assert setup.hook.received == [] and setup.log_keys() == []
    assert alerts_command(LAST, send=True, say=lines.append) == EXIT_OK
    assert alerts_command(LAST, send=True, say=lines.append) == EXIT_OK
    assert sorted(setup.hook.event_keys()) == sorted(expected_keys()) and len(setup.tasks()) == 2
    assert "already sent {'log': 2, 'webhook': 2, 'hubspot_task': 2}" in lines[-1]
