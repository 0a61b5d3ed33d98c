"""Account signals (``features.*``): what happened to each account, as of each day."""

from datetime import date

import dagster as dg

from acct_pipeline.defs.keys import ACCOUNTS_KEY, IDENTITY_MAP_KEY, SIGNALS_KEY, ingest_key
from acct_pipeline.defs.partitions import daily_partitions, single_run
from acct_pipeline.defs.resources import WarehouseResource
from acct_pipeline.engine.resource import EngineResource
from acct_pipeline.scoring.model import load_model
from acct_pipeline.scoring.signals import compute_signals_for_days

UPSTREAM = [
    *(
        ingest_key(t)
        for t in (
            "product_events",
            "crm_contacts",
            "crm_activities",
            "crm_tickets",
            "billing_subscriptions",
            "billing_invoices",
            "marketing_touches",
        )
    ),
    ACCOUNTS_KEY,
    IDENTITY_MAP_KEY,
]


@dg.asset(
    key=SIGNALS_KEY,
    group_name="features",
    kinds={"duckdb"},
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    deps=UPSTREAM,
)
def account_signals(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, engine: EngineResource
) -> dg.MaterializeResult:
    """Per account and as-of date D: product usage, CRM engagement, support, billing and
    relationship signals over windows ending on D. Point-in-time correct: only records dated on
    or before D are used, so a backfilled day is what would have been computed on that day."""
    days = [date.fromisoformat(k) for k in context.partition_keys]
    with warehouse.connect() as con:
        if engine.is_spark:  # the engine resource: ACCT_ENGINE=duckdb (default) or spark
            from acct_pipeline.engine.days import publish_inputs, signals_for_days

            spark, model = engine.spark_engine(warehouse.resolved_path()), load_model()
            published = publish_inputs(spark, con)
            context.log.info(f"published to the lake {spark.lake}: {published or 'no changes'}")
            rows, rebuilt = signals_for_days(spark, con, days, model, context.log.info)
        else:
            rows, rebuilt = compute_signals_for_days(con, days, load_model(), context.log.info)
    context.log.info(f"{rows:,} signal rows; usage rollups: {rebuilt} day(s) rebuilt")
    return dg.MaterializeResult(
        metadata={
            "rows": dg.MetadataValue.int(rows),
            "days": dg.MetadataValue.int(len(days)),
            "usage_rollup_days_rebuilt": dg.MetadataValue.int(rebuilt),
        }
    )
