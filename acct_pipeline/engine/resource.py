"""The engine as a Dagster resource: which engine runs the heavy steps, and its Spark session."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import PrivateAttr

from acct_pipeline.engine.config import ENGINES, EngineSettings, engine_settings

if TYPE_CHECKING:
    from acct_pipeline.engine.spark import SparkEngine


class EngineResource(dg.ConfigurableResource):
    """``duckdb`` (default) or ``spark``; empty fields are read from the environment when a step
    runs (``acct_pipeline.engine.config``: ``ACCT_ENGINE``, ``SPARK_REMOTE``,
    ``ACCT_SPARK_MASTER``, ``ACCT_LAKE_PATH``).

    Declared once in ``acct_pipeline/defs/resources.py`` (``from_env`` at code-location load,
    so the UI shows the engine in use); the signals, scores and product-events ingest assets
    and the product-events checks take it as the ``engine`` resource.
    """

    engine: str = ""
    spark_remote: str = ""
    spark_master: str = ""
    lake_path: str = ""
    _spark: SparkEngine | None = PrivateAttr(default=None)

    @classmethod
    def from_env(cls) -> EngineResource:
        """The resource as the environment configures it now. ``SPARK_REMOTE`` stays out of
        the resource's config (a Databricks URL carries a token; the UI shows the config): it
        is read when a step starts the session."""
        env = engine_settings()
        return cls(engine=env.engine, spark_master=env.spark_master, lake_path=env.lake_path or "")

    def settings(self) -> EngineSettings:
        env = engine_settings()
        engine = (self.engine or env.engine).strip().lower()
        if engine not in ENGINES:
            raise ValueError(f"engine {engine!r}: expected one of {', '.join(ENGINES)}")
        return EngineSettings(
            engine=engine,  # type: ignore[arg-type]
            spark_remote=self.spark_remote or env.spark_remote,
            spark_master=self.spark_master or env.spark_master,
            lake_path=self.lake_path or env.lake_path,
        )

    @property
    def is_spark(self) -> bool:
        return self.settings().is_spark

    def lake(self, warehouse_path: str) -> str:
        """The lake's path or URI: ``ACCT_LAKE_PATH``, default ``lake/`` beside the warehouse."""
        return self.settings().lake_path or str(Path(warehouse_path).parent / "lake")

    def spark_engine(self, warehouse_path: str) -> SparkEngine:
        """The Spark engine (one session per process) over ``lake(warehouse_path)``."""
        from acct_pipeline.engine.spark import SparkEngine, spark_session

        if self._spark is None:
            self._spark = SparkEngine(spark_session(self.settings()), self.lake(warehouse_path))
        return self._spark
