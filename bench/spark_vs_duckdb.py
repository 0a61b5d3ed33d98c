"""One day of signals and scores on local Spark beside DuckDB (issue 24).

Builds (or reuses) the daily-run benchmark's base warehouse of a scale (``daily_run.py``: the
sample's snapshots, events and 31 scored days), then re-computes its last day twice on copies:

* ``duckdb``: ``compute_signals`` + ``score_day`` (the embedded default);
* ``spark``:  the warehouse exported to a Parquet lake (timed apart: in production the events
  are already there), then ``engine.days.signals_day`` + ``engine.days.score_day`` on a local
  session (``local[*]``) — the same SQL transpiled, the same scoring per account bucket — for
  the day before (its whole window of usage rollups built into the empty lake: the first day
  on Spark) and then the day itself (one new day of rollups: the daily cost);

and checks that both wrote the same rows, tiers and playbooks for the day. Beside the wall times it
records Spark's own per-stage metrics for each step (tasks, executor run and CPU time, input,
shuffle read / write and spill, from the session's monitoring REST API on loopback): the
per-partition numbers the 10M-account plan in ``bench/README.md`` is computed from. Results:
``bench/results/spark_vs_duckdb_<scale>.json``.

    .venv/bin/python bench/scale_data.py --scale 100k      # once: the sample data
    .venv/bin/python bench/spark_vs_duckdb.py --scale 100k
"""

from __future__ import annotations

import argparse
import shutil
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import daily_run  # noqa: E402

STAGE_FIELDS = (
    "numTasks",
    "executorRunTime",
    "executorCpuTime",
    "inputBytes",
    "inputRecords",
    "shuffleReadBytes",
    "shuffleReadRecords",
    "shuffleWriteBytes",
    "shuffleWriteRecords",
    "memoryBytesSpilled",
    "diskBytesSpilled",
    "peakExecutionMemory",
)


def _stages(session: Any) -> list[dict[str, Any]]:
    """Every completed stage of the session so far (the monitoring REST API of its UI)."""
    import requests

    sc = session.sparkContext
    url = f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/stages"
    return [s for s in requests.get(url, timeout=30).json() if s.get("status") == "COMPLETE"]


def stage_metrics(session: Any, before: set[tuple[int, int]]) -> dict[str, Any]:
    """The totals of the stages completed since ``before`` (ids of the stages seen then), with
    the largest stages by executor time: run / CPU time in seconds, bytes in MB."""
    new = [s for s in _stages(session) if (s["stageId"], s["attemptId"]) not in before]
    total: dict[str, Any] = {"stages": len(new)}
    for f in STAGE_FIELDS:
        total[f] = sum(int(s.get(f) or 0) for s in new)
    top = sorted(new, key=lambda s: -int(s.get("executorRunTime") or 0))[:5]
    total["largest_stages"] = [
        {
            "name": s.get("name", "")[:80],
            "tasks": s["numTasks"],
            "run_s": round(s["executorRunTime"] / 1000, 2),
            "cpu_s": round(s["executorCpuTime"] / 1e9, 2),
            "input_mb": round(s["inputBytes"] / 1e6, 1),
            "shuffle_read_mb": round(s["shuffleReadBytes"] / 1e6, 1),
            "shuffle_write_mb": round(s["shuffleWriteBytes"] / 1e6, 1),
        }
        for s in top
    ]
    total["executor_run_s"] = round(total.pop("executorRunTime") / 1000, 2)
    total["executor_cpu_s"] = round(total.pop("executorCpuTime") / 1e9, 2)
    mb = {
        "inputBytes": "input_mb",
        "shuffleReadBytes": "shuffle_read_mb",
        "shuffleWriteBytes": "shuffle_write_mb",
        "memoryBytesSpilled": "spilled_memory_mb",
        "diskBytesSpilled": "spilled_disk_mb",
        "peakExecutionMemory": "peak_execution_memory_mb",
    }
    for field, name in mb.items():
        total[name] = round(total.pop(field) / 1e6, 1)
    return total


def seen(session: Any) -> set[tuple[int, int]]:
    return {(s["stageId"], s["attemptId"]) for s in _stages(session)}


