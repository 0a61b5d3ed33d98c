"""The score report: one self-contained HTML file per run, readable offline.

``<reports dir>/score_report_<latest as-of date>.html`` with every chart a matplotlib PNG embedded
as base64: tier distribution over time, churn by tier, lift chart, calibration, stability, tier
migration between two dates, top at-risk accounts with their reasons, the model version timeline
(so a model change is not mistaken for a change in behaviour) and a churn autopsy (how signals
moved in the 90 days before churn, against accounts that renewed).

The reports folder is ``$ACCT_REPORTS_DIR``, else ``reports/`` beside the warehouse file
(``data/reports`` for the default warehouse). The numbers come from ``validation.py`` and SQL over
the warehouse; matplotlib (Agg backend) is imported only when a report is built.
"""

from __future__ import annotations

import base64
import html
import io
import os
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from acct_pipeline.scoring.executive import executive_summary, render_executive
from acct_pipeline.scoring.outcomes import ACCOUNT_OUTCOMES, CONTRACT_ENDS, create_outcome_tables
from acct_pipeline.scoring.validation import (
    MIN_SEGMENT_ROWS,
    SEGMENT_AUC_GAP,
    SEGMENT_MISSING_MAX,
    SEGMENT_TYPES,
    TIER_ORDER,
    ValidationResult,
    compute_validation,
    ordered_tiers,
    segment_table,
    summary_markdown,
)
from acct_pipeline.warehouse import (
    ACCOUNT_SCORES,
    ACCOUNT_SIGNALS,
    ACCOUNTS,
    table_exists,
    warehouse_path,
)

REPORTS_DIR_ENV = "ACCT_REPORTS_DIR"
TOP_AT_RISK = 20
AUTOPSY_DAYS = 90
MIGRATION_LOOKBACK_DAYS = 30

TIER_COLORS = {
    "Healthy": "#2e7d32",
    "At-Risk": "#f9a825",
    "Concerning": "#ef6c00",
    "Critical": "#c62828",
}
# Signals shown in the churn autopsy, in order of preference (whichever the warehouse has).
AUTOPSY_SIGNALS: tuple[str, ...] = (
    "seat_utilisation",
    "active_users_30d",
    "usage_trend_pct",
    "days_since_last_touch",
    "engagement_decayed",
    "open_high_severity_tickets",
    "failed_payments_30d",
    "mrr_change_90d_pct",
    "active_days_30d",
)
AUTOPSY_MAX_SIGNALS = 5


def reports_dir(warehouse: str | Path | None = None) -> Path:
    """``$ACCT_REPORTS_DIR``, else ``reports/`` beside the warehouse file (``data/reports``).

    ``warehouse`` is the warehouse file in use (default: ``$ACCT_WAREHOUSE`` or the default), so
    a run on another warehouse writes its reports beside that one.
    """
    env = os.environ.get(REPORTS_DIR_ENV)
    if env:
        return Path(env)
    return Path(warehouse or warehouse_path()).parent / "reports"


@dataclass
class ReportResult:
    """Where the report was written, its markdown summary and the charts it holds."""

    path: Path
    markdown: str
    charts: list[str] = field(default_factory=list)
    as_of: date | None = None


# --------------------------------------------------------------------------------------------
# charts
# --------------------------------------------------------------------------------------------


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> str:
    plt = _plt()
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _empty(plt: Any, title: str, message: str) -> str:
    fig, ax = plt.subplots(figsize=(7, 2.2))
    ax.axis("off")
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=11, color="#555")
    return _png(fig)


def _chart_tiers_over_time(con: duckdb.DuckDBPyConnection) -> str:
    plt = _plt()
    df = con.execute(
        "SELECT as_of_date, tier, count(*) AS n FROM _v_scores GROUP BY 1, 2 ORDER BY 1"
    ).df()
    fig, ax = plt.subplots(figsize=(9, 3.6))
    if df.empty:
        plt.close(fig)
        return _empty(plt, "Tier distribution over time", "no scores")
    wide = df.pivot(index="as_of_date", columns="tier", values="n").fillna(0)
    tiers = ordered_tiers(list(wide.columns))
    shares = wide[tiers].div(wide[tiers].sum(axis=1), axis=0)
    ax.stackplot(
        pd.to_datetime(shares.index),
        *[shares[t] for t in tiers],
        labels=tiers,
        colors=[TIER_COLORS.get(t, "#999") for t in tiers],
        alpha=0.9,
    )
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of accounts")
    ax.set_title("Tier distribution over time")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.autofmt_xdate()
    return _png(fig)


