"""Account signals (``features.*``): what happened to each account, as of each day."""

from datetime import date, timedelta

import dagster as dg

from acct_pipeline.defs.partitions import daily_partitions, single_run
from acct_pipeline.defs.resources import WarehouseResource
from acct_pipeline.scoring.model import load_model
from acct_pipeline.scoring.signals import USAGE_WINDOW_DAYS, compute_signals
from acct_pipeline.scoring.usage import refresh_usage_rollups

UPSTREAM = [
    dg.AssetKey(["ingest", "product_events"]),
    dg.AssetKey(["ingest", "crm_contacts"]),
    dg.AssetKey(["ingest", "crm_activities"]),
    dg.AssetKey(["ingest", "crm_tickets"]),
    dg.AssetKey(["ingest", "billing_subscriptions"]),
    dg.AssetKey(["ingest", "billing_invoices"]),
    dg.AssetKey(["staging", "accounts"]),
    dg.AssetKey(["staging", "identity_map"]),
]


@dg.asset(
    key=["features", "account_signals"],
    group_name="features",
    kinds={"duckdb"},
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    deps=UPSTREAM,
)
def account_signals(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Per account and as-of date D: product usage, CRM engagement, support, billing and
    relationship signals over windows ending on D. Point-in-time correct: only records dated on
    or before D are used, so a backfilled day is what would have been computed on that day."""
    days = sorted(date.fromisoformat(k) for k in context.partition_keys)
    model = load_model()
    rows = 0
    with warehouse.connect() as con:
        # the daily usage rollups of the whole range in one pass (a backfill); each day then
        # finds its window up to date
        rebuilt = refresh_usage_rollups(
            con, days[0] - timedelta(days=USAGE_WINDOW_DAYS - 1), days[-1]
        )
        context.log.info(f"usage rollups: {len(rebuilt)} day(s) rebuilt")
        for day in days:
            rows += compute_signals(con, day, model)
    return dg.MaterializeResult(
        metadata={
            "rows": dg.MetadataValue.int(rows),
            "days": dg.MetadataValue.int(len(days)),
            "usage_rollup_days_rebuilt": dg.MetadataValue.int(len(rebuilt)),
        }
    )
