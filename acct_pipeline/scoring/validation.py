"""Does the score predict what happens next? Validation of the stored score history vs outcomes.

For the history in the warehouse (every as-of day D of ``scores.account_scores``) and the outcomes
from billing (``outcomes.py``), this computes:

- churn rate by tier (label: churned within 90 days after D) and churn / renewal rate by tier at
  30 / 60 / 90 days before contract end;
- ROC-AUC and top-decile lift of the health score (as risk = 100 - score) and of the churn
  probability, plus the churn rate per risk decile (the lift chart);
- calibration of the churn probability: Brier score and a reliability table (10 bins);
- score distribution per tier (are most accounts stuck in one band?);
- stability: PSI of the health-score distribution between consecutive days, share of accounts
  changing tier per day, and tier flapping (a change reverted within a week);
- coverage by segment (plan, region, industry): share of accounts with missing inputs and the
  score distribution per segment, so a segment scored on missing data stands out;
- fairness by segment (plan, region, size band, tracked / untracked product data) over every
  labelled account-day: health AUC, churn rate, calibration, tier shares and the share of the
  health weight without data (``segment_*`` metrics, ``segment_table``), with a warning check
  (``segments_scored_fairly``) when a segment's AUC is far below the whole book's or much of its
  weight had no data.

All of it is DuckDB SQL over the whole history; pandas only sees the (small) results. The results
are one tidy long table (``scores.score_validation``, ``VALIDATION_COLUMNS``) plus a summary dict
of headline numbers used for asset metadata and checks (``evaluate_checks``).

A note on censoring: days whose 90-day horizon runs past the last scored day can only say "not
churned yet". They are kept (otherwise a short history has nothing to validate) and their share
is reported as ``censored_share``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import duckdb
import pandas as pd

from acct_pipeline.scoring.lifecycle import CHURNED
from acct_pipeline.scoring.outcomes import (
    CHURN_HORIZON_DAYS,
    CONTRACT_ENDS,
    churn_label_sql,
    create_outcome_tables,
)
from acct_pipeline.warehouse import (
    ACCOUNT_SCORES,
    ACCOUNT_SIGNALS,
    ACCOUNTS,
    BILLING_SUBSCRIPTIONS,
    IDENTITY_MAP,
    SCORE_VALIDATION,
    replace_table,
    table_columns,
    table_exists,
)

TIER_ORDER: tuple[str, ...] = ("Healthy", "At-Risk", "Concerning", "Critical")
CONTRACT_END_WINDOWS: tuple[int, ...] = (30, 60, 90)
SEGMENT_TYPES: tuple[str, ...] = ("plan", "region", "industry")
PSI_BINS = 10
FLAP_WINDOW_DAYS = 7

# Check thresholds (docs/traps.md, "Scoring validation thresholds").
AUC_LOW = 0.60  # below: close to random
AUC_HIGH = 0.95  # above: usually leakage
PSI_SHIFTED = 0.25  # above: the distribution shifted between two days
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
MIN_SEGMENT_CHURNED = 5  # churned account-days needed to judge a segment's AUC
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
    CHECK_MONOTONIC: "The 90-day churn rate rises from Healthy to At-Risk to Concerning to "
    "Critical.",
    CHECK_PSI: f"No day-over-day PSI of the health-score distribution above {PSI_SHIFTED}.",
    CHECK_FLAPPING: f"At most {FLAP_SHARE_MAX:.0%} of accounts change tier and back within "
    f"{FLAP_WINDOW_DAYS} days, "
    f"and at most {TIER_CHANGE_SHARE_MAX:.0%} change tier on an average day.",
    CHECK_SEGMENTS: "No segment (plan, region, size band, tracked / untracked product data) has a "
    f"health-score AUC more than {SEGMENT_AUC_GAP} below the whole book's, or lacks data for more "
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
    "window",  # 90d_after | 30d_before_end | consecutive_days | latest_day | ...
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


def tier_rank_sql(expr: str) -> str:
    """SQL ranking a tier from best (0, Healthy) to worst (3, Critical); unknown tiers rank 4."""
    whens = " ".join(f"WHEN '{t}' THEN {i}" for i, t in enumerate(TIER_ORDER))
    return f"(CASE {expr} {whens} ELSE {len(TIER_ORDER)} END)"


def ordered_tiers(tiers: list[str]) -> list[str]:
    """Tiers from best to worst; unknown names after the known ones, alphabetically."""
    known = [t for t in TIER_ORDER if t in tiers]
    return known + sorted(t for t in set(tiers) if t not in TIER_ORDER)


def _prepare_scores(
    con: duckdb.DuckDBPyConnection,
    scores_table: str,
    date_from: date | None,
    date_to: date | None,
    horizon_days: int,
) -> dict[str, Any]:
    """TEMP tables ``_v_scores`` (scores in range, standard columns) and ``_v_labeled`` (with the
    churn label). Returns what is available."""
    cols = table_columns(con, scores_table)
    has_prob = "churn_probability" in cols
    prob = "CAST(churn_probability AS DOUBLE)" if has_prob else "NULL::DOUBLE"
    version = "CAST(model_version AS VARCHAR)" if "model_version" in cols else "'unknown'"
    # churned accounts are out of the book after their churn date (scoring/lifecycle.py)
    coverage = "CAST(data_coverage AS DOUBLE)" if "data_coverage" in cols else "NULL::DOUBLE"
    live = "WHERE lifecycle_status IS DISTINCT FROM 'Churned'" if "lifecycle_status" in cols else ""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _v_all AS
        SELECT account_id, CAST(as_of_date AS DATE) AS as_of_date,
               CAST(health_score AS DOUBLE) AS health_score, CAST(tier AS VARCHAR) AS tier,
               {prob} AS churn_probability, {version} AS model_version,
               {coverage} AS data_coverage
        FROM {scores_table} {live}
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _v_scores AS
        SELECT * FROM _v_all
        WHERE as_of_date BETWEEN coalesce(CAST(? AS DATE), DATE '0001-01-01')
                             AND coalesce(CAST(? AS DATE), DATE '9999-12-31')
        """,
        [date_from, date_to],
    )
    # The censoring horizon is the end of the whole stored history, not of the window.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _v_labeled AS
        SELECT l.* FROM ({churn_label_sql("_v_all", horizon_days)}) l
        SEMI JOIN _v_scores v USING (account_id, as_of_date)
        """
    )
    return {"has_churn_probability": has_prob}


def _auc_sql(score_expr: str, relation: str = "_v_labeled") -> str:
    """ROC-AUC by the Mann-Whitney rank sum (ties get their average rank) over ``relation``."""
    return f"""
    WITH s AS (SELECT {score_expr} AS risk, churned FROM {relation} WHERE {score_expr} IS NOT NULL),
    r AS (
        SELECT churned,
               rank() OVER (ORDER BY risk) + (count(*) OVER (PARTITION BY risk) - 1) / 2.0 AS
                   avg_rank
        FROM s
    ),
    t AS (SELECT sum(churned) AS n1, count(*) - sum(churned) AS n0,
                 sum(CASE WHEN churned = 1 THEN avg_rank ELSE 0 END) AS pos_ranks FROM r)
    SELECT CASE WHEN n1 > 0 AND n0 > 0 THEN (pos_ranks - n1 * (n1 + 1) / 2.0) / (n1 * n0) END AS
        auc,
           n1 + n0 AS n, n1
    FROM t
    """


def _decile_sql(score_expr: str) -> str:
    """Churn rate per risk decile, deciles drawn within each day (the daily top-10% list)."""
    return f"""
    WITH d AS (
        SELECT churned,
               ntile(10) OVER (PARTITION BY as_of_date ORDER BY {score_expr} DESC,
                   hash(account_id)) AS decile
        FROM _v_labeled WHERE {score_expr} IS NOT NULL
    ),
    base AS (SELECT avg(churned) AS rate FROM d)
    SELECT decile, count(*) AS n, avg(churned) AS churn_rate,
           CASE WHEN (SELECT rate FROM base) > 0 THEN avg(churned) / (SELECT rate FROM base) END
               AS lift
    FROM d GROUP BY decile ORDER BY decile
    """


def _rows(records: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame.from_records(records, columns=list(VALIDATION_COLUMNS))
    df["as_of_date"] = pd.to_datetime(df["as_of_date"]).dt.date
    df["value"] = df["value"].astype("float64")
    df["n"] = df["n"].astype("Int64")
    return df


def _rec(metric: str, value: Any, n: Any = None, **kw: Any) -> dict[str, Any]:
    out = {c: None for c in VALIDATION_COLUMNS}
    out.update(
        metric=metric, value=None if value is None or _isnan(value) else float(value), n=n, **kw
    )
    return out


def _isnan(x: Any) -> bool:
    try:
        return math.isnan(float(x))
    except (TypeError, ValueError):
        return False


def _discrimination(
    con: duckdb.DuckDBPyConnection, has_prob: bool, recs: list, summary: dict
) -> None:
    scores = {"health_score": "(100 - health_score)"}
    if has_prob:
        scores["churn_probability"] = "churn_probability"
    for name, expr in scores.items():
        auc, n, n1 = con.execute(_auc_sql(expr)).fetchone()
        recs.append(
            _rec("auc", auc, n, score=name, segment_type="all", segment="all", window="90d_after")
        )
        summary[f"auc_{name}"] = None if auc is None else round(float(auc), 4)
        first, last = con.execute(
            f"SELECT min(as_of_date), max(as_of_date) FROM _v_labeled WHERE {expr} IS NOT NULL"
        ).fetchone()
        summary[f"auc_{name}_basis"] = {
            "n": int(n or 0),
            "churned": int(n1 or 0),
            "from": _day(first),
            "to": _day(last),
        }
        for decile, dn, rate, lift in con.execute(_decile_sql(expr)).fetchall():
            seg = dict(score=name, segment_type="decile", segment=str(decile), window="90d_after")
            recs.append(_rec("decile_churn_rate", rate, dn, **seg))
            recs.append(_rec("decile_lift", lift, dn, **seg))
            if decile == 1:
                recs.append(
                    _rec(
                        "top_decile_lift",
                        lift,
                        dn,
                        score=name,
                        segment_type="all",
                        segment="all",
                        window="90d_after",
                    )
                )
                summary[f"lift_{name}"] = None if lift is None else round(float(lift), 3)
    if has_prob:
        # the health score judged on exactly the rows that have an out-of-time probability
        auc, n, _ = con.execute(
            _auc_sql("CASE WHEN churn_probability IS NOT NULL THEN 100 - health_score END")
        ).fetchone()
        summary["auc_health_score_on_churn_rows"] = None if auc is None else round(float(auc), 4)
    if not has_prob:
        summary["auc_churn_probability"] = None
        summary["lift_churn_probability"] = None


def _renewal_cases(
    con: duckdb.DuckDBPyConnection, signals_table: str, horizon_days: int, recs: list, summary: dict
) -> None:
    """AUCs on the hard cases only: accounts whose renewal falls inside the horizon and that have
    not given notice. Knowing who renews soon and who gave notice already separates most
    churners (only they can churn within the window); this tells how much the scores add."""
    cols = set(table_columns(con, signals_table))
    if not {"days_to_renewal", "cancellation_notice"} <= cols:
        return
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _v_renewing AS
        SELECT l.* FROM _v_labeled l
        JOIN {signals_table} g USING (account_id, as_of_date)
        WHERE g.days_to_renewal BETWEEN 0 AND {int(horizon_days)}
          AND coalesce(g.cancellation_notice, 0) = 0
        """
    )
    for name, expr in (
        ("health_score", "(100 - health_score)"),
        ("churn_probability", "churn_probability"),
    ):
        auc, n, n1 = con.execute(_auc_sql(expr, "_v_renewing")).fetchone()
        recs.append(
            _rec(
                "auc",
                auc,
                n,
                score=name,
                segment_type="renewing_without_notice",
                segment="all",
                window="90d_after",
            )
        )
        summary[f"auc_{name}_renewing_without_notice"] = (
            None if auc is None else round(float(auc), 4)
        )
        summary[f"auc_{name}_renewing_without_notice_n"] = int(n or 0)


