"""Resources, each declared once (``Definitions.merge`` refuses two instances under one key)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from acct_pipeline import warehouse
from acct_pipeline.engine.resource import EngineResource


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file (``ACCT_WAREHOUSE``, default ``data/warehouse.duckdb``).

    Open it only for the SQL of one step: DuckDB allows one writing process per file.
    """

    # The code location fills it at load (``warehouse_definitions``), so the UI shows the real
    # file; empty (a resource built by hand) means $ACCT_WAREHOUSE, read when a step opens it.
    path: str = ""

    def resolved_path(self) -> str:
        return self.path or str(warehouse.warehouse_path())

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.connect(self.resolved_path()) as con:
            yield con


def warehouse_definitions() -> dg.Definitions:
    """The warehouse and engine resources as configured, built when the code location loads
    (``acct_pipeline/definitions.py``), not when this module is imported: tests that point
    ``ACCT_WAREHOUSE`` / ``ACCT_ENGINE`` elsewhere and load the definitions again get theirs."""
    return dg.Definitions(
        resources={
            "warehouse": WarehouseResource(path=str(warehouse.warehouse_path())),
            "engine": EngineResource.from_env(),
        }
    )


defs = dg.Definitions(
    # DuckDB has one writer per file: every run executes its steps in one process.
    executor=dg.in_process_executor,
)
