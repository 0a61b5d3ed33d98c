"""The validation's reads and writes: the scored rows it judges, and the stored result.

A validation is stored in two tables: ``scores.score_validation`` (the tidy rows,
``VALIDATION_COLUMNS`` plus the range, the model versions and when it was computed) and
``scores.score_validation_summary`` (one row: the headline numbers as JSON). The checks and the
report read them back (``read_validation``) instead of computing the validation again.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import duckdb
import pandas as pd

from acct_pipeline.scoring.lifecycle import CHURNED
from acct_pipeline.scoring.outcomes import churn_label_sql
from acct_pipeline.scoring.validation.result import (
    VALIDATION_COLUMNS,
    ValidationResult,
    empty_result,
    rows_frame,
)
from acct_pipeline.warehouse import (
    SCORE_VALIDATION,
    SCORE_VALIDATION_SUMMARY,
    replace_table,
    table_columns,
    table_exists,
)


def live_scores_sql(con: duckdb.DuckDBPyConnection, scores_table: str) -> str:
    """SELECT of the scored rows a validation judges, in standard columns (``account_id``,
    ``as_of_date``, ``health_score``, ``tier``, ``churn_probability``, ``model_version``,
    ``data_coverage``): every row of ``scores_table`` except churned accounts after their churn
    date (they have left the book, scoring/lifecycle.py). Tolerates missing optional columns."""
    cols = table_columns(con, scores_table)
    prob = "CAST(churn_probability AS DOUBLE)" if "churn_probability" in cols else "NULL::DOUBLE"
    version = "CAST(model_version AS VARCHAR)" if "model_version" in cols else "'unknown'"
    coverage = "CAST(data_coverage AS DOUBLE)" if "data_coverage" in cols else "NULL::DOUBLE"
    live = (
        f"WHERE lifecycle_status IS DISTINCT FROM '{CHURNED}'" if "lifecycle_status" in cols else ""
    )
    return f"""
        SELECT account_id, CAST(as_of_date AS DATE) AS as_of_date,
               CAST(health_score AS DOUBLE) AS health_score, CAST(tier AS VARCHAR) AS tier,
               {prob} AS churn_probability, {version} AS model_version,
               {coverage} AS data_coverage
        FROM {scores_table} {live}
        """


def labeled_sql(scored: str, horizon_days: int) -> str:
    """SELECT of ``scored``'s rows (a relation or a parenthesised SELECT) with the churn label;
    the censoring horizon is the end of ``scored``'s history."""
    return churn_label_sql(scored, horizon_days)


def _prepare_scores(
    con: duckdb.DuckDBPyConnection,
    scores_table: str,
    date_from: date | None,
    date_to: date | None,
    horizon_days: int,
) -> dict[str, Any]:
    """TEMP tables ``_v_scores`` (scores in range, standard columns) and ``_v_labeled`` (with the
    churn label), private to one ``compute_validation`` call. Returns what is available."""
    has_prob = "churn_probability" in table_columns(con, scores_table)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _v_all AS {live_scores_sql(con, scores_table)}")
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _v_scores AS
        SELECT * FROM _v_all
        WHERE as_of_date BETWEEN coalesce(CAST(? AS DATE), DATE '0001-01-01')
                             AND coalesce(CAST(? AS DATE), DATE '9999-12-31')
        """,
        [date_from, date_to],
    )
    # The censoring horizon is the end of the whole stored history, not of the window.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _v_labeled AS
        SELECT l.* FROM ({labeled_sql("_v_all", horizon_days)}) l
        SEMI JOIN _v_scores v USING (account_id, as_of_date)
        """
    )
    return {"has_churn_probability": has_prob}


def write_validation(con: duckdb.DuckDBPyConnection, result: ValidationResult) -> int:
    """Replace ``scores.score_validation`` with ``result``'s rows (plus the range and versions)
    and ``scores.score_validation_summary`` with its headline numbers. Returns the row count."""
    df = result.rows.copy()
    df["date_from"] = (
        pd.to_datetime(result.summary.get("date_from")).date()
        if result.summary.get("date_from")
        else None
    )
    df["date_to"] = (
        pd.to_datetime(result.summary.get("date_to")).date()
        if result.summary.get("date_to")
        else None
    )
    df["model_versions"] = ", ".join(result.summary.get("model_versions", []))
    computed_at = datetime.now().replace(microsecond=0)
    df["computed_at"] = computed_at
    # DuckDB refuses register() while an earlier execute() still has an unfetched result.
    con.execute("SELECT 1").fetchall()
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCORE_VALIDATION.split('.')[0]}")
    con.register("_validation_rows", df)
    try:
        n = replace_table(
            con,
            SCORE_VALIDATION,
            """
            SELECT CAST(metric AS VARCHAR) AS metric, CAST(score AS VARCHAR) AS score,
                   CAST(segment_type AS VARCHAR) AS segment_type,
                       CAST(segment AS VARCHAR) AS segment,
                   CAST("window" AS VARCHAR) AS "window", CAST(as_of_date AS DATE) AS as_of_date,
                   CAST(value AS DOUBLE) AS value, CAST(n AS BIGINT) AS n,
                   CAST(date_from AS DATE) AS date_from, CAST(date_to AS DATE) AS date_to,
                   CAST(model_versions AS VARCHAR) AS model_versions,
                   CAST(computed_at AS TIMESTAMP) AS computed_at
            FROM _validation_rows
            """,
        )
    finally:
        con.unregister("_validation_rows")
    replace_table(
        con,
        SCORE_VALIDATION_SUMMARY,
        "SELECT CAST(? AS VARCHAR) AS summary, CAST(? AS TIMESTAMP) AS computed_at",
        [result.summary_json(), computed_at],
    )
    return n


def read_validation(con: duckdb.DuckDBPyConnection) -> ValidationResult | None:
    """The stored validation (rows and headline numbers), or None when none is stored (or it was
    stored by a version that kept no summary)."""
    if not (table_exists(con, SCORE_VALIDATION) and table_exists(con, SCORE_VALIDATION_SUMMARY)):
        return None
    got = con.execute(f"SELECT summary FROM {SCORE_VALIDATION_SUMMARY} LIMIT 1").fetchone()
    if got is None:
        return None
    cols = ", ".join(f'"{c}"' for c in VALIDATION_COLUMNS)
    stored = con.execute(f"SELECT {cols} FROM {SCORE_VALIDATION}").df()
    if stored.empty:
        rows = rows_frame([])
    else:
        rows = rows_frame(stored.astype(object).where(stored.notna(), None).to_dict("records"))
    summary = json.loads(got[0])
    if summary.get("status") != "ok" and rows.empty:
        return empty_result(str(summary.get("status")))
    return ValidationResult(rows=rows, summary=summary)
