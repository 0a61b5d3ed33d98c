"""Fit the health model to the warehouse's own outcomes: ``acct-pipeline fit-model``.

The candidate is the current model with other weights (and, with ``fit_bands``, other tier
cut-offs), in the same YAML schema, so it stays explainable: measures, rules, reasons, knock-outs
and playbooks are the current model's.

How it is fitted:

1. **Rows.** Every customer account (started, not churned yet) on sampled as-of days
   (``churn_model.sample_every_days``, after the signal warm-up), with the label "churned within
   ``churn_model.horizon_days``" from billing outcomes (``churn.training_frame``).
2. **Split by time and by account.** Training: the earlier labelled days (their horizon closed
   inside the stored history; the first ``1 - holdout_fraction`` of them) of the accounts outside
   the held-out group (``churn.holdout_accounts``, a fixed hash). Evaluation: every sampled day
   after the last training day of the held-out accounts only — accounts the fit never saw, on
   later days. Days whose horizon runs past the history count "not churned yet" (the censored
   share is reported), as in the validation.
3. **Features** are the measures' points (the model's own rules, 0..100, after the missing
   policy; still-missing points take the training mean). A score is a weighted mean of points,
   so a logistic regression of "retained" on the points, with **non-negative**, L2-regularised
   coefficients, gives each measure's share of the score directly.
4. **Directions.** Each measure's declared direction defines its points (higher = healthier).
   When the data say the opposite — the measure's points alone rank churners *above* retained
   accounts (AUC < 0.5 - ``DIRECTION_MARGIN``) and an unconstrained fit gives a negative
   coefficient — the measure is flagged (weight 0 and a comment), never silently flipped.
5. **Readable weights.** Component weights are whole numbers summing to 100 (the share of the
   score their measures carry); measure weights are whole numbers 1..10 within their component;
   a measure carrying under ``NO_SIGNAL_SHARE`` of the fitted weight, or whose points alone do
   not separate churners (AUC within ``DIRECTION_MARGIN`` of 0.5), gets weight 0 with a comment.
   Segment overrides of the health weights are removed (the fit is one set of weights for the
   whole book).
6. **Bands** (``fit_bands``): cut-offs on the candidate score, chosen on the training rows so that
   churn rises strictly from the best tier to the worst, every tier holds between
   ``MIN_TIER_SHARE`` and ``MAX_TIER_SHARE`` of the rows, and the tiers separate churn rates most
   (largest between-tier variance).

The evaluation (``Evaluation``) scores the held-out rows with the current and the candidate model
the same way (the model's rules, knock-outs and bands; tiers without hysteresis, which needs the
day-to-day history: the backtest that follows has it). Pure functions over frames; the command
(``cli``) reads the warehouse and runs the backtest.
"""

from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import yaml
from scipy.optimize import minimize
from scipy.stats import rankdata

from acct_pipeline.scoring.lifecycle import lifecycle_status
from acct_pipeline.scoring.model import HEALTH, Measure, ScoringModel, parse_model
from acct_pipeline.scoring.rules import apply_missing, evaluate_model, rule_points

ALPHA = 0.01  # L2 penalty on the coefficients (points scaled to 0..1)
NO_SIGNAL_SHARE = 0.02  # a measure with less of the fitted weight gets weight 0
DIRECTION_MARGIN = 0.02  # univariate AUC below 0.5 - margin (with a negative fit) flags a measure
MIN_TIER_SHARE = 0.05
MAX_TIER_SHARE = 0.50
MAX_MEASURE_WEIGHT = 10


class FitError(RuntimeError):
    """The model cannot be fitted (too little history or too few churn events)."""


# ------------------------------------------------------------------------------ rows


@dataclass
class FitRows:
    train: pd.DataFrame
    test: pd.DataFrame
    train_days: list[date]
    eval_days: list[date]
    last_day: date
    horizon_days: int
    holdout_accounts: list[str]


