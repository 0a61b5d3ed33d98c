"""The tier-share check: over the last 30 scored days no tier dominates and none is empty."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
import yaml

from acct_pipeline.defs.resources import EngineResource, WarehouseResource
from acct_pipeline.defs.validation.assets import SCORE_VALIDATION_KEY
from acct_pipeline.defs.validation.checks import tier_share_check
from acct_pipeline.scoring.model import DEFAULT_MODEL_PATH, MODEL_ENV, load_model
from acct_pipeline.scoring.validation import (
    CHECK_TIER_SHARE,
    TIER_SHARE_DAYS,
    TIER_SHARE_MAX,
    compute_validation,
    evaluate_tier_shares,
    recent_tier_shares,
    summary_markdown,
)
from acct_pipeline.warehouse import ACCOUNT_SCORES

TIERS = load_model().tiers.names  # Healthy, At-Risk, Concerning, Critical
LAST = date(2026, 6, 30)


def _scores(
    con: duckdb.DuckDBPyConnection,
    per_day: dict[str | None, int],
    days: int = TIER_SHARE_DAYS,
    last: date = LAST,
    lifecycle: dict[str | None, str] | None = None,
    replace: bool = True,
) -> None:
    """``per_day[tier]`` accounts in each tier on each of ``days`` days ending ``last``."""
    rows = []
    for d in range(days):
        day = last - timedelta(days=d)
        i = 0
        for tier, n in per_day.items():
            for _ in range(n):
                row = {"account_id": f"A{i:03d}", "as_of_date": day, "tier": tier}
                if lifecycle is not None:
                    row["lifecycle_status"] = lifecycle.get(tier, "Active")
                rows.append(row)
                i += 1
    df = pd.DataFrame(rows)
    df["health_score"] = 50.0
    con.execute("CREATE SCHEMA IF NOT EXISTS scores")
    con.register("_rows", df)
    if replace:
        con.execute(f"CREATE OR REPLACE TABLE {ACCOUNT_SCORES} AS SELECT * FROM _rows")
    else:
        con.execute(f"INSERT INTO {ACCOUNT_SCORES} BY NAME SELECT * FROM _rows")
    con.unregister("_rows")


def _outcome(con: duckdb.DuckDBPyConnection, tiers: list[str] = TIERS):
    return evaluate_tier_shares(recent_tier_shares(con, tiers))


BALANCED = {"Healthy": 3, "At-Risk": 4, "Concerning": 2, "Critical": 1}


def test_balanced_tiers_pass() -> None:
    with duckdb.connect() as con:
        _scores(con, BALANCED)
        outcome = _outcome(con)
    assert outcome.name == CHECK_TIER_SHARE
    assert outcome.passed, outcome.description
    assert outcome.metadata["tier_share_30d"] == {
        "Healthy": 0.3,
        "At-Risk": 0.4,
        "Concerning": 0.2,
        "Critical": 0.1,
    }
    assert outcome.metadata["account_days_by_tier"]["At-Risk"] == 4 * TIER_SHARE_DAYS


def test_one_tier_above_60_percent_warns() -> None:
    with duckdb.connect() as con:
        _scores(con, {"Healthy": 1, "At-Risk": 7, "Concerning": 1, "Critical": 1})
        outcome = _outcome(con)
    assert TIER_SHARE_MAX == 0.60
    assert not outcome.passed
    assert "At-Risk holds 70.0% of account-days" in outcome.description


def test_an_empty_tier_warns() -> None:
    with duckdb.connect() as con:
        _scores(con, {"Healthy": 3, "At-Risk": 4, "Concerning": 3})
        outcome = _outcome(con)
    assert not outcome.passed
    assert "empty tier(s): Critical" in outcome.description
    assert outcome.metadata["tier_share_30d"]["Critical"] == 0.0


def test_only_the_last_30_scored_days_count() -> None:
    with duckdb.connect() as con:
        # 20 old days with everyone At-Risk, then 30 balanced days
        _scores(con, {"At-Risk": 10}, days=20, last=LAST - timedelta(days=TIER_SHARE_DAYS))
        _scores(con, BALANCED, replace=False)
        shares = recent_tier_shares(con, TIERS)
        outcome = evaluate_tier_shares(shares)
        everything = recent_tier_shares(con, TIERS, days=50)
    assert (shares.days, shares.date_from, shares.date_to) == (30, LAST - timedelta(days=29), LAST)
    assert outcome.passed, outcome.description
    assert not evaluate_tier_shares(everything).passed  # the old days would tip At-Risk over 60 %


def test_churned_and_untiered_rows_are_left_out_when_the_column_exists() -> None:
    with duckdb.connect() as con:
        # 12 churned accounts still carrying Critical would make Critical 12/22 = 55 %... plus
        # 8 without any tier; neither belongs in the health tiers
        _scores(
            con,
            {**BALANCED, "Critical": 13, None: 8},
            lifecycle={"Critical": "Churned", None: "Churned"},
        )
        outcome = _outcome(con)
    assert not outcome.passed  # Critical is empty once the churned rows are out
    assert "empty tier(s): Critical" in outcome.description
    assert outcome.metadata["excluded_account_days"] == (13 + 8) * TIER_SHARE_DAYS
    assert outcome.metadata["tier_share_30d"]["At-Risk"] == pytest.approx(4 / 9, abs=1e-4)


def test_without_a_lifecycle_column_only_untiered_rows_are_left_out() -> None:
    with duckdb.connect() as con:
        _scores(con, {**BALANCED, None: 50})
        outcome = _outcome(con)
    assert outcome.passed, outcome.description
    assert outcome.metadata["excluded_account_days"] == 50 * TIER_SHARE_DAYS


def test_no_scores_is_a_warning_not_a_crash() -> None:
    with duckdb.connect() as con:
        outcome = _outcome(con)
    assert not outcome.passed
    assert "no scored account" in outcome.description


def test_tier_names_come_from_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = yaml.safe_load(DEFAULT_MODEL_PATH.read_text())
    data["tiers"]["bands"] = [
        {"name": "Green", "min": 80},
        {"name": "Amber", "min": 50},
        {"name": "Red", "min": 0},
    ]
    data["playbooks"] = {"*": {"*": "Talk to the customer."}}
    data.pop("audiences", None)  # the default's audiences name the default's tiers
    model_file = tmp_path / "three_tiers.yaml"
    model_file.write_text(yaml.safe_dump(data))
    monkeypatch.setenv(MODEL_ENV, str(model_file))
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        _scores(con, {"Green": 4, "Amber": 5})

    @dg.asset(key=SCORE_VALIDATION_KEY)
    def score_validation_standin() -> None:
        return None

    result = dg.materialize(
        [score_validation_standin, tier_share_check],
        resources={"warehouse": WarehouseResource(path=str(db)), "engine": EngineResource()},
        instance=dg.DagsterInstance.ephemeral(),
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == CHECK_TIER_SHARE
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert not evaluation.passed
    assert "empty tier(s): Red" in (evaluation.description or "")
    assert list(evaluation.metadata["tier_share_30d"].value) == ["Green", "Amber", "Red"]


def test_validation_summary_and_rows_carry_the_30_day_share(synthetic_copy: Path) -> None:
    with duckdb.connect(str(synthetic_copy)) as con:
        result = compute_validation(con, tier_names=TIERS)
        in_window = con.execute(
            f"SELECT count(*) FROM {ACCOUNT_SCORES} WHERE as_of_date > "
            f"(SELECT max(as_of_date) FROM {ACCOUNT_SCORES}) - {TIER_SHARE_DAYS}"
        ).fetchone()[0]
    shares = result.summary["tier_share_30d"]
    assert list(shares) == TIERS
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-3)
    rows = result.metric("tier_share", segment_type="tier", window=f"last_{TIER_SHARE_DAYS}_days")
    assert sorted(rows["segment"]) == sorted(TIERS)
    assert rows["n"].sum() == in_window  # every account-day of the last 30 days (a day each)
    assert f"Tier share, last {TIER_SHARE_DAYS} scored days: Healthy" in summary_markdown(
        result.summary
    )
