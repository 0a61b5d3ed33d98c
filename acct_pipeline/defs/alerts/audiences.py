"""``alerts.audience_membership``: the day's marketing audiences, with entries and exits."""

from datetime import date

import dagster as dg

from acct_pipeline.alerts.audiences import AudienceSummary, update_membership
from acct_pipeline.alerts.config import model_path
from acct_pipeline.defs.keys import ACCOUNTS_KEY, AUDIENCES_KEY, SCORES_KEY
from acct_pipeline.defs.partitions import daily_partitions, single_run
from acct_pipeline.defs.resources import WarehouseResource
from acct_pipeline.scoring.actions import load_actions

ACTIONS_GROUP = "actions"  # part of the daily job (unlike the alerts group)


@dg.asset(
    key=AUDIENCES_KEY,
    group_name=ACTIONS_GROUP,
    kinds={"duckdb"},
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    deps=[SCORES_KEY, ACCOUNTS_KEY],
)
def audience_membership(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Which accounts are in which marketing audience (expansion sequence, adoption education,
    win-back, suppress — the model file's ``audiences``) on the day, who entered, who left, and who
    was kept out by a cool-down or an owner's daily cap. A random control share of the entering
    accounts (``experiment``) is recorded but not given the audience, so the report can measure
    whether the audiences work. Days of a backfill are computed in order: each day builds on the
    one before."""
    try:
        actions = load_actions(model_path())
    except ValueError as exc:
        raise dg.Failure(description=str(exc)) from None
    days = sorted(date.fromisoformat(k) for k in context.partition_keys)
    last: AudienceSummary | None = None
    with warehouse.connect() as con:
        for day in days:
            last = update_membership(con, day, actions)
    assert last is not None
    return dg.MaterializeResult(
        metadata={
            "days": dg.MetadataValue.int(len(days)),
            "newest_day": dg.MetadataValue.text(last.as_of.isoformat()),
            "members": dg.MetadataValue.json(dict(last.members)),
            "entered": dg.MetadataValue.json(dict(last.entered)),
            "exited": dg.MetadataValue.json(dict(last.exited)),
            "capped": dg.MetadataValue.json(dict(last.capped)),
            "control_members": dg.MetadataValue.int(last.control),
        }
    )
