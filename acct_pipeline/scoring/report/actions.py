"""The report's overrides and hierarchy sections (after the executive page).

- **Overrides** active on the report's day: the effective tier / score a person set, beside the
  computed score now and when the override was entered, who set it, why and until when.
- **Parent accounts**: every parent's rolled-up score and tier from its children, the share of
  the children's ARR per tier and the worst child (``scores.account_rollups``).

Each is a self-contained ``<section>`` rendered by its own template
(``templates/overrides.html.j2``, ``templates/rollups.html.j2``); nothing is shown when the
warehouse has no overrides / hierarchy.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import duckdb

from acct_pipeline.scoring.overrides import active_overrides_sql
from acct_pipeline.scoring.report.executive import environment
from acct_pipeline.warehouse import (
    ACCOUNT_ROLLUPS,
    ACCOUNT_SCORES,
    ACCOUNTS,
    AS_OF_DATE,
    SCORE_OVERRIDES,
    table_columns,
    table_exists,
)


def _names(con: duckdb.DuckDBPyConnection, alias: str, id_expr: str) -> tuple[str, str]:
    cols = table_columns(con, ACCOUNTS)
    join = f"LEFT JOIN {ACCOUNTS} {alias} ON {alias}.account_id = {id_expr}" if cols else ""
    name = f"{alias}.name" if "name" in cols else "NULL"
    owner = f"{alias}.owner_email" if "owner_email" in cols else "NULL"
    return join, f"{name} AS name, {owner} AS owner"


def active_overrides(con: duckdb.DuckDBPyConnection, day: date) -> list[dict[str, Any]]:
    """The overrides active on ``day`` with the computed score and tier that day."""
    if not table_exists(con, SCORE_OVERRIDES) or not table_exists(con, ACCOUNT_SCORES):
        return []
    join, who = _names(con, "a", "o.account_id")
    return (
        con.execute(
            f"""SELECT o.override_id, o.account_id, {who}, o.tier, o.score, o.reason,
                       o.created_by, o.starts_on, o.expires_on, o.score_at_override,
                       s.health_score, s.tier AS computed_tier
                FROM ({active_overrides_sql("CAST($1 AS DATE)")}) o
                LEFT JOIN {ACCOUNT_SCORES} s
                       ON s.account_id = o.account_id AND s.{AS_OF_DATE} = CAST($1 AS DATE)
                {join}
                ORDER BY o.expires_on, o.account_id""",
            [day],
        )
        .df()
        .astype(object)
        .pipe(lambda df: df.where(df.notna(), None))
        .to_dict("records")
    )


def parent_rollups(con: duckdb.DuckDBPyConnection, day: date) -> list[dict[str, Any]]:
    """The parents rolled up on ``day``, worst rolled-up score first."""
    if not table_exists(con, ACCOUNT_ROLLUPS):
        return []
    join, who = _names(con, "a", "r.parent_account_id")
    rows = (
        con.execute(
            f"""SELECT r.*, {who} FROM {ACCOUNT_ROLLUPS} r {join}
                WHERE r.{AS_OF_DATE} = ? ORDER BY r.rollup_score NULLS LAST, 1""",
            [day],
        )
        .df()
        .astype(object)
    )
    out = rows.where(rows.notna(), None).to_dict("records")
    for r in out:
        r["shares"] = json.loads(r["arr_share_by_tier"] or "{}")
    return out


def render_actions(con: duckdb.DuckDBPyConnection, day: date) -> str:
    """The overrides and parent-account sections as HTML ("" when there is neither)."""
    env = environment()
    html = ""
    overrides = active_overrides(con, day)
    if overrides or table_exists(con, SCORE_OVERRIDES):
        html += env.get_template("overrides.html.j2").render(day=day, rows=overrides)
    rollups = parent_rollups(con, day)
    if rollups:
        html += env.get_template("rollups.html.j2").render(day=day, rows=rollups)
    return html
