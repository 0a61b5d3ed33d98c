"""Ingest one raw table from its configured source into the warehouse."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

import duckdb

from acct_pipeline.connectors.loader import load_batches
from acct_pipeline.connectors.registry import source_for
from acct_pipeline.warehouse import LoadResult, TableSpec


def ingest_snapshot(con: duckdb.DuckDBPyConnection, spec: TableSpec) -> LoadResult:
    """Replace ``ingest.<table>`` with the configured source's current snapshot."""
    source = source_for(spec.name)
    return load_batches(con, spec, source.read_table(spec), source.name)


def ingest_days(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    days: Iterable[date],
    progress: Callable[[str], None] | None = None,
) -> LoadResult:
    """Replace each day's rows of a partitioned raw table, one transaction per day."""
    source = source_for(spec.name)
    total = LoadResult(table=spec.name, source=source.name)
    for day in days:
        result = load_batches(con, spec, source.read_events(spec, day), source.name, partition=day)
        total.add(result)
        if progress:
            progress(f"{spec.name} {day}: {result.rows_kept} kept, {result.rows_quarantined} quarantined")
    return total
