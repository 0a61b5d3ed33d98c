"""Peak memory of ingesting product events through the Mixpanel connector (issue #3).

    .venv/bin/python bench/mixpanel_memory.py [--events 1000000] [--days 10] [--duplicate-every 100]
                                              [--duckdb-memory-limit 256MB]

Starts the fake Mixpanel export server (``acct_pipeline_tests/fakes/mixpanel.py``) in a separate
process, serving ``--events`` synthetic events spread over ``--days`` UTC days (plus one re-sent
copy of every ``--duplicate-every``-th event, as the real export does), then ingests every day
through ``MixpanelSource`` and the loader into a fresh DuckDB file, one partition per day, in this
process. Reports the peak resident set size of this (the ingesting) process — the server's memory
is not counted — as JSON on stdout and in ``bench/results/mixpanel_memory.json``. Target: < 500 MB.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import resource
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

RESULTS = REPO / "bench" / "results" / "mixpanel_memory.json"
TARGET_MB = 500
EVENT_NAMES = ("session_start", "page_view", "report_created", "dashboard_viewed", "export_run")


def synthetic_events(per_day: int, seed_day: date):
    """Landing-shaped event dicts for one day, generated lazily (the server never holds a day)."""

    def events_for(day: date):
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        k = (day - seed_day).days
        step = 86_400 / per_day
        for i in range(per_day):
            ts = start + timedelta(seconds=int(i * step))
            yield {
                "event_id": f"evt_{k:03d}_{i:09d}",
                "event_name": EVENT_NAMES[i % len(EVENT_NAMES)],
                "occurred_at": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "user_id": f"usr_{i % 20_000:06d}",
                "group_id": f"grp_{i % 2_000:05d}",
                "properties": '{"path": "/home"}' if i % 3 == 0 else None,
            }

    return events_for


def _serve(
    per_day: int, first_day: str, duplicate_every: int, port_q: mp.Queue, stop: mp.Event
) -> None:
    from acct_pipeline_tests.fakes.mixpanel import FakeMixpanel

    fake = FakeMixpanel(
        duplicate_every=duplicate_every or None,
        hourly_limit=None,
        per_second=None,
        events_source=synthetic_events(per_day, date.fromisoformat(first_day)),
    )
    with fake:
        port_q.put(fake.url)
        stop.wait()


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--duplicate-every", type=int, default=100)
    ap.add_argument(
        "--duckdb-memory-limit",
        default=None,
        help="e.g. 256MB: DuckDB spills the load's staging tables to disk beyond it (default: "
        "DuckDB's own, 80%% of RAM)",
    )
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    import duckdb

    from acct_pipeline.connectors.loader import load_batches
    from acct_pipeline.connectors.mixpanel import MixpanelSource
    from acct_pipeline.warehouse import PRODUCT_EVENTS, connect

    first = date(2026, 10, 1)
    days = [first + timedelta(days=k) for k in range(args.days)]
    per_day = args.events // args.days
    ctx = mp.get_context("spawn")
    port_q, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(
        target=_serve, args=(per_day, first.isoformat(), args.duplicate_every, port_q, stop)
    )
    server.start()
    samples: list[float] = []
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            samples.append(_rss_mb())
            time.sleep(0.2)

    try:
        url = port_q.get(timeout=60)
        from acct_pipeline_tests.fakes.mixpanel import PROJECT_ID, SECRET, USERNAME

        source = MixpanelSource.from_env(
            {
                "MIXPANEL_PROJECT_ID": PROJECT_ID,
                "MIXPANEL_SERVICE_ACCOUNT_USERNAME": USERNAME,
                "MIXPANEL_SERVICE_ACCOUNT_SECRET": SECRET,
                "MIXPANEL_EXPORT_URL": url,
            }
        )
        rss_start = _rss_mb()
        threading.Thread(target=sample, daemon=True).start()
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="mixpanel-bench-") as tmp:
            db = Path(tmp) / "warehouse.duckdb"
            kept = quarantined = 0
            with connect(db) as con:
                if args.duckdb_memory_limit:
                    con.execute(f"SET memory_limit = '{args.duckdb_memory_limit}'")
                for day in days:
                    result = load_batches(
                        con,
                        PRODUCT_EVENTS,
                        source.read_events(PRODUCT_EVENTS, day),
                        source.name,
                        partition=day,
                    )
                    kept += result.rows_kept
                    quarantined += result.rows_quarantined
            with duckdb.connect(str(db), read_only=True) as con:
                stored = con.execute(f"SELECT count(*) FROM {PRODUCT_EVENTS.qualified}").fetchone()[
                    0
                ]
            db_mb = db.stat().st_size / 2**20
        seconds = time.perf_counter() - t0
    finally:
        sampling.set()
        stop.set()
        server.join(timeout=30)
        if server.is_alive():
            server.terminate()

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    result = {
        "benchmark": "mixpanel_memory",
        "events_requested": per_day * len(days),
        "days": len(days),
        "events_streamed_incl_duplicates": source.stats.events + source.stats.duplicates,
        "duplicates_removed": source.stats.duplicates,
        "rows_kept": kept,
        "rows_quarantined": quarantined,
        "rows_in_table": int(stored),
        "http_requests": source.client.stats.requests,
        "seconds": round(seconds, 1),
        "events_per_second": round((source.stats.events + source.stats.duplicates) / seconds),
        "rss_start_mb": round(rss_start, 1),
        "rss_peak_mb": round(peak_mb, 1),
        "rss_sampled_max_mb": round(max(samples or [0.0]), 1),
        "warehouse_file_mb": round(db_mb, 1),
        "target_mb": TARGET_MB,
        "within_target": peak_mb < TARGET_MB,
        "batch_rows": source.batch_rows,
        "duckdb_memory_limit": args.duckdb_memory_limit or "default (80% of RAM)",
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "machine": f"{platform.machine()}, {mp.cpu_count()} CPUs",
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    text = json.dumps(result, indent=2)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    return 0 if result["within_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
