"""The scoring model: a versioned YAML file, validated on load.

``load_model()`` reads ``$ACCT_MODEL`` or ``acct_pipeline/models/default.yaml`` and returns a
``ScoringModel``. Anything wrong raises ``ModelError`` with a message that names the file and
the key, e.g. ``scoring model default.yaml: measure 'active_users_30d' has thresholds out of
order (60 before 40)``.

Schema (see ``models/default.yaml`` for a full example)::

    name, version, owner, description, changelog: [{version, date, change}]
    signals:    key_features, activity_weights, touch_types, half_life_days, lookback_days
    engagement: {window_days (30|60|90), weights: {<category>: {<activity_type>: points}}}
    scores:     {health|engagement|value|<any>: {components: {<name>: {weight, measures: [...]}},
                                                 knockouts: [...]}}
      measure:  {signal, name?, label?, weight, direction, missing, missing_points, reason,
                 reason_if (any|cost), missing_reason, rule}
      rule:     {type: thresholds, thresholds: [{at, points}, ...]}      (ascending ``at``)
                {type: linear, base, per_unit}                            (clipped to 0..100)
                {type: bounded_linear, low, high, min_points, max_points}
      knockout: {signal, op, value, cap, reason}
    tiers:      {bands: [{name, min}], hysteresis: {margin_points, dwell_days}}
    trend:      {window_days, improving_points, declining_points}
    segments:   [{name, when: {plan: [...], lifecycle_stage: [...]},
                  weights: {score: {component: w}}}]
    playbooks:  {<tier>: {improving|stable|declining: text}}   ("*" is a fallback key)
    reasons:    {max_reasons}
    alerts:     {drop_points_7d, tier_worsened}
    churn_model: {horizon_days, estimator, features, calibration, holdout_fraction, ...}
    rollup:     {method: arr_weighted_mean | worst_child}   (parent scores from children)
"""

from __future__ import annotations

import hashlib
import json
import string
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from acct_pipeline.scoring import engagement as eng
from acct_pipeline.scoring.actions import (
    AudienceDef,
    Caps,
    Experiment,
    FollowupConfig,
    check_audience_tiers,
)
from acct_pipeline.scoring.signals import (
    CATEGORICAL_SIGNALS,
    DEFAULT_ACTIVITY_WEIGHTS,
    DEFAULT_TOUCH_TYPES,
    NUMERIC_SIGNALS,
    SignalParams,
)
from acct_pipeline.settings import CoreSettings, get

MODEL_ENV = "ACCT_MODEL"
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_MODEL_PATH = MODELS_DIR / "default.yaml"

TRENDS: tuple[str, ...] = ("improving", "stable", "declining")
HEALTH = "health"


class ModelError(ValueError):
    """The scoring model file is invalid; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------------- rules


class Threshold(_Strict):
    at: float
    points: float = Field(ge=0, le=100)


class ThresholdsRule(_Strict):
    """``value >= at`` earns ``points`` (the highest ``at`` reached wins); below the first
    ``at`` the first band's points apply."""

    type: Literal["thresholds"]
    thresholds: list[Threshold] = Field(min_length=1)


class LinearRule(_Strict):
    """``base + per_unit * value`` (higher is better) or ``base - per_unit * value`` (lower is
    better), clipped to 0..100."""

    type: Literal["linear"]
    base: float = 0.0
    per_unit: float = Field(gt=0)


class BoundedLinearRule(_Strict):
    """``min_points`` at ``low`` to ``max_points`` at ``high`` (reversed when lower is better),
    flat outside."""

    type: Literal["bounded_linear"]
    low: float
    high: float
    min_points: float = Field(default=0.0, ge=0, le=100)
    max_points: float = Field(default=100.0, ge=0, le=100)


Rule = Annotated[ThresholdsRule | LinearRule | BoundedLinearRule, Field(discriminator="type")]


def _template_fields(template: str) -> list[str]:
    return [f for _, f, _, _ in string.Formatter().parse(template) if f]


