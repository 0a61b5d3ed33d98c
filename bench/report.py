"""Render the result tables of ``bench/README.md`` from ``bench/results/*.json``.

Only the part between ``<!-- tables:start -->`` and ``<!-- tables:end -->`` is rewritten; the
prose around it (method, notes on missed targets) is kept as written.

    .venv/bin/python bench/report.py
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

README = common.BENCH_DIR / "README.md"
START, END = "<!-- tables:start -->", "<!-- tables:end -->"


def _load(name: str) -> dict[str, Any] | None:
    path = common.RESULTS_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _latest(prefix: str) -> dict[str, Any] | None:
    paths = sorted(common.RESULTS_DIR.glob(f"{prefix}*.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(paths[-1].read_text()) if paths else None


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "**no**"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _table(header: list[str], rows: Iterable[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return out


def _load_avg(doc: dict[str, Any]) -> str:
    la = doc.get("machine", {}).get("load_average_at_start")
    return "/".join(f"{x:.1f}" for x in la) if la else "–"


def _scales(prefix: str) -> list[dict[str, Any]]:
    docs = []
    for scale in common.SCALES:
        for path in sorted(common.RESULTS_DIR.glob(f"{prefix}_{scale}*.json")):
            stem = path.stem[len(prefix) + 1 :]
            if stem == scale or stem.startswith(f"{scale}-e") or stem.startswith(f"{scale}_"):
                docs.append(json.loads(path.read_text()))
    return docs


def _cmd(d: dict[str, Any]) -> str:
    """The command of a result, with the environment it ran under when that was not the
    default (events per account and day, DuckDB memory limit)."""
    env = []
    epad = d.get("params", {}).get("events_per_account_day")
    if epad is not None and epad != 6.0 and "BENCH_EVENTS_PER_ACCOUNT_DAY" not in d["command"]:
        env.append(f"BENCH_EVENTS_PER_ACCOUNT_DAY={epad:g}")
    limit = d.get("machine", {}).get("duckdb_memory_limit", "")
    if limit and not limit.startswith("default") and "memory-limit" not in d["command"]:
        env.append(f"ACCT_DUCKDB_MEMORY_LIMIT={limit}")
    return f"`{' '.join([*env, d['command']])}`"


def _ok(value: float | None, limit: float, below: bool = True, applies: bool = True) -> str:
    """A value with ✅ / ❌ against its target; no mark where the target does not apply."""
    if value is None:
        return "–"
    if not applies:
        return f"{value:,.2f}"
    good = value <= limit if below else value >= limit
    return f"{value:,.2f} {'✅' if good else '❌'}"


def _target_scale(doc: dict[str, Any]) -> bool:
    """The issue sets the daily run's targets (floor, pandas, memory) for 100k accounts."""
    return doc["scale"] == "100k"


def machine_section() -> list[str]:
    doc = next(
        (
            d
            for d in (_latest("daily_run"), _latest("floor_and_pandas"), _latest("scale_data"))
            if d
        ),
        None,
    )
    if not doc:
        return ["(no results yet)"]
    m = doc["machine"]
    return _table(
        [
            "cores",
            "memory",
            "CPU",
            "OS",
            "python",
            "duckdb",
            "dagster",
            "pandas",
            "pyarrow",
            "commit",
        ],
        [
            [
                m["cores"],
                f"{m['memory_gb']} GB",
                m["cpu_model"],
                m["os"],
                m["python"],
                m["duckdb"],
                m["dagster"],
                m["pandas"],
                m["pyarrow"],
                m["git_commit"],
            ]
        ],
    )


def scale_section() -> list[str]:
    rows = []
    for d in _scales("scale_data"):
        p = d["params"]
        rows.append(
            [
                d["scale"],
                p["accounts"],
                p["days"],
                p["events_per_account_day"],
                d["events_per_account_day_measured"],
                d["counts"]["product_events"],
                f"{d['size_on_disk_gb']} GB",
                round(d["generation_s"]),
                _load_avg(d),
            ]
        )
    return _table(
        [
            "scale",
            "accounts",
            "days",
            "events/account/day (param)",
            "measured",
            "events",
            "CSV size",
            "generation s",
            "load at start",
        ],
        rows,
    )


