"""The daily usage rollups the signals read: same numbers as the raw events, kept in step."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from acct_pipeline.scoring.model import load_model
from acct_pipeline.scoring.signals import USAGE_WINDOW_DAYS, compute_signals
from acct_pipeline.scoring.usage import refresh_usage_rollups
from acct_pipeline.warehouse import (
    ACCOUNT_SIGNALS,
    PRODUCT_USAGE_DAILY,
    SCHEMAS,
    USAGE_ROLLUP_STATE,
)
from acct_pipeline_tests.conftest import sample_period
from acct_pipeline_tests.scoring.tiny import AS_OF, build_tiny, insert, ts

MODEL = load_model()
USAGE = [
    "active_users_7d",
    "active_users_30d",
    "active_days_30d",
    "events_30d",
    "key_features_used_30d",
    "usage_trend_pct",
]

# The usage signals written the plain way, straight from the raw events (no rollups, no masks).
REFERENCE_SQL = """
WITH links AS (
    SELECT DISTINCT source_id AS group_id, account_id
    FROM staging.identity_map WHERE source_system = 'product'
),
ev AS (
    SELECT DISTINCT l.account_id, e.user_id, e.event_date, e.event_name, e.event_id
    FROM ingest.product_events e JOIN links l USING (group_id)
    WHERE e.event_date BETWEEN $d - 34 AND $d AND e.occurred_at < $d + INTERVAL 1 DAY
),
agg AS (
    SELECT account_id,
           count(DISTINCT user_id) FILTER (WHERE event_date > $d - 7) AS active_users_7d,
           count(DISTINCT user_id) FILTER (WHERE event_date > $d - 30) AS active_users_30d,
           count(DISTINCT event_date) FILTER (WHERE event_date > $d - 30) AS active_days_30d,
           count(*) FILTER (WHERE event_date > $d - 30) AS events_30d,
           count(DISTINCT event_name) FILTER (
               WHERE event_date > $d - 30
                 AND (len($keys) = 0 OR list_contains($keys, event_name))) AS key_features_used_30d,
           count(DISTINCT (user_id, event_date)) FILTER (WHERE event_date > $d - 7) AS ud7,
           count(DISTINCT (user_id, event_date)) FILTER (WHERE event_date <= $d - 7) AS ud28
    FROM ev GROUP BY account_id
)
SELECT account_id,
       CAST(active_users_7d AS DOUBLE) AS active_users_7d,
       CAST(active_users_30d AS DOUBLE) AS active_users_30d,
       CAST(active_days_30d AS DOUBLE) AS active_days_30d,
       CAST(events_30d AS DOUBLE) AS events_30d,
       CAST(key_features_used_30d AS DOUBLE) AS key_features_used_30d,
       CASE WHEN ud28 > 0 THEN (ud7 / 7.0) / (ud28 / 28.0) - 1 END AS usage_trend_pct
