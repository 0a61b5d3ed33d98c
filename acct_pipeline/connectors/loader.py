"""Load raw batches from any source into the ``ingest`` tables, quarantining bad rows.

One load = one raw table (or one day of a partitioned table) from one source. It runs in a single
DuckDB transaction: the raw strings land in a temporary table, the row rules
(``acct_pipeline.quality.rules``) split them, good rows replace the table (or the day) in
``ingest.<table>``, bad rows replace that load's rows in ``staging.quarantine`` with the rule
they broke, and ``staging.load_audit`` records rows in / kept / quarantined. If anything fails,
nothing of the load is kept and the previous rows stay.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import duckdb

from acct_pipeline.connectors.base import RawBatch, SourceError
from acct_pipeline.connectors.files import read_header
from acct_pipeline.quality.rules import cast_expr, duplicate_rule, rule_expr
from acct_pipeline.warehouse import (
    EVENT_DATE,
    LOAD_AUDIT,
    LOADED_AT,
    QUARANTINE,
    SOURCE,
    LoadResult,
    TableSpec,
    ensure_core_tables,
)

_LANDING = "_landing"


def _stage_csv(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, batch: RawBatch, partition: date | None
) -> None:
    assert batch.csv_path is not None
    header = read_header(batch.csv_path)
    cols = {name: f'"{name}"' for name in spec.column_names if name in header}
    select = ", ".join(f"{cols.get(c, 'NULL')}" for c in spec.column_names)
    types = "{" + ", ".join(f"'{h}': 'VARCHAR'" for h in header) + "}"
    try:
        con.execute(
            f"""
            INSERT INTO {_LANDING}
            SELECT {select}, {batch.first_row - 1} + row_number() OVER (), ?, CAST(? AS DATE)
            FROM read_csv(?, header = true, columns = {types}, auto_detect = false,
                          null_padding = true, quote = '"', escape = '"')
            """,
            [batch.origin, partition, str(batch.csv_path)],
        )
    except duckdb.Error as exc:
        raise SourceError(
            f"{batch.csv_path}: cannot be read as CSV for {spec.name}: {exc}"
        ) from exc


def _stage_frame(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, batch: RawBatch, partition: date | None
) -> None:
    frame = batch.frame
    assert frame is not None
    if frame.empty:
        return
    missing = [c for c in spec.required_columns if c not in frame.columns]
    if missing:
        raise SourceError(
            f"{batch.origin}: records for {spec.name} lack required field(s) {missing}"
        )
    con.register("_batch", frame)
    try:
        select = ", ".join(
            f'CAST("{c}" AS VARCHAR)' if c in frame.columns else "NULL" for c in spec.column_names
        )
        con.execute(
            f"""
            INSERT INTO {_LANDING}
            SELECT {select}, {batch.first_row - 1} + row_number() OVER (), ?, CAST(? AS DATE)
            FROM _batch
            """,
            [batch.origin, partition],
        )
    finally:
        con.unregister("_batch")


def load_batches(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    batches: Iterable[RawBatch],
    source_name: str,
    partition: date | None = None,
) -> LoadResult:
    """Load every batch of one raw table (or one day of a partitioned table) atomically.

    Snapshot tables are replaced whole; a partitioned table has exactly ``partition``'s rows
    replaced. Returns counts per rule. Raises ``SourceError`` (naming the file) for a file that
    cannot be read; in that case nothing changes in the warehouse.
    """
    if spec.partitioned and partition is None:
        raise ValueError(f"{spec.name} is partitioned by day: pass partition=")
    if not spec.partitioned:
        return _load(con, spec, [(None, batches)], source_name)
    return load_partitions(con, spec, [(partition, batches)], source_name)


def load_partitions(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    days: Iterable[tuple[date, Iterable[RawBatch]]],
    source_name: str,
) -> LoadResult:
    """Load several days of a partitioned table in one transaction (a backfill's fast path).

    Each listed day is replaced, including days whose source delivered nothing (they end up
    empty, with a load-audit row of zero).
    """
    return _load(con, spec, list(days), source_name)


def _load(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    days: list[tuple[date | None, Iterable[RawBatch]]],
    source_name: str,
) -> LoadResult:
    ensure_core_tables(con)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DROP TABLE IF EXISTS {_LANDING}")
        cols = ", ".join(f'"{c}" VARCHAR' for c in spec.column_names)
        con.execute(
            f"CREATE TEMP TABLE {_LANDING} "
            f"({cols}, _row_number BIGINT, _origin VARCHAR, _partition DATE)"
        )
        for partition, batches in days:
            for batch in batches:
                if batch.csv_path is not None:
                    _stage_csv(con, spec, batch, partition)
                elif batch.frame is not None:
                    _stage_frame(con, spec, batch, partition)
        partitions = [p for p, _ in days if p is not None]
        result = _split_and_write(con, spec, source_name, partitions)
        con.execute(f"DROP TABLE IF EXISTS {_LANDING}")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return result


def _split_and_write(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, source_name: str, partitions: list[date]
) -> LoadResult:
    trimmed = ", ".join(f'NULLIF(trim("{c}"), \'\') AS "{c}"' for c in spec.column_names)
    key = ", ".join(f'"{k}"' for k in spec.key)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _classified AS
        WITH cleaned AS (
            SELECT {trimmed}, _row_number, _origin, _partition FROM {_LANDING}
        ),
        ruled AS (
            SELECT *, {rule_expr(spec)} AS _rule0 FROM cleaned
        ),
        ranked AS (
            SELECT *, row_number() OVER (
                PARTITION BY _partition, {key}, (_rule0 IS NULL) ORDER BY _origin, _row_number
            ) AS _dup_rank
            FROM ruled
        )
        SELECT * EXCLUDE (_rule0, _dup_rank),
               coalesce(_rule0, CASE WHEN _dup_rank > 1 THEN '{duplicate_rule(spec)}' END) AS _rule
        FROM ranked
        """
    )
    now = "now()::TIMESTAMP"
    typed = ", ".join(
        f'{cast_expr(c, chr(34) + c.name + chr(34))} AS "{c.name}"' for c in spec.columns
    )
    extra = f"_partition AS {EVENT_DATE}, " if spec.partitioned else ""
    days = "(SELECT unnest(?::DATE[]))"
    if spec.partitioned:
        con.execute(f"DELETE FROM {spec.qualified} WHERE {EVENT_DATE} IN {days}", [partitions])
        part_filter, part_params = f"partition_date IN {days}", [partitions]
    else:
        con.execute(f"DELETE FROM {spec.qualified}")
        part_filter, part_params = "partition_date IS NULL", []
    con.execute(
        f"""
        INSERT INTO {spec.qualified} BY NAME
        SELECT {typed}, {extra}? AS {SOURCE}, {now} AS {LOADED_AT}
        FROM _classified WHERE _rule IS NULL ORDER BY _partition, _origin, _row_number
        """,
        [source_name],
    )

    record = "to_json(struct_pack(" + ", ".join(f'"{c}" := "{c}"' for c in spec.column_names) + "))"
    con.execute(
        f"DELETE FROM {QUARANTINE} WHERE source_table = ? AND {part_filter}",
        [spec.name, *part_params],
    )
    con.execute(
        f"""
        INSERT INTO {QUARANTINE}
        SELECT ?, _partition, ?, _origin, _row_number, _rule, {record}, {now}
        FROM _classified WHERE _rule IS NOT NULL ORDER BY _partition, _origin, _row_number
        """,
        [spec.name, source_name],
    )
    con.execute(
        f"DELETE FROM {LOAD_AUDIT} WHERE source_table = ? AND {part_filter}",
        [spec.name, *part_params],
    )
    wanted = (
        "(SELECT unnest(?::DATE[]) AS _partition)"
        if spec.partitioned
        else "(SELECT NULL::DATE AS _partition)"
    )
    con.execute(
        f"""
        INSERT INTO {LOAD_AUDIT}
        SELECT ?, w._partition, ?, count(c._row_number), count(c._row_number) - count(c._rule),
               count(c._rule), {now}
        FROM {wanted} w LEFT JOIN _classified c ON c._partition IS NOT DISTINCT FROM w._partition
        GROUP BY w._partition ORDER BY w._partition
        """,
        [spec.name, source_name, *([partitions] if spec.partitioned else [])],
    )
    rows_in, rows_bad = con.execute("SELECT count(*), count(_rule) FROM _classified").fetchone()
    rules = dict(
        con.execute(
            "SELECT _rule, count(*) FROM _classified WHERE _rule IS NOT NULL GROUP BY 1 ORDER BY 1"
        ).fetchall()
    )
    con.execute("DROP TABLE IF EXISTS _classified")
    return LoadResult(
        table=spec.name,
        source=source_name,
        rows_in=int(rows_in),
        rows_kept=int(rows_in - rows_bad),
        rows_quarantined=int(rows_bad),
        rules={str(k): int(v) for k, v in rules.items()},
        partitions=[p.isoformat() for p in partitions],
    )
