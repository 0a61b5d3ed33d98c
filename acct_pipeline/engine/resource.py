"""The engine as a Dagster resource: which engine runs the heavy steps, and its Spark session."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import PrivateAttr

from acct_pipeline.engine.config import EngineSettings, engine_settings

if TYPE_CHECKING:
    from acct_pipeline.engine.spark import SparkEngine


class EngineResource(dg.ConfigurableResource):
    """``duckdb`` (default) or ``spark``; empty fields are read from the environment when a step
    runs (``acct_pipeline.engine.config``: ``ACCT_ENGINE``, ``SPARK_REMOTE``,
    ``ACCT_SPARK_MASTER``, ``ACCT_LAKE_PATH``)."""

    engine: str = ""
    spark_remote: str = ""
    spark_master: str = ""
    lake_path: str = ""
    _spark: SparkEngine | None = PrivateAttr(default=None)

    def settings(self) -> EngineSettings:
        env = engine_settings()
        return EngineSettings(
            engine=(self.engine or env.engine),  # type: ignore[arg-type]
            spark_remote=self.spark_remote or env.spark_remote,
            spark_master=self.spark_master or env.spark_master,
            lake_path=self.lake_path or env.lake_path,
        )

    @property
    def is_spark(self) -> bool:
        return self.settings().is_spark

    def spark_engine(self, warehouse_path: str) -> SparkEngine:
        """The Spark engine (one session per process); the lake defaults to ``lake/`` beside
        the warehouse file."""
        from acct_pipeline.engine.spark import SparkEngine, spark_session

        if self._spark is None:
            settings = self.settings()
            lake = settings.lake_path or str(Path(warehouse_path).parent / "lake")
            self._spark = SparkEngine(spark_session(settings), lake)
        return self._spark
