"""Rule types, missing-value policies, knock-outs and segment weights on hand-made frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from acct_pipeline.scoring.model import Measure, ScoreDef, load_model, parse_model
from acct_pipeline.scoring.reasons import reason_codes
from acct_pipeline.scoring.rules import (
    evaluate_model,
    evaluate_score,
    knockout_mask,
    rule_points,
    segment_of,
)

NAN = np.nan


def measure(**kw) -> Measure:
    return Measure.model_validate(kw)


def test_thresholds_rule_higher_and_lower_is_better() -> None:
    m = measure(
        signal="active_users_30d",
        rule={
            "type": "thresholds",
            "thresholds": [
                {"at": 0, "points": 0},
                {"at": 5, "points": 40},
                {"at": 20, "points": 100},
            ],
        },
    )
    got = rule_points(m, np.array([-3, 0, 4.99, 5, 19, 20, 500, NAN]))
    assert got[:-1].tolist() == [0, 0, 0, 40, 40, 100, 100]
    assert np.isnan(got[-1])
    low = measure(
        signal="open_tickets",
        direction="lower_is_better",
        rule={
            "type": "thresholds",
            "thresholds": [
                {"at": 0, "points": 100},
                {"at": 1, "points": 50},
                {"at": 3, "points": 0},
            ],
        },
    )
    assert rule_points(low, np.array([0, 1, 2, 3, 9])).tolist() == [100, 50, 50, 0, 0]


def test_linear_rule_with_direction_and_clipping() -> None:
    up = measure(signal="meetings_30d", rule={"type": "linear", "base": 10, "per_unit": 20})
    assert rule_points(up, np.array([0, 1, 4, 10])).tolist() == [10, 30, 90, 100]
    down = measure(
        signal="open_tickets",
        direction="lower_is_better",
        rule={"type": "linear", "base": 100, "per_unit": 15},
    )
    assert rule_points(down, np.array([0, 2, 10])).tolist() == [100, 70, 0]


def test_bounded_linear_rule_is_flat_outside_its_bounds() -> None:
    m = measure(signal="seat_utilisation", rule={"type": "bounded_linear", "low": 0.2, "high": 0.6})
    assert rule_points(m, np.array([0.0, 0.2, 0.4, 0.6, 0.9])) == pytest.approx(
        [0, 0, 50, 100, 100]
    )
    rev = measure(
        signal="median_resolution_hours_90d",
        direction="lower_is_better",
        rule={"type": "bounded_linear", "low": 24, "high": 72, "min_points": 20, "max_points": 80},
    )
    assert rule_points(rev, np.array([0, 24, 48, 72, 500])) == pytest.approx([80, 80, 50, 20, 20])


def _score(missing: str, missing_points: float = 0.0) -> ScoreDef:
    return ScoreDef.model_validate(
        {
            "components": {
                "usage": {
                    "weight": 60,
                    "measures": [
                        {
                            "signal": "seat_utilisation",
                            "weight": 1,
                            "rule": {"type": "bounded_linear", "low": 0, "high": 1},
                        },
                        {
                            "signal": "active_days_30d",
                            "weight": 3,
                            "missing": missing,
                            "missing_points": missing_points,
                            "rule": {"type": "bounded_linear", "low": 0, "high": 30},
                        },
                    ],
                },
                "support": {
                    "weight": 40,
                    "measures": [
                        {
                            "signal": "csat_latest",
                            "rule": {"type": "bounded_linear", "low": 1, "high": 5},
                        }
                    ],
                },
            },
            "knockouts": [
                {
                    "signal": "max_days_overdue",
                    "op": ">=",
                    "value": 60,
                    "cap": 49,
                    "reason": "{value:int} days overdue",
                }
            ],
        }
    )


FRAME = pd.DataFrame(
    {
        "account_id": ["known", "no_days", "no_support", "overdue", "nothing"],
        "seat_utilisation": [0.8, 0.8, 0.8, 1.0, NAN],
        "active_days_30d": [15, NAN, 15, 30, NAN],
        "csat_latest": [5.0, 5.0, NAN, 5.0, NAN],
        "max_days_overdue": [0, 0, 0, 75, NAN],
    }
)


def test_missing_exclude_reweights_the_remaining_measures() -> None:
    r = evaluate_score("health", _score("exclude"), FRAME)
    usage = r.component_scores["usage"]
    assert usage[0] == pytest.approx((80 * 1 + 50 * 3) / 4)
    assert usage[1] == pytest.approx(80.0)  # only seat utilisation left, at full weight
    # points add up to the score; a component with nothing known is excluded and re-weighted
    total = sum(np.nan_to_num(p) for p in r.component_points.values())
    assert total[:3] == pytest.approx(r.uncapped[:3])
    assert np.isnan(r.component_points["support"][2])
    assert r.score[2] == pytest.approx(usage[2])
    assert np.isnan(r.score[4])  # nothing known: no score rather than a made-up one


def test_missing_penalize_scores_missing_points() -> None:
    r = evaluate_score("health", _score("penalize", missing_points=10), FRAME)
    assert r.component_scores["usage"][1] == pytest.approx((80 * 1 + 10 * 3) / 4)
    # the same account scores lower under "penalize" than under "exclude"
    excluded = evaluate_score("health", _score("exclude"), FRAME)
    assert r.score[1] < excluded.score[1]


def test_knockout_caps_the_score_and_explains_itself() -> None:
    r = evaluate_score("health", _score("exclude"), FRAME)
    assert r.uncapped[3] == pytest.approx(100.0)
    assert r.score[3] == pytest.approx(49.0)
    assert r.score[0] == pytest.approx(r.uncapped[0])  # 0 days overdue does not fire
    assert knockout_mask(r.knockouts[0].knockout, np.array([NAN, 59, 60])).tolist() == [
        False,
        False,
        True,
    ]
    reasons, _ = reason_codes(r, FRAME, max_reasons=3)
    assert reasons[3][0] == "75 days overdue"
    assert not any("overdue" in s for s in reasons[0])


def test_segment_weights_apply_to_matching_rows_only() -> None:
    model = load_model()
    frame = pd.DataFrame(
        {
            "account_id": ["ent", "growth", "onb"],
            "plan": ["enterprise", "growth", "growth"],
            "lifecycle_stage": ["customer", "customer", "onboarding"],
            "seat_utilisation": [0.2, 0.2, 0.2],
            "engagement_decayed": [15.0, 15.0, 15.0],
            "days_since_last_touch": [1.0, 1.0, 1.0],
        }
    )
    assert segment_of(model, frame).tolist() == ["enterprise", "", "onboarding"]
    results, _ = evaluate_model(model, frame)
    h = results["health"]
    # same signals, different weights: usage (poor) counts less for enterprise, more in onboarding
    usage_share = h.component_points["usage"] / h.uncapped
    assert usage_share[0] < usage_share[1] < usage_share[2]
    assert h.score[0] > h.score[1] > h.score[2]
    # the component weights in use are the segment's: usage 30 vs engagement 30 for enterprise
    ratio = (h.component_points["usage"][0] / h.component_scores["usage"][0]) / (
        h.component_points["engagement"][0] / h.component_scores["engagement"][0]
    )
    assert ratio == pytest.approx(30 / 30)
    ratio_default = (h.component_points["usage"][1] / h.component_scores["usage"][1]) / (
        h.component_points["engagement"][1] / h.component_scores["engagement"][1]
    )
    assert ratio_default == pytest.approx(35 / 25)


def test_reasons_are_sentences_with_numbers_ordered_by_impact() -> None:
    model = load_model()
    frame = pd.DataFrame(
        {
            "account_id": ["a"],
            "seat_utilisation": [0.15],
            "usage_trend_pct": [-0.42],
            "overdue_invoices": [2.0],
            "overdue_amount": [4800.0],
            "days_since_last_touch": [3.0],
        }
    )
    results, _ = evaluate_model(model, frame)
    reasons, impact = reason_codes(results["health"], frame, max_reasons=5)
    # day-to-day noise is rounded / bucketed away: the wording changes only with the meaning
    assert "usage down in the last 7 days vs the prior 28" in reasons[0]
    assert "2 invoices overdue, $4,800" in reasons[0]
    assert "20% of paid seats active in the last 30 days" in reasons[0]
    # shares: usage 35/80, engagement 25/80, business 20/80 (support and contract unknown);
    # touch +15.6, seats -11.3, overdue -10.0, usage trend -3.5 points vs neutral
    assert reasons[0] == [
        "last reply, meeting or call less than 7 days ago",
        "20% of paid seats active in the last 30 days",
        "2 invoices overdue, $4,800",
        "usage down in the last 7 days vs the prior 28",
    ]
    known = impact[0][~np.isnan(impact[0])]
    assert sorted(np.abs(known), reverse=True)[:4] == pytest.approx(
        [15.625, 11.25, 10.0, 3.5], abs=0.1
    )


def test_parse_model_round_trip_keeps_hash_and_source() -> None:
    model = load_model()
    again = parse_model(model.model_dump(mode="json"), source="copy.yaml", content_hash="abc")
    assert again.source == "copy.yaml" and again.content_hash == "abc"
    assert again.health == model.health


def test_reasons_for_many_rows_match_one_row_at_a_time() -> None:
    """Batch rendering formats each distinct combination of placeholder values once; every row
    must still get the sentence it gets alone (two-placeholder templates included)."""
    from datetime import date

    from acct_pipeline.scoring.scores import HISTORY_COLUMNS, score_frame

    model = load_model()
    rng = np.random.default_rng(3)
    n = 300
    frame = pd.DataFrame(
        {
            "account_id": [f"a{i:03d}" for i in range(n)],
            # few distinct values each, so combinations repeat across rows in every mix
            "overdue_invoices": rng.choice([0.0, 1.0, 2.0, np.nan], n),
            "overdue_amount": rng.choice([0.0, 250.0, 4800.0, np.nan], n),
            "seat_utilisation": rng.choice([0.15, 0.5, 0.9, np.nan], n),
            "usage_trend_pct": rng.choice([-0.42, 0.0, 0.3], n),
            "days_since_last_touch": rng.choice([1.0, 13.0, 60.0, np.nan], n),
            "max_days_overdue": rng.choice([0.0, 75.0], n),
        }
    )
    results, _ = evaluate_model(model, frame)
    top = model.reasons.max_reasons
    batch, _ = reason_codes(results["health"], frame, max_reasons=top)
    alone = []
    for i in range(n):
        row = frame.iloc[[i]].reset_index(drop=True)
        r, _ = evaluate_model(model, row)
        alone.append(reason_codes(r["health"], row, max_reasons=top)[0][0])
    assert batch == alone
    assert any("invoices overdue" in s for rs in batch for s in rs)
    # the scores frame carries the same lists, as an Arrow-backed list column
    history = pd.DataFrame(columns=["account_id", *HISTORY_COLUMNS])
    scored, _ = score_frame(frame, history, model, date(2026, 6, 1))
    # ... followed by one note naming the components this frame has no data for
    stored = scored["reason_codes"].tolist()
    assert [r[: len(b)] for r, b in zip(stored, batch, strict=True)] == batch
    assert all(len(r) == len(b) + 1 for r, b in zip(stored, batch, strict=True))
    assert all(r[-1].startswith("no data for ") for r in stored)


def test_reason_wording_is_stable_while_the_meaning_is() -> None:
    """Reasons go to CRM fields daily: a value drifting by a day or a point keeps its sentence."""
    from acct_pipeline.scoring.reasons import render

    touch = "last reply, meeting or call {value:atleast:7,14,30,60,90} days ago"
    assert {render(touch, float(d), {}) for d in range(61, 90)} == {
        "last reply, meeting or call at least 60 days ago"
    }
    assert render(touch, 3.0, {}) == "last reply, meeting or call less than 7 days ago"
    assert render(touch, 90.0, {}) == "last reply, meeting or call at least 90 days ago"
    renewal = "renewal {value:within_days:30,60,90}"
    assert [render(renewal, v, {}) for v in (-2.0, 12.0, 31.0, 95.0)] == [
        "renewal date passed",
        "renewal within 30 days",
        "renewal within 60 days",
        "renewal in over 90 days",
    ]
    assert {render("{value:pct~10} active", v, {}) for v in (0.36, 0.41, 0.44)} == {"40% active"}
    assert render("usage {value:updown%~10}", -0.03, {}) == "usage flat"
    trend = "usage {value:trend:15,50}"
    assert [render(trend, v, {}) for v in (0.1, -0.3, 0.49, 5.7)] == [
        "usage flat",
        "usage down",
        "usage up",
        "usage up sharply (over 50%)",
    ]
    with pytest.raises(ValueError, match="must be increasing"):
        render("{value:atleast:30,7}", 1.0, {})
