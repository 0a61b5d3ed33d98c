"""The verdicts on a stored validation: AUC band, monotonic churn, PSI, flapping, fairness, tier
shares (all warnings, never blocking)."""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from acct_pipeline.scoring.signals import SIGNAL_WARMUP_DAYS
from acct_pipeline.scoring.tiers import model_tier_names, ordered_tiers
from acct_pipeline.scoring.validation.markdown import (
    _fmt,
)
from acct_pipeline.scoring.validation.metrics import (
    fairness_findings,
    segment_table,
)
from acct_pipeline.scoring.validation.result import (
    AUC_HIGH,
    AUC_LOW,
    CHECK_AUC,
    CHECK_FLAPPING,
    CHECK_MONOTONIC,
    CHECK_PSI,
    CHECK_SEGMENTS,
    CHECK_TIER_SHARE,
    FLAP_SHARE_MAX,
    FLAP_WINDOW_DAYS,
    MIN_SEGMENT_ROWS,
    MIN_TIER_ROWS,
    PSI_SHIFTED,
    PSI_WARMUP_WINDOW,
    SEGMENT_AUC_GAP,
    SEGMENT_MISSING_MAX,
    TIER_CHANGE_SHARE_MAX,
    TIER_SHARE_DAYS,
    TIER_SHARE_MAX,
    CheckOutcome,
    TierShares,
    day_text,
    psi_summary,
)
from acct_pipeline.warehouse import (
    SCORE_VALIDATION,
    table_exists,
)


def evaluate_tier_shares(shares: TierShares) -> CheckOutcome:
    """WARN when one tier holds more than ``TIER_SHARE_MAX`` or a tier of the model is empty."""
    pct = {t: round(v, 4) for t, v in shares.shares.items()}
    meta: dict[str, Any] = {
        "tier_share_30d": pct,
        "account_days_by_tier": dict(shares.counts),
        "window": f"{shares.date_from} .. {shares.date_to} ({shares.days} scored days)",
        "excluded_account_days": shares.excluded,
        "max_tier_share": TIER_SHARE_MAX,
    }
    if not shares.account_days:
        return CheckOutcome(
            CHECK_TIER_SHARE,
            False,
            f"no scored account with a tier in the last {TIER_SHARE_DAYS} scored days",
            meta,
        )
    listing = ", ".join(f"{t} {v:.1%}" for t, v in shares.shares.items())
    largest = max(shares.shares, key=lambda t: shares.shares[t])
    empty = [t for t in shares.model_tiers if shares.counts.get(t, 0) == 0]
    problems = []
    if shares.shares[largest] > TIER_SHARE_MAX:
        share = shares.shares[largest]
        problems.append(f"{largest} holds {share:.1%} of account-days (max {TIER_SHARE_MAX:.0%})")
    if empty:
        problems.append(f"empty tier(s): {', '.join(empty)}")
    head = "; ".join(problems) if problems else "every tier is used and none dominates"
    return CheckOutcome(
        CHECK_TIER_SHARE,
        not problems,
        f"{head}. Last {shares.days} scored days ({shares.date_from} .. {shares.date_to}, "
        f"{shares.account_days:,} account-days): {listing}",
        meta,
    )


