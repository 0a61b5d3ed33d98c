"""The report's "Acting on scores" section: audiences on the last day and the measured lift."""

from __future__ import annotations

import html
from datetime import date

import duckdb
import pandas as pd

from acct_pipeline.scoring.actions import Experiment
from acct_pipeline.scoring.lift import ALL_TIERS, TOO_SMALL, measure_lift
from acct_pipeline.scoring.report.template import table
from acct_pipeline.warehouse import AUDIENCE_MEMBERSHIP, EXPERIMENT_ASSIGNMENTS, table_exists


def audience_table(con: duckdb.DuckDBPyConnection, last: date) -> pd.DataFrame:
    """Per audience on ``last``: members (treated / control), entered, exited, capped."""
    if not table_exists(con, AUDIENCE_MEMBERSHIP):
        return pd.DataFrame()
    return con.execute(
        f"""
        SELECT audience,
               count(*) FILTER (WHERE status IN ('entered', 'member') AND arm <> 'control')
                   AS members_treated,
               count(*) FILTER (WHERE status IN ('entered', 'member') AND arm = 'control')
                   AS members_control,
               count(*) FILTER (WHERE status = 'entered') AS entered,
               count(*) FILTER (WHERE status = 'exited')  AS exited,
               count(*) FILTER (WHERE status = 'capped')  AS capped
        FROM {AUDIENCE_MEMBERSHIP} WHERE as_of_date = ?
        GROUP BY audience ORDER BY audience
        """,
        [last],
    ).df()


def assignment_counts(
    con: duckdb.DuckDBPyConnection, experiment: Experiment, last: date
) -> pd.DataFrame:
    """Per source (alert, audience) and arm: the accounts assigned and how many of them have
    reached the outcome horizon by ``last`` (only those are compared)."""
    if not table_exists(con, EXPERIMENT_ASSIGNMENTS):
        return pd.DataFrame(columns=["source", "arm", "assigned", "matured"])
    return con.execute(
        f"""
        SELECT source, arm, count(*) AS assigned,
               count(*) FILTER (WHERE assigned_on + CAST(? AS INTEGER) <= ?) AS matured
        FROM {EXPERIMENT_ASSIGNMENTS} WHERE experiment = ?
        GROUP BY source, arm ORDER BY source, arm
        """,
        [experiment.horizon_days, last, experiment.name],
    ).df()


def _sample_note(counts: pd.DataFrame, horizon_days: int) -> str:
    """Where the compared accounts come from, in numbers (an alert-less history says so)."""
    if counts.empty:
        return "No account has been assigned to an arm yet (no alert sent, no audience entered)."
    parts = []
    for source, label in (("alert", "alerts sent"), ("audience", "audience entries")):
        part = counts[counts["source"] == source]
        arms = dict(zip(part["arm"], part["assigned"], strict=True))
        parts.append(
            f"{label}: {arms.get('treated', 0):,} treated / {arms.get('control', 0):,} control"
            if arms
            else f"{label}: none"
        )
    matured = int(counts["matured"].sum())
    return (
        f"Accounts assigned from {'; from '.join(parts)}. {matured:,} of "
        f"{int(counts['assigned'].sum()):,} have reached the {horizon_days}-day horizon and "
        "are compared."
    )


def _pct(v: float) -> str:
    return "" if v != v else f"{v:.0%}"


def _pts(v: float) -> str:
    return "" if v != v else f"{v * 100:+.1f}"


def render_acting(
    con: duckdb.DuckDBPyConnection, last: date, experiment: Experiment, tiers: list[str]
) -> str:
    """The section's HTML (headings, notes, tables)."""
    lift, _ = measure_lift(con, experiment, tiers)
    counts = assignment_counts(con, experiment, last)
    matured = int(counts["matured"].sum()) if not counts.empty else 0
    shown = pd.DataFrame()
    if not lift.empty and matured:  # a tier nobody was assigned in has nothing to compare
        lift = lift[(lift["tier"] == ALL_TIERS) | (lift["n_treated"] + lift["n_control"] > 0)]
        shown = pd.DataFrame(
            {
                "tier": lift["tier"],
                "outcome": lift["outcome"],
                "treated": [
                    f"{_pct(r)} of {n}"
                    for r, n in zip(lift.rate_treated, lift.n_treated, strict=True)
                ],
                "control": [
                    f"{_pct(r)} of {n}"
                    for r, n in zip(lift.rate_control, lift.n_control, strict=True)
                ],
                "difference (pts)": lift["difference"].map(_pts),
                "95% interval (pts)": [
                    f"{_pts(lo)} .. {_pts(hi)}"
                    for lo, hi in zip(lift.ci_low, lift.ci_high, strict=True)
                ],
                "verdict": lift["verdict"],
            }
        )
    note = (
        f"Experiment <b>{html.escape(experiment.name)}</b>: {experiment.control_share:.0%} of "
        f"alerted and audience accounts (seed {experiment.seed}) are held out of the automation. "
        f"Outcomes within {experiment.horizon_days} days of assignment, assignments whose "
        "horizon has passed; difference = treated minus control with a 95% Newcombe interval. "
        f"'{TOO_SMALL}': an arm under {experiment.min_per_arm} accounts or an interval wider "
        f"than {experiment.max_ci_width * 100:.0f} points. 'Better' or 'worse' holds for the "
        "table as a whole: the verdicts use Bonferroni-adjusted intervals over the rows judged, "
        "so the chance of any verdict arising by chance alone stays under 5% (a row's 95% "
        "interval can exclude zero and still say 'no measurable difference'). Look for a "
        "difference that holds across tiers and over time."
    )
    return (
        "<h1 id='actions'>Acting on scores</h1>"
        f"<h2>Audiences on {last}</h2>"
        "<p class='note'>Marketing audiences from the model file (first match wins); control "
        "members are recorded but not written to the CRM; capped: kept out by a cool-down or an "
        "owner's daily cap.</p>"
        f"{table(audience_table(con, last))}"
        "<h2>Measured lift</h2>"
        f"<p class='note'>{note}</p>"
        f"<p class='note'>{html.escape(_sample_note(counts, experiment.horizon_days))}</p>"
        + (
            table(shown)
            if matured
            else "<p class='muted'>Too early to compare: no assignment has reached its "
            f"{experiment.horizon_days}-day horizon yet.</p>"
        )
    )