def _chart_churn_by_tier(v: ValidationResult) -> str:
    plt = _plt()
    df = v.metric("churn_rate", segment_type="tier", window="90d_after")
    if df.empty:
        return _empty(plt, "90-day churn rate by tier", "no labelled history")
    tiers = ordered_tiers(list(df["segment"]))
    df = df.set_index("segment").loc[tiers]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    bars = ax.bar(tiers, df["value"], color=[TIER_COLORS.get(t, "#999") for t in tiers])
    for bar, (rate, n) in zip(bars, zip(df["value"], df["n"], strict=True), strict=True):
        ax.annotate(
            f"{rate:.1%}\nn={int(n):,}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_ylabel("churned within 90 days")
    ax.set_ylim(0, max(0.05, float(df["value"].max()) * 1.35))
    ax.set_title("90-day churn rate by tier (all scored days)")
    return _png(fig)


def _chart_lift(v: ValidationResult) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.4))
    drawn = False
    for score, color in (("health_score", "#1565c0"), ("churn_probability", "#6a1b9a")):
        df = v.metric("decile_lift", score=score)
        if df.empty:
            continue
        x = df["segment"].astype(int)
        ax.plot(
            x,
            df["value"],
            marker="o",
            color=color,
            label=(
                "health score (risk = 100 - score)"
                if score == "health_score"
                else "churn probability"
            ),
        )
        drawn = True
    if not drawn:
        plt.close(fig)
        return _empty(plt, "Lift by risk decile", "no labelled history")
    ax.axhline(1.0, color="#777", linestyle="--", linewidth=1, label="random")
    ax.set_xticks(range(1, 11))
    ax.set_xlabel("risk decile (1 = riskiest 10% of accounts each day)")
    ax.set_ylabel("churn rate / overall churn rate")
    ax.set_title("Lift chart (90-day churn)")
    ax.legend(fontsize=8)
    return _png(fig)


def _chart_calibration(con: duckdb.DuckDBPyConnection, v: ValidationResult) -> str:
    plt = _plt()
    pred = v.metric("reliability_predicted")
    obs = v.metric("reliability_observed")
    fig, ax = plt.subplots(figsize=(5.6, 4))
    if not pred.empty:
        ax.plot(
            [0, 1], [0, 1], color="#777", linestyle="--", linewidth=1, label="perfect calibration"
        )
        ax.plot(
            pred["value"].to_numpy(),
            obs["value"].to_numpy(),
            marker="o",
            color="#6a1b9a",
            label=f"churn probability (Brier {v.summary.get('brier', float('nan')):.4f})",
        )
        ax.set_xlabel("predicted churn probability (bin mean)")
        ax.set_ylabel("observed 90-day churn rate")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_title("Calibration (reliability diagram)")
    else:
        # No predictive score yet: show how the observed churn rate falls as the health score rises.
        df = con.execute(
            """SELECT least(CAST(floor(health_score / 10) AS INTEGER), 9) * 10 AS band,
                      avg(churned) AS rate,
                      count(*) AS n
               FROM _v_labeled WHERE health_score IS NOT NULL GROUP BY 1 ORDER BY 1"""
        ).df()
        if df.empty:
            plt.close(fig)
            return _empty(
                plt, "Calibration", "churn probability not available; no labelled history"
            )
        ax.bar(df["band"] + 5, df["rate"], width=8, color="#1565c0")
        ax.set_xlabel("health score band")
        ax.set_ylabel("observed 90-day churn rate")
        ax.set_title(
            "Observed churn by health score\n(churn probability not available)", fontsize=10
        )
    ax.legend(fontsize=8) if not pred.empty else None
    return _png(fig)


def _chart_stability(v: ValidationResult) -> str:
    plt = _plt()
    psi = v.metric("psi")
    changes = v.metric("tier_change_share")
    if psi.empty and changes.empty:
        return _empty(plt, "Stability", "a single scored day: nothing to compare")
    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.plot(
        pd.to_datetime(psi["as_of_date"]),
        psi["value"],
        color="#1565c0",
        label="PSI vs previous day",
    )
    ax.axhline(0.10, color="#f9a825", linestyle=":", linewidth=1, label="0.10 (stable below)")
    ax.axhline(0.25, color="#c62828", linestyle=":", linewidth=1, label="0.25 (shifted above)")
    ax.set_ylabel("PSI")
    ax2 = ax.twinx()
    ax2.plot(
        pd.to_datetime(changes["as_of_date"]),
        changes["value"],
        color="#6d4c41",
        alpha=0.7,
        label="share changing tier",
    )
    ax2.set_ylabel("share of accounts changing tier")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=7, loc="upper right")
    ax.set_title("Stability: day-over-day PSI and tier changes")
    fig.autofmt_xdate()
    return _png(fig)