def daily_section() -> list[str]:
    rows = []
    for d in _scales("daily_run"):
        s = d["summary"]
        rows.append(
            [
                d["scale"],
                f"{d['day_index']} ({d['history_days_loaded']} d loaded)",
                s["events_ingested"],
                s["inproc_ingest_s"],
                s["inproc_signals_s"],
                s["inproc_scores_s"],
                s["inproc_signals_plus_scores_s"],
                _ok(s["inproc_peak_rss_mb"] / 1024, 4.0, applies=_target_scale(d)),
                s.get("dagster_run_s"),
                s.get("dagster_peak_rss_mb"),
                _load_avg(d),
                _cmd(d),
            ]
        )
    return _table(
        [
            "scale",
            "day",
            "events that day",
            "ingest s",
            "signals s",
            "scores s",
            "signals+scores s",
            "in-process peak GB (< 4 at 100k)",
            "Dagster run s",
            "Dagster peak MB",
            "load at start",
            "command",
        ],
        rows,
    )


def floor_section() -> list[str]:
    rows = []
    for d in _scales("floor_and_pandas"):
        s = d["summary"]
        rss = s["peak_rss_mb"]
        rows.append(
            [
                d["scale"],
                s["events_in_window"],
                s["floor_s"],
                s.get("ours_rollup_s", "–"),
                s["ours_signals_s"],
                s["ours_signals_plus_scores_s"],
                _ok(s["ours_over_floor"], 2.0, applies=_target_scale(d)),
                s["pandas_s"],
                _ok(s["pandas_over_ours"], 10.0, below=False, applies=_target_scale(d)),
                # pandas is skipped at 1M (its window would not fit in memory)
                " / ".join(
                    f"{rss[k]:.0f}" if rss.get(k) is not None else "–"
                    for k in ("floor", "ours", "pandas")
                ),
                s.get("pandas_active_users_30d_agree_share"),
                _load_avg(d),
                _cmd(d),
            ]
        )
    return _table(
        [
            "scale",
            "events in 30-d window",
            "floor s",
            "ours: day's rollup s",
            "ours: signals s",
            "ours: rollup+signals+scores s",
            "ours ÷ floor (≤ 2 at 100k)",
            "pandas s",
            "pandas ÷ ours (≥ 10 at 100k)",
            "peak MB floor / ours / pandas",
            "pandas = ours (active users 30 d)",
            "load at start",
            "command",
        ],
        rows,
    )


def flat_section() -> list[str]:
    rows = []
    for scale in common.SCALES:
        tag = common.scale_tag(scale)
        d90 = _load(f"daily_run_{tag}")
        early = sorted(
            (
                json.loads(p.read_text())
                for p in common.RESULTS_DIR.glob(f"daily_run_{tag}_day*.json")
            ),
            key=lambda d: d["day_index"],
        )
        for d in early if d90 else []:
            a = d["summary"]["inproc_signals_plus_scores_s"]
            b = d90["summary"]["inproc_signals_plus_scores_s"]
            n = d["day_index"]
            window = "1 day" if n == 1 else f"{min(n, 35)} days"
            rows.append(
                [
                    scale,
                    f"daily run in a fresh process: day {n} ({n - 1} d of history, "
                    f"events window holds {window}) vs day 90",
                    a,
                    b,
                    _ok(b / a, 1.3),
                    f"{_load_avg(d)} · {_load_avg(d90)}",
                    f"{_cmd(d)} and {_cmd(d90)}",
                ]
            )
        bf = _load(f"backfill_{tag}")
        if bf and "day1_signals_plus_scores_s" in bf["summary"]:
            s = bf["summary"]
            rows.append(
                [
                    scale,
                    f"inside the 90-day backfill, day 1 vs day 90 ({s['scoring']})",
                    s["day1_signals_plus_scores_s"],
                    s["day90_signals_plus_scores_s"],
                    _ok(s["day90_over_day1"], 1.3),
                    _load_avg(bf),
                    f"`{bf['command']}` (mean of days 1-5 vs 86-90: {s['last5_over_first5']}×; "
                    f"days 35-39 vs 86-90: {s.get('last5_over_days35_39', '–')}×)",
                ]
            )
    return _table(
        [
            "scale",
            "measured",
            "early day s",
            "day 90 s",
            "day 90 ÷ early day (≤ 1.3)",
            "load at start",
            "command",
        ],
        rows,
    )


