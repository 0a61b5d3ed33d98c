"""Account scores (``scores.*``): health, tier, trend and reasons per account and day."""

from datetime import date

import dagster as dg

from acct_pipeline.alerts import drop_counts
from acct_pipeline.defs.partitions import daily_partitions, single_run
from acct_pipeline.defs.resources import WarehouseResource
from acct_pipeline.scoring.slice import score_day


@dg.asset(
    key=["scores", "account_scores"],
    group_name="scores",
    kinds={"duckdb"},
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    deps=[dg.AssetKey(["features", "account_signals"])],
)
def account_scores(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The daily answer to "which accounts need attention, and why": a 0-100 health score, its
    tier (Healthy / At-Risk / Concerning / Critical), the trend, the reasons with their numbers and
    the recommended playbook, from the versioned scoring model. Days are scored in date order."""
    days = sorted(date.fromisoformat(k) for k in context.partition_keys)
    rows = 0
    with warehouse.connect() as con:
        for day in days:
            rows += score_day(con, day)
        # The score-drop sensor decides from this metadata whether a day needs an alert run.
        drops = drop_counts(con, days)
    return dg.MaterializeResult(
        metadata={
            "rows": dg.MetadataValue.int(rows),
            "days": dg.MetadataValue.int(len(days)),
            "dropped_accounts": dg.MetadataValue.int(sum(drops.values())),
            "dropped_accounts_by_day": dg.MetadataValue.json(drops),
        }
    )
