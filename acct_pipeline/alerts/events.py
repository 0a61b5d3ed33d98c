"""Lifecycle events worth a same-day rescore and alert, read from the warehouse (or its read copy).

Four kinds, each with a key that names the event for good (the trigger sensor's run key, the
alert's event key, the delivery ledger):

``payment_failed``   an invoice that is ``uncollectible``, or ``open`` after more than one payment
                     attempt (``billing_invoices``); key ``payment_failed:<invoice id>``
``cancellation``     a subscription with ``canceled_at`` (notice given) or ``ended_at`` set
                     (``billing_subscriptions``); key ``cancellation:<subscription id>``
``champion_left``    a contact flagged ``is_champion`` whose ``left_company_at`` is set
                     (``crm_contacts``); key ``champion_left:<contact id>``
``usage_cliff``      an account whose ``active_users_7d`` on its newest signals day is below
                     ``ACCT_TRIGGER_USAGE_CLIFF_RATIO`` × its mean over the 28 days before
                     (``features.account_signals``); key ``usage_cliff:<account>:<day>``

Only events of the last ``lookback_days`` before the newest day the warehouse knows are returned,
so the years of history a first load brings never look new. Pure reads: nothing here writes, and
nothing imports Dagster (``defs/triggers.py`` is the wiring).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb

from acct_pipeline.alerts.detect import Alert
from acct_pipeline.warehouse import (
    ACCOUNT_SIGNALS,
    ACCOUNTS,
    BILLING_INVOICES,
    BILLING_SUBSCRIPTIONS,
    CRM_CONTACTS,
    IDENTITY_MAP,
    table_columns,
    table_exists,
)

PAYMENT_FAILED = "payment_failed"
CANCELLATION = "cancellation"
CHAMPION_LEFT = "champion_left"
USAGE_CLIFF = "usage_cliff"
KINDS = (PAYMENT_FAILED, CANCELLATION, CHAMPION_LEFT, USAGE_CLIFF)

HEADLINES = {
    PAYMENT_FAILED: "payment failed",
    CANCELLATION: "cancellation notice",
    CHAMPION_LEFT: "champion left the company",
    USAGE_CLIFF: "usage fell off a cliff",
}
PLAYBOOKS = {
    PAYMENT_FAILED: "Contact billing owner; confirm payment method before dunning escalates",
    CANCELLATION: "Save desk: call the sponsor within a day, understand the reason",
    CHAMPION_LEFT: "Find and onboard a new sponsor; re-run the value review",
    USAGE_CLIFF: "Check for an outage or integration break; reach out to the admins",
}
TRAILING_DAYS = 28
MIN_TRAILING_USERS = 3.0  # below this, a "cliff" is noise


@dataclass(frozen=True)
class LifecycleEvent:
    """One lifecycle event of one account."""

    kind: str
    key: str
    account_id: str
    day: date  # the day it happened (UTC)
    detail: str


def _billing_account() -> str:
    return (
        f"(SELECT m.account_id FROM {IDENTITY_MAP} m WHERE m.source_system = 'billing' "
        "AND m.source_id = x.customer_id LIMIT 1)"
    )


def _payment_failures(con: duckdb.DuckDBPyConnection) -> str | None:
    if not (table_exists(con, BILLING_INVOICES.qualified) and table_exists(con, IDENTITY_MAP)):
        return None
    return f"""
SELECT '{PAYMENT_FAILED}', '{PAYMENT_FAILED}:' || x.invoice_id, {_billing_account()},
       CAST(coalesce(x.due_date, x.created_at) AS DATE),
       'invoice ' || x.invoice_id || ' ' || x.status || ', ' ||
       CAST(coalesce(x.attempt_count, 0) AS VARCHAR) || ' attempt(s), due ' ||
       CAST(coalesce(x.amount_due, 0) AS VARCHAR)
FROM {BILLING_INVOICES.qualified} x
WHERE x.status = 'uncollectible' OR (x.status = 'open' AND coalesce(x.attempt_count, 0) > 1)"""


def _cancellations(con: duckdb.DuckDBPyConnection) -> str | None:
    if not (table_exists(con, BILLING_SUBSCRIPTIONS.qualified) and table_exists(con, IDENTITY_MAP)):
        return None
    return f"""
SELECT '{CANCELLATION}', '{CANCELLATION}:' || x.subscription_id, {_billing_account()},
       CAST(coalesce(x.canceled_at, x.ended_at) AS DATE),
       'subscription ' || x.subscription_id || ' (' || coalesce(x.plan, '?') || ') canceled'
       || coalesce(', ends ' || CAST(CAST(x.term_end AS DATE) AS VARCHAR), '')
FROM {BILLING_SUBSCRIPTIONS.qualified} x
WHERE x.canceled_at IS NOT NULL OR x.ended_at IS NOT NULL"""


def _champions_left(con: duckdb.DuckDBPyConnection) -> str | None:
    cols = table_columns(con, CRM_CONTACTS.qualified)
    if not {"is_champion", "left_company_at", "company_id"} <= set(cols):
        return None
    return f"""