FROM agg
"""


def _reference(con: duckdb.DuckDBPyConnection, day: date) -> pd.DataFrame:
    keys = list(MODEL.signal_params().key_features)
    return con.execute(REFERENCE_SQL, {"d": day, "keys": keys}).df().set_index("account_id")


def _usage(con: duckdb.DuckDBPyConnection, day: date) -> pd.DataFrame:
    return (
        con.execute(
            f"SELECT account_id, {', '.join(USAGE)} FROM {ACCOUNT_SIGNALS} WHERE as_of_date = ?",
            [day],
        )
        .df()
        .set_index("account_id")
    )


@pytest.fixture
def warehouse(scored_warehouse_copy: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(scored_warehouse_copy))
    con.execute("SET TimeZone = 'UTC'")
    yield con
    con.close()


def test_signals_from_rollups_equal_the_plain_sql_over_raw_events(
    warehouse: duckdb.DuckDBPyConnection, small_sample: Path
) -> None:
    start, end = sample_period(small_sample)
    for day in (start + timedelta(days=3), end - timedelta(days=9), end):
        ours = _usage(warehouse, day)
        ref = _reference(warehouse, day)
        assert len(ref) > 50, day  # the sample has product usage to compare
        both = ours.loc[ref.index]
        pd.testing.assert_frame_equal(both[USAGE], ref[USAGE], check_dtype=False, atol=1e-9)
        # accounts with a product link but no events in the window are 0, not missing
        others = ours.drop(index=ref.index)
        assert (others["active_users_30d"].dropna() == 0).all()


def test_a_changed_day_is_rebuilt_and_counted_again(
    warehouse: duckdb.DuckDBPyConnection, small_sample: Path
) -> None:
    _, end = sample_period(small_sample)
    first = end - timedelta(days=USAGE_WINDOW_DAYS - 1)
    assert refresh_usage_rollups(warehouse, first, end) == []  # the pipeline kept them in step
    before = _usage(warehouse, end)

    # three events of one account leave the raw table (as a re-ingest of that day would do)
    gone = warehouse.execute(
        """
        SELECT e.event_id, l.account_id FROM ingest.product_events e
        JOIN staging.identity_map l ON l.source_system = 'product' AND l.source_id = e.group_id
        WHERE e.event_date = ? ORDER BY e.event_id LIMIT 3
        """,
        [end - timedelta(days=2)],
    ).fetchall()
    account = gone[0][1]
    assert all(a == account for _, a in gone)  # event ids sort by workspace in the sample
    warehouse.execute(
        "DELETE FROM ingest.product_events WHERE event_id IN (SELECT unnest(?::VARCHAR[]))",
        [[e for e, _ in gone]],
    )
    assert refresh_usage_rollups(warehouse, first, end) == [end - timedelta(days=2)]
    assert refresh_usage_rollups(warehouse, first, end) == []
    compute_signals(warehouse, end, MODEL)
    after = _usage(warehouse, end)
    assert after.loc[account, "events_30d"] == before.loc[account, "events_30d"] - 3
    unchanged = after.drop(index=[account])
    pd.testing.assert_frame_equal(unchanged, before.drop(index=[account]))


def test_a_different_hash_function_rebuilds_every_day(
    warehouse: duckdb.DuckDBPyConnection, small_sample: Path
) -> None:
    _, end = sample_period(small_sample)
    first = end - timedelta(days=USAGE_WINDOW_DAYS - 1)
    before = _usage(warehouse, end)
    # what a DuckDB upgrade that changed hash() would leave: stored hashes that no longer match
    warehouse.execute(f"UPDATE {USAGE_ROLLUP_STATE} SET hash_probe = hash_probe + 1")
    warehouse.execute(f"UPDATE {PRODUCT_USAGE_DAILY} SET gh = gh + 1")
    rebuilt = refresh_usage_rollups(warehouse, first, end)
    assert rebuilt == [first + timedelta(days=k) for k in range(USAGE_WINDOW_DAYS)]
    compute_signals(warehouse, end, MODEL)
    pd.testing.assert_frame_equal(_usage(warehouse, end), before)


@pytest.fixture
def tiny() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    for schema in SCHEMAS:
        c.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    build_tiny(c)
    yield c
    c.close()


def test_an_event_filed_early_counts_only_from_its_own_timestamp(
    tiny: duckdb.DuckDBPyConnection,
) -> None:
    # filed under D, stamped D + 1: raw events read with occurred_at < D + 1 do not see it on D
    insert(
        tiny,
        "product_events",
        [
            {
                "event_id": "late",
                "event_name": "report_created",
                "occurred_at": ts((AS_OF + timedelta(days=1)).isoformat(), hour=3),
                "user_id": "newcomer",
                "group_id": "g-a",
                "event_date": AS_OF,
            }
        ],
    )
    compute_signals(tiny, AS_OF, MODEL)
    compute_signals(tiny, AS_OF + timedelta(days=1), MODEL)
    on_d = _usage(tiny, AS_OF).loc["A"]
    next_day = _usage(tiny, AS_OF + timedelta(days=1)).loc["A"]
    assert on_d.active_users_7d == 4 and on_d.events_30d == 6
    assert next_day.active_users_7d == 5 and next_day.events_30d == 7