def _churn_by_tier(con: duckdb.DuckDBPyConnection, recs: list, summary: dict) -> None:
    rows = con.execute(
        "SELECT tier, count(*) AS n, sum(churned) AS churned, avg(churned) AS rate "
        "FROM _v_labeled GROUP BY tier"
    ).fetchall()
    by_tier = {t: (int(n), int(c), float(r)) for t, n, c, r in rows}
    for tier in ordered_tiers(list(by_tier)):
        n, _, rate = by_tier[tier]
        recs.append(
            _rec("churn_rate", rate, n, segment_type="tier", segment=tier, window="90d_after")
        )
    summary["churn_rate_by_tier"] = {
        t: round(by_tier[t][2], 4) for t in ordered_tiers(list(by_tier))
    }
    summary["account_days_by_tier"] = {t: by_tier[t][0] for t in ordered_tiers(list(by_tier))}
    judged = [
        t
        for t in ordered_tiers(list(by_tier))
        if t in TIER_ORDER and by_tier[t][0] >= MIN_TIER_ROWS
    ]
    rates = [by_tier[t][2] for t in judged]
    summary["tiers_judged_for_monotonicity"] = judged
    summary["churn_monotonic"] = bool(
        len(rates) >= 2 and all(a <= b for a, b in zip(rates, rates[1:], strict=False))
    )

    # At N days before a contract end, what tier was the account in, and did it renew or churn?
    for window in CONTRACT_END_WINDOWS:
        res = con.execute(
            f"""
            SELECT s.tier, count(*) AS n,
                   avg(CAST(e.outcome = 'churned' AS INTEGER)) AS churn_rate,
                   avg(CAST(e.outcome = 'renewed' AS INTEGER)) AS renewal_rate
            FROM {CONTRACT_ENDS} e
            JOIN _v_scores s ON s.account_id = e.account_id AND s.as_of_date = e.end_date - {window}
            GROUP BY s.tier
            """
        ).fetchall()
        got = {t: (n, c, r) for t, n, c, r in res}
        for tier in ordered_tiers(list(got)):
            n, c, r = got[tier]
            seg = dict(segment_type="tier", segment=tier, window=f"{window}d_before_end")
            recs.append(_rec("churn_rate", c, n, **seg))
            recs.append(_rec("renewal_rate", r, n, **seg))
        summary[f"contract_ends_scored_{window}d_before"] = int(sum(v[0] for v in got.values()))


