"""The Spark engine: usage rollups, signals and scores of a day on a Spark session.

Reads the lake (``acct_pipeline.engine.lake``): the signal SQL's input tables as Parquet, the
product events partitioned by ``event_date`` (only the days of D's window are read). Runs the
same SQL as the DuckDB engine, transpiled (``acct_pipeline.engine.sql``), and scores with the
same pure function (``scoring.scores.score_frame``), per bucket of accounts
(``applyInPandas`` grouped by a hash of the account id): one implementation of the model.

The day's signal and score rows are written to the lake (a folder per day, the score history
of the next days) and returned as pandas frames: the DuckDB warehouse keeps a copy for the
quality checks, validation, report and sync.
"""

from __future__ import annotations

import sys
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from acct_pipeline.engine.config import EngineSettings
from acct_pipeline.engine.lake import (
    RESULT_TABLES,
    SOURCE_TABLES,
    partition_path,
    table_path,
)
from acct_pipeline.engine.sql import to_spark_sql, view_name
from acct_pipeline.scoring.signals import (
    USAGE_WINDOW_DAYS,
    SignalParams,
    signal_sql_params,
    signals_sql,
    usage_rollup_days,
)
from acct_pipeline.scoring.usage import DAYS_PER_PASS, FEATURES_SELECT, USAGE_SELECT
from acct_pipeline.settings import python_for_workers
from acct_pipeline.warehouse import (
    ACCOUNT_SCORES,
    ACCOUNT_SIGNALS,
    EVENT_DATE,
    PRODUCT_EVENTS,
    PRODUCT_FEATURES_DAILY,
    PRODUCT_USAGE_DAILY,
    USAGE_ROLLUP_STATE,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from acct_pipeline.scoring.model import ScoringModel

DEFAULT_BUCKETS = 64  # account hash buckets scored per pandas call (applyInPandas groups)

_ROLLUP_SCHEMAS = {
    PRODUCT_USAGE_DAILY: "event_date DATE, visible_from DATE, gh BIGINT, uh BIGINT, events INT",
    PRODUCT_FEATURES_DAILY: "event_date DATE, visible_from DATE, gh BIGINT, nh BIGINT",
}
ROLLUP_TABLES = tuple(_ROLLUP_SCHEMAS)
_HASH_PROBE = "acct_pipeline usage rollup probe"
_EVENTS_VIEW = view_name(*PRODUCT_EVENTS.qualified.split(".", 1))


def spark_session(settings: EngineSettings, conf: dict[str, str] | None = None) -> SparkSession:
    """The session ``settings`` name: Spark Connect when ``SPARK_REMOTE`` is set, else a classic
    session on ``ACCT_SPARK_MASTER`` (``local[*]``). Times are read and compared in UTC."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("acct_pipeline")
    if settings.spark_remote:
        builder = builder.remote(settings.spark_remote)
    else:
        # the Python workers of a local session run this interpreter (PySpark reads the
        # variable when it starts the JVM; a cluster's workers run their own Python)
        python_for_workers(sys.executable)
        builder = builder.master(settings.spark_master).config("spark.ui.enabled", "false")
    builder = builder.config("spark.sql.session.timeZone", "UTC")
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _read_parquet(spark: SparkSession, path: str, schema: str | None = None) -> DataFrame | None:
    from pyspark.errors import AnalysisException

    try:
        reader = spark.read if schema is None else spark.read.schema(schema)
        return reader.parquet(path)
    except AnalysisException:  # no such folder (yet), or no files in it
        return None


class SparkEngine:
    """The heavy steps of a day on one Spark session over one lake."""

    def __init__(self, spark: SparkSession, lake: str, buckets: int = DEFAULT_BUCKETS) -> None:
        self.spark = spark
        self.lake = lake.rstrip("/")
        self.buckets = buckets

    # ------------------------------------------------------------------ reading the lake
    def register_views(self) -> list[str]:
        """A temporary view over each lake table (``schema__table``); returns the tables found."""
        found = []
        for qualified in [*SOURCE_TABLES, *RESULT_TABLES]:
            df = _read_parquet(self.spark, table_path(self.lake, qualified))
            if df is not None:
                df.createOrReplaceTempView(view_name(*qualified.split(".", 1)))
                found.append(qualified)
        return found

    def _sql(self, duckdb_sql: str, params: dict[str, Any]) -> DataFrame:
        return self.spark.sql(to_spark_sql(duckdb_sql, params))

    # ------------------------------------------------------------------ usage rollups
    def usage_rollups(self, as_of: date, window_days: int = USAGE_WINDOW_DAYS) -> list[date]:
        """The daily usage rollups of D's window, as the views the signal SQL reads.

        The rollups are kept in the lake (``features.product_usage_daily`` and
        ``features.product_features_daily``, a folder per ``event_date``); only the days that are
        missing or out of step with the raw events are computed (``refresh_usage_rollups``), then
        the views read the stored days of the window. Returns the days computed."""
        first = as_of - timedelta(days=window_days - 1)
        built = self.refresh_usage_rollups(first, as_of)
        have_events = self.spark.catalog.tableExists(_EVENTS_VIEW)
        for table in ROLLUP_TABLES:
            stored = self._stored_rollups(table) if have_events else None
            if stored is None:  # no product source (or nothing rolled up): empty views
                stored = self.spark.createDataFrame([], _ROLLUP_SCHEMAS[table])
            else:
                stored = stored.where(f"{EVENT_DATE} BETWEEN DATE'{first}' AND DATE'{as_of}'")
            stored.createOrReplaceTempView(view_name(*table.split(".", 1)))
        return built

    def refresh_usage_rollups(self, first: date, last: date) -> list[date]:
        """Bring the lake's rollups of ``first..last`` in step with the raw events; returns the
        days rebuilt.

        The DuckDB engine's rule (``scoring.usage``): a day is rebuilt when its number of raw
        events differs from the events its usage rollup holds (a new day, a late event filed
        under an earlier day, a re-ingested day, a rollup never built); a day whose events are
        all gone gets empty rollups. A stored hash probe that no longer matches Spark's
        ``xxhash64`` clears every rollup. Without ``ingest.product_events`` nothing is built.
        """
        self.register_views()
        if not self.spark.catalog.tableExists(_EVENTS_VIEW):
            return []
        self._check_hash_probe()
        days = self.stale_rollup_days(first, last)
        self.rebuild_rollup_days(days)
        return days

    def stale_rollup_days(self, first: date, last: date) -> list[date]:
        """Days in ``first..last`` whose stored usage rollup does not hold exactly the day's raw
        events (``scoring.usage.stale_days``, on the lake)."""
        from pyspark.sql import functions as F

        window = F.col(EVENT_DATE).between(F.lit(first), F.lit(last))
        raw = (
            self.spark.table(_EVENTS_VIEW)
            .where(window)
            .groupBy(EVENT_DATE)
            .agg(F.count(F.lit(1)).alias("raw_n"))
        )
        stored = self._stored_rollups(PRODUCT_USAGE_DAILY)
        if stored is None:
            stored = self.spark.createDataFrame([], _ROLLUP_SCHEMAS[PRODUCT_USAGE_DAILY])
        rolled = stored.where(window).groupBy(EVENT_DATE).agg(F.sum("events").alias("rolled_n"))
        stale = (
            raw.join(rolled, on=EVENT_DATE, how="full")
            .where(~F.col("raw_n").eqNullSafe(F.col("rolled_n")))
            .select(EVENT_DATE)
        )
        return sorted(row[0] for row in stale.collect())

    def rebuild_rollup_days(self, days: list[date]) -> None:
        """Replace the lake's rollups of ``days`` from the raw events, in passes of
        ``DAYS_PER_PASS`` days (one scan of the events per pass; each day's folder is replaced,
        the other days' are left as they are).

        The features rollup is written before the usage rollup: the usage rollup's event counts
        are what ``stale_rollup_days`` checks, so a pass that fails half-way leaves its days
        stale, and the next run builds them again."""
        from pyspark.sql import functions as F

        events = self.spark.table(_EVENTS_VIEW)
        ordered = sorted(days)
        for i in range(0, len(ordered), DAYS_PER_PASS):
            chunk = ordered[i : i + DAYS_PER_PASS]
            # the days of the pass that still have events (the partition column only: no data
            # pages are read); the others get empty rollups
            present = events.where(F.col(EVENT_DATE).isin(chunk)).select(EVENT_DATE).distinct()
            gone = set(chunk) - {row[0] for row in present.collect()}
            for table, select in (
                (PRODUCT_FEATURES_DAILY, FEATURES_SELECT),
                (PRODUCT_USAGE_DAILY, USAGE_SELECT),
            ):
                if gone:
                    empty = self.spark.createDataFrame([], _ROLLUP_SCHEMAS[table])
                    for day in sorted(gone):
                        path = partition_path(self.lake, table, EVENT_DATE, day)
                        empty.drop(EVENT_DATE).write.mode("overwrite").parquet(path)
                if gone == set(chunk):
                    continue
                # dynamic overwrite: only the folders of the days written are replaced
                (
                    self._sql(select, {"days": chunk})
                    .write.mode("overwrite")
                    .option("partitionOverwriteMode", "dynamic")
                    .partitionBy(EVENT_DATE)
                    .parquet(table_path(self.lake, table))
                )

    def _stored_rollups(self, table: str) -> DataFrame | None:
        """The lake's rollup ``table`` (columns in the rollup's order), None before any is built."""
        schema = _ROLLUP_SCHEMAS[table]
        df = _read_parquet(self.spark, table_path(self.lake, table), schema)
        if df is None:
            return None
        return df.select(*[field.split(" ", 1)[0] for field in schema.split(", ")])

    def _check_hash_probe(self) -> None:
        """Clear the lake's rollups when they were hashed by another hash function than this
        session's ``xxhash64`` (or when no probe was stored with them), as the DuckDB engine
        does for ``hash()``."""
        probe = self.spark.sql(f"SELECT xxhash64('{_HASH_PROBE}') AS hash_probe")
        state_path = table_path(self.lake, USAGE_ROLLUP_STATE)
        state = _read_parquet(self.spark, state_path, "hash_probe BIGINT")
        want = probe.collect()[0][0]
        if state is not None and [r[0] for r in state.collect()] == [want]:
            return
        for table in ROLLUP_TABLES:
            empty = self.spark.createDataFrame([], _ROLLUP_SCHEMAS[table])
            empty.write.mode("overwrite").partitionBy(EVENT_DATE).parquet(
                table_path(self.lake, table)
            )
        probe.write.mode("overwrite").parquet(state_path)

    # ------------------------------------------------------------------ signals
    def signals(self, as_of: date, params: SignalParams) -> DataFrame:
        """D's signals (lazy): the signal SQL, transpiled, over the lake (the views of the lake's
        tables are registered by ``usage_rollups``)."""
        self.usage_rollups(as_of, usage_rollup_days(params))
        return self._sql(signals_sql(), signal_sql_params(as_of, params))

    def compute_signals(self, as_of: date, model: ScoringModel) -> pd.DataFrame:
        """Compute D's signals, write them to the lake's day folder and return them."""
        df = self.signals(as_of, model.signal_params())
        self._write_day(df, ACCOUNT_SIGNALS, as_of)
        return self.read_day(ACCOUNT_SIGNALS, as_of)

    # ------------------------------------------------------------------ scores
    def score_frame(self, as_of: date, model: ScoringModel) -> pd.DataFrame:
        """D's score rows, before the churn probability (``scores.score_frame`` per bucket),
        from D's signals and the score history in the lake."""
        from pyspark.sql import functions as F

        from acct_pipeline.scoring.scores import HISTORY_COLUMNS, history_sql_params

        self.register_views()
        signals = _read_parquet(
            self.spark, partition_path(self.lake, ACCOUNT_SIGNALS, "as_of_date", as_of)
        )
        if signals is None:
            raise FileNotFoundError(f"no signals in the lake for {as_of}: compute them first")
        signals = signals.withColumn("as_of_date", F.lit(as_of))
        sig_cols = signals.columns
        if self.spark.catalog.tableExists(view_name("scores", "account_scores")):
            from acct_pipeline.scoring.scores import history_sql

            history = self._sql(history_sql(), history_sql_params(as_of, model))
        else:
            history = self.spark.createDataFrame(
                [],
                "account_id STRING, previous_tier STRING, score_7d_ago DOUBLE, "
                "score_30d_ago DOUBLE, recent_n BIGINT, recent_min DOUBLE, recent_max DOUBLE, "
                "trend_n BIGINT, trend_sx DOUBLE, trend_sy DOUBLE, trend_sxy DOUBLE, "
                "trend_sxx DOUBLE",
            )
        joined = signals.join(history, on="account_id", how="left").withColumn(
            "_bucket", F.pmod(F.xxhash64("account_id"), F.lit(self.buckets))
        )
        schema = score_schema(model)
        score_cols = [f.split(" ", 1)[0] for f in schema.split(", ")]
        hist_cols = list(HISTORY_COLUMNS)

        def score_bucket(pdf: pd.DataFrame) -> pd.DataFrame:
            from acct_pipeline.scoring.scores import score_frame

            sig = pdf[sig_cols].sort_values("account_id").reset_index(drop=True)
            hist = pdf[["account_id", *hist_cols]]
            hist = hist[hist[hist_cols].notna().any(axis=1)]
            frame, _ = score_frame(sig, hist, model, as_of)
            frame["reason_codes"] = frame["reason_codes"].array._pa_array.to_pylist()
            return frame[score_cols]

        scored = joined.groupBy("_bucket").applyInPandas(score_bucket, schema=schema)
        out = scored.toPandas().sort_values("account_id", kind="stable").reset_index(drop=True)
        out["reason_codes"] = _list_series(out["reason_codes"])
        return out

    def write_scores(self, frame: pd.DataFrame, as_of: date, model: ScoringModel) -> None:
        """D's final score rows (with the churn probability) into the lake's day folder."""
        from acct_pipeline.scoring.scores import SCORE_COLUMNS, points_columns

        # the model's columns only: override_* / rollup_* stay in the warehouse
        frame = frame[[*SCORE_COLUMNS, *points_columns(model)]]
        df = self.spark.createDataFrame(_plain(frame), schema=score_schema(model))
        self._write_day(df, ACCOUNT_SCORES, as_of)

    # ------------------------------------------------------------------ day folders
    def _write_day(self, df: DataFrame, qualified: str, as_of: date) -> None:
        path = partition_path(self.lake, qualified, "as_of_date", as_of)
        df.drop("as_of_date").write.mode("overwrite").parquet(path)

    def read_day(self, qualified: str, as_of: date) -> pd.DataFrame:
        df = self.spark.read.parquet(partition_path(self.lake, qualified, "as_of_date", as_of))
        out = df.toPandas()
        out.insert(1, "as_of_date", as_of)
        return out.sort_values("account_id", kind="stable").reset_index(drop=True)


