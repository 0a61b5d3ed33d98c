"""Hierarchy roll-up (``scores.account_rollups``): parent accounts scored from their children."""

from datetime import date

import dagster as dg

from acct_pipeline.defs.keys import ROLLUP_PARENTS, ROLLUPS_KEY, SCORES_KEY
from acct_pipeline.defs.partitions import daily_partitions, single_run
from acct_pipeline.defs.resources import WarehouseResource
from acct_pipeline.scoring.model import load_model
from acct_pipeline.scoring.rollup import compute_rollups


@dg.asset(
    key=ROLLUPS_KEY,
    group_name="scores",
    kinds={"duckdb"},
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    deps=[SCORES_KEY],
)
def account_rollups(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """A customer with several subsidiaries seen as one: for every parent account in the CRM
    (``parent_account_id``: HubSpot's parent company, Salesforce's ParentId) a score from its
    children's — ARR-weighted mean or worst child, as the scoring model's ``rollup.method`` says —
    its tier, and the share of the children's ARR in each tier. Written per day to
    ``scores.account_rollups`` and onto the parent's own score row (``rollup_*`` columns), which
    the CRM sync sends to the parent record. Nothing to do when the CRM has no hierarchy."""
    days = sorted(date.fromisoformat(k) for k in context.partition_keys)
    model = load_model()
    by_day: dict[str, int] = {}
    with warehouse.connect() as con:
        for day in days:
            by_day[day.isoformat()] = compute_rollups(con, day, model)
    return dg.MaterializeResult(
        metadata={
            ROLLUP_PARENTS: dg.MetadataValue.int(by_day[days[-1].isoformat()] if days else 0),
            "method": dg.MetadataValue.text(model.rollup.method),
            "parents_by_day": dg.MetadataValue.json(by_day),
        }
    )
