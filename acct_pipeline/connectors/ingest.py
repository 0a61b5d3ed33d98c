"""Ingest one raw table from its configured source into the warehouse."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

import duckdb

from acct_pipeline.connectors.files import FilesSource
from acct_pipeline.connectors.loader import load_batches, load_partitions
from acct_pipeline.connectors.registry import source_for
from acct_pipeline.warehouse import LoadResult, TableSpec


def ingest_snapshot(con: duckdb.DuckDBPyConnection, spec: TableSpec) -> LoadResult:
    """Replace ``ingest.<table>`` with the configured source's current snapshot.

    A landing file the contract marks optional (``TableSpec.optional_file``) that is missing
    leaves the table as it was (empty on a first load) and says so in ``LoadResult.notes``.
    """
    source = source_for(spec.name)
    if spec.optional_file and isinstance(source, FilesSource):
        path = source.path_for(spec)
        if not path.exists():
            return LoadResult(
                table=spec.name,
                source=source.name,
                notes=[f"{path}: no such file; {spec.name} is optional, the table is unchanged"],
            )
    return load_batches(con, spec, source.read_table(spec), source.name)


# A backfill loads its days in chunks: one transaction per chunk pays the per-transaction cost
# once per chunk instead of once per day. The chunk is sized by rows, not days: its staging
# tables (every column as text, then classified and de-duplicated) are held in memory, so 15
# days of 100k accounts' events (8.7 M rows) took a 90-day backfill to 6.5 GB. The first chunk
# is one day; its row count sets how many days the next chunk takes.
ROWS_PER_TRANSACTION = 2_000_000
MAX_DAYS_PER_TRANSACTION = 15


def ingest_days(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    days: Iterable[date],
    progress: Callable[[str], None] | None = None,
) -> LoadResult:
    """Replace each day's rows of a partitioned raw table (days loaded in chunks, atomically).

    A chunk holds about ``ROWS_PER_TRANSACTION`` rows (at most ``MAX_DAYS_PER_TRANSACTION``
    days), judged from the days loaded so far.
    """
    source = source_for(spec.name)
    total = LoadResult(table=spec.name, source=source.name)
    ordered = sorted(days)
    i, per_chunk = 0, 1
    while i < len(ordered):
        chunk = ordered[i : i + per_chunk]
        result = load_partitions(
            con, spec, [(d, source.read_events(spec, d)) for d in chunk], source.name
        )
        total.add(result)
        i += len(chunk)
        rows_per_day = max(total.rows_in / i, 1.0)
        per_chunk = int(min(MAX_DAYS_PER_TRANSACTION, max(1, ROWS_PER_TRANSACTION // rows_per_day)))
        if progress:
            progress(
                f"{spec.name} {chunk[0]}..{chunk[-1]}: {result.rows_kept:,} kept, "
                f"{result.rows_quarantined:,} quarantined"
            )
    return total
