"""Checks on the validation (all WARN, never blocking: a weak score is news, not a broken run)."""

from collections.abc import Iterator

import dagster as dg

from acct_pipeline.defs.resources import WarehouseResource
from acct_pipeline.defs.validation.assets import SCORE_VALIDATION_KEY
from acct_pipeline.scoring.validation import CHECK_DESCRIPTIONS, evaluate_checks, summary_from_table


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
