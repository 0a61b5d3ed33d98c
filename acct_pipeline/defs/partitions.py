"""The daily partitions every dated asset shares (UTC days, as-of date D)."""

from __future__ import annotations

import os

import dagster as dg

PARTITIONS_START_ENV = "ACCT_PARTITIONS_START"
DEFAULT_PARTITIONS_START = "2026-05-01"

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=os.environ.get(PARTITIONS_START_ENV) or DEFAULT_PARTITIONS_START,
    end_offset=0,
)

# Backfills of a date range run as one run: DuckDB has one writer, and the scores need the days
# in order (hysteresis and deltas read the previous days).
single_run = dg.BackfillPolicy.single_run()
