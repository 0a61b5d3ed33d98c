"""Time to action: what happened after an alert, read back from the CRM and the warehouse.

For every alert that was delivered (``alerts.alert_deliveries``, status ``delivered``) the first
action is the earliest of

- the completion of the CRM task the alert created, when the alert went through a task channel
  and a reader for that channel is given: HubSpot (``hubspot_task``): ``hs_task_status =
  COMPLETED`` with ``hs_task_completion_date``, read with ``POST {objects}/tasks/batch/read``, at
  most 100 ids a call; Salesforce (``salesforce_task``): ``IsClosed`` with
  ``CompletedDateTime`` (both set by Salesforce when the task's status closes it), read with
  ``SELECT ... FROM Task WHERE Id IN (...)``, at most 200 ids a query; and
- the next logged touch with the account after the alert (``ingest.crm_activities``: emails,
  calls, meetings), which needs no CRM connection.

``store_followups`` writes ``alerts.alert_followups`` (one row per alert event key) and
``read_followups`` reads it back (the score report's "Time to action" section); ``summarise``
gives the median / p90 hours to first action by owner and by tier, and the share of alerts with
no action within N days.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from acct_pipeline.alerts.config import HUBSPOT_TASK, SALESFORCE_TASK
from acct_pipeline.services import salesforce
from acct_pipeline.warehouse import (
    ALERT_DECISIONS,
    ALERT_DELIVERIES,
    CRM_ACTIVITIES,
    SCORE_DROP_ALERTS,
    table_exists,
)

ALERT_FOLLOWUPS = "alerts.alert_followups"
TASK_CHANNEL = HUBSPOT_TASK  # the default task channel of compute_followups
TASK_PROPERTIES = ("hs_task_status", "hs_timestamp", "hs_task_completion_date")
COMPLETED = "COMPLETED"
TASK_DONE = "task_completed"
ACTIVITY = "activity"  # prefixed to the activity type: activity:call
ALL = "all"  # summarise(by=ALL): one row over every alert

FOLLOWUPS_DDL = f"""
CREATE OR REPLACE TABLE {ALERT_FOLLOWUPS} (
    event_key        VARCHAR   NOT NULL,
    account_id       VARCHAR   NOT NULL,
    owner            VARCHAR,
    tier             VARCHAR,
    alerted_at       TIMESTAMP NOT NULL,
    first_action_at  TIMESTAMP,
    action_kind      VARCHAR,            -- task_completed, activity:<type>, NULL: none yet
    hours_to_action  DOUBLE,
    computed_at      TIMESTAMP NOT NULL
)
"""

# A reader of task ids -> (status, completion time); HubSpot's is ``hubspot_task_reader``,
# Salesforce's ``salesforce_task_reader`` (a closed task reads as COMPLETED).
TaskReader = Callable[[Sequence[str]], Mapping[str, tuple[str | None, datetime | None]]]


@dataclass(frozen=True)
class Followup:
    event_key: str
    account_id: str
    owner: str | None
    tier: str | None
    alerted_at: datetime
    first_action_at: datetime | None
    action_kind: str | None

    @property
    def hours(self) -> float | None:
        if self.first_action_at is None:
            return None
        return (self.first_action_at - self.alerted_at).total_seconds() / 3600.0


def _parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    text = str(value)
    stamp = pd.Timestamp(int(text), unit="ms") if text.isdigit() else pd.Timestamp(text)
    if stamp.tzinfo is not None:  # HubSpot sends UTC ISO strings or epoch milliseconds
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.to_pydatetime()


def hubspot_task_reader(client: Any, objects_path: str = "/crm/v3/objects") -> TaskReader:
    """Task status and completion time by id, through HubSpot's batch read (100 ids a call)."""

    def read(ids: Sequence[str]) -> dict[str, tuple[str | None, datetime | None]]:
        out: dict[str, tuple[str | None, datetime | None]] = {}
        for start in range(0, len(ids), 100):
            body = {
                "inputs": [{"id": i} for i in ids[start : start + 100]],
                "properties": list(TASK_PROPERTIES),
            }
            data = client.post_json(
                f"{objects_path.rstrip('/')}/tasks/batch/read", body, idempotent=True
            )
            for rec in data.get("results", []):
                props = rec.get("properties") or {}
                out[str(rec["id"])] = (
                    props.get("hs_task_status"),
                    _parse_time(props.get("hs_task_completion_date")),
                )
        return out

    return read


