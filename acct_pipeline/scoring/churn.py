"""Predictive churn: probability that an account churns within the next 90 days.

Trained on the warehouse's own history: features are the signals (and scores) on as-of day D,
the label is "every subscription ended within (D, D + horizon]" (``scoring/outcomes.py``,
billing joined through ``staging.identity_map``). Only days whose whole horizon has been
observed are labelled. Evaluation is time-split: the model is fitted on the earlier labelled
days and measured on the later ones (an account-day is never in both), with calibrated
probabilities (scikit-learn ``CalibratedClassifierCV``, folds grouped by account).

The artefact (estimator + metadata) is saved under ``<warehouse dir>/models/`` (or
``$ACCT_MODELS_DIR``) as ``churn-<model name>-<version>.joblib``; the version is a hash of the
training data and the scoring-model file, so the same data and model give the same version.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import joblib
import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from acct_pipeline.scoring.model import ScoringModel
from acct_pipeline.scoring.outcomes import create_outcome_tables
from acct_pipeline.scoring.scores import POINTS_PREFIX, points_columns
from acct_pipeline.scoring.signals import NUMERIC_SIGNALS, SQL_DIR
from acct_pipeline.warehouse import (
    ACCOUNT_SCORES,
    ACCOUNT_SIGNALS,
    PRODUCT_EVENTS,
    table_exists,
    warehouse_path,
)

MODELS_DIR_ENV = "ACCT_MODELS_DIR"
SCORE_FEATURES: tuple[str, ...] = ("health_score", "engagement_score", "value_score")
# Windows of the usage signals are 35 days long: earlier days would learn from truncated windows.
WARMUP_DAYS = 34
RANDOM_STATE = 0
# Gradient boosting's OpenMP threads oversubscribe a busy machine badly (10x slower on 2 shared
# cores): one thread is fast enough for account-day tables.
OPENMP_THREADS = 1


class ChurnModelError(RuntimeError):
    """Not enough labelled history to train or evaluate the churn model."""


def artifact_dir() -> Path:
    """``$ACCT_MODELS_DIR`` or ``models/`` next to the warehouse file."""
    env = os.environ.get(MODELS_DIR_ENV)
    return Path(env) if env else warehouse_path().parent / "models"


@dataclass
class ChurnArtifact:
    """A trained churn model and what it was trained on."""

    version: str
    model_name: str
    model_hash: str
    features: list[str]
    estimator: Any
    medians: dict[str, float]
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


@dataclass
class HoldoutEvaluation:
    """Time-split evaluation on the later labelled days (``evaluate_holdout``)."""

    train_dates: list[date]
    eval_dates: list[date]
    n_train: int
    n_eval: int
    positives_eval: int
    health_auc: float
    churn_auc: float
    churn_brier: float
    churn_rate_by_tier: dict[str, float]
    rows_by_tier: dict[str, int]
    tiers_monotonic: bool
    frame: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)

    def metadata(self) -> dict[str, Any]:
        return {
            "holdout_health_auc": round(self.health_auc, 4),
            "holdout_churn_auc": round(self.churn_auc, 4),
            "holdout_churn_brier": round(self.churn_brier, 4),
            "holdout_churn_rate_by_tier": {
                k: round(v, 4) for k, v in self.churn_rate_by_tier.items()
            },
            "holdout_rows_by_tier": self.rows_by_tier,
            "holdout_tiers_monotonic": self.tiers_monotonic,
            "train_dates": [self.train_dates[0].isoformat(), self.train_dates[-1].isoformat()],
            "eval_dates": [self.eval_dates[0].isoformat(), self.eval_dates[-1].isoformat()],
            "n_train": self.n_train,
            "n_eval": self.n_eval,
            "positives_eval": self.positives_eval,
        }


# ------------------------------------------------------------------------------ data


def feature_names(model: ScoringModel) -> list[str]:
    cfg = model.churn_model
    feats = list(cfg.features) or list(NUMERIC_SIGNALS)
    if cfg.include_scores:
        feats += [s for s in SCORE_FEATURES] + points_columns(model)
    return feats


def labelled_dates(con: duckdb.DuckDBPyConnection, model: ScoringModel) -> list[date]:
    """Scored days whose churn horizon is fully observed, after the signal warm-up, sampled
    every ``sample_every_days`` counting back from the last one."""
    if not (table_exists(con, ACCOUNT_SCORES) and table_exists(con, ACCOUNT_SIGNALS)):
        return []
    cfg = model.churn_model
    last_observed = con.execute(f"SELECT max(as_of_date) FROM {ACCOUNT_SIGNALS}").fetchone()[0]
    first_event = (
        con.execute(f"SELECT min(event_date) FROM {PRODUCT_EVENTS.qualified}").fetchone()[0]
        if table_exists(con, PRODUCT_EVENTS.qualified)
        else None
    )
    days = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT as_of_date FROM {ACCOUNT_SCORES} ORDER BY 1"
        ).fetchall()
    ]
    if last_observed is None or not days:
        return []
    start = (first_event or days[0]) + timedelta(days=WARMUP_DAYS)
    limit = last_observed - timedelta(days=cfg.horizon_days)
    usable = [d for d in days if start <= d <= limit]
    if not usable:
        return []
    step = cfg.sample_every_days
    return sorted(d for d in usable if (usable[-1] - d).days % step == 0)


def training_frame(
    con: duckdb.DuckDBPyConnection, model: ScoringModel, dates: list[date]
) -> pd.DataFrame:
    """Signals + scores + label for every customer account on each of ``dates``."""
    create_outcome_tables(con)
    sql = (SQL_DIR / "churn_training.sql").read_text()
    return con.execute(sql, {"dates": dates, "horizon": model.churn_model.horizon_days}).df()


def _matrix(frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    cols = []
    for f in features:
        if f in frame:
            cols.append(
                pd.to_numeric(frame[f], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            )
        else:
            cols.append(np.full(len(frame), np.nan))
    return np.column_stack(cols) if cols else np.zeros((len(frame), 0))


def _estimator(model: ScoringModel, groups: np.ndarray, y: np.ndarray) -> tuple[Any, list]:
    cfg = model.churn_model
    if cfg.estimator == "logistic":
        base: Any = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=0.3, max_iter=2000),
        )
    else:
        base = HistGradientBoostingClassifier(
            max_depth=3,
            learning_rate=0.05,
            max_iter=250,
            min_samples_leaf=40,
            l2_regularization=1.0,
            random_state=RANDOM_STATE,
        )
    n_splits = int(min(3, len(np.unique(groups))))
    splits = list(GroupKFold(n_splits=n_splits).split(np.zeros(len(y)), y, groups))
    # a fold without both classes cannot be calibrated: fall back to fewer, valid folds
    splits = [(tr, te) for tr, te in splits if len(np.unique(y[tr])) == 2]
    # ensemble=False: one model fitted on every row, calibrated on out-of-fold predictions;
    # predicting is then one model's work, not one per fold (3x faster on a long backfill)
    return (
        CalibratedClassifierCV(base, method=cfg.calibration, cv=splits, ensemble=False),
        splits,
    )


def fit_churn(model: ScoringModel, frame: pd.DataFrame) -> tuple[Any, list[str], dict[str, float]]:
    """Fit the calibrated churn model on ``frame`` (rows from ``training_frame``)."""
    y = frame["churned"].to_numpy(dtype=int)
    if len(np.unique(y)) < 2 or y.sum() < 5:
        raise ChurnModelError(
            f"churn model: need churned and retained accounts to learn from, got {int(y.sum())} "
            f"churned of {len(y)} labelled account-days"
        )
    features = feature_names(model)
    X = _matrix(frame, features)
    groups = frame["account_id"].astype(str).to_numpy()
    est, splits = _estimator(model, groups, y)
    if not splits:
        raise ChurnModelError("churn model: too few churned accounts for calibration folds")
    with threadpool_limits(limits=OPENMP_THREADS, user_api="openmp"):
        est.fit(X, y)
    medians = {
        f: float(np.nanmedian(X[:, i])) if np.isfinite(X[:, i]).any() else 0.0
        for i, f in enumerate(features)
    }
    return est, features, medians


# ------------------------------------------------------------------------------ evaluation


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    ok = ~np.isnan(score)
    if len(np.unique(y[ok])) < 2:
        return float("nan")
    return float(roc_auc_score(y[ok], score[ok]))


def evaluate_holdout(con: duckdb.DuckDBPyConnection, model: ScoringModel) -> HoldoutEvaluation:
    """Fit on the earlier labelled days, evaluate health score and churn model on the later ones.

    Both AUCs are for 90-day churn on the same held-out rows; churn rate by tier uses the tiers
    stored on those days (after hysteresis).
    """
    dates = labelled_dates(con, model)
    if len(dates) < 2:
        raise ChurnModelError(
            f"churn model: {len(dates)} labelled as-of day(s); need scores for at least "
            f"{model.churn_model.horizon_days + WARMUP_DAYS + 2} days of history"
        )
    n_eval = max(1, round(len(dates) * model.churn_model.holdout_fraction))
    train_dates, eval_dates = dates[:-n_eval], dates[-n_eval:]
    if not train_dates:
        train_dates, eval_dates = dates[:1], dates[1:]
    train = training_frame(con, model, train_dates)
    test = training_frame(con, model, eval_dates)
    est, features, _ = fit_churn(model, train)
    y = test["churned"].to_numpy(dtype=int)
    proba = _predict(est, _matrix(test, features))
    health = test["health_score"].to_numpy(dtype=float, na_value=np.nan)
    tiers = model.tiers.names
    rates: dict[str, float] = {}
    counts: dict[str, int] = {}
    for t in tiers:
        mask = (test["tier"] == t).to_numpy()
        counts[t] = int(mask.sum())
        if mask.any():
            rates[t] = float(y[mask].mean())
    ordered = [rates[t] for t in tiers if t in rates]
    monotonic = all(b > a for a, b in zip(ordered, ordered[1:], strict=False)) and len(
        ordered
    ) == len(tiers)
    test = test.assign(churn_probability_holdout=proba)
    return HoldoutEvaluation(
        train_dates=train_dates,
        eval_dates=eval_dates,
        n_train=len(train),
        n_eval=len(test),
        positives_eval=int(y.sum()),
        health_auc=_auc(y, -health),
        churn_auc=_auc(y, proba),
        churn_brier=float(brier_score_loss(y, proba)) if len(y) else float("nan"),
        churn_rate_by_tier=rates,
        rows_by_tier=counts,
        tiers_monotonic=monotonic,
        frame=test,
    )


# ------------------------------------------------------------------------------ artefacts


def _data_hash(frame: pd.DataFrame, features: list[str]) -> str:
    cols = ["account_id", "as_of_date", "churned", *[f for f in features if f in frame]]
    hashed = pd.util.hash_pandas_object(frame[cols], index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def train_churn_model(
    con: duckdb.DuckDBPyConnection,
    model: ScoringModel,
    directory: str | Path | None = None,
    evaluate: bool = True,
) -> ChurnArtifact:
    """Train the churn model on every labelled day and save the versioned artefact.

    With ``evaluate`` the time-split hold-out metrics (``evaluate_holdout``) go into the
    metadata first. Returns the artefact; ``artifact.metadata`` is ready for asset metadata
    (version, rows, positives, dates, AUCs, path). Same data + same model file = same version
    (the file is then reused, not rewritten).
    """
    dates = labelled_dates(con, model)
    if not dates:
        raise ChurnModelError(
            "churn model: no labelled as-of days yet (scores must cover the churn horizon "
            f"of {model.churn_model.horizon_days} days after a {WARMUP_DAYS}-day warm-up)"
        )
    frame = training_frame(con, model, dates)
    features = feature_names(model)
    version = hashlib.sha256(
        ":".join(
            (_data_hash(frame, features), model.content_hash, model.churn_model.model_dump_json())
        ).encode()
    ).hexdigest()[:12]
    target_dir = Path(directory) if directory is not None else artifact_dir()
    path = target_dir / f"churn-{model.name}-{version}.joblib"
    if path.exists():
        cached = load_artifact(path)
        if cached.model_hash == model.content_hash:
            return cached
    meta: dict[str, Any] = {}
    if evaluate:
        try:
            meta.update(evaluate_holdout(con, model).metadata())
        except ChurnModelError as exc:
            meta["holdout"] = str(exc)
    est, features, medians = fit_churn(model, frame)
    meta.update(
        {
            "version": version,
            "model": model.label,
            "model_hash": model.content_hash,
            "estimator": model.churn_model.estimator,
            "calibration": model.churn_model.calibration,
            "horizon_days": model.churn_model.horizon_days,
            "rows": len(frame),
            "positives": int(frame["churned"].sum()),
            "accounts": int(frame["account_id"].nunique()),
            "first_date": dates[0].isoformat(),
            "last_date": dates[-1].isoformat(),
            "features": len(features),
            "trained_at": datetime.now().replace(microsecond=0).isoformat(),
            "path": str(path),
        }
    )
    artifact = ChurnArtifact(
        version, model.name, model.content_hash, features, est, medians, meta, path
    )
    target_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(artifact, path)
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2, default=str))
    return artifact


def load_artifact(path: str | Path) -> ChurnArtifact:
    artifact = joblib.load(path)
    if not isinstance(artifact, ChurnArtifact):
        raise ChurnModelError(f"{path} is not a churn model artefact")
    artifact.path = Path(path)
    return artifact


def latest_artifact(
    model: ScoringModel, directory: str | Path | None = None
) -> ChurnArtifact | None:
    """The newest artefact trained for this exact model file, or None (then: train first)."""
    target = Path(directory) if directory is not None else artifact_dir()
    if not target.is_dir():
        return None
    for meta_path in sorted(
        target.glob(f"churn-{model.name}-*.json"), key=lambda p: p.stat().st_mtime, reverse=True
    ):
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue
        if (
            meta.get("model_hash") == model.content_hash
            and meta_path.with_suffix(".joblib").exists()
        ):
            return load_artifact(meta_path.with_suffix(".joblib"))
    return None


def needs_training(model: ScoringModel, directory: str | Path | None = None) -> bool:
    """True when no artefact exists for this model file (e.g. the YAML changed)."""
    return latest_artifact(model, directory) is None


# ------------------------------------------------------------------------------ prediction


def predict_churn(
    artifact: ChurnArtifact, signals: pd.DataFrame, scores: pd.DataFrame
) -> np.ndarray:
    """Calibrated churn probability per row (``signals`` and ``scores`` row-aligned)."""
    frame = _joined(signals, scores)
    return _predict(artifact.estimator, _matrix(frame, artifact.features))


def _predict(estimator: Any, X: np.ndarray) -> np.ndarray:
    with threadpool_limits(limits=OPENMP_THREADS, user_api="openmp"):
        return estimator.predict_proba(X)[:, 1]


def _joined(signals: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    extra = [c for c in scores.columns if c in SCORE_FEATURES or c.startswith(POINTS_PREFIX)]
    return pd.concat([signals.reset_index(drop=True), scores[extra].reset_index(drop=True)], axis=1)


def churn_drivers(
    artifact: ChurnArtifact, signals: pd.DataFrame, scores: pd.DataFrame, top: int = 3
) -> list[list[tuple[str, float]]]:
    """Top drivers per row: the features whose value, replaced by the typical (median)
    account's, would lower the churn probability the most; with that change in probability."""
    frame = _joined(signals, scores)
    X = _matrix(frame, artifact.features)
    base = _predict(artifact.estimator, X)
    effects = np.zeros_like(X)
    for j, f in enumerate(artifact.features):
        Xj = X.copy()
        Xj[:, j] = artifact.medians.get(f, np.nan)
        effects[:, j] = base - _predict(artifact.estimator, Xj)
    out = []
    for i in range(len(X)):
        order = np.argsort(-effects[i])[:top]
        out.append(
            [(artifact.features[j], float(effects[i, j])) for j in order if effects[i, j] > 0]
        )
    return out


