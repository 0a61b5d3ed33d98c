"""``acct-pipeline explain ACCOUNT [--date D]``: one screen on why an account scores so.

``ACCOUNT`` is a CRM account id or a unique (part of a) name. Reasons are recomputed from the
day's signals with the model, so each is labelled by what it does to the score: a *risk* costs
points, a *strength* earns them; a knock-out cap is shown only when it lowered the score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from acct_pipeline.scoring import engagement
from acct_pipeline.scoring.model import HEALTH, ScoringModel, load_model
from acct_pipeline.scoring.overrides import override_section
from acct_pipeline.scoring.reasons import MIN_IMPACT, default_sentence, render
from acct_pipeline.scoring.rules import ScoreResult, evaluate_model
from acct_pipeline.scoring.tiers import band_index
from acct_pipeline.warehouse import (
    ACCOUNT_SCORES,
    ACCOUNT_SIGNALS,
    ACCOUNTS,
    CHURN_DRIVERS,
    table_exists,
)


class ExplainError(LookupError):
    """The account or day is not in the warehouse."""


def _fmt(x: object, spec: str = ".1f") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return format(x, spec) if isinstance(x, int | float) else str(x)


MAX_CANDIDATES = 10


def resolve_account(con: duckdb.DuckDBPyConnection, account: str) -> str:
    """The account id for ``account``: an id, an exact name (any case) or a unique part of one."""
    text = account.strip()
    if con.execute(f"SELECT 1 FROM {ACCOUNTS} WHERE account_id = ?", [text]).fetchone():
        return text
    for where, arg in (
        ("lower(name) = lower(?)", text),
        ("contains(lower(name), lower(?))", text),
    ):
        rows = con.execute(
            f"SELECT account_id, name FROM {ACCOUNTS} WHERE {where} ORDER BY name, account_id "
            f"LIMIT {MAX_CANDIDATES + 1}",
            [arg],
        ).fetchall()
        if len(rows) == 1:
            return str(rows[0][0])
        if rows:
            more = " (and more)" if len(rows) > MAX_CANDIDATES else ""
            listed = ", ".join(f"{r[0]} {r[1]}" for r in rows[:MAX_CANDIDATES])
            raise ExplainError(
                f"'{text}' matches several accounts{more}: {listed}; give the id or the full name"
            )
    raise ExplainError(
        f"no account with the id or name '{text}' (acct-pipeline accounts lists them)"
    )


@dataclass
class LabelledReasons:
    """One row's reasons, by what they do to the score (most points first)."""

    caps: list[str] = field(default_factory=list)  # knock-outs that lowered the score
    risks: list[str] = field(default_factory=list)  # measures that cost points
    strengths: list[str] = field(default_factory=list)  # measures that earn points


def labelled_reasons(
    result: ScoreResult, signals: pd.DataFrame, limit: int = 5
) -> list[LabelledReasons]:
    """Per row of ``signals``: binding caps, risks and strengths, each as the model words it.

    A measure's impact is its points against a neutral account's, weighted; below
    ``MIN_IMPACT`` it is noise and not told. A knock-out that fired but whose cap is above the
    score it would cap is not a reason (it changed nothing).
    """
    out = []
    records = signals.to_dict("records")
    for i, row in enumerate(records):
        found = LabelledReasons()
        for k in result.knockouts:
            lost = float(result.uncapped[i]) - float(k.knockout.cap)
            if bool(k.fired[i]) and lost > 0:
                ko = k.knockout
                text = (
                    render(ko.reason, float(k.values[i]), row)
                    if ko.reason
                    else f"{ko.signal.replace('_', ' ')} {ko.op} {ko.value:g}"
                )
                found.caps.append(f"{text}: {lost:.0f} points lost to the cap")
        told: list[tuple[float, str]] = []
        for m in result.measures:
            impact, points, value = float(m.impact[i]), float(m.points[i]), float(m.values[i])
            if math.isnan(points) or math.isnan(impact) or abs(impact) < MIN_IMPACT:
                continue
            if m.measure.reason_if == "cost" and impact >= 0:
                continue
            if math.isnan(value):
                text = m.measure.missing_reason or default_sentence(m.measure.title, value, points)
            elif m.measure.reason:
                text = render(m.measure.reason, value, row)
            else:
                text = default_sentence(m.measure.title, value, points)
            told.append((impact, f"{text} ({impact:+.1f} pts)"))
        told.sort(key=lambda t: -abs(t[0]))
        found.risks = [t for imp, t in told if imp < 0][:limit]
        found.strengths = [t for imp, t in told if imp > 0][:limit]
        out.append(found)
    return out


