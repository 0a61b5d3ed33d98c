"""The Spark engine keeps its daily usage rollups in the lake and builds only the days that need
it, under the DuckDB engine's rule (``scoring.usage``): new days, days whose raw events changed
(a late event, a re-ingest), days whose events are gone, everything when the hash changed.

What a run built is read twice: from the return value and from the lake's folders (a rebuilt
day's folder holds new files; the other days' files are left as they were).
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from acct_pipeline import warehouse
from acct_pipeline.warehouse import PRODUCT_FEATURES_DAILY, PRODUCT_USAGE_DAILY

pytestmark = pytest.mark.spark

TABLES = (PRODUCT_USAGE_DAILY, PRODUCT_FEATURES_DAILY)


def _files(lake: Path) -> dict[tuple[str, date], frozenset[tuple[str, int]]]:
    """(rollup table, day) -> the day folder's Parquet files (name, mtime)."""
    out = {}
    for table in TABLES:
        root = lake.joinpath(*table.split("."))
        for folder in root.glob("event_date=*"):
            day = date.fromisoformat(folder.name.split("=", 1)[1])
            out[(table, day)] = frozenset(
                (f.name, f.stat().st_mtime_ns) for f in folder.glob("*.parquet")
            )
    return out


def _changed(before: dict, after: dict) -> set[tuple[str, date]]:
    return {k for k in after.keys() | before.keys() if before.get(k) != after.get(k)}


def _lake_totals(lake: Path, table: str, first: date, last: date) -> pd.DataFrame:
    """Rows (and events) per (event_date, visible_from) of a rollup in the lake."""
    events = "sum(events)" if table == PRODUCT_USAGE_DAILY else "0"
    glob = lake.joinpath(*table.split("."), "*", "*.parquet")
    return (
        duckdb.sql(
            f"""
            SELECT event_date, visible_from, count(*) AS n, CAST({events} AS BIGINT) AS events
            FROM read_parquet('{glob}', hive_partitioning = true)
            WHERE event_date BETWEEN DATE '{first}' AND DATE '{last}'
            GROUP BY ALL ORDER BY ALL
            """
        )
        .df()
        .astype({"event_date": "datetime64[us]", "visible_from": "datetime64[us]"})
    )


def _duckdb_totals(con, table: str, first: date, last: date) -> pd.DataFrame:  # noqa: ANN001
    events = "sum(events)" if table == PRODUCT_USAGE_DAILY else "0"
    return (
        con.execute(
            f"""
            SELECT event_date, visible_from, count(*) AS n, CAST({events} AS BIGINT) AS events
            FROM {table} WHERE event_date BETWEEN ? AND ? GROUP BY ALL ORDER BY ALL
            """,
            [first, last],
        )
        .df()
        .astype({"event_date": "datetime64[us]", "visible_from": "datetime64[us]"})
    )


def _signals(con, day: date) -> pd.DataFrame:  # noqa: ANN001
    return (
        con.execute(
            f"SELECT * FROM {warehouse.ACCOUNT_SIGNALS} WHERE as_of_date = ? ORDER BY account_id",
            [day],
        )
        .df()
        .set_index("account_id")
    )


