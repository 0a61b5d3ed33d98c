"""A first, thin scoring slice so the pipeline runs end to end (replaced by the scoring engine)."""

from __future__ import annotations

from datetime import date

import duckdb

from acct_pipeline.warehouse import ACCOUNT_SCORES, ACCOUNT_SIGNALS, ACCOUNTS, IDENTITY_MAP, replace_partition

SLICE_VERSION = "slice-0.1"

SIGNALS_SQL = f"""
WITH usage AS (
    SELECT m.account_id, count(DISTINCT e.user_id) AS active_users_30d
    FROM ingest.product_events e
    JOIN {IDENTITY_MAP} m ON m.source_system = 'product' AND m.source_id = e.group_id
    WHERE e.event_date BETWEEN CAST(? AS DATE) - 29 AND CAST(? AS DATE)
    GROUP BY 1
)
SELECT a.account_id, CAST(? AS DATE) AS as_of_date, u.active_users_30d
FROM {ACCOUNTS} a LEFT JOIN usage u USING (account_id)
WHERE a.created_at <= CAST(? AS DATE) + INTERVAL 1 DAY
"""

SCORES_SQL = f"""
SELECT account_id, as_of_date,
       least(100, coalesce(active_users_30d, 0) * 5.0) AS health_score,
       CASE WHEN coalesce(active_users_30d, 0) * 5.0 >= 90 THEN 'Healthy'
            WHEN coalesce(active_users_30d, 0) * 5.0 >= 70 THEN 'At-Risk'
            WHEN coalesce(active_users_30d, 0) * 5.0 >= 50 THEN 'Concerning'
            ELSE 'Critical' END AS tier,
       '{SLICE_VERSION}' AS model_version
FROM {ACCOUNT_SIGNALS} WHERE as_of_date = CAST(? AS DATE)
"""


def compute_signals(con: duckdb.DuckDBPyConnection, as_of: date) -> int:
    return replace_partition(con, ACCOUNT_SIGNALS, SIGNALS_SQL, "as_of_date", [as_of], [as_of] * 4)


def score_day(con: duckdb.DuckDBPyConnection, as_of: date, model: object = None) -> int:
    return replace_partition(con, ACCOUNT_SCORES, SCORES_SQL, "as_of_date", [as_of], [as_of])
