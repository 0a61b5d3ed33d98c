"""What actually happened to each account: churned, renewed, expanded, contracted (with dates).

Outcomes come from billing (subscriptions for churn and renewal, invoices for seat / MRR changes)
joined to CRM accounts through ``staging.identity_map`` (``source_system = 'billing'``,
``source_id = customer_id``). They are the ground truth the score is validated against, so they
are read from the end-of-history snapshot on purpose: a label looks into the future of day D.

- **churned**: every subscription of the account has ended (``ended_at`` set or status
  ``canceled``); the churn date is the last end date. An account with one live subscription left
  has not churned.
- **renewed**: a subscription's current term started after the subscription itself
  (``term_start > started_at``): a new term began on ``term_start``.
- **expanded / contracted**: MRR (or, at equal MRR, seats) went up / down from one invoice to the
  next of the same subscription; dated by the invoice's period start.

Everything here is SQL run inside DuckDB; the functions create TEMP tables on the connection so
the validation and the backtest can join them without another pass over billing.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from acct_pipeline.warehouse import (
    BILLING_INVOICES,
    BILLING_SUBSCRIPTIONS,
    IDENTITY_MAP,
    table_exists,
)

CHURN_HORIZON_DAYS = 90

# TEMP tables created on the connection by ``create_outcome_tables``.
OUTCOME_EVENTS = "outcome_events"  # account_id, event, event_date, subscription_id, detail
ACCOUNT_OUTCOMES = "account_outcomes"  # one row per account with churn / renewal dates
CONTRACT_ENDS = "contract_ends"  # account_id, end_date, outcome ('churned' | 'renewed')

EVENT_TYPES = ("churned", "renewed", "expanded", "contracted")

_SUBSCRIPTIONS_SQL = f"""
SELECT m.account_id,
       s.subscription_id,
       s.status,
       CAST(s.started_at AS DATE) AS started_on,
       CAST(s.term_start AS DATE) AS term_start,
       CAST(s.term_end AS DATE) AS term_end,
       CAST(coalesce(s.ended_at,
                     CASE WHEN s.status = 'canceled'
                          THEN coalesce(s.canceled_at, s.term_end) END) AS DATE) AS ended_on
FROM {BILLING_SUBSCRIPTIONS.qualified} s
JOIN {IDENTITY_MAP} m ON m.source_system = 'billing' AND m.source_id = s.customer_id
"""

_INVOICE_CHANGES_SQL = f"""
WITH inv AS (
    SELECT m.account_id,
           i.subscription_id,
           CAST(coalesce(i.period_start, i.created_at) AS DATE) AS period_on,
           i.invoice_id,
           i.mrr,
           i.seats,
           lag(i.mrr) OVER w AS prev_mrr,
           lag(i.seats) OVER w AS prev_seats
    FROM {BILLING_INVOICES.qualified} i
    JOIN {IDENTITY_MAP} m ON m.source_system = 'billing' AND m.source_id = i.customer_id
    WHERE coalesce(i.status, 'paid') NOT IN ('void', 'draft')
    WINDOW w AS (PARTITION BY m.account_id, coalesce(i.subscription_id, i.customer_id)
                 ORDER BY coalesce(i.period_start, i.created_at), i.invoice_id)
)
SELECT account_id,
       CASE WHEN mrr > prev_mrr OR (mrr = prev_mrr AND seats > prev_seats) THEN 'expanded'
            ELSE 'contracted' END AS event,
       period_on AS event_date,
       subscription_id,
       printf('MRR %.2f -> %.2f, seats %s -> %s', prev_mrr, mrr,
              coalesce(CAST(prev_seats AS VARCHAR), '?'),
              coalesce(CAST(seats AS VARCHAR), '?')) AS detail
FROM inv
WHERE prev_mrr IS NOT NULL
  AND (mrr <> prev_mrr OR (mrr = prev_mrr AND seats IS DISTINCT FROM prev_seats
                           AND prev_seats IS NOT NULL AND seats IS NOT NULL))
