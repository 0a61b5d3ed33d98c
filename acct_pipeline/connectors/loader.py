"""Load raw batches from any source into the ``ingest`` tables, quarantining bad rows.

One load = one raw table (or one day of a partitioned table) from one source. It runs in a single
DuckDB transaction: the raw strings land in a temporary table, the row rules
(``acct_pipeline.quality.rules``) split them, good rows replace the table (or the day) in
``ingest.<table>``, bad rows replace that load's rows in ``staging.quarantine`` with the rule
they broke, and ``staging.load_audit`` records rows in / kept / quarantined. If anything fails,
nothing of the load is kept and the previous rows stay.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

import duckdb

from acct_pipeline.connectors.base import RawBatch, SnapshotShrinkError, SourceError
from acct_pipeline.connectors.files import encoding_error, read_header
from acct_pipeline.quality.rules import (
    NULLED_SUFFIX,
    RULE_MALFORMED_ROW,
    cast_expr,
    duplicate_rule,
    nulls_bad_values,
    rule_expr,
    value_rule_expr,
)
from acct_pipeline.quality.settings import ACCEPT_SHRINK_ENV, LandingRules
from acct_pipeline.warehouse import (
    EVENT_DATE,
    LOAD_AUDIT,
    LOADED_AT,
    QUARANTINE,
    SOURCE,
    Column,
    LoadResult,
    TableSpec,
    ensure_core_tables,
    quote_ident,
    quote_literal,
    transaction,
)

_LANDING = "_landing"
# Empty fields are read as '' and only fields missing from a short row as NULL, so the loader can
# tell a cut row from a row with an empty last field. The NULL marker is a byte no export writes.
_NO_NULL_MARKER = "\x01"
# A row with more fields than the header is read into spare columns so it can be quarantined;
# beyond this many spare columns the file is rejected.
_MAX_SPARE_COLUMNS = 256
_TOO_MANY_FIELDS = re.compile(r"Expected Number of Columns: \d+ Found: (\d+)")


def _stage_csv(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, batch: RawBatch, partition: date | None
) -> None:
    """Stage one landing CSV; rows with fewer or more fields than the header get ``malformed_row``.

    DuckDB reads positional columns ``c0..cN`` (file header names never reach the SQL). Strict
    mode keeps quoting errors fatal (a cut quoted field names its line); a row with too many
    fields makes DuckDB say how many, and the file is read again with that many spare columns.
    """
    assert batch.csv_path is not None
    header = read_header(batch.csv_path)
    if not header:
        raise SourceError(f"{batch.csv_path}: the file is empty (expected a header row)")
    width = len(header)
    position = {name: i for i, name in enumerate(header)}
    select = ", ".join(f"c{position[c]}" if c in position else "NULL" for c in spec.column_names)
    shape = (
        f"CASE WHEN c{width - 1} IS NULL OR c{width} IS NOT NULL "
        f"THEN {quote_literal(RULE_MALFORMED_ROW)} END"
    )
    spare = 1
    while True:
        types = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width + spare)) + "}"
        try:
            con.execute(
                f"""
                INSERT INTO {_LANDING}
                SELECT {select}, {batch.first_row - 1} + row_number() OVER (), ?,
                       CAST(? AS DATE), {shape}
                FROM read_csv(?, header = true, columns = {types}, auto_detect = false,
                              null_padding = true, quote = '"', escape = '"',
                              nullstr = {quote_literal(_NO_NULL_MARKER)})
                """,
                [batch.origin, partition, str(batch.csv_path)],
            )
            return
        except duckdb.Error as exc:
            found = _TOO_MANY_FIELDS.search(str(exc))
            if found and width + spare < int(found.group(1)) <= width + _MAX_SPARE_COLUMNS:
                spare = int(found.group(1)) - width
                continue
            if "Invalid unicode" in str(exc):
                raise encoding_error(batch.csv_path) from exc
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
            f"CAST({quote_ident(c)} AS VARCHAR)" if c in frame.columns else "NULL"
            for c in spec.column_names
        )
        con.execute(
            f"""
            INSERT INTO {_LANDING}
            SELECT {select}, {batch.first_row - 1} + row_number() OVER (), ?, CAST(? AS DATE),
                   NULL
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
    target: str | None = None,
) -> LoadResult:
    """Load several days of a partitioned table in one transaction (a backfill's fast path).

    Each listed day is replaced, including days whose source delivered nothing (they end up
    empty, with a load-audit row of zero). ``target``: a table with the raw table's columns
    that receives the kept rows instead of ``ingest.<table>`` (the Spark engine's lake load).
    """
    return _load(con, spec, list(days), source_name, target)


