"""The jobs: the daily job carries the whole day but no alerts; the alert job only alerts."""

from __future__ import annotations

import dagster as dg

from acct_pipeline.definitions import defs
from acct_pipeline.defs.alerts.keys import (
    ALERTS_JOB_NAME,
    ALERTS_KEY,
    FRESHNESS_CHECK_KEY,
    SCORES_KEY,
)
from acct_pipeline.defs.keys import LIFECYCLE_ALERTS_KEY


def _selected(job: dg.JobDefinition) -> tuple[set[dg.AssetKey], set[dg.AssetCheckKey]]:
    graph = job.asset_layer.asset_graph
    return set(graph.executable_asset_keys), set(graph.asset_check_keys)


def test_the_daily_job_covers_the_day_end_to_end_without_alerts() -> None:
    loaded = defs()
    assets, checks = _selected(loaded.resolve_job_def("daily_scoring"))
    every_asset = loaded.resolve_asset_graph().get_all_asset_keys()
    assert SCORES_KEY in assets and ALERTS_KEY not in assets
    # everything else: ingest .. scores .. sync (the lifecycle alerts run only in trigger runs)
    assert every_asset - assets == {ALERTS_KEY, LIFECYCLE_ALERTS_KEY}
    assert FRESHNESS_CHECK_KEY not in checks


def test_the_alert_job_materializes_only_the_alerts() -> None:
    assets, _ = _selected(defs().resolve_job_def(ALERTS_JOB_NAME))
    assert assets == {ALERTS_KEY}


def test_sensors_and_schedule_are_on_by_default() -> None:
    loaded = defs()
    statuses = {s.name: s.default_status for s in loaded.sensors}
    assert statuses["score_drop_sensor"] == dg.DefaultSensorStatus.RUNNING
    assert statuses["scores_freshness_sensor"] == dg.DefaultSensorStatus.RUNNING
    assert loaded.resolve_sensor_def("score_drop_sensor").job_name == ALERTS_JOB_NAME
