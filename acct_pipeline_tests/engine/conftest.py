"""One local Spark session for every Spark test of a test process (``local[2]``, no UI)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    pytest.importorskip("pyspark", reason="the spark extra is not installed")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java 17 (openjdk-17-jre-headless)")
    from acct_pipeline.engine.config import EngineSettings
    from acct_pipeline.engine.spark import spark_session

    session = spark_session(
        EngineSettings(engine="spark", spark_master="local[2]"),
        conf={
            # a 150-account sample: the cost is per query and per stage, not per row, so one
            # shuffle partition, no whole-stage code generation and no adaptive re-planning
            # (measured: ~4x faster per day than the defaults)
            "spark.sql.shuffle.partitions": "1",
            "spark.sql.codegen.wholeStage": "false",
            "spark.sql.adaptive.enabled": "false",
            "spark.default.parallelism": "2",
            "spark.driver.memory": "1g",
            "spark.sql.execution.arrow.pyspark.enabled": "true",
            "spark.ui.showConsoleProgress": "false",
        },
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