"""


def create_outcome_tables(
    con: duckdb.DuckDBPyConnection, known_by: date | None = None
) -> dict[str, int]:
    """Create the TEMP tables ``outcome_events``, ``account_outcomes`` and ``contract_ends``.

    ``known_by``: the outcomes as they could be known at the end of that day (subscriptions
    started later are ignored, ends after it have not happened yet) — what a churn model trained
    on that day may learn from. ``None``: the whole stored history.
    Missing billing tables give empty outcomes (and a validation that reports "no outcomes")
    instead of an error. Returns the number of events per type.
    """
    have_subs = table_exists(con, BILLING_SUBSCRIPTIONS.qualified) and table_exists(
        con, IDENTITY_MAP
    )
    have_invoices = have_subs and table_exists(con, BILLING_INVOICES.qualified)
    empty_subs = (
        "SELECT NULL::VARCHAR AS account_id, NULL::VARCHAR AS subscription_id,"
        " NULL::VARCHAR AS status,"
        " NULL::DATE AS started_on, NULL::DATE AS term_start, NULL::DATE AS term_end,"
        " NULL::DATE AS ended_on WHERE false"
    )
    subs_sql = _SUBSCRIPTIONS_SQL if have_subs else empty_subs
    if known_by is not None:
        cut = f"DATE '{known_by.isoformat()}'"
        subs_sql = f"""
        SELECT account_id, subscription_id, status, started_on,
               CASE WHEN term_start <= {cut} THEN term_start END AS term_start,
               term_end,
               CASE WHEN ended_on <= {cut} THEN ended_on END AS ended_on
        FROM ({subs_sql}) WHERE started_on <= {cut}
        """
    con.execute("CREATE OR REPLACE TEMP TABLE _outcome_subs AS " + subs_sql)
    changes = (
        _INVOICE_CHANGES_SQL
        if have_invoices
        else "SELECT NULL::VARCHAR AS account_id, NULL::VARCHAR AS event, NULL::DATE AS event_date,"
        " NULL::VARCHAR AS subscription_id, NULL::VARCHAR AS detail WHERE false"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {ACCOUNT_OUTCOMES} AS
        WITH per_account AS (
            SELECT account_id,
                   count(*) AS subscriptions,
                   bool_and(ended_on IS NOT NULL) AS all_ended,
                   max(ended_on) AS last_end,
                   max(CASE WHEN term_start > started_on THEN term_start END) AS last_renewal,
                   min(started_on) AS customer_since,
                   max(CASE WHEN ended_on IS NULL THEN term_end END) AS next_term_end
            FROM _outcome_subs
            GROUP BY account_id
        )
        SELECT account_id,
               subscriptions,
               customer_since,
               CASE WHEN all_ended THEN last_end END AS churned_on,
               last_renewal AS renewed_on,
               next_term_end
        FROM per_account
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {OUTCOME_EVENTS} AS
        SELECT account_id, 'churned' AS event, churned_on AS event_date,
               NULL::VARCHAR AS subscription_id, 'all subscriptions ended' AS detail
        FROM {ACCOUNT_OUTCOMES} WHERE churned_on IS NOT NULL
        UNION ALL
        SELECT account_id, 'renewed', term_start, subscription_id,
               printf('new term %s .. %s', term_start, coalesce(CAST(term_end AS VARCHAR), '?'))
        FROM _outcome_subs WHERE term_start > started_on
        UNION ALL
        SELECT * FROM ({changes})
        """
    )
    # A contract end is a moment of truth: the account either renewed or left.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {CONTRACT_ENDS} AS
        SELECT account_id, event_date AS end_date, event AS outcome
        FROM {OUTCOME_EVENTS} WHERE event IN ('churned', 'renewed')
        """
    )
    counts = dict(
        con.execute(f"SELECT event, count(*) FROM {OUTCOME_EVENTS} GROUP BY 1").fetchall()
    )
    return {e: int(counts.get(e, 0)) for e in EVENT_TYPES}


def outcome_events(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every outcome event: ``account_id, event, event_date, subscription_id, detail``."""
    create_outcome_tables(con)
    return con.execute(
        f"SELECT * FROM {OUTCOME_EVENTS} ORDER BY event_date, account_id, event"
    ).df()


def account_outcomes(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per billed account: ``churned_on``, ``renewed_on``, ``next_term_end``, ..."""
    create_outcome_tables(con)
    return con.execute(f"SELECT * FROM {ACCOUNT_OUTCOMES} ORDER BY account_id").df()


def churn_label_sql(scores_relation: str, horizon_days: int = CHURN_HORIZON_DAYS) -> str:
    """SQL labelling each (account, as-of day D) row of ``scores_relation``.

    ``churned`` is 1 when the account churned in (D, D + horizon]. Only customers on D are
    labelled: accounts without a billing link (no observable outcome), accounts whose first
    subscription starts after D, and accounts that had already churned on or before D are left
    out.
    ``censored`` marks days whose horizon runs past the last scored day: a 0 there means "not
    churned yet", not "did not churn". Needs ``create_outcome_tables`` first.
    """
    return f"""
    SELECT s.*,
           CAST(o.churned_on IS NOT NULL
                AND o.churned_on > s.as_of_date
                AND o.churned_on <= s.as_of_date + INTERVAL {int(horizon_days)} DAY AS INTEGER)
                    AS churned,
           s.as_of_date + INTERVAL {int(horizon_days)} DAY > (SELECT max(as_of_date) FROM
               {scores_relation})
               AS censored,
           o.churned_on
    FROM {scores_relation} s
    JOIN {ACCOUNT_OUTCOMES} o USING (account_id)
    WHERE (o.churned_on IS NULL OR o.churned_on > s.as_of_date)
      AND o.customer_since <= s.as_of_date
    """


def churn_labels(
    con: duckdb.DuckDBPyConnection, as_of: date, horizon_days: int = CHURN_HORIZON_DAYS
) -> pd.DataFrame:
    """``account_id, churned_within`` for every billed account still a customer on ``as_of``:
    1 if it churned within ``horizon_days`` after ``as_of`` (the churn model's training label)."""
    create_outcome_tables(con)
    return con.execute(
        f"""
        SELECT account_id,
               CAST(churned_on IS NOT NULL AND churned_on <= CAST(? AS DATE) + INTERVAL
                   {int(horizon_days)} DAY
                    AS INTEGER) AS churned_within
        FROM {ACCOUNT_OUTCOMES}
        WHERE (churned_on IS NULL OR churned_on > CAST(? AS DATE)) AND customer_since <= CAST(?
            AS DATE)
        ORDER BY account_id
        """,
        [as_of, as_of, as_of],
    ).df()
