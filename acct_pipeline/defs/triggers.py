"""Lifecycle-event triggers: a same-day rescore and alert on payment failure, cancellation notice,
champion leaving or a usage cliff (the events: ``acct_pipeline/alerts/events.py``).

The sensor never opens the warehouse (DuckDB has one writer): it looks at the read copy, and only
after a new one was published (a ``publish/read_copy`` materialization since its cursor), so a
tick without new data costs one event-log query. New events launch one run per affected day of
``lifecycle_trigger_job``: the daily job's assets for that day plus ``lifecycle_event_alerts``,
which alerts the owners of the accounts named in the run's tags through the usual delivery
(ledger, control group, snoozes, caps). The run queues behind the one writer like any other.

Seen once: the cursor keeps the keys of the events already handled (pruned past the look-back),
and the run key is made of the event keys, so the same event never triggers twice. Read copies
published by runs tagged ``acct/history=true`` (the demo's history load) only mark their events
seen; so does a tick with more new accounts than ``ACCT_TRIGGER_MAX_ACCOUNTS`` (a bulk load).
"""

# No "from __future__ import annotations" here: Dagster resolves the Config annotation at import.

import hashlib
import json
from datetime import date, timedelta

import dagster as dg

from acct_pipeline.alerts.channels import ChannelError, build_channels
from acct_pipeline.alerts.config import AlertConfigError, AlertSettings, model_path
from acct_pipeline.alerts.deliver import deliver_alerts
from acct_pipeline.alerts.events import LifecycleEvent, detect_events, event_alerts, select_events
from acct_pipeline.defs.alerts.keys import ALERTS_GROUP
from acct_pipeline.defs.jobs import DAILY_SELECTION
from acct_pipeline.defs.keys import (
    LIFECYCLE_ALERTS_KEY,
    READ_COPY_KEY,
    SCORES_KEY,
    TRIGGER_ACCOUNTS_TAG,
    TRIGGER_EVENTS_TAG,
    TRIGGER_TAG,
)
from acct_pipeline.defs.partitions import daily_partitions
from acct_pipeline.defs.resources import WarehouseResource
from acct_pipeline.read_copy import connect_read, read_copy_path
from acct_pipeline.run import HISTORY_TAG
from acct_pipeline.scoring.actions import load_actions
from acct_pipeline.settings import AutomationSettings, get

TRIGGER_SENSOR = "lifecycle_event_sensor"
TRIGGER_JOB_NAME = "lifecycle_trigger_job"
PAGE_SIZE = 100


def _settings(name: str) -> int | float:
    value: int | float = get(AutomationSettings, name)
    return value


