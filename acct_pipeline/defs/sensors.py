"""Sensors: alerts for each new scores partition, and the scores freshness check."""

from __future__ import annotations

from datetime import UTC, date, datetime

import dagster as dg

from acct_pipeline.alerts.config import window_days
from acct_pipeline.alerts.timing import in_alert_window
from acct_pipeline.defs.alerts.checks import freshness_evaluation
from acct_pipeline.defs.alerts.keys import DROPPED_ACCOUNTS, DROPPED_ACCOUNTS_BY_DAY, SCORES_KEY
from acct_pipeline.defs.jobs import score_drop_alerts_job

PAGE_SIZE = 500
MAX_PAGES = 20  # 10,000 materializations per tick; the rest continue on the next tick

SCORE_DROP_SENSOR = "score_drop_sensor"
FRESHNESS_SENSOR = "scores_freshness_sensor"


def drops_in(record: dg.EventLogRecord) -> int | None:
    """Drop events the scores materialization reported for its day; None if it did not say.

    Multi-day (single-run backfill) materializations share one metadata dict: the per-day map
    answers for each day; a bare total of 0 means none of the days dropped.
    """
    materialization = record.asset_materialization
    metadata = materialization.metadata if materialization else {}
    by_day = metadata.get(DROPPED_ACCOUNTS_BY_DAY)
    if isinstance(by_day, dg.JsonMetadataValue) and isinstance(by_day.data, dict):
        value = by_day.data.get(record.partition_key or "")
        if value is not None:
            return int(value)
    total = metadata.get(DROPPED_ACCOUNTS)
    if isinstance(total, dg.IntMetadataValue) and total.value is not None:
        return None if total.value > 0 and by_day is not None else int(total.value)
    return None


def newest_partition(instance: dg.DagsterInstance) -> date | None:
    keys = instance.get_materialized_partitions(SCORES_KEY)
    return date.fromisoformat(max(keys)) if keys else None


# A plain sensor over the event log, not @asset_sensor: that one sees only the newest
# materialization per tick, so several partitions finishing between ticks would collapse into one
# (REFERENCE.md, "Sensors"). The cursor is the last storage id examined.
@dg.sensor(
    name=SCORE_DROP_SENSOR,
    job=score_drop_alerts_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "For every new scores partition (each examined once, backfilled ones included) launch the "
        "alert run when the day had drops. Only the ACCT_ALERT_WINDOW_DAYS (default 3) newest "
        "days alert: a backfill of history never pages owners."
    ),
)
def score_drop_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    cursor = int(context.cursor) if context.cursor else None
    window = window_days()
    newest = newest_partition(context.instance)
    requests: list[dg.RunRequest] = []
    examined = old = quiet = 0
    for _ in range(MAX_PAGES):
        page = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=SCORES_KEY, after_storage_id=cursor),
            limit=PAGE_SIZE,
            ascending=True,
        )
        for record in page.records:
            cursor = record.storage_id
            examined += 1
            key = record.partition_key
            if not key or newest is None:
                continue
            if not in_alert_window(date.fromisoformat(key), newest, window):
                old += 1
                continue
            drops = drops_in(record)
            if drops == 0:
                quiet += 1
                continue
            requests.append(
                dg.RunRequest(
                    run_key=f"{key}:{record.storage_id}",
                    partition_key=key,
                    tags={
                        "acct/scores_run_id": record.run_id,
                        "acct/dropped_accounts": str(drops or "unknown"),
                    },
                )
            )
        if not page.has_more:
            break
    if examined:
        context.log.info(
            f"examined {examined} scores materialization(s): {len(requests)} alert run(s), "
            f"{quiet} without drops, {old} outside the {window}-day window (newest {newest})"
        )
    return dg.SensorResult(
        run_requests=requests,
        cursor=str(cursor) if cursor is not None else None,
        skip_reason=None
        if requests
        else f"no new scores partition with drops ({examined} examined)",
    )


@dg.sensor(
    name=FRESHNESS_SENSOR,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Evaluates the scores_fresh check every few minutes without launching runs, and records a "
        "result whenever it changes: red from the deadline until yesterday's scores arrive."
    ),
)
def scores_freshness_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    evaluation = freshness_evaluation(context.instance, datetime.now(UTC))
    due = evaluation.metadata["expected_partition"].value
    state = f"{due}:{'pass' if evaluation.passed else 'fail'}"
    if context.cursor == state:
        return dg.SkipReason(f"unchanged: {evaluation.description}")
    return dg.SensorResult(asset_events=[evaluation], cursor=state)