def _calibration(con: duckdb.DuckDBPyConnection, has_prob: bool, recs: list, summary: dict) -> None:
    if not has_prob:
        summary["brier"] = None
        return
    brier, n = con.execute(
        "SELECT avg(power(churn_probability - churned, 2)), count(*) FROM _v_labeled "
        "WHERE churn_probability IS NOT NULL"
    ).fetchone()
    summary["brier"] = None if brier is None else round(float(brier), 5)
    recs.append(
        _rec(
            "brier",
            brier,
            n,
            score="churn_probability",
            segment_type="all",
            segment="all",
            window="90d_after",
        )
    )
    for b, bn, pred, obs in con.execute(
        """
        SELECT least(CAST(floor(churn_probability * 10) AS INTEGER), 9) AS bin, count(*),
               avg(churn_probability), avg(churned)
        FROM _v_labeled WHERE churn_probability IS NOT NULL GROUP BY bin ORDER BY bin
        """
    ).fetchall():
        seg = dict(
            score="churn_probability",
            segment_type="bin",
            segment=f"{b / 10:.1f}-{(b + 1) / 10:.1f}",
            window="90d_after",
        )
        recs.append(_rec("reliability_predicted", pred, bn, **seg))
        recs.append(_rec("reliability_observed", obs, bn, **seg))


def _distribution(
    con: duckdb.DuckDBPyConnection, recs: list, summary: dict, last_day: date
) -> None:
    for window, where in (
        ("latest_day", "as_of_date = CAST(? AS DATE)"),
        ("all_days", "? IS NOT NULL"),
    ):
        res = con.execute(
            f"""
            SELECT tier, count(*) AS n, count(*) / sum(count(*)) OVER () AS share,
                   avg(health_score), min(health_score), quantile_cont(health_score, 0.1),
                   median(health_score), quantile_cont(health_score, 0.9), max(health_score)
            FROM _v_scores WHERE {where} GROUP BY tier
            """,
            [last_day],
        ).fetchall()
        got = {r[0]: r[1:] for r in res}
        for tier in ordered_tiers(list(got)):
            n, share, mean, lo, p10, p50, p90, hi = got[tier]
            seg = dict(
                segment_type="tier",
                segment=tier,
                window=window,
                as_of_date=last_day if window == "latest_day" else None,
            )
            for metric, value in (
                ("tier_share", share),
                ("score_mean", mean),
                ("score_min", lo),
                ("score_p10", p10),
                ("score_p50", p50),
                ("score_p90", p90),
                ("score_max", hi),
            ):
                recs.append(
                    _rec(
                        metric,
                        value,
                        n,
                        score="health_score" if metric != "tier_share" else None,
                        **seg,
                    )
                )
        if window == "latest_day":
            summary["tier_share_latest"] = {
                t: round(float(got[t][1]), 4) for t in ordered_tiers(list(got))
            }
            summary["largest_tier_share_latest"] = round(
                max((float(v[1]) for v in got.values()), default=0.0), 4
            )


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


