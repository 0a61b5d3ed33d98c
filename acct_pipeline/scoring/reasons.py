"""Reason codes: human sentences with the numbers behind a score, ordered by points impact.

Templates come from the model YAML (``reason:`` on a measure or knock-out) and are Python format
strings over ``value`` (the measure's signal) and any other signal of the row, with a few extra
format specs for people: ``{value:updown%}`` → "down 42%", ``{value:money}`` → "$4,800",
``{value:int}`` → "1,204", ``{value:pct}`` → "42%".

Reasons are written to CRM fields every day, and a CRM treats every changed character as a change
(workflows fire, the sync spends a write). So a reason's wording should change only when its
meaning does: numbers that drift a little every day are rounded or bucketed —

- ``{value:pct~10}`` / ``{value:updown%~25}`` / ``{value:int~5}``: rounded to the nearest 10 % /
  25 % / 5 ("40%", "down 50%", "15"); ``updown%~N`` says "up over 100%" beyond that;
- ``{value:atleast:7,14,30,60,90}``: "less than 7", "at least 7", …, "at least 90" (the largest
  bound the value reaches) — "last reply, meeting or call at least 60 days ago";
- ``{value:trend:15,50}``: "flat" under 15 %, "up" / "down", "up sharply (over 50%)" from 50 %;
- ``{value:within_days:30,60,90}``: "within 30 days", …, "in over 90 days", "date passed"
  (negative) — "renewal within 30 days".
"""

from __future__ import annotations

import math
import string
from typing import Any

import numpy as np
import pandas as pd

from acct_pipeline.scoring import engagement
from acct_pipeline.scoring.rules import NEUTRAL_POINTS, ScoreResult


def _bounds(spec: str) -> list[float]:
    try:
        bounds = [float(b) for b in spec.split(",") if b.strip()]
    except ValueError:
        raise ValueError(
            f"reason format spec: bounds {spec!r} must be numbers, e.g. 7,14,30"
        ) from None
    if not bounds or bounds != sorted(bounds):
        raise ValueError(f"reason format spec: bounds {spec!r} must be increasing, e.g. 7,14,30")
    return bounds


def _num(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,g}"


def _rounded(value: float, step: float) -> float:
    return round(value / step) * step if step > 0 else value


class ReasonFormatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "n/a"
        spec, _, arg = format_spec.partition("~")
        if arg and spec in ("updown%", "pct", "int"):
            try:
                step = float(arg)
            except ValueError:
                raise ValueError(
                    f"reason format spec {format_spec!r}: step must be a number"
                ) from None
            if spec == "int":
                return f"{_rounded(float(value), step):,.0f}"
            pct = _rounded(float(value) * 100, step)
            if spec == "updown%" and abs(pct) > 100:
                return f"{'up' if pct > 0 else 'down'} over 100%"  # 300 % or 570 %: same news
            value = pct / 100
            format_spec = spec
        kind, _, arg = format_spec.partition(":")
        if kind == "atleast":
            bounds, v = _bounds(arg), float(value)
            if v < bounds[0]:
                return f"less than {_num(bounds[0])}"
            return f"at least {_num(max(b for b in bounds if v >= b))}"
        if kind == "trend":
            flat, sharp = _bounds(arg)[:2]
            pct = float(value) * 100
            if abs(pct) < flat:
                return "flat"
            word = "up" if pct > 0 else "down"
            return f"{word} sharply (over {_num(sharp)}%)" if abs(pct) >= sharp else word
        if kind == "within_days":
            bounds, v = _bounds(arg), float(value)
            if v < 0:
                return "date passed"
            for b in bounds:
                if v <= b:
                    return f"within {_num(b)} days"
            return f"in over {_num(bounds[-1])} days"
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
) -> np.ndarray:
    """One template rendered for many rows at once; returns an object array of sentences.

    Counts and amounts repeat a lot across 100k accounts, so each distinct combination of the
    placeholders' values is rendered once, and every row picks its sentence by index.
    """
    fields = [name for _, name, _ in parts if name]
    if not fields:
        return np.full(len(rows), "".join(lit for lit, _, _ in parts), dtype=object)
    sources = {
        name: (value if name == "value" else columns.get(name, np.full(len(value), np.nan)))[rows]
        for name in fields
    }
    key = np.zeros(len(rows), dtype=np.int64)
    for name in dict.fromkeys(fields):
        _, codes = np.unique(sources[name], return_inverse=True)  # NaNs collapse into one
        _, key = np.unique(key * (int(codes.max(initial=0)) + 1) + codes, return_inverse=True)
    _, first, index = np.unique(key, return_index=True, return_inverse=True)
    fmt = FORMATTER.format_field
    texts = np.array(
        [
            "".join(
                lit + (fmt(float(sources[name][r]), spec) if name else "")
                for lit, name, spec in parts
            )
            for r in first
        ],
        dtype=object,
    )
    return texts[index]


