"""Ingest one raw table from its configured source into the warehouse."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

import duckdb

from acct_pipeline.connectors.loader import load_batches, load_partitions
from acct_pipeline.connectors.registry import source_for
from acct_pipeline.warehouse import LoadResult, TableSpec


def ingest_snapshot(con: duckdb.DuckDBPyConnection, spec: TableSpec) -> LoadResult:
    """Replace ``ingest.<table>`` with the configured source's current snapshot."""
    source = source_for(spec.name)
    return load_batches(con, spec, source.read_table(spec), source.name)


# A backfill loads its days in chunks: one transaction per chunk keeps the temporary staging
# bounded while paying the per-transaction cost once per chunk instead of once per day.
DAYS_PER_TRANSACTION = 15


def ingest_days(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    days: Iterable[date],
    progress: Callable[[str], None] | None = None,
) -> LoadResult:
    """Replace each day's rows of a partitioned raw table (days loaded in chunks, atomically)."""
    source = source_for(spec.name)
    total = LoadResult(table=spec.name, source=source.name)
    ordered = sorted(days)
    for i in range(0, len(ordered), DAYS_PER_TRANSACTION):
        chunk = ordered[i : i + DAYS_PER_TRANSACTION]
        result = load_partitions(
            con, spec, [(d, source.read_events(spec, d)) for d in chunk], source.name
        )
        total.add(result)
        if progress:
            progress(
                f"{spec.name} {chunk[0]}..{chunk[-1]}: {result.rows_kept:,} kept, "
                f"{result.rows_quarantined:,} quarantined"
            )
    return total