def _chart_migration(
    con: duckdb.DuckDBPyConnection, d1: date, d2: date
) -> tuple[str, pd.DataFrame]:
    plt = _plt()
    df = con.execute(
        """SELECT a.tier AS from_tier, b.tier AS to_tier, count(*) AS n
           FROM _v_scores a JOIN _v_scores b ON a.account_id = b.account_id
           WHERE a.as_of_date = ? AND b.as_of_date = ? GROUP BY 1, 2""",
        [d1, d2],
    ).df()
    tiers = ordered_tiers(list(set(df["from_tier"]) | set(df["to_tier"]) | set(TIER_ORDER)))
    matrix = pd.DataFrame(0, index=tiers, columns=tiers)
    for r in df.itertuples():
        matrix.loc[r.from_tier, r.to_tier] = r.n
    fig, ax = plt.subplots(figsize=(5.8, 4.4))
    ax.imshow(matrix.to_numpy(), cmap="Blues")
    ax.set_xticks(range(len(tiers)), tiers, rotation=30)
    ax.set_yticks(range(len(tiers)), tiers)
    top = matrix.to_numpy().max() or 1
    for i in range(len(tiers)):
        for j in range(len(tiers)):
            val = int(matrix.iloc[i, j])
            ax.text(
                j,
                i,
                f"{val:,}",
                ha="center",
                va="center",
                fontsize=9,
                color="white" if val > top / 2 else "black",
            )
    ax.set_xlabel(f"tier on {d2}")
    ax.set_ylabel(f"tier on {d1}")
    ax.set_title("Tier migration")
    return _png(fig), matrix


def _chart_versions(con: duckdb.DuckDBPyConnection) -> tuple[str, pd.DataFrame]:
    plt = _plt()
    daily = con.execute(
        "SELECT as_of_date, model_version, avg(health_score) AS mean_score, count(*) AS n "
        "FROM _v_scores GROUP BY 1, 2 ORDER BY 1, 2"
    ).df()
    versions = con.execute(
        "SELECT model_version, CAST(min(as_of_date) AS VARCHAR) AS first_day, "
        "CAST(max(as_of_date) AS VARCHAR) AS last_day, "
        "count(DISTINCT as_of_date) AS days, avg(health_score) AS mean_score "
        "FROM _v_scores GROUP BY 1 ORDER BY 2"
    ).df()
    fig, ax = plt.subplots(figsize=(9, 3.2))
    if daily.empty:
        plt.close(fig)
        return _empty(plt, "Model version timeline", "no scores"), versions
    palette = ["#e3f2fd", "#fff3e0", "#e8f5e9", "#f3e5f5", "#fffde7"]
    for i, r in enumerate(versions.itertuples()):
        ax.axvspan(
            pd.Timestamp(r.first_day) - pd.Timedelta(hours=12),
            pd.Timestamp(r.last_day) + pd.Timedelta(hours=12),
            color=palette[i % len(palette)],
            alpha=0.9,
            label=f"model {r.model_version}",
        )
        if i:
            ax.axvline(pd.Timestamp(r.first_day), color="#c62828", linestyle="--", linewidth=1)
    mean = daily.groupby("as_of_date")["mean_score"].mean()
    ax.plot(pd.to_datetime(mean.index), mean.to_numpy(), color="#1565c0", label="mean health score")
    ax.set_ylabel("mean health score")
    ax.set_title("Model version timeline (dashed line = model change)")
    ax.legend(fontsize=7, loc="lower left")
    fig.autofmt_xdate()
    return _png(fig), versions


def _autopsy_signals(con: duckdb.DuckDBPyConnection) -> list[str]:
    if not table_exists(con, ACCOUNT_SIGNALS):
        return []
    schema, name = ACCOUNT_SIGNALS.split(".")
    numeric = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? "
            "AND table_catalog = current_database() AND data_type IN "
            "('DOUBLE', 'FLOAT', 'BIGINT', 'INTEGER', 'HUGEINT', 'SMALLINT', 'DECIMAL', 'REAL', "
            "'UBIGINT')",
            [schema, name],
        ).fetchall()
    }
    chosen = [c for c in AUTOPSY_SIGNALS if c in numeric]
    return chosen[:AUTOPSY_MAX_SIGNALS]


