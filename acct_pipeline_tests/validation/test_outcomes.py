"""Outcomes from billing: churn, renewal, expansion, contraction, and the 90-day churn label."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from acct_pipeline.scoring.outcomes import (
    account_outcomes,
    churn_label_sql,
    churn_labels,
    create_outcome_tables,
    outcome_events,
)
from acct_pipeline.warehouse import BILLING_SUBSCRIPTIONS, IDENTITY_MAP


def _subs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        f"SELECT m.account_id, s.* FROM {BILLING_SUBSCRIPTIONS.qualified} s "
        f"JOIN {IDENTITY_MAP} m ON m.source_system = 'billing' AND m.source_id = s.customer_id"
    ).df()


def test_churn_and_renewal_events_follow_the_subscriptions(synthetic_warehouse: Path) -> None:
    with duckdb.connect(str(synthetic_warehouse), read_only=True) as con:
        events = outcome_events(con)
        subs = _subs(con)
    churned = events[events["event"] == "churned"].set_index("account_id")["event_date"]
    ended = subs[subs["ended_at"].notna()].set_index("account_id")["ended_at"].dt.date
    assert len(churned) == len(ended) > 0
    assert (churned.sort_index() == ended.sort_index()).all()

    renewed = events[events["event"] == "renewed"]
    expected = subs[subs["term_start"] > subs["started_at"]]
    assert set(renewed["account_id"]) == set(expected["account_id"])


def test_expansion_and_contraction_come_from_invoice_mrr_changes(synthetic_warehouse: Path) -> None:
    with duckdb.connect(str(synthetic_warehouse), read_only=True) as con:
        events = outcome_events(con)
    expanded = events[events["event"] == "expanded"]
    contracted = events[events["event"] == "contracted"]
    # the synthetic builder raises MRR for the healthiest accounts and lowers it for the weakest
    assert len(expanded) > 0 and len(contracted) > 0
    assert set(expanded["account_id"]).isdisjoint(set(contracted["account_id"]))
    assert contracted["detail"].str.contains("MRR 500.00 -> 400.00").any()


def test_an_account_with_a_live_subscription_has_not_churned(synthetic_copy: Path) -> None:
    with duckdb.connect(str(synthetic_copy)) as con:
        create_outcome_tables(con)
        victim = con.execute(
            "SELECT account_id FROM account_outcomes WHERE churned_on IS NOT NULL LIMIT 1"
        ).fetchone()[0]
        cust = con.execute(
            f"SELECT source_id FROM {IDENTITY_MAP} "
            "WHERE account_id = ? AND source_system = 'billing'",
            [victim],
        ).fetchone()[0]
        con.execute(
            f"INSERT INTO {BILLING_SUBSCRIPTIONS.qualified} "
            "(subscription_id, customer_id, plan, status, started_at, "
            "_source, _loaded_at) "
            "VALUES ('sub_new', ?, 'growth', 'active', TIMESTAMP '2026-05-01', 'test', now())",
            [cust],
        )
        outcomes = account_outcomes(con).set_index("account_id")
    assert pd.isna(outcomes.loc[victim, "churned_on"])


def test_label_is_churn_within_90_days_after_the_day(synthetic_warehouse: Path) -> None:
    with duckdb.connect(str(synthetic_warehouse), read_only=True) as con:
        create_outcome_tables(con)
        acc, churned_on = con.execute(
            "SELECT account_id, churned_on FROM account_outcomes "
            "WHERE churned_on IS NOT NULL ORDER BY churned_on DESC"
        ).fetchone()
        labels = con.execute(
            f"SELECT as_of_date, churned FROM ({churn_label_sql('scores.account_scores')}) "
            "WHERE account_id = ?",
            [acc],
        ).fetchall()
        day_labels = churn_labels(con, date(2026, 6, 1))
    assert len(labels) > 0
    # every stored day is before the churn date; the label is 1 when churn is within 90 days
    for as_of, churned in labels:
        assert as_of < churned_on
        assert churned == int((churned_on - as_of).days <= 90)
    assert set(day_labels["churned_within"]) <= {0, 1}
    assert day_labels["churned_within"].sum() > 0


def test_no_billing_tables_means_no_outcomes_not_an_error(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "empty.duckdb")) as con:
        counts = create_outcome_tables(con)
    assert counts == {"churned": 0, "renewed": 0, "expanded": 0, "contracted": 0}
