"""Which engine runs the heavy steps, read from the environment in ONE place.

``ACCT_ENGINE``        ``duckdb`` (default: the embedded warehouse) or ``spark``;
``SPARK_REMOTE``       a Spark Connect URL (``sc://host:15002``, Databricks); when set it wins
                       over the master URL;
``ACCT_SPARK_MASTER``  the master URL of a classic session (default ``local[*]``);
``ACCT_LAKE_PATH``     the folder or object-store URI the Spark engine reads and writes its tables
                       under (default: ``lake`` beside the DuckDB warehouse file).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from acct_pipeline import settings

ENGINES = ("duckdb", "spark")
DEFAULT_MASTER = "local[*]"


@dataclass(frozen=True)
class EngineSettings:
    engine: Literal["duckdb", "spark"] = "duckdb"
    spark_remote: str | None = None
    spark_master: str = DEFAULT_MASTER
    lake_path: str | None = None

    @property
    def is_spark(self) -> bool:
        return self.engine == "spark"


def engine_settings(env: Mapping[str, str] | None = None) -> EngineSettings:
    """The engine settings from ``env`` (default: the process environment, through settings)."""
    values = settings.load(settings.EngineVars, env)
    return EngineSettings(
        engine=values.engine,
        spark_remote=values.spark_remote,
        spark_master=values.spark_master,
        lake_path=values.lake_path,
    )