SALESFORCE_TASK_IDS_PER_QUERY = 200  # keeps the SOQL well under its 100,000-character limit


def salesforce_task_reader(
    client: Any, api_version: str = salesforce.DEFAULT_VERSION
) -> TaskReader:
    """Task state and completion time by id through SOQL: ``IsClosed`` (Salesforce derives it
    from the status, custom closed statuses included) reads as ``COMPLETED``, with
    ``CompletedDateTime``. Ids are matched on their first 15 characters (Salesforce's 15- and
    18-character forms of one id), and answered under the id asked for."""

    def read(ids: Sequence[str]) -> dict[str, tuple[str | None, datetime | None]]:
        out: dict[str, tuple[str | None, datetime | None]] = {}
        for start in range(0, len(ids), SALESFORCE_TASK_IDS_PER_QUERY):
            chunk = [str(i) for i in ids[start : start + SALESFORCE_TASK_IDS_PER_QUERY]]
            asked = {i[:15]: i for i in chunk}
            listed = ", ".join(salesforce.soql_string(i) for i in chunk)
            soql = (
                f"SELECT Id, Status, IsClosed, CompletedDateTime FROM Task WHERE Id IN ({listed})"
            )
            for rec in salesforce.query(client, api_version, soql):
                rid = str(rec.get("Id") or "")
                status = COMPLETED if rec.get("IsClosed") else rec.get("Status")
                out[asked.get(rid[:15], rid)] = (status, _parse_time(rec.get("CompletedDateTime")))
        return out

    return read


def _alerts_sql(con: duckdb.DuckDBPyConnection) -> str:
    owner, tier, joins = "CAST(NULL AS VARCHAR)", "CAST(NULL AS VARCHAR)", ""
    if table_exists(con, SCORE_DROP_ALERTS):
        joins += f" LEFT JOIN {SCORE_DROP_ALERTS} s ON s.event_key = d.event_key"
        owner, tier = "s.owner_email", "s.tier"
    if table_exists(con, ALERT_DECISIONS):
        joins += f" LEFT JOIN {ALERT_DECISIONS} x ON x.event_key = d.event_key"
        owner, tier = f"coalesce({owner}, x.owner)", f"coalesce({tier}, x.tier)"
    return f"""
SELECT d.event_key, d.account_id, any_value({owner}) AS owner, any_value({tier}) AS tier,
       min(coalesce(d.delivered_at, d.first_attempt_at)) AS alerted_at,
       max(CASE WHEN d.channel = ? THEN d.external_id END) AS task_id
FROM {ALERT_DELIVERIES} d {joins}
WHERE d.status = 'delivered' AND coalesce(d.delivered_at, d.first_attempt_at) >= ?
GROUP BY d.event_key, d.account_id
ORDER BY alerted_at, d.event_key"""


