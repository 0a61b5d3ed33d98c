"""Reproduces the open 1M finding: signal rows written in a long-lived process are not read back.

At 1M accounts (``BENCH_EVENTS_PER_ACCOUNT_DAY=1`` scale data) with
``ACCT_DUCKDB_MEMORY_LIMIT=8GB``, one process loads every snapshot, builds identity, loads 36
days of events, then runs ``compute_signals`` and ``score_day`` for the last 3 days. On
2026-11-24 ``compute_signals`` reported ~995 k rows written for each day, and reading them back
on the same connection gave 0 rows (so ``score_day`` scored nothing). The same calls in a fresh
process on a copy of such a warehouse read back every row, and the same script at 100k with a
500 MB limit reads back every row. About 9 minutes on 2 cores.

    BENCH_EVENTS_PER_ACCOUNT_DAY=1 .venv/bin/python bench/scale_data.py --scale 1m
    BENCH_EVENTS_PER_ACCOUNT_DAY=1 .venv/bin/python bench/repro_1m_missing_signals.py [8GB]
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402


def main() -> int:
    scale = "1m"
    common.require_sample(scale)
    work = common.fresh_dir(common.scale_dir(scale) / "work_repro")
    os.environ.update(common.pipeline_env(scale, work))
    os.environ["ACCT_DUCKDB_MEMORY_LIMIT"] = sys.argv[1] if len(sys.argv) > 1 else "8GB"
    from acct_pipeline import warehouse
    from acct_pipeline.connectors.ingest import ingest_days, ingest_snapshot
    from acct_pipeline.quality.identity import build_accounts, build_identity
    from acct_pipeline.scoring.scores import read_signals, score_day
    from acct_pipeline.scoring.signals import compute_signals

    first, _ = common.period(scale)
    days = [first + timedelta(days=i) for i in range(36)]
    with warehouse.connect(work / "warehouse.duckdb") as con:
        warehouse.ensure_core_tables(con)
        for spec in warehouse.SNAPSHOT_TABLES:
            ingest_snapshot(con, spec)
        build_accounts(con)
        build_identity(con)
        ingest_days(con, warehouse.PRODUCT_EVENTS, days)
        for d in days[-3:]:
            written = compute_signals(con, d)
            seen = len(read_signals(con, d))
            total = con.execute("SELECT count(*) FROM features.account_signals").fetchone()[0]
            scored = score_day(con, d)
            common.say(
                f"{d}: signals written {written:,}, read back {seen:,}, "
                f"rows in the table {total:,}, scored {scored:,}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
