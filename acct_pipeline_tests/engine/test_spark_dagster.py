"""The daily Dagster job with the engine resource set to Spark gives the DuckDB job's rows.

The first days of the shared sample run through ``run_days`` (the asset graph: ingest, signals,
scores, checks, validation, sync) with ``ACCT_ENGINE=spark`` and a lake under ``tmp_path``: the
product events go to the lake's day folders, not to DuckDB; the small tables are published by
the signals step; the signal and score rows equal those the DuckDB job wrote for the same days.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest

from acct_pipeline import warehouse
from acct_pipeline_tests.conftest import sample_period
from acct_pipeline_tests.engine.test_spark_equal import _assert_same, _rows

pytestmark = pytest.mark.spark

DAGSTER_DAYS = 3  # the first days of the sample, in one run


def test_daily_job_on_spark_equals_duckdb(
    small_sample: Path,
    scored_warehouse: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    spark,  # noqa: ANN001 - the shared session: the engine resource's getOrCreate returns it
) -> None:
    from acct_pipeline.definitions import defs
    from acct_pipeline.engine.lake import LOAD_MARKER, events_day_path
    from acct_pipeline.run import run_days

    start, _ = sample_period(small_sample)
    days = [start + timedelta(days=k) for k in range(DAGSTER_DAYS)]
    db, lake = tmp_path / "warehouse.duckdb", tmp_path / "lake"
    for name, value in {
        "ACCT_LANDING_DIR": str(small_sample),
        "ACCT_WAREHOUSE": str(db),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "ACCT_ENGINE": "spark",
        "ACCT_SPARK_MASTER": "local[2]",
        "ACCT_LAKE_PATH": str(lake),
    }.items():
        monkeypatch.setenv(name, value)
    # the UI shows the engine resource, configured from the environment
    engine = defs().get_repository_def().get_top_level_resources()["engine"]
    assert engine is not None

    outcome = run_days(days[0], days[-1], instance=dg.DagsterInstance.ephemeral(), say=print)
    assert outcome.success, outcome.failure

    with warehouse.connect(scored_warehouse) as con:
        want_signals = _rows(con, warehouse.ACCOUNT_SIGNALS, days[0], days[-1])
        want_scores = _rows(con, warehouse.ACCOUNT_SCORES, days[0], days[-1])
    with warehouse.connect(db) as con:
        got_signals = _rows(con, warehouse.ACCOUNT_SIGNALS, days[0], days[-1])
        got_scores = _rows(con, warehouse.ACCOUNT_SCORES, days[0], days[-1])
        in_duckdb = con.execute(f"SELECT count(*) FROM {warehouse.PRODUCT_EVENTS.qualified}")
        assert in_duckdb.fetchone()[0] == 0, "the events were copied into DuckDB"
        kept = dict(
            con.execute(
                f"SELECT partition_date, rows_kept FROM {warehouse.LOAD_AUDIT} "
                "WHERE source_table = 'product_events'"
            ).fetchall()
        )
        for day in days:
            folder = Path(events_day_path(str(lake), day))
            files = [str(f) for f in folder.glob("*.parquet")]
            assert (folder / LOAD_MARKER).exists() and files, f"no events of {day} in the lake"
            n = con.execute("SELECT count(*) FROM read_parquet(?)", [files]).fetchone()[0]
            assert n == kept[day] > 0
        # the per-account tables were published for the signal SQL
        assert (lake / "staging" / "accounts" / "part-0.parquet").exists()
    assert set(got_scores["as_of_date"]) == set(want_scores["as_of_date"])
    _assert_same(want_signals, got_signals, "account_signals")
    _assert_same(want_scores, got_scores, "account_scores")
    # no check failed on the lake's events (the event checks read the lake, not DuckDB)
    assert not [c for c in outcome.failed_checks if "product_events" in c], outcome.failed_checks
