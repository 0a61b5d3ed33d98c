"""The delivery ledger: one row per (event key, channel), so an alert is never sent twice.

Before a channel sends an alert the row is marked ``sending``; after the channel confirmed it,
``delivered``; if the channel refused or could not be reached, ``failed`` with the message, and
the next run tries again. A rerun of the partition, a second sensor run or a retried run find
``delivered`` and send nothing.

A process killed between a channel's confirmation and the ``delivered`` write leaves
``sending``: the next run sends that one again (at-least-once for that crash window, which is
milliseconds wide; every message carries the event key so a receiver can drop the repeat).
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from acct_pipeline.warehouse import ALERT_DELIVERIES

# Lives in the alerts schema beside alerts.score_drop_alerts (warehouse.SCORE_DROP_ALERTS).

SENDING = "sending"
DELIVERED = "delivered"
FAILED = "failed"

LEDGER_DDL = f"""
CREATE TABLE IF NOT EXISTS {ALERT_DELIVERIES} (
    event_key        VARCHAR   NOT NULL,  -- score_drop:<account>:<day>
    channel          VARCHAR   NOT NULL,  -- log, webhook, hubspot_task, salesforce_task
    as_of_date       DATE      NOT NULL,
    account_id       VARCHAR   NOT NULL,
    status           VARCHAR   NOT NULL,  -- sending, delivered, failed
    attempts         INTEGER   NOT NULL,
    external_id      VARCHAR,             -- CRM task id, HTTP status, log line
    message          VARCHAR,             -- the channel's last error (no secrets)
    run_id           VARCHAR,
    first_attempt_at TIMESTAMP NOT NULL,
    last_attempt_at  TIMESTAMP NOT NULL,
    delivered_at     TIMESTAMP,
    PRIMARY KEY (event_key, channel)
)
"""

_NOW = "CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP)"


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS alerts")
    con.execute(LEDGER_DDL)


def delivered(con: duckdb.DuckDBPyConnection, event_keys: Iterable[str]) -> set[tuple[str, str]]:
    """The (event key, channel) pairs among ``event_keys`` that were already delivered."""
    keys = list(event_keys)
    if not keys:
        return set()
    rows = con.execute(
        f"SELECT event_key, channel FROM {ALERT_DELIVERIES} "
        "WHERE status = ? AND event_key IN (SELECT unnest(?::VARCHAR[]))",
        [DELIVERED, keys],
    ).fetchall()
    return {(k, c) for k, c in rows}


def begin(
    con: duckdb.DuckDBPyConnection,
    event_key: str,
    channel: str,
    as_of_date: object,
    account_id: str,
    run_id: str | None,
) -> None:
    """Record an attempt before the channel is called (``sending``, attempts + 1)."""
    con.execute(
        f"""
        INSERT INTO {ALERT_DELIVERIES}
            (event_key, channel, as_of_date, account_id, status, attempts, run_id,
             first_attempt_at, last_attempt_at)
        VALUES (?, ?, ?, ?, '{SENDING}', 1, ?, {_NOW}, {_NOW})
        ON CONFLICT (event_key, channel) DO UPDATE SET
            status = '{SENDING}', attempts = {ALERT_DELIVERIES.split(".")[1]}.attempts + 1,
            run_id = excluded.run_id, last_attempt_at = excluded.last_attempt_at
        """,
        [event_key, channel, as_of_date, account_id, run_id],
    )


def finish(
    con: duckdb.DuckDBPyConnection,
    event_key: str,
    channel: str,
    ok: bool,
    external_id: str | None = None,
    message: str | None = None,
) -> None:
    """Record the outcome of an attempt: ``delivered`` (with the channel's id) or ``failed``."""
    con.execute(
        f"""
        UPDATE {ALERT_DELIVERIES}
        SET status = ?, external_id = coalesce(?, external_id), message = ?,
            delivered_at = CASE WHEN ? THEN {_NOW} ELSE delivered_at END,
            last_attempt_at = {_NOW}
        WHERE event_key = ? AND channel = ?
        """,
        [DELIVERED if ok else FAILED, external_id, None if ok else message, ok, event_key, channel],
    )


def summary(con: duckdb.DuckDBPyConnection, as_of_date: object) -> dict[str, dict[str, int]]:
    """Per channel, how many of the day's alerts are in each status."""
    rows = con.execute(
        f"SELECT channel, status, count(*) FROM {ALERT_DELIVERIES} "
        "WHERE as_of_date = ? GROUP BY 1, 2",
        [as_of_date],
    ).fetchall()
    out: dict[str, dict[str, int]] = {}
    for channel, status, n in rows:
        out.setdefault(channel, {})[status] = int(n)
    return out