def fit_rows(
    con: duckdb.DuckDBPyConnection,
    model: ScoringModel,
    date_from: date | None = None,
    date_to: date | None = None,
) -> FitRows:
    """The training and evaluation rows (split by time and account) from the warehouse."""
    from acct_pipeline.scoring.churn import holdout_accounts, labelled_dates, training_frame
    from acct_pipeline.warehouse import ACCOUNT_SIGNALS

    cfg = model.churn_model
    last = con.execute(f"SELECT max(as_of_date) FROM {ACCOUNT_SIGNALS}").fetchone()[0]
    if last is None:
        raise FitError("fit-model: no signals in the warehouse; run the pipeline first")
    to = min(date_to or last, last)
    labelled = [d for d in labelled_dates(con, model) if (date_from is None or d >= date_from)]
    labelled = [d for d in labelled if d <= to]
    if len(labelled) < 2:
        raise FitError(
            f"fit-model: {len(labelled)} as-of day(s) with a closed {cfg.horizon_days}-day "
            "horizon in the window; the history is too short to fit on outcomes"
        )
    n_train = max(1, round(len(labelled) * (1 - cfg.holdout_fraction)))
    train_days = labelled[:n_train]
    step = cfg.sample_every_days
    later = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT as_of_date FROM {ACCOUNT_SIGNALS} WHERE as_of_date > ? "
            "AND as_of_date <= ? ORDER BY 1",
            [train_days[-1], to],
        ).fetchall()
    ]
    eval_days = [d for d in later if d.toordinal() % step == 0]
    if not eval_days:
        raise FitError("fit-model: no as-of day after the training window to judge the fit on")
    frame = training_frame(con, model, train_days + eval_days)
    frame["as_of_date"] = pd.to_datetime(frame["as_of_date"]).dt.date
    held = holdout_accounts(frame["account_id"])
    in_train = frame["as_of_date"].isin(train_days).to_numpy()
    train = frame[in_train & ~held].reset_index(drop=True)
    test = frame[~in_train & held].reset_index(drop=True)
    test["censored"] = [
        d + pd.Timedelta(days=cfg.horizon_days).to_pytimedelta() > last for d in test["as_of_date"]
    ]
    return FitRows(
        train=train,
        test=test,
        train_days=train_days,
        eval_days=eval_days,
        last_day=last,
        horizon_days=cfg.horizon_days,
        holdout_accounts=sorted(set(frame.loc[held, "account_id"].astype(str))),
    )


# ------------------------------------------------------------------------------ features


def health_measures(model: ScoringModel) -> list[tuple[str, Measure]]:
    """(component, measure) of the health score, in file order."""
    return [(c, m) for c, comp in model.health.components.items() for m in comp.measures]


