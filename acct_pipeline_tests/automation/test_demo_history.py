"""Issue #22: the demo's run is history. Opening the UI afterwards (sensors ticking on the same
instance) launches no alert run and the freshness check is green; the run is not hidden behind
a backfill the UI has no record of. Same code path as `acct-pipeline demo` (run_days, history=True)
at small scale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from acct_pipeline.defs.alerts.checks import freshness_evaluation
from acct_pipeline.defs.sensors import score_drop_sensor
from acct_pipeline.defs.triggers import lifecycle_event_sensor
from acct_pipeline.run import HISTORY_TAG, run_days
from acct_pipeline_tests.conftest import sample_period


@pytest.mark.slow
def test_demo_history_writes_no_alert_and_is_fresh(
    pipeline_env: Path, small_sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start, end = sample_period(small_sample)
    first = end - timedelta(days=9)  # the sensor window is the newest 3 days; 10 are plenty
    with dg.instance_for_test() as instance:
        outcome = run_days(first, end, instance=instance, history=True)
        assert outcome.success, outcome.failure
        run = instance.get_run_by_id(outcome.run_id)
        assert run is not None and run.tags.get(HISTORY_TAG) == "true"
        assert "dagster/backfill" not in run.tags  # visible on the Runs page
        # `make dev`: the sensor's first tick over the demo's materializations
        result = score_drop_sensor(dg.build_sensor_context(instance=instance))
        assert result.run_requests == []
        assert "10 from runs that record history" in (result.skip_reason.skip_message or "")
        # ... and the lifecycle-event sensor's first tick over the demo's read copy
        ticked = lifecycle_event_sensor(dg.build_sensor_context(instance=instance))
        assert ticked.run_requests == []
        assert ticked.cursor is not None  # what the history held is marked seen, once
        # the freshness check, weeks after the sample's last day, with the demo's bounds
        monkeypatch.setenv("ACCT_PARTITIONS_END", end.isoformat())
        later = datetime.combine(end + timedelta(days=30), datetime.min.time(), UTC)
        assert freshness_evaluation(instance, later).passed
        monkeypatch.delenv("ACCT_PARTITIONS_END")
        assert not freshness_evaluation(instance, later).passed  # without them: stale, as before