def reason_texts(
    result: ScoreResult, signals: pd.DataFrame, max_reasons: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top reasons per row (knock-outs first, then by |impact|), as flat arrays.

    Returns ``(texts, counts, impact)``: every row's sentences one after the other (row 0's,
    then row 1's, ...), how many belong to each row, and the impact matrix (rows × candidates).
    Flat arrays let 100k rows become a list column without a Python list per row.
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
        return np.empty(0, dtype=object), np.zeros(n, dtype=np.int64), np.zeros((n, 0))
    mat = np.column_stack(impacts)
    key = np.nan_to_num(np.abs(mat), nan=-1.0)
    order = np.argsort(-key, axis=1, kind="stable")[:, :max_reasons]
    # the chosen slots of a row are a prefix of its order (no-reason candidates sort last)
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
        if hasattr(obj, "knockout"):
            ko = obj.knockout
            if parts:
                grid[rows, slots] = _render_rows(parts, val, columns, rows)
            else:
                signal = ko.signal.replace("_", " ")
                grid[rows, slots] = f"{signal} {ko.op} {ko.value:g} caps the score at {ko.cap:g}"
            continue
        m = obj.measure
        missing = np.isnan(val[rows])
        arr = np.empty(len(rows), dtype=object)
        present = rows[~missing]
        if parts:
            arr[~missing] = _render_rows(parts, val, columns, present)
        else:
            arr[~missing] = [
                default_sentence(m.title, float(val[r]), float(obj.points[r])) for r in present
            ]
        if m.missing_reason:
            arr[missing] = m.missing_reason
        else:
            arr[missing] = [
                default_sentence(m.title, float("nan"), float(obj.points[r])) for r in rows[missing]
            ]
        grid[rows, slots] = arr
    return grid[chosen], chosen.sum(axis=1), mat


def reason_codes(
    result: ScoreResult, signals: pd.DataFrame, max_reasons: int
) -> tuple[list[list[str]], np.ndarray]:
    """Top reasons per row (knock-outs first, then by |impact|), one list per row.

    Returns the sentences and, for the record, the impact matrix (rows × candidates).
    """
    texts, counts, mat = reason_texts(result, signals, max_reasons)
    ends = np.cumsum(counts).tolist()
    flat = texts.tolist()
    return [flat[e - c : e] for e, c in zip(ends, counts.tolist(), strict=True)], mat


def engagement_change_reasons(signals: pd.DataFrame, window_days: int) -> np.ndarray:
    """Per row, the engagement category that fell most vs the previous window, as a sentence
    ("email engagement down 60 % vs prior 30 days"), or None.

    Only a fall of at least ``engagement.REASON_MIN_DROP`` from at least
    ``engagement.REASON_MIN_PRIOR_POINTS`` weighted points counts; the share is rounded to 10 %
    so the wording changes only when the news does (reasons are CRM fields).
    """
    n = len(signals)
    worst = np.full(n, np.inf)
    which = np.full(n, -1)
    for i, cat in enumerate(engagement.CATEGORIES):
        change_col = engagement.signal_name(cat, "change_pct")
        if change_col not in signals:
            continue
        change = pd.to_numeric(signals[change_col], errors="coerce").to_numpy(
            dtype=float, na_value=np.nan
        )
        now = pd.to_numeric(
            signals.get(engagement.signal_name(cat, "weighted")), errors="coerce"
        ).to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            prior = now / (1.0 + change)
        hit = (change <= -engagement.REASON_MIN_DROP) & (
            prior >= engagement.REASON_MIN_PRIOR_POINTS
        )
        better = hit & (change < worst)
        worst = np.where(better, change, worst)
        which = np.where(better, i, which)
    out = np.full(n, None, dtype=object)
    for i, cat in enumerate(engagement.CATEGORIES):
        rows = which == i
        for pct in np.unique(np.round(-worst[rows] * 10) * 10):
            out[rows & (np.round(-worst * 10) * 10 == pct)] = (
                f"{engagement.label(cat)} engagement down {pct:.0f} % vs prior {window_days} days"
            )
    return out


def knockout_impact(result: ScoreResult) -> np.ndarray:
    """Points removed by knock-out caps per row (0 where none bit)."""
    return np.nan_to_num(result.uncapped - result.score)


__all__ = [
    "NEUTRAL_POINTS",
    "ReasonFormatter",
    "engagement_change_reasons",
    "knockout_impact",
    "reason_codes",
    "reason_texts",
    "render",
]