def measure_points(model: ScoringModel, frame: pd.DataFrame) -> np.ndarray:
    """Points 0..1 (rule points / 100 after the missing policy; NaN where excluded)."""
    cols = []
    for _, m in health_measures(model):
        values = (
            pd.to_numeric(frame[m.signal], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            if m.signal in frame
            else np.full(len(frame), np.nan)
        )
        cols.append(apply_missing(m, rule_points(m, values)) / 100.0)
    return np.column_stack(cols)


def auc(y: np.ndarray, risk: np.ndarray) -> float | None:
    """ROC-AUC of ``risk`` for ``y`` (Mann-Whitney, ties averaged); None without both classes."""
    ok = ~np.isnan(risk)
    y, risk = y[ok], risk[ok]
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return None
    ranks = rankdata(risk)
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _logistic(X: np.ndarray, y: np.ndarray, positive: bool, alpha: float = ALPHA) -> np.ndarray:
    """Coefficients of P(retained) = sigmoid(b + X w), L2-penalised; ``positive``: w >= 0."""
    n, k = X.shape
    t = 1.0 - y  # retained

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        b, w = theta[0], theta[1:]
        z = b + X @ w
        p = 1.0 / (1.0 + np.exp(-z))
        ll = np.mean(np.logaddexp(0.0, z) - t * z) + alpha * float(w @ w)
        g = p - t
        return ll, np.concatenate([[g.mean()], X.T @ g / n + 2 * alpha * w])

    bounds = [(None, None)] + [(0.0, None) if positive else (None, None)] * k
    res = minimize(loss, np.zeros(k + 1), jac=True, method="L-BFGS-B", bounds=bounds)
    return res.x[1:]


# ------------------------------------------------------------------------------ fitting


@dataclass
class MeasureFit:
    component: str
    key: str
    signal: str
    direction: str
    share: float  # of the fitted weight (non-negative fit)
    weight: float  # readable weight written to the candidate
    univariate_auc: float | None  # of the points for "retained" (0.5 = no signal)
    free_coef: float  # unconstrained fit
    missing_share: float
    flag: str | None = None  # direction contradicted by the data
    note: str | None = None  # comment written above the measure


@dataclass
class Evaluation:
    """Out-of-time figures of one model on the evaluation rows."""

    model: str
    health_auc: float | None
    top_decile_lift: float | None
    churn_rate_by_tier: dict[str, float]
    tier_share: dict[str, float]
    churn_monotonic: bool
    n: int
    churned: int
    accounts: int
    censored_share: float
    date_from: str
    date_to: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "health_auc": self.health_auc,
            "top_decile_lift": self.top_decile_lift,
            "churn_rate_by_tier": self.churn_rate_by_tier,
            "tier_share": self.tier_share,
            "churn_monotonic": self.churn_monotonic,
            "basis": {
                "how": "out of time and by account: later as-of days of held-out accounts "
                "never used in fitting; tiers from the bands without hysteresis",
                "n": self.n,
                "churned": self.churned,
                "accounts": self.accounts,
                "censored_share": self.censored_share,
                "from": self.date_from,
                "to": self.date_to,
            },
        }


@dataclass
class FitResult:
    candidate: ScoringModel
    text: str  # the candidate YAML, with comments
    measures: list[MeasureFit]
    component_weights: dict[str, float]
    bands: list[tuple[str, float]]
    bands_fitted: bool
    current: Evaluation
    fitted: Evaluation
    rows: FitRows
    train_n: int
    train_churned: int
    train_accounts: int
    train_churned_accounts: int
    notes: list[str] = field(default_factory=list)


def _round_to_total(values: dict[str, float], total: int = 100) -> dict[str, int]:
    """Whole numbers proportional to ``values`` summing to ``total`` (largest remainder)."""
    s = sum(values.values())
    if s <= 0:
        return {k: 0 for k in values}
    raw = {k: v / s * total for k, v in values.items()}
    out = {k: int(np.floor(v)) for k, v in raw.items()}
    live = [k for k in raw if raw[k] > 0]
    for k in sorted(live, key=lambda k: raw[k] - out[k], reverse=True)[: total - sum(out.values())]:
        out[k] += 1
    return out


def _tiers(score: np.ndarray, bands: list[tuple[str, float]]) -> np.ndarray:
    out = np.full(len(score), None, dtype=object)
    free = ~np.isnan(score)
    for name, lo in bands:
        hit = free & (score >= lo)
        out[hit] = name
        free &= ~hit
    return out


def health_score(model: ScoringModel, frame: pd.DataFrame) -> np.ndarray:
    """The model's health score (rules, weights, segments, knock-outs) for each row."""
    sig = frame.assign(lifecycle_status=lifecycle_status(frame, model))
    results, _ = evaluate_model(model, sig)
    return results[HEALTH].score


def top_decile_lift(frame: pd.DataFrame, risk: np.ndarray, y: np.ndarray) -> float | None:
    """Churn rate of each day's riskiest tenth over the overall churn rate."""
    if y.mean() == 0:
        return None
    d = pd.DataFrame({"day": frame["as_of_date"].to_numpy(), "risk": risk, "y": y}).dropna()
    d["rank"] = d.groupby("day")["risk"].rank(ascending=False, method="first")
    d["size"] = d.groupby("day")["risk"].transform("size")
    top = d[d["rank"] <= np.ceil(d["size"] / 10)]
    return round(float(top["y"].mean() / y.mean()), 3)


