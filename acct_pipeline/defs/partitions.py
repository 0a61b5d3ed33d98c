"""The daily partitions every dated asset shares (UTC days, as-of date D).

``ACCT_PARTITIONS_START`` is the first day; ``ACCT_PARTITIONS_END`` (optional) the last, for a
fixed history such as the demo's sample: `make demo` / `make dev` set both from the sample's
manifest, so the UI shows the days that have data and nothing missing after them.
"""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

from acct_pipeline.settings import CoreSettings, get

PARTITIONS_START_ENV = "ACCT_PARTITIONS_START"
PARTITIONS_END_ENV = "ACCT_PARTITIONS_END"
DEFAULT_PARTITIONS_START = "2026-05-01"


def last_partition_day() -> date | None:
    """``ACCT_PARTITIONS_END`` as a date (None: the partitions run up to today)."""
    value: date | None = get(CoreSettings, "partitions_end")
    return value


_last = last_partition_day()
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=get(CoreSettings, "partitions_start").isoformat(),
    # end_date is exclusive
    end_date=(_last + timedelta(days=1)).isoformat() if _last else None,
    end_offset=0,
)

# Backfills of a date range run as one run: DuckDB has one writer, and the scores need the days
# in order (hysteresis and deltas read the previous days).
single_run = dg.BackfillPolicy.single_run()