def score_schema(model: ScoringModel) -> str:
    """The Spark schema (DDL) of ``scores.account_scores`` for ``model``."""
    from acct_pipeline.scoring.scores import SCORE_COLUMNS, points_columns

    types = {
        "account_id": "STRING",
        "as_of_date": "DATE",
        "tier": "STRING",
        "previous_tier": "STRING",
        "trend": "STRING",
        "reason_codes": "ARRAY<STRING>",
        "recommended_playbook": "STRING",
        "model_version": "STRING",
        "lifecycle_status": "STRING",
        "churn_model_version": "STRING",
        "churn_note": "STRING",
    }
    cols = [*SCORE_COLUMNS, *points_columns(model)]
    return ", ".join(f"{c} {types.get(c, 'DOUBLE')}" for c in cols)


def _list_series(col: pd.Series) -> pd.Series:
    """Lists of strings as an Arrow-backed column (as ``scores.score_frame`` makes them)."""
    values = [None if v is None else [str(x) for x in v] for v in col]
    return pd.Series(
        pd.arrays.ArrowExtensionArray(pa.array(values, type=pa.list_(pa.string()))),
        index=col.index,
    )


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the list column as Python lists (what ``createDataFrame`` takes)."""
    out = frame.copy()
    col = out["reason_codes"]
    if hasattr(col.array, "_pa_array"):
        out["reason_codes"] = col.array._pa_array.to_pylist()
    else:
        out["reason_codes"] = [None if v is None else list(v) for v in col]
    return out
