"""Account scores (``scores.account_scores``) for one day, from that day's signals.

``score_frame`` is the pure part (signals + history in, score rows out); ``score_day`` reads
``features.account_signals`` for D and the score history before D from the warehouse and
replaces D's partition. Days must be scored in date order (tiers, deltas and trend read the
previous days); re-scoring one day reads exactly the days before it, so it gives the same rows.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path
from typing import Literal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from acct_pipeline.scoring import engagement
from acct_pipeline.scoring.churn import (
    ChurnArtifact,
    ChurnDriver,
    WalkForwardChurn,
    churn_drivers,
    predict_churn,
)
from acct_pipeline.scoring.lifecycle import CHURNED, lifecycle_status
from acct_pipeline.scoring.model import HEALTH, ScoringModel, load_model
from acct_pipeline.scoring.overrides import apply_overrides
from acct_pipeline.scoring.reasons import engagement_change_reasons, reason_texts
from acct_pipeline.scoring.registry import check_and_register
from acct_pipeline.scoring.rules import ScoreResult, evaluate_model
from acct_pipeline.scoring.score_columns import POINTS_PREFIX, points_columns
from acct_pipeline.scoring.tiers import (
    NO_TIER,
    apply_hysteresis,
    tier_index,
    trend_label,
    trend_points,
)
from acct_pipeline.warehouse import (
    ACCOUNT_SCORES,
    ACCOUNT_SIGNALS,
    AS_OF_DATE,
    CHURN_DRIVERS,
    replace_partition,
    table_exists,
)

NO_CHURN_MODEL = "churn model disabled for this run"
CHURNED_NOTE = "account churned"

SQL_DIR = Path(__file__).parent / "sql"
_SCORES_TMP = "_account_scores_day"
_DRIVERS_TMP = "_churn_drivers_day"

# The fixed columns of scores.account_scores, in order; ``points_<component>`` follow.
SCORE_COLUMNS: tuple[str, ...] = (
    "account_id",
    "as_of_date",
    "health_score",
    "engagement_score",
    "value_score",
    "churn_probability",
    "tier",
    "previous_tier",
    "score_delta_7d",
    "score_delta_30d",
    "trend",
    "reason_codes",
    "recommended_playbook",
    "model_version",
    "lifecycle_status",
    "data_coverage",
    "churn_model_version",
    "churn_note",
    # the engagement categories 0-100 (NULL: no data for the category; scoring/engagement.py)
    *engagement.SCORE_COLUMNS,
)
HISTORY_COLUMNS: tuple[str, ...] = (
    "previous_tier",
    "score_7d_ago",
    "score_30d_ago",
    "recent_n",
    "recent_min",
    "recent_max",
    "trend_n",
    "trend_sx",
    "trend_sy",
    "trend_sxy",
    "trend_sxx",
)


@cache
def _sql(name: str) -> str:
    return (SQL_DIR / name).read_text()


def read_history(con: duckdb.DuckDBPyConnection, as_of: date, model: ScoringModel) -> pd.DataFrame:
    """The score history the day needs (one row per account scored before ``as_of``)."""
    if not table_exists(con, ACCOUNT_SCORES):
        return pd.DataFrame(columns=["account_id", *HISTORY_COLUMNS])
    return con.execute(history_sql(), history_sql_params(as_of, model)).df()


def history_sql() -> str:
    """``sql/score_history.sql`` (DuckDB's dialect; the Spark engine runs it transpiled)."""
    return _sql("score_history.sql")


def history_sql_params(as_of: date, model: ScoringModel) -> dict[str, object]:
    dwell = model.tiers.hysteresis.dwell_days - 1
    window = model.trend.window_days - 1
    return {"as_of": as_of, "dwell": dwell, "window": window, "lookback": max(30, dwell, window)}


def score_frame(
    signals: pd.DataFrame,
    history: pd.DataFrame,
    model: ScoringModel,
    as_of: date,
    churn_probability: np.ndarray | None = None,
) -> tuple[pd.DataFrame, dict[str, ScoreResult]]:
    """Score rows for one day (pure: no warehouse). Also returns the per-score results."""
    sig = signals.reset_index(drop=True)
    n = len(sig)
    status = lifecycle_status(sig, model)
    churned = status == CHURNED
    sig = sig.assign(lifecycle_status=status)
    hist = sig[["account_id"]].merge(history, on="account_id", how="left")
    results, _segment = evaluate_model(model, sig)
    health = results[HEALTH]
    # a churned account is out of the book: no score, tier, trend or playbook (lifecycle.py)
    health_score = np.where(churned, np.nan, np.round(health.score, 1))

    tiers = model.tiers
    prev_idx = tier_index(hist["previous_tier"], tiers)
    tier_idx = apply_hysteresis(
        health_score,
        prev_idx,
        hist["recent_min"].to_numpy(dtype=float, na_value=np.nan),
        hist["recent_max"].to_numpy(dtype=float, na_value=np.nan),
        pd.to_numeric(hist["recent_n"]).fillna(0).to_numpy(dtype=float),
        tiers,
    )
    tier_idx = np.where(churned, NO_TIER, tier_idx)
    names = np.array(tiers.names + [None], dtype=object)
    tier = names[np.where(tier_idx == NO_TIER, len(tiers.names), tier_idx)]
    previous = names[np.where(prev_idx == NO_TIER, len(tiers.names), prev_idx)]

    def _f(col: str) -> np.ndarray:
        return hist[col].to_numpy(dtype=float, na_value=np.nan)

    tp = trend_points(
        health_score,
        _f("trend_n"),
        _f("trend_sx"),
        _f("trend_sy"),
        _f("trend_sxy"),
        _f("trend_sxx"),
        model.trend.window_days,
    )
    trend = np.where(churned, None, trend_label(tp, model.trend))
    texts, counts = reason_texts(health, sig, model.reasons.max_reasons)[:2]
    coverage, gaps = data_coverage(health, model)
    falls = engagement_change_reasons(sig, model.engagement.window_days)
    texts, counts = _with_row_notes(texts, counts, np.where(churned, None, falls))
    texts, counts = _with_row_notes(texts, counts, _row_notes(gaps, churned, sig, as_of))
    reasons = _list_column(texts, counts)
    # one lookup per distinct (tier, trend), not per account
    plays = {
        (t, tr): model.playbook(t, tr) if t is not None else None
        for t, tr in set(zip(tier.tolist(), list(trend), strict=True))
    }
    playbook = [plays[(t, tr)] for t, tr in zip(tier.tolist(), list(trend), strict=True)]

    def _score(name: str) -> np.ndarray:
        if name in results:
            return np.where(churned, np.nan, np.round(results[name].score, 1))
        return np.full(n, np.nan)

    proba = np.round(churn_probability, 4) if churn_probability is not None else np.full(n, np.nan)

    out = pd.DataFrame(
        {
            "account_id": sig["account_id"].astype(str),
            "as_of_date": pd.Series([as_of] * n, dtype="object"),
            "health_score": health_score,
            "engagement_score": _score("engagement"),
            "value_score": _score("value"),
            "churn_probability": np.where(churned, np.nan, proba),
            "tier": tier,
            "previous_tier": previous,
            "score_delta_7d": np.round(health_score - _f("score_7d_ago"), 1),
            "score_delta_30d": np.round(health_score - _f("score_30d_ago"), 1),
            "trend": trend,
            "reason_codes": reasons,
            "recommended_playbook": playbook,
            "model_version": model.label,
            "lifecycle_status": status,
            "data_coverage": np.where(churned, np.nan, np.round(coverage, 3)),
            "churn_model_version": None,
            "churn_note": np.where(churned, CHURNED_NOTE, None),
        }
    )
    for col, values in category_scores(results, n).items():
        out[col] = np.where(churned, np.nan, np.round(values, 1))
    for comp, pts in health.component_points.items():
        out[f"{POINTS_PREFIX}{comp}"] = np.where(churned, np.nan, np.round(pts, 2))
    return out, results


def category_scores(results: dict[str, ScoreResult], n: int) -> dict[str, np.ndarray]:
    """Each engagement category's 0-100 score (the engagement score's component of that name;
    NaN where the account has no data for it, or the model has no such component)."""
    score = results.get(engagement.ENGAGEMENT_SCORE)
    comps = score.component_scores if score is not None else {}
    return {
        engagement.score_column(c): comps.get(c, np.full(n, np.nan)) for c in engagement.CATEGORIES
    }


def data_coverage(
    health: ScoreResult, model: ScoringModel
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Share of the health model's configured weight whose measure has data, per row, and per
    component the rows where none of its measures has data (scored on the other components).

    A measure that penalises a missing value (``missing: penalize``) counts as covered: for it,
    "nothing recorded" is the information."""
    n = len(health.score)
    comps = model.health.components
    total = sum(c.weight for c in comps.values()) or 1.0
    covered = np.zeros(n)
    gaps: dict[str, np.ndarray] = {}
    for cname, comp in comps.items():
        mine = [m for m in health.measures if m.component == cname]
        in_comp = sum(m.measure.weight for m in mine) or 1.0
        any_data = np.zeros(n, dtype=bool)
        for m in mine:
            known = ~np.isnan(m.points)
            covered += np.where(known, comp.weight / total * m.measure.weight / in_comp, 0.0)
            any_data |= known
        gaps[cname] = ~any_data
    return covered, gaps


def _row_notes(
    gaps: dict[str, np.ndarray], churned: np.ndarray, sig: pd.DataFrame, as_of: date
) -> np.ndarray:
    """One extra sentence per row (or None): the churn date, or the components with no data."""
    n = len(churned)
    notes = np.full(n, None, dtype=object)
    missing = [c for c, rows in gaps.items() if rows.any()]
    if missing:
        key = np.zeros(n, dtype=np.int64)
        for i, c in enumerate(missing):
            key |= gaps[c].astype(np.int64) << i
        for k in np.unique(key[key > 0]):
            names = [c for i, c in enumerate(missing) if k >> i & 1]
            notes[key == k] = f"no data for {', '.join(names)}: scored on the other components"
    if churned.any():
        ended = pd.to_numeric(sig["days_since_subscription_ended"], errors="coerce").to_numpy(
            dtype=float, na_value=np.nan
        )
        for d in np.unique(ended[churned]):
            day = as_of - pd.Timedelta(days=int(d)).to_pytimedelta()
            notes[churned & (ended == d)] = f"churned: the last subscription ended on {day}"
    return notes


def _with_row_notes(
    texts: np.ndarray, counts: np.ndarray, notes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Reasons with each row's note appended (a churned row keeps only its note)."""
    has = np.array([x is not None for x in notes], dtype=bool)
    if not has.any():
        return texts, counts
    churn_rows = np.array([isinstance(x, str) and x.startswith("churned:") for x in notes])
    ends = np.cumsum(counts)
    starts = ends - counts
    keep = np.ones(len(texts), dtype=bool)
    for r in np.nonzero(churn_rows)[0]:
        keep[starts[r] : ends[r]] = False
    counts = np.where(churn_rows, 0, counts)
    texts = texts[keep]
    ends = np.cumsum(counts)
    rows = np.nonzero(has)[0]
    out = np.insert(texts.astype(object), ends[rows], notes[rows].astype(object))
    return out, counts + has.astype(counts.dtype)


def _list_column(texts: np.ndarray, counts: np.ndarray) -> pd.Series:
    """A column of string lists (``VARCHAR[]`` in DuckDB) from flat texts and per-row counts,
    backed by Arrow: no Python list per row, and DuckDB reads it without converting."""
    offsets = np.zeros(len(counts) + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    lists = pa.ListArray.from_arrays(pa.array(offsets), pa.array(texts, type=pa.string()))
    return pd.Series(pd.arrays.ArrowExtensionArray(lists))


def read_signals(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    return con.execute(
        f"SELECT * FROM {ACCOUNT_SIGNALS} WHERE {AS_OF_DATE} = ? ORDER BY account_id", [as_of]
    ).df()


def _insert_sql(model: ScoringModel) -> str:
    points = ",\n       ".join(f"CAST({c} AS DOUBLE) AS {c}" for c in points_columns(model))
    categories = "".join(f"CAST({c} AS DOUBLE) AS {c}, " for c in engagement.SCORE_COLUMNS)
    return f"""
SELECT CAST(account_id AS VARCHAR)          AS account_id,
       CAST(as_of_date AS DATE)             AS as_of_date,
       CAST(health_score AS DOUBLE)         AS health_score,
       CAST(engagement_score AS DOUBLE)     AS engagement_score,
       CAST(value_score AS DOUBLE)          AS value_score,
       CAST(churn_probability AS DOUBLE)    AS churn_probability,
       CAST(tier AS VARCHAR)                AS tier,
       CAST(previous_tier AS VARCHAR)       AS previous_tier,
       CAST(score_delta_7d AS DOUBLE)       AS score_delta_7d,
       CAST(score_delta_30d AS DOUBLE)      AS score_delta_30d,
       CAST(trend AS VARCHAR)               AS trend,
       CAST(reason_codes AS VARCHAR[])      AS reason_codes,
       CAST(recommended_playbook AS VARCHAR) AS recommended_playbook,
       CAST(model_version AS VARCHAR)       AS model_version,
       CAST(lifecycle_status AS VARCHAR)    AS lifecycle_status,
       CAST(data_coverage AS DOUBLE)        AS data_coverage,
       CAST(churn_model_version AS VARCHAR) AS churn_model_version,
       CAST(churn_note AS VARCHAR)          AS churn_note,
       {categories}
       {points}
FROM {_SCORES_TMP}
"""


def score_day(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    model: ScoringModel | None = None,
    churn: WalkForwardChurn | ChurnArtifact | Literal["auto"] | None = "auto",
) -> int:
    """Replace ``scores.account_scores`` for ``as_of``; returns the number of rows written.

    Reads D's signals (``compute_signals`` first) and the scores of the days before D.
    ``churn``: a ``WalkForwardChurn`` (the model of D's retraining day, trained on labels
    matured by then), ``"auto"`` (a new one over the default models folder), a fixed
    ``ChurnArtifact`` (backtests, tests) or ``None`` (no churn probability).
    Raises ``registry.ModelChanged`` when the model file changed while its version did not; the
    first run of a version registers it as live in ``scores.model_registry``.
    """
    model = model or load_model()
    # change control: a changed file under a registered version is refused (registry.py)
    check_and_register(con, model, as_of)
    signals = read_signals(con, as_of)
    history = read_history(con, as_of, model)
    frame, _ = score_frame(signals, history, model, as_of)
    return store_day(con, as_of, model, signals, frame, churn)


def store_day(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    model: ScoringModel,
    signals: pd.DataFrame,
    frame: pd.DataFrame,
    churn: WalkForwardChurn | ChurnArtifact | Literal["auto"] | None = "auto",
) -> int:
    """Add the churn probability to D's score rows (``frame``, row for row with ``signals``)
    and replace D's partition of ``scores.account_scores`` with them; returns the rows written.
    The last step of ``score_day``, shared with the Spark engine."""
    from acct_pipeline.scoring.churn import ChurnArtifact, WalkForwardChurn

    if churn == "auto":
        churn = WalkForwardChurn(model)
    if isinstance(churn, WalkForwardChurn):
        for_day = churn.for_day(con, as_of)
        artifact, note = for_day.artifact, for_day.note
    elif isinstance(churn, ChurnArtifact):
        artifact, note = churn, None
    else:
        artifact, note = None, NO_CHURN_MODEL
    live = (frame["lifecycle_status"] != CHURNED).to_numpy()
    drivers = drivers_frame([], [], as_of)
    if artifact is not None and live.any():
        live_signals = signals[live].reset_index(drop=True)
        live_scores = frame[live].reset_index(drop=True)
        proba = np.full(len(frame), np.nan)
        proba[live] = np.round(predict_churn(artifact, live_signals, live_scores), 4)
        frame["churn_probability"] = proba
        frame.loc[live, "churn_model_version"] = artifact.version
        # stored, so `explain` reads them instead of loading scikit-learn and the model
        top = model.churn_model.top_drivers
        drivers = drivers_frame(
            live_scores["account_id"].tolist(),
            churn_drivers(artifact, live_signals, live_scores, top=top),
            as_of,
        )
    elif note is not None:
        frame.loc[live, "churn_note"] = f"no churn probability: {note}"
    # DuckDB refuses register() while a fetchone() result is still open on the connection
    con.execute("SELECT 1").fetchall()
    con.register(_SCORES_TMP, frame)
    con.register(_DRIVERS_TMP, drivers)
    try:
        rows = replace_partition(con, ACCOUNT_SCORES, _insert_sql(model), AS_OF_DATE, [as_of])
        replace_partition(con, CHURN_DRIVERS, DRIVERS_INSERT_SQL, AS_OF_DATE, [as_of])
    finally:
        con.unregister(_SCORES_TMP)
        con.unregister(_DRIVERS_TMP)
    # manual overrides active on D go beside the computed values (scoring/overrides.py)
    apply_overrides(con, as_of)
    return rows


# scores.churn_drivers: per account and day the features that raise the churn probability most
# above a typical account's (churn.churn_drivers). Rescoring a day replaces its rows (none when
# the day had no churn model).
DRIVERS_INSERT_SQL = f"""
SELECT CAST(account_id AS VARCHAR) AS account_id,
       CAST(as_of_date AS DATE)    AS as_of_date,
       CAST(rank AS INTEGER)       AS rank,
       CAST(feature AS VARCHAR)    AS feature,
       CAST(value AS DOUBLE)       AS value,
       CAST(typical AS DOUBLE)     AS typical,
       CAST(effect AS DOUBLE)      AS effect
FROM {_DRIVERS_TMP}
"""


def drivers_frame(
    account_ids: list[str], drivers: list[list[ChurnDriver]], as_of: date
) -> pd.DataFrame:
    """Rows of ``scores.churn_drivers`` (rank 1 = the largest effect)."""
    rows = [
        (a, as_of, rank, d.feature, d.value, d.typical, d.effect)
        for a, found in zip(account_ids, drivers, strict=True)
        for rank, d in enumerate(found, 1)
    ]
    cols = ["account_id", "as_of_date", "rank", "feature", "value", "typical", "effect"]
    frame = pd.DataFrame(rows, columns=cols)
    return frame.astype({"rank": "int64", "value": float, "typical": float, "effect": float})
