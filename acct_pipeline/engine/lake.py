"""The lake: the tables the Spark engine reads and writes, as Parquet under one path.

Layout: ``<lake>/<schema>/<table>/`` (Hive-style ``event_date=``/``as_of_date=`` folders for the
tables partitioned by day). In production the product events are already in the lake (written
by the product's own event pipeline); ``export_to_lake`` copies a DuckDB warehouse's tables there,
for the tests, the benchmark and a first move off the embedded warehouse.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from acct_pipeline.warehouse import ACCOUNT_SCORES, ACCOUNT_SIGNALS, AS_OF_DATE, EVENT_DATE

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
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? "
            "AND table_name = ?",
            [schema, name],
        ).fetchone()[0]
        if not exists:
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
