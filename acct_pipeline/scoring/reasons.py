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


def _compile(template: str) -> list[tuple[str, str | None, str]]:
    return [(lit, f, spec or "") for lit, f, spec, _ in string.Formatter().parse(template)]


def _render_rows(
    parts: list[tuple[str, str | None, str]],
    value: np.ndarray,
    columns: dict[str, np.ndarray],
    rows: np.ndarray,
) -> list[str]:
    """One template rendered for many rows at once (a column per placeholder, then joined).

    Each placeholder formats its distinct values once (counts and amounts repeat a lot across
    100k accounts), then every row picks its text by index.
    """
    fmt = FORMATTER.format_field
    pieces: list[list[str]] = []
    for literal, name, spec in parts:
        if literal:
            pieces.append([literal] * len(rows))
        if name:
            src = value if name == "value" else columns.get(name, np.full(len(value), np.nan))
            distinct, index = np.unique(src[rows], return_inverse=True)
            texts = np.array([fmt(float(x), spec) for x in distinct], dtype=object)
            pieces.append(texts[index].tolist())
    return ["".join(p) for p in zip(*pieces, strict=True)] if pieces else [""] * len(rows)


def reason_codes(
    result: ScoreResult, signals: pd.DataFrame, max_reasons: int
) -> tuple[list[list[str]], np.ndarray]:
    """Top reasons per row (knock-outs first, then by |impact|).

    Returns the sentences and, for the record, the impact matrix (rows × candidates).
    """
    n = len(signals)
    templates: list[tuple[list[tuple[str, str | None, str]] | None, Any]] = []
    values: list[np.ndarray] = []
    impacts = []
    for m in result.measures:
        impact = np.where(np.isnan(m.points), np.nan, m.impact)
        # below half a point a reason is noise; "cost" reasons only when they cost
        impact = np.where(np.abs(impact) < MIN_IMPACT, np.nan, impact)
        if m.measure.reason_if == "cost":
            impact = np.where(impact < 0, impact, np.nan)
        impacts.append(impact)
        templates.append((_compile(m.measure.reason) if m.measure.reason else None, m))
        values.append(m.values)
    for k in result.knockouts:
        # a knock-out that fires is always told first, even when the cap did not bite
        cost = np.where(k.fired, np.minimum(0.0, k.knockout.cap - result.uncapped) - 100.0, np.nan)
        impacts.append(cost)
        templates.append((_compile(k.knockout.reason) if k.knockout.reason else None, k))
        values.append(k.values)
    if not impacts:
        return [[] for _ in range(n)], np.zeros((n, 0))
    mat = np.column_stack(impacts)
    key = np.nan_to_num(np.abs(mat), nan=-1.0)
    order = np.argsort(-key, axis=1, kind="stable")[:, :max_reasons]
    chosen = np.take_along_axis(key, order, axis=1) >= 0

    columns: dict[str, np.ndarray] = {}
    for parts, _ in templates:
        for _, f, _ in parts or []:
            if f and f != "value" and f not in columns and f in signals:
                columns[f] = pd.to_numeric(signals[f], errors="coerce").to_numpy(
                    dtype=float, na_value=np.nan
                )

    grid = np.full(order.shape, None, dtype=object)
    for j, (parts, obj) in enumerate(templates):
        hit = (order == j) & chosen
        if not hit.any():
            continue
        rows, slots = np.nonzero(hit)
        val = values[j]
        missing = np.isnan(val[rows])
        texts: list[str] = [""] * len(rows)
        if hasattr(obj, "knockout"):
            ko = obj.knockout
            if parts:
                texts = _render_rows(parts, val, columns, rows)
            else:
                texts = [
                    f"{ko.signal.replace('_', ' ')} {ko.op} {ko.value:g} "
                    f"caps the score at {ko.cap:g}"
                ] * len(rows)
        else:
            m = obj.measure
            arr = np.empty(len(rows), dtype=object)
            present = rows[~missing]
            if parts:
                arr[~missing] = _render_rows(parts, val, columns, present)
            else:
                arr[~missing] = [
                    default_sentence(m.title, float(val[r]), float(obj.points[r])) for r in present
                ]
            arr[missing] = [
                m.missing_reason or default_sentence(m.title, float("nan"), float(obj.points[r]))
                for r in rows[missing]
            ]
            texts = arr.tolist()
        grid[rows, slots] = texts
    out = [[t for t in row if t is not None] for row in grid.tolist()]
    return out, mat


def knockout_impact(result: ScoreResult) -> np.ndarray:
    """Points removed by knock-out caps per row (0 where none bit)."""
    return np.nan_to_num(result.uncapped - result.score)


__all__ = ["NEUTRAL_POINTS", "ReasonFormatter", "knockout_impact", "reason_codes", "render"]
