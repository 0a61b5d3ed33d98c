"""Hierarchy roll-up: a parent account's score from its children (subsidiaries).

The hierarchy comes from the CRM: ``parent_account_id`` of ``ingest.crm_companies`` (a landing
column; HubSpot's parent company association and Salesforce's ``Account.ParentId`` fill it). One
level: a parent's children are the accounts that name it; a grandchild counts for its own parent.

Per parent and score day, ``scores.account_rollups`` holds

- ``rollup_score``: from the children's computed health scores, by the model's ``rollup.method``:
  ``arr_weighted_mean`` (the default; children weighted by their ARR, a plain mean when none has
  ARR) or ``worst_child`` (the lowest child score: one failing subsidiary marks the group);
- ``rollup_tier``: the model's band of that score (no hysteresis: it follows its children);
- ``arr_share_by_tier``: the share of the children's ARR in each tier of the model, always (JSON,
  best tier first) and ``arr_share_text`` (``"Healthy 60%; At-Risk 40%"``) for the CRM;
- the children, their ARR, the worst child, and the parent's own computed score beside it.

The rollup reaches the CRM through the parent's own score row: ``rollup_score``, ``rollup_tier``,
``rollup_children`` and ``rollup_arr_share`` columns of ``scores.account_scores`` (added with the
first rollup), which the sync's field mapping sends to the parent record. Children's ARR is 12 x
the day's ``mrr`` signal. ``rollup_frame`` is the pure part; ``compute_rollups`` reads and writes.
"""

from __future__ import annotations

import json
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from acct_pipeline.scoring.model import ScoringModel
from acct_pipeline.scoring.tiers import band_index
from acct_pipeline.warehouse import (
    ACCOUNT_ROLLUPS,
    ACCOUNT_SCORES,
    ACCOUNT_SIGNALS,
    AS_OF_DATE,
    CRM_COMPANIES,
    replace_partition,
    table_columns,
    table_exists,
    transaction,
)

ARR_WEIGHTED_MEAN = "arr_weighted_mean"
WORST_CHILD = "worst_child"
METHODS = (ARR_WEIGHTED_MEAN, WORST_CHILD)
PARENT_COLUMN = "parent_account_id"
# Columns set on the parent's own score row, for the sync (name -> DuckDB type).
PARENT_ROW_COLUMNS: dict[str, str] = {
    "rollup_score": "DOUBLE",
    "rollup_tier": "VARCHAR",
    "rollup_children": "BIGINT",
    "rollup_arr_share": "VARCHAR",
}
ROLLUP_COLUMNS = (
    "parent_account_id",
    "as_of_date",
    "method",
    "children",
    "scored_children",
    "child_ids",
    "rollup_score",
    "rollup_tier",
    "arr",
    "worst_child_id",
    "worst_child_score",
    "parent_health_score",
    "parent_tier",
    "arr_share_by_tier",
    "arr_share_text",
)
_PARENT_OWN = ("parent_health_score", "parent_tier")  # joined from the parent's score row
_TMP = "_account_rollups_day"


def rollup_frame(
    children: pd.DataFrame, model: ScoringModel, as_of: date, method: str | None = None
) -> pd.DataFrame:
    """One row per parent (pure). ``children``: ``parent_account_id, account_id, health_score,
    tier, arr`` (NaN score: not scored that day, e.g. churned — left out of the score and
    shares but counted in ``children``)."""
    method = method or model.rollup.method
    names = list(model.tiers.names)
    rows = []
    for parent, g in children.groupby(PARENT_COLUMN, sort=True):
        g = g.sort_values("account_id")
        score = pd.to_numeric(g["health_score"], errors="coerce").to_numpy(dtype=float)
        arr = np.nan_to_num(pd.to_numeric(g["arr"], errors="coerce").to_numpy(dtype=float))
        scored = ~np.isnan(score)
        value = np.nan
        if scored.any():
            s, w = score[scored], arr[scored]
            if method == WORST_CHILD:
                value = float(s.min())
            else:
                value = float((s * w).sum() / w.sum()) if w.sum() > 0 else float(s.mean())
        worst = int(np.nanargmin(np.where(scored, score, np.inf))) if scored.any() else None
        tiers = g["tier"].to_numpy(dtype=object)
        total = float(arr[scored].sum())
        share = {
            t: (float(arr[scored & (tiers == t)].sum()) / total if total else 0.0) for t in names
        }
        tier = None
        if not np.isnan(value):
            tier = names[int(band_index(np.array([value]), model.tiers)[0])]
        rows.append(
            {
                "parent_account_id": str(parent),
                "as_of_date": as_of,
                "method": method,
                "children": len(g),
                "scored_children": int(scored.sum()),
                "child_ids": [str(x) for x in g["account_id"]],
                "rollup_score": None if np.isnan(value) else round(value, 1),
                "rollup_tier": tier,
                "arr": round(float(arr.sum()), 2),
                "worst_child_id": None if worst is None else str(g["account_id"].iloc[worst]),
                "worst_child_score": None if worst is None else float(score[worst]),
                "arr_share_by_tier": json.dumps({t: round(v, 4) for t, v in share.items()}),
                "arr_share_text": "; ".join(f"{t} {v:.0%}" for t, v in share.items() if v > 0)
                or None,
            }
        )
    return pd.DataFrame(rows, columns=[c for c in ROLLUP_COLUMNS if c not in _PARENT_OWN])


