"""Measure rules → points (0..100), missing-value policies, knock-outs and weighted scores.

Pure numpy over whole columns: the scoring math never knows where its data came from. A score
is the weighted mean of its components' scores; a component's score is the weighted mean of
its measures' points. Missing measures are either excluded (the others are re-weighted) or
penalised (scored ``missing_points``); a component with nothing known is excluded from the
score the same way. ``points_<component>`` add up to the score before knock-out caps.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from acct_pipeline.scoring.model import (
    BoundedLinearRule,
    Knockout,
    LinearRule,
    Measure,
    ScoreDef,
    ScoringModel,
    Segment,
    ThresholdsRule,
)

NEUTRAL_POINTS = 50.0  # a measure above this helps the score, below it costs

_OPS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}


def rule_points(measure: Measure, values: np.ndarray) -> np.ndarray:
    """Points 0..100 for each value (NaN where the value is missing; no policy applied)."""
    v = np.asarray(values, dtype=float)
    rule = measure.rule
    higher = measure.direction == "higher_is_better"
    if isinstance(rule, ThresholdsRule):
        ats = np.array([t.at for t in rule.thresholds])
        pts = np.array([t.points for t in rule.thresholds])
        idx = np.searchsorted(ats, np.nan_to_num(v, nan=-np.inf), side="right") - 1
        out = pts[np.clip(idx, 0, len(pts) - 1)]
    elif isinstance(rule, LinearRule):
        out = rule.base + rule.per_unit * v if higher else rule.base - rule.per_unit * v
        out = np.clip(out, 0.0, 100.0)
    elif isinstance(rule, BoundedLinearRule):
        frac = np.clip((v - rule.low) / (rule.high - rule.low), 0.0, 1.0)
        if not higher:
            frac = 1.0 - frac
        out = rule.min_points + frac * (rule.max_points - rule.min_points)
    else:  # pragma: no cover - the discriminated union has no other member
        raise TypeError(f"unknown rule {rule!r}")
    return np.where(np.isnan(v), np.nan, out)


def apply_missing(measure: Measure, points: np.ndarray) -> np.ndarray:
    """The measure's missing-value policy: keep NaN (exclude & re-weight) or penalise."""
    if measure.missing == "penalize":
        return np.where(np.isnan(points), measure.missing_points, points)
    return points


def knockout_mask(knockout: Knockout, values: np.ndarray) -> np.ndarray:
    """True where the knock-out fires (a missing value never fires one)."""
    v = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(v), False, _OPS[knockout.op](v, knockout.value))


def segment_of(model: ScoringModel, signals: pd.DataFrame) -> np.ndarray:
    """Name of the first matching segment per row ('' for the default weights)."""
    n = len(signals)
    out = np.full(n, "", dtype=object)
    free = np.ones(n, dtype=bool)
    for seg in model.segments:
        mask = free.copy()
        for col in ("plan", "lifecycle_stage", "lifecycle_status"):
            wanted = getattr(seg.when, col)
            if wanted is not None:
                col_values = signals[col] if col in signals else pd.Series([None] * n)
                mask &= col_values.isin(wanted).to_numpy()
        out[mask] = seg.name
        free &= ~mask
    return out


def component_weights(
    score_name: str, score: ScoreDef, segments: list[Segment], segment: np.ndarray
) -> dict[str, np.ndarray]:
    """Per-row component weights: the score's defaults, overridden by the row's segment."""
    n = len(segment)
    weights = {c: np.full(n, comp.weight, dtype=float) for c, comp in score.components.items()}
    for seg in segments:
        override = seg.weights.get(score_name)
        if not override:
            continue
        rows = segment == seg.name
        for comp, w in override.items():
            weights[comp][rows] = w
    return weights


@dataclass
class MeasureResult:
    component: str
    measure: Measure
    values: np.ndarray
    points: np.ndarray  # after the missing policy; NaN = excluded
    share: np.ndarray  # effective weight in the score (0..1); contribution = share * points

    @property
    def impact(self) -> np.ndarray:
        """Points this measure moved the score away from neutral (negative = cost)."""
        return self.share * (self.points - NEUTRAL_POINTS)