def evaluate(model: ScoringModel, frame: pd.DataFrame) -> Evaluation:
    """AUC, top-decile lift, churn rate and share by tier of ``model`` on ``frame``'s rows."""
    y = frame["churned"].to_numpy(dtype=int)
    score = health_score(model, frame)
    bands = [(b.name, b.min) for b in model.tiers.bands]
    tiers = _tiers(score, bands)
    rates: dict[str, float] = {}
    shares: dict[str, float] = {}
    for name, _ in bands:
        mask = tiers == name
        shares[name] = round(float(mask.mean()), 4) if len(mask) else 0.0
        if mask.any():
            rates[name] = round(float(y[mask].mean()), 4)
    ordered = [rates.get(name) for name, _ in bands]
    mono = all(r is not None for r in ordered) and all(
        a < b for a, b in zip(ordered, ordered[1:], strict=False)
    )
    a = auc(y, 100.0 - score)
    return Evaluation(
        model=model.label,
        health_auc=None if a is None else round(a, 4),
        top_decile_lift=top_decile_lift(frame, 100.0 - score, y),
        churn_rate_by_tier=rates,
        tier_share=shares,
        churn_monotonic=bool(mono),
        n=len(frame),
        churned=int(y.sum()),
        accounts=int(frame["account_id"].nunique()),
        censored_share=round(float(frame["censored"].mean()), 4) if "censored" in frame else 0.0,
        date_from=str(min(frame["as_of_date"])) if len(frame) else "",
        date_to=str(max(frame["as_of_date"])) if len(frame) else "",
    )


def choose_bands(
    score: np.ndarray, y: np.ndarray, names: list[str]
) -> list[tuple[str, float]] | None:
    """Cut-offs (whole points) so churn rises strictly from the first tier to the last, each tier
    holds ``MIN_TIER_SHARE``..``MAX_TIER_SHARE`` of the rows, and the tiers separate churn rates
    most (largest between-tier variance). None when no cut-offs meet the rules."""
    ok = ~np.isnan(score)
    s, t = np.floor(score[ok]).astype(int).clip(0, 100), y[ok].astype(float)
    n = len(s)
    if n == 0:
        return None
    count = np.bincount(s, minlength=101).astype(float)
    churn = np.bincount(s, weights=t, minlength=101)
    # rows and churners with a score >= c, for c = 0..101
    n_ge = np.concatenate([np.cumsum(count[::-1])[::-1], [0.0]])
    c_ge = np.concatenate([np.cumsum(churn[::-1])[::-1], [0.0]])
    grid = sorted({int(np.percentile(s, q)) for q in np.arange(2, 99, 1.0)} - {0})
    base = t.mean()
    best: tuple[float, tuple[int, ...]] | None = None
    k = len(names) - 1
    for cuts in itertools.combinations(sorted(grid, reverse=True), k):
        edges = (101, *cuts, 0)
        sizes = [n_ge[lo] - n_ge[hi] for hi, lo in zip(edges, edges[1:], strict=False)]
        if min(sizes) < MIN_TIER_SHARE * n or max(sizes) > MAX_TIER_SHARE * n:
            continue
        events = [c_ge[lo] - c_ge[hi] for hi, lo in zip(edges, edges[1:], strict=False)]
        rates = [e / m for e, m in zip(events, sizes, strict=True)]
        if not all(a < b for a, b in zip(rates, rates[1:], strict=False)):
            continue
        spread = sum(m * (r - base) ** 2 for m, r in zip(sizes, rates, strict=True))
        if best is None or spread > best[0]:
            best = (spread, cuts)
    if best is None:
        return None
    return [(name, float(lo)) for name, lo in zip(names, (*best[1], 0), strict=True)]


def _bump(version: str) -> str:
    m = re.fullmatch(r"(\d+)\.(\d+)(?:\.(\d+))?", version.strip())
    if not m:
        return f"{version}-fit"
    return f"{m.group(1)}.{int(m.group(2)) + 1}.0"


