"""Tiers with hysteresis, and the score trend.

A tier changes only when the score clears the boundary by ``margin_points`` or has stayed past
it for ``dwell_days`` days in a row (today included), so a score wobbling two points around 70
does not flip an account between two tiers every morning.

The tier names and their order (best first) come from the scoring model (``tiers.bands``);
``model_tier_names`` is what every other layer (quality suite, validation, alerts, sync, report)
reads, so a model that renames a tier is followed everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from pydantic import ValidationError

from acct_pipeline.scoring.model import (
    DEFAULT_MODEL_PATH,
    ModelError,
    Tiers,
    Trend,
    load_model,
    model_path,
)

NO_TIER = -1
MIN_TREND_POINTS = 7  # a slope from fewer days is noise: the trend stays "stable"


@lru_cache(maxsize=8)
def _names_in(path: str, mtime_ns: int) -> tuple[str, ...]:
    target = Path(path)
    try:
        doc = yaml.safe_load(target.read_text())
    except (OSError, yaml.YAMLError):
        return tuple(load_model(target).tiers.names)  # raises ModelError naming the file
    section = doc.get("tiers") if isinstance(doc, dict) else None
    if section is None:
        # like the alert thresholds: a model file without the section gets the default's
        return tuple(load_model(DEFAULT_MODEL_PATH).tiers.names)
    try:
        return tuple(Tiers.model_validate(section).names)
    except ValidationError as exc:
        errors = "; ".join(e["msg"] for e in exc.errors())
        raise ModelError(f"scoring model {target.name}: tiers: {errors}") from None


def model_tier_names() -> tuple[str, ...]:
    """The tier names of the scoring model in use (``$ACCT_MODEL`` or the default), best first.

    Only the ``tiers`` section is read (the scoring engine validates the whole file when it
    scores); a file without one has the default model's tiers.
    """
    path = model_path()
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return tuple(load_model(path).tiers.names)  # raises ModelError naming the file
    return _names_in(str(path), stamp)


def tier_ranks(names: Sequence[str] | None = None) -> dict[str, int]:
    """Tier name -> rank, best 0; a worse tier has a higher rank (default: the model's tiers)."""
    return {t: i for i, t in enumerate(model_tier_names() if names is None else names)}


def tier_rank_sql(expr: str, names: Sequence[str] | None = None, unknown: str = "NULL") -> str:
    """SQL ranking the tier in ``expr`` from best (0) to worst; other values rank ``unknown``."""
    ranks = tier_ranks(names)
    whens = " ".join(f"WHEN '{t.replace(chr(39), chr(39) * 2)}' THEN {i}" for t, i in ranks.items())
    return f"(CASE {expr} {whens} ELSE {unknown} END)"


def ordered_tiers(tiers: Iterable[str], names: Sequence[str] | None = None) -> list[str]:
    """``tiers`` from best to worst; names the model does not know follow, alphabetically."""
    order = list(model_tier_names() if names is None else names)
    present = set(tiers)
    return [t for t in order if t in present] + sorted(t for t in present if t not in order)


def band_index(scores: np.ndarray, tiers: Tiers) -> np.ndarray:
    """Index of the band each score falls in (0 = best), ``NO_TIER`` for NaN."""
    s = np.asarray(scores, dtype=float)
    mins = np.array([b.min for b in tiers.bands])  # descending, last is 0
    # count of band minimums above the score = index of its band
    idx = (np.nan_to_num(s, nan=-1.0)[:, None] < mins[None, :]).sum(axis=1)
    idx = np.clip(idx, 0, len(mins) - 1)
    return np.where(np.isnan(s), NO_TIER, idx)


def tier_index(names: pd.Series | np.ndarray, tiers: Tiers) -> np.ndarray:
    lookup = {n: i for i, n in enumerate(tiers.names)}
    # an integer array even when empty (a day with no accounts): it indexes the tier names
    return np.array(
        [lookup.get(x, NO_TIER) if isinstance(x, str) else NO_TIER for x in names], dtype=np.int64
    )


def apply_hysteresis(
    scores: np.ndarray,
    previous: np.ndarray,
    recent_min: np.ndarray,
    recent_max: np.ndarray,
    recent_n: np.ndarray,
    tiers: Tiers,
) -> np.ndarray:
    """Today's tier index from today's score and yesterday's tier (``previous``, index).

    ``recent_*`` describe the health scores of the ``dwell_days - 1`` days before today (min,
    max and how many of those days were scored).
    """
    s = np.asarray(scores, dtype=float)
    prev = np.asarray(previous, dtype=int)
    raw = band_index(s, tiers)
    h = tiers.hysteresis
    mins = np.array([b.min for b in tiers.bands] + [0.0])
    n_bands = len(tiers.bands)
    need = h.dwell_days - 1
    rmin = np.nan_to_num(np.asarray(recent_min, dtype=float), nan=np.inf)
    rmax = np.nan_to_num(np.asarray(recent_max, dtype=float), nan=-np.inf)
    full = np.asarray(recent_n) >= need

    p = np.clip(prev, 0, n_bands - 1)
    # moving down: below the previous tier's minimum
    down_boundary = mins[p]
    down_clear = (down_boundary - s) >= h.margin_points
    down_dwell = full & (rmax < down_boundary) if need > 0 else np.ones_like(full)
    # moving up: at or above the minimum of the tier above the previous one
    up_boundary = mins[np.clip(p - 1, 0, n_bands - 1)]
    up_clear = (s - up_boundary) >= h.margin_points
    up_dwell = full & (rmin >= up_boundary) if need > 0 else np.ones_like(full)

    worse = raw > p
    better = raw < p
    change = (worse & (down_clear | down_dwell)) | (better & (up_clear | up_dwell))
    tier = np.where(change, raw, p)
    tier = np.where(prev == NO_TIER, raw, tier)
    return np.where(np.isnan(s), NO_TIER, tier)


def trend_points(
    score: np.ndarray,
    n: np.ndarray,
    sx: np.ndarray,
    sy: np.ndarray,
    sxy: np.ndarray,
    sxx: np.ndarray,
    window_days: int,
) -> np.ndarray:
    """Least-squares slope of the score over the trend window, in points per window.

    The sums describe the history before today (x = days relative to today, negative); today's
    point (x = 0, y = score) is added here. NaN with fewer than ``MIN_TREND_POINTS`` points.
    """
    y0 = np.asarray(score, dtype=float)
    today = ~np.isnan(y0)
    n_ = np.nan_to_num(n) + today
    sx_ = np.nan_to_num(sx)
    sy_ = np.nan_to_num(sy) + np.where(today, y0, 0.0)
    sxy_ = np.nan_to_num(sxy)
    sxx_ = np.nan_to_num(sxx)
    den = n_ * sxx_ - sx_**2
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (n_ * sxy_ - sx_ * sy_) / den
    return np.where((n_ >= MIN_TREND_POINTS) & (den > 0), slope * window_days, np.nan)


def trend_label(points: np.ndarray, trend: Trend) -> np.ndarray:
    """improving / stable / declining from the trend in points per window."""
    p = np.asarray(points, dtype=float)
    out = np.full(len(p), "stable", dtype=object)
    out[np.nan_to_num(p, nan=0.0) >= trend.improving_points] = "improving"
    out[np.nan_to_num(p, nan=0.0) <= trend.declining_points] = "declining"
    return out
