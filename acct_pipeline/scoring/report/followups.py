"""The report's "Time to action" section: how fast owners acted on their alerts.

What ``acct-pipeline followup`` stored last in ``alerts.alert_followups`` (``alerts/followup.py``:
the CRM task's completion, else the next logged touch with the account): the median and p90 hours
from alert to first action and the share of alerts without an action within the model's
``followup.no_action_days``, for every alert, by owner and by tier. The report does not call the
CRM itself: when no follow-ups were read the section says so and names the command that reads
them. Rendered by ``templates/followups.html.j2``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

from acct_pipeline.alerts.followup import ALERT_FOLLOWUPS, ALL, read_followups, summarise
from acct_pipeline.scoring.report.executive import environment

COMMAND = "acct-pipeline followup"


@dataclass
class TimeToAction:
    """The section's numbers (``read`` False: ``acct-pipeline followup`` never ran)."""

    read: bool
    days: int
    alerts: int = 0
    answered: int = 0
    read_at: datetime | None = None
    overall: dict[str, Any] = field(default_factory=dict)
    by_owner: list[dict[str, Any]] = field(default_factory=list)
    by_tier: list[dict[str, Any]] = field(default_factory=list)


def _records(table: pd.DataFrame, by: str) -> list[dict[str, Any]]:
    table = table.rename(columns={by: "group"}).astype(object)
    return table.where(table.notna(), None).to_dict("records")


def time_to_action(
    con: duckdb.DuckDBPyConnection, days: int, tiers: Sequence[str] = ()
) -> TimeToAction:
    """The stored follow-ups summarised; owners by number of alerts, tiers in the model's order."""
    followups = read_followups(con)
    if followups is None:
        return TimeToAction(read=False, days=days)
    read_at = con.execute(f"SELECT max(computed_at) FROM {ALERT_FOLLOWUPS}").fetchone()[0]
    out = TimeToAction(
        read=True,
        days=days,
        alerts=len(followups),
        answered=sum(f.first_action_at is not None for f in followups),
        read_at=read_at,
    )
    if not followups:
        return out
    overall = _records(summarise(followups, days, ALL), ALL)
    out.overall = overall[0]
    owners = summarise(followups, days, "owner").sort_values(
        ["alerts", "owner"], ascending=[False, True]
    )
    out.by_owner = _records(owners, "owner")
    rank = {t: i for i, t in enumerate(tiers)}
    by_tier = summarise(followups, days, "tier")
    by_tier["rank"] = by_tier["tier"].map(lambda t: rank.get(t, len(rank)))
    by_tier = by_tier.sort_values(["rank", "tier"]).drop(columns="rank")
    out.by_tier = _records(by_tier, "tier")
    return out


def render_followups(con: duckdb.DuckDBPyConnection, days: int, tiers: Sequence[str] = ()) -> str:
    """The section as HTML (a ``<section id="time-to-action">``)."""
    return (
        environment()
        .get_template("followups.html.j2")
        .render(x=time_to_action(con, days, tiers), command=COMMAND)
    )
