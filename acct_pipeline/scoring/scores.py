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
from typing import TYPE_CHECKING, Literal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from acct_pipeline.scoring.model import HEALTH, ScoringModel
from acct_pipeline.scoring.reasons import reason_texts
from acct_pipeline.scoring.rules import ScoreResult, evaluate_model
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
    replace_partition,
    table_exists,
)

if TYPE_CHECKING:
    from acct_pipeline.scoring.churn import ChurnArtifact

SQL_DIR = Path(__file__).parent / "sql"
_SCORES_TMP = "_account_scores_day"

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
)
POINTS_PREFIX = "points_"

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


def points_columns(model: ScoringModel) -> list[str]:
    return [f"{POINTS_PREFIX}{c}" for c in model.health.components]


def read_history(con: duckdb.DuckDBPyConnection, as_of: date, model: ScoringModel) -> pd.DataFrame:
    """The score history the day needs (one row per account scored before ``as_of``)."""
    if not table_exists(con, ACCOUNT_SCORES):
        return pd.DataFrame(columns=["account_id", *HISTORY_COLUMNS])
    dwell = model.tiers.hysteresis.dwell_days - 1
    window = model.trend.window_days - 1
    return con.execute(
        _sql("score_history.sql"),
        {"as_of": as_of, "dwell": dwell, "window": window, "lookback": max(30, dwell, window)},
    ).df()


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
    hist = sig[["account_id"]].merge(history, on="account_id", how="left")
    results, _segment = evaluate_model(model, sig)
    health = results[HEALTH]
    health_score = np.round(health.score, 1)

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
    trend = trend_label(tp, model.trend)
    reasons = _list_column(*reason_texts(health, sig, model.reasons.max_reasons)[:2])
    # one lookup per distinct (tier, trend), not per account
    plays = {
        (t, tr): model.playbook(t, tr) if t is not None else None
        for t, tr in set(zip(tier.tolist(), list(trend), strict=True))
    }
    playbook = [plays[(t, tr)] for t, tr in zip(tier.tolist(), list(trend), strict=True)]

    def _score(name: str) -> np.ndarray:
        if name in results:
            return np.round(results[name].score, 1)
        return np.full(n, np.nan)

    out = pd.DataFrame(
        {
            "account_id": sig["account_id"].astype(str),
            "as_of_date": pd.Series([as_of] * n, dtype="object"),
            "health_score": health_score,
            "engagement_score": _score("engagement"),
            "value_score": _score("value"),
            "churn_probability": (
                np.round(churn_probability, 4)
                if churn_probability is not None
                else np.full(n, np.nan)
            ),
            "tier": tier,
            "previous_tier": previous,
            "score_delta_7d": np.round(health_score - _f("score_7d_ago"), 1),
            "score_delta_30d": np.round(health_score - _f("score_30d_ago"), 1),
            "trend": trend,
            "reason_codes": reasons,
            "recommended_playbook": playbook,
            "model_version": model.label,
        }
    )
    for comp, pts in health.component_points.items():
        out[f"{POINTS_PREFIX}{comp}"] = np.round(pts, 2)
    return out, results


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
       {points}
FROM {_SCORES_TMP}
"""


def score_day(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    model: ScoringModel | None = None,
    churn: ChurnArtifact | Literal["auto"] | None = "auto",
) -> int:
    """Replace ``scores.account_scores`` for ``as_of``; returns the number of rows written.

    Reads D's signals (``compute_signals`` first) and the scores of the days before D.
    ``churn``: a ``ChurnArtifact``, ``None`` (no churn probability), or ``"auto"`` — the latest
    trained artefact of this model file, if any.
    """
    from acct_pipeline.scoring.churn import latest_artifact, predict_churn
    from acct_pipeline.scoring.model import load_model

    model = model or load_model()
    signals = read_signals(con, as_of)
    history = read_history(con, as_of, model)
    frame, results = score_frame(signals, history, model, as_of)
    artifact = latest_artifact(model) if churn == "auto" else churn
    if artifact is not None and artifact != "auto" and len(frame):
        frame["churn_probability"] = np.round(predict_churn(artifact, signals, frame), 4)
    # DuckDB refuses register() while a fetchone() result is still open on the connection
    con.execute("SELECT 1").fetchall()
    con.register(_SCORES_TMP, frame)
    try:
        _add_missing_columns(con, model)
        return replace_partition(con, ACCOUNT_SCORES, _insert_sql(model), AS_OF_DATE, [as_of])
    finally:
        con.unregister(_SCORES_TMP)


def _add_missing_columns(con: duckdb.DuckDBPyConnection, model: ScoringModel) -> None:
    """A model with a new component (or a table made by an older version) gets its columns."""
    if not table_exists(con, ACCOUNT_SCORES):
        return
    schema, name = ACCOUNT_SCORES.split(".")
    have = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchall()
    }
    wanted = con.execute(f"DESCRIBE {_insert_sql(model)}").fetchall()
    for col, typ, *_ in wanted:
        if col not in have:
            con.execute(f"ALTER TABLE {ACCOUNT_SCORES} ADD COLUMN {col} {typ}")
