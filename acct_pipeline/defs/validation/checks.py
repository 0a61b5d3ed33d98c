"""Checks on the validation (all WARN, never blocking: a weak score is news, not a broken run)."""

from collections.abc import Iterator

import dagster as dg

from acct_pipeline.defs.keys import SCORE_VALIDATION_KEY
from acct_pipeline.defs.resources import WarehouseResource
from acct_pipeline.scoring.model import load_model
from acct_pipeline.scoring.validation import (
    CHECK_DESCRIPTIONS,
    CHECK_TIER_SHARE,
    CHECK_TIER_SHARE_DESCRIPTION,
    evaluate_checks,
    evaluate_tier_shares,
    recent_tier_shares,
    summary_from_table,
)


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(name, asset=SCORE_VALIDATION_KEY, blocking=False, description=description)
        for name, description in CHECK_DESCRIPTIONS.items()
    ],
)
def score_validation_checks(warehouse: WarehouseResource) -> Iterator[dg.AssetCheckResult]:
    with warehouse.connect() as con:
        summary = summary_from_table(con)
    for outcome in evaluate_checks(summary):
        yield dg.AssetCheckResult(
            asset_key=SCORE_VALIDATION_KEY,
            check_name=outcome.name,
            passed=outcome.passed,
            severity=dg.AssetCheckSeverity.WARN,
            description=outcome.description,
            metadata={k: v for k, v in outcome.metadata.items() if v is not None},
        )


@dg.asset_check(
    asset=SCORE_VALIDATION_KEY,
    name=CHECK_TIER_SHARE,
    blocking=False,
    description=CHECK_TIER_SHARE_DESCRIPTION,
)
def tier_share_check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Share of accounts per tier of the loaded model over the last 30 scored days."""
    model = load_model()
    with warehouse.connect() as con:
        outcome = evaluate_tier_shares(recent_tier_shares(con, model.tiers.names))
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=outcome.description,
        metadata={
            k: dg.MetadataValue.json(v) if isinstance(v, dict | list) else v
            for k, v in outcome.metadata.items()
            if v is not None
        },
    )
