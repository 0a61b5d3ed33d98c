"""Account signals (``features.account_signals``): what happened to each account, as of day D.

One SQL statement (``sql/signals.sql``) computes every signal for every account in DuckDB,
reading only the windows it needs (product usage from daily rollups of the last 35 days), so
one day costs the same whatever the length of the history. Point-in-time correct: only records
timestamped before the end of D are used. Missing inputs are NULL, never a silent zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from acct_pipeline.scoring import engagement
from acct_pipeline.scoring.usage import refresh_usage_rollups
from acct_pipeline.warehouse import ACCOUNT_SIGNALS, AS_OF_DATE, replace_partition

if TYPE_CHECKING:
    from acct_pipeline.scoring.model import ScoringModel

SQL_DIR = Path(__file__).parent / "sql"
_SIGNALS_TMP = "_account_signals_day"


@dataclass(frozen=True)
class Signal:
    """One column of ``features.account_signals``: its meaning and unit (for reasons, docs)."""

    name: str
    group: str
    description: str
    numeric: bool = True


SIGNALS: tuple[Signal, ...] = (
    Signal("plan", "firmographics", "billing plan of the largest live subscription", numeric=False),
    Signal("lifecycle_stage", "firmographics", "CRM lifecycle stage", numeric=False),
    Signal("employees", "firmographics", "company size (CRM snapshot)"),
    Signal("account_age_days", "firmographics", "days since the CRM account was created"),
    Signal("customer_age_days", "firmographics", "days since the first subscription started"),
    Signal("active_users_7d", "usage", "distinct users with an event in the last 7 days"),
    Signal("active_users_30d", "usage", "distinct users with an event in the last 30 days"),
    Signal("active_days_30d", "usage", "days with any product event in the last 30 days"),
    Signal("events_30d", "usage", "product events in the last 30 days"),
    Signal("key_features_used_30d", "usage", "distinct key features used in the last 30 days"),
    Signal("seats", "usage", "paid seats on D (invoice history)"),
    Signal("seat_utilisation", "usage", "active users (30 d) / paid seats"),
    Signal(
        "usage_trend_pct", "usage", "active user-days per day, last 7 d vs the prior 28 d, -1..+inf"
    ),
    Signal("emails_replied_30d", "engagement", "email replies in the last 30 days"),
    Signal("meetings_30d", "engagement", "meetings held in the last 30 days"),
    Signal("calls_30d", "engagement", "calls in the last 30 days"),
    Signal("engaged_contacts_30d", "engagement", "contacts who replied, met or called, 30 d"),
    Signal("days_since_last_touch", "engagement", "days since the last reply, meeting or call"),
    Signal("engagement_decayed", "engagement", "activity-weighted engagement with half-life decay"),
    Signal("nps_latest", "engagement", "latest NPS response 0-10"),
    Signal("open_tickets", "support", "tickets open on D"),
    Signal("open_high_severity_tickets", "support", "high / urgent tickets open on D"),
    Signal("tickets_30d", "support", "tickets created in the last 30 days"),
    Signal("escalations_90d", "support", "escalated tickets created in the last 90 days"),
    Signal("median_resolution_hours_90d", "support", "median hours to close, tickets closed 90 d"),
    Signal("csat_latest", "support", "latest CSAT 1-5"),
    Signal("mrr", "billing", "monthly recurring revenue on D"),
    Signal("mrr_change_90d_pct", "billing", "MRR change vs 90 days earlier"),
    Signal("seats_change_90d_pct", "billing", "paid seats change vs 90 days earlier (growth)"),
    Signal("failed_payments_30d", "billing", "invoices of the last 30 days needing > 1 attempt"),
    Signal("overdue_invoices", "billing", "invoices past due and unpaid on D"),
    Signal("overdue_amount", "billing", "amount past due and unpaid on D"),
    Signal("max_days_overdue", "billing", "days the oldest unpaid invoice is past due"),
    Signal("days_to_renewal", "billing", "days to the end of the contract term running on D"),
    Signal("cancellation_notice", "billing", "1 when a live subscription has notice given"),
    Signal("has_active_subscription", "billing", "1 when a subscription is live on D"),
    Signal(
        "days_since_subscription_ended",
        "billing",
        "days since the account's last subscription ended (NULL: none has ended)",
    ),
    Signal("contacts", "relationship", "CRM contacts still at the company"),
    Signal("champions", "relationship", "champions still at the company"),
    Signal("champion_left_90d", "relationship", "1 when a champion left in the last 90 days"),
    Signal("new_contacts_90d", "relationship", "contacts added in the last 90 days"),
    # engagement categories over the model's window (acct_pipeline.scoring.engagement)
    *(
        Signal(
            engagement.signal_name(c, suffix),
            "engagement_categories",
            text.format(c=engagement.label(c)),
        )
        for c in engagement.CATEGORIES
        for suffix, text in engagement.SIGNAL_SUFFIXES.items()
    ),
)
SIGNALS_BY_NAME: dict[str, Signal] = {s.name: s for s in SIGNALS}
NUMERIC_SIGNALS: tuple[str, ...] = tuple(s.name for s in SIGNALS if s.numeric)
CATEGORICAL_SIGNALS: tuple[str, ...] = tuple(s.name for s in SIGNALS if not s.numeric)

# Defaults for the signal parameters a scoring model may override (``signals:`` in the YAML).
DEFAULT_ACTIVITY_WEIGHTS: dict[str, float] = {
    "meeting": 5.0,
    "call": 3.0,
    "email_reply": 2.0,
    "nps_response": 1.0,
    "email_sent": 0.25,
}
DEFAULT_TOUCH_TYPES: tuple[str, ...] = ("email_reply", "meeting", "call")


@cache
def signals_sql() -> str:
    return (SQL_DIR / "signals.sql").read_text()


@dataclass(frozen=True)
class SignalParams:
    """The knobs of the signal SQL (taken from the scoring model's ``signals:`` section)."""

    key_features: tuple[str, ...] = ()
    activity_weights: tuple[tuple[str, float], ...] = tuple(DEFAULT_ACTIVITY_WEIGHTS.items())
    touch_types: tuple[str, ...] = DEFAULT_TOUCH_TYPES
    half_life_days: float | None = 30.0
    lookback_days: int = 180
    engagement_window_days: int = engagement.DEFAULT_WINDOW_DAYS
    # (category, activity type, weight) for the engagement categories
    engagement_weights: tuple[tuple[str, str, float], ...] = tuple(
        (c, t, float(w))
        for c, by_type in engagement.DEFAULT_WEIGHTS.items()
        for t, w in by_type.items()
    )


# Days of product usage the signal SQL reads (the usage trend: last 7 days vs the 28 before).
USAGE_WINDOW_DAYS = 35
# Days after the first product event before the usage windows are full: earlier days' signals come
# from truncated windows (the churn model does not learn from them, the stability check does not
# judge them).
SIGNAL_WARMUP_DAYS = USAGE_WINDOW_DAYS - 1
# Days of product events behind ``key_features_used_30d`` (the ``features`` CTE of signals.sql).
KEY_FEATURES_WINDOW_DAYS = 30


def usage_rollup_days(params: SignalParams) -> int:
    """Days of daily usage rollups the signal SQL reads: the usage windows, or two engagement
    windows (the current one and the one before it) when that is longer."""
    return max(USAGE_WINDOW_DAYS, 2 * int(params.engagement_window_days))


def signal_sql_params(as_of: date, params: SignalParams) -> dict[str, object]:
    """The ``$name`` parameters of ``sql/signals.sql`` for day ``as_of`` (both engines)."""
    return {
        "engagement_window_days": int(params.engagement_window_days),
        "engagement_first_day": as_of - timedelta(days=2 * int(params.engagement_window_days) - 1),
        "ticket_activity": engagement.TICKET_ACTIVITY,
        "product_activity": engagement.PRODUCT_ACTIVITY,
        "engagement_categories": [c for c, _, _ in params.engagement_weights],
        "engagement_types": [t for _, t, _ in params.engagement_weights],
        "engagement_weights": [float(w) for _, _, w in params.engagement_weights],
        "as_of": as_of,
        "key_features": list(params.key_features),
        "activity_types": [t for t, _ in params.activity_weights],
        "activity_weights": [float(w) for _, w in params.activity_weights],
        "touch_types": list(params.touch_types),
        "half_life_days": params.half_life_days,
        "lookback_days": int(params.lookback_days),
    }


def signals_frame_sql(con: duckdb.DuckDBPyConnection, as_of: date, params: SignalParams) -> None:
    """Compute D's signals into the temp table ``_account_signals_day``.

    First brings the daily usage rollups of D's window in step with the raw product events
    (``acct_pipeline.scoring.usage``): usually one new day, nothing on a rerun.
    """
    refresh_usage_rollups(con, as_of - timedelta(days=usage_rollup_days(params) - 1), as_of)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_SIGNALS_TMP} AS {signals_sql()}",
        signal_sql_params(as_of, params),
    )


