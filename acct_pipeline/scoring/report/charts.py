"""The score report's charts: matplotlib (Agg backend) figures as base64 PNGs.

Each chart draws what it is given (the stored validation or a frame from ``data.py``); the tier
colours follow the scoring model's tiers, best (green) to worst (red).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from datetime import date
from typing import Any

import pandas as pd

from acct_pipeline.scoring.report.data import AUTOPSY_DAYS
from acct_pipeline.scoring.tiers import model_tier_names, ordered_tiers
from acct_pipeline.scoring.validation import ValidationResult

# Best to worst; a model with more tiers than colours repeats the last one.
TIER_PALETTE: tuple[str, ...] = ("#2e7d32", "#f9a825", "#ef6c00", "#c62828")
UNKNOWN_TIER_COLOR = "#999"


def tier_colors(names: list[str] | tuple[str, ...] | None = None) -> dict[str, str]:
    """Tier name -> colour for the model's tiers (default: the model in use), best first."""
    names = list(model_tier_names() if names is None else names)
    if len(names) <= len(TIER_PALETTE):
        # the best tier green, the worst red, the ones between from the middle of the palette
        picks = [*TIER_PALETTE[: len(names) - 1], TIER_PALETTE[-1]] if names else []
    else:
        picks = [*TIER_PALETTE, *[TIER_PALETTE[-1]] * (len(names) - len(TIER_PALETTE))]
    return dict(zip(names, picks, strict=True))


def tier_color(tier: str) -> str:
    return tier_colors().get(tier, UNKNOWN_TIER_COLOR)


def plt_agg() -> Any:
    """matplotlib.pyplot on the Agg backend (imported only when a report is built)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png(fig: Any) -> str:
    """The figure as a base64 PNG (and closed)."""
    plt = plt_agg()
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def empty(plt: Any, title: str, message: str) -> str:
    """A placeholder image saying why a chart has nothing to show."""
    fig, ax = plt.subplots(figsize=(7, 2.2))
    ax.axis("off")
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=11, color="#555")
    return png(fig)


def tiers_over_time(df: pd.DataFrame) -> str:
    """Stacked shares of the tiers per day (``df``: ``as_of_date``, ``tier``, ``n``)."""
    plt = plt_agg()
    fig, ax = plt.subplots(figsize=(9, 3.6))
    if df.empty:
        plt.close(fig)
        return empty(plt, "Tier distribution over time", "no scores")
    wide = df.pivot(index="as_of_date", columns="tier", values="n").fillna(0)
    tiers = ordered_tiers(list(wide.columns))
    shares = wide[tiers].div(wide[tiers].sum(axis=1), axis=0)
    ax.stackplot(
        pd.to_datetime(shares.index),
        *[shares[t] for t in tiers],
        labels=tiers,
        colors=[tier_color(t) for t in tiers],
        alpha=0.9,
    )
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of accounts")
    ax.set_title("Tier distribution over time")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.autofmt_xdate()
    return png(fig)


def churn_by_tier(v: ValidationResult) -> str:
    """The 90-day churn rate per tier, from the stored validation."""
    plt = plt_agg()
    df = v.metric("churn_rate", segment_type="tier", window="90d_after")
    if df.empty:
        return empty(plt, "90-day churn rate by tier", "no labelled history")
    tiers = ordered_tiers(list(df["segment"]))
    df = df.set_index("segment").loc[tiers]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    bars = ax.bar(tiers, df["value"], color=[tier_color(t) for t in tiers])
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
    return png(fig)


def lift(v: ValidationResult) -> str:
    """Churn rate per risk decile over the overall rate, from the stored validation."""
    plt = plt_agg()
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
        return empty(plt, "Lift by risk decile", "no labelled history")
    ax.axhline(1.0, color="#777", linestyle="--", linewidth=1, label="random")
    ax.set_xticks(range(1, 11))
    ax.set_xlabel("risk decile (1 = riskiest 10% of accounts each day)")
    ax.set_ylabel("churn rate / overall churn rate")
    ax.set_title("Lift chart (90-day churn)")
    ax.legend(fontsize=8)
    return png(fig)


def calibration(v: ValidationResult, by_band: Callable[[], pd.DataFrame]) -> str:
    """The reliability diagram of the churn probability; without one, the observed churn rate
    per health-score band (``by_band``: ``band``, ``rate``, ``n``, read only then)."""
    plt = plt_agg()
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
        df = by_band()
        if df.empty:
            plt.close(fig)
            return empty(plt, "Calibration", "churn probability not available; no labelled history")
        ax.bar(df["band"] + 5, df["rate"], width=8, color="#1565c0")
        ax.set_xlabel("health score band")
        ax.set_ylabel("observed 90-day churn rate")
        ax.set_title(
            "Observed churn by health score\n(churn probability not available)", fontsize=10
        )
    ax.legend(fontsize=8) if not pred.empty else None
    return png(fig)


def stability(v: ValidationResult) -> str:
    """Day-over-day PSI and the share of accounts changing tier, from the stored validation."""
    plt = plt_agg()
    psi = v.metric("psi")
    changes = v.metric("tier_change_share")
    if psi.empty and changes.empty:
        return empty(plt, "Stability", "a single scored day: nothing to compare")
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
    return png(fig)


def migration(df: pd.DataFrame, d1: date, d2: date) -> tuple[str, pd.DataFrame]:
    """The tier migration matrix (``df``: ``from_tier``, ``to_tier``, ``n``) and the chart."""
    plt = plt_agg()
    tiers = ordered_tiers(list(set(df["from_tier"]) | set(df["to_tier"]) | set(model_tier_names())))
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
    return png(fig), matrix


def versions(daily: pd.DataFrame, versions: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """The mean health score over time, the model versions as bands (``data.model_versions``)."""
    plt = plt_agg()
    fig, ax = plt.subplots(figsize=(9, 3.2))
    if daily.empty:
        plt.close(fig)
        return empty(plt, "Model version timeline", "no scores"), versions
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
    return png(fig), versions


def autopsy(df: pd.DataFrame, signals: list[str]) -> tuple[str, pd.DataFrame]:
    """Median signals before churn vs renewal (``df`` from ``data.autopsy``)."""
    plt = plt_agg()
    if df.empty:
        return empty(
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
    return png(fig), df
