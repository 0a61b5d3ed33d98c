"""``acct-pipeline explain ACCOUNT_ID [--date D]``: one screen on why an account scores so."""

from __future__ import annotations

import math
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from acct_pipeline.scoring.model import HEALTH, ScoringModel, load_model
from acct_pipeline.scoring.reasons import default_sentence, render
from acct_pipeline.scoring.rules import evaluate_model
from acct_pipeline.scoring.tiers import band_index
from acct_pipeline.warehouse import ACCOUNT_SCORES, ACCOUNT_SIGNALS, ACCOUNTS, table_exists


class ExplainError(LookupError):
    """The account or day is not in the warehouse."""


def _fmt(x: object, spec: str = ".1f") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return format(x, spec) if isinstance(x, int | float) else str(x)


def explain(
    con: duckdb.DuckDBPyConnection,
    account_id: str,
    as_of: date | None = None,
    model: ScoringModel | None = None,
) -> str:
    """The account's scores, tier, trend, every component's and measure's points and the
    reasons on ``as_of`` (default: the latest scored day), as text for a terminal.

    Churn drivers (when a churn artefact exists for the model): the features whose value, set
    to the typical account's, would lower the churn probability most, in percentage points.
    """
    if not table_exists(con, ACCOUNT_SCORES):
        raise ExplainError("no scores yet: run the pipeline first")
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
        f"health {_fmt(s.health_score)}  tier {s.tier} (was {s.previous_tier or '-'})  "
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
        for k in health.knockouts:
            if k.fired[0]:
                ko = k.knockout
                text = (
                    render(ko.reason, float(k.values[0]), {})
                    if ko.reason
                    else f"{ko.signal} {ko.op} {ko.value:g}"
                )
                lines.append(f"  KNOCK-OUT: {text} (cap {ko.cap:g})")
        if "model_version" in s and s.model_version != model.label:
            lines.append(f"  note: stored with {s.model_version}, shown with {model.label}")
    lines.append("")
    lines.append("reasons:")
    reasons = s.reason_codes if isinstance(s.reason_codes, list | np.ndarray) else []
    lines += [f"  - {r}" for r in reasons] or ["  (none)"]
    drivers = _churn_drivers(con, model, signals, scores)
    if drivers:
        lines.append("churn drivers: " + "; ".join(drivers))
    lines.append(f"playbook: {s.recommended_playbook}")
    return "\n".join(lines)


def _churn_drivers(
    con: duckdb.DuckDBPyConnection, model: ScoringModel, signals: pd.DataFrame, scores: pd.DataFrame
) -> list[str]:
    from acct_pipeline.scoring.churn import artifact_by_version, churn_drivers

    if signals.empty or "churn_model_version" not in scores:
        return []
    version = scores["churn_model_version"].iloc[0]
    # the model that produced the stored probability, not whichever is newest
    artifact = artifact_by_version(model, version) if isinstance(version, str) else None
    if artifact is None:
        return []
    drivers = churn_drivers(artifact, signals, scores, top=model.churn_model.top_drivers)[0]
    out = []
    for feature, effect in drivers:
        value = signals[feature].iloc[0] if feature in signals else scores[feature].iloc[0]
        pp = effect * 100
        out.append(f"{feature.replace('_', ' ')} = {_fmt(float(value), '.3g')} (+{pp:.0f} pp)")
    return out


__all__ = ["ExplainError", "default_sentence", "explain"]
