"""The lake: the tables the Spark engine reads and writes, as Parquet under one path.

Layout: ``<lake>/<schema>/<table>/`` (Hive-style ``event_date=``/``as_of_date=`` folders for the
tables partitioned by day). Parquet only (no Delta or Iceberg tables yet).

How the signal SQL's inputs get there in a Dagster run with the Spark engine:

* product events: in production the product's own event pipeline writes the day folders; the
  ``ingest/product_events`` asset then reads nothing and reports the rows it finds
  (``lake_day_rows``). Without that, the asset loads the day from the configured source through
  the usual row rules and writes the kept rows to the day folder (``write_events_day``, with a
  ``_acct_pipeline_load.json`` marker: a day the pipeline wrote is replaced on a rerun, a day
  someone else wrote never is). ``ingest.product_events`` in DuckDB stays empty;
  the quarantine and the load audit stay in DuckDB (small).
* the small per-account tables (accounts, identity map, billing, CRM, marketing) live in the
  DuckDB warehouse; the signals step publishes them (``publish_tables``) before computing,
  rewriting a table only when its content changed.

``export_to_lake`` copies a whole DuckDB warehouse there, for the tests, the benchmark and a
first move off the embedded warehouse. DuckDB writes local folders; an object-store lake is
written through the Spark session (``publish_tables``) or by the product's pipeline (events).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import duckdb

from acct_pipeline.warehouse import (
    ACCOUNT_SCORES,
    ACCOUNT_SIGNALS,
    AS_OF_DATE,
    EVENT_DATE,
    PRODUCT_EVENTS,
    quote_literal,
    table_exists,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# The inputs of the signal SQL, and the column each is partitioned by in the lake (None: one
# folder of files).
SOURCE_TABLES: dict[str, str | None] = {
    "staging.accounts": None,
    "staging.identity_map": None,
    "ingest.billing_subscriptions": None,
    "ingest.billing_invoices": None,
    "ingest.crm_activities": None,
    "ingest.crm_tickets": None,
    "ingest.crm_contacts": None,
    "ingest.marketing_touches": None,
    "ingest.product_events": EVENT_DATE,
}
# What the engine writes (a folder per day): the signals and scores of each day.
RESULT_TABLES: dict[str, str] = {ACCOUNT_SIGNALS: AS_OF_DATE, ACCOUNT_SCORES: AS_OF_DATE}


def table_path(lake: str, qualified: str) -> str:
    """``<lake>/<schema>/<table>`` (a local folder or an object-store URI)."""
    schema, name = qualified.split(".", 1)
    return f"{lake.rstrip('/')}/{schema}/{name}"


def partition_path(lake: str, qualified: str, column: str, value: date) -> str:
    return f"{table_path(lake, qualified)}/{column}={value.isoformat()}"


def export_to_lake(
    con: duckdb.DuckDBPyConnection,
    lake: str | Path,
    results_before: date | None = None,
) -> dict[str, int]:
    """Copy the signal SQL's input tables of a DuckDB warehouse to ``lake`` as Parquet (product
    events partitioned by ``event_date``); with ``results_before``, also the signals and scores of
    the days before it (the score history a Spark run continues from). Returns rows per table.

    Local folders only (DuckDB writes them); replaces what the lake held for these tables.
    """
    lake = str(lake)
    copied: dict[str, int] = {}
    tables: dict[str, str | None] = dict(SOURCE_TABLES)
    if results_before is not None:
        tables.update(RESULT_TABLES)
    for qualified, part in tables.items():
        schema, name = qualified.split(".", 1)
        if not table_exists(con, qualified):
            continue
        where = ""
        params: list = []
        if qualified in RESULT_TABLES:
            where, params = f"WHERE {AS_OF_DATE} < ?", [results_before]
        target = Path(table_path(lake, qualified))
        target.mkdir(parents=True, exist_ok=True)
        for old in target.rglob("*.parquet"):
            old.unlink()
        select = f"SELECT * FROM {qualified} {where}"
        n = con.execute(f"SELECT count(*) FROM ({select})", params).fetchone()[0]
        options = "FORMAT parquet"
        if part is not None:
            options += f", PARTITION_BY ({part}), OVERWRITE_OR_IGNORE"
            if n == 0:
                continue
            con.execute(f"COPY ({select}) TO '{target}' ({options})", params)
        else:
            con.execute(f"COPY ({select}) TO '{target / 'part-0.parquet'}' ({options})", params)
        copied[qualified] = n
    return copied


# ---------------------------------------------------------------------------------------------
# A Dagster run on the Spark engine
# ---------------------------------------------------------------------------------------------

# The tables the signals step publishes from DuckDB (the product events are not among them).
PUBLISHED_TABLES = [t for t, part in SOURCE_TABLES.items() if part is None]
LOAD_MARKER = "_acct_pipeline_load.json"  # a day folder this pipeline wrote (Spark skips _files)
FINGERPRINT = "_acct_fingerprint.json"  # what a published table's file holds
LAKE_EVENTS_VIEW = "ingest.product_events__lake"  # the checks' view over the lake's events


def is_local(lake: str) -> bool:
    """Whether ``lake`` is a local folder (a path or ``file://``), which DuckDB reads and writes."""
    return urlparse(lake).scheme in ("", "file")


def _local(path: str) -> Path:
    return Path(urlparse(path).path if path.startswith("file:") else path)


def events_day_path(lake: str, day: date) -> str:
    return partition_path(lake, PRODUCT_EVENTS.qualified, EVENT_DATE, day)


def lake_day_rows(
    con: duckdb.DuckDBPyConnection, lake: str, day: date, spark: SparkSession | None = None
) -> int | None:
    """The rows of ``day``'s events folder when someone else wrote it (the product's event
    pipeline), else None (no such day, or a day this pipeline wrote from its source)."""
    path = events_day_path(lake, day)
    if not is_local(lake):
        if spark is None:
            raise ValueError(f"{lake}: an object-store lake is read through the Spark session")
        from pyspark.errors import AnalysisException

        try:
            return int(spark.read.parquet(path).count())
        except AnalysisException:  # no such folder, or no files in it
            return None
    folder = _local(path)
    files = sorted(str(f) for f in folder.glob("*.parquet"))
    if not files or (folder / LOAD_MARKER).exists():
        return None
    return int(con.execute("SELECT count(*) FROM read_parquet(?)", [files]).fetchone()[0])


def write_events_day(
    con: duckdb.DuckDBPyConnection, lake: str, day: date, select: str, source: str
) -> int:
    """Replace ``day``'s events folder with the rows of ``select`` (without ``event_date``: the
    folder says it) and mark it as written by this pipeline. Returns the rows written."""
    if not is_local(lake):
        raise ValueError(
            f"{lake}: events are written to a local lake only; with an object-store lake the "
            "product's event pipeline writes <lake>/ingest/product_events/event_date=<day>/"
        )
    folder = _local(events_day_path(lake, day))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LOAD_MARKER).write_text(json.dumps({"source": source, "state": "writing"}))
    for old in folder.glob("*.parquet"):
        old.unlink()
    n = con.execute(f"SELECT count(*) FROM ({select})").fetchone()[0]
    if n:
        tmp = folder / ".part-0.parquet.tmp"
        con.execute(f"COPY ({select}) TO {quote_literal(str(tmp))} (FORMAT parquet)")
        os.replace(tmp, folder / "part-0.parquet")
    (folder / LOAD_MARKER).write_text(json.dumps({"source": source, "rows": int(n)}))
    return int(n)


