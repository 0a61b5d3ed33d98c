"""The signal SQL of two git revisions on the same warehouse: time and equality (an A/B).

Builds (or reuses) the daily-run benchmark's base warehouse of a scale (``daily_run.py``), then
computes its last day's signals with ``sql/signals.sql`` as it is in revision ``--old`` and as
it is in the working tree, each on a fresh copy of the warehouse, interleaved ``--repeats``
times, and compares the two results column by column (numbers within 1e-9, everything else
equal). A change to the SQL that is meant to be faster and say the same thing is judged here
on one machine, in one run: timings from different runs (or machines) are not comparable.
Result: ``bench/results/signals_sql_ab_<scale>.json``.

    .venv/bin/python bench/scale_data.py --scale 100k      # once: the sample data
    .venv/bin/python bench/signals_sql_ab.py --scale 100k --old b1e3d93~1
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import common  # noqa: E402
import daily_run  # noqa: E402

SQL_PATH = "acct_pipeline/scoring/sql/signals.sql"


def sql_at(revision: str) -> str:
    """``signals.sql`` as it is in ``revision``."""
    return subprocess.run(
        ["git", "show", f"{revision}:{SQL_PATH}"],
        cwd=common.REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def differing_columns(old: Any, new: Any) -> list[str]:
    """Columns whose values differ between two frames of the same rows (sorted alike)."""
    differ = []
    for name in old.columns:
        a, b = old[name], new[name]
        both_null = a.isna() & b.isna()
        equal = (a - b).abs() <= 1e-9 if a.dtype.kind == "f" else a == b
        same = both_null | equal
        if not bool(same.all()):
            differ.append(name)
    return differ


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", default="100k", choices=list(common.SCALES))
    ap.add_argument("--history-days", type=int, default=36, help="days in the base warehouse")
    ap.add_argument("--old", required=True, help="git revision of the SQL to compare against")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()

    base, day = daily_run.base_and_last_day(args.scale, args.history_days)
    work = common.fresh_dir(common.scale_dir(args.scale) / "signals_sql_ab")
    from acct_pipeline import warehouse
    from acct_pipeline.scoring import signals
    from acct_pipeline.scoring.model import load_model

    model = load_model()
    variants = {"old": sql_at(args.old), "new": signals.signals_sql()}
    machine = common.machine_info()
    seconds: dict[str, list[float]] = {label: [] for label in variants}
    frames: dict[str, Any] = {}
    for repeat in range(args.repeats):
        for label, sql in variants.items():
            db = common.copy_warehouse(base, work / f"{label}_{repeat}")
            signals.signals_sql = lambda sql=sql: sql  # the statement compute_signals runs
            with warehouse.connect(db) as con:
                t0 = time.perf_counter()
                rows = signals.compute_signals(con, day, model)
                seconds[label].append(round(time.perf_counter() - t0, 3))
                frames[label] = con.execute(
                    f"SELECT * FROM {warehouse.ACCOUNT_SIGNALS} "
                    "WHERE as_of_date = ? ORDER BY account_id",
                    [day],
                ).df()
            shutil.rmtree(db.parent)
            common.say(f"{label} #{repeat + 1}: {seconds[label][-1]} s, {rows:,} rows")
    old, new = frames["old"], frames["new"]
    same_shape = list(old.columns) == list(new.columns) and len(old) == len(new)
    differ = differing_columns(old, new) if same_shape else ["(different rows or columns)"]
    result = {
        "scale": args.scale,
        "day": day.isoformat(),
        "old_revision": args.old,
        "old_s": seconds["old"],
        "new_s": seconds["new"],
        "old_median_s": common.median(seconds["old"]),
        "new_median_s": common.median(seconds["new"]),
        "speedup": round(common.median(seconds["old"]) / common.median(seconds["new"]), 2)
        if common.median(seconds["new"]) > 0
        else math.nan,
        "rows": len(new),
        "columns_compared": len(new.columns),
        "differing_columns": differ,
    }
    common.write_result(f"signals_sql_ab_{args.scale}", result, machine)
    common.say(
        f"old {result['old_median_s']} s, new {result['new_median_s']} s, "
        f"{result['rows']:,} rows; differing columns: {differ or 'none'}"
    )
    return 0 if not differ else 1


if __name__ == "__main__":
    raise SystemExit(main())
