"""``alerts.score_drop_alerts``: the day's drop events, delivered to the owners once."""

# No "from __future__ import annotations" here: Dagster resolves the Config annotation at import.

from datetime import date

import dagster as dg

from acct_pipeline.alerts.channels import ChannelError, build_channels
from acct_pipeline.alerts.config import (
    AlertConfigError,
    AlertSettings,
    load_thresholds,
    model_path,
)
from acct_pipeline.alerts.deliver import deliver_alerts
from acct_pipeline.alerts.detect import newest_scores_day, write_alerts
from acct_pipeline.alerts.timing import in_alert_window
from acct_pipeline.defs.alerts.keys import ACCOUNTS_KEY, ALERTS_GROUP, ALERTS_KEY, SCORES_KEY
from acct_pipeline.defs.partitions import daily_partitions
from acct_pipeline.defs.resources import WarehouseResource
from acct_pipeline.scoring.actions import load_actions

# Channels and their credentials come from the environment (AlertSettings.from_env, read when the
# run starts), not from a resource: secrets never reach run config or the UI, and every asset of
# the location can still be materialized with the warehouse resource alone.


class AlertRunConfig(dg.Config):
    """Overrides for one run, for a person who launches it on purpose from the UI."""

    deliver_outside_window: bool = False  # send alerts for a day older than the recent window
    ignore_max_per_day: bool = False  # send even if the day has more alerts than the guard allows


@dg.asset(
    key=ALERTS_KEY,
    group_name=ALERTS_GROUP,
    kinds={"duckdb"},
    partitions_def=daily_partitions,
    deps=[SCORES_KEY, ACCOUNTS_KEY],
)
def score_drop_alerts(
    context: dg.AssetExecutionContext,
    config: AlertRunConfig,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Accounts whose health dropped on the day, one row per account and drop event: the score
    fell by the model's threshold over 7 days, or the tier got worse. Each row names the account,
    its owner, the score before and after, the tier change, the reasons and the recommended
    playbook. The owner hears about it once — a CRM task, a webhook message, the alert log — even
    when the day is rerun. Launched by the score-drop sensor for new scores partitions; days older
    than the recent window are recorded but not sent."""
    as_of = date.fromisoformat(context.partition_key)
    try:
        settings = AlertSettings.from_env(warehouse=warehouse.resolved_path())
        thresholds = load_thresholds()
        channels = build_channels(settings)
        actions = load_actions(model_path())  # control group, snoozes, caps
    except (AlertConfigError, ChannelError, ValueError) as exc:
        raise dg.Failure(description=f"alert configuration: {exc}") from None
    with warehouse.connect() as con:
        events = write_alerts(con, as_of, thresholds)
        newest = newest_scores_day(con)
    metadata: dict[str, dg.MetadataValue] = {
        "drop_events": dg.MetadataValue.int(events),
        "drop_points_7d": dg.MetadataValue.float(thresholds.drop_points_7d),
        "tier_worsened": dg.MetadataValue.bool(thresholds.tier_worsened),
        "channels": dg.MetadataValue.text(", ".join(c.name for c in channels)),
    }
    recent = newest is not None and in_alert_window(as_of, newest, settings.window_days)
    if not recent and not config.deliver_outside_window:
        context.log.info(
            f"{as_of}: {events} drop event(s) recorded, not sent: older than the "
            f"{settings.window_days} "
            f"newest scored days (newest {newest})"
        )
        return dg.MaterializeResult(
            metadata={**metadata, "delivery": dg.MetadataValue.text("outside window")}
        )
    if events > settings.max_per_day and not config.ignore_max_per_day:
        raise dg.Failure(
            description=(
                f"{as_of}: {events} drop events exceed "
                f"ACCT_ALERT_MAX_PER_DAY={settings.max_per_day}; "
                "nothing was sent. A broken model or data load? Check the scores, then rerun with "
                "config ignore_max_per_day: true to send them."
            ),
            metadata=metadata,
        )
    report = deliver_alerts(
        warehouse.connect, as_of, channels, run_id=context.run.run_id, actions=actions
    )
    metadata["delivery"] = dg.MetadataValue.json(report.as_metadata())
    if not report.ok:
        raise dg.Failure(
            description=(
                f"{as_of}: {sum(report.failed.values())} alert deliveries failed "
                f"({report.failed}); the ledger keeps what was sent, a rerun retries only the "
                "failed ones. "
                f"First error: {report.errors[0]}"
            ),
            metadata=metadata,
        )
    context.log.info(
        f"{as_of}: {events} drop event(s); sent {report.sent}, already sent {report.already_sent}"
    )
    return dg.MaterializeResult(metadata=metadata)
