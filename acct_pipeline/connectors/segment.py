"""Segment / RudderStack warehouse-style export files: ``tracks`` + ``groups`` -> product tables.

Configuration (environment variables):

``SEGMENT_EXPORT_DIR``   a folder with the warehouse tables exported as files (required):
                         ``tracks/`` and ``groups/`` holding ``*.parquet``, ``*.csv`` or
                         ``*.csv.gz`` files (any nesting, e.g. one folder or file per day).
                         From Segment: unload the warehouse's ``tracks`` and ``groups`` tables
                         (or use the S3 / GCS destination); RudderStack has the same tables.

``tracks`` columns used: ``id`` (message id -> ``event_id``), ``event``, ``timestamp``,
``user_id`` (``anonymous_id`` when empty), ``properties`` (JSON, optional; RudderStack/Segment
flatten properties into per-event tables, which are not read). Track events carry no group id,
so each event takes the group of the user's latest ``groups`` call at or before the event (an
``ASOF`` join), else the user's first group call: ``groups`` columns ``user_id`` /
``anonymous_id``, ``group_id``, ``timestamp``, and the flattened traits ``name``, ``domain``
(or ``website``), ``crm_company_id``, ``created_at``. ``product_groups`` is one row per
``group_id`` with its latest traits; ``created_at`` is the ``created_at`` trait, else the first
group call.

The files are read by DuckDB and streamed in record batches: nothing is materialised in pandas
beyond one batch.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb

from acct_pipeline.connectors.base import RawBatch, SourceError
from acct_pipeline.connectors.http import require_env
from acct_pipeline.warehouse import PRODUCT_EVENTS, PRODUCT_GROUPS, TableSpec

DIR_ENV = "SEGMENT_EXPORT_DIR"


_DATE_IN_PATH = re.compile(r"(\d{4}-\d{2}-\d{2})")


def _files_for(folder: Path, pattern: str, day: date | None) -> list[Path]:
    """Export files of one kind; when every file's path names a day, only those near ``day``."""
    files = sorted(folder.rglob(pattern))
    if day is None or not files:
        return files
    days = [_DATE_IN_PATH.search(p.relative_to(folder).as_posix()) for p in files]
    if not all(days):
        return files
    near = {(day + timedelta(days=k)).isoformat() for k in (-1, 0, 1)}  # time-zone slack
    return [p for p, m in zip(files, days, strict=True) if m and m.group(1) in near]


def _scan(folder: Path, what: str, day: date | None = None) -> str:
    """A DuckDB table expression over the export files of one table (all VARCHAR).

    Files named by day (``tracks/2026-05-01.parquet``, ``tracks/day=2026-05-01/...``) are pruned
    to the day asked for and its neighbours; otherwise every file is scanned for every day.
    """
    if not folder.is_dir():
        raise SourceError(f"{folder}: no {what} folder in the export (set {DIR_ENV})")
    parquet = _files_for(folder, "*.parquet", day)
    csvs = sorted([*_files_for(folder, "*.csv", day), *_files_for(folder, "*.csv.gz", day)])
    if not parquet and not csvs and day is not None and any(folder.rglob("*")):
        return _empty_scan(folder, what)
    if not parquet and not csvs:
        raise SourceError(
            f"{folder}: no {what} export files (*.parquet, *.csv, *.csv.gz) found (set {DIR_ENV})"
        )
    parts = []
    if parquet:
        files = ", ".join(f"'{p.as_posix()}'" for p in parquet)
        union = ", union_by_name = true" if len(parquet) > 1 else ""
        parts.append(f"SELECT * FROM read_parquet([{files}]{union})")
    if csvs:
        files = ", ".join(f"'{p.as_posix()}'" for p in csvs)
        union = ", union_by_name = true" if len(csvs) > 1 else ""
        parts.append(f"SELECT * FROM read_csv([{files}], all_varchar = true, header = true{union})")
    return " UNION ALL BY NAME ".join(f"({p})" for p in parts)


def _empty_scan(folder: Path, what: str) -> str:
    cols = "id, event, timestamp, user_id, anonymous_id, properties"
    return (
        "SELECT "
        + ", ".join(f"CAST(NULL AS VARCHAR) AS {c}" for c in cols.split(", "))
        + " WHERE false"
    )


def _col(columns: set[str], *names: str) -> str:
    for n in names:
        if n in columns:
            return f'CAST("{n}" AS VARCHAR)'
    return "CAST(NULL AS VARCHAR)"


