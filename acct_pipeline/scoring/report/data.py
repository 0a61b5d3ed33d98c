"""What the score report reads: the stored validation and SQL over the warehouse's own tables.

Every query here reads ``scores.account_scores`` (as the validation judges it: churned accounts
leave the book after their churn date, ``live_scores_sql``) or the stored validation; nothing is
handed over through TEMP tables of another module.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from acct_pipeline.scoring.outcomes import ACCOUNT_OUTCOMES, CONTRACT_ENDS
from acct_pipeline.scoring.validation import (
    SEGMENT_TYPES,
    ValidationResult,
    labeled_sql,
    live_scores_sql,
)
from acct_pipeline.warehouse import (
    ACCOUNT_SCORES,
    ACCOUNT_SIGNALS,
    ACCOUNTS,
    column_types,
    table_columns,
    table_exists,
)

TOP_AT_RISK = 20
AUTOPSY_DAYS = 90
# Signals shown in the churn autopsy, in order of preference (whichever the warehouse has).
AUTOPSY_SIGNALS: tuple[str, ...] = (
    "seat_utilisation",
    "active_users_30d",
    "usage_trend_pct",
    "days_since_last_touch",
    "engagement_decayed",
    "open_high_severity_tickets",
    "failed_payments_30d",
    "mrr_change_90d_pct",
    "active_days_30d",
)
AUTOPSY_MAX_SIGNALS = 5
NUMERIC_TYPES = frozenset(
    {"DOUBLE", "FLOAT", "BIGINT", "INTEGER", "HUGEINT", "SMALLINT", "DECIMAL", "REAL", "UBIGINT"}
)


def _scored(con: duckdb.DuckDBPyConnection) -> str:
    """A ``WITH s AS (...)`` clause: the scored rows the validation judged (whole history)."""
    return f"WITH s AS ({live_scores_sql(con, ACCOUNT_SCORES)})"


def tiers_over_time(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Accounts per day and tier (``as_of_date``, ``tier``, ``n``)."""
    return con.execute(
        f"{_scored(con)} SELECT as_of_date, tier, count(*) AS n FROM s GROUP BY 1, 2 ORDER BY 1"
    ).df()


def churn_by_score_band(con: duckdb.DuckDBPyConnection, horizon_days: int) -> pd.DataFrame:
    """Observed churn rate per health-score band of 10 points (``band``, ``rate``, ``n``).
    Needs ``create_outcome_tables`` first."""
    return con.execute(
        f"""{_scored(con)}, labeled AS ({labeled_sql("s", horizon_days)})
            SELECT least(CAST(floor(health_score / 10) AS INTEGER), 9) * 10 AS band,
                   avg(churned) AS rate,
                   count(*) AS n
            FROM labeled WHERE health_score IS NOT NULL GROUP BY 1 ORDER BY 1"""
    ).df()


def tier_migration(con: duckdb.DuckDBPyConnection, d1: date, d2: date) -> pd.DataFrame:
    """Accounts per (tier on ``d1``, tier on ``d2``): ``from_tier``, ``to_tier``, ``n``."""
    return con.execute(
        f"""{_scored(con)}
            SELECT a.tier AS from_tier, b.tier AS to_tier, count(*) AS n
            FROM s a JOIN s b ON a.account_id = b.account_id
            WHERE a.as_of_date = ? AND b.as_of_date = ? GROUP BY 1, 2""",
        [d1, d2],
    ).df()


