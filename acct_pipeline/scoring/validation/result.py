"""What a validation returns and stores: the tidy rows, the headline numbers, check verdicts,
and the thresholds they are judged by."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from acct_pipeline.scoring.outcomes import (
    CHURN_HORIZON_DAYS,
)

CONTRACT_END_WINDOWS: tuple[int, ...] = (30, 60, 90)
SEGMENT_TYPES: tuple[str, ...] = ("plan", "region", "industry")
PSI_BINS = 10
FLAP_WINDOW_DAYS = 7

# Check thresholds (docs/traps.md, "Scoring validation thresholds").
AUC_LOW = 0.60  # below: close to random
AUC_HIGH = 0.95  # above: usually leakage
PSI_SHIFTED = 0.25  # above: the distribution shifted between two days
PSI_WINDOW = "consecutive_days"  # a day's PSI against the day before
PSI_WARMUP_WINDOW = "consecutive_days_warmup"  # the same, within the signal warm-up: not judged
# A tier change and its reversal within the week are flapping only when the score barely moved
# between them; a reversal after a move of the default hysteresis margin (8 points) or more is a
# real change (e.g. a dwell promotion after 10 days at 92, then a drop to 80). On the 2,000-account
# demo sample, counting those too put the share at ~0.07 (issue #22).
FLAP_REAL_MOVE_POINTS = 8.0
FLAP_SHARE_MAX = 0.05  # share of accounts whose tier changed and changed back within a week
TIER_CHANGE_SHARE_MAX = 0.10  # mean share of accounts changing tier per day
MIN_TIER_ROWS = 30  # tiers with fewer account-days are too small to judge monotonicity
TIER_SHARE_DAYS = 30  # the tier-share check looks at the last 30 scored days
TIER_SHARE_MAX = 0.60  # one tier holding more of the book than this tells nobody anything
# The lifecycle status column beside the tier: churned accounts are out of the tier shares.
LIFECYCLE_STATUS = "lifecycle_status"

# Fairness by segment: are some segments scored worse, or on less data, than the whole book?
FAIRNESS_TYPES: tuple[str, ...] = ("plan", "region", "size_band", "product_data")
FAIRNESS_WINDOW = "90d_after"  # every labelled account-day of the range
SEGMENT_PREFIX = "segment_"  # fairness metrics: segment_auc, segment_churn_rate, ...
SEGMENT_AUC_GAP = 0.10  # a segment's health AUC this far below the whole book's warns
SEGMENT_MISSING_MAX = 0.30  # a segment whose health weight lacked data more than this warns
MIN_SEGMENT_ROWS = 100  # account-days: smaller segments are listed, not judged
MIN_SEGMENT_CHURNED = 5  # churned accounts (not account-days) needed to judge a segment's AUC
SIZE_BANDS: tuple[tuple[int, str], ...] = ((50, "1-49"), (250, "50-249"), (1000, "250-999"))

# Check names (asset checks on scores.score_validation; all WARN, never blocking).
CHECK_AUC = "auc_in_sane_band"
CHECK_MONOTONIC = "churn_rate_monotonic_across_tiers"
CHECK_PSI = "score_distribution_stable"
CHECK_FLAPPING = "no_tier_flapping"
CHECK_SEGMENTS = "segments_scored_fairly"
CHECK_DESCRIPTIONS = {
    CHECK_AUC: f"Health-score ROC-AUC for 90-day churn is between {AUC_LOW} (near random below) "
    "and "
    f"{AUC_HIGH} (likely leakage above).",
    CHECK_MONOTONIC: "The 90-day churn rate rises from each tier of the scoring model to the next "
    "worse one.",
    CHECK_PSI: f"No day-over-day PSI of the health-score distribution above {PSI_SHIFTED}, "
    "after the signal warm-up (the first days after the first product event, while the usage "
    "windows fill, are reported but not judged).",
    CHECK_FLAPPING: f"At most {FLAP_SHARE_MAX:.0%} of accounts change tier and back within "
    f"{FLAP_WINDOW_DAYS} days, "
    f"and at most {TIER_CHANGE_SHARE_MAX:.0%} change tier on an average day.",
    CHECK_SEGMENTS: "No segment (plan, region, size band, tracked / untracked product data) has a "
    f"health-score AUC more than {SEGMENT_AUC_GAP} below the whole book's (and below it beyond "
    "sampling noise, accounts as the unit), or lacks data for more "
    f"than {SEGMENT_MISSING_MAX:.0%} of the health weight.",
}
# A separate check (it needs the model's tier names): defs/validation/checks.py.
CHECK_TIER_SHARE = "tier_shares_balanced"
CHECK_TIER_SHARE_DESCRIPTION = (
    f"Tiers that separate accounts: over the last {TIER_SHARE_DAYS} scored days no tier of the "
    f"model holds more than {TIER_SHARE_MAX:.0%} of the account-days and none is empty (churned "
    "accounts and rows without a tier left out). A lopsided or empty tier means the bands say "
    "little about which accounts need attention."
)

# Signal columns that identify a row or a segment rather than being a scoring input.
NON_INPUT_COLUMNS = frozenset({"account_id", "as_of_date", "plan", "model_version", "computed_at"})

VALIDATION_COLUMNS: tuple[str, ...] = (
    "metric",  # auc, top_decile_lift, churn_rate, renewal_rate, brier, psi, ...
    "score",  # health_score | churn_probability | NULL (not about one score)
    "segment_type",  # all | tier | decile | bin | plan | region | industry | day
    "segment",  # the tier, decile, bin or segment value
    "window",  # 90d_after | 30d_before_end | consecutive_days[_warmup] | latest_day | ...
    "as_of_date",  # for per-day metrics, else NULL
    "value",
    "n",  # rows (account-days or accounts) behind the value
)

_SCORE_COLUMNS = {
    "health_score": "health_score",
    "churn_probability": "churn_probability",
}


@dataclass
class CheckOutcome:
    """One check's verdict, independent of Dagster (``defs/validation`` maps it to a check)."""

    name: str
    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class ValidationResult:
    """The tidy rows (``VALIDATION_COLUMNS``) and the headline numbers."""

    rows: pd.DataFrame
    summary: dict[str, Any]

    @property
    def ok(self) -> bool:
        """True when there was a history to validate (``status`` says why not otherwise)."""
        return self.summary.get("status") == "ok"

    @property
    def status(self) -> str:
        return str(self.summary.get("status"))

    @property
    def date_from(self) -> date | None:
        return _date(self.summary.get("date_from"))

    @property
    def date_to(self) -> date | None:
        return _date(self.summary.get("date_to"))

    @property
    def horizon_days(self) -> int:
        return int(self.summary.get("horizon_days", CHURN_HORIZON_DAYS))

    @property
    def censored_share(self) -> float:
        return float(self.summary.get("censored_share", 0.0))

    @property
    def outcome_events(self) -> dict[str, int]:
        return dict(self.summary.get("outcome_events") or {})

    @property
    def segment_findings(self) -> list[str]:
        return list(self.summary.get("segment_findings") or [])

    @property
    def brier(self) -> float | None:
        value = self.summary.get("brier")
        return None if value is None else float(value)

    def summary_json(self) -> str:
        """The headline numbers as JSON, as stored in ``scores.score_validation_summary``."""
        return json.dumps(self.summary, default=str)

    def metric(
        self,
        metric: str,
        score: str | None = None,
        segment_type: str | None = None,
        segment: str | None = None,
        window: str | None = None,
    ) -> pd.DataFrame:
        """The rows of one metric, optionally narrowed down."""
        df = self.rows[self.rows["metric"] == metric]
        for col, val in (
            ("score", score),
            ("segment_type", segment_type),
            ("segment", segment),
            ("window", window),
        ):
            if val is not None:
                df = df[df[col] == val]
        return df