def recent_tier_shares(
    con: duckdb.DuckDBPyConnection,
    tier_names: list[str] | tuple[str, ...],
    scores_table: str = ACCOUNT_SCORES,
    days: int = TIER_SHARE_DAYS,
    date_from: date | None = None,
    date_to: date | None = None,
) -> TierShares:
    """Tier counts over the last ``days`` scored days (within ``date_from``..``date_to``).

    Rows with no tier, and rows whose ``lifecycle_status`` is Churned when the table has that
    column, are counted in ``excluded`` only.
    """
    empty = TierShares(None, None, 0, dict.fromkeys(tier_names, 0), 0, tuple(tier_names))
    if not table_exists(con, scores_table):
        return empty
    cols = table_columns(con, scores_table)
    churned = (
        f"coalesce(CAST({LIFECYCLE_STATUS} AS VARCHAR) = '{CHURNED}', false)"
        if LIFECYCLE_STATUS in cols
        else "false"
    )
    recent = f"""
        WITH s AS (
            SELECT CAST(as_of_date AS DATE) AS d, CAST(tier AS VARCHAR) AS tier,
                   tier IS NULL OR {churned} AS excluded
            FROM {scores_table}
            WHERE CAST(as_of_date AS DATE)
                  BETWEEN coalesce(CAST(? AS DATE), DATE '0001-01-01')
                      AND coalesce(CAST(? AS DATE), DATE '9999-12-31')
        ),
        recent AS (SELECT DISTINCT d FROM s ORDER BY d DESC LIMIT {int(days)})
    """
    first, last, n_days = con.execute(
        f"{recent} SELECT min(d), max(d), count(*) FROM recent", [date_from, date_to]
    ).fetchone()
    if not n_days:
        return empty
    counts = dict.fromkeys(tier_names, 0)
    excluded = 0
    for tier, is_excluded, n in con.execute(
        f"{recent} SELECT tier, excluded, count(*) FROM s SEMI JOIN recent USING (d) GROUP BY ALL",
        [date_from, date_to],
    ).fetchall():
        if is_excluded:
            excluded += int(n)
        else:
            counts[tier] = counts.get(tier, 0) + int(n)
    return TierShares(first, last, int(n_days), counts, excluded, tuple(tier_names))


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


def _recent_tier_share(
    con: duckdb.DuckDBPyConnection,
    scores_table: str,
    date_from: date | None,
    date_to: date | None,
    tier_names: list[str] | tuple[str, ...] | None,
    recs: list,
    summary: dict,
) -> None:
    names = tier_names or ordered_tiers(
        [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT tier FROM _v_scores WHERE tier IS NOT NULL"
            ).fetchall()
        ]
    )
    shares = recent_tier_shares(con, names, scores_table, date_from=date_from, date_to=date_to)
    for tier, share in shares.shares.items():
        recs.append(
            _rec(
                "tier_share",
                share,
                shares.counts[tier],
                segment_type="tier",
                segment=tier,
                window=f"last_{TIER_SHARE_DAYS}_days",
            )
        )
    summary["tier_share_30d"] = {t: round(v, 4) for t, v in shares.shares.items()}
    summary["tier_share_30d_days"] = shares.days