def _chart_autopsy(con: duckdb.DuckDBPyConnection) -> tuple[str, pd.DataFrame]:
    plt = _plt()
    signals = _autopsy_signals(con)
    sig_cols = "".join(f', median(g."{c}") AS "{c}"' for c in signals)
    join = (
        f"LEFT JOIN {ACCOUNT_SIGNALS} g "
        "ON g.account_id = s.account_id AND g.as_of_date = s.as_of_date"
        if signals
        else ""
    )
    df = con.execute(
        f"""
        SELECT e.outcome, CAST(s.as_of_date - e.end_date AS INTEGER) AS day,
               count(DISTINCT e.account_id) AS accounts,
                   median(s.health_score) AS health_score {sig_cols}
        FROM {CONTRACT_ENDS} e
        JOIN _v_scores s ON s.account_id = e.account_id
             AND s.as_of_date BETWEEN e.end_date - {AUTOPSY_DAYS} AND e.end_date
        {join}
        GROUP BY 1, 2 ORDER BY 1, 2
        """
    ).df()
    if df.empty:
        return _empty(
            plt, "Churn autopsy", "no churned or renewed account inside the scored history"
        ), df
    panels = ["health_score", *signals]
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.9 * rows), squeeze=False)
    for ax, col in zip(axes.flat, panels, strict=False):
        for outcome, color in (("churned", "#c62828"), ("renewed", "#2e7d32")):
            part = df[df["outcome"] == outcome]
            if not part.empty:
                n = int(part["accounts"].max())
                ax.plot(
                    part["day"], part[col], color=color, label=f"{outcome} (up to {n:,} accounts)"
                )
        ax.set_title(col.replace("_", " "), fontsize=9)
        ax.set_xlabel("days before contract end", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle(
        f"Churn autopsy: median signals over the {AUTOPSY_DAYS} days before churn vs renewal",
        fontsize=10,
    )
    return _png(fig), df


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------


def _top_at_risk(con: duckdb.DuckDBPyConnection, day: date) -> pd.DataFrame:
    """The riskiest accounts that are still customers on ``day`` (churned ones are gone)."""
    schema, name = ACCOUNT_SCORES.split(".")
    cols = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? AND table_catalog = current_database()",
            [schema, name],
        ).fetchall()
    }
    extra = [
        c
        for c in (
            "churn_probability",
            "trend",
            "score_delta_30d",
            "reason_codes",
            "recommended_playbook",
        )
        if c in cols
    ]
    order = (
        "churn_probability DESC NULLS LAST, health_score"
        if "churn_probability" in cols
        else "health_score"
    )
    acc = table_exists(con, ACCOUNTS)
    name_sql = "a.name" if acc else "NULL"
    owner = "a.owner_email" if acc and _has_column(con, ACCOUNTS, "owner_email") else "NULL"
    join = f"LEFT JOIN {ACCOUNTS} a USING (account_id)" if acc else ""
    extra_sql = "".join(f", s.{c}" for c in extra)
    return con.execute(
        f"""SELECT s.account_id, {name_sql} AS name, {owner} AS owner, s.health_score,
                   s.tier {extra_sql}
            FROM {ACCOUNT_SCORES} s {join}
            LEFT JOIN {ACCOUNT_OUTCOMES} o ON o.account_id = s.account_id
            WHERE s.as_of_date = ? AND (o.churned_on IS NULL OR o.churned_on > ?)
              AND s.tier IS NOT NULL
            ORDER BY {order}, s.account_id LIMIT {TOP_AT_RISK}""",
        [day, day],
    ).df()


def _has_column(con: duckdb.DuckDBPyConnection, qualified: str, column: str) -> bool:
    schema, name = qualified.split(".")
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? "
            "AND column_name = ? AND table_catalog = current_database()",
            [schema, name, column],
        ).fetchone()[0]
    )


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return ""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, (list, tuple, np.ndarray)):
        items = list(v)
        return "<ul>" + "".join(f"<li>{html.escape(str(i))}</li>" for i in items) + "</ul>"
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 1 else f"{v:,.1f}"
    return html.escape(str(v))