def same_scores(duck: Path, spk: Path, day: Any) -> dict[str, Any]:
    """D's scores of both warehouses side by side: the largest health-score difference and
    whether every account got the same tier and playbook."""
    import duckdb

    with duckdb.connect(str(duck), read_only=True) as con:
        con.execute(f"ATTACH '{spk}' AS spk (READ_ONLY)")
        diff, tiers, playbooks, n = con.execute(
            """SELECT max(abs(a.health_score - b.health_score)),
                      count(*) FILTER (WHERE a.tier IS DISTINCT FROM b.tier),
                      count(*) FILTER (WHERE a.recommended_playbook
                                       IS DISTINCT FROM b.recommended_playbook),
                      count(*)
               FROM scores.account_scores a
               JOIN spk.scores.account_scores b USING (account_id, as_of_date)
               WHERE a.as_of_date = ?""",
            [day],
        ).fetchone()
    return {
        "compared_accounts": n,
        "max_health_score_diff": diff,
        "tier_differences": tiers,
        "playbook_differences": playbooks,
        "same_tiers": tiers == 0 and playbooks == 0 and n > 0,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", default="100k", choices=list(common.SCALES))
    ap.add_argument("--history-days", type=int, default=36, help="days in the base warehouse")
    ap.add_argument("--master", default="local[*]")
    ap.add_argument("--buckets", type=int, default=64, help="account buckets scored per task")
    args = ap.parse_args()

    base, day = daily_run.base_and_last_day(args.scale, args.history_days)
    work = common.fresh_dir(common.scale_dir(args.scale) / "spark_vs_duckdb")
    from acct_pipeline import warehouse
    from acct_pipeline.engine.config import EngineSettings
    from acct_pipeline.engine.days import score_day as spark_score_day
    from acct_pipeline.engine.days import signals_day
    from acct_pipeline.engine.lake import export_to_lake
    from acct_pipeline.engine.spark import SparkEngine, spark_session
    from acct_pipeline.scoring.model import load_model
    from acct_pipeline.scoring.scores import score_day
    from acct_pipeline.scoring.signals import compute_signals

    model = load_model()
    machine = common.machine_info()  # the load average at the start
    t: dict[str, Any] = {"scale": args.scale, "day": day.isoformat(), "buckets": args.buckets}

    duck = common.copy_warehouse(base, work / "duckdb")
    with warehouse.connect(duck) as con:
        with common.timer(t, "duckdb_signals_s"):
            t["duckdb_signal_rows"] = compute_signals(con, day, model)
        with common.timer(t, "duckdb_scores_s"):
            t["duckdb_score_rows"] = score_day(con, day, model, churn=None)

    spk = common.copy_warehouse(base, work / "spark")
    lake = work / "lake"
    cold = day - timedelta(days=1)
    with warehouse.connect(spk) as con:
        with common.timer(t, "lake_export_s"):
            t["lake_rows"] = export_to_lake(con, lake, results_before=cold)
        with common.timer(t, "spark_session_s"):
            session = spark_session(
                EngineSettings(engine="spark", spark_master=args.master),
                conf={
                    "spark.sql.execution.arrow.pyspark.enabled": "true",
                    # the UI's REST API on loopback gives the per-stage metrics
                    "spark.ui.enabled": "true",
                    "spark.ui.showConsoleProgress": "false",
                    "spark.ui.host": "127.0.0.1",
                    "spark.driver.host": "127.0.0.1",
                },
            )
            session.sparkContext.setLogLevel("ERROR")
        engine = SparkEngine(session, str(lake), buckets=args.buckets)
        t["spark_shuffle_partitions"] = session.conf.get("spark.sql.shuffle.partitions")
        # D-1 on an empty lake: the rollups of its whole window are built (a one-off, the first
        # day on Spark); D is the daily cost: one new day of rollups, as in DuckDB's run.
        for label, when in (("spark_first_day", cold), ("spark", day)):
            before = seen(session)
            with common.timer(t, f"{label}_signals_s"):
                t[f"{label}_signal_rows"] = signals_day(engine, con, when, model)
            t[f"{label}_signals_stages"] = stage_metrics(session, before)
            before = seen(session)
            with common.timer(t, f"{label}_scores_s"):
                t[f"{label}_score_rows"] = spark_score_day(engine, con, when, model, churn=None)
            t[f"{label}_scores_stages"] = stage_metrics(session, before)
            common.say(
                f"{label} {when}: signals {t[f'{label}_signals_s']}s, "
                f"scores {t[f'{label}_scores_s']}s"
            )
        t["lake_mb"] = round(sum(f.stat().st_size for f in lake.rglob("*.parquet")) / 1e6, 1)
        t["lake_events_mb"] = round(
            sum(f.stat().st_size for f in (lake / "ingest" / "product_events").rglob("*.parquet"))
            / 1e6,
            1,
        )
        t["lake_event_rows_day"] = con.execute(
            "SELECT count(*) FROM ingest.product_events WHERE event_date = ?", [day]
        ).fetchone()[0]
        session.stop()
    t.update(same_scores(duck, spk, day))
    t["same_row_counts"] = (t["duckdb_signal_rows"], t["duckdb_score_rows"]) == (
        t["spark_signal_rows"],
        t["spark_score_rows"],
    )
    t["duckdb_total_s"] = round(t["duckdb_signals_s"] + t["duckdb_scores_s"], 2)
    t["spark_total_s"] = round(t["spark_signals_s"] + t["spark_scores_s"], 2)
    t["spark_scoring_s_per_bucket"] = round(t["spark_scores_s"] / args.buckets, 3)
    t["accounts_per_bucket"] = round(t["spark_score_rows"] / args.buckets)
    common.say(
        f"{args.scale} {day}: duckdb {t['duckdb_total_s']}s, spark {t['spark_total_s']}s "
        f"(session {t['spark_session_s']}s, lake export {t['lake_export_s']}s)"
    )
    common.write_result(f"spark_vs_duckdb_{args.scale}", t, machine)
    shutil.rmtree(work, ignore_errors=True)
    return 0 if t["same_row_counts"] and t["same_tiers"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