class Measure(_Strict):
    signal: str
    name: str | None = None
    label: str | None = None
    # 0: kept for its reason text and the record (e.g. a fitted model found no signal in it)
    weight: float = Field(default=1.0, ge=0)
    direction: Literal["higher_is_better", "lower_is_better"] = "higher_is_better"
    missing: Literal["exclude", "penalize"] = "exclude"
    missing_points: float = Field(default=0.0, ge=0, le=100)
    reason: str | None = None
    reason_if: Literal["any", "cost"] = "any"  # "cost": only mention it when it costs points
    missing_reason: str | None = None
    rule: Rule

    @property
    def key(self) -> str:
        return self.name or self.signal

    @property
    def title(self) -> str:
        return self.label or self.key.replace("_", " ")

    @model_validator(mode="after")
    def _check(self) -> Measure:
        who = f"measure '{self.key}'"
        if self.signal not in NUMERIC_SIGNALS:
            raise ValueError(
                f"{who}: unknown signal '{self.signal}' (known: {', '.join(NUMERIC_SIGNALS)})"
            )
        rule = self.rule
        if isinstance(rule, ThresholdsRule):
            ats = [t.at for t in rule.thresholds]
            for a, b in zip(ats, ats[1:], strict=False):
                if b <= a:
                    raise ValueError(f"{who} has thresholds out of order ({a:g} before {b:g})")
            pts = [t.points for t in rule.thresholds]
            rising = self.direction == "higher_is_better"
            for a, b in zip(pts, pts[1:], strict=False):
                if (rising and b < a) or (not rising and b > a):
                    raise ValueError(
                        f"{who} is {self.direction} but its threshold points go "
                        f"{'down' if rising else 'up'} ({a:g} then {b:g})"
                    )
        if isinstance(rule, BoundedLinearRule):
            if rule.high <= rule.low:
                raise ValueError(
                    f"{who} has bounded_linear high ({rule.high:g}) not above low ({rule.low:g})"
                )
            if rule.max_points < rule.min_points:
                raise ValueError(f"{who} has max_points below min_points")
        if self.reason:
            _check_template(self.reason, who)
        return self


def _check_template(template: str, who: str) -> None:
    for name in _template_fields(template):
        if name != "value" and name not in NUMERIC_SIGNALS:
            raise ValueError(f"{who}: reason template refers to unknown field '{{{name}}}'")


class Knockout(_Strict):
    """When ``signal <op> value``, the score is capped at ``cap``."""

    signal: str
    op: Literal[">=", ">", "<=", "<", "=="]
    value: float
    cap: float = Field(ge=0, le=100)
    reason: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Knockout:
        who = f"knockout on '{self.signal}'"
        if self.signal not in NUMERIC_SIGNALS:
            raise ValueError(f"{who}: unknown signal '{self.signal}'")
        if self.reason:
            _check_template(self.reason, who)
        return self


class Component(_Strict):
    weight: float = Field(ge=0)  # 0: the component counts for nothing (a fitted model may say so)
    measures: list[Measure] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Component:
        keys = [m.key for m in self.measures]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"measure '{dupes[0]}' appears twice (give one a 'name')")
        if self.weight > 0 and not any(m.weight > 0 for m in self.measures):
            raise ValueError("a component with a weight needs a measure with a weight above 0")
        return self


class ScoreDef(_Strict):
    description: str = ""
    components: dict[str, Component] = Field(min_length=1)
    knockouts: list[Knockout] = Field(default_factory=list)

    @field_validator("components")
    @classmethod
    def _names(cls, v: dict[str, Component]) -> dict[str, Component]:
        for name in v:
            if not name.isidentifier() or not name.islower():
                raise ValueError(f"component name '{name}' must be a lower-case identifier")
        return v

    @model_validator(mode="after")
    def _weighted(self) -> ScoreDef:
        if not any(c.weight > 0 for c in self.components.values()):
            raise ValueError("every component has weight 0: give one a weight above 0")
        return self


# ---------------------------------------------------------------------------------- tiers


class Band(_Strict):
    name: str
    min: float = Field(ge=0, le=100)


class Hysteresis(_Strict):
    margin_points: float = Field(default=3.0, ge=0)
    dwell_days: int = Field(default=3, ge=1)


class Tiers(_Strict):
    bands: list[Band] = Field(min_length=2)
    hysteresis: Hysteresis = Hysteresis()

    @model_validator(mode="after")
    def _check(self) -> Tiers:
        mins = [b.min for b in self.bands]
        for a, b in zip(mins, mins[1:], strict=False):
            if b >= a:
                raise ValueError(f"tier bands out of order ({a:g} before {b:g}): list best first")
        if mins[-1] != 0:
            raise ValueError(f"the last tier band '{self.bands[-1].name}' must start at 0")
        names = [b.name for b in self.bands]
        if len(set(names)) != len(names):
            raise ValueError("tier band names must be unique")
        return self

    @property
    def names(self) -> list[str]:
        return [b.name for b in self.bands]


class Trend(_Strict):
    window_days: int = Field(default=30, ge=2)
    improving_points: float = Field(default=5.0, gt=0)
    declining_points: float = Field(default=-5.0, lt=0)


class SegmentWhen(_Strict):
    plan: list[str] | None = None
    lifecycle_stage: list[str] | None = None  # the CRM's stage
    lifecycle_status: list[str] | None = None  # ours: Active / Onboarding (scoring/lifecycle.py)


class Lifecycle(_Strict):
    """When an account counts as onboarding (statuses: ``scoring/lifecycle.py``)."""

    onboarding_days: int = Field(default=35, ge=0)


