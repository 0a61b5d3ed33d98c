"""The headline numbers as a few lines of markdown (asset metadata, report header)."""

from __future__ import annotations

from typing import Any

from acct_pipeline.scoring.outcomes import (
    CHURN_HORIZON_DAYS,
)


def _fmt(x: Any, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def summary_markdown(summary: dict[str, Any]) -> str:
    """A few lines of markdown with the headline numbers (asset metadata, report header)."""
    if summary.get("status") != "ok":
        return f"**Score validation**: {summary.get('status')}"
    rates = summary.get("churn_rate_by_tier", {})
    lines = [
        f"**Score validation** {summary['date_from']} .. {summary['date_to']} "
        f"({summary['days']} days, {summary['accounts']:,} accounts, "
        f"model {', '.join(summary['model_versions'])})",
        "",
        "| measure | health score | churn probability |",
        "| --- | --- | --- |",
        f"| ROC-AUC (90-day churn) | {_fmt(summary.get('auc_health_score'))} | "
        f"{_fmt(summary.get('auc_churn_probability'))} |",
        f"| top-decile lift | {_fmt(summary.get('lift_health_score'), 2)} | "
        f"{_fmt(summary.get('lift_churn_probability'), 2)} |",
        f"| Brier score | | {_fmt(summary.get('brier'), 4)} |",
        "",
        _how_obtained(summary),
        "",
        "90-day churn rate by tier: "
        + ", ".join(f"{t} {r:.1%}" for t, r in rates.items())
        + (" (monotonic)" if summary.get("churn_monotonic") else " (**not monotonic**)"),
        "",
        f"Tier share, last {summary.get('tier_share_30d_days', 0)} scored days: "
        + (
            ", ".join(f"{t} {v:.1%}" for t, v in summary.get("tier_share_30d", {}).items()) or "n/a"
        ),
        "",
        f"Stability: max PSI {_fmt(summary.get('psi_max'))}"
        + (
            f" from {summary['psi_judged_from']} (the signal warm-up before it: max "
            f"{_fmt(summary.get('psi_warmup_max'))})"
            if summary.get("psi_warmup_days")
            else ""
        )
        + ", mean tier changes per day "
        f"{_fmt(summary.get('tier_change_share_mean'))}, flapping accounts "
        f"{_fmt(summary.get('tier_flap_share'))}. "
        f"Censored share (horizon beyond history): {summary.get('censored_share', 0):.0%}.",
    ]
    return "\n".join(lines)


def _how_obtained(summary: dict[str, Any]) -> str:
    """One paragraph on how the figures above were obtained (rows, period, what is out of time)."""
    parts = []
    for name, label in (
        ("health_score", "Health score"),
        ("churn_probability", "Churn probability"),
    ):
        b = summary.get(f"auc_{name}_basis")
        if not b or not b.get("n"):
            continue
        parts.append(
            f"{label}: {b['n']:,} account-days from {b['from']} to {b['to']}, "
            f"{b['churned']:,} of them followed by churn within the horizon"
        )
    text = (
        "How these were obtained: every account-day that was a customer on the day "
        "(churned accounts leave after their churn date); label = churned within the next "
        f"{summary.get('horizon_days', CHURN_HORIZON_DAYS)} days, days whose window runs past "
        "the last scored day count what was seen so far. "
        + "; ".join(parts)
        + ". The churn probability is out of time by construction: each day's comes from a "
        "model trained only on labels that had matured by that day (walk-forward), so no "
        "account is scored by a model that saw its own churn; days before the first such model "
        "have no probability and are not in its figures."
    )
    same = summary.get("auc_health_score_on_churn_rows")
    if same is not None:
        text += f" On the same rows as the churn probability the health score's AUC is {same:.3f}."
    hard_h = summary.get("auc_health_score_renewing_without_notice")
    hard_c = summary.get("auc_churn_probability_renewing_without_notice")
    if hard_h is not None:
        text += (
            " Only accounts renewing within the horizon can churn in it, and a notice given "
            "already says it: on the hard cases (renewal within the horizon, no notice yet) the "
            f"AUC is {hard_h:.3f} for the health score"
            + (f" and {hard_c:.3f} for the churn probability" if hard_c is not None else "")
            + "."
        )
    return text