def backfill_section() -> list[str]:
    rows = []
    for d in _scales("backfill"):
        s = d["summary"]
        rows.append(
            [
                d["scale"],
                s["events_total"],
                s["total_s"],
                round(s["total_s"] / 60, 1),
                s.get("duckdb_memory_limit", "default (80% of RAM)"),
                s["peak_rss_mb"],
                s.get("peak_step") or "–",
                s["success"],
                _load_avg(d),
                _cmd(d),
            ]
        )
    return _table(
        [
            "scale",
            "events",
            "run_days wall s",
            "minutes",
            "DuckDB memory_limit",
            "peak RSS MB",
            "step of the peak",
            "run succeeded",
            "load at start",
            "command",
        ],
        rows,
    )


def sync_section() -> list[str]:
    d = _load("sync_throughput") or _latest("sync_throughput_")
    if not d:
        return [
            "(no `bench/results/sync_throughput*.json` yet: "
            "`.venv/bin/python bench/sync_throughput.py`)"
        ]
    f, o = d["full_run"], d["one_percent_run"]
    sustained = (f.get("rolling_window_utilisation") or {}).get("pct_of_limit")
    la = d.get("machine", {}).get("load_average_after")
    return _table(
        [
            "records",
            "records/s (whole run)",
            "% of limit (whole run)",
            "% of limit (sustained, ≥ 90)",
            "1 % run: write requests",
            "minimum",
            "ratio (≤ 1.1)",
            "load after",
            "command",
        ],
        [
            [
                f["records"],
                f["records_per_s"],
                f["pct_of_nominal_limit"],
                _ok(sustained, 90.0, below=False),
                o["write_requests"],
                o["minimum_write_requests"],
                _ok(o["write_requests"] / max(1, o["minimum_write_requests"]), 1.1),
                "/".join(f"{x:.1f}" for x in la) if la else "–",
                "`.venv/bin/python bench/sync_throughput.py`",
            ]
        ],
    )


def mixpanel_section() -> list[str]:
    d = _load("mixpanel_memory")
    if not d:
        return [
            "(no `bench/results/mixpanel_memory.json` yet: "
            "`.venv/bin/python bench/mixpanel_memory.py`)"
        ]
    flat = {k: v for k, v in d.items() if not isinstance(v, dict | list)}
    for k, v in d.items():
        if isinstance(v, dict):
            flat |= {f"{k}.{kk}": vv for kk, vv in v.items() if not isinstance(vv, dict | list)}
    keep = {k: v for k, v in flat.items() if not k.startswith("machine.")}
    return _table(["measure", "value"], [[k, v] for k, v in keep.items()]) + [
        "",
        "command: `.venv/bin/python bench/mixpanel_memory.py`",
    ]


def demo_section() -> list[str]:
    d = _load("demo_time")
    if not d:
        return ["(no `bench/results/demo_time.json` yet)"]
    s = d["summary"]
    return _table(
        [
            "sample",
            "command wall s (< 180)",
            "pipeline run s (printed by the demo)",
            "peak RSS MB",
            "succeeded",
            "load at start",
            "command",
        ],
        [
            [
                f"{d['params']['accounts']:,} accounts × {d['params']['days']} days",
                _ok(s["command_wall_s"], 180.0),
                s["pipeline_run_s"],
                s["peak_rss_mb"],
                s["success"],
                _load_avg(d),
                _cmd(d),
            ]
        ],
    )


def render() -> str:
    parts = [
        ("Machine and versions", machine_section()),
        ("Scale data", scale_section()),
        ("Daily run (last day, previous days loaded)", daily_section()),
        ("The floor and pandas, side by side", floor_section()),
        ("Flat cost as history grows", flat_section()),
        ("Backfill (one single-run backfill through `run_days`)", backfill_section()),
        ("Sync (fake HubSpot at 100 requests / 10 s)", sync_section()),
        ("Mixpanel ingest memory", mixpanel_section()),
        ("Demo", demo_section()),
    ]
    lines = [START, "", "_Generated by `bench/report.py` from `bench/results/*.json`._", ""]
    for title, body in parts:
        lines += [f"### {title}", "", *body, ""]
    lines.append(END)
    return "\n".join(lines)


def main() -> int:
    text = README.read_text() if README.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text += f"\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(head + render() + tail)
    common.say(f"wrote {README.relative_to(common.REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
