"""Named audiences for marketing automation, recomputed every scored day with entries and exits.

The model file's ``audiences`` (``scoring/actions.py``) map tier × trend × playbook to a name
(expansion sequence, adoption education, win-back, suppress); the first audience an account
matches is its audience that day. ``alerts.audience_membership`` holds one row per account and
day that is, enters, leaves or is kept out of an audience:

``entered``  joined the audience today (``entered_on`` = today)
``member``   still in it (``entered_on`` = the day it joined)
``exited``   left it today (the row names the audience it left)
``capped``   matched an audience but was kept out: it left that audience fewer than
             ``caps.audiences.account_cooldown_days`` ago, or the owner already had
             ``caps.audiences.per_owner_per_day`` entries today; it tries again the next day

Every entering account is assigned an experiment arm (``alerts/experiment.py``): a control
member is recorded (``arm = 'control'``) but gets no ``crm_audience``, so the CRM (property
``acct_audience``) and the marketing automation reading it leave it alone. A rerun of a day
replaces exactly that day.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pandas as pd

from acct_pipeline.alerts.experiment import CONTROL, assign
from acct_pipeline.scoring.actions import Actions, AudienceDef
from acct_pipeline.scoring.lifecycle import CHURNED
from acct_pipeline.warehouse import (
    ACCOUNT_SCORES,
    ACCOUNTS,
    AUDIENCE_MEMBERSHIP,
    column_types,
    table_exists,
)

ENTERED = "entered"
MEMBER = "member"
EXITED = "exited"
CAPPED = "capped"
IN_AUDIENCE = (ENTERED, MEMBER)

MEMBERSHIP_COLUMNS = (
    "as_of_date",
    "account_id",
    "audience",
    "status",
    "entered_on",
    "arm",
    "owner",
    "crm_audience",
    "detail",
)

MEMBERSHIP_DDL = f"""
CREATE TABLE IF NOT EXISTS {AUDIENCE_MEMBERSHIP} (
    as_of_date    DATE    NOT NULL,
    account_id    VARCHAR NOT NULL,
    audience      VARCHAR NOT NULL,
    status        VARCHAR NOT NULL,  -- entered, member, exited, capped
    entered_on    DATE,              -- the day it joined (entered / member)
    arm           VARCHAR,           -- treated, control (experiment arm of a member)
    owner         VARCHAR,
    crm_audience  VARCHAR,           -- what the CRM gets: the audience, NULL for control / exits
    detail        VARCHAR
)
"""


def ensure_membership(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS alerts")
    con.execute(MEMBERSHIP_DDL)


def audience_of(
    audiences: list[AudienceDef], tier: str | None, trend: str | None, playbook: str | None
) -> str | None:
    """The first audience the account matches, or None."""
    for a in audiences:
        if a.matches(tier, trend, playbook):
            return a.name
    return None


def _day_scores(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    cols = column_types(con, ACCOUNT_SCORES)

    def col(name: str) -> str:
        return f"CAST(s.{name} AS VARCHAR)" if name in cols else "CAST(NULL AS VARCHAR)"

    owner, join = "CAST(NULL AS VARCHAR)", ""
    if table_exists(con, ACCOUNTS):
        have = [c for c in ("owner_email", "owner_id") if c in column_types(con, ACCOUNTS)]
        if have:
            owner = f"CAST(coalesce({', '.join('a.' + c for c in have)}) AS VARCHAR)"
            join = f"LEFT JOIN {ACCOUNTS} a ON a.account_id = s.account_id"
    status = col("lifecycle_status")
    return con.execute(
        f"""
        SELECT CAST(s.account_id AS VARCHAR) AS account_id, {col("tier")} AS tier,
               {col("trend")} AS trend, {col("recommended_playbook")} AS playbook,
               {status} AS lifecycle_status, {owner} AS owner
        FROM {ACCOUNT_SCORES} s {join}
        WHERE s.as_of_date = ?
        ORDER BY s.account_id
        """,
        [as_of],
    ).df()


@dataclass
class AudienceSummary:
    """What one day's update did (for run metadata and the CLI)."""

    as_of: date
    members: Counter[str]
    entered: Counter[str]
    exited: Counter[str]
    capped: Counter[str]
    control: int

    def as_metadata(self) -> dict[str, object]:
        return {
            "members": dict(self.members),
            "entered": dict(self.entered),
            "exited": dict(self.exited),
            "capped": dict(self.capped),
            "control_members": self.control,
        }


