"""Validation numbers, recomputed independently (pandas, numpy, scikit-learn) from the warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from acct_pipeline.scoring.validation import (
    CHECK_AUC,
    CHECK_FLAPPING,
    CHECK_MONOTONIC,
    CHECK_PSI,
    VALIDATION_COLUMNS,
    compute_validation,
    evaluate_checks,
    summary_from_table,
    validate_warehouse,
)
from acct_pipeline.warehouse import (
    ACCOUNT_SCORES,
    BILLING_SUBSCRIPTIONS,
    IDENTITY_MAP,
    SCORE_VALIDATION,
)


def _stored(db: Path) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"SELECT * FROM {SCORE_VALIDATION}").df()


def _value(df: pd.DataFrame, metric: str, **kw: str) -> float:
    part = df[df["metric"] == metric]
    for col, val in kw.items():
        part = part[part[col] == val]
    assert len(part) == 1, (metric, kw, part)
    return float(part["value"].iloc[0])


def labelled_history(db: Path) -> pd.DataFrame:
    """Scores with the 90-day churn label, computed in pandas straight from billing."""
    with duckdb.connect(str(db), read_only=True) as con:
        scores = con.execute(f"SELECT * FROM {ACCOUNT_SCORES}").df()
        subs = con.execute(
            f"SELECT m.account_id, s.started_at, s.ended_at, s.status, s.canceled_at, s.term_end "
            f"FROM {BILLING_SUBSCRIPTIONS.qualified} s JOIN {IDENTITY_MAP} m "
            "ON m.source_system = 'billing' AND m.source_id = s.customer_id"
        ).df()
    canceled_end = subs["canceled_at"].fillna(subs["term_end"]).where(subs["status"] == "canceled")
    subs["end"] = subs["ended_at"].fillna(canceled_end)
    per = subs.groupby("account_id").agg(
        all_ended=("end", lambda s: s.notna().all()),
        last_end=("end", "max"),
        since=("started_at", "min"),
    )
    churn_day = per.loc[per["all_ended"], "last_end"].dt.normalize()
    scores["as_of"] = pd.to_datetime(scores["as_of_date"])
    scores["churn_day"] = scores["account_id"].map(churn_day)
    scores["since"] = scores["account_id"].map(per["since"].dt.normalize())
    customer = scores["since"].notna() & (scores["since"] <= scores["as_of"])
    alive = scores["churn_day"].isna() | (scores["churn_day"] > scores["as_of"])
    scores = scores[customer & alive].copy()
    delta = (scores["churn_day"] - scores["as_of"]).dt.days
    scores["y"] = ((delta > 0) & (delta <= 90)).astype(int)
    return scores


@pytest.fixture
def validated(synthetic_copy: Path) -> Path:
    with duckdb.connect(str(synthetic_copy)) as con:
        validate_warehouse(con)
    return synthetic_copy


def test_table_is_tidy_long_format(validated: Path) -> None:
    df = _stored(validated)
    assert list(df.columns)[: len(VALIDATION_COLUMNS)] == list(VALIDATION_COLUMNS)
    assert {"date_from", "date_to", "model_versions", "computed_at"} <= set(df.columns)
    assert {
        "auc",
        "top_decile_lift",
        "churn_rate",
        "renewal_rate",
        "brier",
        "reliability_observed",
        "psi",
        "tier_change_share",
        "tier_flap_share",
        "tier_share",
        "missing_input_share",
    } <= set(df["metric"])
    assert set(df.loc[df["metric"] == "churn_rate", "window"]) == {
        "90d_after",
        "30d_before_end",
        "60d_before_end",
    } | ({"90d_before_end"} & set(df["window"]))
    assert {"plan", "region", "industry"} <= set(df["segment_type"])


def test_auc_matches_scikit_learn(validated: Path) -> None:
    hist = labelled_history(validated)
    stored = _stored(validated)
    assert hist["y"].sum() > 0
    expected_health = roc_auc_score(hist["y"], 100 - hist["health_score"])
    expected_prob = roc_auc_score(hist["y"], hist["churn_probability"])
    assert _value(stored, "auc", score="health_score") == pytest.approx(expected_health, abs=1e-9)
    assert _value(stored, "auc", score="churn_probability") == pytest.approx(
        expected_prob, abs=1e-9
    )


def test_brier_churn_by_tier_and_lift_match_pandas(validated: Path) -> None:
    hist = labelled_history(validated)
    stored = _stored(validated)
    assert _value(stored, "brier") == pytest.approx(
        brier_score_loss(hist["y"], hist["churn_probability"]), abs=1e-9
    )
    for tier, rate in hist.groupby("tier")["y"].mean().items():
        assert _value(stored, "churn_rate", segment=tier, window="90d_after") == pytest.approx(
            rate, abs=1e-9
        )
    # top decile per day: the ceil(n/10) riskiest accounts of each day
    hist["risk"] = 100 - hist["health_score"]
    rank = hist.groupby("as_of_date")["risk"].rank(method="first", ascending=False)
    per_day = hist.groupby("as_of_date")["risk"].transform("size")
    top = hist[rank <= np.ceil(per_day / 10)]
    expected_lift = top["y"].mean() / hist["y"].mean()
    assert _value(stored, "top_decile_lift", score="health_score") == pytest.approx(
        expected_lift, rel=0.05
    )


def test_psi_and_tier_changes_match_numpy(validated: Path) -> None:
    hist = labelled_history(validated)  # only for the day list
    with duckdb.connect(str(validated), read_only=True) as con:
        scores = con.execute(
            f"SELECT account_id, as_of_date, health_score, tier FROM {ACCOUNT_SCORES}"
        ).df()
    stored = _stored(validated)
    days = sorted(hist["as_of_date"].unique())
    d0, d1 = days[10], days[11]

    def dist(day: object) -> np.ndarray:
        s = scores.loc[scores["as_of_date"] == day, "health_score"].to_numpy()
        counts = np.bincount(np.clip(np.floor(s / 10).astype(int), 0, 9), minlength=10)
        return np.maximum(counts / counts.sum(), 1e-4)

    e, a = dist(d0), dist(d1)
    psi = float(np.sum((a - e) * np.log(a / e)))
    row = stored[
        (stored["metric"] == "psi") & (pd.to_datetime(stored["as_of_date"]) == pd.Timestamp(d1))
    ]
    assert float(row["value"].iloc[0]) == pytest.approx(psi, abs=1e-9)

    t0 = scores[scores["as_of_date"] == d0].set_index("account_id")["tier"]
    t1 = scores[scores["as_of_date"] == d1].set_index("account_id")["tier"]
    both = t0.index.intersection(t1.index)
    share = float((t0[both] != t1[both]).mean())
    row = stored[
        (stored["metric"] == "tier_change_share")
        & (pd.to_datetime(stored["as_of_date"]) == pd.Timestamp(d1))
    ]
    assert float(row["value"].iloc[0]) == pytest.approx(share, abs=1e-9)


def test_summary_read_back_from_the_table_equals_the_computed_one(synthetic_copy: Path) -> None:
    with duckdb.connect(str(synthetic_copy)) as con:
        result = validate_warehouse(con)
        back = summary_from_table(con)
    assert back["auc_health_score"] == pytest.approx(result.summary["auc_health_score"], abs=1e-4)
    assert back["churn_monotonic"] == result.summary["churn_monotonic"]
    assert back["psi_max"] == pytest.approx(result.summary["psi_max"], abs=1e-4)
    assert back["date_from"] == result.summary["date_from"]


def test_missing_churn_probability_is_reported_as_not_available(tmp_path: Path) -> None:
    from acct_pipeline_tests.validation import synthetic

    db = synthetic.build(tmp_path / "noprob.duckdb", accounts=60, days=15, with_probability=False)
    with duckdb.connect(str(db)) as con:
        result = compute_validation(con)
    assert result.summary["has_churn_probability"] is False
    assert result.summary["auc_churn_probability"] is None
    assert result.summary["brier"] is None
    assert result.summary["auc_health_score"] is not None
    assert result.metric("auc", score="churn_probability").empty


def test_no_scores_table_gives_an_empty_result(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "empty.duckdb")) as con:
        result = compute_validation(con)
    assert result.rows.empty
    assert result.summary["status"].startswith("no table")
    assert not evaluate_checks(result.summary)[0].passed


def _checks(**summary: object) -> dict[str, bool]:
    base = {
        "auc_health_score": 0.8,
        "churn_rate_by_tier": {
            "Healthy": 0.01,
            "At-Risk": 0.05,
            "Concerning": 0.1,
            "Critical": 0.3,
        },
        "tiers_judged_for_monotonicity": ["Healthy", "At-Risk", "Concerning", "Critical"],
        "churn_monotonic": True,
        "psi_max": 0.05,
        "tier_flap_share": 0.0,
        "tier_change_share_mean": 0.01,
    }
    base.update(summary)
    return {c.name: c.passed for c in evaluate_checks(base)}


def test_checks_pass_on_a_good_summary_and_warn_on_each_problem() -> None:
    assert all(_checks().values())
    assert not _checks(auc_health_score=0.55)[CHECK_AUC]
    assert not _checks(auc_health_score=0.97)[CHECK_AUC]  # too good: leakage
    assert not _checks(churn_monotonic=False)[CHECK_MONOTONIC]
    assert not _checks(psi_max=0.3)[CHECK_PSI]
    assert not _checks(tier_flap_share=0.2)[CHECK_FLAPPING]
    assert not _checks(tier_change_share_mean=0.3)[CHECK_FLAPPING]


def test_first_day_and_empty_histories_do_not_break_the_daily_run(tmp_path: Path) -> None:
    from acct_pipeline.scoring.report import build_report
    from acct_pipeline_tests.validation import synthetic

    one_day = synthetic.build(tmp_path / "one.duckdb", accounts=30, days=1)
    with duckdb.connect(str(one_day)) as con:
        result = validate_warehouse(con)
        checks = {c.name: c.passed for c in evaluate_checks(summary_from_table(con))}
        report = build_report(con, tmp_path / "r1")
    assert result.summary["psi_max"] is None and checks[CHECK_PSI] and checks[CHECK_FLAPPING]
    assert len(report.charts) == 8

    with duckdb.connect(str(tmp_path / "empty.duckdb")) as con:
        con.execute("CREATE SCHEMA scores")
        con.execute(
            f"CREATE TABLE {ACCOUNT_SCORES} (account_id VARCHAR, as_of_date DATE, "
            "health_score DOUBLE, tier VARCHAR, model_version VARCHAR)"
        )
        result = validate_warehouse(con)
        assert con.execute(f"SELECT count(*) FROM {SCORE_VALIDATION}").fetchone()[0] == 0
        report = build_report(con, tmp_path / "r2")
    assert result.summary["status"] == "no scores in the requested range"
    assert report.path.exists() and report.charts == ["status"]


def test_churn_figures_come_only_from_rows_with_an_out_of_time_probability(
    synthetic_copy: Path,
) -> None:
    """Days before the first walk-forward model have no probability: they must not count, even
    when (as here) a leaky in-sample number is planted beside them. Churned accounts are out of
    the book: their rows count in no tier or AUC."""
    with duckdb.connect(str(synthetic_copy)) as con:
        days = [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT as_of_date FROM {ACCOUNT_SCORES} ORDER BY 1"
            ).fetchall()
        ]
        cutoff = days[len(days) // 2]
        con.execute(
            f"ALTER TABLE {ACCOUNT_SCORES} ADD COLUMN lifecycle_status VARCHAR DEFAULT 'Active'"
        )
        con.execute(
            f"UPDATE {ACCOUNT_SCORES} SET churn_probability = NULL WHERE as_of_date < ?", [cutoff]
        )
        ghost = con.execute(f"SELECT min(account_id) FROM {ACCOUNT_SCORES}").fetchone()[0]
        con.execute(
            f"UPDATE {ACCOUNT_SCORES} SET lifecycle_status = 'Churned', tier = NULL, "
            "health_score = NULL WHERE account_id = ?",
            [ghost],
        )
    hist = labelled_history(synthetic_copy)
    hist = hist[hist["account_id"] != ghost]
    oot = hist[hist["churn_probability"].notna()]
    assert oot["as_of"].min().date() == cutoff and oot["y"].nunique() == 2
    with duckdb.connect(str(synthetic_copy), read_only=True) as con:
        result = compute_validation(con)
    s = result.summary
    assert s["auc_churn_probability"] == pytest.approx(
        roc_auc_score(oot["y"], oot["churn_probability"]), abs=1e-4
    )
    basis = s["auc_churn_probability_basis"]
    assert basis["n"] == len(oot) and basis["from"] == str(cutoff)
    assert s["auc_health_score_basis"]["n"] == len(hist)
    assert s["auc_health_score_on_churn_rows"] == pytest.approx(
        roc_auc_score(oot["y"], 100 - oot["health_score"]), abs=1e-4
    )
    assert None not in s["account_days_by_tier"] and sum(s["account_days_by_tier"].values()) == len(
        hist
    )


def test_a_reversal_after_a_real_score_move_is_not_flapping() -> None:
    """Issue #22: a dwell promotion at 92 followed by a drop to 80 is two real changes; a tier
    that changes and back on 2-point moves is flapping."""
    from datetime import date, timedelta

    from acct_pipeline.scoring.validation.metrics import _stability

    d0 = date(2026, 6, 1)
    rows = []
    # A flaps: 71 -> 69 -> 71 around the 70 boundary (moves of 2 points)
    for i, (score, tier) in enumerate(
        [(71, "At-Risk"), (69, "Concerning"), (71, "At-Risk"), (71, "At-Risk")]
    ):
        rows.append(("A", d0 + timedelta(days=i), score, tier))
    # B: promoted at 92.8, then a real 12-point drop two days later
    for i, (score, tier) in enumerate(
        [(93.0, "At-Risk"), (92.8, "Healthy"), (89.0, "Healthy"), (80.2, "At-Risk")]
    ):
        rows.append(("B", d0 + timedelta(days=i), score, tier))
    con = duckdb.connect()
    con.execute(
        "CREATE TEMP TABLE _v_scores (account_id VARCHAR, as_of_date DATE, health_score DOUBLE, "
        "tier VARCHAR)"
    )
    con.executemany("INSERT INTO _v_scores VALUES (?, ?, ?, ?)", rows)
    summary: dict = {}
    _stability(con, [], summary)
    assert summary["tier_flap_accounts"] == 1  # A only
    assert summary["tier_flap_share"] == 0.5