def _pct_tiers(rates: dict[str, float]) -> str:
    return " / ".join(f"{t} {r:.1%}" for t, r in rates.items())


def fit_model(
    model: ScoringModel,
    base_doc: dict[str, Any],
    rows: FitRows,
    *,
    fit_bands: bool = False,
    today: date | None = None,
    version: str | None = None,
) -> FitResult:
    """Fit the health weights (and optionally the bands) on ``rows.train``; judge the current and
    the candidate model on ``rows.test``. ``base_doc`` is the current model's YAML document."""
    train, test = rows.train, rows.test
    y = train["churned"].to_numpy(dtype=int)
    if y.sum() < 5 or (1 - y).sum() < 5:
        raise FitError(
            f"fit-model: {int(y.sum())} churn events in {len(y):,} training rows; need at least 5"
        )
    X = measure_points(model, train)
    missing = np.isnan(X).mean(axis=0)
    col_means = np.array(
        [np.nanmean(X[:, j]) if (~np.isnan(X[:, j])).any() else 0.5 for j in range(X.shape[1])]
    )
    Xf = np.where(np.isnan(X), col_means, X)
    positive = _logistic(Xf, y, positive=True)
    free = _logistic(Xf, y, positive=False)
    total = positive.sum()
    if total <= 0:
        raise FitError("fit-model: no measure of the health model separates churners at all")

    fits: list[MeasureFit] = []
    for j, (comp, m) in enumerate(health_measures(model)):
        uni = auc(1 - y, X[:, j])  # points of retained accounts above churners' -> above 0.5
        fit = MeasureFit(
            component=comp,
            key=m.key,
            signal=m.signal,
            direction=m.direction,
            share=float(positive[j] / total),
            weight=0.0,
            univariate_auc=None if uni is None else round(uni, 3),
            free_coef=round(float(free[j]), 3),
            missing_share=round(float(missing[j]), 3),
        )
        if uni is not None and uni < 0.5 - DIRECTION_MARGIN and free[j] < 0:
            fit.flag = (
                f"the data contradict direction {m.direction}: its points alone rank churners "
                f"above retained accounts (AUC {uni:.2f} < 0.5) and an unconstrained fit gives it "
                f"a negative effect ({free[j]:+.2f}); weight 0 until someone checks the "
                "signal or the direction (not flipped automatically)"
            )
            fit.share = 0.0
        fits.append(fit)
    total = sum(f.share for f in fits) or 1.0
    for f in fits:
        f.share /= total
        if f.flag:
            f.note = f"FLAG: {f.flag}"
        elif f.share < NO_SIGNAL_SHARE or (
            f.univariate_auc is None or abs(f.univariate_auc - 0.5) < DIRECTION_MARGIN
        ):
            f.note = (
                f"no signal: {f.share:.1%} of the fitted weight (univariate AUC "
                f"{f.univariate_auc if f.univariate_auc is not None else 'n/a'}); weight 0"
            )
            f.share = 0.0
    comp_share: dict[str, float] = {}
    for f in fits:
        comp_share[f.component] = comp_share.get(f.component, 0.0) + f.share
    comp_weights = _round_to_total(comp_share)
    for comp in comp_share:
        mine = [f for f in fits if f.component == comp and f.share > 0]
        top = max((f.share for f in mine), default=0.0)
        for f in mine:
            f.weight = float(max(1, round(MAX_MEASURE_WEIGHT * f.share / top)))
        if comp_weights[comp] == 0:
            for f in mine:
                f.weight = 0.0
                f.note = f.note or "no weight left after rounding its component to 0"

    doc = copy.deepcopy(base_doc)
    health = doc["scores"][HEALTH]
    idx = 0
    for comp_name, comp in health["components"].items():
        comp["weight"] = comp_weights[comp_name]
        for measure in comp["measures"]:
            measure["weight"] = fits[idx].weight
            idx += 1
    kept_segments = []
    for seg in doc.get("segments") or []:
        seg.get("weights", {}).pop(HEALTH, None)
        if seg.get("weights"):
            kept_segments.append(seg)
    dropped_segments = [
        s["name"] for s in (base_doc.get("segments") or []) if HEALTH in s.get("weights", {})
    ]
    doc["segments"] = kept_segments

    # a first candidate (current bands) to score the training rows for the bands
    def build(d: dict[str, Any]) -> ScoringModel:
        return parse_model(d, source="candidate")

    cand_version = version or _bump(model.version)
    doc["version"] = cand_version
    doc["changelog"] = [
        {"version": cand_version, "date": (today or date.today()).isoformat(), "change": "..."},
        *doc.get("changelog", []),
    ]
    draft = build(doc)
    bands = [(b.name, b.min) for b in draft.tiers.bands]
    notes: list[str] = []
    if fit_bands:
        chosen = choose_bands(health_score(draft, train), y, draft.tiers.names)
        if chosen is None:
            notes.append(
                "no band cut-offs give rising churn with every tier between "
                f"{MIN_TIER_SHARE:.0%} and {MAX_TIER_SHARE:.0%} of accounts: bands kept"
            )
        else:
            bands = chosen
            doc["tiers"]["bands"] = [{"name": n, "min": int(lo)} for n, lo in bands]
    draft = build(doc)
    current_eval = evaluate(model, test)
    fitted_eval = evaluate(draft, test)

    train_accounts = int(train["account_id"].nunique())
    churned_accounts = int(train.loc[train["churned"] == 1, "account_id"].nunique())
    flags = [f for f in fits if f.flag]
    zero = [f.key for f in fits if f.weight == 0 and not f.flag]
    change = (
        f"Fitted by `acct-pipeline fit-model` to the warehouse's outcomes, from {model.label}. "
        f"Training window: as-of days {rows.train_days[0]} .. {rows.train_days[-1]} (every "
        f"{model.churn_model.sample_every_days} days), n = {len(train):,} account-days of "
        f"{train_accounts:,} accounts, {churned_accounts:,} churn events (accounts churning "
        f"within {rows.horizon_days} days; {int(y.sum()):,} positive account-days). "
        f"Judged out of time on {fitted_eval.date_from} .. {fitted_eval.date_to}: "
        f"n = {fitted_eval.n:,} account-days of {fitted_eval.accounts:,} held-out accounts never "
        f"used in fitting, {fitted_eval.churned:,} positive ({fitted_eval.censored_share:.0%} "
        f"of these account-days have a horizon past the history). "
        f"Health AUC {fitted_eval.health_auc} "
        f"(current {current_eval.health_auc}); top-decile lift {fitted_eval.top_decile_lift} "
        f"(current {current_eval.top_decile_lift}); churn by tier "
        f"{_pct_tiers(fitted_eval.churn_rate_by_tier)} "
        f"({'monotonic' if fitted_eval.churn_monotonic else 'NOT monotonic'}; current "
        f"{_pct_tiers(current_eval.churn_rate_by_tier)}). Weights: non-negative L2 logistic "
        "fit on the measures' points, rounded."
        + (f" Bands fitted: {', '.join(f'{n} {lo:g}' for n, lo in bands)}." if fit_bands else "")
        + (
            f" Flagged (direction contradicted): {', '.join(f.key for f in flags)}."
            if flags
            else ""
        )
        + (f" No signal (weight 0): {', '.join(zero)}." if zero else "")
        + (
            f" Segment weights for health removed ({', '.join(dropped_segments)}): one fitted "
            "set for the whole book."
            if dropped_segments
            else ""
        )
    )
    doc["changelog"][0]["change"] = change
    doc["description"] = (
        f"Candidate fitted to outcomes from {model.label}; components "
        + ", ".join(f"{c} {w} %" for c, w in comp_weights.items())
        + "; bands "
        + ", ".join(f"{n} {lo:g}" for n, lo in bands)
        + "."
    )
    candidate = build(doc)
    text = render_yaml(doc, fits, model.label)
    return FitResult(
        candidate=candidate,
        text=text,
        measures=fits,
        component_weights={c: float(w) for c, w in comp_weights.items()},
        bands=bands,
        bands_fitted=fit_bands and bands != [(b.name, b.min) for b in model.tiers.bands],
        current=current_eval,
        fitted=fitted_eval,
        rows=rows,
        train_n=len(train),
        train_churned=int(y.sum()),
        train_accounts=train_accounts,
        train_churned_accounts=churned_accounts,
        notes=notes,
    )


