"""The engine settings and the DuckDB → Spark SQL transpilation (no Spark session needed)."""

from __future__ import annotations

from datetime import date

import pytest

from acct_pipeline.engine.config import engine_settings


def test_default_engine_is_duckdb() -> None:
    s = engine_settings({})
    assert (s.engine, s.is_spark, s.spark_master, s.spark_remote) == (
        "duckdb",
        False,
        "local[*]",
        None,
    )


def test_spark_settings_from_the_environment() -> None:
    s = engine_settings(
        {"ACCT_ENGINE": "Spark", "SPARK_REMOTE": "sc://h:15002", "ACCT_LAKE_PATH": "s3a://b/l"}
    )
    assert s.is_spark and s.spark_remote == "sc://h:15002" and s.lake_path == "s3a://b/l"


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="ACCT_ENGINE"):
        engine_settings({"ACCT_ENGINE": "snowflake"})


def test_transpiled_sql_keeps_duckdb_semantics() -> None:
    pytest.importorskip("sqlglot")
    from acct_pipeline.engine.sql import to_spark_sql

    sql = to_spark_sql(
        "SELECT hash(x) AS h, a / 7.0 AS r, to_days(k) AS i FROM ingest.product_events "
        "WHERE event_date IN (SELECT unnest(CAST($days AS DATE[]))) AND y = $name",
        {"days": [date(2026, 1, 1)], "name": "o'k"},
    )
    assert "XXHASH64(x)" in sql  # 64-bit, as DuckDB's hash (Spark's HASH is 32-bit)
    assert "CAST(a AS DOUBLE) / CAST(7.0 AS DOUBLE)" in sql  # no DECIMAL division
    assert "MAKE_DT_INTERVAL(k)" in sql
    assert "FROM ingest__product_events" in sql
    assert "event_date IN (CAST('2026-01-01' AS DATE))" in sql  # a plain list: pruning
    assert "'o\\'k'" in sql or "'o''k'" in sql


def test_every_parameter_needs_a_value() -> None:
    pytest.importorskip("sqlglot")
    from acct_pipeline.engine.sql import to_spark_sql

    with pytest.raises(KeyError, match=r"\$as_of"):
        to_spark_sql("SELECT CAST($as_of AS DATE)", {})


def test_signal_sql_transpiles_without_duckdb_only_functions() -> None:
    pytest.importorskip("sqlglot")
    from acct_pipeline.engine.sql import to_spark_sql
    from acct_pipeline.scoring.signals import SignalParams, signal_sql_params, signals_sql

    sql = to_spark_sql(signals_sql(), signal_sql_params(date(2026, 1, 1), SignalParams()))
    for duck_only in ("TO_DAYS", "LIST_EXTRACT", "UBIGINT", "MATERIALIZED", " HASH(", "$"):
        assert duck_only not in sql