def update_membership(
    con: duckdb.DuckDBPyConnection, as_of: date, actions: Actions
) -> AudienceSummary:
    """Recompute ``as_of``'s audience membership from that day's scores and the previous day's
    membership; replaces the day's rows in ``alerts.audience_membership``."""
    ensure_membership(con)
    summary = AudienceSummary(as_of, Counter(), Counter(), Counter(), Counter(), 0)
    if not table_exists(con, ACCOUNT_SCORES) or not actions.audiences:
        return summary
    scores = _day_scores(con, as_of)
    previous = {
        a: (aud, entered_on, arm)
        for a, aud, entered_on, arm in con.execute(
            f"""
            SELECT account_id, audience, entered_on, arm FROM {AUDIENCE_MEMBERSHIP}
            WHERE as_of_date = (SELECT max(as_of_date) FROM {AUDIENCE_MEMBERSHIP}
                                WHERE as_of_date < ?)
              AND status IN ('{ENTERED}', '{MEMBER}')
            """,
            [as_of],
        ).fetchall()
    }
    caps = actions.caps.audiences
    cooling: set[tuple[str, str]] = set()
    if caps.account_cooldown_days:
        cooling = {
            (a, aud)
            for a, aud in con.execute(
                f"SELECT account_id, audience FROM {AUDIENCE_MEMBERSHIP} "
                f"WHERE status = '{EXITED}' AND as_of_date < ? AND as_of_date > ?",
                [as_of, as_of - timedelta(days=caps.account_cooldown_days)],
            ).fetchall()
        }
    rows: list[dict[str, object]] = []
    joining: list[dict[str, object]] = []
    per_owner: Counter[str] = Counter()
    for r in scores.itertuples(index=False):
        target = None
        if r.lifecycle_status != CHURNED:
            target = audience_of(actions.audiences, r.tier, r.trend, r.playbook)
        owner = None if pd.isna(r.owner) else r.owner
        base = {"as_of_date": as_of, "account_id": r.account_id, "owner": owner, "detail": None}
        current = previous.get(r.account_id)
        if current and current[0] == target:
            rows.append(
                {
                    **base,
                    "audience": target,
                    "status": MEMBER,
                    "entered_on": current[1],
                    "arm": current[2],
                    "tier": r.tier,
                }
            )
            continue
        if current:
            rows.append(
                {
                    **base,
                    "audience": current[0],
                    "status": EXITED,
                    "entered_on": current[1],
                    "arm": current[2],
                    "detail": f"now {target or 'in no audience'}",
                }
            )
        if target is None:
            continue
        if (r.account_id, target) in cooling:
            rows.append(
                {
                    **base,
                    "audience": target,
                    "status": CAPPED,
                    "entered_on": None,
                    "arm": None,
                    "detail": f"left {target} within {caps.account_cooldown_days} days",
                }
            )
        elif caps.per_owner_per_day and per_owner[owner or ""] >= caps.per_owner_per_day:
            rows.append(
                {
                    **base,
                    "audience": target,
                    "status": CAPPED,
                    "entered_on": None,
                    "arm": None,
                    "detail": f"owner has {caps.per_owner_per_day} audience entries today",
                }
            )
        else:
            per_owner[owner or ""] += 1
            joining.append(
                {**base, "audience": target, "status": ENTERED, "entered_on": as_of, "tier": r.tier}
            )
    arms = assign(
        con, [(j["account_id"], j["tier"]) for j in joining], as_of, "audience", actions.experiment
    )
    for j in joining:
        j["arm"] = arms.get(str(j["account_id"]))
    frame = pd.DataFrame(rows + joining, columns=[*MEMBERSHIP_COLUMNS])
    if not frame.empty:
        in_aud = frame["status"].isin(IN_AUDIENCE) & (frame["arm"] != CONTROL)
        frame["crm_audience"] = frame["audience"].where(in_aud, None)
    con.execute(f"DELETE FROM {AUDIENCE_MEMBERSHIP} WHERE as_of_date = ?", [as_of])
    if not frame.empty:
        con.register("_audience_rows", frame)
        try:
            con.execute(
                f"INSERT INTO {AUDIENCE_MEMBERSHIP} ({', '.join(MEMBERSHIP_COLUMNS)}) "
                f"SELECT {', '.join(MEMBERSHIP_COLUMNS)} FROM _audience_rows"
            )
        finally:
            con.unregister("_audience_rows")
    for row in frame.itertuples(index=False):
        if row.status in IN_AUDIENCE:
            summary.members[row.audience] += 1
            summary.control += int(row.arm == CONTROL)
        if row.status == ENTERED:
            summary.entered[row.audience] += 1
        elif row.status == EXITED:
            summary.exited[row.audience] += 1
        elif row.status == CAPPED:
            summary.capped[row.audience] += 1
    return summary


def membership(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """The day's rows of ``alerts.audience_membership`` (empty frame before the first update)."""
    if not table_exists(con, AUDIENCE_MEMBERSHIP):
        return pd.DataFrame(columns=list(MEMBERSHIP_COLUMNS))
    return con.execute(
        f"SELECT {', '.join(MEMBERSHIP_COLUMNS)} FROM {AUDIENCE_MEMBERSHIP} "
        "WHERE as_of_date = ? ORDER BY audience, account_id",
        [as_of],
    ).df()


def newest_audience_day(con: duckdb.DuckDBPyConnection) -> date | None:
    """The newest day with audience membership (None before the first)."""
    if not table_exists(con, AUDIENCE_MEMBERSHIP):
        return None
    return con.execute(f"SELECT max(as_of_date) FROM {AUDIENCE_MEMBERSHIP}").fetchone()[0]
