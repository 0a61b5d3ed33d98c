"""A day's signals and scores on the Spark engine, with their copy in the DuckDB warehouse.

The Spark engine computes; the DuckDB warehouse keeps a copy of the day's signal and score rows
(small: one per account) so the quality checks, validation, report and sync read them as they
do with the DuckDB engine. The churn probability and the model registry stay on the driver
(``scores.store_day``), as in the DuckDB engine.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Literal

import duckdb
import pandas as pd

from acct_pipeline.scoring.registry import check_and_register
from acct_pipeline.scoring.scores import read_signals, store_day
from acct_pipeline.scoring.signals import CATEGORICAL_SIGNALS, usage_rollup_days
from acct_pipeline.warehouse import ACCOUNT_SCORES, ACCOUNT_SIGNALS, AS_OF_DATE, replace_partition

if TYPE_CHECKING:
    from acct_pipeline.engine.spark import SparkEngine
    from acct_pipeline.scoring.churn import ChurnArtifact, WalkForwardChurn
    from acct_pipeline.scoring.model import ScoringModel

_SIGNALS_FROM_SPARK = "_spark_signals_day"


def publish_inputs(engine: SparkEngine, con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Publish the signal SQL's small inputs (accounts, identity map, billing, CRM, marketing)
    from the warehouse to the engine's lake; the unchanged ones are skipped. The product events
    are in the lake already (the product-events ingest asset)."""
    from acct_pipeline.engine.lake import publish_tables

    return publish_tables(con, engine.lake, engine.spark)


def signals_day(
    engine: SparkEngine, con: duckdb.DuckDBPyConnection, as_of: date, model: ScoringModel
) -> int:
    """D's signals on Spark (into the lake), copied into ``features.account_signals``."""
    frame = engine.compute_signals(as_of, model)
    text = {"account_id", *CATEGORICAL_SIGNALS}
    cols = ",\n       ".join(
        f"CAST({c} AS DATE) AS {c}"
        if c == AS_OF_DATE
        else f"CAST({c} AS {'VARCHAR' if c in text else 'DOUBLE'}) AS {c}"
        for c in frame.columns
    )
    con.execute("SELECT 1").fetchall()
    con.register(_SIGNALS_FROM_SPARK, frame)
    try:
        select = f"SELECT {cols} FROM {_SIGNALS_FROM_SPARK} ORDER BY account_id"
        return replace_partition(con, ACCOUNT_SIGNALS, select, AS_OF_DATE, [as_of])
    finally:
        con.unregister(_SIGNALS_FROM_SPARK)


def signals_for_days(
    engine: SparkEngine,
    con: duckdb.DuckDBPyConnection,
    days: list[date],
    model: ScoringModel,
    progress: Callable[[str], None] | None = None,
) -> tuple[int, int]:
    """``signals_day`` for each day in date order; returns (rows, rollup days rebuilt), as
    ``scoring.signals.compute_signals_for_days`` does on DuckDB: the lake's usage rollups of the
    whole range are brought in step first (usually D's new day only), then each day reads them."""
    ordered = sorted(days)
    if not ordered:
        return 0, 0
    first = ordered[0] - timedelta(days=usage_rollup_days(model.signal_params()) - 1)
    rebuilt = engine.refresh_usage_rollups(first, ordered[-1])
    rows = 0
    for i, day in enumerate(ordered, 1):
        rows += signals_day(engine, con, day, model)
        if progress is not None and len(ordered) > 1 and (i % 30 == 0 or i == len(ordered)):
            progress(f"signals: {i}/{len(ordered)} days, {rows:,} rows")
    return rows, len(rebuilt)


def score_day(
    engine: SparkEngine,
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    model: ScoringModel,
    churn: WalkForwardChurn | ChurnArtifact | Literal["auto"] | None = "auto",
) -> int:
    """D's scores: ``score_frame`` on Spark per account bucket, the churn probability and the
    registry on the driver; written to ``scores.account_scores`` and to the lake."""
    check_and_register(con, model, as_of)
    frame = engine.score_frame(as_of, model)
    signals = read_signals(con, as_of)
    # row for row with the signals, as ``store_day`` expects
    frame = signals[["account_id"]].merge(frame, on="account_id", how="left", validate="1:1")
    if frame["as_of_date"].isna().any():
        raise RuntimeError(f"{as_of}: the Spark scores and the warehouse's signals differ")
    rows = store_day(con, as_of, model, signals, frame, churn)
    stored = con.execute(
        f"SELECT * FROM {ACCOUNT_SCORES} WHERE {AS_OF_DATE} = ? ORDER BY account_id", [as_of]
    ).df()
    stored[AS_OF_DATE] = pd.to_datetime(stored[AS_OF_DATE]).dt.date
    engine.write_scores(stored, as_of, model)
    return rows