def render_yaml(doc: dict[str, Any], fits: list[MeasureFit], base_label: str) -> str:
    """The candidate document as YAML, with a comment above every flagged or zeroed measure."""
    body = yaml.safe_dump(doc, sort_keys=False, width=100, allow_unicode=True)
    lines = body.splitlines()
    out: list[str] = [
        f"# Candidate health model fitted to outcomes by `acct-pipeline fit-model` from "
        f"{base_label}.",
        "# Review the flags below, read the backtest, then `acct-pipeline models approve` it.",
    ]
    in_scores = in_health = False
    k = 0
    for line in lines:
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            in_scores = line.startswith("scores:")
            in_health = False
        elif in_scores and indent == 2:
            in_health = line.strip() == f"{HEALTH}:"
        if in_health and re.match(r"^\s*- signal: \S+", line):
            fit = fits[k] if k < len(fits) else None
            k += 1
            if fit is not None and fit.note:
                pad = " " * indent
                out.append(f"{pad}# {fit.note}")
        out.append(line)
    return "\n".join(out) + "\n"


def format_fit(result: FitResult) -> str:
    """The fit as text: weights, flags and the out-of-time figures side by side."""
    cur, cand = result.current, result.fitted
    lines = [
        f"fitted {result.candidate.label} from {cur.model}: training "
        f"{result.rows.train_days[0]} .. {result.rows.train_days[-1]}, "
        f"n={result.train_n:,} account-days, {result.train_accounts:,} accounts, "
        f"{result.train_churned_accounts:,} churn events",
        f"judged out of time on {cand.date_from} .. {cand.date_to}: n={cand.n:,} account-days of "
        f"{cand.accounts:,} held-out accounts, {cand.churned:,} positive "
        f"({cand.censored_share:.0%} censored)",
        "",
        "component weights: "
        + ", ".join(f"{c} {w:g}" for c, w in result.component_weights.items()),
        f"{'measure':34}{'component':12}{'weight':>7}{'share':>8}{'AUC alone':>10}  note",
    ]
    for f in result.measures:
        lines.append(
            f"{f.key:34}{f.component:12}{f.weight:>7g}{f.share:>8.1%}"
            f"{(f'{f.univariate_auc:.3f}' if f.univariate_auc is not None else 'n/a'):>10}  "
            f"{f.note or ''}"
        )
    lines += [
        "",
        "bands: "
        + ", ".join(f"{n} >= {lo:g}" for n, lo in result.bands)
        + (" (fitted)" if result.bands_fitted else " (kept)"),
        *result.notes,
        "",
        f"{'out of time (held-out accounts)':34}{'current':>14}{'candidate':>14}",
        f"{'health ROC-AUC':34}{_f(cur.health_auc):>14}{_f(cand.health_auc):>14}",
        f"{'top-decile lift':34}{_f(cur.top_decile_lift):>14}{_f(cand.top_decile_lift):>14}",
    ]
    tiers = list(dict.fromkeys([*cur.churn_rate_by_tier, *cand.churn_rate_by_tier]))
    for t in tiers:
        a, b = cur.churn_rate_by_tier.get(t), cand.churn_rate_by_tier.get(t)
        sa, sb = cur.tier_share.get(t, 0.0), cand.tier_share.get(t, 0.0)
        lines.append(
            f"{'  churn ' + t + ' (share)':34}"
            f"{(_p(a) + f' ({sa:.0%})'):>14}{(_p(b) + f' ({sb:.0%})'):>14}"
        )
    lines.append(f"{'  monotonic':34}{str(cur.churn_monotonic):>14}{str(cand.churn_monotonic):>14}")
    return "\n".join(lines)


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _p(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"
