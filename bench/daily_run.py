"""Daily run: one day of events ingested, that day's signals and scores computed.

The day is the last day of the 90-day period, with the 89 days before it already in the
warehouse (events, snapshots, identity, and the 31 days of signals + scores the score history
reads). Each measurement runs in its own process on a fresh copy of that prepared warehouse:

* ``inproc``  ``ingest_days`` + ``compute_signals`` + ``score_day`` called directly;
* ``dagster`` the same day through ``run_days(day, day, instance=DagsterInstance.ephemeral())``,
  i.e. the whole daily job (snapshot refresh, identity, checks, validation, report, sync).

``--day-index 1`` measures the first day of the period on a warehouse without any events or
score history (the "day 1" of the flat-cost check; ``--day-index 90`` is the default).

    .venv/bin/python bench/daily_run.py --scale 100k [--repeats 1] [--skip-dagster]

Writes ``bench/results/daily_run_<scale>[_day<N>].json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

# score_history.sql looks back max(30, dwell, trend window) days: 31 days of scores is enough.
SCORE_HISTORY_DAYS = 31


def base_dir(scale: str, history_days: int) -> Path:
    return common.scale_dir(scale) / f"base_{history_days}d"


def base_and_last_day(scale: str, history_days: int) -> tuple[Path, date]:
    """``prepare_base(scale, history_days)`` and the last day it holds (the day to re-score)."""
    first, _ = common.period(scale)
    return prepare_base(scale, history_days), first + timedelta(days=history_days - 1)


def prepare_base(scale: str, history_days: int) -> Path:
    """A warehouse holding the first ``history_days`` days (reused when already built)."""
    folder = base_dir(scale, history_days)
    path = folder / "warehouse.duckdb"
    label = common.scoring_functions()[2]
    wanted = {
        "params": common.scale_params(scale),
        "history_days": history_days,
        "score_history_days": min(SCORE_HISTORY_DAYS, history_days),
        "scoring": label,
        # a new signal SQL or rollup layout needs a new base (the old one lacks its tables)
        "engine": common.engine_signature(),
    }
    marker = folder / "base.json"
    if marker.exists() and json.loads(marker.read_text()).get("wanted") == wanted and path.exists():
        common.say(f"{scale}: reusing prepared warehouse {path.relative_to(common.REPO)}")
        return path
    common.require_sample(scale)
    common.fresh_dir(folder)
    os.environ.update(common.pipeline_env(scale, folder))
    from acct_pipeline import warehouse
    from acct_pipeline.connectors.ingest import ingest_days, ingest_snapshot
    from acct_pipeline.quality.identity import build_accounts, build_identity

    compute_signals, score_day, _ = common.scoring_functions()
    first, _last = common.period(scale)
    days = [first + timedelta(days=i) for i in range(history_days)]
    timings: dict[str, Any] = {}
    t0 = time.perf_counter()
    with warehouse.connect(path) as con:
        warehouse.ensure_core_tables(con)
        with common.timer(timings, "snapshots_s"):
            for spec in warehouse.SNAPSHOT_TABLES:
                r = ingest_snapshot(con, spec)
                common.say(f"{scale} base: {spec.name} {r.rows_kept:,} rows")
        with common.timer(timings, "identity_s"):
            build_accounts(con)
            build_identity(con)
        if days:
            with common.timer(timings, "events_s"):
                ingest_days(
                    con,
                    warehouse.PRODUCT_EVENTS,
                    days,
                    progress=lambda m: common.say(f"{scale} base: {m}"),
                )
        scored = days[-SCORE_HISTORY_DAYS:]
        per_day = []
        for d in scored:
            s0 = time.perf_counter()
            signal_rows = compute_signals(con, d)
            s1 = time.perf_counter()
            score_rows = score_day(con, d)
            s2 = time.perf_counter()
            per_day.append(
                {
                    "day": d.isoformat(),
                    "signals_s": round(s1 - s0, 2),
                    "scores_s": round(s2 - s1, 2),
                }
            )
            common.say(
                f"{scale} base: scored {d} (signals {s1 - s0:.1f}s, {signal_rows:,} rows; "
                f"scores {s2 - s1:.1f}s, {score_rows:,} rows)"
            )
        timings["scored_days"] = per_day
        con.execute("CHECKPOINT")
    timings["total_s"] = round(time.perf_counter() - t0, 1)
    timings["load_average"] = common.load_average()
    marker.write_text(json.dumps({"wanted": wanted, "timings": timings}, indent=1) + "\n")
    common.say(f"{scale}: prepared {path.relative_to(common.REPO)} in {timings['total_s']}s")
    return path


# ------------------------------------------------------------------------------------ children


def child_inproc(scale: str, work: Path, day: date) -> None:
    os.environ.update(common.pipeline_env(scale, work))
    t: dict[str, Any] = {}
    with common.timer(t, "import_s"):
        from acct_pipeline import warehouse
        from acct_pipeline.connectors.ingest import ingest_days

        compute_signals, score_day, label = common.scoring_functions()
        common.preload_scoring()
    t["rss_after_import_mb"] = common.vm_hwm_mb()
    with warehouse.connect(work / "warehouse.duckdb") as con:
        with common.timer(t, "ingest_s"):
            loaded = ingest_days(con, warehouse.PRODUCT_EVENTS, [day])
        t["rss_after_ingest_mb"] = common.vm_hwm_mb()
        with common.timer(t, "signals_s"):
            t["signal_rows"] = compute_signals(con, day)
        t["rss_after_signals_mb"] = common.vm_hwm_mb()
        with common.timer(t, "scores_s"):
            t["score_rows"] = score_day(con, day)
    t["events_ingested"] = loaded.rows_kept
    t["signals_plus_scores_s"] = round(t["signals_s"] + t["scores_s"], 3)
    t["ingest_signals_scores_s"] = round(t["ingest_s"] + t["signals_plus_scores_s"], 3)
    t["scoring"] = label
    common.child_result(t)


def child_dagster(scale: str, work: Path, day: date) -> None:
    os.environ.update(common.pipeline_env(scale, work))
    t: dict[str, Any] = {}
    with common.timer(t, "import_s"):
        import dagster as dg

        import acct_pipeline.definitions  # noqa: F401
        from acct_pipeline.run import run_days
    t["scoring"] = common.dagster_scoring_label()
    instance = dg.DagsterInstance.ephemeral()
    with common.timer(t, "run_days_s"):
        outcome = run_days(day, day, instance=instance, log_level="WARNING")
    t["success"] = outcome.success
    t["failed_checks"] = outcome.failed_checks
    steps = {}
    for s in instance.get_run_step_stats(outcome.run_id):
        if s.start_time and s.end_time:
            steps[s.step_key] = round(s.end_time - s.start_time, 2)
    t["steps_s"] = dict(sorted(steps.items(), key=lambda kv: -kv[1]))
    t["steps_sum_s"] = round(sum(steps.values()), 2)
    common.child_result(t)


# ---------------------------------------------------------------------------------------- main


def run_scale(scale: str, day_index: int, repeats: int, dagster: bool) -> dict[str, Any]:
    machine = common.machine_info()
    common.require_sample(scale)
    first, _ = common.period(scale)
    day = first + timedelta(days=day_index - 1)
    base = prepare_base(scale, day_index - 1)
    machine["load_average_at_start"] = common.load_average()  # after the (unmeasured) preparation
    work = common.scale_dir(scale) / "work_daily"
    inproc, dag = [], []
    for i in range(repeats):
        common.copy_warehouse(base, work)
        inproc.append(
            common.measure(
                [
                    __file__,
                    "--child",
                    "inproc",
                    "--scale",
                    scale,
                    "--work",
                    str(work),
                    "--day",
                    day.isoformat(),
                ],
                label=f"{scale} day {day_index} in-process #{i + 1}",
            )
        )
        if dagster:
            common.copy_warehouse(base, work)
            dag.append(
                common.measure(
                    [
                        __file__,
                        "--child",
                        "dagster",
                        "--scale",
                        scale,
                        "--work",
                        str(work),
                        "--day",
                        day.isoformat(),
                    ],
                    label=f"{scale} day {day_index} Dagster run #{i + 1}",
                )
            )

    def med(rows: list[dict], key: str) -> float | None:
        vals = [r[key] for r in rows if r.get(key) is not None]
        return round(common.median(vals), 3) if vals else None

    summary: dict[str, Any] = {
        "inproc_ingest_s": med(inproc, "ingest_s"),
        "inproc_signals_s": med(inproc, "signals_s"),
        "inproc_scores_s": med(inproc, "scores_s"),
        "inproc_signals_plus_scores_s": med(inproc, "signals_plus_scores_s"),
        "inproc_ingest_signals_scores_s": med(inproc, "ingest_signals_scores_s"),
        "inproc_peak_rss_mb": max(r["process_peak_rss_mb"] for r in inproc),
        "events_ingested": inproc[0]["events_ingested"],
        "scoring": inproc[0]["scoring"],
    }
    if dag:
        summary |= {
            "dagster_run_s": med(dag, "run_days_s"),
            "dagster_process_s": med(dag, "process_wall_s"),
            "dagster_peak_rss_mb": max(r["process_peak_rss_mb"] for r in dag),
            "dagster_success": all(r["success"] for r in dag),
            "dagster_scoring": dag[0]["scoring"],
        }
    suffix = "" if day_index == common.DAYS else f"_day{day_index}"
    cmd = (
        f".venv/bin/python bench/daily_run.py --scale {scale} "
        f"--day-index {day_index} --repeats {repeats}"
    )
    payload = {
        "scale": scale,
        "params": common.scale_params(scale),
        "day": day.isoformat(),
        "day_index": day_index,
        "history_days_loaded": day_index - 1,
        "command": cmd + ("" if dagster else " --skip-dagster"),
        "summary": summary,
        "inproc_runs": inproc,
        "dagster_runs": dag,
        "base_preparation": json.loads((base.parent / "base.json").read_text()).get("timings"),
    }
    common.write_result(f"daily_run_{common.scale_tag(scale)}{suffix}", payload, machine)
    common.say(f"{scale} day {day_index}: {json.dumps(summary)}")
    return payload


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--scale", action="append", choices=list(common.SCALES))
    p.add_argument("--day-index", type=int, default=common.DAYS, help="1..90: the day measured")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--skip-dagster", action="store_true")
    p.add_argument(
        "--prepare-only", action="store_true", help="build the prepared warehouse and stop"
    )
    p.add_argument("--child", choices=["inproc", "dagster"], help=argparse.SUPPRESS)
    p.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--day", type=date.fromisoformat, help=argparse.SUPPRESS)
    args = p.parse_args()
    scales = args.scale or ["10k", "100k"]
    if args.child == "inproc":
        child_inproc(scales[0], args.work, args.day)
        return 0
    if args.child == "dagster":
        child_dagster(scales[0], args.work, args.day)
        return 0
    for scale in scales:
        if args.prepare_only:
            prepare_base(scale, args.day_index - 1)
        else:
            run_scale(scale, args.day_index, args.repeats, not args.skip_dagster)
    return 0


if __name__ == "__main__":
    sys.exit(main())