def compute_followups(
    con: duckdb.DuckDBPyConnection,
    since: datetime,
    tasks: TaskReader | None = None,
    task_channel: str = TASK_CHANNEL,
) -> list[Followup]:
    """Every alert delivered at or after ``since`` with its first action (or none yet).
    ``tasks`` reads the tasks the alerts created through ``task_channel`` (``hubspot_task`` or
    ``salesforce_task``); alerts of other channels are judged by the logged touches alone."""
    if task_channel not in (HUBSPOT_TASK, SALESFORCE_TASK):
        raise ValueError(
            f"task channel {task_channel!r}: expected {HUBSPOT_TASK} or {SALESFORCE_TASK}"
        )
    if not table_exists(con, ALERT_DELIVERIES):
        return []
    rows = con.execute(_alerts_sql(con), [task_channel, since]).fetchall()
    task_ids = [r[5] for r in rows if r[5]]
    task_state = tasks(task_ids) if tasks and task_ids else {}
    have_activities = table_exists(con, CRM_ACTIVITIES.qualified)
    out = []
    for key, account, owner, tier, alerted_at, task_id in rows:
        candidates: list[tuple[datetime, str]] = []
        status, done_at = task_state.get(str(task_id), (None, None)) if task_id else (None, None)
        if status == COMPLETED and done_at is not None and done_at >= alerted_at:
            candidates.append((done_at, TASK_DONE))
        if have_activities:
            nxt = con.execute(
                f"SELECT occurred_at, activity_type FROM {CRM_ACTIVITIES.qualified} "
                "WHERE company_id = ? AND occurred_at > ? ORDER BY occurred_at LIMIT 1",
                [account, alerted_at],
            ).fetchone()
            if nxt:
                candidates.append((nxt[0], f"{ACTIVITY}:{nxt[1]}"))
        first = min(candidates) if candidates else (None, None)
        out.append(Followup(key, account, owner, tier, alerted_at, first[0], first[1]))
    return out


def store_followups(con: duckdb.DuckDBPyConnection, followups: Iterable[Followup]) -> int:
    """Replace ``alerts.alert_followups`` with ``followups``; the number of rows."""
    con.execute("CREATE SCHEMA IF NOT EXISTS alerts")
    con.execute(FOLLOWUPS_DDL)
    rows = [
        (f.event_key, f.account_id, f.owner, f.tier, f.alerted_at, f.first_action_at,
         f.action_kind, f.hours)
        for f in followups
    ]  # fmt: skip
    if rows:
        con.executemany(
            f"INSERT INTO {ALERT_FOLLOWUPS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
            rows,
        )
    return len(rows)


def read_followups(con: duckdb.DuckDBPyConnection) -> list[Followup] | None:
    """The follow-ups ``acct-pipeline followup`` stored last; ``None`` when it never ran (the
    table does not exist), ``[]`` when it found no delivered alert."""
    if not table_exists(con, ALERT_FOLLOWUPS):
        return None
    rows = con.execute(
        f"SELECT event_key, account_id, owner, tier, alerted_at, first_action_at, action_kind "
        f"FROM {ALERT_FOLLOWUPS} ORDER BY alerted_at, event_key"
    ).fetchall()
    return [Followup(*r) for r in rows]


def frame(followups: Iterable[Followup]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "event_key": f.event_key,
                "account_id": f.account_id,
                "owner": f.owner or "(no owner)",
                "tier": f.tier or "(no tier)",
                "alerted_at": f.alerted_at,
                "first_action_at": f.first_action_at,
                "action_kind": f.action_kind,
                "hours_to_action": f.hours,
            }
            for f in followups
        ],
        columns=[
            "event_key", "account_id", "owner", "tier", "alerted_at", "first_action_at",
            "action_kind", "hours_to_action",
        ],
    )  # fmt: skip


def _p90(hours: pd.Series) -> float | None:
    known = hours.dropna()
    return float(known.quantile(0.9)) if len(known) else None


def summarise(followups: Sequence[Followup], days: int = 7, by: str = "owner") -> pd.DataFrame:
    """Per ``by`` (``owner`` or ``tier``, or ``all`` for one row over every alert): alerts, median
    and p90 hours to first action (over the alerts with one), and the share with no action within
    ``days`` days."""
    df = frame(followups)
    cols = [by, "alerts", "median_hours", "p90_hours", "no_action_share"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    if by == ALL:
        df[ALL] = ALL
    limit = timedelta(days=days).total_seconds() / 3600.0
    df["late"] = df["hours_to_action"].isna() | (df["hours_to_action"] > limit)
    out = (
        df.groupby(by)
        .agg(
            alerts=("event_key", "count"),
            median_hours=("hours_to_action", "median"),
            p90_hours=("hours_to_action", _p90),
            no_action_share=("late", "mean"),
        )
        .reset_index()
    )  # fmt: skip
    return out[cols]
