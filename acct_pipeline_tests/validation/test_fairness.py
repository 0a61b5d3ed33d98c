"""Fairness by segment: a segment scored on missing data, and scored worse, raises the warning;
the validation table and the report carry the per-segment figures."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest

from acct_pipeline.scoring.report import build_report
from acct_pipeline.scoring.validation import (
    CHECK_SEGMENTS,
    compute_validation,
    evaluate_checks,
    segment_table,
    summary_from_table,
    write_validation,
)
from acct_pipeline.warehouse import ACCOUNT_SCORES, IDENTITY_MAP


def _check(summary: dict) -> tuple[bool, str]:
    (outcome,) = [c for c in evaluate_checks(summary) if c.name == CHECK_SEGMENTS]
    return outcome.passed, outcome.description


@pytest.fixture
def planted(synthetic_copy: Path) -> Path:
    """APAC accounts have no product data: 60 % of their health weight is missing and their
    score is noise; everyone else is tracked with full coverage."""
    rng = np.random.default_rng(11)
    with duckdb.connect(str(synthetic_copy)) as con:
        con.execute(f"ALTER TABLE {ACCOUNT_SCORES} ADD COLUMN data_coverage DOUBLE DEFAULT 1.0")
        con.execute(f"UPDATE {ACCOUNT_SCORES} SET data_coverage = 1.0")
        apac = [
            r[0]
            for r in con.execute(
                "SELECT account_id FROM staging.accounts WHERE region = 'APAC'"
            ).fetchall()
        ]
        con.execute(
            f"INSERT INTO {IDENTITY_MAP} SELECT 'product', 'g_' || account_id, account_id, "
            "'explicit_id', NULL FROM staging.accounts WHERE region <> 'APAC'"
        )
        noise = {a: float(rng.uniform(20, 100)) for a in apac}
        con.execute("CREATE TEMP TABLE noise (account_id VARCHAR, s DOUBLE)")
        con.executemany("INSERT INTO noise VALUES (?, ?)", list(noise.items()))
        con.execute(
            f"UPDATE {ACCOUNT_SCORES} t SET data_coverage = 0.4, health_score = n.s "
            "FROM noise n WHERE n.account_id = t.account_id"
        )
    return synthetic_copy


def test_clean_book_has_no_segment_warning(synthetic_warehouse: Path) -> None:
    with duckdb.connect(str(synthetic_warehouse), read_only=True) as con:
        result = compute_validation(con)
    table = segment_table(result.rows)
    assert set(table["segment_type"]) == {"plan", "region", "size_band", "product_data"}
    assert {"auc", "churn_rate", "account_days", "brier", "calibration_gap"} <= set(table.columns)
    assert any(c.startswith("tier_share:") for c in table.columns)
    passed, text = _check(result.summary)
    assert passed, text


def test_planted_segment_with_missing_data_warns(planted: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(planted)) as con:
        result = compute_validation(con)
        write_validation(con, result)
        stored = summary_from_table(con)
        report = build_report(con, tmp_path)
    table = segment_table(result.rows).set_index(["segment_type", "segment"])
    apac = table.loc[("region", "APAC")]
    assert apac["missing_weight_share"] == pytest.approx(0.6)
    assert apac["auc"] < result.summary["auc_health_score"] - 0.1
    assert table.loc[("product_data", "untracked"), "missing_weight_share"] == pytest.approx(0.6)
    assert table.loc[("product_data", "tracked"), "missing_weight_share"] == pytest.approx(0.0)
    passed, text = _check(result.summary)
    assert not passed
    assert "region=APAC: 60% of the health weight had no data" in text
    assert "region=APAC: health-score AUC" in text and "product_data=untracked" in text
    assert "region=EMEA" not in text
    # the check judges the stored table the same way
    assert _check(stored) == (passed, text)
    html = report.path.read_text()
    assert "Fairness by segment" in html and "WARN region=APAC" in html
    assert "<table class='fairness'>" in html and "untracked" in html


def _segment_row(auc: float, accounts: int, churned: int, days_per_account: int) -> dict:
    return {
        "segment_type": "region",
        "segment": "APAC",
        "account_days": accounts * days_per_account,
        "accounts": accounts,
        "churn_events": churned * days_per_account,
        "churned_accounts": churned,
        "auc": auc,
        "missing_weight_share": 0.0,
    }


def test_segment_auc_gap_is_judged_on_accounts_not_account_days() -> None:
    """Three churned accounts seen on 90 days each are 270 churned account-days but still only
    three outcomes: an AUC of 0.6 from them is noise, not a finding. The same AUC from 40 churned
    accounts out of 160 is a finding."""
    import pandas as pd

    from acct_pipeline.scoring.validation import fairness_findings
    from acct_pipeline.scoring.validation.metrics import auc_standard_error

    few = pd.DataFrame([_segment_row(0.6, accounts=12, churned=3, days_per_account=90)])
    many = pd.DataFrame([_segment_row(0.6, accounts=160, churned=40, days_per_account=90)])
    assert fairness_findings(few, whole_auc=0.85) == []
    (finding,) = fairness_findings(many, whole_auc=0.85)
    assert finding.startswith("region=APAC: health-score AUC 0.600")
    assert "40 churned" in finding and "160 accounts" in finding
    # a gap within SEGMENT_AUC_GAP is never a finding, however large the segment
    close = pd.DataFrame([_segment_row(0.8, accounts=5000, churned=1000, days_per_account=90)])
    assert fairness_findings(close, whole_auc=0.85) == []
    # the error shrinks with the number of accounts, not of days
    assert auc_standard_error(0.6, 3, 9) > 2 * auc_standard_error(0.6, 40, 120)
