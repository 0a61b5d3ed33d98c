"""Account scores (``scores.*``): health, tier, trend and reasons per account and day."""

from datetime import date
from pathlib import Path

import dagster as dg

from acct_pipeline.alerts import drop_counts
from acct_pipeline.defs.keys import (
    DROPPED_ACCOUNTS,
    DROPPED_ACCOUNTS_BY_DAY,
    SCORES_KEY,
    SIGNALS_KEY,
)
from acct_pipeline.defs.partitions import daily_partitions, single_run
from acct_pipeline.defs.resources import WarehouseResource
from acct_pipeline.engine.resource import EngineResource
from acct_pipeline.scoring.model import load_model
from acct_pipeline.settings import CoreSettings, get

MODELS_DIR_ENV = "ACCT_MODELS_DIR"


def _models_dir(warehouse: WarehouseResource) -> Path:
    return Path(
        get(CoreSettings, "models_dir") or Path(warehouse.resolved_path()).parent / "models"
    )


@dg.asset(
    key=SCORES_KEY,
    group_name="scores",
    kinds={"duckdb", "sklearn"},
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    deps=[SIGNALS_KEY],
)
def account_scores(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, engine: EngineResource
) -> dg.MaterializeResult:
    """The daily answer to "which accounts need attention, and why": per account a 0-100 health
    score with its engagement and value scores, a churn probability, the tier (the model's bands,
    best to worst, with hysteresis so a 2-point wobble does not flip it), the
    7- and 30-day change and trend, the reasons with their numbers ("usage down 42% ..."), the
    recommended playbook and the points of every component, from the versioned scoring model
    (``ACCT_MODEL``). Beside the tier, a lifecycle status: Churned accounts (every subscription
    ended) leave the book — no tier, playbook or alert; Onboarding accounts are marked.
    ``data_coverage`` is the share of the model's weight that had data for the account.
    The churn probability is out of time: each day's comes from a model trained only on labels
    that had matured by then (retrained weekly); until enough churn events have matured it is
    empty and ``churn_note`` says why. Days are scored in date order."""
    # scikit-learn costs seconds to import: only runs that score pay for it, not every load of
    # the code location (UI, sensors, schedules).
    from acct_pipeline.scoring.churn import WalkForwardChurn
    from acct_pipeline.scoring.scores import score_day

    days = sorted(date.fromisoformat(k) for k in context.partition_keys)
    model = load_model()
    churn = WalkForwardChurn(model, _models_dir(warehouse))
    rows = 0
    with warehouse.connect() as con:
        for i, day in enumerate(days, 1):
            if engine.is_spark:  # the engine resource: ACCT_ENGINE=duckdb (default) or spark
                from acct_pipeline.engine import days as spark_days

                spark = engine.spark_engine(warehouse.resolved_path())
                rows += spark_days.score_day(spark, con, day, model, churn=churn)
            else:
                rows += score_day(con, day, model, churn=churn)
            if len(days) > 1 and (i % 30 == 0 or i == len(days)):
                context.log.info(f"scores: {i}/{len(days)} days, {rows:,} rows")
        # The score-drop sensor decides from this metadata whether a day needs an alert run.
        drops = drop_counts(con, days)
    churn_meta = churn.summary()
    if churn.trained:
        context.log.info(f"trained churn model(s) {', '.join(churn.trained)}")
    for note in churn_meta.get("no_model", []):
        context.log.info(f"no churn probability on some days: {note}")
    return dg.MaterializeResult(
        metadata={
            "rows": dg.MetadataValue.int(rows),
            "days": dg.MetadataValue.int(len(days)),
            "model_version": dg.MetadataValue.text(model.label),
            DROPPED_ACCOUNTS: dg.MetadataValue.int(sum(drops.values())),
            DROPPED_ACCOUNTS_BY_DAY: dg.MetadataValue.json(drops),
            "churn_model": dg.MetadataValue.json(churn_meta),
        }
    )