def _table(df: pd.DataFrame, cls: str = "") -> str:
    if df.empty:
        return "<p class='muted'>nothing to show</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>"
        for row in df.itertuples(index=False)
    )
    return f"<table class='{cls}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _md_to_html(md: str) -> str:
    """Just enough markdown for the summary: paragraphs, one pipe table, **bold**."""
    out: list[str] = []
    rows: list[list[str]] = []

    def bold(s: str) -> str:
        parts = html.escape(s).split("**")
        return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))

    def flush() -> None:
        if rows:
            head, body = rows[0], [r for r in rows[1:] if not set("".join(r)) <= set("- ")]
            out.append(
                "<table><thead><tr>"
                + "".join(f"<th>{bold(c)}</th>" for c in head)
                + "</tr></thead><tbody>"
                + "".join(
                    "<tr>" + "".join(f"<td>{bold(c)}</td>" for c in r) + "</tr>" for r in body
                )
                + "</tbody></table>"
            )
            rows.clear()

    for line in md.splitlines():
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip("|").split("|")])
            continue
        flush()
        if line.strip():
            out.append(f"<p>{bold(line)}</p>")
    flush()
    return "\n".join(out)


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px
    auto;max-width:1100px;color:#222}
h1{font-size:22px} h2{font-size:17px;border-bottom:1px solid
    #ddd;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;font-size:12px;margin:8px 0} th,td{border:1px solid
    #ddd;padding:3px 6px;
vertical-align:top;text-align:left} th{background:#f5f5f5} td ul{margin:0;padding-left:16px}
img{max-width:100%;display:block;margin:8px 0} .muted{color:#777} .note{font-size:12px;color:#555}
#executive{border-bottom:3px solid #333;padding-bottom:16px;margin-bottom:24px}
#executive .lead{font-size:16px;line-height:1.5} table.exec{font-size:13px}
td.n,th.n{text-align:right} .cols{display:flex;gap:24px} .cols>div{flex:1} h3{font-size:14px}
.tier{padding:1px 6px;border-radius:3px;color:#fff} .tier-healthy{background:#2e7d32}
.tier-at-risk{background:#f9a825} .tier-concerning{background:#ef6c00}
.tier-critical{background:#c62828}
"""


def build_report(
    con: duckdb.DuckDBPyConnection,
    out_dir: str | Path | None = None,
    validation: ValidationResult | None = None,
    migration_from: date | None = None,
) -> ReportResult:
    """Write the HTML score report for the warehouse behind ``con`` and return where it is.

    ``validation`` is recomputed from the warehouse when not given. ``migration_from`` is the
    first date of the migration matrix (default: 30 days before the latest day, or the first day).
    """
    v = validation or compute_validation(con)
    if v.summary.get("status") != "ok":
        v = compute_validation(con)  # creates the temp tables even when there is little to show
    create_outcome_tables(con)
    out = Path(out_dir) if out_dir else reports_dir()
    out.mkdir(parents=True, exist_ok=True)
    plt = _plt()
    if v.summary.get("status") != "ok":
        path = out / f"score_report_{date.today()}.html"
        img = _empty(plt, "Score report", str(v.summary.get("status")))
        path.write_text(
            f"<!doctype html><html><head><meta charset='utf-8'><title>Score report</title></head>"
            f"<body><h1>Score report</h1><p>{html.escape(str(v.summary.get('status')))}</p>"
            f"<img alt='status' src='data:image/png;base64,{img}'></body></html>"
        )
        return ReportResult(path=path, markdown=summary_markdown(v.summary), charts=["status"])

    last = date.fromisoformat(v.summary["date_to"])
    first = date.fromisoformat(v.summary["date_from"])
    d1 = migration_from or max(first, last - timedelta(days=MIGRATION_LOOKBACK_DAYS))
    charts: dict[str, str] = {}
    charts["tier_distribution_over_time"] = _chart_tiers_over_time(con)
    charts["churn_by_tier"] = _chart_churn_by_tier(v)
    charts["lift_chart"] = _chart_lift(v)
    charts["calibration"] = _chart_calibration(con, v)
    charts["stability"] = _chart_stability(v)
    charts["tier_migration"], _ = _chart_migration(con, d1, last)
    charts["model_version_timeline"], versions = _chart_versions(con)
    charts["churn_autopsy"], _ = _chart_autopsy(con)

    contract = v.rows[
        (v.rows["metric"].isin(["churn_rate", "renewal_rate"]))
        & v.rows["window"].str.endswith("before_end")
    ]
    contract_tbl = (
        contract.pivot_table(
            index=["window", "segment"], columns="metric", values="value", aggfunc="first"
        )
        .join(contract.groupby(["window", "segment"])["n"].first())
        .reset_index()
        .rename(columns={"segment": "tier", "window": "when"})
        if not contract.empty
        else pd.DataFrame()
    )
    coverage = v.rows[
        v.rows["metric"].isin(
            ["accounts", "missing_input_share", "missing_any_input_share", "score_mean"]
        )
        & v.rows["segment_type"].isin(SEGMENT_TYPES)
    ]
    coverage_tbl = (
        coverage.pivot_table(
            index=["segment_type", "segment"], columns="metric", values="value", aggfunc="first"
        )
        .reset_index()
        .sort_values(["segment_type", "segment"])
        if not coverage.empty
        else pd.DataFrame()
    )
    fairness_tbl = segment_table(v.rows)
    findings = v.summary.get("segment_findings") or []
    fairness_note = (
        "<ul class='warn'>" + "".join(f"<li>WARN {html.escape(f)}</li>" for f in findings) + "</ul>"
        if findings
        else "<p class='note'>No segment is judged unfair.</p>"
    )
    top = _top_at_risk(con, last)
    md = summary_markdown(v.summary)
    executive = render_executive(executive_summary(con, last, quality=v.summary))

    def img(key: str, alt: str) -> str:
        src = f"data:image/png;base64,{charts[key]}"
        return f"<img alt='{html.escape(alt)}' data-chart='{key}' src='{src}'>"

    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Score report
    {last}</title><style>{_CSS}</style></head>
<body>
{executive}
<h1 id="model-quality">Model quality and history</h1>
<p class="note">History {first} .. {last}; churn label: churned within
    {v.summary["horizon_days"]} days after the
as-of day ({v.summary["censored_share"]:.0%} of account-days have a horizon beyond the history
    and count as
"not churned yet"). Outcome events: {html.escape(str(v.summary["outcome_events"]))}.</p>
{_md_to_html(md)}
<h2>Tier distribution over time</h2>{
        img("tier_distribution_over_time", "tier distribution over time")
    }
<h2>Churn by tier</h2>{img("churn_by_tier", "churn rate by tier")}
<p class="note">Churn and renewal rate by the tier the account was in 30 / 60 / 90 days before
    its contract ended:</p>
{_table(contract_tbl)}
<h2>Lift</h2>{img("lift_chart", "lift chart")}
<h2>Calibration</h2>{img("calibration", "calibration")}
<h2>Stability</h2>{img("stability", "stability")}
<h2>Tier migration {d1} → {last}</h2>{img("tier_migration", "tier migration")}
<h2>Top {TOP_AT_RISK} at-risk accounts on {last}</h2>
<p class="note">Customers on that day (accounts that already churned are left out), riskiest
first.</p>
{_table(top)}
<h2>Model version timeline</h2>{img("model_version_timeline", "model version timeline")}{
        _table(versions)
    }
<h2>Churn autopsy</h2>{img("churn_autopsy", "churn autopsy")}
<p class="note">Accounts aligned on their contract end (churn date,
    or start of the renewed term); lines are
medians across accounts for each day before the end.</p>
<h2>Coverage by segment (latest day)</h2>{_table(coverage_tbl)}
<h2 id="fairness">Fairness by segment</h2>
<p class="note">Every labelled account-day of the history, by plan, region, company size band and
whether the account's product data is tracked: health-score AUC for churn within
{v.summary["horizon_days"]} days, churn rate, calibration of the churn probability (Brier and mean
predicted minus observed), share of the health model's weight that had no data
(1 - data_coverage) and tier shares. A segment of at least {MIN_SEGMENT_ROWS} account-days warns
when its AUC is more than {SEGMENT_AUC_GAP} below the whole book's or more than
{SEGMENT_MISSING_MAX:.0%} of its weight had no data.</p>
{fairness_note}
{_table(fairness_tbl, "fairness")}
</body></html>
"""
    path = out / f"score_report_{last}.html"
    path.write_text(doc, encoding="utf-8")
    return ReportResult(path=path, markdown=md, charts=list(charts), as_of=last)


def build_report_for_warehouse(
    path: str | Path | None = None, out_dir: str | Path | None = None
) -> ReportResult:
    """Open the warehouse read-only and build the report (for scripts and the CLI)."""
    con = duckdb.connect(str(path or warehouse_path()), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        return build_report(con, out_dir or reports_dir(path))
    finally:
        con.close()