def _load(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    days: list[tuple[date | None, Iterable[RawBatch]]],
    source_name: str,
    target: str | None = None,
) -> LoadResult:
    settings = LandingRules.from_env()
    ensure_core_tables(con)
    # Staging only fills a temporary table of this connection, outside the transaction: a file
    # DuckDB cannot read (too many fields in a row: read again with spare columns) must not abort
    # the transaction that replaces the rows. The warehouse changes only between BEGIN and COMMIT.
    con.execute(f"DROP TABLE IF EXISTS {_LANDING}")
    cols = ", ".join(f"{quote_ident(c)} VARCHAR" for c in spec.column_names)
    con.execute(
        f"CREATE TEMP TABLE {_LANDING} "
        f"({cols}, _row_number BIGINT, _origin VARCHAR, _partition DATE, _shape VARCHAR)"
    )
    try:
        origins: list[str] = []
        for partition, batches in days:
            for batch in batches:
                origins.append(batch.origin)
                if batch.csv_path is not None:
                    _stage_csv(con, spec, batch, partition)
                elif batch.frame is not None:
                    _stage_frame(con, spec, batch, partition)
        partitions = [p for p, _ in days if p is not None]
        with transaction(con):
            result = _split_and_write(con, spec, source_name, partitions, settings, origins, target)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_LANDING}")
        con.execute("DROP TABLE IF EXISTS _classified")
    return result


def _check_snapshot_size(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    settings: LandingRules,
    origins: list[str],
    source_name: str,
) -> None:
    """Refuse a snapshot that would keep far fewer rows than the one it replaces.

    A header-only export, a cut file or a wholesale change of format would otherwise empty the
    raw table and, downstream, the accounts and their scores. Raises before anything is deleted.
    """
    previous = con.execute(f"SELECT count(*) FROM {spec.qualified}").fetchone()[0]
    rows_in, kept = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE _rule IS NULL) FROM _classified"
    ).fetchone()
    if not previous or settings.accepts_shrink(spec.name):
        return
    if kept and kept >= settings.snapshot_min_share * previous:
        return
    where = ", ".join(dict.fromkeys(origins)) or f"the {source_name} source"
    what = (
        "no rows at all (an empty or header-only snapshot)"
        if not rows_in
        else f"{kept:,} usable rows ({rows_in:,} read, {rows_in - kept:,} quarantined)"
    )
    raise SnapshotShrinkError(
        f"{where}: the new {spec.name} snapshot has {what}; the previous load kept "
        f"{previous:,} rows. A snapshot below {settings.snapshot_min_share:.0%} of the previous "
        f"rows is rejected, so the previous snapshot stays. If the deletion is real, run once "
        f"with {ACCEPT_SHRINK_ENV}={spec.name} to accept it."
    )