class SegmentSource:
    """Reads ``product_events`` / ``product_groups`` from Segment-style exports
    (``ACCT_PRODUCT_SOURCE=segment``)."""

    name = "segment"

    def __init__(self, root: str | Path, *, batch_rows: int = 100_000) -> None:
        self.root = Path(root)
        self.batch_rows = batch_rows

    @classmethod
    def from_env(cls, env: Mapping[str, str], **kw: Any) -> SegmentSource:
        return cls(require_env(env, DIR_ENV, "segment"), **kw)

    def tables(self) -> tuple[str, ...]:
        return (PRODUCT_GROUPS.name, PRODUCT_EVENTS.name)

    def _relations(self, con: duckdb.DuckDBPyConnection, day: date | None = None) -> None:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"CREATE TEMP VIEW tracks_raw AS {_scan(self.root / 'tracks', 'tracks', day)}")
        con.execute(f"CREATE TEMP VIEW groups_raw AS {_scan(self.root / 'groups', 'groups')}")
        tcols = {r[0] for r in con.execute("DESCRIBE tracks_raw").fetchall()}
        gcols = {r[0] for r in con.execute("DESCRIBE groups_raw").fetchall()}
        con.execute(
            f"""
            CREATE TEMP VIEW tracks AS
            SELECT {_col(tcols, "id", "message_id")} AS event_id,
                   {_col(tcols, "event", "event_text")} AS event_name,
                   TRY_CAST({_col(tcols, "timestamp")} AS TIMESTAMPTZ) AS ts,
                   coalesce({_col(tcols, "user_id")}, {_col(tcols, "anonymous_id")}) AS user_id,
                   {_col(tcols, "properties")} AS properties
            FROM tracks_raw
            """
        )
        con.execute(
            f"""
            CREATE TEMP TABLE groups AS  -- account-sized: read once, used twice
            SELECT coalesce({_col(gcols, "user_id")}, {_col(gcols, "anonymous_id")}) AS user_id,
                   {_col(gcols, "group_id")} AS group_id,
                   TRY_CAST({_col(gcols, "timestamp")} AS TIMESTAMPTZ) AS ts,
                   {_col(gcols, "name")} AS name,
                   {_col(gcols, "domain", "website")} AS domain,
                   {_col(gcols, "crm_company_id")} AS crm_company_id,
                   {_col(gcols, "created_at")} AS created_at
            FROM groups_raw
            WHERE {_col(gcols, "group_id")} IS NOT NULL
            """
        )

    def _stream(
        self, sql: str, params: list[Any], origin: str, spec: TableSpec, day: date | None = None
    ) -> Iterator[RawBatch]:
        con = duckdb.connect()
        try:
            self._relations(con, day)
            reader = con.sql(sql, params=params).to_arrow_reader(self.batch_rows)
            first = 1
            for rb in reader:
                frame = rb.to_pandas()
                if frame.empty:
                    continue
                yield RawBatch(origin=origin, frame=frame[spec.column_names], first_row=first)
                first += len(frame)
        except duckdb.Error as exc:
            raise SourceError(f"{self.root}: cannot read the Segment export: {exc}") from None
        finally:
            con.close()

    def read_events(self, spec: TableSpec, day: date) -> Iterator[RawBatch]:
        if spec.name != PRODUCT_EVENTS.name:
            raise SourceError(f"segment does not provide {spec.name}")
        sql = """
            WITH day_tracks AS (
                SELECT * FROM tracks
                WHERE ts >= CAST(? AS TIMESTAMPTZ) AND ts < CAST(? AS TIMESTAMPTZ)
            ),
            first_group AS (
                SELECT user_id, arg_min(group_id, ts) AS group_id FROM groups GROUP BY user_id
            )
            SELECT t.event_id, t.event_name,
                   strftime(t.ts, '%Y-%m-%dT%H:%M:%S.%gZ') AS occurred_at,
                   t.user_id,
                   coalesce(g.group_id, f.group_id) AS group_id,
                   t.properties
            FROM day_tracks t
            ASOF LEFT JOIN groups g ON t.user_id = g.user_id AND t.ts >= g.ts
            LEFT JOIN first_group f ON t.user_id = f.user_id
            ORDER BY t.ts, t.event_id
        """
        start = day.isoformat() + " 00:00:00+00"
        end = (day + timedelta(days=1)).isoformat() + " 00:00:00+00"
        yield from self._stream(
            sql, [start, end], f"segment:{self.root / 'tracks'}?day={day}", spec, day
        )

    def read_table(self, spec: TableSpec) -> Iterator[RawBatch]:
        if spec.name != PRODUCT_GROUPS.name:
            raise SourceError(f"segment does not provide {spec.name}")
        sql = """
            SELECT group_id,
                   arg_max(name, ts) AS name,
                   arg_max(domain, ts) AS domain,
                   arg_max(crm_company_id, ts) AS crm_company_id,
                   coalesce(arg_max(created_at, ts),
                            strftime(min(ts), '%Y-%m-%dT%H:%M:%SZ')) AS created_at
            FROM groups
            GROUP BY group_id
            ORDER BY group_id
        """
        return self._stream(sql, [], f"segment:{self.root / 'groups'}", spec)