def _fingerprint(con: duckdb.DuckDBPyConnection, qualified: str) -> list[Any]:
    n, h = con.execute(f"SELECT count(*), sum(hash(t)) FROM {qualified} t").fetchone()
    cols = con.execute(f"SELECT * FROM {qualified} LIMIT 0").description
    return [int(n), str(h), [c[0] for c in cols]]


def publish_tables(
    con: duckdb.DuckDBPyConnection, lake: str, spark: SparkSession | None = None
) -> dict[str, int]:
    """Publish the small per-account tables (``PUBLISHED_TABLES``) from DuckDB to the lake, each
    as one file; a table whose content has not changed since it was published is left alone
    (local lakes), so a rerun is cheap. An object-store lake is written through ``spark``.
    Returns the rows of each table written."""
    written: dict[str, int] = {}
    for qualified in PUBLISHED_TABLES:
        schema, name = qualified.split(".", 1)
        if not table_exists(con, qualified):
            continue
        if not is_local(lake):
            if spark is None:
                raise ValueError(f"{lake}: an object-store lake is written through Spark")
            frame = con.execute(f"SELECT * FROM {qualified}").arrow()
            spark.createDataFrame(frame.to_pandas()).write.mode("overwrite").parquet(
                table_path(lake, qualified)
            )
            written[qualified] = frame.num_rows
            continue
        folder = _local(table_path(lake, qualified))
        stamp = folder / FINGERPRINT
        fingerprint = _fingerprint(con, qualified)
        if stamp.exists() and json.loads(stamp.read_text()) == fingerprint:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        stamp.unlink(missing_ok=True)
        tmp = folder / ".part-0.parquet.tmp"
        con.execute(f"COPY {qualified} TO {quote_literal(str(tmp))} (FORMAT parquet)")
        for old in folder.rglob("*.parquet"):
            old.unlink()
        os.replace(tmp, folder / "part-0.parquet")
        stamp.write_text(json.dumps(fingerprint))
        written[qualified] = fingerprint[0]
    return written


@contextmanager
def events_view(con: duckdb.DuckDBPyConnection, lake: str) -> Iterator[str]:
    """``LAKE_EVENTS_VIEW``: a view in the warehouse over the lake's product events (local
    lakes), with the columns the files have (``event_date`` from the folders); dropped on
    leaving. With no event files in the lake, the view is empty (the checks on it say so)."""
    if not is_local(lake):
        raise ValueError(
            f"{lake}: the checks read the lake's events with DuckDB, which reads local lakes only"
        )
    folder = _local(table_path(lake, PRODUCT_EVENTS.qualified))
    glob = f"{folder}/{EVENT_DATE}=*/*.parquet"
    if any(folder.glob(f"{EVENT_DATE}=*/*.parquet")):
        source = (
            f"SELECT * FROM read_parquet({quote_literal(glob)}, "
            f"hive_partitioning = true, hive_types = {{'{EVENT_DATE}': DATE}}, "
            "union_by_name = true)"
        )
    else:
        source = f"SELECT * FROM {PRODUCT_EVENTS.qualified} WHERE false"
    con.execute(f"CREATE OR REPLACE VIEW {LAKE_EVENTS_VIEW} AS {source}")
    try:
        yield LAKE_EVENTS_VIEW
    finally:
        con.execute(f"DROP VIEW IF EXISTS {LAKE_EVENTS_VIEW}")
