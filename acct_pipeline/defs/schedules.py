"""The morning schedule: score yesterday, every day, before people start work."""

from __future__ import annotations

import dagster as dg

from acct_pipeline.alerts.timing import (
    last_complete_day,
    schedule_hour,
    schedule_minute,
    schedule_timezone,
)
from acct_pipeline.defs.jobs import crm_reconcile_job, daily_scoring
from acct_pipeline.defs.partitions import daily_partitions, last_partition_day
from acct_pipeline.sync.settings import reconcile_cron

SCHEDULE_NAME = "daily_scoring_schedule"
RECONCILE_SCHEDULE_NAME = "crm_reconcile_schedule"

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
        last = last_partition_day()
        if last is not None and day > last:
            return dg.SkipReason(f"{day} is after the last partition ({last}, ACCT_PARTITIONS_END)")
        key = day.isoformat()
        return dg.RunRequest(run_key=key, partition_key=key)

    return _schedule


daily_scoring_schedule = build_daily_schedule(
    schedule_timezone(), schedule_hour(), schedule_minute()
)


def build_reconcile_schedule(timezone: str, cron: str) -> dg.ScheduleDefinition:
    """The weekly reconcile: the newest complete day, synced after reading the CRM back."""

    @dg.schedule(
        name=RECONCILE_SCHEDULE_NAME,
        job=crm_reconcile_job,
        cron_schedule=cron,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=(
            f"At '{cron}' {timezone} (ACCT_SYNC_RECONCILE_CRON, 'off' to disable) read the mapped "
            "fields back from the CRM and rewrite records that drifted (acct-pipeline sync "
            "--reconcile). A no-op read-back for the outbox target."
        ),
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        day = last_complete_day(context.scheduled_execution_time)
        if day < daily_partitions.start.date():
            return dg.SkipReason(f"{day} is before the first partition")
        key = day.isoformat()
        return dg.RunRequest(run_key=f"reconcile-{key}", partition_key=key)

    return _schedule


_cron = reconcile_cron()
if _cron is not None:
    crm_reconcile_schedule = build_reconcile_schedule(schedule_timezone(), _cron)
