"""Predictive churn: probability that an account churns within the next 90 days, out of time.

Trained on the warehouse's own history: features are the signals (and scores) on as-of day D,
the label is "every subscription ended within (D, D + horizon]" (``scoring/outcomes.py``,
billing joined through ``staging.identity_map``).

**Walk-forward, never in-sample.** The probability on day T comes only from a model trained on
as-of days D whose label window had closed by T (D + horizon <= T), with the outcomes as they
were known on T. Models are retrained on a cadence (``churn_model.retrain_every_days``, counted
from a fixed anchor so every run retrains on the same days); the model used on T is the one of
the latest retraining day on or before T. Until that many churn events have matured
(``churn_model.min_churn_events``) there is no model: the probability is NULL and the score row
says why (``churn_note``). Every score row records the churn-model version that produced its
probability (``churn_model_version``), so validation can use these out-of-time predictions only.

Inside a training run, calibration folds are grouped by account, and the hold-out evaluation
(``evaluate_holdout``) is split by time *and* by account: later days of accounts the model never
saw, so one churn event is never on both sides.

Feature columns that are entirely empty or constant in the training rows (no NPS in this CRM,
no product tracking) are dropped before fitting and listed in the artefact's metadata.

Artefacts (estimator + metadata) are saved under ``<warehouse dir>/models/`` (or
``$ACCT_MODELS_DIR``) as ``churn-<model name>-<version>.joblib`` with a ``.json`` beside it;
the version is ``<retraining day>.<model-file hash>``, so the same day and model file give the
same version and the file is reused.
"""

from __future__ import annotations

import json
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
from acct_pipeline.scoring.score_columns import POINTS_PREFIX, SCORE_FEATURES, points_columns
from acct_pipeline.scoring.signals import NUMERIC_SIGNALS, SIGNAL_WARMUP_DAYS, SQL_DIR
from acct_pipeline.settings import CoreSettings, get
from acct_pipeline.warehouse import (
    ACCOUNT_SCORES,
    ACCOUNT_SIGNALS,
    PRODUCT_EVENTS,
    table_exists,
    warehouse_path,
)

MODELS_DIR_ENV = "ACCT_MODELS_DIR"
# Windows of the usage signals are 35 days long: earlier days would learn from truncated windows.
WARMUP_DAYS = SIGNAL_WARMUP_DAYS
RANDOM_STATE = 0
# Gradient boosting's OpenMP threads oversubscribe a busy machine badly (10x slower on 2 shared
# cores): one thread is fast enough for account-day tables.
OPENMP_THREADS = 1


class ChurnModelError(RuntimeError):
    """Not enough labelled history to train or evaluate the churn model."""


def artifact_dir() -> Path:
    """``$ACCT_MODELS_DIR`` or ``models/`` next to the warehouse file."""
    configured = get(CoreSettings, "models_dir")
    return Path(configured) if configured else warehouse_path().parent / "models"


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
class ChurnForDay:
    """What the walk-forward churn model says about one scored day: an artefact, or why not."""

    artifact: ChurnArtifact | None
    note: str | None  # the reason there is no probability (None when there is a model)


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


def retrain_day(day: date, every_days: int) -> date:
    """The retraining day a day's churn model comes from: the latest day on or before ``day``
    whose ordinal is a multiple of ``every_days`` (weekly: Sundays)."""
    ordinal = day.toordinal()
    return date.fromordinal(ordinal - ordinal % every_days)


def labelled_dates(
    con: duckdb.DuckDBPyConnection, model: ScoringModel, known_by: date | None = None
) -> list[date]:
    """Scored days whose churn horizon had closed by ``known_by`` (default: the last signal
    day), after the signal warm-up, sampled every ``sample_every_days`` (on fixed calendar
    days, so a later retraining sees the same days plus new ones)."""
    if not (table_exists(con, ACCOUNT_SCORES) and table_exists(con, ACCOUNT_SIGNALS)):
        return []
    cfg = model.churn_model
    if known_by is None:
        known_by = con.execute(f"SELECT max(as_of_date) FROM {ACCOUNT_SIGNALS}").fetchone()[0]
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
    if known_by is None or not days:
        return []
    start = (first_event or days[0]) + timedelta(days=WARMUP_DAYS)
    limit = known_by - timedelta(days=cfg.horizon_days)
    step = cfg.sample_every_days
    return [d for d in days if start <= d <= limit and d.toordinal() % step == 0]


def training_frame(
    con: duckdb.DuckDBPyConnection,
    model: ScoringModel,
    dates: list[date],
    known_by: date | None = None,
) -> pd.DataFrame:
    """Signals + scores + label for every customer account on each of ``dates``, with the
    outcomes as known at the end of ``known_by`` (None: everything stored)."""
    create_outcome_tables(con, known_by=known_by)
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