def _stability(con: duckdb.DuckDBPyConnection, recs: list, summary: dict) -> None:
    psi = con.execute(
        f"""
        WITH days AS (SELECT as_of_date, dense_rank() OVER (ORDER BY as_of_date) AS idx
                      FROM (SELECT DISTINCT as_of_date FROM _v_scores)),
        h AS (SELECT as_of_date,
                     least(greatest(CAST(floor(health_score / (100.0 / {PSI_BINS})) AS INTEGER), 0),
                           {PSI_BINS - 1}) AS bin,
                     count(*) AS n
              FROM _v_scores WHERE health_score IS NOT NULL GROUP BY ALL),
        grid AS (SELECT d.as_of_date, d.idx,
            b.range AS bin FROM days d CROSS JOIN range({PSI_BINS}) b),
        dist AS (SELECT g.as_of_date, g.idx, g.bin,
                        greatest(coalesce(h.n, 0) / sum(coalesce(h.n,
                            0)) OVER (PARTITION BY g.as_of_date),
                                 1e-4) AS p
                 FROM grid g LEFT JOIN h ON h.as_of_date = g.as_of_date AND h.bin = g.bin)
        SELECT cur.as_of_date, sum((cur.p - prev.p) * ln(cur.p / prev.p)) AS psi
        FROM dist cur JOIN dist prev ON prev.idx = cur.idx - 1 AND prev.bin = cur.bin
        GROUP BY cur.as_of_date ORDER BY cur.as_of_date
        """
    ).fetchall()
    for day, value in psi:
        recs.append(
            _rec(
                "psi",
                value,
                None,
                score="health_score",
                segment_type="day",
                segment="all",
                window="consecutive_days",
                as_of_date=day,
            )
        )
    values = [float(v) for _, v in psi if v is not None]
    summary["psi_max"] = round(max(values), 4) if values else None
    summary["psi_mean"] = round(sum(values) / len(values), 4) if values else None
    summary["psi_max_day"] = str(max(psi, key=lambda r: r[1])[0]) if values else None

    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _v_tier_changes AS
        WITH days AS (SELECT as_of_date, dense_rank() OVER (ORDER BY as_of_date) AS idx
                      FROM (SELECT DISTINCT as_of_date FROM _v_scores)),
        seq AS (SELECT s.account_id, s.as_of_date, d.idx, s.tier, s.health_score,
                       lag(s.tier) OVER w AS prev_tier, lag(d.idx) OVER w AS prev_idx
                FROM _v_scores s JOIN days d USING (as_of_date)
                WINDOW w AS (PARTITION BY s.account_id ORDER BY s.as_of_date))
        SELECT account_id, as_of_date, prev_tier, tier, health_score,
               tier IS DISTINCT FROM prev_tier AS changed
        FROM seq WHERE prev_idx = idx - 1
        """
    )
    per_day = con.execute(
        "SELECT as_of_date, count(*), avg(CAST(changed AS INTEGER)) "
        "FROM _v_tier_changes GROUP BY 1 ORDER BY 1"
    ).fetchall()
    for day, n, share in per_day:
        recs.append(
            _rec(
                "tier_change_share",
                share,
                n,
                segment_type="day",
                segment="all",
                window="consecutive_days",
                as_of_date=day,
            )
        )
    shares = [float(s) for _, _, s in per_day]
    summary["tier_change_share_mean"] = round(sum(shares) / len(shares), 4) if shares else None
    summary["tier_change_share_max"] = round(max(shares), 4) if shares else None

    flapped, accounts = con.execute(
        f"""
        WITH c AS (SELECT * FROM _v_tier_changes WHERE changed),
        flaps AS (
            SELECT DISTINCT a.account_id FROM c a JOIN c b
              ON b.account_id = a.account_id AND b.tier = a.prev_tier AND b.prev_tier = a.tier
             AND b.as_of_date > a.as_of_date AND b.as_of_date <= a.as_of_date + {FLAP_WINDOW_DAYS}
             AND NOT abs(b.health_score - a.health_score) >= {FLAP_REAL_MOVE_POINTS}
        )
        SELECT (SELECT count(*) FROM flaps), (SELECT count(DISTINCT account_id) FROM _v_scores)
        """
    ).fetchone()
    share = flapped / accounts if accounts else None
    recs.append(
        _rec(
            "tier_flap_share",
            share,
            accounts,
            segment_type="all",
            segment="all",
            window=f"reverted_within_{FLAP_WINDOW_DAYS}d",
        )
    )
    summary["tier_flap_share"] = None if share is None else round(float(share), 4)
    summary["tier_flap_accounts"] = int(flapped)


def _segment_sql(con: duckdb.DuckDBPyConnection, signals_table: str) -> tuple[str, list[str]]:
    """SQL with account_id, plan, region, industry, n_inputs, n_missing on the latest day."""
    sig_cols = table_columns(con, signals_table) if table_exists(con, signals_table) else []
    inputs = [c for c in sig_cols if c not in NON_INPUT_COLUMNS]
    if inputs:
        missing = " + ".join(f'CAST("{c}" IS NULL AS INTEGER)' for c in inputs)
        plan = "CAST(plan AS VARCHAR)" if "plan" in sig_cols else "NULL::VARCHAR"
        sig = f"""SELECT account_id, {len(inputs)} AS n_inputs, {missing} AS n_missing,
                         {plan} AS signal_plan
                  FROM {signals_table} WHERE as_of_date = CAST($day AS DATE)"""
    else:
        sig = (
            "SELECT NULL::VARCHAR AS account_id, 0 AS n_inputs, 0 AS n_missing, "
            "NULL::VARCHAR AS signal_plan WHERE false"
        )
    acc_cols = table_columns(con, ACCOUNTS) if table_exists(con, ACCOUNTS) else []
    region = "CAST(a.region AS VARCHAR)" if "region" in acc_cols else "NULL::VARCHAR"
    industry = "CAST(a.industry AS VARCHAR)" if "industry" in acc_cols else "NULL::VARCHAR"
    acc_join = f"LEFT JOIN {ACCOUNTS} a ON a.account_id = s.account_id" if acc_cols else ""
    if table_exists(con, BILLING_SUBSCRIPTIONS.qualified) and table_exists(con, IDENTITY_MAP):
        billing_plan = f"""
            SELECT m.account_id, arg_max(b.plan, b.started_at) AS billing_plan
            FROM {BILLING_SUBSCRIPTIONS.qualified} b
            JOIN {IDENTITY_MAP} m ON m.source_system = 'billing' AND m.source_id = b.customer_id
            WHERE CAST(b.started_at AS DATE) <= CAST($day AS DATE)
            GROUP BY m.account_id"""
    else:
        billing_plan = (
            "SELECT NULL::VARCHAR AS account_id, NULL::VARCHAR AS billing_plan WHERE false"
        )
    sql = f"""
    WITH sig AS ({sig}), bp AS ({billing_plan})
    SELECT s.account_id, s.health_score, s.tier,
           coalesce(sig.signal_plan, bp.billing_plan, '(none)') AS plan,
           coalesce({region}, '(none)') AS region,
           coalesce({industry}, '(none)') AS industry,
           sig.n_inputs, sig.n_missing
    FROM _v_scores s
    {acc_join}
    LEFT JOIN sig ON sig.account_id = s.account_id
    LEFT JOIN bp ON bp.account_id = s.account_id
    WHERE s.as_of_date = CAST($day AS DATE)
    """
    return sql, inputs


def _coverage(
    con: duckdb.DuckDBPyConnection, signals_table: str, recs: list, summary: dict, last_day: date
) -> None:
    sql, inputs = _segment_sql(con, signals_table)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _v_segments AS {sql}", {"day": last_day})
    summary["signal_inputs"] = len(inputs)
    worst: tuple[float, str] | None = None
    for seg_type in SEGMENT_TYPES:
        res = con.execute(
            f"""
            SELECT {seg_type} AS seg, count(*) AS n,
                   avg(CASE WHEN n_inputs IS NULL THEN 1.0 ELSE CAST(n_missing > 0 AS DOUBLE)
                       END) AS missing_any,
                   avg(CASE WHEN n_inputs IS NULL OR n_inputs = 0 THEN 1.0
                            ELSE n_missing / n_inputs END) AS missing_share,
                   avg(health_score), quantile_cont(health_score, 0.1), median(health_score),
                   quantile_cont(health_score, 0.9)
            FROM _v_segments GROUP BY 1 ORDER BY 1
            """
        ).fetchall()
        for seg, n, any_missing, share, mean, p10, p50, p90 in res:
            base = dict(
                segment_type=seg_type, segment=str(seg), window="latest_day", as_of_date=last_day
            )
            recs.append(_rec("accounts", n, n, **base))
            recs.append(_rec("missing_any_input_share", any_missing, n, **base))
            recs.append(_rec("missing_input_share", share, n, **base))
            for metric, value in (
                ("score_mean", mean),
                ("score_p10", p10),
                ("score_p50", p50),
                ("score_p90", p90),
            ):
                recs.append(_rec(metric, value, n, score="health_score", **base))
            if share is not None and (worst is None or share > worst[0]):
                worst = (float(share), f"{seg_type}={seg}")
        for seg, tier, share, n in con.execute(
            f"""SELECT {seg_type}, tier,
                       count(*) / sum(count(*)) OVER (PARTITION BY {seg_type}), count(*)
                FROM _v_segments GROUP BY 1, 2 ORDER BY 1, 2"""
        ).fetchall():
            recs.append(
                _rec(
                    f"tier_share:{tier}",
                    share,
                    n,
                    segment_type=seg_type,
                    segment=str(seg),
                    window="latest_day",
                    as_of_date=last_day,
                )
            )
    summary["most_missing_segment"] = (
        None if worst is None else {"segment": worst[1], "missing_input_share": round(worst[0], 4)}
    )


def _size_band_sql(expr: str) -> str:
    whens = " ".join(f"WHEN {expr} < {hi} THEN '{label}'" for hi, label in SIZE_BANDS)
    return f"(CASE WHEN {expr} IS NULL THEN '(unknown)' {whens} ELSE '{SIZE_BANDS[-1][0]}+' END)"


def _fairness(
    con: duckdb.DuckDBPyConnection,
    signals_table: str,
    has_prob: bool,
    recs: list,
    summary: dict,
) -> None:
    """Per segment (plan, region, size band, tracked / untracked product data), over every
    labelled account-day: health AUC, churn rate, calibration of the churn probability, tier
    shares and the share of the health weight that had no data (``1 - data_coverage``)."""
    sig_cols = set(table_columns(con, signals_table)) if table_exists(con, signals_table) else set()
    acc_cols = set(table_columns(con, ACCOUNTS)) if table_exists(con, ACCOUNTS) else set()
    plan = "CAST(g.plan AS VARCHAR)" if "plan" in sig_cols else "NULL::VARCHAR"
    sig_join = (
        f"LEFT JOIN {signals_table} g ON g.account_id = l.account_id "
        "AND g.as_of_date = l.as_of_date"
        if sig_cols
        else ""
    )
    region = "CAST(a.region AS VARCHAR)" if "region" in acc_cols else "NULL::VARCHAR"
    employees = "TRY_CAST(a.employees AS DOUBLE)" if "employees" in acc_cols else "NULL::DOUBLE"
    acc_join = f"LEFT JOIN {ACCOUNTS} a ON a.account_id = l.account_id" if acc_cols else ""
    if table_exists(con, IDENTITY_MAP):
        tracked = (
            f"(SELECT DISTINCT account_id FROM {IDENTITY_MAP} WHERE source_system = 'product')"
        )
    else:
        tracked = "(SELECT NULL::VARCHAR AS account_id WHERE false)"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _v_fair AS
        SELECT l.account_id, l.as_of_date, l.health_score, l.tier, l.churn_probability,
               l.churned, l.data_coverage,
               coalesce({plan}, '(none)') AS plan,
               coalesce({region}, '(none)') AS region,
               {_size_band_sql(employees)} AS size_band,
               CASE WHEN p.account_id IS NOT NULL THEN 'tracked' ELSE 'untracked' END
                   AS product_data
        FROM _v_labeled l
        {sig_join}
        {acc_join}
        LEFT JOIN {tracked} p ON p.account_id = l.account_id
        """
    )
    base = dict(score=None, window=FAIRNESS_WINDOW)
    for seg_type in FAIRNESS_TYPES:
        rows = con.execute(
            f"""
            WITH s AS (SELECT {seg_type} AS seg, 100 - health_score AS risk, churned
                       FROM _v_fair WHERE health_score IS NOT NULL),
            r AS (SELECT seg, churned,
                         rank() OVER (PARTITION BY seg ORDER BY risk)
                         + (count(*) OVER (PARTITION BY seg, risk) - 1) / 2.0 AS avg_rank
                  FROM s),
            t AS (SELECT seg, sum(churned) AS n1, count(*) - sum(churned) AS n0,
                         sum(CASE WHEN churned = 1 THEN avg_rank ELSE 0 END) AS pos
                  FROM r GROUP BY seg),
            f AS (SELECT {seg_type} AS seg, count(*) AS n, sum(churned) AS churned,
                         avg(churned) AS churn_rate,
                         avg(1 - data_coverage) AS missing,
                         avg(power(churn_probability - churned, 2)) AS brier,
                         avg(churn_probability) - avg(CASE WHEN churn_probability IS NOT NULL
                                                          THEN churned END) AS gap
                  FROM _v_fair GROUP BY 1)
            SELECT f.seg, f.n, f.churned, f.churn_rate, f.missing, f.brier, f.gap,
                   CASE WHEN t.n1 > 0 AND t.n0 > 0
                        THEN (t.pos - t.n1 * (t.n1 + 1) / 2.0) / (t.n1 * t.n0) END AS auc
            FROM f LEFT JOIN t USING (seg) ORDER BY f.seg
            """
        ).fetchall()
        for seg, n, churned, rate, missing, brier, gap, auc in rows:
            where = dict(base, segment_type=seg_type, segment=str(seg))
            recs.append(_rec(f"{SEGMENT_PREFIX}account_days", n, n, **where))
            recs.append(_rec(f"{SEGMENT_PREFIX}churn_events", churned, n, **where))
            recs.append(_rec(f"{SEGMENT_PREFIX}churn_rate", rate, n, **where))
            recs.append(_rec(f"{SEGMENT_PREFIX}auc", auc, n, **dict(where, score="health_score")))
            recs.append(_rec(f"{SEGMENT_PREFIX}missing_weight_share", missing, n, **where))
            if has_prob:
                recs.append(
                    _rec(
                        f"{SEGMENT_PREFIX}brier", brier, n, **dict(where, score="churn_probability")
                    )
                )
                recs.append(
                    _rec(
                        f"{SEGMENT_PREFIX}calibration_gap",
                        gap,
                        n,
                        **dict(where, score="churn_probability"),
                    )
                )
        for seg, tier, share, n in con.execute(
            f"""SELECT {seg_type}, coalesce(tier, 'no tier'),
                       count(*) / sum(count(*)) OVER (PARTITION BY {seg_type}), count(*)
                FROM _v_fair GROUP BY 1, 2 ORDER BY 1, 2"""
        ).fetchall():
            where = dict(base, segment_type=seg_type, segment=str(seg))
            recs.append(_rec(f"{SEGMENT_PREFIX}tier_share:{tier}", share, n, **where))
    table = segment_table(_rows([r for r in recs if r["window"] == FAIRNESS_WINDOW]))
    summary["segments"] = table.to_dict(orient="records")
    summary["segment_findings"] = fairness_findings(table, summary.get("auc_health_score"))