SELECT '{CHAMPION_LEFT}', '{CHAMPION_LEFT}:' || x.contact_id, x.company_id,
       CAST(x.left_company_at AS DATE),
       'champion ' || coalesce(x.email, x.contact_id) || coalesce(' (' || x.job_title || ')', '')
       || ' left'
FROM {CRM_CONTACTS.qualified} x
WHERE x.is_champion AND x.left_company_at IS NOT NULL AND x.company_id IS NOT NULL"""


def _usage_cliffs(con: duckdb.DuckDBPyConnection, ratio: float) -> str | None:
    if "active_users_7d" not in table_columns(con, ACCOUNT_SIGNALS):
        return None
    return f"""
SELECT '{USAGE_CLIFF}', '{USAGE_CLIFF}:' || account_id || ':' || CAST(as_of_date AS VARCHAR),
       account_id, as_of_date,
       'active users (7 days) ' || CAST(round(today, 1) AS VARCHAR) || ' vs '
       || CAST(round(trailing_mean, 1) AS VARCHAR) || ' on average over the '
       || '{TRAILING_DAYS} days before'
FROM (
    SELECT account_id, as_of_date, CAST(active_users_7d AS DOUBLE) AS today,
           avg(active_users_7d) OVER (
               PARTITION BY account_id ORDER BY as_of_date
               RANGE BETWEEN INTERVAL {TRAILING_DAYS} DAYS PRECEDING AND INTERVAL 1 DAY PRECEDING
           ) AS trailing_mean
    FROM {ACCOUNT_SIGNALS}
    WHERE active_users_7d IS NOT NULL
)
WHERE trailing_mean >= {MIN_TRAILING_USERS} AND today < {float(ratio)} * trailing_mean"""


def newest_day(con: duckdb.DuckDBPyConnection) -> date | None:
    """The newest day the warehouse has signals for (the reference of the look-back)."""
    if not table_exists(con, ACCOUNT_SIGNALS):
        return None
    return con.execute(f"SELECT max(as_of_date) FROM {ACCOUNT_SIGNALS}").fetchone()[0]


def detect_events(
    con: duckdb.DuckDBPyConnection,
    lookback_days: int = 7,
    cliff_ratio: float = 0.5,
    reference: date | None = None,
) -> list[LifecycleEvent]:
    """Every lifecycle event of the ``lookback_days`` up to ``reference`` (default: the newest
    signals day, else today), oldest first. Events of unmatched billing customers are left out."""
    reference = reference or newest_day(con) or datetime.now(UTC).date()
    parts = [
        q
        for q in (
            _payment_failures(con),
            _cancellations(con),
            _champions_left(con),
            _usage_cliffs(con, cliff_ratio),
        )
        if q
    ]
    if not parts:
        return []
    union = "\nUNION ALL\n".join(parts)
    rows = con.execute(
        f"""SELECT * FROM ({union}) AS e(kind, key, account_id, day, detail)
        WHERE account_id IS NOT NULL AND day IS NOT NULL
          AND day BETWEEN CAST(? AS DATE) - CAST(? AS INTEGER) AND CAST(? AS DATE)
        ORDER BY day, key""",
        [reference, lookback_days, reference],
    ).fetchall()
    return [LifecycleEvent(*row) for row in rows]


def event_alerts(
    con: duckdb.DuckDBPyConnection, events: Sequence[LifecycleEvent], as_of: date
) -> list[Alert]:
    """The events as alerts for the channels (one per event), with the account's name, owner and
    latest tier from the warehouse. The event key is ``lifecycle:<event key>``."""
    info: dict[str, tuple] = {}
    ids = sorted({e.account_id for e in events})
    if ids and table_exists(con, ACCOUNTS):
        for row in con.execute(
            f"SELECT account_id, name, owner_id, owner_email FROM {ACCOUNTS} "
            "WHERE account_id IN (SELECT unnest(?::VARCHAR[]))",
            [ids],
        ).fetchall():
            info[row[0]] = row[1:]
    now = datetime.now(UTC).replace(tzinfo=None)
    out = []
    for e in events:
        name, owner_id, owner_email = info.get(e.account_id, (None, None, None))
        out.append(
            Alert(
                event_key=f"lifecycle:{e.key}",
                as_of_date=as_of,
                account_id=e.account_id,
                account_name=name,
                owner_id=owner_id,
                owner_email=owner_email,
                score_before=None,
                score_after=None,
                score_delta_7d=None,
                previous_tier=None,
                tier=None,
                drop_kind=e.kind,
                headline=f"{name or e.account_id}: {HEADLINES[e.kind]} ({e.detail})",
                reason_codes=(e.kind,),
                recommended_playbook=PLAYBOOKS[e.kind],
                model_version=None,
                detected_at=now,
            )
        )
    return out


def select_events(events: Iterable[LifecycleEvent], keys: Iterable[str]) -> list[LifecycleEvent]:
    """The events among ``events`` whose key is in ``keys`` (a trigger run's tags)."""
    wanted = set(keys)
    return [e for e in events if e.key in wanted]
