"""The Spark engine gives the DuckDB engine's signals and scores, column for column.

The shared test warehouse (150 accounts × 40 days, scored by the Dagster job on DuckDB) is
exported to a lake; the last days are then recomputed on Spark (signals from the lake's events,
scores per account bucket from the lake's score history, which the Spark days extend) and
compared with what DuckDB wrote: numbers within 1e-9, the same tiers, reasons and playbooks.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from acct_pipeline import warehouse

pytestmark = pytest.mark.spark

SPARK_DAYS = 3  # the last days of the sample, scored in order on Spark


def _rows(con, table: str, first, last) -> pd.DataFrame:  # noqa: ANN001
    df = con.execute(
        f"SELECT * FROM {table} WHERE as_of_date BETWEEN ? AND ? ORDER BY as_of_date, account_id",
        [first, last],
    ).df()
    return df.reset_index(drop=True)


def _assert_same(expected: pd.DataFrame, got: pd.DataFrame, what: str) -> None:
    assert list(got.columns) == list(expected.columns), what
    assert len(got) == len(expected) > 0, what
    assert got["account_id"].tolist() == expected["account_id"].tolist(), what
    for col in expected.columns:
        e, g = expected[col], got[col]
        if pd.api.types.is_float_dtype(e) or pd.api.types.is_float_dtype(g):
            ev = e.to_numpy(dtype=float, na_value=np.nan)
            gv = g.to_numpy(dtype=float, na_value=np.nan)
            assert np.array_equal(np.isnan(ev), np.isnan(gv)), f"{what}.{col}: NULLs differ"
            ok = np.isnan(ev) | (np.abs(ev - gv) <= 1e-9 * np.maximum(1.0, np.abs(ev)))
            bad = np.nonzero(~ok)[0]
            assert not len(bad), (
                f"{what}.{col} differs on {len(bad)} rows, e.g. {ev[bad[:3]]} vs {gv[bad[:3]]}"
            )
        else:
            ev = [list(v) if isinstance(v, list | np.ndarray) else v for v in e]
            gv = [list(v) if isinstance(v, list | np.ndarray) else v for v in g]
            # NULL is NULL whichever way pandas spells it (None, NaN, NaT, pd.NA)
            ev = [None if not isinstance(v, list) and pd.isna(v) else v for v in ev]
            gv = [None if not isinstance(v, list) and pd.isna(v) else v for v in gv]
            diff = [i for i, (a, b) in enumerate(zip(ev, gv, strict=True)) if a != b]
            assert not diff, f"{what}.{col} differs on {len(diff)} rows, e.g. row {diff[0]}"


def test_spark_engine_equals_duckdb(scored_warehouse: Path, tmp_path: Path, spark) -> None:  # noqa: ANN001
    from acct_pipeline.engine.days import score_day, signals_day
    from acct_pipeline.engine.lake import export_to_lake
    from acct_pipeline.engine.spark import SparkEngine
    from acct_pipeline.scoring.churn import WalkForwardChurn
    from acct_pipeline.scoring.model import load_model
    from acct_pipeline.scoring.rollup import compute_rollups
    from acct_pipeline.scoring.tiers import band_index, tier_index

    start, end = _period(scored_warehouse)
    days = [end - timedelta(days=k) for k in reversed(range(SPARK_DAYS))]
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(scored_warehouse, db)
    models = scored_warehouse.parent / "models"
    if models.exists():
        shutil.copytree(models, tmp_path / "models")
    lake = tmp_path / "lake"
    model = load_model()
    with warehouse.connect(db) as con:
        copied = export_to_lake(con, lake, results_before=days[0])
        assert copied["ingest.product_events"] > 0
        want_signals = _rows(con, warehouse.ACCOUNT_SIGNALS, days[0], days[-1])
        want_scores = _rows(con, warehouse.ACCOUNT_SCORES, days[0], days[-1])
        for table in (warehouse.ACCOUNT_SIGNALS, warehouse.ACCOUNT_SCORES):
            con.execute(f"DELETE FROM {table} WHERE as_of_date >= ?", [days[0]])
        engine = SparkEngine(spark, str(lake), buckets=4)
        churn = WalkForwardChurn(model, tmp_path / "models")
        for day in days:
            assert signals_day(engine, con, day, model) > 0
            assert score_day(engine, con, day, model, churn=churn) > 0
            # the roll-up asset runs after the scores on either engine (on the day's rows)
            compute_rollups(con, day, model)
        got_signals = _rows(con, warehouse.ACCOUNT_SIGNALS, days[0], days[-1])
        got_scores = _rows(con, warehouse.ACCOUNT_SCORES, days[0], days[-1])
    _assert_same(want_signals, got_signals, "account_signals")
    _assert_same(want_scores, got_scores, "account_scores")
    # the days compared are hysteresis days: some account kept a tier its score alone would
    # have changed (the previous tier mattered), and the Spark engine kept it too
    scored = want_scores[want_scores["health_score"].notna()]
    by_band = band_index(scored["health_score"].to_numpy(dtype=float), model.tiers)
    held = tier_index(scored["tier"], model.tiers) != by_band
    assert held.any(), "no hysteresis day among the days compared"
    assert start < days[0]


def _period(db: Path):  # noqa: ANN202
    with warehouse.connect(db) as con:
        lo, hi = con.execute(
            f"SELECT min(as_of_date), max(as_of_date) FROM {warehouse.ACCOUNT_SCORES}"
        ).fetchone()
    return lo, hi