def usable_features(X: np.ndarray, features: list[str]) -> tuple[list[int], dict[str, str]]:
    """Columns worth learning from, and the dropped ones with the reason: a column that is
    empty (every value missing) or constant in the training rows says nothing, and gradient
    boosting cannot bin an all-empty column (docs/traps.md, "Boosting and empty columns")."""
    keep: list[int] = []
    dropped: dict[str, str] = {}
    for j, f in enumerate(features):
        col = X[:, j]
        known = col[np.isfinite(col)]
        if known.size == 0:
            dropped[f] = "no data"
        elif np.all(known == known[0]) and known.size == col.size:
            dropped[f] = f"constant ({known[0]:g})"
        else:
            keep.append(j)
    return keep, dropped


def fit_churn(
    model: ScoringModel, frame: pd.DataFrame
) -> tuple[Any, list[str], dict[str, float], dict[str, str]]:
    """Fit the calibrated churn model on ``frame`` (rows from ``training_frame``).

    Returns the estimator, the features it uses, their medians (for driver explanations) and
    the configured features that were dropped, with the reason."""
    y = frame["churned"].to_numpy(dtype=int)
    if len(np.unique(y)) < 2 or y.sum() < 5:
        raise ChurnModelError(
            f"churn model: need churned and retained accounts to learn from, got {int(y.sum())} "
            f"churned of {len(y)} labelled account-days"
        )
    configured = feature_names(model)
    X_all = _matrix(frame, configured)
    keep, dropped = usable_features(X_all, configured)
    if not keep:
        raise ChurnModelError("churn model: every feature is empty or constant in the history")
    features = [configured[j] for j in keep]
    X = X_all[:, keep]
    groups = frame["account_id"].astype(str).to_numpy()
    est, splits = _estimator(model, groups, y)
    if not splits:
        raise ChurnModelError("churn model: too few churned accounts for calibration folds")
    with threadpool_limits(limits=OPENMP_THREADS, user_api="openmp"):
        est.fit(X, y)
    medians = {f: float(np.nanmedian(X[:, i])) for i, f in enumerate(features)}
    return est, features, medians, dropped


def churn_events(frame: pd.DataFrame) -> int:
    """Distinct accounts with a churn label in the training rows (matured churn events)."""
    if frame.empty:
        return 0
    return int(frame.loc[frame["churned"] == 1, "account_id"].nunique())


# ------------------------------------------------------------------------------ evaluation


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    ok = ~np.isnan(score)
    if len(np.unique(y[ok])) < 2:
        return float("nan")
    return float(roc_auc_score(y[ok], score[ok]))


HOLDOUT_ACCOUNT_SHARE = 0.3  # accounts kept out of training for the hold-out evaluation


def holdout_accounts(accounts: pd.Series, share: float = HOLDOUT_ACCOUNT_SHARE) -> np.ndarray:
    """True for the accounts of the evaluation group: a fixed hash of the id, so the same
    account is always on the same side."""
    hashed = pd.util.hash_pandas_object(accounts.astype(str), index=False).to_numpy()
    return (hashed % 1000) < share * 1000


def evaluate_holdout(
    con: duckdb.DuckDBPyConnection, model: ScoringModel, known_by: date | None = None
) -> HoldoutEvaluation:
    """Fit on the earlier labelled days of most accounts, evaluate the health score and the
    churn model on the later days of the other accounts (split by time and by account, so the
    same churn event is never on both sides).

    Both AUCs are for churn within the horizon on the same held-out rows; churn rate by tier
    uses the tiers stored on those days (after hysteresis).
    """
    dates = labelled_dates(con, model, known_by)
    if len(dates) < 2:
        raise ChurnModelError(
            f"churn model: {len(dates)} labelled as-of day(s); need scores for at least "
            f"{model.churn_model.horizon_days + WARMUP_DAYS + 2} days of history"
        )
    n_eval = max(1, round(len(dates) * model.churn_model.holdout_fraction))
    train_dates, eval_dates = dates[:-n_eval], dates[-n_eval:]
    if not train_dates:
        train_dates, eval_dates = dates[:1], dates[1:]
    train = training_frame(con, model, train_dates, known_by)
    test = training_frame(con, model, eval_dates, known_by)
    train = train[~holdout_accounts(train["account_id"])]
    test = test[holdout_accounts(test["account_id"])].reset_index(drop=True)
    est, features, _, _ = fit_churn(model, train)
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


def artifact_version(model: ScoringModel, known_by: date) -> str:
    """``<retraining day>.<first 8 hex of the model file's hash>``: one model per day and file."""
    return f"{known_by.isoformat()}.{model.content_hash[:8] or 'memory'}"