def summary_from_table(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The headline numbers the checks need, read back from ``scores.score_validation``.

    The checks judge what was stored, not a fresh computation.
    """
    if not table_exists(con, SCORE_VALIDATION):
        return {"status": f"no table {SCORE_VALIDATION}"}
    df = con.execute(f"SELECT * FROM {SCORE_VALIDATION}").df()
    if df.empty:
        return {"status": "no validation rows"}

    def one(metric: str, **kw: str) -> float | None:
        part = df[df["metric"] == metric]
        for col, val in kw.items():
            part = part[part[col] == val]
        val = part["value"].iloc[0] if len(part) else None
        return None if val is None or pd.isna(val) else float(val)

    tier_rows = df[
        (df["metric"] == "churn_rate")
        & (df["segment_type"] == "tier")
        & (df["window"] == "90d_after")
    ]
    by_tier = {r.segment: (float(r.value), int(r.n)) for r in tier_rows.itertuples()}
    tiers = ordered_tiers(list(by_tier))
    judged = [t for t in tiers if t in model_tier_names() and by_tier[t][1] >= MIN_TIER_ROWS]
    rates = [by_tier[t][0] for t in judged]
    psi = df[df["metric"] == "psi"].dropna(subset=["value"])
    changes = df[df["metric"] == "tier_change_share"].dropna(subset=["value"])
    return {
        "status": "ok",
        "date_from": day_text(df["date_from"].iloc[0]),
        "date_to": day_text(df["date_to"].iloc[0]),
        "auc_health_score": one("auc", score="health_score", segment_type="all"),
        "auc_churn_probability": one("auc", score="churn_probability", segment_type="all"),
        "churn_rate_by_tier": {t: by_tier[t][0] for t in tiers},
        "tiers_judged_for_monotonicity": judged,
        "churn_monotonic": bool(
            len(rates) >= 2 and all(a <= b for a, b in zip(rates, rates[1:], strict=False))
        ),
        **psi_summary(
            [
                (r.as_of_date, float(r.value), r.window == PSI_WARMUP_WINDOW)
                for r in psi.itertuples()
            ]
        ),
        "tier_change_share_mean": float(changes["value"].mean()) if len(changes) else None,
        "tier_flap_share": one("tier_flap_share"),
        "segment_findings": fairness_findings(
            segment_table(df), one("auc", score="health_score", segment_type="all")
        ),
    }


def evaluate_checks(summary: dict[str, Any]) -> list[CheckOutcome]:
    """The four validation checks (all warnings): AUC band, monotonic churn, PSI, flapping."""
    auc = summary.get("auc_health_score")
    if auc is None:
        auc_ok, auc_msg = (
            False,
            "health-score AUC cannot be computed (no churn or no survivors in the history)",
        )
    elif auc < AUC_LOW:
        auc_ok, auc_msg = False, f"health-score AUC {auc:.3f} is below {AUC_LOW}: close to random"
    elif auc > AUC_HIGH:
        auc_ok, auc_msg = (
            False,
            f"health-score AUC {auc:.3f} is above {AUC_HIGH}: likely leakage of the outcome",
        )
    else:
        auc_ok, auc_msg = True, f"health-score AUC {auc:.3f} is within [{AUC_LOW}, {AUC_HIGH}]"
    prob_auc = summary.get("auc_churn_probability")
    if prob_auc is not None:
        auc_msg += f"; churn-probability AUC {prob_auc:.3f}"

    rates = summary.get("churn_rate_by_tier", {})
    judged = summary.get("tiers_judged_for_monotonicity", [])
    mono = bool(summary.get("churn_monotonic"))
    chain = " <= ".join(f"{t} {rates[t]:.1%}" for t in judged) if judged else "no tier large enough"
    mono_msg = (
        f"90-day churn rate rises as the tier worsens: {chain}"
        if mono
        else f"90-day churn rate is not monotonic across tiers (or too few tiers to judge): {chain}"
    )

    psi_max = summary.get("psi_max")
    psi_ok = psi_max is None or psi_max <= PSI_SHIFTED
    psi_msg = (
        "only one day scored: no PSI yet"
        if psi_max is None
        else f"max day-over-day PSI {psi_max:.3f} (on {summary.get('psi_max_day')}), "
        f"mean {_fmt(summary.get('psi_mean'))}, over the days from "
        f"{summary.get('psi_judged_from')}{_warmup_note(summary)}; > {PSI_SHIFTED} means the "
        "score distribution shifted"
    )

    flap = summary.get("tier_flap_share")
    change = summary.get("tier_change_share_mean")
    flap_ok = (flap is None or flap <= FLAP_SHARE_MAX) and (
        change is None or change <= TIER_CHANGE_SHARE_MAX
    )
    flap_msg = (
        f"{_fmt(flap, 3)} of accounts changed tier and back within {FLAP_WINDOW_DAYS} days "
        f"(max {FLAP_SHARE_MAX}); "
        f"mean {_fmt(change, 3)} of accounts change tier per day (max {TIER_CHANGE_SHARE_MAX})"
    )
    return [
        CheckOutcome(
            CHECK_AUC, auc_ok, auc_msg, {"auc_health_score": auc, "auc_churn_probability": prob_auc}
        ),
        CheckOutcome(CHECK_MONOTONIC, mono, mono_msg, {"churn_rate_by_tier": rates}),
        CheckOutcome(CHECK_PSI, psi_ok, psi_msg, {"psi_max": psi_max}),
        CheckOutcome(
            CHECK_FLAPPING,
            flap_ok,
            flap_msg,
            {"tier_flap_share": flap, "tier_change_share_mean": change},
        ),
        _segments_check(summary),
    ]


def _segments_check(summary: dict[str, Any]) -> CheckOutcome:
    findings = summary.get("segment_findings")
    if findings is None:
        return CheckOutcome(CHECK_SEGMENTS, True, "no per-segment figures to judge", {})
    if not findings:
        return CheckOutcome(
            CHECK_SEGMENTS,
            True,
            f"no segment with at least {MIN_SEGMENT_ROWS} account-days is more than "
            f"{SEGMENT_AUC_GAP} below the whole book's AUC (and below it beyond sampling noise), "
            "or lacks data "
            "for more than "
            f"{SEGMENT_MISSING_MAX:.0%} of the health weight",
            {},
        )
    return CheckOutcome(CHECK_SEGMENTS, False, "; ".join(findings), {"segment_findings": findings})


def _warmup_note(summary: dict[str, Any]) -> str:
    """What the stability check left out: the days of the signal warm-up."""
    if summary.get("psi_within_warmup"):
        return (
            f" (the whole history is within the {SIGNAL_WARMUP_DAYS}-day signal warm-up after "
            "the first product event, while the usage windows fill: judged anyway)"
        )
    days = summary.get("psi_warmup_days") or 0
    if not days:
        return ""
    return (
        f"; the {days} day(s) before, within {SIGNAL_WARMUP_DAYS} days of the first product "
        "event while the usage windows fill, are not judged (their max "
        f"{_fmt(summary.get('psi_warmup_max'))})"
    )
