"""The morning schedule: score yesterday, every day, before people start work."""

from __future__ import annotations

import dagster as dg

from acct_pipeline.alerts.timing import (
    last_complete_day,
    schedule_hour,
    schedule_minute,
    schedule_timezone,
)
from acct_pipeline.defs.jobs import daily_scoring
from acct_pipeline.defs.partitions import daily_partitions

SCHEDULE_NAME = "daily_scoring_schedule"

# Why not dg.build_schedule_from_partitioned_job: it always fires in the partitions' own time zone
# (dagster/_core/definitions/partitions/partitioned_schedule.py takes execution_timezone from the
# partitions definition and refuses one of its own). Our partitions are UTC days, while people
# want "06:00 in Berlin". This schedule fires at ACCT_SCHEDULE_HOUR in ACCT_SCHEDULE_TZ and, like
# the built-in one, requests the newest partition complete at the tick (run key = partition), so
# with the defaults the 06:00 tick on D+1 runs D.


def build_daily_schedule(timezone: str, hour: int, minute: int = 0) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=SCHEDULE_NAME,
        job=daily_scoring,
        cron_schedule=f"{minute} {hour} * * *",
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=(
            f"Every morning at {hour:02d}:{minute:02d} {timezone} (ACCT_SCHEDULE_HOUR, "
            "ACCT_SCHEDULE_MINUTE, ACCT_SCHEDULE_TZ) "
            "score the UTC day that just ended: snapshots, events, signals, scores, checks, "
            "validation, sync."
        ),
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        day = last_complete_day(context.scheduled_execution_time)
        first = daily_partitions.start.date()
        if day < first:
            return dg.SkipReason(f"{day} is before the first partition ({first})")
        key = day.isoformat()
        return dg.RunRequest(run_key=key, partition_key=key)

    return _schedule


daily_scoring_schedule = build_daily_schedule(
    schedule_timezone(), schedule_hour(), schedule_minute()
)