def read_children(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """Every child account of a parent with its score, tier and ARR on ``as_of``."""
    empty = pd.DataFrame(columns=[PARENT_COLUMN, "account_id", "health_score", "tier", "arr"])
    if PARENT_COLUMN not in table_columns(con, CRM_COMPANIES.qualified):
        return empty
    if not table_exists(con, ACCOUNT_SCORES):
        return empty
    arr = "12 * g.mrr" if "mrr" in table_columns(con, ACCOUNT_SIGNALS) else "NULL"
    signals = (
        f"LEFT JOIN {ACCOUNT_SIGNALS} g ON g.account_id = c.company_id AND g.{AS_OF_DATE} = ?"
        if arr != "NULL"
        else "LEFT JOIN (SELECT CAST(? AS DATE) AS d) g ON true"
    )
    return con.execute(
        f"""SELECT c.{PARENT_COLUMN}, c.company_id AS account_id,
                   CAST(s.health_score AS DOUBLE) AS health_score, s.tier,
                   CAST({arr} AS DOUBLE) AS arr
            FROM (SELECT DISTINCT company_id, {PARENT_COLUMN} FROM {CRM_COMPANIES.qualified}
                  WHERE nullif(trim({PARENT_COLUMN}), '') IS NOT NULL
                    AND {PARENT_COLUMN} <> company_id) c
            LEFT JOIN {ACCOUNT_SCORES} s ON s.account_id = c.company_id AND s.{AS_OF_DATE} = ?
            {signals}
            ORDER BY 1, 2""",
        [as_of, as_of],
    ).df()


def compute_rollups(con: duckdb.DuckDBPyConnection, as_of: date, model: ScoringModel) -> int:
    """Replace ``scores.account_rollups`` for ``as_of`` and set the ``rollup_*`` columns of the
    parents' own score rows; returns the number of parents (0: no hierarchy in the CRM)."""
    frame = rollup_frame(read_children(con, as_of), model, as_of)
    if frame.empty and not table_exists(con, ACCOUNT_ROLLUPS):
        return 0
    con.execute("SELECT 1").fetchall()
    con.register(_TMP, frame)
    try:
        n = replace_partition(
            con,
            ACCOUNT_ROLLUPS,
            f"""SELECT CAST(r.parent_account_id AS VARCHAR) AS parent_account_id,
                       CAST(r.as_of_date AS DATE) AS as_of_date,
                       CAST(r.method AS VARCHAR) AS method,
                       CAST(r.children AS BIGINT) AS children,
                       CAST(r.scored_children AS BIGINT) AS scored_children,
                       CAST(r.child_ids AS VARCHAR[]) AS child_ids,
                       CAST(r.rollup_score AS DOUBLE) AS rollup_score,
                       CAST(r.rollup_tier AS VARCHAR) AS rollup_tier,
                       CAST(r.arr AS DOUBLE) AS arr,
                       CAST(r.worst_child_id AS VARCHAR) AS worst_child_id,
                       CAST(r.worst_child_score AS DOUBLE) AS worst_child_score,
                       CAST(p.health_score AS DOUBLE) AS parent_health_score,
                       CAST(p.tier AS VARCHAR) AS parent_tier,
                       CAST(r.arr_share_by_tier AS VARCHAR) AS arr_share_by_tier,
                       CAST(r.arr_share_text AS VARCHAR) AS arr_share_text
                FROM {_TMP} r
                LEFT JOIN {ACCOUNT_SCORES} p
                       ON p.account_id = r.parent_account_id
                      AND p.{AS_OF_DATE} = CAST(r.as_of_date AS DATE)""",
            AS_OF_DATE,
            [as_of],
        )
    finally:
        con.unregister(_TMP)
    _set_parent_rows(con, as_of)
    return n


def _set_parent_rows(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    have = set(table_columns(con, ACCOUNT_SCORES))
    for col, typ in PARENT_ROW_COLUMNS.items():
        if col not in have:
            con.execute(f"ALTER TABLE {ACCOUNT_SCORES} ADD COLUMN {col} {typ}")
    sets = ", ".join(f"{c} = NULL" for c in PARENT_ROW_COLUMNS)
    with transaction(con):
        con.execute(f"UPDATE {ACCOUNT_SCORES} SET {sets} WHERE {AS_OF_DATE} = ?", [as_of])
        con.execute(
            f"""UPDATE {ACCOUNT_SCORES} s SET
                    rollup_score = r.rollup_score,
                    rollup_tier = r.rollup_tier,
                    rollup_children = r.children,
                    rollup_arr_share = r.arr_share_text
                FROM {ACCOUNT_ROLLUPS} r
                WHERE r.{AS_OF_DATE} = CAST($1 AS DATE) AND s.{AS_OF_DATE} = CAST($1 AS DATE)
                  AND s.account_id = r.parent_account_id""",
            [as_of],
        )
