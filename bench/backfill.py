"""Backfill: the whole 90-day period through ``run_days(start, end)`` (one single-run backfill)
on a fresh warehouse, and whether one day's signals + scores cost the same early and late.

The run goes through the real Dagster job (``execute_in_process`` on an ephemeral instance).
The signals and scores assets are timed per day by wrapping the functions they call (the asset
modules look them up at call time), so day 1 vs day 90 comes from the same run. In a single-run
backfill every day's events are loaded before the first signals are computed: this compares
early vs late *score history* (and signals/scores tables growing). Event history growth is
measured by ``daily_run.py --day-index 1`` vs ``--day-index 90``.

    .venv/bin/python bench/backfill.py --scale 100k

Writes ``bench/results/backfill_<scale>.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

# Day 1 vs day 90 alone is noisy on a shared machine: also compare the first and last 5 days.
EDGE_DAYS = 5


def child_backfill(scale: str, work: Path) -> None:
    os.environ.update(common.pipeline_env(scale, work))
    t: dict[str, Any] = {}
    with common.timer(t, "import_s"):
        import dagster as dg

        import acct_pipeline.definitions  # noqa: F401
        from acct_pipeline.run import run_days
        from acct_pipeline.scoring import (
            scores,  # the scores asset imports score_day per run
            signals,  # compute_signals_for_days calls it per day
        )

        common.preload_scoring()
    per_day: dict[str, dict[str, float]] = {}

    def timed(fn: Any, key: str) -> Any:
        def inner(con: Any, day: date, *args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(con, day, *args, **kwargs)
            finally:
                per_day.setdefault(day.isoformat(), {})[key] = round(time.perf_counter() - t0, 3)

        return inner

    t["scoring"] = common.dagster_scoring_label()  # before wrapping (the wrappers live here)
    signals.compute_signals = timed(signals.compute_signals, "signals_s")
    scores.score_day = timed(scores.score_day, "scores_s")
    start, end = common.period(scale)
    instance = dg.DagsterInstance.ephemeral()
    with common.RssSampler() as rss, common.timer(t, "run_days_s"):
        outcome = run_days(start, end, instance=instance, log_level="WARNING")
    t["success"] = outcome.success
    t["failed_checks"] = outcome.failed_checks
    t["duckdb_memory_limit"] = os.environ.get("ACCT_DUCKDB_MEMORY_LIMIT") or "default"
    steps, step_peaks = {}, {}
    for s in instance.get_run_step_stats(outcome.run_id):
        if s.start_time and s.end_time:
            steps[s.step_key] = round(s.end_time - s.start_time, 2)
            step_peaks[s.step_key] = rss.peak_between(s.start_time, s.end_time)
    t["steps_s"] = dict(sorted(steps.items(), key=lambda kv: -kv[1]))
    # where the peak happened: resident memory sampled every 0.5 s, largest sample per step
    t["step_peak_rss_mb"] = dict(
        sorted(((k, v) for k, v in step_peaks.items() if v), key=lambda kv: -kv[1])
    )
    t["per_day"] = [{"day": d, **v} for d, v in sorted(per_day.items())]
    common.child_result(t)


def run_scale(scale: str, memory_limit: str | None = None) -> dict[str, Any]:
    machine = common.machine_info()
    manifest = common.require_sample(scale)
    work = common.fresh_dir(common.scale_dir(scale) / "work_backfill")
    r = common.measure(
        [__file__, "--child", "--scale", scale, "--work", str(work)],
        env={"ACCT_DUCKDB_MEMORY_LIMIT": memory_limit} if memory_limit else None,
        label=f"{scale} 90-day backfill"
        + (f" (DuckDB memory_limit {memory_limit})" if memory_limit else ""),
    )
    days = [d for d in r["per_day"] if "signals_s" in d and "scores_s" in d]
    cost = [d["signals_s"] + d["scores_s"] for d in days]
    summary: dict[str, Any] = {
        "total_s": r["run_days_s"],
        "process_s": r["process_wall_s"],
        "peak_rss_mb": r["process_peak_rss_mb"],
        "success": r["success"],
        "duckdb_memory_limit": memory_limit or "default (80% of RAM)",
        "peak_step": next(iter(r.get("step_peak_rss_mb", {})), None),
        "events_total": manifest["counts"]["product_events"],
        "scoring": r["scoring"],
    }
    if cost:
        first, last = (
            sum(cost[:EDGE_DAYS]) / len(cost[:EDGE_DAYS]),
            sum(cost[-EDGE_DAYS:]) / len(cost[-EDGE_DAYS:]),
        )
        summary |= {
            "day1_signals_plus_scores_s": round(cost[0], 3),
            "day90_signals_plus_scores_s": round(cost[-1], 3),
            "day90_over_day1": round(cost[-1] / cost[0], 2),
            f"first{EDGE_DAYS}_mean_s": round(first, 3),
            f"last{EDGE_DAYS}_mean_s": round(last, 3),
            f"last{EDGE_DAYS}_over_first{EDGE_DAYS}": round(last / first, 2),
            "days_timed": len(cost),
            # day 35 is the first day whose 35-day event window is full
            "last5_over_days35_39": round(last / (sum(cost[34:39]) / 5), 2)
            if len(cost) >= 39
            else None,
        }
    command = f".venv/bin/python bench/backfill.py --scale {scale}"
    payload = {
        "scale": scale,
        "params": common.scale_params(scale),
        "command": command + (f" --duckdb-memory-limit {memory_limit}" if memory_limit else ""),
        "summary": summary,
        "run": r,
    }
    suffix = f"_mem{memory_limit.lower()}" if memory_limit else ""
    common.write_result(f"backfill_{common.scale_tag(scale)}{suffix}", payload, machine)
    common.say(f"{scale}: {summary}")
    return payload


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--scale", default="100k", choices=list(common.SCALES))
    p.add_argument(
        "--duckdb-memory-limit",
        help="run with ACCT_DUCKDB_MEMORY_LIMIT set (e.g. 2GB); the result file gets a _mem suffix",
    )
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child_backfill(args.scale, args.work)
    else:
        run_scale(args.scale, args.duckdb_memory_limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
