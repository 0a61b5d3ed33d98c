"""Does the score predict what happens next? Validation of the stored score history vs outcomes.

For the history in the warehouse (every as-of day D of ``scores.account_scores``) and the outcomes
from billing (``outcomes.py``), this computes:

- churn rate by tier (label: churned within 90 days after D) and churn / renewal rate by tier at
  30 / 60 / 90 days before contract end;
- ROC-AUC and top-decile lift of the health score (as risk = 100 - score) and of the churn
  probability, plus the churn rate per risk decile (the lift chart);
- calibration of the churn probability: Brier score and a reliability table (10 bins);
- score distribution per tier (are most accounts stuck in one band?);
- stability: PSI of the health-score distribution between consecutive days, share of accounts
  changing tier per day, and tier flapping (a change reverted within a week);
- coverage by segment (plan, region, industry): share of accounts with missing inputs and the
  score distribution per segment, so a segment scored on missing data stands out;
- fairness by segment (plan, region, size band, tracked / untracked product data) over every
  labelled account-day: health AUC, churn rate, calibration, tier shares and the share of the
  health weight without data (``segment_*`` metrics, ``segment_table``), with a warning check
  (``segments_scored_fairly``) when a segment's AUC is far below the whole book's or much of its
  weight had no data.

All of it is DuckDB SQL over the whole history; pandas only sees the (small) results. The result
(``ValidationResult``) is one tidy long table (``VALIDATION_COLUMNS``) plus the headline numbers;
``validate_warehouse`` stores both (``scores.score_validation``,
``scores.score_validation_summary``), and the checks (``evaluate_checks``) and the report read
them back (``read_validation``) instead of computing them again.

The package: ``result`` (types and thresholds), ``data`` (the scored rows read, the result
stored and read back), ``metrics`` (the metric families, ``compute_validation``), ``checks``
(the verdicts) and ``markdown`` (the headline numbers as text).

A note on censoring: days whose 90-day horizon runs past the last scored day can only say "not
churned yet". They are kept (otherwise a short history has nothing to validate) and their share
is reported as ``censored_share``.
"""

from __future__ import annotations

import duckdb

from acct_pipeline.scoring.tiers import ordered_tiers, tier_rank_sql
from acct_pipeline.scoring.validation.checks import (
    evaluate_checks,
    evaluate_tier_shares,
    summary_from_table,
)
from acct_pipeline.scoring.validation.data import (
    labeled_sql,
    live_scores_sql,
    read_validation,
    write_validation,
)
from acct_pipeline.scoring.validation.markdown import summary_markdown
from acct_pipeline.scoring.validation.metrics import (
    compute_validation,
    fairness_findings,
    recent_tier_shares,
    segment_table,
)
from acct_pipeline.scoring.validation.result import (
    AUC_HIGH,
    AUC_LOW,
    CHECK_AUC,
    CHECK_DESCRIPTIONS,
    CHECK_FLAPPING,
    CHECK_MONOTONIC,
    CHECK_PSI,
    CHECK_SEGMENTS,
    CHECK_TIER_SHARE,
    CHECK_TIER_SHARE_DESCRIPTION,
    MIN_SEGMENT_ROWS,
    MIN_TIER_ROWS,
    SEGMENT_AUC_GAP,
    SEGMENT_MISSING_MAX,
    SEGMENT_TYPES,
    TIER_SHARE_DAYS,
    TIER_SHARE_MAX,
    VALIDATION_COLUMNS,
    CheckOutcome,
    TierShares,
    ValidationResult,
    empty_result,
)


def validate_warehouse(
    con: duckdb.DuckDBPyConnection, tier_names: list[str] | tuple[str, ...] | None = None
) -> ValidationResult:
    """Validate the stored history and store the result (the asset's body)."""
    result = compute_validation(con, tier_names=tier_names)
    write_validation(con, result)
    return result


__all__ = [
    "AUC_HIGH",
    "AUC_LOW",
    "CHECK_AUC",
    "CHECK_DESCRIPTIONS",
    "CHECK_FLAPPING",
    "CHECK_MONOTONIC",
    "CHECK_PSI",
    "CHECK_SEGMENTS",
    "CHECK_TIER_SHARE",
    "CHECK_TIER_SHARE_DESCRIPTION",
    "MIN_SEGMENT_ROWS",
    "MIN_TIER_ROWS",
    "SEGMENT_AUC_GAP",
    "SEGMENT_MISSING_MAX",
    "SEGMENT_TYPES",
    "TIER_SHARE_DAYS",
    "TIER_SHARE_MAX",
    "VALIDATION_COLUMNS",
    "CheckOutcome",
    "TierShares",
    "ValidationResult",
    "compute_validation",
    "empty_result",
    "evaluate_checks",
    "evaluate_tier_shares",
    "fairness_findings",
    "labeled_sql",
    "live_scores_sql",
    "ordered_tiers",
    "read_validation",
    "recent_tier_shares",
    "segment_table",
    "summary_from_table",
    "summary_markdown",
    "tier_rank_sql",
    "validate_warehouse",
    "write_validation",
]