def explain(
    con: duckdb.DuckDBPyConnection,
    account: str,
    as_of: date | None = None,
    model: ScoringModel | None = None,
) -> str:
    """The account's scores, tier, trend, every component's and measure's points and the
    reasons on ``as_of`` (default: the latest scored day), as text for a terminal.

    Churn drivers (stored when the day was scored, ``scores.churn_drivers``): the features
    whose value, set to the typical account's, would lower the churn probability most, in
    percentage points.
    """
    if not table_exists(con, ACCOUNT_SCORES):
        raise ExplainError("no scores yet: run the pipeline first")
    account_id = resolve_account(con, account)
    if as_of is None:
        row = con.execute(
            f"SELECT max(as_of_date) FROM {ACCOUNT_SCORES} WHERE account_id = ?", [account_id]
        ).fetchone()
        as_of = row[0] if row else None
        if as_of is None:
            raise ExplainError(
                f"account '{account_id}' has no scores (is the id a CRM company id?)"
            )
    scores = con.execute(
        f"SELECT * FROM {ACCOUNT_SCORES} WHERE account_id = ? AND as_of_date = ?",
        [account_id, as_of],
    ).df()
    if scores.empty:
        raise ExplainError(f"account '{account_id}' has no score on {as_of}")
    signals = con.execute(
        f"SELECT * FROM {ACCOUNT_SIGNALS} WHERE account_id = ? AND as_of_date = ?",
        [account_id, as_of],
    ).df()
    info = con.execute(
        f"SELECT name, owner_email FROM {ACCOUNTS} WHERE account_id = ?", [account_id]
    ).fetchone()
    s = scores.iloc[0]
    model = model or load_model()
    lines = [
        f"{account_id}  {info[0] if info else ''}   "
        f"owner {info[1] if info and info[1] else '-'}   as of {as_of}",
        f"health {_fmt(s.health_score)}  tier {s.tier or s.get('lifecycle_status') or '-'} "
        f"(was {s.previous_tier or '-'})  "
        f"trend {s.trend}  "
        f"Δ7d {_fmt(s.score_delta_7d, '+.1f')}  Δ30d {_fmt(s.score_delta_30d, '+.1f')}",
        f"engagement {_fmt(s.engagement_score)}  value {_fmt(s.value_score)}  "
        f"churn probability (90 d) {_fmt(s.churn_probability, '.0%')}  model {s.model_version}",
    ]
    status = s.get("lifecycle_status")
    if isinstance(status, str):
        coverage = s.get("data_coverage")
        lines.append(
            f"lifecycle {status}"
            + (f"  data coverage {_fmt(coverage, '.0%')}" if coverage == coverage else "")
            + (
                f"  churn model {s.churn_model_version}"
                if isinstance(s.get("churn_model_version"), str)
                else (f"  ({s.churn_note})" if isinstance(s.get("churn_note"), str) else "")
            )
        )
    band = model.tiers.names[int(band_index(np.array([s.health_score]), model.tiers)[0])]
    if band != s.tier and isinstance(s.tier, str):
        h = model.tiers.hysteresis
        lines.append(
            f"(the score is in the {band} band; the tier holds at {s.tier} until the score clears "
            f"the boundary by {h.margin_points:g} points or stays past it {h.dwell_days} days)"
        )
    lines.append("")
    if signals.empty:
        lines.append("(no signals stored for this day)")
    else:
        results, segment = evaluate_model(model, signals)
        health = results[HEALTH]
        seg = segment[0] or "default"
        lines.append(f"components (segment {seg}; points add up to the score before caps):")
        for comp, pts in health.component_points.items():
            cs = health.component_scores[comp][0]
            lines.append(
                f"  {comp:<12} {_fmt(pts[0], '5.1f')} pts   (component score {_fmt(cs, '.0f')}/100)"
            )
            for m in health.measures:
                if m.component != comp:
                    continue
                v = float(m.values[0])
                shown = "missing" if math.isnan(v) else _fmt(v, ".3g")
                p = m.points[0]
                status = (
                    "excluded" if math.isnan(p) else f"{p:3.0f}/100  impact {m.impact[0]:+5.1f}"
                )
                lines.append(f"     {m.measure.key:<30} {shown:>9}  {status}")
        labelled = labelled_reasons(health, signals, limit=4)[0]
        for cap in labelled.caps:
            lines.append(f"  KNOCK-OUT: {cap}")
        if "model_version" in s and s.model_version != model.label:
            lines.append(f"  note: stored with {s.model_version}, shown with {model.label}")
        lines.append("")
        lines.append("risks (cost points):")
        lines += [f"  - {r}" for r in labelled.caps + labelled.risks] or ["  (none)"]
        lines.append("strengths (earn points):")
        lines += [f"  + {r}" for r in labelled.strengths] or ["  (none)"]
        lines += engagement_breakdown(s, signals.iloc[0], model)
    drivers, missing = _churn_drivers(con, scores, account_id, as_of)
    if missing:
        lines.append(f"churn drivers: {missing}")
    elif drivers:
        lines.append(
            f"churn drivers: the {_fmt(s.churn_probability, '.0%')} probability would be this "
            "much lower if only that value were\n  a typical account's (each alone; they overlap, "
            "so they do not add up to the probability):"
        )
        lines += [f"  {d}" for d in drivers]
    lines.append(f"playbook: {s.recommended_playbook or '-'}")
    lines += override_section(con, account_id, as_of)
    return "\n".join(lines)


