"""Freshness of the scores: red when yesterday's partition is still missing after the deadline."""

from datetime import UTC, date, datetime

import dagster as dg

from acct_pipeline.alerts.timing import expected_partition, freshness_hour, schedule_timezone
from acct_pipeline.defs.alerts.keys import FRESHNESS_CHECK, SCORES_KEY
from acct_pipeline.defs.partitions import daily_partitions, last_partition_day


def freshness_evaluation(instance: dg.DagsterInstance, now: datetime) -> dg.AssetCheckEvaluation:
    """Is the scores partition that is due by now materialized?

    Due: from ``ACCT_FRESHNESS_HOUR`` (default 9) in ``ACCT_SCHEDULE_TZ`` on D+1, partition D.
    """
    hour, tz = freshness_hour(), schedule_timezone()
    due = expected_partition(now, hour, tz)
    last = last_partition_day()
    if last is not None and due > last:
        due = last  # a fixed history (ACCT_PARTITIONS_END): fresh when its last day is in
    start: date = daily_partitions.start.date()
    if due < start:
        passed, found = True, True
    else:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=SCORES_KEY, asset_partitions=[due.isoformat()]), limit=1
        ).records
        found = bool(records)
        passed = found
    description = (
        f"scores for {due} are in"
        if found
        else f"scores for {due} are missing after the {hour:02d}:00 {tz} deadline: "
        "did the daily run fail?"
    )
    return dg.AssetCheckEvaluation(
        asset_key=SCORES_KEY,
        check_name=FRESHNESS_CHECK,
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata={
            "expected_partition": dg.MetadataValue.text(due.isoformat()),
            "deadline": dg.MetadataValue.text(f"{hour:02d}:00 {tz}"),
            "evaluated_at": dg.MetadataValue.text(
                now.astimezone(UTC).isoformat(timespec="seconds")
            ),
        },
    )


@dg.asset_check(
    asset=SCORES_KEY,
    name=FRESHNESS_CHECK,
    description=(
        "Yesterday's scores are in by the morning deadline (ACCT_FRESHNESS_HOUR, default 09:00, in "
        "ACCT_SCHEDULE_TZ). Red means owners are looking at stale scores. Evaluated by the "
        "scores_freshness_sensor; can also be run by hand."
    ),
)
def scores_fresh(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    evaluation = freshness_evaluation(context.instance, datetime.now(UTC))
    return dg.AssetCheckResult(
        passed=evaluation.passed,
        severity=evaluation.severity,
        description=evaluation.description,
        metadata=evaluation.metadata,
    )