@dg.asset(
    key=LIFECYCLE_ALERTS_KEY,
    group_name=ALERTS_GROUP,
    kinds={"duckdb"},
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),  # as the daily job's assets: one policy
    deps=[SCORES_KEY],
)
def lifecycle_event_alerts(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Same-day alerts on lifecycle events (payment failed, cancellation notice, champion left,
    usage cliff) for the accounts a trigger run names in its tags, after their rescore. Each event
    reaches the owner once, through the usual channels, control group, snoozes and caps. Outside a
    trigger run it does nothing."""
    keys = [k for k in context.run.tags.get(TRIGGER_EVENTS_TAG, "").split(",") if k]
    if not keys:
        return dg.MaterializeResult(metadata={"events": 0})
    as_of = date.fromisoformat(context.partition_key)
    try:
        settings = AlertSettings.from_env(warehouse=warehouse.resolved_path())
        channels = build_channels(settings)
        actions = load_actions(model_path())
    except (AlertConfigError, ChannelError, ValueError) as exc:
        raise dg.Failure(description=f"alert configuration: {exc}") from None
    with warehouse.connect() as con:
        found = detect_events(con, lookback_days=int(_settings("trigger_lookback_days")) + 1)
        events = select_events(found, keys)
        alerts = event_alerts(con, events, as_of)
    report = deliver_alerts(
        warehouse.connect,
        as_of,
        channels,
        run_id=context.run.run_id,
        actions=actions,
        alerts=alerts,
    )
    metadata = {"events": len(alerts), "delivery": dg.MetadataValue.json(report.as_metadata())}
    if not report.ok:
        raise dg.Failure(
            description=f"{as_of}: lifecycle alert deliveries failed: {report.errors[0]}",
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)


lifecycle_trigger_job = dg.define_asset_job(
    TRIGGER_JOB_NAME,
    selection=DAILY_SELECTION | dg.AssetSelection.assets(LIFECYCLE_ALERTS_KEY),
    description=(
        "The daily job's assets for one day plus the lifecycle-event alerts: launched by the "
        "lifecycle_event_sensor when a payment fails, a customer gives notice, a champion leaves "
        "or usage falls off a cliff."
    ),
)


def _cursor(text: str | None) -> tuple[int | None, dict[str, str]]:
    if not text:
        return None, {}
    data = json.loads(text)
    return data.get("after"), dict(data.get("seen", {}))


def _clamp(day: date) -> str | None:
    """The event's day as a partition key (the newest partition when the day has none yet)."""
    last = daily_partitions.get_last_partition_key()
    if last is None:
        return None
    first = daily_partitions.get_first_partition_key()
    key = min(day.isoformat(), last)
    return key if first is None or key >= first else None


def run_requests(events: list[LifecycleEvent]) -> list[dg.RunRequest]:
    """One request per affected day, tagged with the trigger kinds, accounts and event keys; the
    run key is a hash of the event keys (the same events never launch twice)."""
    by_day: dict[str, list[LifecycleEvent]] = {}
    for e in events:
        key = _clamp(e.day)
        if key is not None:
            by_day.setdefault(key, []).append(e)
    out = []
    for day, group in sorted(by_day.items()):
        keys = sorted(e.key for e in group)
        digest = hashlib.sha256(",".join(keys).encode()).hexdigest()[:16]
        out.append(
            dg.RunRequest(
                run_key=f"lifecycle:{day}:{digest}",
                job_name=TRIGGER_JOB_NAME,
                partition_key=day,
                tags={
                    TRIGGER_TAG: ",".join(sorted({e.kind for e in group})),
                    TRIGGER_ACCOUNTS_TAG: ",".join(sorted({e.account_id for e in group})),
                    TRIGGER_EVENTS_TAG: ",".join(keys),
                },
            )
        )
    return out


@dg.sensor(
    name=TRIGGER_SENSOR,
    jobs=[lifecycle_trigger_job],
    minimum_interval_seconds=int(_settings("trigger_sensor_interval")),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "After each new read copy: payment failures, cancellation notices, champions leaving and "
        "usage cliffs not seen before launch a rescore and alert run for the affected day. "
        "Each event once; history loads (acct/history=true) never trigger."
    ),
)
def lifecycle_event_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    after, seen = _cursor(context.cursor)
    page = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=READ_COPY_KEY, after_storage_id=after),
        limit=PAGE_SIZE,
        ascending=True,
    )
    if not page.records:
        return dg.SensorResult(skip_reason="no new read copy since the last tick")
    after = page.records[-1].storage_id
    newest_run = page.records[-1].run_id
    run = context.instance.get_run_by_id(newest_run) if newest_run else None
    history = run is not None and run.tags.get(HISTORY_TAG) == "true"
    lookback = int(_settings("trigger_lookback_days"))
    if not read_copy_path().exists():
        return dg.SensorResult(
            cursor=json.dumps({"after": after, "seen": seen}), skip_reason="no read copy yet"
        )
    with connect_read() as con:
        events = detect_events(
            con, lookback_days=lookback, cliff_ratio=float(_settings("trigger_usage_cliff_ratio"))
        )
    new = [e for e in events if e.key not in seen]
    for e in new:
        seen[e.key] = e.day.isoformat()
    if events:  # forget what fell out of the look-back: it can never come back
        horizon = (max(e.day for e in events) - timedelta(days=lookback + 1)).isoformat()
        seen = {k: d for k, d in seen.items() if d >= horizon}
    cursor = json.dumps({"after": after, "seen": seen}, sort_keys=True)
    accounts = {e.account_id for e in new}
    if not new:
        return dg.SensorResult(cursor=cursor, skip_reason="no new lifecycle events")
    if history:
        reason = f"{len(new)} event(s) from a history load ({HISTORY_TAG}): marked seen"
        return dg.SensorResult(cursor=cursor, skip_reason=reason)
    limit = int(_settings("trigger_max_accounts"))
    if len(accounts) > limit:
        reason = (
            f"{len(new)} new event(s) on {len(accounts)} accounts exceed "
            f"ACCT_TRIGGER_MAX_ACCOUNTS={limit}: a bulk load, not news; marked seen, no run"
        )
        context.log.warning(reason)
        return dg.SensorResult(cursor=cursor, skip_reason=reason)
    requests = run_requests(new)
    context.log.info(
        f"{len(new)} new lifecycle event(s) on {len(accounts)} account(s): "
        f"{len(requests)} trigger run(s)"
    )
    return dg.SensorResult(run_requests=requests, cursor=cursor)
