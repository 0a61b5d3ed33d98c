"""The report's engagement section: the category mix by tier and the categories that moved most.

Both read ``scores.account_scores`` (the ``engagement_<category>`` columns, NULL where an account
has no data for the category, so averages are over the accounts with data).
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd

from acct_pipeline.scoring import engagement
from acct_pipeline.scoring.model import ScoringModel
from acct_pipeline.warehouse import ACCOUNT_SCORES, column_types

MOVERS_LOOKBACK_DAYS = 30


def _has_categories(con: duckdb.DuckDBPyConnection) -> bool:
    return set(engagement.SCORE_COLUMNS) <= set(column_types(con, ACCOUNT_SCORES))


def engagement_mix(con: duckdb.DuckDBPyConnection, last: date, model: ScoringModel) -> pd.DataFrame:
    """Per tier (best first) on ``last``: accounts, then each category's mean score and in
    brackets the share of the tier's accounts with data for it."""
    if not _has_categories(con):
        return pd.DataFrame()
    cols = ", ".join(
        f"avg({c}) AS {c}, count({c}) / count(*) AS {c}_share" for c in engagement.SCORE_COLUMNS
    )
    df = con.execute(
        f"SELECT tier, count(*) AS accounts, avg(engagement_score) AS engagement_score, {cols} "
        f"FROM {ACCOUNT_SCORES} WHERE as_of_date = ? AND tier IS NOT NULL GROUP BY tier",
        [last],
    ).df()
    if df.empty:
        return df
    order = {t: i for i, t in enumerate(model.tiers.names)}
    df = df.sort_values("tier", key=lambda s: s.map(order)).reset_index(drop=True)
    out = pd.DataFrame({"tier": df["tier"], "accounts": df["accounts"].astype(int)})
    out["engagement"] = df["engagement_score"].round(1)
    for c in engagement.CATEGORIES:
        col = engagement.score_column(c)
        out[engagement.label(c)] = [
            "no data" if pd.isna(v) else f"{v:.0f} ({s:.0%} with data)"
            for v, s in zip(df[col], df[f"{col}_share"], strict=True)
        ]
    return out


def engagement_movers(con: duckdb.DuckDBPyConnection, last: date) -> pd.DataFrame:
    """Per category: the mean score of the accounts with data on both days, ``last`` and 30 days
    before, and the change; the largest moves first."""
    if not _has_categories(con):
        return pd.DataFrame()
    before = last - timedelta(days=MOVERS_LOOKBACK_DAYS)
    rows = []
    for c in engagement.CATEGORIES:
        col = engagement.score_column(c)
        n, then, now = con.execute(
            f"SELECT count(*), avg(b.{col}), avg(a.{col}) FROM {ACCOUNT_SCORES} a "
            f"JOIN {ACCOUNT_SCORES} b ON b.account_id = a.account_id AND b.as_of_date = ? "
            f"WHERE a.as_of_date = ? AND a.{col} IS NOT NULL AND b.{col} IS NOT NULL",
            [before, last],
        ).fetchone()
        if n:
            rows.append(
                {
                    "category": engagement.label(c),
                    "accounts": int(n),
                    f"mean on {before}": round(then, 1),
                    f"mean on {last}": round(now, 1),
                    "change (points)": round(now - then, 1),
                }
            )
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    return df.reindex(df["change (points)"].abs().sort_values(ascending=False).index).reset_index(
        drop=True
    )
