"""Reverse ETL (``sync.*``): scores written back to the CRM record where people work."""

from datetime import date

import dagster as dg

from acct_pipeline.defs.keys import AUDIENCES_KEY, CRM_SYNC_KEY, ROLLUPS_KEY, SCORES_KEY
from acct_pipeline.defs.partitions import daily_partitions, single_run
from acct_pipeline.defs.resources import WarehouseResource
from acct_pipeline.sync import SyncSettings, run_sync
from acct_pipeline.sync.guard import scores_guard


class SyncRunConfig(dg.Config):
    """``reconcile``: read the mapped fields back from the CRM first and rewrite the records that
    drifted (the weekly reconcile schedule sets it; the outbox has nothing to read back)."""

    reconcile: bool = False


@dg.asset(
    key=CRM_SYNC_KEY,
    group_name="sync",
    kinds={"duckdb"},
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    deps=[SCORES_KEY, ROLLUPS_KEY, AUDIENCES_KEY],
)
def crm_score_sync(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, config: SyncRunConfig
) -> dg.MaterializeResult:
    """The day's scores as CRM fields (score, tier, trend, 7-day change, churn probability, top
    reasons, playbook, model version, marketing audience) on each account's own CRM record — or
    as CSV files for a CRM import in the default outbox. Only values that changed since what the
    CRM last accepted are sent, in batches under the rate limit; every record's outcome is kept in
    ``sync.crm_sync_ledger``. It does not run for a day whose scores failed a blocking check, and it
    stops if a run would change more than half the records (a broken model must not blanket the
    CRM). A multi-day backfill syncs only its newest day: the CRM holds the current state."""
    newest = max(date.fromisoformat(k) for k in context.partition_keys)
    if len(context.partition_keys) > 1:
        context.log.info(
            f"backfill of {len(context.partition_keys)} days: syncing only the newest, {newest}"
        )
    settings = SyncSettings.from_env(warehouse=warehouse.resolved_path())
    reconcile = config.reconcile and settings.target != "outbox"
    if config.reconcile and not reconcile:
        context.log.info("reconcile: the outbox target has no CRM to read back; plain sync")
    report = run_sync(
        warehouse.connect,
        settings,
        newest,
        reconcile=reconcile,
        partition_passed_checks=scores_guard(warehouse.resolved_path()),
        run_id=context.run.run_id,
        log=context.log,  # run_sync logs its summary once, here
    )
    return dg.MaterializeResult(
        metadata={
            **{k: _metadata_value(v) for k, v in report.to_metadata().items()},
            "summary": dg.MetadataValue.md(f"```\n{report.summary_text()}\n```"),
        }
    )


def _metadata_value(value: object) -> dg.MetadataValue:
    if isinstance(value, bool):
        return dg.MetadataValue.bool(value)
    if isinstance(value, int):
        return dg.MetadataValue.int(value)
    if isinstance(value, float):
        return dg.MetadataValue.float(value)
    if isinstance(value, str):
        return dg.MetadataValue.text(value)
    return dg.MetadataValue.json(value)