@dataclass
class KnockoutResult:
    knockout: Knockout
    values: np.ndarray
    fired: np.ndarray


@dataclass
class ScoreResult:
    """A score for every row, and everything needed to take it apart."""

    name: str
    score: np.ndarray  # after knock-out caps, NaN when nothing is known
    uncapped: np.ndarray
    component_scores: dict[str, np.ndarray]
    component_points: dict[str, np.ndarray]  # sum to ``uncapped``
    measures: list[MeasureResult] = field(default_factory=list)
    knockouts: list[KnockoutResult] = field(default_factory=list)


def _column(signals: pd.DataFrame, name: str) -> np.ndarray:
    if name not in signals:
        return np.full(len(signals), np.nan)
    return pd.to_numeric(signals[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def evaluate_score(
    name: str,
    score: ScoreDef,
    signals: pd.DataFrame,
    weights: Mapping[str, np.ndarray] | None = None,
) -> ScoreResult:
    """Evaluate one score (health, engagement, value, ...) over a frame of signals."""
    n = len(signals)
    if weights is None:
        weights = {c: np.full(n, comp.weight, dtype=float) for c, comp in score.components.items()}
    comp_scores: dict[str, np.ndarray] = {}
    partial: list[tuple[str, Measure, np.ndarray, np.ndarray, np.ndarray]] = []
    for cname, comp in score.components.items():
        num = np.zeros(n)
        den = np.zeros(n)
        rows = []
        for m in comp.measures:
            values = _column(signals, m.signal)
            pts = apply_missing(m, rule_points(m, values))
            known = ~np.isnan(pts)
            num += np.where(known, pts * m.weight, 0.0)
            den += np.where(known, m.weight, 0.0)
            rows.append((m, values, pts, known))
        with np.errstate(invalid="ignore", divide="ignore"):
            comp_scores[cname] = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
        for m, values, pts, known in rows:
            within = np.where(known & (den > 0), m.weight / np.where(den > 0, den, 1), 0.0)
            partial.append((cname, m, values, pts, within))

    total_w = np.zeros(n)
    for cname in score.components:
        total_w += np.where(np.isnan(comp_scores[cname]), 0.0, weights[cname])
    safe_total = np.where(total_w > 0, total_w, 1.0)
    comp_points: dict[str, np.ndarray] = {}
    uncapped = np.zeros(n)
    for cname in score.components:
        known = ~np.isnan(comp_scores[cname]) & (total_w > 0)
        pts = np.where(
            known, weights[cname] * np.nan_to_num(comp_scores[cname]) / safe_total, np.nan
        )
        comp_points[cname] = pts
        uncapped += np.nan_to_num(pts)
    uncapped = np.where(total_w > 0, uncapped, np.nan)

    measures = []
    for cname, m, values, pts, within in partial:
        comp_share = np.where(
            ~np.isnan(comp_scores[cname]) & (total_w > 0), weights[cname] / safe_total, 0.0
        )
        measures.append(MeasureResult(cname, m, values, pts, comp_share * within))

    capped = uncapped.copy()
    kos = []
    for ko in score.knockouts:
        values = _column(signals, ko.signal)
        fired = knockout_mask(ko, values)
        capped = np.where(fired & ~np.isnan(capped), np.minimum(capped, ko.cap), capped)
        kos.append(KnockoutResult(ko, values, fired))
    return ScoreResult(name, capped, uncapped, comp_scores, comp_points, measures, kos)


def evaluate_model(
    model: ScoringModel, signals: pd.DataFrame
) -> tuple[dict[str, ScoreResult], np.ndarray]:
    """Every score of the model over ``signals``; also returns each row's segment name."""
    segment = segment_of(model, signals)
    results = {}
    for sname, sdef in model.scores.items():
        weights = component_weights(sname, sdef, model.segments, segment)
        results[sname] = evaluate_score(sname, sdef, signals, weights)
    return results, segment
