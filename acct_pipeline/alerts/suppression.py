"""Who is *not* alerted today, and why: the control group, snoozes and frequency caps.

Before the day's alerts are delivered, ``decide`` gives each one a decision, recorded in
``alerts.alert_decisions`` (one row per event key):

``control``         the account is in the experiment's control group (``alerts/experiment.py``)
``snoozed``         someone said "we're handling it" (``acct-pipeline snooze``) until a later day
``capped_account``  the account was alerted fewer than ``caps.alerts.account_cooldown_days`` ago
``capped_owner``    the owner already has ``caps.alerts.per_owner_per_day`` alerts that day
``capped_channel``  every channel reached its ``caps.alerts.per_channel_per_day``
``send``            delivered to ``channels`` (a channel at its cap is left out of the list)

Alerts are decided worst first (the order of ``load_alerts``), so a cap keeps the biggest drops.
A decision is made once: a rerun of the day reuses it, so the day's own alerts never count
against its caps twice and a control account stays unalerted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb

from acct_pipeline.alerts.detect import Alert
from acct_pipeline.alerts.experiment import CONTROL, assign
from acct_pipeline.scoring.actions import Actions
from acct_pipeline.warehouse import ALERT_DECISIONS, ALERT_SNOOZES

SEND = "send"
SNOOZED = "snoozed"
CAPPED_ACCOUNT = "capped_account"
CAPPED_OWNER = "capped_owner"
CAPPED_CHANNEL = "capped_channel"

SNOOZES_DDL = f"""
CREATE TABLE IF NOT EXISTS {ALERT_SNOOZES} (
    account_id  VARCHAR   NOT NULL,
    until       DATE      NOT NULL,  -- no alerts up to and including this day
    reason      VARCHAR   NOT NULL,
    snoozed_by  VARCHAR,
    created_at  TIMESTAMP NOT NULL
)
"""

DECISIONS_DDL = f"""
CREATE TABLE IF NOT EXISTS {ALERT_DECISIONS} (
    event_key   VARCHAR   NOT NULL PRIMARY KEY,
    as_of_date  DATE      NOT NULL,
    account_id  VARCHAR   NOT NULL,
    owner       VARCHAR,
    tier        VARCHAR,
    decision    VARCHAR   NOT NULL,  -- send, control, snoozed, capped_account / _owner / _channel
    channels    VARCHAR[] NOT NULL,  -- the channels it may go to (empty unless send)
    detail      VARCHAR,
    decided_at  TIMESTAMP NOT NULL
)
"""

_NOW = "CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP)"


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS alerts")
    con.execute(SNOOZES_DDL)
    con.execute(DECISIONS_DDL)


def snooze(
    con: duckdb.DuckDBPyConnection,
    account_id: str,
    until: date,
    reason: str,
    by: str | None = None,
) -> None:
    """Silence alerts for ``account_id`` up to and including ``until``."""
    if not reason.strip():
        raise ValueError("a snooze needs a reason (--reason): the next person will ask why")
    ensure_tables(con)
    con.execute(
        f"INSERT INTO {ALERT_SNOOZES} VALUES (?, ?, ?, ?, {_NOW})",
        [str(account_id), until, reason.strip(), by],
    )


def snoozed_until(con: duckdb.DuckDBPyConnection, account_id: str, as_of: date) -> date | None:
    """The last day of the snooze covering ``as_of``, if any."""
    ensure_tables(con)
    row = con.execute(
        f"SELECT max(until) FROM {ALERT_SNOOZES} WHERE account_id = ? AND until >= ?",
        [str(account_id), as_of],
    ).fetchone()
    return row[0] if row else None


@dataclass(frozen=True)
class Decision:
    event_key: str
    decision: str
    channels: tuple[str, ...]
    detail: str = ""


def decide(
    con: duckdb.DuckDBPyConnection,
    alerts: Sequence[Alert],
    channels: Sequence[str],
    as_of: date,
    actions: Actions,
) -> dict[str, Decision]:
    """The decision for each alert (event key -> ``Decision``), recorded once per event key."""
    ensure_tables(con)
    keys = [a.event_key for a in alerts]
    known = {
        k: Decision(k, d, tuple(c or ()), det or "")
        for k, d, c, det in con.execute(
            f"SELECT event_key, decision, channels, detail FROM {ALERT_DECISIONS} "
            "WHERE event_key IN (SELECT unnest(?::VARCHAR[]))",
            [keys],
        ).fetchall()
    }
    todo = [a for a in alerts if a.event_key not in known]
    if not todo:
        return known
    caps = actions.caps.alerts
    arms = assign(con, [(a.account_id, a.tier) for a in todo], as_of, "alert", actions.experiment)
    # what was already sent today (earlier runs): per owner and per channel
    per_owner: Counter[str] = Counter()
    per_channel: Counter[str] = Counter()
    for owner, chans in con.execute(
        f"SELECT owner, channels FROM {ALERT_DECISIONS} WHERE as_of_date = ? AND decision = ?",
        [as_of, SEND],
    ).fetchall():
        per_owner[owner or ""] += 1
        per_channel.update(chans or ())
    cooldown_from = as_of - timedelta(days=max(caps.account_cooldown_days - 1, 0))
    recent = {
        a
        for (a,) in con.execute(
            f"SELECT DISTINCT account_id FROM {ALERT_DECISIONS} "
            "WHERE decision = ? AND as_of_date >= ? AND as_of_date < ?",
            [SEND, cooldown_from, as_of],
        ).fetchall()
    }
    snoozes = dict(
        con.execute(
            f"SELECT account_id, max(until) FROM {ALERT_SNOOZES} WHERE until >= ? GROUP BY 1",
            [as_of],
        ).fetchall()
    )
    out: list[tuple[Alert, Decision]] = []
    for alert in todo:
        owner = alert.owner_email or alert.owner_id or ""
        key = alert.event_key
        if arms.get(alert.account_id) == CONTROL:
            decision = Decision(key, CONTROL, (), f"held out ({actions.experiment.name})")
        elif alert.account_id in snoozes:
            decision = Decision(key, SNOOZED, (), f"snoozed until {snoozes[alert.account_id]}")
        elif caps.account_cooldown_days and alert.account_id in recent:
            decision = Decision(
                key, CAPPED_ACCOUNT, (), f"alerted within {caps.account_cooldown_days} days"
            )
        elif caps.per_owner_per_day and per_owner[owner] >= caps.per_owner_per_day:
            decision = Decision(
                key, CAPPED_OWNER, (), f"owner has {caps.per_owner_per_day} alerts today"
            )
        else:
            allowed = tuple(
                c
                for c in channels
                if not caps.per_channel_per_day.get(c)
                or per_channel[c] < caps.per_channel_per_day[c]
            )
            if not allowed:
                decision = Decision(key, CAPPED_CHANNEL, (), "every channel at its daily cap")
            else:
                decision = Decision(key, SEND, allowed)
                per_owner[owner] += 1
                per_channel.update(allowed)
                recent.add(alert.account_id)
        out.append((alert, decision))
    con.executemany(
        f"INSERT INTO {ALERT_DECISIONS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, {_NOW}) "
        "ON CONFLICT DO NOTHING",
        [
            (
                d.event_key,
                a.as_of_date,
                a.account_id,
                a.owner_email or a.owner_id,
                a.tier,
                d.decision,
                list(d.channels),
                d.detail,
            )
            for a, d in out
        ],
    )
    return {**known, **{d.event_key: d for _, d in out}}