def _artifact_path(directory: Path, model: ScoringModel, version: str) -> Path:
    return directory / f"churn-{model.name}-{version}.joblib"


def last_scored_day(con: duckdb.DuckDBPyConnection) -> date | None:
    if not table_exists(con, ACCOUNT_SCORES):
        return None
    return con.execute(f"SELECT max(as_of_date) FROM {ACCOUNT_SCORES}").fetchone()[0]


def train_churn_model(
    con: duckdb.DuckDBPyConnection,
    model: ScoringModel,
    directory: str | Path | None = None,
    evaluate: bool = True,
    known_by: date | None = None,
    reuse: bool = True,
) -> ChurnArtifact:
    """Train the churn model on every as-of day whose label window had closed by ``known_by``
    (default: the retraining day of the last scored day) and save the versioned artefact.

    With ``evaluate`` the hold-out metrics (split by time and account, ``evaluate_holdout``)
    go into the metadata first. Raises ``ChurnModelError`` when fewer than
    ``churn_model.min_churn_events`` churn events have matured. With ``reuse`` an artefact
    already saved for the same day and model file is returned as it is.
    """
    cfg = model.churn_model
    if known_by is None:
        last = last_scored_day(con)
        if last is None:
            raise ChurnModelError("churn model: nothing scored yet")
        known_by = retrain_day(last, cfg.retrain_every_days)
    version = artifact_version(model, known_by)
    target_dir = Path(directory) if directory is not None else artifact_dir()
    path = _artifact_path(target_dir, model, version)
    if reuse and path.exists():
        return load_artifact(path)
    dates = labelled_dates(con, model, known_by)
    if not dates:
        raise ChurnModelError(
            f"no churn model yet: by {known_by} no as-of day has a closed "
            f"{cfg.horizon_days}-day label window after the {WARMUP_DAYS}-day warm-up"
        )
    frame = training_frame(con, model, dates, known_by)
    events = churn_events(frame)
    if events < cfg.min_churn_events:
        raise ChurnModelError(
            f"no churn model yet: {events} churn event(s) had matured by {known_by}, "
            f"{cfg.min_churn_events} needed (churn_model.min_churn_events)"
        )
    meta: dict[str, Any] = {}
    if evaluate:
        try:
            meta.update(evaluate_holdout(con, model, known_by).metadata())
            meta["holdout_method"] = "later days of held-out accounts (split by time and account)"
        except ChurnModelError as exc:
            meta["holdout"] = str(exc)
    est, features, medians, dropped = fit_churn(model, frame)
    meta.update(
        {
            "version": version,
            "model": model.label,
            "model_hash": model.content_hash,
            "estimator": cfg.estimator,
            "calibration": cfg.calibration,
            "horizon_days": cfg.horizon_days,
            "trained_for": known_by.isoformat(),
            "labels_known_by": known_by.isoformat(),
            "rows": len(frame),
            "positives": int(frame["churned"].sum()),
            "churn_events": events,
            "accounts": int(frame["account_id"].nunique()),
            "first_date": dates[0].isoformat(),
            "last_date": dates[-1].isoformat(),
            "features": len(features),
            "dropped_features": dropped,
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


def artifact_by_version(
    model: ScoringModel, version: str, directory: str | Path | None = None
) -> ChurnArtifact | None:
    """The saved artefact of ``version`` for this model name, or None."""
    target = Path(directory) if directory is not None else artifact_dir()
    path = _artifact_path(target, model, version)
    return load_artifact(path) if path.exists() else None


def latest_artifact(
    model: ScoringModel, directory: str | Path | None = None
) -> ChurnArtifact | None:
    """The artefact of this exact model file with the latest retraining day, or None."""
    target = Path(directory) if directory is not None else artifact_dir()
    if not target.is_dir():
        return None
    best: tuple[str, Path] | None = None
    for meta_path in target.glob(f"churn-{model.name}-*.json"):
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue
        if meta.get("model_hash") != model.content_hash:
            continue
        if not meta_path.with_suffix(".joblib").exists():
            continue
        key = str(meta.get("trained_for", ""))
        if best is None or key > best[0]:
            best = (key, meta_path.with_suffix(".joblib"))
    return load_artifact(best[1]) if best else None


def needs_training(model: ScoringModel, directory: str | Path | None = None) -> bool:
    """True when no artefact exists for this model file (e.g. the YAML changed)."""
    return latest_artifact(model, directory) is None


class WalkForwardChurn:
    """The churn model for each scored day, trained only on what was known that day.

    ``for_day(con, T)`` returns the artefact of T's retraining day (training it on first use,
    then reusing the saved file), or no artefact and the reason. Days of one retraining period
    share one model; results are cached for the life of the object (one run).
    """

    def __init__(
        self, model: ScoringModel, directory: str | Path | None = None, evaluate: bool = False
    ) -> None:
        self.model = model
        self.directory = Path(directory) if directory is not None else artifact_dir()
        self.evaluate = evaluate
        self._cache: dict[date, ChurnForDay] = {}
        self.trained: list[str] = []

    def for_day(self, con: duckdb.DuckDBPyConnection, day: date) -> ChurnForDay:
        known_by = retrain_day(day, self.model.churn_model.retrain_every_days)
        if known_by not in self._cache:
            path = _artifact_path(
                self.directory, self.model, artifact_version(self.model, known_by)
            )
            existed = path.exists()
            try:
                artifact = train_churn_model(
                    con, self.model, self.directory, evaluate=self.evaluate, known_by=known_by
                )
                if not existed:
                    self.trained.append(artifact.version)
                self._cache[known_by] = ChurnForDay(artifact, None)
            except ChurnModelError as exc:
                self._cache[known_by] = ChurnForDay(None, str(exc).removeprefix("churn model: "))
        return self._cache[known_by]

    def summary(self) -> dict[str, Any]:
        """For asset metadata: the versions used, the ones trained in this run, the reasons."""
        used = sorted({c.artifact.version for c in self._cache.values() if c.artifact})
        notes = sorted({c.note for c in self._cache.values() if c.note})
        out: dict[str, Any] = {"versions_used": used, "trained_now": list(self.trained)}
        if notes:
            out["no_model"] = notes
        if used:
            latest = max(
                (c.artifact for c in self._cache.values() if c.artifact),
                key=lambda a: a.metadata.get("trained_for", ""),
            )
            out["latest"] = {k: v for k, v in latest.metadata.items() if k != "path"}
        return out


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


# Rows per predict call when measuring drivers: one call for many features keeps the per-call
# overhead down; the cap keeps the stacked matrix small on very large days.
DRIVER_BATCH_ROWS = 200_000
# Drivers smaller than half a percentage point are not told (explain rounds to whole points). An
# account whose probability is below that has none, and is not measured: most accounts, most days.
MIN_DRIVER_EFFECT = 0.005


@dataclass(frozen=True)
class ChurnDriver:
    """One feature that raises an account's churn probability above a typical account's."""

    feature: str
    value: float  # the account's value
    typical: float  # the training rows' median, the value it is compared with
    effect: float  # how much lower the probability would be with the typical value (0..1)


def churn_drivers(
    artifact: ChurnArtifact, signals: pd.DataFrame, scores: pd.DataFrame, top: int = 3
) -> list[list[ChurnDriver]]:
    """Top drivers per row: the features whose value, replaced by the typical (median)
    account's, would lower the churn probability the most; with that change in probability
    (at least ``MIN_DRIVER_EFFECT``).

    Each feature is measured alone, so the effects overlap and do not add up to the probability.
    """
    frame = _joined(signals, scores)
    X = _matrix(frame, artifact.features)
    n, k = X.shape
    if n == 0 or k == 0:
        return [[] for _ in range(n)]
    base = _predict(artifact.estimator, X)
    typical = np.array([artifact.medians.get(f, np.nan) for f in artifact.features], dtype=float)
    # a row whose value already is the typical one is unchanged by the swap: its effect is 0,
    # so only the other rows are predicted (counts and flags sit on their median a lot)
    same = np.equal(X, typical) | (np.isnan(X) & np.isnan(typical))
    same[base < MIN_DRIVER_EFFECT] = True  # a swap lowers it by at most all of it
    pending = [(j, np.flatnonzero(~same[:, j])) for j in range(k)]
    pending = [(j, r) for j, r in pending if len(r)]
    effects = np.zeros_like(X)
    while pending:  # several features per predict call, up to DRIVER_BATCH_ROWS rows
        chunk, size = [], 0
        while pending and (not chunk or size + len(pending[0][1]) <= DRIVER_BATCH_ROWS):
            chunk.append(pending.pop(0))
            size += len(chunk[-1][1])
        stacked = np.concatenate([X[r] for _, r in chunk])
        ends = np.cumsum([len(r) for _, r in chunk])
        for (j, r), end in zip(chunk, ends, strict=True):
            stacked[end - len(r) : end, j] = typical[j]
        proba = _predict(artifact.estimator, stacked)
        for (j, r), end in zip(chunk, ends, strict=True):
            effects[r, j] = base[r] - proba[end - len(r) : end]
    out = []
    for i in range(n):
        order = np.argsort(-effects[i], kind="stable")[:top]
        out.append(
            [
                ChurnDriver(
                    feature=artifact.features[j],
                    value=float(X[i, j]),
                    typical=float(typical[j]),
                    effect=float(effects[i, j]),
                )
                for j in order
                if effects[i, j] >= MIN_DRIVER_EFFECT
            ]
        )
    return out