def compute_signals(con: duckdb.DuckDBPyConnection, as_of: date, model: ScoringModel) -> int:
    """Replace ``features.account_signals`` rows for ``as_of`` and return how many were written.

    ``model`` (a ``ScoringModel``) supplies the signal parameters: key features, activity
    weights, the engagement half-life and the look-back window.
    """
    signals_frame_sql(con, as_of, model.signal_params())
    try:
        return replace_partition(
            con, ACCOUNT_SIGNALS, f"SELECT * FROM {_SIGNALS_TMP}", AS_OF_DATE, [as_of]
        )
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_SIGNALS_TMP}")


def compute_signals_for_days(
    con: duckdb.DuckDBPyConnection,
    days: list[date],
    model: ScoringModel,
    progress: Callable[[str], None] | None = None,
) -> tuple[int, int]:
    """``compute_signals`` for each day in date order (a backfill); returns (rows, rollup days
    rebuilt). The usage rollups of the whole range are brought up to date first, in passes of a
    few days, instead of one day at a time inside each day's signals."""
    ordered = sorted(days)
    if not ordered:
        return 0, 0
    first = ordered[0] - timedelta(days=usage_rollup_days(model.signal_params()) - 1)
    rebuilt = refresh_usage_rollups(con, first, ordered[-1])
    rows = 0
    for i, day in enumerate(ordered, 1):
        rows += compute_signals(con, day, model)
        if progress is not None and len(ordered) > 1 and (i % 30 == 0 or i == len(ordered)):
            progress(f"signals: {i}/{len(ordered)} days, {rows:,} rows")
    return rows, len(rebuilt)