@dataclass
class TierShares:
    """Account-days per tier over the last ``days`` scored days (churned / untiered left out)."""

    date_from: date | None
    date_to: date | None
    days: int
    counts: dict[str, int]  # every tier of the model (0 when empty), then any other tier seen
    excluded: int  # account-days without a tier or with lifecycle status Churned
    model_tiers: tuple[str, ...] = ()

    @property
    def account_days(self) -> int:
        return sum(self.counts.values())

    @property
    def shares(self) -> dict[str, float]:
        total = self.account_days
        return {t: (n / total if total else 0.0) for t, n in self.counts.items()}


def _date(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(str(value)[:10])


def rows_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The tidy rows (``VALIDATION_COLUMNS``) of ``records``, with fixed column types."""
    df = pd.DataFrame.from_records(records, columns=list(VALIDATION_COLUMNS))
    df["as_of_date"] = pd.to_datetime(df["as_of_date"]).dt.date
    df["value"] = df["value"].astype("float64")
    df["n"] = df["n"].astype("Int64")
    return df


def empty_result(reason: str) -> ValidationResult:
    """A result with no rows, for a warehouse without scores."""
    return ValidationResult(rows=rows_frame([]), summary={"status": reason, "account_days": 0})


def day_text(x: Any) -> str | None:
    """A date-like value as YYYY-MM-DD (None for missing)."""
    return None if x is None or pd.isna(x) else str(pd.Timestamp(x).date())


def psi_summary(days: Sequence[tuple[Any, float, bool]]) -> dict[str, Any]:
    """The stability headline from ``(day, PSI against the day before, within the warm-up)``:
    max, mean and the day of the max over the days after the signal warm-up (while the usage
    windows fill the distribution moves for that reason alone), what the warm-up held, and
    whether the whole history is within it (then every day is judged)."""
    judged = [(d, v) for d, v, warm in days if not warm]
    warmup = [v for _, v, warm in days if warm]
    within = bool(days) and not judged
    if within:
        judged, warmup = [(d, v) for d, v, _ in days], []
    values = [v for _, v in judged]
    return {
        "psi_max": round(max(values), 4) if values else None,
        "psi_mean": round(sum(values) / len(values), 4) if values else None,
        "psi_max_day": day_text(max(judged, key=lambda r: r[1])[0]) if values else None,
        "psi_judged_from": day_text(min(d for d, _ in judged)) if judged else None,
        "psi_warmup_days": len(warmup),
        "psi_warmup_max": round(max(warmup), 4) if warmup else None,
        "psi_within_warmup": within,
    }
