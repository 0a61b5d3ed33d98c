"""Proof that the score works (``scores.score_validation``) and the HTML score report."""

from typing import Any

import dagster as dg

from acct_pipeline.defs.keys import (
    ROLLUPS_KEY,
    SCORE_REPORT_KEY,
    SCORE_VALIDATION_KEY,
    SCORES_KEY,
)
from acct_pipeline.defs.resources import WarehouseResource
from acct_pipeline.scoring.model import load_model
from acct_pipeline.scoring.report import build_report, reports_dir
from acct_pipeline.scoring.validation import ValidationResult, summary_markdown, validate_warehouse

__all__ = ["SCORE_REPORT_KEY", "SCORE_VALIDATION_KEY", "score_report", "score_validation"]


def _number(value: Any) -> dg.MetadataValue:
    return (
        dg.MetadataValue.text("not available")
        if value is None
        else dg.MetadataValue.float(float(value))
    )


def validation_metadata(result: ValidationResult) -> dict[str, dg.MetadataValue]:
    s = result.summary
    meta: dict[str, dg.MetadataValue] = {
        "summary": dg.MetadataValue.md(summary_markdown(s)),
        "rows": dg.MetadataValue.int(len(result.rows)),
        "status": dg.MetadataValue.text(str(s.get("status"))),
    }
    if s.get("status") != "ok":
        return meta
    for key in (
        "auc_health_score",
        "auc_churn_probability",
        "lift_health_score",
        "lift_churn_probability",
        "brier",
        "psi_max",
        "tier_change_share_mean",
        "tier_flap_share",
        "censored_share",
    ):
        meta[key] = _number(s.get(key))
    meta["churn_rate_by_tier"] = dg.MetadataValue.json(s.get("churn_rate_by_tier", {}))
    meta["churn_monotonic"] = dg.MetadataValue.bool(bool(s.get("churn_monotonic")))
    meta["tier_share_30d"] = dg.MetadataValue.json(s.get("tier_share_30d", {}))
    meta["history"] = dg.MetadataValue.text(
        f"{s['date_from']} .. {s['date_to']} ({s['days']} days)"
    )
    meta["account_days"] = dg.MetadataValue.int(int(s["account_days"]))
    meta["outcome_events"] = dg.MetadataValue.json(s.get("outcome_events", {}))
    meta["model_versions"] = dg.MetadataValue.text(", ".join(s.get("model_versions", [])))
    return meta


@dg.asset(
    key=SCORE_VALIDATION_KEY,
    group_name="scores",
    kinds={"duckdb"},
    deps=[SCORES_KEY],
)
def score_validation(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Can the score be trusted? The whole score history checked against what really happened
    (churn, renewal, expansion, contraction from billing): churn and renewal rate by tier, also at
    30/60/90 days before contract end; ROC-AUC and top-decile lift of the health score and of the
    churn probability; calibration (Brier, reliability table); score distribution per tier;
    stability (day-over-day PSI, accounts changing tier, flapping); and coverage by plan, region
    and industry (missing inputs, score distribution). One tidy row per number."""
    tier_names = load_model().tiers.names
    with warehouse.connect() as con:
        result = validate_warehouse(con, tier_names)
    context.log.info(summary_markdown(result.summary))
    return dg.MaterializeResult(metadata=validation_metadata(result))


@dg.asset(
    key=SCORE_REPORT_KEY,
    group_name="scores",
    kinds={"html"},
    deps=[SCORE_VALIDATION_KEY, ROLLUPS_KEY],
)
def score_report(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The score report for people: one self-contained HTML file (charts embedded, readable
    offline) with tier distribution over time, churn by tier, lift, calibration, stability, tier
    migration, the top at-risk accounts and why, the model version timeline (so a model change is
    not mistaken for a change in behaviour) and a churn autopsy. Written to
    ``data/reports/score_report_<date>.html`` (``ACCT_REPORTS_DIR`` overrides)."""
    with warehouse.connect() as con:
        report = build_report(con, reports_dir(warehouse.resolved_path()))
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(report.path.resolve())),
            "summary": dg.MetadataValue.md(report.markdown),
            "charts": dg.MetadataValue.int(len(report.charts)),
            "as_of": dg.MetadataValue.text(str(report.as_of)),
        }
    )
