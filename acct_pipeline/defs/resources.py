"""Resources, each declared once (``Definitions.merge`` refuses two instances under one key)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from acct_pipeline import warehouse


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file (``ACCT_WAREHOUSE``, default ``data/warehouse.duckdb``).

    Open it only for the SQL of one step: DuckDB allows one writing process per file.
    """

    path: str = ""  # empty: $ACCT_WAREHOUSE, read when a step opens the file

    def resolved_path(self) -> str:
        return self.path or str(warehouse.warehouse_path())

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.connect(self.resolved_path()) as con:
            yield con


defs = dg.Definitions(
    resources={"warehouse": WarehouseResource()},
    # DuckDB has one writer per file: every run executes its steps in one process.
    executor=dg.in_process_executor,
)
