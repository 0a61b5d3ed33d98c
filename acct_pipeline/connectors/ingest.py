"""Ingest one raw table from its configured source into the warehouse."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import TYPE_CHECKING

import duckdb

from acct_pipeline.connectors.base import Source
from acct_pipeline.connectors.files import FilesSource
from acct_pipeline.connectors.loader import load_batches, load_partitions
from acct_pipeline.connectors.registry import source_for
from acct_pipeline.engine.lake import events_day_path, is_local, lake_day_rows, write_events_day
from acct_pipeline.warehouse import (
    EVENT_DATE,
    LOAD_AUDIT,
    QUARANTINE,
    LoadResult,
    TableSpec,
    ensure_core_tables,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


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


_LAKE_ROWS = "_lake_rows"  # the kept rows of a chunk, on their way to the lake


def ingest_days(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    days: Iterable[date],
    progress: Callable[[str], None] | None = None,
    lake: str | None = None,
    spark: SparkSession | None = None,
) -> LoadResult:
    """Replace each day's rows of a partitioned raw table (days loaded in chunks, atomically).

    A chunk holds about ``ROWS_PER_TRANSACTION`` rows (at most ``MAX_DAYS_PER_TRANSACTION``
    days), judged from the days loaded so far.

    With ``lake`` (the Spark engine; product events only): the kept rows go to the lake's day
    folders, not to ``ingest.<table>``, and a day the lake already holds from elsewhere (the
    product's event pipeline) is not read at all: its rows are counted and recorded as loaded
    (``acct_pipeline.engine.lake``). The quarantine and the load audit stay in DuckDB.
    """
    source = source_for(spec.name)
    total = LoadResult(table=spec.name, source=source.name)
    ordered = sorted(days)
    if lake is not None:
        ensure_core_tables(con)
        ordered = _days_not_in_lake(con, spec, ordered, lake, spark, total, progress)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {_LAKE_ROWS} AS FROM {spec.qualified} LIMIT 0")
    try:
        _ingest_chunks(con, spec, ordered, source, total, progress, lake)
    finally:
        if lake is not None:
            con.execute(f"DROP TABLE IF EXISTS {_LAKE_ROWS}")
    return total


def _ingest_chunks(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    ordered: list[date],
    source: Source,
    total: LoadResult,
    progress: Callable[[str], None] | None,
    lake: str | None,
) -> None:
    i, per_chunk, rows_in = 0, 1, 0
    while i < len(ordered):
        chunk = ordered[i : i + per_chunk]
        result = load_partitions(
            con,
            spec,
            [(d, source.read_events(spec, d)) for d in chunk],
            source.name,
            **({"target": _LAKE_ROWS} if lake is not None else {}),
        )
        if lake is not None:
            for d in chunk:
                select = (
                    f"SELECT * EXCLUDE ({EVENT_DATE}) FROM {_LAKE_ROWS} "
                    f"WHERE {EVENT_DATE} = DATE '{d.isoformat()}'"
                )
                write_events_day(con, lake, d, select, source.name)
            con.execute(f"DELETE FROM {_LAKE_ROWS}")
        total.add(result)
        i += len(chunk)
        rows_in += result.rows_in
        rows_per_day = max(rows_in / i, 1.0)
        per_chunk = int(min(MAX_DAYS_PER_TRANSACTION, max(1, ROWS_PER_TRANSACTION // rows_per_day)))
        if progress:
            progress(
                f"{spec.name} {chunk[0]}..{chunk[-1]}: {result.rows_kept:,} kept, "
                f"{result.rows_quarantined:,} quarantined"
                + (f" (to the lake {lake})" if lake is not None else "")
            )


def _days_not_in_lake(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    days: list[date],
    lake: str,
    spark: SparkSession | None,
    total: LoadResult,
    progress: Callable[[str], None] | None,
) -> list[date]:
    """The days to load from the source; the days the lake holds from elsewhere are recorded
    in ``total`` and in the load audit (rows in = rows kept = the rows found, none
    quarantined), and their quarantine rows from any earlier load are removed."""
    todo = []
    for day in days:
        found = lake_day_rows(con, lake, day, spark)
        if found is None:
            if not is_local(lake):
                raise FileNotFoundError(
                    f"{events_day_path(lake, day)}: no events for {day} in the lake; with an "
                    "object-store lake the product's event pipeline writes the day folders"
                )
            todo.append(day)
            continue
        for table in (LOAD_AUDIT, QUARANTINE):
            con.execute(
                f"DELETE FROM {table} WHERE source_table = ? AND partition_date = ?",
                [spec.name, day],
            )
        con.execute(
            f"INSERT INTO {LOAD_AUDIT} (source_table, partition_date, source, rows_in, "
            "rows_kept, rows_quarantined, loaded_at, values_nulled) "
            "VALUES (?, ?, 'lake', ?, ?, 0, now()::TIMESTAMP, 0)",
            [spec.name, day, found, found],
        )
        total.add(
            LoadResult(
                table=spec.name,
                source="lake",
                rows_in=found,
                rows_kept=found,
                partitions=[day.isoformat()],
            )
        )
        total.notes.append(
            f"{day}: {found:,} events already in the lake ({events_day_path(lake, day)}, "
            "written by the product's pipeline): nothing read from the source"
        )
        if progress:
            progress(f"{spec.name} {day}: {found:,} rows already in the lake")
    return todo