ROWS_PER_CHUNK = 500_000  # score rows per query / UPDATE when filling probabilities


def apply_churn_model(
    con: duckdb.DuckDBPyConnection,
    artifact: ChurnArtifact,
    dates: list[date] | None = None,
) -> int:
    """Fill ``churn_probability`` of already-scored days with ``artifact`` (all days if None).

    Used after (re)training, since the first scores of a history are written before any
    model exists. Returns the number of rows updated.
    """
    if dates is None:
        dates = [
            r[0]
            for r in con.execute(f"SELECT DISTINCT as_of_date FROM {ACCOUNT_SCORES}").fetchall()
        ]
    updated = 0
    ordered = sorted(dates)
    if not ordered:
        return 0
    # several days per query and per UPDATE (a per-day loop cost 0.1 s a day in the demo), in
    # chunks of about ROWS_PER_CHUNK rows so a long backfill at 100k accounts stays bounded
    per_day = con.execute(
        f"SELECT count(*) FROM {ACCOUNT_SCORES} WHERE as_of_date = ?", [ordered[-1]]
    ).fetchone()[0]
    step = max(1, ROWS_PER_CHUNK // max(1, int(per_day)))
    for i in range(0, len(ordered), step):
        chunk = ordered[i : i + step]
        days = "(SELECT unnest(?::DATE[]))"
        sc = con.execute(
            f"SELECT * EXCLUDE (reason_codes) FROM {ACCOUNT_SCORES} "
            f"WHERE as_of_date IN {days} ORDER BY as_of_date, account_id",
            [chunk],
        ).df()
        if sc.empty:
            continue
        sig = con.execute(
            f"SELECT * FROM {ACCOUNT_SIGNALS} WHERE as_of_date IN {days}", [chunk]
        ).df()
        sig = sc[["account_id", "as_of_date"]].merge(
            sig, on=["account_id", "as_of_date"], how="left"
        )
        proba = np.round(predict_churn(artifact, sig, sc), 4)
        upd = pd.DataFrame(
            {"account_id": sc["account_id"], "as_of_date": sc["as_of_date"], "p": proba}
        )
        con.execute("SELECT 1").fetchall()
        con.register("_churn_upd", upd)
        try:
            con.execute(
                f"UPDATE {ACCOUNT_SCORES} s SET churn_probability = u.p FROM _churn_upd u "
                "WHERE s.account_id = u.account_id AND s.as_of_date = u.as_of_date "
                f"AND s.as_of_date IN {days}",
                [chunk],
            )
        finally:
            con.unregister("_churn_upd")
        updated += len(upd)
    return updated
