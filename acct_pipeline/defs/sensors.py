"""Sensors: alerts for each new scores partition, and the scores freshness check."""

from __future__ import annotations

from datetime import UTC, date, datetime

import dagster as dg

from acct_pipeline.alerts.config import window_days
from acct_pipeline.alerts.timing import (
    ALERT_SENSOR_INTERVAL_ENV,
    DEFAULT_ALERT_SENSOR_INTERVAL,
    DEFAULT_FRESHNESS_SENSOR_INTERVAL,
    FRESHNESS_SENSOR_INTERVAL_ENV,
    in_alert_window,
    sensor_interval,
)
from acct_pipeline.defs.alerts.checks import freshness_evaluation
from acct_pipeline.defs.alerts.keys import FRESHNESS_CHECK
from acct_pipeline.defs.jobs import score_drop_alerts_job
from acct_pipeline.defs.keys import DROPPED_ACCOUNTS, DROPPED_ACCOUNTS_BY_DAY, SCORES_KEY
from acct_pipeline.run import HISTORY_TAG

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


class _RunStates:
    """The status of the runs that recorded materializations, looked up once per tick."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self._instance = instance
        self._runs: dict[str, dg.DagsterRun | None] = {}

    def get(self, run_id: str) -> dg.DagsterRun | None:
        if run_id not in self._runs:
            self._runs[run_id] = self._instance.get_run_by_id(run_id)
        return self._runs[run_id]


# A plain sensor over the event log, not @asset_sensor: that one sees only the newest
# materialization per tick, so several partitions finishing between ticks would collapse into one
# (docs/traps.md, "Dagster sensors"). The cursor is the last storage id *decided*: every
# materialization up to it was evaluated (alerted, quiet, outside the window, or from a failed
# run), none after it.
#
# Two races this order of reads closes (issue #27):
# - A run records its partitions one by one (a 40-day single-run backfill over seconds). Its
#   materializations are decided only once the run has finished: the tick stops at the first one
#   of a run still in progress and leaves the cursor before it, so the run's days are judged
#   together, against its own newest day, on a later tick.
# - The newest scored day is read *after* the records: every record this tick decides is then
#   at most that day, and a partition that lands in between is simply not in this tick's records
#   (the cursor stays before it) instead of being judged against a stale "newest".
@dg.sensor(
    name=SCORE_DROP_SENSOR,
    job=score_drop_alerts_job,
    minimum_interval_seconds=sensor_interval(
        ALERT_SENSOR_INTERVAL_ENV, DEFAULT_ALERT_SENSOR_INTERVAL
    ),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "For every new scores partition of a successfully finished run (each examined once, "
        "backfilled ones included) launch the alert run when the day had drops. Only the "
        "ACCT_ALERT_WINDOW_DAYS (default 3) newest days alert: a backfill of history never pages "
        "owners, nor does a run tagged acct/history=true (the demo's). Materializations of a run "
        "still in progress wait for it to finish."
    ),
)
def score_drop_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    cursor = int(context.cursor) if context.cursor else None
    window = window_days()
    runs = _RunStates(context.instance)
    records: list[dg.EventLogRecord] = []
    waiting_for: dg.DagsterRun | None = None
    after = cursor
    for _ in range(MAX_PAGES):
        page = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=SCORES_KEY, after_storage_id=after),
            limit=PAGE_SIZE,
            ascending=True,
        )
        for record in page.records:
            run = runs.get(record.run_id) if record.run_id else None
            if run is not None and not run.is_finished:
                waiting_for = run
                break
            records.append(record)
            after = record.storage_id
        if waiting_for is not None or not page.has_more:
            break
    # Read after the records (see above): never older than any day among them.
    newest = newest_partition(context.instance)
    keys = [r.partition_key for r in records if r.partition_key]
    if keys:
        newest = max([date.fromisoformat(k) for k in keys] + ([newest] if newest else []))
    requests: list[dg.RunRequest] = []
    old = quiet = failed = history = 0
    for record in records:
        cursor = record.storage_id
        key = record.partition_key
        if not key or newest is None:
            continue
        run = runs.get(record.run_id) if record.run_id else None
        if run is not None and not run.is_success:
            failed += 1
            continue
        if run is not None and run.tags.get(HISTORY_TAG) == "true":
            history += 1  # the demo's history, a first load: never pages owners
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
    summary = (
        f"examined {len(records)} scores materialization(s): {len(requests)} alert run(s), "
        f"{quiet} without drops, {old} outside the {window}-day window (newest {newest}), "
        f"{failed} from failed or canceled runs (a rerun of the day alerts), "
        f"{history} from runs that record history ({HISTORY_TAG})"
    )
    if waiting_for is not None:
        summary += (
            f"; waiting for run {waiting_for.run_id} ({waiting_for.status.value}) to finish "
            "before deciding its days"
        )
    if records or waiting_for is not None:
        context.log.info(summary)
    return dg.SensorResult(
        run_requests=requests,
        cursor=str(cursor) if cursor is not None else None,
        skip_reason=None if requests else summary,
    )


@dg.sensor(
    name=FRESHNESS_SENSOR,
    minimum_interval_seconds=sensor_interval(
        FRESHNESS_SENSOR_INTERVAL_ENV, DEFAULT_FRESHNESS_SENSOR_INTERVAL
    ),
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
        return dg.SkipReason(f"unchanged, nothing recorded: {evaluation.description}")
    # A tick without run requests is always "skipped" in Dagster's tick history; without a reason
    # it reads "Sensor function returned an empty result" although the check result was recorded.
    # The reason says what this tick did.
    done = (
        f"recorded {FRESHNESS_CHECK} {'PASSED' if evaluation.passed else 'FAILED'} "
        f"(no run launched): {evaluation.description}"
    )
    context.log.info(done)
    return dg.SensorResult(asset_events=[evaluation], cursor=state, skip_reason=done)
