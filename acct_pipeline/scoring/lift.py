"""Measured lift: did the accounts the automation acted on do better than the control group?

``alerts/experiment.py`` holds a random share of alerted / audience accounts out of the automation
and records every account's arm. Here the arms' outcomes within ``horizon_days`` after assignment
are compared, per tier (the tier on the day of assignment) and for the whole book:

- **retained**: the account did not churn within the horizon;
- **renewed**: a new contract term started within the horizon;
- **expanded**: MRR (or seats) went up within the horizon.

The difference of two proportions (treated minus control) gets a 95 % Newcombe hybrid score
interval (method 10 of Newcombe 1998, built from two Wilson intervals): it behaves well with small
samples and rates near 0 or 1, where the textbook Wald interval does not. An arm with fewer than
``min_per_arm`` accounts, or an interval wider than ``max_ci_width``, is reported as "too small to
conclude" rather than as a number someone might act on.

A table compares many things at once (three outcomes for the book and every tier): with a 95 %
interval each, about one row in twenty would say "better" or "worse" by chance alone. The
verdict therefore uses Bonferroni-adjusted intervals over the comparisons the table judges
(``ci_low_adjusted`` / ``ci_high_adjusted``: confidence ``1 - 0.05 / m``), so that the chance of
any false "better" or "worse" in the whole table stays under 5 %; the 95 % interval of each row
is still shown for its size.

Only assignments whose horizon has passed (by the last scored day) count, so a recent alert is not
mistaken for a retained account.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import sqrt
from statistics import NormalDist

import duckdb
import pandas as pd

from acct_pipeline.scoring.actions import Experiment
from acct_pipeline.scoring.outcomes import OUTCOME_EVENTS, create_outcome_tables
from acct_pipeline.warehouse import ACCOUNT_SCORES, EXPERIMENT_ASSIGNMENTS, table_exists

OUTCOMES = ("retained", "renewed", "expanded")
ALL_TIERS = "all"

TOO_SMALL = "too small to conclude"
NO_DIFFERENCE = "no measurable difference"
BETTER = "treated better"
WORSE = "treated worse"


def z_for(confidence: float) -> float:
    """The two-sided normal quantile (1.96 for 95 %)."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for ``k`` successes in ``n`` trials; (0, 1) when ``n`` is 0."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(k1: int, n1: int, k2: int, n2: int, z: float = 1.959964) -> tuple[float, float, float]:
    """``k1/n1 - k2/n2`` with its Newcombe hybrid score interval: ``(diff, low, high)``."""
    if n1 <= 0 or n2 <= 0:
        return float("nan"), -1.0, 1.0
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, z)
    l2, u2 = wilson(k2, n2, z)
    d = p1 - p2
    low = d - sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, max(-1.0, low), min(1.0, high)


@dataclass(frozen=True)
class LiftRule:
    """When a comparison is worth stating."""

    min_per_arm: int = 30
    max_ci_width: float = 0.25
    confidence: float = 0.95


def verdict(n_treated: int, n_control: int, low: float, high: float, rule: LiftRule) -> str:
    if min(n_treated, n_control) < rule.min_per_arm or high - low > rule.max_ci_width:
        return TOO_SMALL
    if low > 0:
        return BETTER
    if high < 0:
        return WORSE
    return NO_DIFFERENCE


def compare_arms(
    frame: pd.DataFrame, rule: LiftRule | None = None, tiers: list[str] | None = None
) -> pd.DataFrame:
    """Per tier (and ``all``) and outcome: counts, rates, difference, interval and verdict.

    ``frame``: one row per assigned account with ``tier``, ``arm`` (treated / control) and a 0/1
    column per outcome of ``OUTCOMES`` (missing outcome columns are skipped). ``tiers`` orders the
    tiers (default: as they appear).
    """
    rule = rule or LiftRule()
    z = z_for(rule.confidence)
    order = list(tiers) if tiers else list(frame["tier"].dropna().unique())
    groups: list[tuple[str, pd.DataFrame]] = [(ALL_TIERS, frame)]
    groups += [(t, frame[frame["tier"] == t]) for t in order]
    rows: list[dict] = []
    for tier, part in groups:
        treated = part[part["arm"] == "treated"]
        control = part[part["arm"] == "control"]
        for outcome in (o for o in OUTCOMES if o in frame.columns):
            k1, n1 = int(treated[outcome].sum()), len(treated)
            k2, n2 = int(control[outcome].sum()), len(control)
            d, low, high = newcombe(k1, n1, k2, n2, z)
            rows.append(
                {
                    "tier": tier,
                    "outcome": outcome,
                    "n_treated": n1,
                    "rate_treated": k1 / n1 if n1 else float("nan"),
                    "n_control": n2,
                    "rate_control": k2 / n2 if n2 else float("nan"),
                    "difference": d,
                    "ci_low": low,
                    "ci_high": high,
                    "verdict": verdict(n1, n2, low, high, rule),
                    "_counts": (k1, n1, k2, n2),
                }
            )
    # the family: every comparison big enough to judge; its verdicts use adjusted intervals
    judged = [r for r in rows if r["verdict"] != TOO_SMALL]
    z_adj = z_for(1 - (1 - rule.confidence) / max(len(judged), 1))
    for r in rows:
        counts = r.pop("_counts")
        if r["verdict"] == TOO_SMALL:
            r["ci_low_adjusted"], r["ci_high_adjusted"] = float("nan"), float("nan")
            continue
        _, low_adj, high_adj = newcombe(*counts, z_adj)
        r["ci_low_adjusted"], r["ci_high_adjusted"] = low_adj, high_adj
        r["verdict"] = BETTER if low_adj > 0 else WORSE if high_adj < 0 else NO_DIFFERENCE
    columns = [
        "tier",
        "outcome",
        "n_treated",
        "rate_treated",
        "n_control",
        "rate_control",
        "difference",
        "ci_low",
        "ci_high",
        "ci_low_adjusted",
        "ci_high_adjusted",
        "verdict",
    ]
    return pd.DataFrame(rows, columns=columns)