def segment_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The per-segment fairness figures, one row per (segment_type, segment), from the tidy
    validation rows (``compute_validation``'s or the stored ``scores.score_validation``)."""
    part = rows[
        (rows["window"] == FAIRNESS_WINDOW)
        & rows["segment_type"].isin(FAIRNESS_TYPES)
        & rows["metric"].str.startswith(SEGMENT_PREFIX)
    ]
    if part.empty:
        return pd.DataFrame(columns=["segment_type", "segment"])
    part = part.assign(metric=part["metric"].str.removeprefix(SEGMENT_PREFIX))
    wide = part.pivot_table(
        index=["segment_type", "segment"], columns="metric", values="value", aggfunc="first"
    ).reset_index()
    wide.columns.name = None
    order = {t: i for i, t in enumerate(FAIRNESS_TYPES)}
    wide = wide.sort_values(
        ["segment_type", "segment"], key=lambda c: c.map(order) if c.name == "segment_type" else c
    )
    tiers = [c for c in wide.columns if c.startswith("tier_share:")]
    ranked = sorted(
        tiers,
        key=lambda c: ordered_tiers([x.split(":", 1)[1] for x in tiers]).index(c.split(":", 1)[1]),
    )
    first = [
        c
        for c in (
            "segment_type",
            "segment",
            "account_days",
            "churn_events",
            "churn_rate",
            "auc",
            "missing_weight_share",
            "brier",
            "calibration_gap",
        )
        if c in wide.columns
    ]
    return wide[first + ranked].reset_index(drop=True)


def fairness_findings(table: pd.DataFrame, whole_auc: float | None) -> list[str]:
    """Warnings for segments scored far worse than the whole book or on too little data."""
    out: list[str] = []
    for r in table.to_dict(orient="records"):
        n = r.get("account_days")
        if n is None or pd.isna(n) or n < MIN_SEGMENT_ROWS:
            continue
        name = f"{r['segment_type']}={r['segment']}"
        missing = r.get("missing_weight_share")
        if missing is not None and not pd.isna(missing) and missing > SEGMENT_MISSING_MAX:
            out.append(
                f"{name}: {missing:.0%} of the health weight had no data "
                f"(more than {SEGMENT_MISSING_MAX:.0%}; {int(n):,} account-days)"
            )
        auc, churned = r.get("auc"), r.get("churn_events")
        if (
            whole_auc is not None
            and auc is not None
            and not pd.isna(auc)
            and churned is not None
            and churned >= MIN_SEGMENT_CHURNED
            and auc < whole_auc - SEGMENT_AUC_GAP
        ):
            out.append(
                f"{name}: health-score AUC {auc:.3f} vs {whole_auc:.3f} for the whole book "
                f"(more than {SEGMENT_AUC_GAP} below; {int(n):,} account-days, "
                f"{int(churned):,} churned)"
            )
    return out


def empty_result(reason: str) -> ValidationResult:
    """A result with no rows, for a warehouse without scores."""
    return ValidationResult(rows=_rows([]), summary={"status": reason, "account_days": 0})


def compute_validation(
    con: duckdb.DuckDBPyConnection,
    scores_table: str = ACCOUNT_SCORES,
    signals_table: str = ACCOUNT_SIGNALS,
    date_from: date | None = None,
    date_to: date | None = None,
    horizon_days: int = CHURN_HORIZON_DAYS,
    tier_names: list[str] | tuple[str, ...] | None = None,
) -> ValidationResult:
    """Validate ``scores_table`` (whole history, or ``date_from``..``date_to``) against outcomes.

    ``tier_names`` (the model's, best first) lists empty tiers in the 30-day tier shares too;
    without it only the tiers that occur are listed.

    Reads only; creates TEMP tables on ``con``. Tolerates missing columns (no
    ``churn_probability`` → its AUC, lift and Brier are None) and missing tables.
    """
    if not table_exists(con, scores_table):
        return empty_result(f"no table {scores_table}")
    outcome_counts = create_outcome_tables(con)
    avail = _prepare_scores(con, scores_table, date_from, date_to, horizon_days)
    first, last, days, account_days, accounts = con.execute(
        "SELECT min(as_of_date), max(as_of_date), count(DISTINCT as_of_date), count(*), "
        "count(DISTINCT account_id) "
        "FROM _v_scores"
    ).fetchone()
    if not account_days:
        return empty_result("no scores in the requested range")
    labeled, positives, censored, churned_accounts = con.execute(
        "SELECT count(*), coalesce(sum(churned), 0), coalesce(avg(CAST(censored AS DOUBLE)), 0), "
        "count(DISTINCT CASE WHEN churned = 1 THEN account_id END) FROM _v_labeled"
    ).fetchone()
    versions = [
        r[0]
        for r in con.execute(
            "SELECT model_version FROM _v_scores GROUP BY 1 ORDER BY min(as_of_date), model_version"
        ).fetchall()
    ]
    summary: dict[str, Any] = {
        "status": "ok",
        "date_from": str(first),
        "date_to": str(last),
        "days": int(days),
        "accounts": int(accounts),
        "account_days": int(account_days),
        "labeled_account_days": int(labeled),
        "positive_account_days": int(positives),
        "churned_accounts_in_horizon": int(churned_accounts),
        "censored_share": round(float(censored), 4),
        "horizon_days": horizon_days,
        "outcome_events": outcome_counts,
        "model_versions": versions,
        **avail,
    }
    recs: list[dict[str, Any]] = []
    recs.append(
        _rec(
            "account_days", labeled, labeled, segment_type="all", segment="all", window="90d_after"
        )
    )
    recs.append(
        _rec(
            "churn_rate",
            positives / labeled if labeled else None,
            labeled,
            segment_type="all",
            segment="all",
            window="90d_after",
        )
    )
    _discrimination(con, avail["has_churn_probability"], recs, summary)
    _renewal_cases(con, signals_table, horizon_days, recs, summary)
    _churn_by_tier(con, recs, summary)
    _calibration(con, avail["has_churn_probability"], recs, summary)
    _distribution(con, recs, summary, last)
    _recent_tier_share(con, scores_table, date_from, date_to, tier_names, recs, summary)
    _stability(con, recs, summary)
    _coverage(con, signals_table, recs, summary, last)
    _fairness(con, signals_table, avail["has_churn_probability"], recs, summary)
    return ValidationResult(rows=_rows(recs), summary=summary)


def write_validation(con: duckdb.DuckDBPyConnection, result: ValidationResult) -> int:
    """Replace ``scores.score_validation`` with ``result``'s rows (plus the range and versions)."""
    df = result.rows.copy()
    df["date_from"] = (
        pd.to_datetime(result.summary.get("date_from")).date()
        if result.summary.get("date_from")
        else None
    )
    df["date_to"] = (
        pd.to_datetime(result.summary.get("date_to")).date()
        if result.summary.get("date_to")
        else None
    )
    df["model_versions"] = ", ".join(result.summary.get("model_versions", []))
    df["computed_at"] = datetime.now().replace(microsecond=0)
    # DuckDB refuses register() while an earlier execute() still has an unfetched result.
    con.execute("SELECT 1").fetchall()
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCORE_VALIDATION.split('.')[0]}")
    con.register("_validation_rows", df)
    try:
        return replace_table(
            con,
            SCORE_VALIDATION,
            """
            SELECT CAST(metric AS VARCHAR) AS metric, CAST(score AS VARCHAR) AS score,
                   CAST(segment_type AS VARCHAR) AS segment_type,
                       CAST(segment AS VARCHAR) AS segment,
                   CAST("window" AS VARCHAR) AS "window", CAST(as_of_date AS DATE) AS as_of_date,
                   CAST(value AS DOUBLE) AS value, CAST(n AS BIGINT) AS n,
                   CAST(date_from AS DATE) AS date_from, CAST(date_to AS DATE) AS date_to,
                   CAST(model_versions AS VARCHAR) AS model_versions,
                   CAST(computed_at AS TIMESTAMP) AS computed_at
            FROM _validation_rows
            """,
        )
    finally:
        con.unregister("_validation_rows")