def engagement_breakdown(scores: pd.Series, signals: pd.Series, model: ScoringModel) -> list[str]:
    """The engagement categories of one account-day: each one's score, weight in the engagement
    score (re-weighted over the categories with data), weighted activity, people, recency and
    change vs the previous window; "no data" for a category left out."""
    comps = model.scores.get(engagement.ENGAGEMENT_SCORE)
    weights = {
        c: comps.components[c].weight
        for c in engagement.CATEGORIES
        if comps and c in comps.components
    }
    window = model.engagement.window_days

    def num(col: str) -> float:
        v = scores.get(col) if col in scores else signals.get(col)
        return float(v) if v is not None and v == v else float("nan")

    known = {c: not math.isnan(num(engagement.score_column(c))) for c in engagement.CATEGORIES}
    total = sum(w for c, w in weights.items() if known[c]) or 1.0
    lines = [
        "",
        f"engagement categories ({window}-day window; "
        f"engagement score {_fmt(scores.get('engagement_score'))}):",
    ]
    if math.isnan(num("engagement_score")):
        return [*lines, "  (no engagement score on this day)"]
    for c in engagement.CATEGORIES:
        label = engagement.label(c)
        if not known[c]:
            lines.append(f"  {label:<16}   no data (left out, the others re-weighted)")
            continue
        share = weights.get(c, 0.0) / total
        change = num(engagement.signal_name(c, "change_pct"))
        moved = "n/a" if math.isnan(change) else f"{change:+.0%}"
        lines.append(
            f"  {label:<16} {_fmt(num(engagement.score_column(c)), '5.1f')}/100  "
            f"weight {share:4.0%}  "
            f"activity {_fmt(num(engagement.signal_name(c, 'weighted')), '.0f')}"
            f"  people {_fmt(num(engagement.signal_name(c, 'engaged_contacts')), '.0f')}"
            f"  last {_fmt(num(engagement.signal_name(c, 'days_since_last')), '.0f')} d ago"
            f"  vs prior {window} d {moved}"
        )
    return lines


def _churn_drivers(
    con: duckdb.DuckDBPyConnection, scores: pd.DataFrame, account_id: str, as_of: date
) -> tuple[list[str], str | None]:
    """The drivers stored when the day was scored (``scores.churn_drivers``): read with SQL, so
    explaining never loads scikit-learn or the model file; and why there are none stored, if so."""
    version = scores["churn_model_version"].iloc[0] if "churn_model_version" in scores else None
    if not isinstance(version, str):
        return [], None  # no probability that day (churned, or before the first churn model)
    if (
        not table_exists(con, CHURN_DRIVERS)
        or not con.execute(
            f"SELECT 1 FROM {CHURN_DRIVERS} WHERE as_of_date = ? LIMIT 1", [as_of]
        ).fetchone()
    ):
        rerun = f"acct-pipeline run --from {as_of}"
        return [], f"not stored for {as_of} (scored by an older version; {rerun} stores them)"
    rows = con.execute(
        f"SELECT feature, value, effect FROM {CHURN_DRIVERS} "
        "WHERE account_id = ? AND as_of_date = ? ORDER BY rank",
        [account_id, as_of],
    ).fetchall()
    out = []
    for feature, value, effect in rows:
        pp = effect * 100
        if pp < 0.5:
            continue
        out.append(f"{feature.replace('_', ' ')} = {_fmt(value, '.3g')}: -{pp:.0f} pp")
    return out, None


__all__ = [
    "ExplainError",
    "LabelledReasons",
    "default_sentence",
    "explain",
    "labelled_reasons",
    "resolve_account",
]
