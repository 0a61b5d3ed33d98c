"""Which engine runs the heavy steps, read from the environment in ONE place.

``ACCT_ENGINE``        ``duckdb`` (default: the embedded warehouse) or ``spark``;
``SPARK_REMOTE``       a Spark Connect URL (``sc://host:15002``, Databricks); when set it wins
                       over the master URL;
``ACCT_SPARK_MASTER``  the master URL of a classic session (default ``local[*]``);
``ACCT_LAKE_PATH``     the folder or object-store URI the Spark engine reads and writes its tables
                       under (default: ``lake`` beside the DuckDB warehouse file).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

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
    """The engine settings from ``env`` (default: the process environment)."""
    env = os.environ if env is None else env
    engine = (env.get("ACCT_ENGINE") or "duckdb").strip().lower()
    if engine not in ENGINES:
        raise ValueError(f"ACCT_ENGINE must be one of {', '.join(ENGINES)}, not {engine!r}")
    return EngineSettings(
        engine=engine,  # type: ignore[arg-type]
        spark_remote=env.get("SPARK_REMOTE") or None,
        spark_master=env.get("ACCT_SPARK_MASTER") or DEFAULT_MASTER,
        lake_path=env.get("ACCT_LAKE_PATH") or None,
    )
