"""From sensor tick to delivery: reruns of the day or of the sensor send nothing twice."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from acct_pipeline import warehouse
from acct_pipeline.alerts import count_drops
from acct_pipeline.definitions import defs
from acct_pipeline.defs.alerts.keys import ALERTS_JOB_NAME, DROPPED_ACCOUNTS, SCORES_KEY
from acct_pipeline.defs.sensors import score_drop_sensor
from acct_pipeline_tests.alerts.history import ACCOUNTS, write_history
from acct_pipeline_tests.fakes import hubspot
from acct_pipeline_tests.fakes.webhook import WebhookReceiver

SECRET = "whsec-e2e"  # noqa: S105 - a test value
START = date(2026, 10, 1)
A, B, C = (row[0] for row in ACCOUNTS)
# Three recent days with drops: A on day 7, B on day 8, C on day 9 (the newest).
SCORES = {
    A: [95.0] * 7 + [80.0] * 3,
    B: [75.0] * 8 + [60.0] * 2,
    C: [72.0] * 9 + [50.0],
}


def test_sensor_runs_deliver_each_alert_once_even_after_reruns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "w.duckdb"
    days = write_history(db, SCORES, START)
    log = tmp_path / "alerts.jsonl"
    model = tmp_path / "model.yaml"
    model.write_text("alerts:\n  drop_points_7d: 10\n")
    with (
        dg.DagsterInstance.ephemeral() as instance,
        hubspot.FakeHubSpot() as hs,
        WebhookReceiver(SECRET) as hook,
    ):
        for account_id, name, *_ in ACCOUNTS:
            hs.add_record("companies", account_id, {"name": name})
        env = {
            "ACCT_WAREHOUSE": str(db),
            "ACCT_MODEL": str(model),
            "ACCT_ALERT_CHANNELS": "log,webhook,hubspot_task",
            "ACCT_ALERT_LOG": str(log),
            "ACCT_ALERT_WEBHOOK_URL": hook.hook_url,
            "ACCT_ALERT_WEBHOOK_SECRET": SECRET,
            "HUBSPOT_ACCESS_TOKEN": hubspot.TOKEN,
            "HUBSPOT_BASE_URL": hs.url,
        }
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        monkeypatch.delenv("ACCT_ALERT_WINDOW_DAYS", raising=False)
        # The code location reads the warehouse path when it loads (the UI shows it): load it
        # once the environment points at this test's warehouse.
        loaded = defs()
        job = loaded.resolve_job_def(ALERTS_JOB_NAME)

        def score(day: date) -> None:
            """What the scores asset records: the day's drop count (count_drops) as metadata."""
            with warehouse.connect(db) as con:
                drops = count_drops(con, day)
            instance.report_runless_asset_event(
                dg.AssetMaterialization(
                    SCORES_KEY, partition=day.isoformat(), metadata={DROPPED_ACCOUNTS: drops}
                )
            )

        def tick_and_run(cursor: str | None) -> tuple[list[str], str | None]:
            result = score_drop_sensor(
                dg.build_sensor_context(instance=instance, cursor=cursor, definitions=loaded)
            )
            for request in result.run_requests:
                run = job.execute_in_process(
                    partition_key=request.partition_key, instance=instance, tags=request.tags
                )
                assert run.success
            return [r.partition_key for r in result.run_requests], result.cursor

        for day in days:  # the whole history arrives (a backfill): only the 3 newest days may alert
            score(day)
        launched, cursor = tick_and_run(None)
        assert launched == [d.isoformat() for d in days[-3:]]
        # Rerun the newest day's scores, then let the sensor see it again: a new run, no new alert.
        score(days[-1])
        relaunched, cursor = tick_and_run(cursor)
        assert relaunched == [days[-1].isoformat()]
        # And a plain rerun of an alert partition from the UI.
        assert job.execute_in_process(partition_key=days[-2].isoformat(), instance=instance).success
        assert tick_and_run(cursor)[0] == []

        expected = sorted(
            f"score_drop:{acc}:{d}" for acc, d in zip((A, B, C), days[-3:], strict=True)
        )
        assert sorted(hook.event_keys()) == expected
        assert all(d.verified for d in hook.received)
        assert len([w for w in hs.writes if w.object_type == "tasks"]) == 3
        tasks = {t.associations["companies"][0] for t in hs.objects["tasks"].values()}
        assert tasks == {A, B, C}
        assert (
            sorted(json.loads(line)["event_key"] for line in log.read_text().splitlines())
            == expected
        )
        assert days[-1] - days[-3] == timedelta(days=2)