class Segment(_Strict):
    name: str
    when: SegmentWhen
    weights: dict[str, dict[str, float]]


class Reasons(_Strict):
    max_reasons: int = Field(default=5, ge=1, le=20)


class Rollup(_Strict):
    """How a parent account's score comes from its children's (``scoring/rollup.py``)."""

    method: Literal["arr_weighted_mean", "worst_child"] = "arr_weighted_mean"


class Alerts(_Strict):
    drop_points_7d: float = Field(default=10.0, gt=0)
    tier_worsened: bool = True


class ChurnModelConfig(_Strict):
    horizon_days: int = Field(default=90, ge=1)
    estimator: Literal["logistic", "gradient_boosting"] = "gradient_boosting"
    calibration: Literal["sigmoid", "isotonic"] = "isotonic"
    features: list[str] = Field(default_factory=list)  # empty: every numeric signal
    include_scores: bool = True  # health / engagement / value / component points as features
    holdout_fraction: float = Field(default=0.4, gt=0, lt=1)
    sample_every_days: int = Field(default=7, ge=1)
    top_drivers: int = Field(default=3, ge=1, le=10)
    # walk-forward: a model per retraining day, trained on labels matured by then
    retrain_every_days: int = Field(default=7, ge=1)
    min_churn_events: int = Field(default=20, ge=5)

    @field_validator("features")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        for f in v:
            if f not in NUMERIC_SIGNALS:
                raise ValueError(f"churn_model feature '{f}' is not a numeric signal")
        return v


class SignalSettings(_Strict):
    key_features: list[str] = Field(default_factory=list)
    activity_weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_ACTIVITY_WEIGHTS)
    )
    touch_types: list[str] = Field(default_factory=lambda: list(DEFAULT_TOUCH_TYPES))
    half_life_days: float | None = Field(default=30.0, gt=0)
    lookback_days: int = Field(default=180, ge=30)


