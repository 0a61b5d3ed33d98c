"""Account scores (``scores.*``): health, tier, trend and reasons per account and day."""

import os
from datetime import date
from pathlib import Path

import dagster as dg

from acct_pipeline.alerts import drop_counts
from acct_pipeline.defs.partitions import daily_partitions, single_run
from acct_pipeline.defs.resources import WarehouseResource
from acct_pipeline.scoring.model import load_model

MODELS_DIR_ENV = "ACCT_MODELS_DIR"


def _models_dir(warehouse: WarehouseResource) -> Path:
    return Path(os.environ.get(MODELS_DIR_ENV) or Path(warehouse.resolved_path()).parent / "models")


@dg.asset(
    key=["scores", "account_scores"],
    group_name="scores",
    kinds={"duckdb", "sklearn"},
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    deps=[dg.AssetKey(["features", "account_signals"])],
)
def account_scores(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """The daily answer to "which accounts need attention, and why": per account a 0-100 health
    score with its engagement and value scores, a calibrated churn probability, the tier (Healthy /
    At-Risk / Concerning / Critical, with hysteresis so a 2-point wobble does not flip it), the
    7- and 30-day change and trend, the reasons with their numbers ("usage down 42% ..."), the
    recommended playbook and the points of every component, from the versioned scoring model
    (``ACCT_MODEL``). Days are scored in date order. The churn model is trained on the
    warehouse's own history when none exists for this model file yet, and versioned."""
    # scikit-learn costs seconds to import: only runs that score pay for it, not every load of
    # the code location (UI, sensors, schedules).
    from acct_pipeline.scoring.churn import (
        ChurnModelError,
        apply_churn_model,
        latest_artifact,
        train_churn_model,
    )
    from acct_pipeline.scoring.scores import score_day

    days = sorted(date.fromisoformat(k) for k in context.partition_keys)
    model = load_model()
    models_dir = _models_dir(warehouse)
    artifact = latest_artifact(model, models_dir)
    churn_meta: dict[str, object] = {}
    rows = 0
    with warehouse.connect() as con:
        for day in days:
            rows += score_day(con, day, model, churn=artifact)
        if artifact is None:
            try:
                artifact = train_churn_model(con, model, directory=models_dir)
                filled = apply_churn_model(con, artifact, days)
                context.log.info(
                    f"trained churn model {artifact.version}; filled {filled:,} probabilities"
                )
            except ChurnModelError as exc:
                churn_meta["churn_model_status"] = f"not trained yet: {exc}"
                context.log.warning(str(exc))
        # The score-drop sensor decides from this metadata whether a day needs an alert run.
        drops = drop_counts(con, days)
    if artifact is not None:
        churn_meta.update({f"churn_{k}": v for k, v in artifact.metadata.items() if k != "path"})
        churn_meta["churn_model_version"] = artifact.version
    return dg.MaterializeResult(
        metadata={
            "rows": dg.MetadataValue.int(rows),
            "days": dg.MetadataValue.int(len(days)),
            "model_version": dg.MetadataValue.text(model.label),
            "dropped_accounts": dg.MetadataValue.int(sum(drops.values())),
            "dropped_accounts_by_day": dg.MetadataValue.json(drops),
            "churn_model": dg.MetadataValue.json(churn_meta),
        }
    )
