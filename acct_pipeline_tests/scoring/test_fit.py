"""fit-model: weights fitted to outcomes stay explainable, flag contradicted directions, zero
measures with no signal, and the bands it chooses make churn rise across tiers."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from acct_pipeline.scoring.fit import (
    MAX_TIER_SHARE,
    FitError,
    FitRows,
    choose_bands,
    fit_model,
    format_fit,
    health_score,
)
from acct_pipeline.scoring.model import DEFAULT_MODEL_PATH, load_model

START = date(2026, 6, 7)


def _frame(rng: np.random.Generator, accounts: int, days: list[date], offset: int) -> pd.DataFrame:
    """Seat utilisation predicts churn, engagement runs the wrong way, open tickets are noise."""
    ids = [f"a{offset + i:04d}" for i in range(accounts)]
    risk = rng.uniform(0, 1, accounts)
    churned = (rng.uniform(0, 1, accounts) < 0.05 + 0.5 * risk**2).astype(int)
    rows = []
    for d in days:
        rows.append(
            pd.DataFrame(
                {
                    "account_id": ids,
                    "as_of_date": d,
                    "churned": churned,
                    "censored": False,
                    "seat_utilisation": np.clip(
                        0.9 - 0.8 * risk + rng.normal(0, 0.1, accounts), 0, 1
                    ),
                    # churners get *more* engagement: the declared direction is wrong here
                    "engagement_decayed": np.clip(
                        2 + 12 * risk + rng.normal(0, 2, accounts), 0, None
                    ),
                    "open_tickets": rng.integers(0, 3, accounts).astype(float),
                    "has_active_subscription": 1.0,
                    "customer_age_days": 400.0,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def rows() -> FitRows:
    rng = np.random.default_rng(3)
    train_days = [START + timedelta(days=7 * k) for k in range(3)]
    eval_days = [START + timedelta(days=7 * k) for k in range(3, 6)]
    train = _frame(rng, 600, train_days, 0)
    test = _frame(rng, 300, eval_days, 1000)
    return FitRows(
        train, test, train_days, eval_days, eval_days[-1], 90, sorted(set(test.account_id))
    )


def _base() -> dict:
    return yaml.safe_load(DEFAULT_MODEL_PATH.read_text())


def test_fit_weights_flags_and_changelog(rows: FitRows, tmp_path: Path) -> None:
    model = load_model()
    result = fit_model(model, _base(), rows, today=date(2026, 12, 10))
    by_key = {f.key: f for f in result.measures}
    # the measure that carries the signal carries the weight
    assert by_key["seat_utilisation"].weight == 10
    assert result.component_weights["usage"] == max(result.component_weights.values())
    assert sum(result.component_weights.values()) == 100
    # a contradicted direction is flagged and zeroed, not flipped
    flagged = by_key["engagement_decayed"]
    assert flagged.flag and flagged.weight == 0 and flagged.direction == "higher_is_better"
    assert flagged.univariate_auc < 0.5 and flagged.free_coef < 0
    # noise gets weight 0 with a comment
    assert by_key["open_tickets"].weight == 0 and "no signal" in by_key["open_tickets"].note
    # the file: same schema, loads, a new version, comments above the zeroed measures
    path = tmp_path / "candidate.yaml"
    path.write_text(result.text)
    cand = load_model(path)
    assert cand.version == "1.3.0" and cand.name == model.name
    assert cand.health.components["usage"].weight == result.component_weights["usage"]
    text = path.read_text()
    assert "# FLAG: the data contradict direction higher_is_better" in text
    assert "# no signal:" in text
    assert [
        m.weight
        for m in cand.health.components["engagement"].measures
        if m.signal == "engagement_decayed"
    ] == [0]
    assert not any("health" in s.weights for s in cand.segments)
    entry = cand.changelog[0].change
    for words in (
        "Training window: as-of days 2026-06-07 .. 2026-06-21",
        "n = 1,800",
        "churn events",
        "Health AUC",
        "(current",
        "churn by tier",
    ):
        assert words in entry, words
    # judged on the held-out rows: the candidate ranks churn better than the current model
    assert result.fitted.health_auc > result.current.health_auc + 0.02
    assert result.fitted.n == len(rows.test) and result.fitted.accounts == 300
    assert "health ROC-AUC" in format_fit(result)


def test_fitted_bands_make_churn_rise_and_no_tier_dominates(rows: FitRows) -> None:
    result = fit_model(load_model(), _base(), rows, fit_bands=True)
    assert result.bands_fitted
    mins = [lo for _, lo in result.bands]
    assert mins == sorted(mins, reverse=True) and mins[-1] == 0
    y = rows.train["churned"].to_numpy()
    score = health_score(result.candidate, rows.train)
    names = result.candidate.tiers.names
    rates, shares = [], []
    free = np.ones(len(score), bool)
    for _name, lo in result.bands:
        hit = free & (score >= lo)
        free &= ~hit
        shares.append(hit.mean())
        rates.append(y[hit].mean())
    assert all(0 < s <= MAX_TIER_SHARE for s in shares), dict(zip(names, shares, strict=True))
    assert all(a < b for a, b in zip(rates, rates[1:], strict=False)), rates
    assert result.fitted.churn_monotonic  # and so on the held-out rows


def test_choose_bands_gives_up_rather_than_break_the_rules() -> None:
    score = np.full(200, 80.0)  # one value: any cut leaves a tier empty or holding everything
    y = np.r_[np.ones(20), np.zeros(180)]
    assert choose_bands(score, y, ["A", "B", "C", "D"]) is None


def test_too_few_churn_events_is_a_clear_error(rows: FitRows) -> None:
    quiet = FitRows(
        rows.train.assign(churned=0),
        rows.test,
        rows.train_days,
        rows.eval_days,
        rows.last_day,
        90,
        rows.holdout_accounts,
    )
    with pytest.raises(FitError, match="churn events"):
        fit_model(load_model(), _base(), quiet)