class EngagementSettings(_Strict):
    """The engagement categories' window and activity weights (``scoring/engagement.py``)."""

    window_days: int = eng.DEFAULT_WINDOW_DAYS
    # merged over the defaults: a model lists only the weights it changes
    weights: dict[str, dict[str, float]] = Field(default_factory=dict)

    @field_validator("window_days")
    @classmethod
    def _window(cls, v: int) -> int:
        if v not in eng.ALLOWED_WINDOWS:
            allowed = ", ".join(map(str, eng.ALLOWED_WINDOWS))
            raise ValueError(f"window_days must be one of {allowed}")
        return v

    @field_validator("weights")
    @classmethod
    def _categories(cls, v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for category, by_type in v.items():
            if category not in eng.CATEGORIES:
                raise ValueError(
                    f"weights: unknown category '{category}' (known: {', '.join(eng.CATEGORIES)})"
                )
            for activity, w in by_type.items():
                if w < 0:
                    raise ValueError(f"weights.{category}.{activity} is negative")
        return v

    def merged_weights(self) -> dict[str, dict[str, float]]:
        out = {c: dict(by_type) for c, by_type in eng.DEFAULT_WEIGHTS.items()}
        for c, by_type in self.weights.items():
            out.setdefault(c, {}).update(by_type)
        return out


class ChangelogEntry(_Strict):
    version: str
    date: date
    change: str


# ---------------------------------------------------------------------------------- model


class ScoringModel(_Strict):
    name: str
    version: str
    owner: str
    description: str = ""
    changelog: list[ChangelogEntry] = Field(min_length=1)
    signals: SignalSettings = SignalSettings()
    engagement: EngagementSettings = EngagementSettings()
    scores: dict[str, ScoreDef]
    tiers: Tiers
    trend: Trend = Trend()
    segments: list[Segment] = Field(default_factory=list)
    playbooks: dict[str, dict[str, str]]
    reasons: Reasons = Reasons()
    alerts: Alerts = Alerts()
    churn_model: ChurnModelConfig = ChurnModelConfig()
    lifecycle: Lifecycle = Lifecycle()
    rollup: Rollup = Rollup()
    # acting on scores (scoring/actions.py): control group, audiences, frequency caps
    experiment: Experiment = Experiment()
    audiences: list[AudienceDef] = Field(default_factory=list)
    caps: Caps = Caps()
    followup: FollowupConfig = FollowupConfig()
    # set by load_model: where the model came from and a hash of its text
    source: str = Field(default="<memory>", exclude=True)
    content_hash: str = Field(default="", exclude=True)

    @field_validator("version")
    @classmethod
    def _version(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("version must not be empty")
        return v

    @model_validator(mode="after")
    def _check(self) -> ScoringModel:
        if HEALTH not in self.scores:
            raise ValueError("scores must define 'health'")
        if self.changelog[0].version != self.version and self.changelog[-1].version != self.version:
            raise ValueError(
                f"changelog has no entry for version '{self.version}' (first or last entry)"
            )
        for seg in self.segments:
            for score, weights in seg.weights.items():
                if score not in self.scores:
                    raise ValueError(f"segment '{seg.name}': unknown score '{score}'")
                comps = self.scores[score].components
                for comp, w in weights.items():
                    if comp not in comps:
                        raise ValueError(
                            f"segment '{seg.name}': score '{score}' has no component '{comp}'"
                        )
                    if w < 0:
                        raise ValueError(f"segment '{seg.name}': weight of '{comp}' is negative")
        check_audience_tiers(self.audiences, self.tiers.names)
        tiers = set(self.tiers.names)
        for tier, by_trend in self.playbooks.items():
            if tier != "*" and tier not in tiers:
                raise ValueError(
                    f"playbooks: unknown tier '{tier}' (tiers: {', '.join(self.tiers.names)})"
                )
            for trend in by_trend:
                if trend != "*" and trend not in TRENDS:
                    raise ValueError(
                        f"playbooks.{tier}: unknown trend '{trend}' (use {', '.join(TRENDS)} or *)"
                    )
        for tier in self.tiers.names:
            for trend in TRENDS:
                if self.playbook(tier, trend) is None:
                    raise ValueError(
                        f"playbooks: no playbook for tier '{tier}' and trend '{trend}'"
                    )
        return self

    # ------------------------------------------------------------------ helpers

    @property
    def health(self) -> ScoreDef:
        return self.scores[HEALTH]

    def playbook(self, tier: str, trend: str) -> str | None:
        for t in (tier, "*"):
            by_trend = self.playbooks.get(t)
            if by_trend:
                for tr in (trend, "*"):
                    if tr in by_trend:
                        return by_trend[tr]
        return None

    def signal_params(self) -> SignalParams:
        s = self.signals
        return SignalParams(
            key_features=tuple(s.key_features),
            activity_weights=tuple(s.activity_weights.items()),
            touch_types=tuple(s.touch_types),
            half_life_days=s.half_life_days,
            lookback_days=s.lookback_days,
            engagement_window_days=self.engagement.window_days,
            engagement_weights=tuple(
                (c, t, float(w))
                for c, by_type in self.engagement.merged_weights().items()
                for t, w in by_type.items()
            ),
        )

    @property
    def label(self) -> str:
        """``name@version`` (written to every score row as ``model_version``)."""
        return f"{self.name}@{self.version}"


SEGMENT_SIGNALS = CATEGORICAL_SIGNALS


def _format_loc(loc: tuple) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        elif p in ("thresholds", "linear", "bounded_linear") and parts and parts[-1] == "rule":
            continue
        else:
            parts.append(("." if parts else "") + str(p))
    return "".join(parts)


def _error_message(source: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = _format_loc(tuple(err["loc"]))
        msg = err["msg"]
        if err["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")
            lines.append(f"{msg} (at {loc})" if loc else msg)
        elif err["type"] == "extra_forbidden":
            lines.append(f"unknown key '{loc}'")
        elif err["type"] == "missing":
            lines.append(f"missing key '{loc}'")
        else:
            lines.append(f"key '{loc}': {msg}")
    head = f"scoring model {source}: "
    return head + ("; ".join(lines))


def parse_model(data: object, source: str = "<memory>", content_hash: str = "") -> ScoringModel:
    """Validate a parsed YAML document; raises ``ModelError`` naming the key on any problem."""
    if not isinstance(data, dict):
        raise ModelError(f"scoring model {source}: the file must hold a mapping at the top level")
    try:
        model = ScoringModel.model_validate(data)
    except ValidationError as exc:
        raise ModelError(_error_message(source, exc)) from None
    return model.model_copy(update={"source": source, "content_hash": content_hash})


def model_path(path: str | Path | None = None) -> Path:
    """The model file to use: ``path``, else ``$ACCT_MODEL``, else the packaged default."""
    if path is not None:
        return Path(path)
    configured = get(CoreSettings, "model")
    return Path(configured) if configured else DEFAULT_MODEL_PATH


def load_model(path: str | Path | None = None) -> ScoringModel:
    """Load and validate the scoring model: ``path``, else ``$ACCT_MODEL``, else the default."""
    target = model_path(path)
    try:
        text = target.read_text()
    except OSError as exc:
        raise ModelError(f"scoring model {target}: cannot be read ({exc.strerror})") from None
    try:
        # the C loader (libyaml) when the wheel has it: ~10x faster than the Python one
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise ModelError(f"scoring model {target.name}: not valid YAML ({exc})") from None
    return parse_model(data, source=target.name, content_hash=content_digest(data))


def content_digest(data: object) -> str:
    """Hash of a model document's content as parsed: an edit to comments or layout keeps it,
    any change to a key or value (a weight, a threshold, a band) changes it."""
    canonical = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