def assignment_outcomes(
    con: duckdb.DuckDBPyConnection, experiment: str, horizon_days: int
) -> pd.DataFrame:
    """One row per assignment of ``experiment`` whose horizon has passed by the last scored day:
    ``account_id, tier, arm, assigned_on, retained, renewed, expanded`` (0/1)."""
    if not table_exists(con, EXPERIMENT_ASSIGNMENTS) or not table_exists(con, ACCOUNT_SCORES):
        return pd.DataFrame(columns=["account_id", "tier", "arm", "assigned_on", *OUTCOMES])
    create_outcome_tables(con)
    return con.execute(
        f"""
        WITH last AS (SELECT max(as_of_date) AS d FROM {ACCOUNT_SCORES}),
        a AS (
            SELECT x.account_id, x.tier, x.arm, x.assigned_on
            FROM {EXPERIMENT_ASSIGNMENTS} x, last
            WHERE x.experiment = ? AND x.assigned_on + CAST(? AS INTEGER) <= last.d
        ),
        e AS (
            SELECT a.account_id,
                   bool_or(o.event = 'churned')  AS churned,
                   bool_or(o.event = 'renewed')  AS renewed,
                   bool_or(o.event = 'expanded') AS expanded
            FROM a JOIN {OUTCOME_EVENTS} o
              ON o.account_id = a.account_id
             AND o.event_date > a.assigned_on
             AND o.event_date <= a.assigned_on + CAST(? AS INTEGER)
            GROUP BY a.account_id
        )
        SELECT a.account_id, a.tier, a.arm, a.assigned_on,
               CAST(NOT coalesce(e.churned, false) AS INTEGER) AS retained,
               CAST(coalesce(e.renewed, false) AS INTEGER)     AS renewed,
               CAST(coalesce(e.expanded, false) AS INTEGER)    AS expanded
        FROM a LEFT JOIN e USING (account_id)
        ORDER BY a.account_id
        """,
        [experiment, horizon_days, horizon_days],
    ).df()


def format_lift(frame: pd.DataFrame, experiment: str, control_share: float) -> list[str]:
    """The comparison as text lines (for the CLI)."""
    if frame.empty or not frame["n_treated"].add(frame["n_control"]).any():
        return [
            f"experiment {experiment}: no assignment has reached its horizon yet "
            f"(control share {control_share:.0%})"
        ]
    lines = [
        f"experiment {experiment} (control share {control_share:.0%}): treated minus control, "
        "95% Newcombe interval",
        f"{'tier':<14} {'outcome':<9} {'treated':>14} {'control':>14} {'difference':>26}  verdict",
    ]
    for r in frame.itertuples(index=False):
        lines.append(
            f"{str(r.tier):<14} {r.outcome:<9} "
            f"{_rate(r.rate_treated, r.n_treated):>14} {_rate(r.rate_control, r.n_control):>14} "
            f"{_diff(r.difference, r.ci_low, r.ci_high):>26}  {r.verdict}"
        )
    return lines


def _rate(rate: float, n: int) -> str:
    return f"- (n={n})" if not n else f"{rate:.0%} (n={n})"


def _diff(d: float, low: float, high: float) -> str:
    if d != d:  # NaN: an empty arm
        return "-"
    return f"{d * 100:+.1f} pts [{low * 100:+.1f}, {high * 100:+.1f}]"


def measure_lift(
    con: duckdb.DuckDBPyConnection, config: Experiment, tiers: list[str] | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """The comparison for the model's experiment and its text (CLI and report)."""
    frame = compare_arms(
        assignment_outcomes(con, config.name, config.horizon_days),
        LiftRule(min_per_arm=config.min_per_arm, max_ci_width=config.max_ci_width),
        tiers,
    )
    return frame, format_lift(frame, config.name, config.control_share)
