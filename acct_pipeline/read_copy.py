"""The published read copy: what readers open, so they never wait for (or block) the writer.

DuckDB lets one process write a file, and while it does no other process can open the file, not
even read-only. The pipeline therefore publishes a consistent copy of what people read (scores,
signals, validation, accounts, identity, quarantine, load audit, sync ledger, alerts, the raw
CRM and billing snapshots) to ``warehouse.read.duckdb`` beside the warehouse (``ACCT_READ_COPY``
overrides) at the end of every successful run and after every writing command. The copy is
written to a temporary file and moved over the old one with ``os.replace``: a reader sees the
previous complete copy or the new one, never half of one, and a reader holding the old copy
open keeps reading it undisturbed. The read-only commands (``summary``, ``explain``,
``sync --dry-run``, ``alerts`` without ``--send``), the report for scripts, notebooks and BI
tools open this file with ``read_only=True``.

Left out: the raw product events and their daily rollups (millions of rows that only the
signal computation reads; the signals built from them are in the copy).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from acct_pipeline import warehouse
from acct_pipeline.settings import CoreSettings, get

READ_COPY_ENV = "ACCT_READ_COPY"
READ_COPY_SUFFIX = ".read.duckdb"
# One row: when the copy was published, from which warehouse, with how many tables.
PUBLISHED = "main.read_copy_published"
NOT_PUBLISHED: frozenset[str] = frozenset(
    {
        warehouse.PRODUCT_EVENTS.qualified,
        warehouse.PRODUCT_USAGE_DAILY,
        warehouse.PRODUCT_FEATURES_DAILY,
        warehouse.USAGE_ROLLUP_STATE,
    }
)

_log = logging.getLogger(__name__)


def read_copy_path(warehouse_file: str | Path | None = None) -> Path:
    """``$ACCT_READ_COPY``, else ``<warehouse stem>.read.duckdb`` beside the warehouse."""
    configured = get(CoreSettings, "read_copy")
    if configured and warehouse_file is None:
        return Path(configured)
    source = Path(warehouse_file) if warehouse_file is not None else warehouse.warehouse_path()
    return source.with_name(source.stem + READ_COPY_SUFFIX)


@dataclass(frozen=True)
class Published:
    """What one publication wrote."""

    path: Path
    tables: int
    rows: int
    seconds: float


def _published_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    tables = [f"{s}.{t}" for s, t in warehouse.base_tables(con) if s != "main"]
    return [t for t in tables if t not in NOT_PUBLISHED]


def publish(
    con: duckdb.DuckDBPyConnection, target: str | Path, source: str | Path | None = None
) -> Published:
    """Copy what readers need from ``con``'s database into ``target``, atomically.

    ``con``: a connection whose current database is the warehouse (the writer's own connection,
    or one that ATTACHed it read-only). All tables are read in one transaction, so the copy is
    one consistent state even if another connection of this process writes meanwhile.
    """
    started = time.perf_counter()
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    alias = f"publish_{uuid.uuid4().hex[:8]}"
    attached = False
    rows = 0
    try:
        con.execute(f"ATTACH {warehouse.quote_literal(str(tmp))} AS {alias}")
        attached = True
        with warehouse.transaction(con):
            tables = _published_tables(con)
            for schema in sorted({t.split(".", 1)[0] for t in tables}):
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {alias}.{schema}")
            for table in tables:
                con.execute(f"CREATE TABLE {alias}.{table} AS FROM {table}")
                rows += con.execute(f"SELECT count(*) FROM {alias}.{table}").fetchone()[0]
            con.execute(
                f"CREATE TABLE {alias}.{PUBLISHED} AS SELECT now()::TIMESTAMP AS published_at, "
                "? AS warehouse, ? AS tables",
                [str(source or ""), len(tables)],
            )
        con.execute(f"DETACH {alias}")
        attached = False
        os.replace(tmp, target)
    finally:
        if attached:
            con.execute(f"DETACH {alias}")
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    return Published(target, len(tables), int(rows), time.perf_counter() - started)


def publish_warehouse(
    path: str | Path | None = None,
    target: str | Path | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Published:
    """Publish the read copy of the warehouse file at ``path`` from outside a run.

    Opens the warehouse read-only (waiting, like a writer, while another process holds it:
    ``ACCT_WRITER_WAIT_SECONDS``), so it never changes the warehouse.
    """
    source = Path(path) if path is not None else warehouse.warehouse_path()
    if not source.exists():
        raise warehouse.WarehouseMissing(
            f"no warehouse at {source}: run `make demo` (or the pipeline) first, "
            f"or point {warehouse.WAREHOUSE_ENV} at yours"
        )
    target = Path(target) if target is not None else read_copy_path(path)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")

        def attach() -> duckdb.DuckDBPyConnection:
            con.execute(f"ATTACH {warehouse.quote_literal(str(source))} AS wh (READ_ONLY)")
            return con

        warehouse.open_waiting_for_lock(attach, source, on_wait=on_wait)
        con.execute("USE wh")
        return publish(con, target, source.resolve())
    finally:
        con.close()


@contextmanager
def connect_read(
    path: str | Path | None = None, on_wait: Callable[[str], None] | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the read copy read-only (``path``: the warehouse it belongs to, default
    ``$ACCT_WAREHOUSE``). Without a copy yet (a warehouse from before read copies), one is
    published first from the warehouse."""
    target = read_copy_path(path)
    if not target.exists():
        _log.info("no read copy at %s yet: publishing one from the warehouse", target)
        publish_warehouse(path, target, on_wait=on_wait)
    con = duckdb.connect(str(target), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        memory_limit = get(CoreSettings, "duckdb_memory_limit")
        if memory_limit:
            con.execute("SET memory_limit = ?", [memory_limit])
        yield con
    finally:
        con.close()


def published_at(con: duckdb.DuckDBPyConnection) -> str | None:
    """When the copy ``con`` reads was published (None for a warehouse, not a copy)."""
    if not warehouse.table_exists(con, PUBLISHED):
        return None
    row = con.execute(f"SELECT strftime(published_at, '%Y-%m-%d %H:%M:%S') FROM {PUBLISHED}")
    return row.fetchone()[0]
