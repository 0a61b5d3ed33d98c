"""Ours vs the floor vs pandas, side by side in one run, on the same warehouse and day.

On a copy of the prepared warehouse (89 days loaded, see ``daily_run.py``) with the last day's
events ingested, three steps are measured in turn, each in its own process (wall time of the
step and peak RSS of the process), ``--repeats`` times, interleaved:

* **ours**   the day's usage rollup (``acct_pipeline.scoring.usage``: the day's events grouped
  once by workspace and user) + ``compute_signals`` (every signal, usage read from the 35
  daily rollups) + ``score_day`` (the scores); all three are in "ours";
* **floor**  one bare DuckDB query: the 30-day window of events (constant date bounds, so the
  scan is pruned to the window) grouped by workspace, ``count(*)`` and
  ``count(DISTINCT user_id)``, into a temp table. No join, no scoring: nothing can be faster;
* **pandas** the usage signals the way a notebook would compute them: read the window's events
  (35 days, for the usage trend) into a DataFrame, merge the identity map, ``groupby`` the
  account. Only the event signals and no scores, so the comparison flatters pandas.

    .venv/bin/python bench/floor_and_pandas.py --scale 100k [--repeats 3]

Writes ``bench/results/floor_and_pandas_<scale>.json`` with ours ÷ floor and pandas ÷ ours.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import daily_run  # noqa: E402

FLOOR_SQL = """
CREATE OR REPLACE TEMP TABLE _floor AS
SELECT group_id, count(*) AS events, count(DISTINCT user_id) AS users
FROM ingest.product_events
WHERE event_date BETWEEN DATE '{start}' AND DATE '{end}'
GROUP BY group_id
"""

PANDAS_EVENTS_SQL = """
SELECT event_name, occurred_at, user_id, group_id, event_date
FROM ingest.product_events
WHERE event_date BETWEEN ? AND ?
"""


def child_prepare(scale: str, work: Path, day: date) -> None:
    """Ingest the measured day into the working copy (not measured)."""
    os.environ.update(common.pipeline_env(scale, work))
    from acct_pipeline import warehouse
    from acct_pipeline.connectors.ingest import ingest_days

    with warehouse.connect(work / "warehouse.duckdb") as con:
        r = ingest_days(con, warehouse.PRODUCT_EVENTS, [day])
        window = con.execute(
            "SELECT count(*) FROM ingest.product_events WHERE event_date BETWEEN ? AND ?",
            [day - timedelta(days=common.WINDOW_DAYS - 1), day],
        ).fetchone()[0]
        total = con.execute("SELECT count(*) FROM ingest.product_events").fetchone()[0]
    common.child_result(
        {"events_ingested": r.rows_kept, "events_in_window": window, "events_total": total}
    )


def child_ours(scale: str, work: Path, day: date) -> None:
    os.environ.update(common.pipeline_env(scale, work))
    t: dict[str, Any] = {}
    with common.timer(t, "import_s"):
        from acct_pipeline import warehouse

        compute_signals, score_day, label = common.scoring_functions()
        common.preload_scoring()
    from acct_pipeline.scoring.signals import USAGE_WINDOW_DAYS
    from acct_pipeline.scoring.usage import refresh_usage_rollups

    with warehouse.connect(work / "warehouse.duckdb") as con:
        # the day's usage rollup (compute_signals would build it first thing; timed apart here)
        with common.timer(t, "rollup_s"):
            rebuilt = refresh_usage_rollups(con, day - timedelta(days=USAGE_WINDOW_DAYS - 1), day)
        with common.timer(t, "signals_s"):
            compute_signals(con, day)
        with common.timer(t, "scores_s"):
            score_day(con, day)
    t["rollup_days_rebuilt"] = len(rebuilt)
    t["step_s"] = round(t["rollup_s"] + t["signals_s"] + t["scores_s"], 3)
    t["scoring"] = label
    common.child_result(t)


def child_floor(scale: str, work: Path, day: date) -> None:
    import duckdb

    start = day - timedelta(days=common.WINDOW_DAYS - 1)
    con = duckdb.connect(str(work / "warehouse.duckdb"))
    t: dict[str, Any] = {}
    with common.timer(t, "step_s"):
        con.execute(FLOOR_SQL.format(start=start.isoformat(), end=day.isoformat()))
    t["groups"] = con.execute("SELECT count(*) FROM _floor").fetchone()[0]
    con.close()
    common.child_result(t)


def pandas_usage_signals(con: Any, day: date) -> Any:
    """The usage signals in plain pandas, as a notebook would write them."""
    import pandas as pd

    d = pd.Timestamp(day)
    events = con.execute(PANDAS_EVENTS_SQL, [day - timedelta(days=34), day]).df()
    events = events[events["occurred_at"] < d + pd.Timedelta(days=1)]
    links = con.execute(
        "SELECT DISTINCT source_id AS group_id, account_id "
        "FROM staging.identity_map WHERE source_system = 'product'"
    ).df()
    events = events.merge(links, on="group_id", how="inner")
    events["event_date"] = pd.to_datetime(events["event_date"])

    last30 = events[events["event_date"] > d - pd.Timedelta(days=30)]
    last7 = events[events["event_date"] > d - pd.Timedelta(days=7)]
    by_account = last30.groupby("account_id")
    out = pd.DataFrame(
        {
            "active_users_30d": by_account["user_id"].nunique(),
            "active_days_30d": by_account["event_date"].nunique(),
            "events_30d": by_account.size(),
            "key_features_used_30d": by_account["event_name"].nunique(),
        }
    )
    out["active_users_7d"] = last7.groupby("account_id")["user_id"].nunique()
    user_days = events.drop_duplicates(["account_id", "user_id", "event_date"])
    recent = (
        user_days[user_days["event_date"] > d - pd.Timedelta(days=7)].groupby("account_id").size()
    )
    prior = (
        user_days[user_days["event_date"] <= d - pd.Timedelta(days=7)].groupby("account_id").size()
    )
    out["usage_trend_pct"] = (recent / 7) / (prior / 28) - 1
    accounts = con.execute("SELECT account_id FROM staging.accounts").df()
    return (
        accounts.set_index("account_id")
        .join(out)
        .fillna({"active_users_30d": 0, "active_users_7d": 0})
    )


def child_pandas(scale: str, work: Path, day: date) -> None:
    import duckdb

    t: dict[str, Any] = {}
    with common.timer(t, "import_s"):
        import pandas  # noqa: F401
    con = duckdb.connect(str(work / "warehouse.duckdb"))
    with common.timer(t, "step_s"):
        frame = pandas_usage_signals(con, day)
    # Sanity check: the same active users (30 d) as the pipeline's signals for that day.
    ours = con.execute(
        "SELECT account_id, active_users_30d FROM features.account_signals WHERE as_of_date = ?",
        [day],
    ).df()
    if len(ours):
        both = ours.set_index("account_id").join(
            frame["active_users_30d"], rsuffix="_pandas", how="inner"
        )
        both = both.dropna()
        t["active_users_30d_agree_share"] = round(
            float((both["active_users_30d"] == both["active_users_30d_pandas"]).mean()), 4
        )
    t["rows"] = len(frame)
    con.close()
    common.child_result(t)


CHILDREN = {
    "prepare": child_prepare,
    "ours": child_ours,
    "floor": child_floor,
    "pandas": child_pandas,
}


def run_scale(scale: str, repeats: int, pandas: bool = True) -> dict[str, Any]:
    machine = common.machine_info()
    common.require_sample(scale)
    _, day = common.period(scale)
    base = daily_run.prepare_base(scale, common.DAYS - 1)
    machine["load_average_at_start"] = common.load_average()
    work = common.scale_dir(scale) / "work_floor"
    common.copy_warehouse(base, work)
    args = ["--scale", scale, "--work", str(work), "--day", day.isoformat()]
    prep = common.measure(
        [__file__, "--child", "prepare", *args], label=f"{scale} ingest {day} (setup)"
    )
    steps = ("ours", "floor", "pandas") if pandas else ("ours", "floor")
    runs: dict[str, list[dict]] = {step: [] for step in steps}
    for i in range(repeats):
        for step in steps:
            runs[step].append(
                common.measure([__file__, "--child", step, *args], label=f"{scale} {step} #{i + 1}")
            )

    def med(step: str, key: str = "step_s") -> float | None:
        if not runs.get(step):
            return None
        return round(common.median([r[key] for r in runs[step]]), 3)

    ours, floor, pandas_s = med("ours"), med("floor"), med("pandas")
    assert ours is not None and floor is not None
    ours_signals = med("ours", "signals_s")
    summary = {
        "ours_signals_plus_scores_s": ours,
        "ours_signals_s": ours_signals,
        "ours_rollup_s": med("ours", "rollup_s"),
        "ours_scores_s": med("ours", "scores_s"),
        "floor_s": floor,
        "pandas_s": pandas_s,
        "ours_over_floor": round(ours / floor, 2),
        "ours_signals_over_floor": round(ours_signals / floor, 2),
        "pandas_over_ours": round(pandas_s / ours, 2) if pandas_s else None,
        "pandas_over_ours_signals": round(pandas_s / ours_signals, 2) if pandas_s else None,
        "peak_rss_mb": {s: max(r["process_peak_rss_mb"] for r in rows) for s, rows in runs.items()},
        "events_in_window": prep["events_in_window"],
        "events_total": prep["events_total"],
        "pandas_active_users_30d_agree_share": (
            runs["pandas"][-1].get("active_users_30d_agree_share") if pandas else None
        ),
        "scoring": runs["ours"][0]["scoring"],
    }
    n = repeats
    payload = {
        "scale": scale,
        "params": common.scale_params(scale),
        "day": day.isoformat(),
        "repeats": repeats,
        "command": f".venv/bin/python bench/floor_and_pandas.py --scale {scale} --repeats {n}"
        + ("" if pandas else " --skip-pandas"),
        "floor_sql": FLOOR_SQL.strip(),
        "summary": summary,
        "runs": runs,
    }
    common.write_result(f"floor_and_pandas_{common.scale_tag(scale)}", payload, machine)
    common.say(f"{scale}: {summary}")
    return payload


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--scale", action="append", choices=list(common.SCALES))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--skip-pandas",
        action="store_true",
        help="ours and the floor only (the pandas version holds the 35-day window in memory: "
        "about 7.5 GB at 100k accounts x 6 events a day)",
    )
    p.add_argument("--child", choices=list(CHILDREN), help=argparse.SUPPRESS)
    p.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--day", type=date.fromisoformat, help=argparse.SUPPRESS)
    args = p.parse_args()
    scales = args.scale or ["10k", "100k"]
    if args.child:
        CHILDREN[args.child](scales[0], args.work, args.day)
        return 0
    t0 = time.perf_counter()
    for scale in scales:
        run_scale(scale, args.repeats, pandas=not args.skip_pandas)
    common.say(f"floor_and_pandas done in {time.perf_counter() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
