"""Signals on a hand-made warehouse: values, NULL vs zero, decay, point-in-time, day scores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from acct_pipeline.scoring.model import load_model
from acct_pipeline.scoring.scores import SCORE_COLUMNS, points_columns, score_day
from acct_pipeline.scoring.signals import SIGNALS, compute_signals
from acct_pipeline.warehouse import ACCOUNT_SCORES, ACCOUNT_SIGNALS, SCHEMAS
from acct_pipeline_tests.scoring.tiny import AS_OF, build_tiny, insert, ts

MODEL = load_model()


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    for schema in SCHEMAS:
        c.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    build_tiny(c)
    yield c
    c.close()


def _signals(con: duckdb.DuckDBPyConnection, day=AS_OF) -> pd.DataFrame:
    compute_signals(con, day, MODEL)
    return (
        con.execute(
            f"SELECT * FROM {ACCOUNT_SIGNALS} WHERE as_of_date = ? ORDER BY account_id", [day]
        )
        .df()
        .set_index("account_id")
    )


def test_signal_values_for_a_known_account(con: duckdb.DuckDBPyConnection) -> None:
    s = _signals(con)
    assert list(s.index) == ["A", "B"]  # C was created after D
    assert set(s.columns) == {sig.name for sig in SIGNALS} | {"as_of_date"}
    a = s.loc["A"]
    assert a.active_users_7d == 4 and a.active_users_30d == 6 and a.active_days_30d == 6
    assert a.key_features_used_30d == 2  # report_created, dashboard_viewed (both key features)
    assert a.seats == 10 and a.seat_utilisation == pytest.approx(0.6)
    assert a.usage_trend_pct == pytest.approx((4 / 7) / (2 / 28) - 1)
    assert a.mrr == 1000 and a.mrr_change_90d_pct == pytest.approx(0.25) and a.plan == "growth"
    assert a.overdue_invoices == 1 and a.overdue_amount == 1000 and a.max_days_overdue == 15
    assert a.failed_payments_30d == 1 and a.days_to_renewal == 185
    assert a.open_tickets == 1 and a.open_high_severity_tickets == 1 and a.escalations_90d == 1
    assert a.median_resolution_hours_90d == 48 and a.csat_latest == 4
    assert a.meetings_30d == 1 and a.emails_replied_30d == 0  # the reply is 30 days old
    assert a.days_since_last_touch == 10 and a.nps_latest == 9
    assert a.champions == 1 and a.champion_left_90d == 1 and a.contacts == 1


def test_missing_inputs_are_null_not_zero(con: duckdb.DuckDBPyConnection) -> None:
    b = _signals(con).loc["B"]
    # B has no product workspace and no billing customer linked: unknown, not zero
    for col in (
        "active_users_30d",
        "seat_utilisation",
        "mrr",
        "overdue_invoices",
        "days_to_renewal",
        "usage_trend_pct",
        "csat_latest",
        "nps_latest",
        "days_since_last_touch",
    ):
        assert pd.isna(b[col]), col
    # ... while CRM counts are known zeros (B is in the CRM)
    assert b.meetings_30d == 0 and b.open_tickets == 0


def test_decay_halves_an_activity_every_half_life(con: duckdb.DuckDBPyConnection) -> None:
    # meeting 10 days ago (w 5), reply 30 days ago (w 2), NPS answer 90 days ago (w 1); half-life 30
    a = _signals(con).loc["A"]
    assert a.engagement_decayed == pytest.approx(5 * 0.5 ** (10 / 30) + 2 * 0.5 + 1 * 0.5**3)
    # hard window, no half-life: plain weighted count of the last 60 days
    doc = MODEL.model_dump(mode="json")
    doc["signals"] |= {"half_life_days": None, "lookback_days": 60}
    from acct_pipeline.scoring.model import parse_model

    window = parse_model(doc)
    compute_signals(con, AS_OF, window)
    got = con.execute(
        f"SELECT engagement_decayed FROM {ACCOUNT_SIGNALS} WHERE account_id = 'A'"
    ).fetchone()[0]
    assert got == pytest.approx(5 + 2)  # the NPS answer is outside the 60-day window


def _later_records(con: duckdb.DuckDBPyConnection) -> None:
    """Records dated after D (D + 1 .. D + 5) in every source."""
    later = (AS_OF + timedelta(days=1)).isoformat()
    insert(
        con,
        "product_events",
        [
            {
                "event_id": "late1",
                "event_name": "export_run",
                "occurred_at": ts(later),
                "user_id": "z9",
                "group_id": "g-a",
            },
        ],
    )
    insert(
        con,
        "crm_activities",
        [
            {
                "activity_id": "late2",
                "company_id": "A",
                "contact_id": "c1",
                "activity_type": "meeting",
                "occurred_at": ts(later),
            },
            {
                "activity_id": "late3",
                "company_id": "B",
                "contact_id": "c7",
                "activity_type": "nps_response",
                "occurred_at": ts(later),
                "value": 2.0,
            },
        ],
    )
    insert(
        con,
        "crm_tickets",
        [
            {
                "ticket_id": "late4",
                "company_id": "A",
                "created_at": ts(later),
                "severity": "urgent",
                "escalated": True,
            },
        ],
    )
    insert(
        con,
        "billing_invoices",
        [
            {
                "invoice_id": "late5",
                "customer_id": "cus-a",
                "subscription_id": "s1",
                "created_at": ts(later),
                "period_start": ts(later),
                "due_date": ts(later),
                "amount_due": 5.0,
                "attempt_count": 4,
                "plan": "enterprise",
                "seats": 50,
                "mrr": 9000.0,
            },
        ],
    )
    insert(
        con,
        "crm_contacts",
        [
            {
                "contact_id": "late6",
                "company_id": "A",
                "is_champion": True,
                "created_at": ts(later),
            },
        ],
    )
    # and a snapshot fact that changes after D: the champion c1 leaves, the open ticket closes
    con.execute(
        "UPDATE ingest.crm_contacts SET left_company_at = ? WHERE contact_id = 'c1'", [ts(later)]
    )
    con.execute(
        "UPDATE ingest.crm_tickets SET closed_at = ?, status = 'closed' WHERE ticket_id = 't1'",
        [ts(later)],
    )
    con.execute(
        "UPDATE ingest.billing_subscriptions SET canceled_at = ?, ended_at = ? "
        "WHERE subscription_id = 's1'",
        [ts(later), ts((AS_OF + timedelta(days=5)).isoformat())],
    )


def test_point_in_time_records_after_d_change_nothing(con: duckdb.DuckDBPyConnection) -> None:
    before_days = [AS_OF - timedelta(days=k) for k in (2, 1, 0)]
    for d in before_days:
        compute_signals(con, d, MODEL)
        score_day(con, d, MODEL, churn=None)
    sig_before = con.execute(
        f"SELECT * FROM {ACCOUNT_SIGNALS} WHERE as_of_date = ? ORDER BY account_id", [AS_OF]
    ).df()
    sc_before = con.execute(
        f"SELECT * FROM {ACCOUNT_SCORES} WHERE as_of_date = ? ORDER BY account_id", [AS_OF]
    ).df()

    _later_records(con)
    for d in before_days:
        compute_signals(con, d, MODEL)
        score_day(con, d, MODEL, churn=None)
    sig_after = con.execute(
        f"SELECT * FROM {ACCOUNT_SIGNALS} WHERE as_of_date = ? ORDER BY account_id", [AS_OF]
    ).df()
    sc_after = con.execute(
        f"SELECT * FROM {ACCOUNT_SCORES} WHERE as_of_date = ? ORDER BY account_id", [AS_OF]
    ).df()
    pd.testing.assert_frame_equal(sig_before, sig_after)
    pd.testing.assert_frame_equal(sc_before, sc_after)

    # the same records do count on the day after: the test can tell them apart
    nxt = _signals(con, AS_OF + timedelta(days=1)).loc["A"]
    assert nxt.open_high_severity_tickets == 1  # t1 closed, late4 (urgent) open
    assert nxt.champions == 1  # c1 left, late6 joined
    assert nxt.mrr == 9000 and nxt.cancellation_notice == 1


def test_score_day_columns_points_and_rescoring(con: duckdb.DuckDBPyConnection) -> None:
    days = [AS_OF - timedelta(days=k) for k in range(8, -1, -1)]
    for d in days:
        compute_signals(con, d, MODEL)
        assert score_day(con, d, MODEL, churn=None) == 2
    cols = [r[0] for r in con.execute(f"DESCRIBE {ACCOUNT_SCORES}").fetchall()]
    assert cols == list(SCORE_COLUMNS) + points_columns(MODEL)
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'account_scores'"
        ).fetchall()
    )
    assert types["as_of_date"] == "DATE" and types["reason_codes"] == "VARCHAR[]"
    df = con.execute(
        f"SELECT * FROM {ACCOUNT_SCORES} WHERE as_of_date = ? ORDER BY account_id", [AS_OF]
    ).df()
    a = df.iloc[0]
    pts = a[points_columns(MODEL)].astype(float).fillna(0).sum()
    assert 0 <= a.health_score <= 100
    assert a.health_score == pytest.approx(min(pts, 100), abs=0.1)  # no knock-out fires for A
    assert a.model_version == MODEL.label
    assert a.previous_tier is not None and a.score_delta_7d == pytest.approx(0.0, abs=30)
    assert len(a.reason_codes) >= 3 and any(ch.isdigit() for ch in a.reason_codes[0])
    assert a.recommended_playbook == MODEL.playbook(a.tier, a.trend)
    # re-scoring a single day in the middle gives exactly the same rows (reads only earlier days)
    middle = days[4]
    before = con.execute(
        f"SELECT * FROM {ACCOUNT_SCORES} WHERE as_of_date = ? ORDER BY account_id", [middle]
    ).df()
    score_day(con, middle, MODEL, churn=None)
    after = con.execute(
        f"SELECT * FROM {ACCOUNT_SCORES} WHERE as_of_date = ? ORDER BY account_id", [middle]
    ).df()
    pd.testing.assert_frame_equal(before, after)
    assert con.execute(f"SELECT count(*) FROM {ACCOUNT_SCORES}").fetchone()[0] == 2 * len(days)


def test_knockout_in_the_warehouse_caps_health(con: duckdb.DuckDBPyConnection) -> None:
    # push A's open invoice to 75 days overdue
    con.execute(
        "UPDATE ingest.billing_invoices SET due_date = ? WHERE invoice_id = 'i2'",
        [ts((AS_OF - timedelta(days=75)).isoformat())],
    )
    compute_signals(con, AS_OF, MODEL)
    score_day(con, AS_OF, MODEL, churn=None)
    health, tier, reasons = con.execute(
        f"SELECT health_score, tier, reason_codes FROM {ACCOUNT_SCORES} WHERE account_id = 'A'"
    ).fetchone()
    assert health <= 69 and tier in ("Concerning", "Critical")
    assert reasons[0] == "payment at least 60 days overdue (caps health at 69)"
    assert np.isfinite(health)