def validate_warehouse(
    con: duckdb.DuckDBPyConnection, tier_names: list[str] | tuple[str, ...] | None = None
) -> ValidationResult:
    """Validate the stored history and write ``scores.score_validation`` (the asset's body)."""
    result = compute_validation(con, tier_names=tier_names)
    write_validation(con, result)
    return result


def _day(x: Any) -> str | None:
    return None if x is None or pd.isna(x) else str(pd.Timestamp(x).date())


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
    judged = [t for t in tiers if t in TIER_ORDER and by_tier[t][1] >= MIN_TIER_ROWS]
    rates = [by_tier[t][0] for t in judged]
    psi = df[df["metric"] == "psi"].dropna(subset=["value"])
    changes = df[df["metric"] == "tier_change_share"].dropna(subset=["value"])
    return {
        "status": "ok",
        "date_from": _day(df["date_from"].iloc[0]),
        "date_to": _day(df["date_to"].iloc[0]),
        "auc_health_score": one("auc", score="health_score", segment_type="all"),
        "auc_churn_probability": one("auc", score="churn_probability", segment_type="all"),
        "churn_rate_by_tier": {t: by_tier[t][0] for t in tiers},
        "tiers_judged_for_monotonicity": judged,
        "churn_monotonic": bool(
            len(rates) >= 2 and all(a <= b for a, b in zip(rates, rates[1:], strict=False))
        ),
        "psi_max": float(psi["value"].max()) if len(psi) else None,
        "psi_mean": float(psi["value"].mean()) if len(psi) else None,
        "psi_max_day": _day(psi.loc[psi["value"].idxmax(), "as_of_date"]) if len(psi) else None,
        "tier_change_share_mean": float(changes["value"].mean()) if len(changes) else None,
        "tier_flap_share": one("tier_flap_share"),
        "segment_findings": fairness_findings(
            segment_table(df), one("auc", score="health_score", segment_type="all")
        ),
    }


def _fmt(x: Any, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


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
        f"mean {_fmt(summary.get('psi_mean'))}; > {PSI_SHIFTED} means the score distribution "
        "shifted"
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
            f"every segment with at least {MIN_SEGMENT_ROWS} account-days is within "
            f"{SEGMENT_AUC_GAP} of the whole book's AUC and lacks data for at most "
            f"{SEGMENT_MISSING_MAX:.0%} of the health weight",
            {},
        )
    return CheckOutcome(CHECK_SEGMENTS, False, "; ".join(findings), {"segment_findings": findings})


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
        f"Stability: max PSI {_fmt(summary.get('psi_max'))}, mean tier changes per day "
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
