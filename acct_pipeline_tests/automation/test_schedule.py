"""The morning schedule: which partition a tick runs, in which time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from acct_pipeline.alerts.timing import TimingConfigError, last_complete_day, schedule_timezone
from acct_pipeline.definitions import defs
from acct_pipeline.defs.schedules import SCHEDULE_NAME, build_daily_schedule, daily_scoring_schedule


def run_request_at(schedule: dg.ScheduleDefinition, moment: datetime) -> dg.RunRequest:
    result = schedule(dg.build_schedule_context(scheduled_execution_time=moment))
    assert isinstance(result, dg.RunRequest), result
    return result


def test_the_0600_tick_on_d_plus_1_requests_partition_d() -> None:
    request = run_request_at(daily_scoring_schedule, datetime(2026, 11, 2, 6, 0, tzinfo=UTC))
    assert request.partition_key == "2026-11-01"
    assert request.run_key == "2026-11-01"  # one run per day, even if the tick is evaluated twice


def test_the_schedule_runs_the_daily_job_at_six_and_is_on_by_default() -> None:
    loaded = defs().resolve_schedule_def(SCHEDULE_NAME)
    assert loaded.job_name == "daily_scoring"
    assert loaded.cron_schedule == "0 6 * * *"
    assert loaded.execution_timezone == "UTC"
    assert loaded.default_status == dg.DefaultScheduleStatus.RUNNING


@pytest.mark.parametrize(
    ("tz", "local_tick", "expected"),
    [
        ("Europe/Berlin", datetime(2026, 11, 2, 6, 0), date(2026, 11, 1)),  # 05:00 UTC
        ("America/New_York", datetime(2026, 11, 2, 6, 0), date(2026, 11, 1)),  # 11:00 UTC
        # 06:00 in Tokyo is 21:00 UTC the day before: that UTC day is not over yet.
        ("Asia/Tokyo", datetime(2026, 11, 2, 6, 0), date(2026, 10, 31)),
    ],
)
def test_a_local_time_zone_runs_the_newest_complete_utc_day(
    tz: str, local_tick: datetime, expected: date
) -> None:
    schedule = build_daily_schedule(tz, 6)
    assert schedule.execution_timezone == tz
    moment = local_tick.replace(tzinfo=ZoneInfo(tz))
    assert run_request_at(schedule, moment).partition_key == expected.isoformat()
    assert last_complete_day(moment) == expected


def test_ticks_before_the_first_partition_skip() -> None:
    result = daily_scoring_schedule(
        dg.build_schedule_context(scheduled_execution_time=datetime(2020, 1, 2, 6, tzinfo=UTC))
    )
    assert isinstance(result, dg.SkipReason)


def test_a_bad_time_zone_is_named() -> None:
    with pytest.raises(TimingConfigError, match="ACCT_SCHEDULE_TZ"):
        schedule_timezone({"ACCT_SCHEDULE_TZ": "Mars/Olympus"})
