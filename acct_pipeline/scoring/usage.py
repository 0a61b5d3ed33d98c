"""Daily usage rollups: product events pre-aggregated once per day, read by the signals.

The usage signals of day D read 35 days of product events. Reading raw events every day means
scanning and grouping ~35 × (events per day) rows; most of that work is the same every day.
So each day's events are rolled up once, into two small tables the signal SQL reads instead:

* ``features.product_usage_daily``: one row per (day, workspace, user) with the event count;
* ``features.product_features_daily``: one row per (day, workspace, event name).

Workspaces, users and event names are stored as DuckDB's 64-bit ``hash()`` of their ids
(grouping integers is several times faster than grouping strings; a collision among millions of
ids is vanishingly unlikely and could only merge two users). ``visible_from`` keeps the
signals point-in-time exact: an event filed under day E but stamped later becomes visible on
the later day, as it does when the raw events are read with ``occurred_at < D + 1``.

The rollups are a cache, kept in step lazily: ``refresh_usage_rollups`` compares, per day, the
number of raw events with the number rolled up and rebuilds the days that differ (new days, days
re-ingested, days whose rollup was never built), so nothing that writes ``ingest.product_events``
has to know about them. If DuckDB's ``hash()`` ever changes (a DuckDB upgrade), the stored probe
no longer matches and every rollup is rebuilt.
"""

from __future__ import annotations

from datetime import date

import duckdb

from acct_pipeline.warehouse import (
    EVENT_DATE,
    PRODUCT_EVENTS,
    PRODUCT_FEATURES_DAILY,
    PRODUCT_USAGE_DAILY,
    USAGE_ROLLUP_STATE,
    table_exists,
    transaction,
)

DAYS_PER_PASS = 7  # days rolled up per scan and transaction
_PROBE_SQL = "SELECT hash('acct_pipeline usage rollup probe')"

# Written once, in DuckDB's dialect; the Spark engine runs them transpiled by SQLGlot
# (``acct_pipeline.engine.sql``). ``$days``: the days rolled up.
USAGE_SELECT = f"""
    SELECT {EVENT_DATE} AS event_date,
           greatest({EVENT_DATE}, CAST(occurred_at AS DATE)) AS visible_from,
           hash(group_id) AS gh,
           hash(user_id) AS uh,
           CAST(count(*) AS INTEGER) AS events
    FROM {PRODUCT_EVENTS.qualified}
    WHERE {EVENT_DATE} IN (SELECT unnest(CAST($days AS DATE[])))
    GROUP BY ALL
    ORDER BY event_date
"""

FEATURES_SELECT = f"""
    SELECT DISTINCT {EVENT_DATE} AS event_date,
           greatest({EVENT_DATE}, CAST(occurred_at AS DATE)) AS visible_from,
           hash(group_id) AS gh,
           hash(event_name) AS nh
    FROM {PRODUCT_EVENTS.qualified}
    WHERE {EVENT_DATE} IN (SELECT unnest(CAST($days AS DATE[])))
    ORDER BY event_date
"""

_DDL = (
    f"""CREATE TABLE IF NOT EXISTS {PRODUCT_USAGE_DAILY} (
        event_date DATE NOT NULL, visible_from DATE NOT NULL, gh UBIGINT NOT NULL,
        uh UBIGINT NOT NULL, events INTEGER NOT NULL)""",
    f"""CREATE TABLE IF NOT EXISTS {PRODUCT_FEATURES_DAILY} (
        event_date DATE NOT NULL, visible_from DATE NOT NULL, gh UBIGINT NOT NULL,
        nh UBIGINT NOT NULL)""",
    f"CREATE TABLE IF NOT EXISTS {USAGE_ROLLUP_STATE} (hash_probe UBIGINT NOT NULL)",
)


def _ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS features")
    for ddl in _DDL:
        con.execute(ddl)
    probe = con.execute(_PROBE_SQL).fetchone()[0]
    stored = con.execute(f"SELECT any_value(hash_probe) FROM {USAGE_ROLLUP_STATE}").fetchone()[0]
    if stored != probe:  # new tables, or hash() changed under us: start again
        con.execute(f"DELETE FROM {PRODUCT_USAGE_DAILY}")
        con.execute(f"DELETE FROM {PRODUCT_FEATURES_DAILY}")
        con.execute(f"DELETE FROM {USAGE_ROLLUP_STATE}")
        con.execute(f"INSERT INTO {USAGE_ROLLUP_STATE} VALUES (?)", [probe])


def stale_days(con: duckdb.DuckDBPyConnection, first: date, last: date) -> list[date]:
    """Days in ``first..last`` whose rollup does not hold exactly the raw events of the day."""
    rows = con.execute(
        f"""
        WITH raw AS (
            SELECT {EVENT_DATE} AS event_date, count(*) AS n FROM {PRODUCT_EVENTS.qualified}
            WHERE {EVENT_DATE} BETWEEN ? AND ? GROUP BY ALL
        ),
        rolled AS (
            SELECT event_date, sum(events) AS n FROM {PRODUCT_USAGE_DAILY}
            WHERE event_date BETWEEN ? AND ? GROUP BY ALL
        )
        SELECT coalesce(raw.event_date, rolled.event_date) AS d
        FROM raw FULL JOIN rolled USING (event_date)
        WHERE raw.n IS DISTINCT FROM rolled.n
        ORDER BY d
        """,
        [first, last, first, last],
    ).fetchall()
    return [r[0] for r in rows]


def rebuild_days(con: duckdb.DuckDBPyConnection, days: list[date]) -> None:
    """Replace the rollup rows of ``days`` from ``ingest.product_events`` (a transaction per pass
    of ``DAYS_PER_PASS`` days: a failure leaves every day either old or new, never half)."""
    ordered = sorted(days)
    # a backfill's days in passes of a few days: one scan per pass, a bounded hash table
    for i in range(0, len(ordered), DAYS_PER_PASS):
        chunk = ordered[i : i + DAYS_PER_PASS]
        with transaction(con):
            for table, select in (
                (PRODUCT_USAGE_DAILY, USAGE_SELECT),
                (PRODUCT_FEATURES_DAILY, FEATURES_SELECT),
            ):
                con.execute(
                    f"DELETE FROM {table} WHERE event_date IN (SELECT unnest(?::DATE[]))", [chunk]
                )
                con.execute(f"INSERT INTO {table} BY NAME {select}", {"days": chunk})


def refresh_usage_rollups(con: duckdb.DuckDBPyConnection, first: date, last: date) -> list[date]:
    """Bring the rollups of ``first..last`` in step with the raw events; returns the days rebuilt.

    Without ``ingest.product_events`` (no product source) the rollups stay empty.
    """
    _ensure_tables(con)
    if not table_exists(con, PRODUCT_EVENTS.qualified):
        return []
    days = stale_days(con, first, last)
    rebuild_days(con, days)
    return days