def model_versions(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The mean health score per day and model version, and one row per model version
    (``model_version``, ``first_day``, ``last_day``, ``days``, ``mean_score``)."""
    daily = con.execute(
        f"{_scored(con)} SELECT as_of_date, model_version, avg(health_score) AS mean_score, "
        "count(*) AS n FROM s GROUP BY 1, 2 ORDER BY 1, 2"
    ).df()
    versions = con.execute(
        f"{_scored(con)} SELECT model_version, CAST(min(as_of_date) AS VARCHAR) AS first_day, "
        "CAST(max(as_of_date) AS VARCHAR) AS last_day, "
        "count(DISTINCT as_of_date) AS days, avg(health_score) AS mean_score "
        "FROM s GROUP BY 1 ORDER BY 2"
    ).df()
    return daily, versions


def autopsy_signals(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The numeric signals of ``AUTOPSY_SIGNALS`` the warehouse has (at most the first few)."""
    types = column_types(con, ACCOUNT_SIGNALS)
    numeric = {c for c, t in types.items() if t in NUMERIC_TYPES}
    chosen = [c for c in AUTOPSY_SIGNALS if c in numeric]
    return chosen[:AUTOPSY_MAX_SIGNALS]


def autopsy(con: duckdb.DuckDBPyConnection, signals: list[str]) -> pd.DataFrame:
    """Median health score and ``signals`` per outcome and day before the contract end
    (``outcome``, ``day``, ``accounts``, ``health_score``, *signals*). Needs the outcome tables."""
    sig_cols = "".join(f', median(g."{c}") AS "{c}"' for c in signals)
    join = (
        f"LEFT JOIN {ACCOUNT_SIGNALS} g "
        "ON g.account_id = s.account_id AND g.as_of_date = s.as_of_date"
        if signals
        else ""
    )
    return con.execute(
        f"""
        {_scored(con)}
        SELECT e.outcome, CAST(s.as_of_date - e.end_date AS INTEGER) AS day,
               count(DISTINCT e.account_id) AS accounts,
                   median(s.health_score) AS health_score {sig_cols}
        FROM {CONTRACT_ENDS} e
        JOIN s ON s.account_id = e.account_id
             AND s.as_of_date BETWEEN e.end_date - {AUTOPSY_DAYS} AND e.end_date
        {join}
        GROUP BY 1, 2 ORDER BY 1, 2
        """
    ).df()


def top_at_risk(con: duckdb.DuckDBPyConnection, day: date) -> pd.DataFrame:
    """The riskiest accounts that are still customers on ``day`` (churned ones are gone).
    Needs the outcome tables."""
    cols = set(table_columns(con, ACCOUNT_SCORES))
    extra = [
        c
        for c in (
            "churn_probability",
            "trend",
            "score_delta_30d",
            "reason_codes",
            "recommended_playbook",
        )
        if c in cols
    ]
    order = (
        "churn_probability DESC NULLS LAST, health_score"
        if "churn_probability" in cols
        else "health_score"
    )
    acc = table_exists(con, ACCOUNTS)
    name_sql = "a.name" if acc else "NULL"
    owner = "a.owner_email" if acc and "owner_email" in table_columns(con, ACCOUNTS) else "NULL"
    join = f"LEFT JOIN {ACCOUNTS} a USING (account_id)" if acc else ""
    extra_sql = "".join(f", s.{c}" for c in extra)
    return con.execute(
        f"""SELECT s.account_id, {name_sql} AS name, {owner} AS owner, s.health_score,
                   s.tier {extra_sql}
            FROM {ACCOUNT_SCORES} s {join}
            LEFT JOIN {ACCOUNT_OUTCOMES} o ON o.account_id = s.account_id
            WHERE s.as_of_date = ? AND (o.churned_on IS NULL OR o.churned_on > ?)
              AND s.tier IS NOT NULL
            ORDER BY {order}, s.account_id LIMIT {TOP_AT_RISK}""",
        [day, day],
    ).df()


def contract_end_table(v: ValidationResult) -> pd.DataFrame:
    """Churn and renewal rate by the tier 30 / 60 / 90 days before the contract end, from the
    stored validation (``when``, ``tier``, ``churn_rate``, ``renewal_rate``, ``n``)."""
    contract = v.rows[
        (v.rows["metric"].isin(["churn_rate", "renewal_rate"]))
        & v.rows["window"].str.endswith("before_end")
    ]
    if contract.empty:
        return pd.DataFrame()
    return (
        contract.pivot_table(
            index=["window", "segment"], columns="metric", values="value", aggfunc="first"
        )
        .join(contract.groupby(["window", "segment"])["n"].first())
        .reset_index()
        .rename(columns={"segment": "tier", "window": "when"})
    )


def coverage_table(v: ValidationResult) -> pd.DataFrame:
    """Missing inputs and mean score per plan / region / industry on the latest day, from the
    stored validation."""
    coverage = v.rows[
        v.rows["metric"].isin(
            ["accounts", "missing_input_share", "missing_any_input_share", "score_mean"]
        )
        & v.rows["segment_type"].isin(SEGMENT_TYPES)
    ]
    if coverage.empty:
        return pd.DataFrame()
    return (
        coverage.pivot_table(
            index=["segment_type", "segment"], columns="metric", values="value", aggfunc="first"
        )
        .reset_index()
        .sort_values(["segment_type", "segment"])
    )
