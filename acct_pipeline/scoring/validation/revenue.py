"""The revenue view: ARR by tier, ARR at risk, net revenue retention and expansion by tier.

ARR is 12 x the day's ``mrr`` signal (``features.account_signals``). On the newest scored day:

- ``arr`` by tier (the tier that day) and ``arr_at_risk``: the ARR of the model's two worst tiers;
- over the window before it (``REVENUE_WINDOW_DAYS``, shorter when the history is): accounts
  grouped by their tier on the window's first day — ``nrr`` (their ARR at the end over their ARR
  at the start; churned accounts count 0, new accounts are not in any group) and
  ``expansion_arr`` (the sum of their ARR increases; decreases do not offset it).

Figures go to the validation table (``metric`` = ``arr``, ``arr_at_risk``, ``nrr``,
``expansion_arr``; ``window`` = ``latest_day`` or ``<n>d_revenue``) and to the report's executive
page, both through ``revenue_view``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import duckdb

from acct_pipeline.scoring.tiers import model_tier_names
from acct_pipeline.warehouse import (
    ACCOUNT_SCORES,
    ACCOUNT_SIGNALS,
    AS_OF_DATE,
    table_columns,
    table_exists,
)

REVENUE_WINDOW_DAYS = 90
AT_RISK_TIER_COUNT = 2  # "ARR at risk": the model's two worst tiers
LATEST = "latest_day"


@dataclass
class TierRevenue:
    tier: str
    accounts: int = 0  # on the newest day
    arr: float = 0.0  # on the newest day
    start_accounts: int = 0  # in this tier on the window's first day
    start_arr: float = 0.0
    end_arr: float = 0.0  # the same accounts' ARR on the newest day
    expansion_arr: float = 0.0

    @property
    def nrr(self) -> float | None:
        return self.end_arr / self.start_arr if self.start_arr else None


@dataclass
class RevenueView:
    day: date
    start: date
    tiers: list[TierRevenue] = field(default_factory=list)
    at_risk_tiers: list[str] = field(default_factory=list)

    @property
    def window_days(self) -> int:
        return (self.day - self.start).days

    @property
    def window(self) -> str:
        return f"{self.window_days}d_revenue"

    @property
    def arr(self) -> float:
        return sum(t.arr for t in self.tiers)

    @property
    def arr_at_risk(self) -> float:
        return sum(t.arr for t in self.tiers if t.tier in self.at_risk_tiers)

    @property
    def nrr(self) -> float | None:
        start = sum(t.start_arr for t in self.tiers)
        return sum(t.end_arr for t in self.tiers) / start if start else None

    @property
    def expansion_arr(self) -> float:
        return sum(t.expansion_arr for t in self.tiers)

    def by_tier(self) -> dict[str, TierRevenue]:
        return {t.tier: t for t in self.tiers}


def revenue_view(
    con: duckdb.DuckDBPyConnection,
    day: date | None = None,
    window_days: int = REVENUE_WINDOW_DAYS,
    tier_names: Sequence[str] | None = None,
    scores_table: str = ACCOUNT_SCORES,
    signals_table: str = ACCOUNT_SIGNALS,
) -> RevenueView | None:
    """The revenue figures on ``day`` (default: the newest scored day); None without scores or
    without an ``mrr`` signal."""
    if not table_exists(con, scores_table) or "mrr" not in table_columns(con, signals_table):
        return None
    first, last = con.execute(
        f"SELECT min({AS_OF_DATE}), max({AS_OF_DATE}) FROM {scores_table}"
    ).fetchone()
    day = day or last
    if day is None:
        return None
    start = max(first, day - timedelta(days=window_days))
    names = list(tier_names or model_tier_names())
    tiers: dict[str, TierRevenue] = {t: TierRevenue(t) for t in names}

    def row(tier: str) -> TierRevenue:
        return tiers.setdefault(tier, TierRevenue(tier))

    for tier, n, arr in con.execute(
        f"""SELECT s.tier, count(*), coalesce(sum(12 * g.mrr), 0)
            FROM {scores_table} s
            LEFT JOIN {signals_table} g
                   ON g.account_id = s.account_id AND g.{AS_OF_DATE} = s.{AS_OF_DATE}
            WHERE s.{AS_OF_DATE} = ? AND s.tier IS NOT NULL GROUP BY 1""",
        [day],
    ).fetchall():
        r = row(str(tier))
        r.accounts, r.arr = int(n), float(arr)
    for tier, n, start_arr, end_arr, expansion in con.execute(
        f"""WITH b AS (
                SELECT s.account_id, s.tier, coalesce(12 * g0.mrr, 0) AS a0,
                       coalesce(12 * g1.mrr, 0) AS a1
                FROM {scores_table} s
                LEFT JOIN {signals_table} g0
                       ON g0.account_id = s.account_id AND g0.{AS_OF_DATE} = s.{AS_OF_DATE}
                LEFT JOIN {signals_table} g1
                       ON g1.account_id = s.account_id AND g1.{AS_OF_DATE} = ?
                WHERE s.{AS_OF_DATE} = ? AND s.tier IS NOT NULL)
            SELECT tier, count(*), sum(a0), sum(a1), sum(greatest(a1 - a0, 0))
            FROM b GROUP BY 1""",
        [day, start],
    ).fetchall():
        r = row(str(tier))
        r.start_accounts, r.start_arr = int(n), float(start_arr)
        r.end_arr, r.expansion_arr = float(end_arr), float(expansion)
    order = names + sorted(t for t in tiers if t not in names)
    return RevenueView(
        day=day,
        start=start,
        tiers=[tiers[t] for t in order],
        at_risk_tiers=names[-AT_RISK_TIER_COUNT:],
    )


def revenue_records(view: RevenueView | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The view as validation rows (``VALIDATION_COLUMNS``) and headline numbers."""
    if view is None:
        return [], {}

    def rec(metric: str, value: float | None, n: int, seg_type: str, seg: str, window: str):
        return {
            "metric": metric,
            "score": None,
            "segment_type": seg_type,
            "segment": seg,
            "window": window,
            "as_of_date": view.day,
            "value": value,
            "n": n,
        }

    recs = []
    for t in view.tiers:
        recs.append(rec("arr", t.arr, t.accounts, "tier", t.tier, LATEST))
        recs.append(rec("nrr", t.nrr, t.start_accounts, "tier", t.tier, view.window))
        recs.append(
            rec("expansion_arr", t.expansion_arr, t.start_accounts, "tier", t.tier, view.window)
        )
    at_risk_n = sum(t.accounts for t in view.tiers if t.tier in view.at_risk_tiers)
    recs.append(rec("arr", view.arr, sum(t.accounts for t in view.tiers), "all", "all", LATEST))
    recs.append(rec("arr_at_risk", view.arr_at_risk, at_risk_n, "all", "all", LATEST))
    starts = sum(t.start_accounts for t in view.tiers)
    recs.append(rec("nrr", view.nrr, starts, "all", "all", view.window))
    recs.append(rec("expansion_arr", view.expansion_arr, starts, "all", "all", view.window))
    summary = {
        "arr": round(view.arr, 2),
        "arr_at_risk": round(view.arr_at_risk, 2),
        "nrr": None if view.nrr is None else round(view.nrr, 4),
        "expansion_arr": round(view.expansion_arr, 2),
        "revenue_window": f"{view.start} .. {view.day}",
    }
    return recs, summary
