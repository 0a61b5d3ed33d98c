"""Engagement categories: signals from touches / CRM / product, NULL when a category has no data,
re-weighting, the category's reason, explain's breakdown and the sync's optional fields."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import numpy as np
import pandas as pd
import pytest

from acct_pipeline.scoring import engagement
from acct_pipeline.scoring.explain import engagement_breakdown
from acct_pipeline.scoring.model import load_model
from acct_pipeline.scoring.reasons import engagement_change_reasons
from acct_pipeline.scoring.scores import score_day
from acct_pipeline.scoring.signals import compute_signals
from acct_pipeline.sync.mapping import default_fields, mapping_from_dict
from acct_pipeline.warehouse import ACCOUNT_SCORES, ACCOUNT_SIGNALS, SCHEMAS
from acct_pipeline_tests.scoring.tiny import AS_OF, build_tiny, insert, ts

MODEL = load_model()


def _touch(i: int, category: str, activity: str, day: str, **ids: str) -> dict:
    return {
        "touch_id": f"t{i}",
        "category": category,
        "activity_type": activity,
        "occurred_at": ts(day),
        "source": "files",
        **ids,
    }


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    for schema in SCHEMAS:
        c.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    build_tiny(c)
    touches = [
        # A, through its contact c1 only: 3 opens + 1 click now (6 points), 10 opens before
        *(_touch(i, "email", "email_open", "2026-06-20", contact_id="c1") for i in range(3)),
        _touch(3, "email", "email_click", "2026-06-25", contact_id="c1"),
        *(_touch(10 + i, "email", "email_open", "2026-05-20", contact_id="c1") for i in range(10)),
        _touch(30, "email", "email_bounce", "2026-06-29", contact_id="c1"),  # weight 0
        _touch(31, "email", "email_open", "2026-07-02", contact_id="c1"),  # after D
        # B, by account: social 40 days before D only
        _touch(40, "social", "social_share", "2026-05-21", account_id="B"),
        # an unknown contact: reaches no account
        _touch(50, "web", "page_view", "2026-06-20", contact_id="nobody"),
    ]
    insert(c, "marketing_touches", touches)
    yield c
    c.close()


def _signals(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    compute_signals(con, AS_OF, MODEL)
    return (
        con.execute(f"SELECT * FROM {ACCOUNT_SIGNALS} WHERE as_of_date = ?", [AS_OF])
        .df()
        .set_index("account_id")
    )


def test_category_signals_from_contact_touches(con: duckdb.DuckDBPyConnection) -> None:
    a = _signals(con).loc["A"]
    assert a["email_weighted"] == 6.0  # 3 opens x 1 + 1 click x 3; the bounce and D+2 left out
    assert a["email_engaged_contacts"] == 1
    assert a["email_rate"] == pytest.approx(6.0)  # one contact still at the company, 30 days
    assert a["email_days_since_last"] == 5
    assert a["email_change_pct"] == pytest.approx(6 / 10 - 1)
    assert a["sales_support_weighted"] > 0  # CRM activities / tickets of the tiny warehouse


def test_a_category_without_data_is_null_not_zero(con: duckdb.DuckDBPyConnection) -> None:
    s = _signals(con)
    for col in ("web_weighted", "web_rate", "web_days_since_last", "social_rate"):
        assert np.isnan(s.loc["A", col]), col
    b = s.loc["B"]
    assert b["social_weighted"] == 0.0  # B has social data, none in the window: a real zero
    assert b["social_days_since_last"] == 40
    assert b["social_change_pct"] == -1.0
    assert np.isnan(b["email_rate"]) and np.isnan(b["product_rate"])  # no product linked


def test_scores_leave_missing_categories_out_and_reweight(con: duckdb.DuckDBPyConnection) -> None:
    _signals(con)
    score_day(con, AS_OF, MODEL, churn=None)
    row = (
        con.execute(
            f"SELECT * FROM {ACCOUNT_SCORES} WHERE account_id = 'A' AND as_of_date = ?", [AS_OF]
        )
        .df()
        .iloc[0]
    )
    assert np.isnan(row["engagement_web"]) and np.isnan(row["engagement_social"])
    known = {c: row[engagement.score_column(c)] for c in ("email", "product", "sales_support")}
    assert all(0 <= v <= 100 for v in known.values())
    weights = MODEL.scores["engagement"].components
    expected = sum(weights[c].weight * v for c, v in known.items()) / sum(
        weights[c].weight for c in known
    )
    assert row["engagement_score"] == pytest.approx(expected, abs=0.1)


def test_reason_names_the_category_that_fell() -> None:
    frame = pd.DataFrame(
        {
            "email_weighted": [4.0, 4.0, 1.0],
            "email_change_pct": [-0.6, -0.2, -0.9],  # prior 10 / 5 / 10 points
            "web_weighted": [10.0, np.nan, 2.0],
            "web_change_pct": [-0.5, np.nan, -0.8],
        }
    )
    out = engagement_change_reasons(frame, 30)
    assert out[0] == "email engagement down 60 % vs prior 30 days"  # the larger fall of two
    assert out[1] is None  # a 20 % dip is no reason
    assert out[2] == "email engagement down 90 % vs prior 30 days"


def test_explain_shows_the_category_breakdown() -> None:
    scores = pd.Series(
        {
            "engagement_score": 55.0,
            "engagement_email": 70.0,
            "engagement_product": 40.0,
            "engagement_sales_support": 50.0,
            "engagement_web": np.nan,
            "engagement_social": np.nan,
        }
    )
    signals = pd.Series(
        {
            "email_weighted": 6.0,
            "email_change_pct": -0.4,
            "email_engaged_contacts": 1.0,
            "email_days_since_last": 5.0,
        }
    )
    text = "\n".join(engagement_breakdown(scores, signals, MODEL))
    assert "engagement categories (30-day window" in text
    assert "email" in text and "-40%" in text
    web = next(line for line in text.splitlines() if line.strip().startswith("web"))
    assert "no data" in web
    email = next(line for line in text.splitlines() if line.strip().startswith("email"))
    assert "weight  29%" in email  # 20 of the 70 points of the categories with data


def test_the_sync_mapping_accepts_engagement_fields() -> None:
    mapping = mapping_from_dict(
        {
            "fields": [
                {"name": "health_score"},
                {"name": "engagement_score"},
                {"name": "engagement_email", "hubspot": "my_email_engagement"},
            ]
        }
    )
    by_name = {f.name: f for f in mapping.fields}
    assert by_name["engagement_score"].source == "engagement_score"
    assert by_name["engagement_score"].hubspot == "acct_engagement_score"
    assert by_name["engagement_email"].hubspot == "my_email_engagement"
    assert by_name["engagement_email"].type == "number"
    assert "engagement_score" not in {f.name for f in default_fields()}  # opt-in