def _split_and_write(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    source_name: str,
    partitions: list[date],
    settings: LandingRules,
    origins: list[str],
    target: str | None = None,
) -> LoadResult:
    trimmed = ", ".join(
        f"NULLIF(trim({quote_ident(c)}), '') AS {quote_ident(c)}" for c in spec.column_names
    )
    key = ", ".join(quote_ident(k) for k in spec.key)
    # One value-rule column per typed column (_v0, _v1, ...): required ones feed the row rule,
    # optional ones say which values are set NULL (and noted) in kept rows.
    value_cols: dict[str, str] = {}
    value_selects: list[str] = []
    for col in spec.columns:
        expr = value_rule_expr(col, settings)
        if expr is not None:
            value_cols[col.name] = f"_v{len(value_cols)}"
            value_selects.append(f"{expr} AS {value_cols[col.name]}")
    values = "".join(f", {v}" for v in value_selects)
    dup = quote_literal(duplicate_rule(spec))
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _classified AS
        WITH cleaned AS (
            SELECT {trimmed}, _row_number, _origin, _partition, _shape FROM {_LANDING}
        ),
        valued AS (
            SELECT * {values} FROM cleaned
        ),
        ruled AS (
            SELECT *, coalesce(_shape, {rule_expr(spec, settings, value_cols)}) AS _rule0
            FROM valued
        ),
        ranked AS (
            SELECT *, row_number() OVER (
                PARTITION BY _partition, {key}, (_rule0 IS NULL) ORDER BY _origin, _row_number
            ) AS _dup_rank
            FROM ruled
        )
        SELECT * EXCLUDE (_rule0, _dup_rank, _shape),
               coalesce(_rule0, CASE WHEN _dup_rank > 1 THEN {dup} END) AS _rule
        FROM ranked
        """
    )
    if not spec.partitioned:
        _check_snapshot_size(con, spec, settings, origins, source_name)
    now = "now()::TIMESTAMP"
    nulled = {
        c.name: value_cols[c.name]
        for c in spec.columns
        if c.name in value_cols and nulls_bad_values(spec, c)
    }

    def typed(c: Column) -> str:
        cast = cast_expr(c)
        if c.name in nulled:
            cast = f"CASE WHEN {nulled[c.name]} IS NULL THEN {cast} END"
        return f"{cast} AS {quote_ident(c.name)}"

    extra = f"_partition AS {EVENT_DATE}, " if spec.partitioned else ""
    days = "(SELECT unnest(?::DATE[]))"
    if spec.partitioned:
        con.execute(
            f"DELETE FROM {target or spec.qualified} WHERE {EVENT_DATE} IN {days}", [partitions]
        )
        part_filter, part_params = f"partition_date IN {days}", [partitions]
    else:
        con.execute(f"DELETE FROM {spec.qualified}")
        part_filter, part_params = "partition_date IS NULL", []
    con.execute(
        f"""
        INSERT INTO {target or spec.qualified} BY NAME
        SELECT {", ".join(typed(c) for c in spec.columns)}, {extra}? AS {SOURCE},
               {now} AS {LOADED_AT}
        FROM _classified WHERE _rule IS NULL ORDER BY _partition, _origin, _row_number
        """,
        [source_name],
    )

    record = (
        "to_json(struct_pack("
        + ", ".join(f"{quote_ident(c)} := {quote_ident(c)}" for c in spec.column_names)
        + "))"
    )
    # Quarantined rows, then one note per value set NULL in a kept row ("<rule> (nulled)").
    notes = "".join(
        f"""
            UNION ALL
            SELECT _partition, _origin, _row_number, {v} || {quote_literal(NULLED_SUFFIX)},
                   {record}
            FROM _classified WHERE _rule IS NULL AND {v} IS NOT NULL"""
        for v in nulled.values()
    )
    con.execute(
        f"DELETE FROM {QUARANTINE} WHERE source_table = ? AND {part_filter}",
        [spec.name, *part_params],
    )
    con.execute(
        f"""
        INSERT INTO {QUARANTINE}
        SELECT ?, _partition, ?, _origin, _row_number, _rule, _record, {now}
        FROM (
            SELECT _partition, _origin, _row_number, _rule, {record} AS _record
            FROM _classified WHERE _rule IS NOT NULL{notes}
        )
        ORDER BY _partition, _origin, _row_number, _rule
        """,
        [spec.name, source_name],
    )
    nulled_count = (
        " + ".join(f"count(c.{v}) FILTER (WHERE c._rule IS NULL)" for v in nulled.values()) or "0"
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
        INSERT INTO {LOAD_AUDIT} (source_table, partition_date, source, rows_in, rows_kept,
                                  rows_quarantined, loaded_at, values_nulled)
        SELECT ?, w._partition, ?, count(c._row_number), count(c._row_number) - count(c._rule),
               count(c._rule), {now}, {nulled_count}
        FROM {wanted} w LEFT JOIN _classified c ON c._partition IS NOT DISTINCT FROM w._partition
        GROUP BY w._partition ORDER BY w._partition
        """,
        [spec.name, source_name, *([partitions] if spec.partitioned else [])],
    )
    rows_in, rows_bad = con.execute("SELECT count(*), count(_rule) FROM _classified").fetchone()
    rules = dict(
        con.execute(
            "SELECT _rule, count(*) FROM _classified WHERE _rule IS NOT NULL GROUP BY 1"
        ).fetchall()
    )
    for v in nulled.values():
        for rule, n in con.execute(
            f"SELECT {v} || ?, count(*) FROM _classified "
            f"WHERE _rule IS NULL AND {v} IS NOT NULL GROUP BY 1",
            [NULLED_SUFFIX],
        ).fetchall():
            rules[rule] = rules.get(rule, 0) + int(n)
    return LoadResult(
        table=spec.name,
        source=source_name,
        rows_in=int(rows_in),
        rows_kept=int(rows_in - rows_bad),
        rows_quarantined=int(rows_bad),
        rules={str(k): int(v) for k, v in sorted(rules.items())},
        partitions=[p.isoformat() for p in partitions],
        values_nulled=sum(n for r, n in rules.items() if str(r).endswith(NULLED_SUFFIX)),
    )