def test_spark_rollups_build_only_new_and_changed_days(
    scored_warehouse_copy: Path,
    tmp_path: Path,
    spark,  # noqa: ANN001
) -> None:
    from acct_pipeline.engine.days import signals_day, signals_for_days
    from acct_pipeline.engine.lake import export_to_lake
    from acct_pipeline.engine.spark import SparkEngine
    from acct_pipeline.scoring.model import load_model
    from acct_pipeline.scoring.signals import compute_signals, usage_rollup_days
    from acct_pipeline.scoring.usage import refresh_usage_rollups

    model = load_model()
    lake = tmp_path / "lake"
    events_dir = lake / "ingest" / "product_events"
    with warehouse.connect(scored_warehouse_copy) as con:
        end = con.execute(f"SELECT max(as_of_date) FROM {warehouse.ACCOUNT_SCORES}").fetchone()[0]
        day1, day2 = end - timedelta(days=1), end
        first2 = day2 - timedelta(days=usage_rollup_days(model.signal_params()) - 1)
        first1 = first2 - timedelta(days=1)
        export_to_lake(con, lake, results_before=day1)
        with_events = {
            r[0]
            for r in con.execute(
                "SELECT DISTINCT event_date FROM ingest.product_events "
                "WHERE event_date BETWEEN ? AND ?",
                [first1, day2],
            ).fetchall()
        }
        assert {day1, day2, day2 - timedelta(days=3), day2 - timedelta(days=5)} <= with_events
        engine = SparkEngine(spark, str(lake), buckets=4)

        # day 1, on an empty lake: every day of its window that has events is rolled up
        rows, built = signals_for_days(engine, con, [day1], model)
        assert rows > 0
        assert built == len(with_events - {day2})
        files1 = _files(lake)
        assert set(files1) == {(t, d) for t in TABLES for d in with_events - {day2}}

        # day 2: only the new day is rolled up; the other days' files are untouched
        rows, built = signals_for_days(engine, con, [day2], model)
        assert (rows, built) == (len(_signals(con, day2)), 1)
        files2 = _files(lake)
        assert _changed(files1, files2) == {(t, day2) for t in TABLES}
        assert engine.usage_rollups(day2) == []  # a rerun builds nothing
        assert _files(lake) == files2
        before = _signals(con, day2)

        # a late event: filed under an earlier day, stamped on D (visible from D), lands in both
        late_day = day2 - timedelta(days=3)
        event_id, account = con.execute(
            """
            SELECT e.event_id, l.account_id FROM ingest.product_events e
            JOIN staging.identity_map l ON l.source_system = 'product' AND l.source_id = e.group_id
            WHERE e.event_date = ? ORDER BY e.event_id LIMIT 1
            """,
            [late_day],
        ).fetchone()
        con.execute(
            """
            INSERT INTO ingest.product_events BY NAME
            SELECT * REPLACE ('late-' || event_id AS event_id,
                              CAST(? AS TIMESTAMP) + INTERVAL 9 HOUR AS occurred_at)
            FROM ingest.product_events WHERE event_id = ?
            """,
            [day2, event_id],
        )
        late_file = events_dir / f"event_date={late_day}" / "late.parquet"
        con.execute(
            f"""COPY (SELECT * EXCLUDE (event_date) FROM ingest.product_events
                      WHERE event_id = 'late-' || ?) TO '{late_file}' (FORMAT parquet)""",
            [event_id],
        )
        assert refresh_usage_rollups(con, first2, day2) == [late_day]  # DuckDB's rule
        assert engine.refresh_usage_rollups(first2, day2) == [late_day]  # the same on Spark
        files3 = _files(lake)
        assert _changed(files2, files3) == {(t, late_day) for t in TABLES}
        for table in TABLES:  # the same rollups as DuckDB's (hashes aside)
            pd.testing.assert_frame_equal(
                _lake_totals(lake, table, first2, day2), _duckdb_totals(con, table, first2, day2)
            )

        # D's signals count the late event, on both engines alike
        compute_signals(con, day2, model)
        want = _signals(con, day2)
        assert signals_day(engine, con, day2, model) == len(want)
        got = _signals(con, day2)
        assert got.loc[account, "events_30d"] == before.loc[account, "events_30d"] + 1
        pd.testing.assert_frame_equal(got, want, check_dtype=False, atol=1e-9)
        assert _files(lake) == files3  # nothing left to build

        # a day whose events are gone: its rollups are emptied
        gone_day = day2 - timedelta(days=5)
        con.execute("DELETE FROM ingest.product_events WHERE event_date = ?", [gone_day])
        shutil.rmtree(events_dir / f"event_date={gone_day}")
        assert refresh_usage_rollups(con, first2, day2) == [gone_day]
        assert engine.refresh_usage_rollups(first2, day2) == [gone_day]
        files4 = _files(lake)
        assert _changed(files3, files4) == {(t, gone_day) for t in TABLES}
        for table in TABLES:
            totals = _lake_totals(lake, table, first2, day2)
            assert pd.Timestamp(gone_day) not in set(totals["event_date"])
            pd.testing.assert_frame_equal(totals, _duckdb_totals(con, table, first2, day2))

    # rollups hashed by another hash function (a stored probe that no longer matches): every
    # day is built again
    state = lake / "features" / "usage_rollup_state"
    shutil.rmtree(state)
    state.mkdir()
    duckdb.sql(f"COPY (SELECT 1::BIGINT AS hash_probe) TO '{state / 'part-0.parquet'}'")
    rebuilt = engine.refresh_usage_rollups(first2, day2)
    assert rebuilt == sorted(with_events - {first1, gone_day})
    assert set(_files(lake)) == {(t, d) for t in TABLES for d in rebuilt}
