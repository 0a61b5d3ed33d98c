"""Reason codes: human sentences with the numbers behind a score, ordered by points impact.

Templates come from the model YAML (``reason:`` on a measure or knock-out) and are Python format
strings over ``value`` (the measure's signal) and any other signal of the row, with a few extra
format specs for people: ``{value:updown%}`` → "down 42%", ``{value:money}`` → "$4,800",
``{value:int}`` → "1,204", ``{value:pct}`` → "42%".
"""

from __future__ import annotations

import math
import string
from typing import Any

import numpy as np
import pandas as pd

from acct_pipeline.scoring.rules import NEUTRAL_POINTS, ScoreResult


class ReasonFormatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "n/a"
        if format_spec == "updown%":
            pct = round(float(value) * 100)
            if pct == 0:
                return "flat"
            return f"{'up' if pct > 0 else 'down'} {abs(pct)}%"
        if format_spec == "pct":
            return f"{float(value) * 100:.0f}%"
        if format_spec == "money":
            return f"${float(value):,.0f}"
        if format_spec == "int":
            return f"{round(float(value)):,}"
        if format_spec == "":
            if isinstance(value, float) and value.is_integer():
                return f"{int(value):,}"
            if isinstance(value, float):
                return f"{value:,.1f}"
        return super().format_field(value, format_spec)


FORMATTER = ReasonFormatter()
MIN_IMPACT = 0.5  # points


def _fields(template: str) -> list[str]:
    return [f for _, f, _, _ in string.Formatter().parse(template) if f]


def render(template: str, value: float, row_signals: dict[str, Any]) -> str:
    return FORMATTER.format(template, value=value, **row_signals)


def default_sentence(title: str, value: float, points: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return f"no data for {title} ({points:.0f}/100 points)"
    return f"{title}: {FORMATTER.format_field(float(value), '')} ({points:.0f}/100 points)"


def reason_codes(
    result: ScoreResult, signals: pd.DataFrame, max_reasons: int
) -> tuple[list[list[str]], np.ndarray]:
    """Top reasons per row (knock-outs first among equals, then by |impact|).

    Returns the sentences and, for the record, the impact matrix (rows × candidates).
    """
    n = len(signals)
    cands: list[tuple[str, Any, np.ndarray, np.ndarray, np.ndarray]] = []
    impacts = []
    for m in result.measures:
        impact = np.where(np.isnan(m.points), np.nan, m.impact)
        # below half a point a reason is noise; "cost" reasons only when they cost
        impact = np.where(np.abs(impact) < MIN_IMPACT, np.nan, impact)
        if m.measure.reason_if == "cost":
            impact = np.where(impact < 0, impact, np.nan)
        impacts.append(impact)
        cands.append(("measure", m, m.values, m.points, impact))
    for k in result.knockouts:
        cost = np.where(k.fired, np.minimum(0.0, k.knockout.cap - result.uncapped), np.nan)
        # a knock-out that fires is always worth telling, even when the cap did not bite
        cost = np.where(k.fired, np.minimum(cost, -0.01) - 100.0, np.nan)
        impacts.append(cost)
        cands.append(("knockout", k, k.values, np.full(n, np.nan), cost))
    if not impacts:
        return [[] for _ in range(n)], np.zeros((n, 0))
    mat = np.column_stack(impacts)
    order = np.argsort(-np.nan_to_num(np.abs(mat), nan=-1.0), axis=1, kind="stable")[:, :max_reasons]

    needed: dict[str, np.ndarray] = {}
    for kind, obj, *_ in cands:
        template = obj.measure.reason if kind == "measure" else obj.knockout.reason
        for f in _fields(template or ""):
            if f != "value" and f not in needed and f in signals:
                needed[f] = pd.to_numeric(signals[f], errors="coerce").to_numpy(dtype=float, na_value=np.nan)

    out: list[list[str]] = []
    for i in range(n):
        sentences = []
        for j in order[i]:
            if np.isnan(mat[i, j]):
                continue
            kind, obj, values, points, _ = cands[j]
            value = float(values[i])
            row = {f: float(arr[i]) for f, arr in needed.items()}
            if kind == "knockout":
                ko = obj.knockout
                text = (
                    render(ko.reason, value, row)
                    if ko.reason
                    else f"{ko.signal.replace('_', ' ')} {ko.op} {ko.value:g} caps the score at {ko.cap:g}"
                )
            else:
                m = obj.measure
                if m.reason and not math.isnan(value):
                    text = render(m.reason, value, row)
                elif m.missing_reason and math.isnan(value):
                    text = m.missing_reason
                else:
                    text = default_sentence(m.title, value, float(points[i]))
            sentences.append(text)
        out.append(sentences)
    return out, mat


def knockout_impact(result: ScoreResult) -> np.ndarray:
    """Points removed by knock-out caps per row (0 where none bit)."""
    return np.nan_to_num(result.uncapped - result.score)


__all__ = ["NEUTRAL_POINTS", "ReasonFormatter", "knockout_impact", "reason_codes", "render"]
