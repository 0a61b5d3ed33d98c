"""Freshness: red when yesterday's scores are missing after the deadline, green when they land."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from acct_pipeline.alerts.timing import expected_partition
from acct_pipeline.defs.alerts.checks import freshness_evaluation
from acct_pipeline.defs.alerts.keys import FRESHNESS_CHECK, FRESHNESS_CHECK_KEY, SCORES_KEY
from acct_pipeline.defs.sensors import scores_freshness_sensor


@pytest.fixture
def instance(monkeypatch: pytest.MonkeyPatch) -> Iterator[dg.DagsterInstance]:
    for name in ("ACCT_FRESHNESS_HOUR", "ACCT_SCHEDULE_TZ"):
        monkeypatch.delenv(name, raising=False)
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst


def scored(instance: dg.DagsterInstance, day: date) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=SCORES_KEY, partition=day.isoformat())
    )


@pytest.mark.parametrize(
    ("now", "hour", "tz", "due"),
    [
        (
            datetime(2026, 11, 2, 8, 59, tzinfo=UTC),
            9,
            "UTC",
            date(2026, 10, 31),
        ),  # before the deadline
        (
            datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
            9,
            "UTC",
            date(2026, 11, 1),
        ),  # from the deadline on
        (datetime(2026, 11, 2, 23, 0, tzinfo=UTC), 9, "UTC", date(2026, 11, 1)),
        (
            datetime(2026, 11, 2, 8, 30, tzinfo=UTC),
            9,
            "Europe/Berlin",
            date(2026, 11, 1),
        ),  # 09:30 Berlin
        (
            datetime(2026, 11, 2, 7, 30, tzinfo=UTC),
            9,
            "Europe/Berlin",
            date(2026, 10, 31),
        ),  # 08:30 Berlin
    ],
)
def test_which_partition_is_due(now: datetime, hour: int, tz: str, due: date) -> None:
    assert expected_partition(now, hour, tz) == due


def test_the_check_fails_after_the_deadline_until_the_day_is_scored(
    instance: dg.DagsterInstance,
) -> None:
    before = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    after = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    scored(instance, date(2026, 10, 31))
    assert freshness_evaluation(instance, before).passed
    late = freshness_evaluation(instance, after)
    assert not late.passed and late.severity == dg.AssetCheckSeverity.ERROR
    assert "2026-11-01" in (late.description or "") and late.check_name == FRESHNESS_CHECK
    scored(instance, date(2026, 11, 1))
    assert freshness_evaluation(instance, after).passed


def test_the_deadline_hour_is_configurable(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCT_FRESHNESS_HOUR", "11")
    scored(instance, date(2026, 10, 31))
    assert freshness_evaluation(instance, datetime(2026, 11, 2, 10, 0, tzinfo=UTC)).passed
    assert not freshness_evaluation(instance, datetime(2026, 11, 2, 11, 0, tzinfo=UTC)).passed


def test_the_sensor_records_the_check_only_when_it_changes(instance: dg.DagsterInstance) -> None:
    def tick(cursor: str | None) -> dg.SensorResult | dg.SkipReason:
        return scores_freshness_sensor(dg.build_sensor_context(instance=instance, cursor=cursor))

    red = tick(None)
    assert isinstance(red, dg.SensorResult)
    [evaluation] = red.asset_events
    # The tick's label (Dagster shows ticks without runs as skipped) says what was recorded.
    assert red.skip_reason is not None
    assert red.skip_reason.skip_message.startswith("recorded scores_fresh FAILED")
    assert isinstance(evaluation, dg.AssetCheckEvaluation) and not evaluation.passed
    # What the daemon does with a sensor's asset events: the check turns red in the UI.
    instance.report_runless_asset_event(evaluation)
    summary = instance.event_log_storage.get_asset_check_summary_records([FRESHNESS_CHECK_KEY])
    record = summary[FRESHNESS_CHECK_KEY].last_check_execution_record
    assert record is not None and record.status.value == "FAILED"
    assert isinstance(tick(red.cursor), dg.SkipReason)  # still red: nothing new to record
    due = expected_partition(datetime.now(UTC), 9, "UTC")
    scored(instance, due)
    green = tick(red.cursor)
    assert isinstance(green, dg.SensorResult) and green.asset_events[0].passed
    assert green.skip_reason is not None
    assert green.skip_reason.skip_message.startswith("recorded scores_fresh PASSED")
    assert green.cursor != red.cursor


def test_days_before_the_first_partition_are_never_due(instance: dg.DagsterInstance) -> None:
    assert freshness_evaluation(instance, datetime(2020, 1, 5, 12, tzinfo=UTC)).passed
    assert freshness_evaluation(
        instance, datetime(2020, 1, 5, 12, tzinfo=UTC) + timedelta(days=1)
    ).passed
