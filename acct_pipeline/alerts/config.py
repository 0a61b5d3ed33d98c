"""What counts as a drop (from the scoring model file) and where alerts go (from the environment).

The thresholds live in the model YAML beside the tiers they refer to::

    alerts:
      drop_points_7d: 10     # health score down by at least this many points over 7 days
      tier_worsened: true    # the tier (after hysteresis) got worse than the day before

Both keys are optional; a model file without an ``alerts`` section gets these defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from acct_pipeline.settings import environ

MODEL_ENV = "ACCT_MODEL"
DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "default.yaml"

CHANNELS_ENV = "ACCT_ALERT_CHANNELS"
LOG_ENV = "ACCT_ALERT_LOG"
WEBHOOK_URL_ENV = "ACCT_ALERT_WEBHOOK_URL"
WEBHOOK_SECRET_ENV = "ACCT_ALERT_WEBHOOK_SECRET"  # noqa: S105 - the variable's name, not a secret
CRM_TASKS_ENV = "ACCT_ALERT_CRM_TASKS"
WINDOW_ENV = "ACCT_ALERT_WINDOW_DAYS"
MAX_PER_DAY_ENV = "ACCT_ALERT_MAX_PER_DAY"

DEFAULT_LOG = "data/alerts/alerts.jsonl"
DEFAULT_WINDOW_DAYS = 3
DEFAULT_MAX_PER_DAY = 500

LOG = "log"
WEBHOOK = "webhook"
HUBSPOT_TASK = "hubspot_task"
SALESFORCE_TASK = "salesforce_task"
CHANNEL_NAMES = (LOG, WEBHOOK, HUBSPOT_TASK, SALESFORCE_TASK)
CRM_TASK_CHANNEL = {"hubspot": HUBSPOT_TASK, "salesforce": SALESFORCE_TASK}


class AlertConfigError(ValueError):
    """A setting for alerts is wrong; the message names the setting and what to do."""


@dataclass(frozen=True)
class AlertThresholds:
    """When an account's day counts as a drop event."""

    drop_points_7d: float = 10.0
    tier_worsened: bool = True


def model_path(env: Mapping[str, str] | None = None) -> Path:
    env = environ(env)
    return Path(env.get(MODEL_ENV) or DEFAULT_MODEL)


def load_thresholds(path: Path | None = None) -> AlertThresholds:
    """The ``alerts`` section of the scoring model file, with defaults for what it leaves out.

    A missing file or section means the defaults (the scoring engine validates the rest of the
    file); a wrong value is an error that names the file and the key.
    """
    path = path or model_path()
    if not path.exists():
        return AlertThresholds()
    doc = yaml.safe_load(path.read_text()) or {}
    section = doc.get("alerts") if isinstance(doc, dict) else None
    if section is None:
        return AlertThresholds()
    if not isinstance(section, dict):
        raise AlertConfigError(
            f"scoring model {path.name}: 'alerts' must be a mapping, got {section!r}"
        )
    unknown = set(section) - {"drop_points_7d", "tier_worsened"}
    if unknown:
        raise AlertConfigError(
            f"scoring model {path.name}: unknown key(s) alerts.{', alerts.'.join(sorted(unknown))} "
            "(known: drop_points_7d, tier_worsened)"
        )
    points = section.get("drop_points_7d", AlertThresholds.drop_points_7d)
    if isinstance(points, bool) or not isinstance(points, int | float) or points <= 0:
        raise AlertConfigError(
            f"scoring model {path.name}: alerts.drop_points_7d must be a positive number of "
            f"points, got {points!r}"
        )
    tier = section.get("tier_worsened", AlertThresholds.tier_worsened)
    if not isinstance(tier, bool):
        raise AlertConfigError(
            f"scoring model {path.name}: alerts.tier_worsened must be true or false, got {tier!r}"
        )
    return AlertThresholds(drop_points_7d=float(points), tier_worsened=tier)


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise AlertConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise AlertConfigError(f"{name}={value} must be at least {minimum}")
    return value


@dataclass(frozen=True)
class AlertSettings:
    """Where alerts go and how many may go at once.

    Channels: ``log`` always (unless ``ACCT_ALERT_CHANNELS`` lists the channels explicitly),
    ``webhook`` when ``ACCT_ALERT_WEBHOOK_URL`` is set, and a CRM task for the owner when
    ``ACCT_ALERT_CRM_TASKS`` is ``hubspot`` or ``salesforce`` (credentials: the connector's
    variables). The webhook secret is kept out of ``repr`` so it never reaches a log.
    """

    channels: tuple[str, ...] = (LOG,)
    log_path: Path = Path(DEFAULT_LOG)
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    window_days: int = DEFAULT_WINDOW_DAYS
    max_per_day: int = DEFAULT_MAX_PER_DAY
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        warehouse: str | Path | None = None,
        **overrides: object,
    ) -> AlertSettings:
        """Settings from ``env`` (default: the process environment); ``warehouse``: the resolved
        warehouse file (default ``ACCT_WAREHOUSE``), beside which the alert log is kept."""
        env = dict(environ(env))
        warehouse_file = warehouse or env.get("ACCT_WAREHOUSE") or "data/warehouse.duckdb"
        url = env.get(WEBHOOK_URL_ENV) or None
        crm = (env.get(CRM_TASKS_ENV) or "").strip().lower()
        if crm and crm not in CRM_TASK_CHANNEL:
            raise AlertConfigError(
                f"{CRM_TASKS_ENV}={crm!r}: choose hubspot or salesforce (or leave it empty)"
            )
        explicit = env.get(CHANNELS_ENV)
        if explicit:
            channels = tuple(c.strip() for c in explicit.split(",") if c.strip())
            bad = [c for c in channels if c not in CHANNEL_NAMES]
            if bad:
                raise AlertConfigError(
                    f"{CHANNELS_ENV}: unknown channel(s) {bad}; choose from {list(CHANNEL_NAMES)}"
                )
        else:
            channels = (
                (LOG,) + ((WEBHOOK,) if url else ()) + ((CRM_TASK_CHANNEL[crm],) if crm else ())
            )
        if WEBHOOK in channels and not url:
            raise AlertConfigError(f"the webhook channel needs {WEBHOOK_URL_ENV}")
        values: dict[str, object] = {
            "channels": channels,
            # Beside the warehouse: data/alerts/alerts.jsonl for the default warehouse.
            "log_path": Path(
                env.get(LOG_ENV) or Path(warehouse_file).parent / "alerts" / "alerts.jsonl"
            ),
            "webhook_url": url,
            "webhook_secret": env.get(WEBHOOK_SECRET_ENV) or None,
            "window_days": _int(env, WINDOW_ENV, DEFAULT_WINDOW_DAYS),
            "max_per_day": _int(env, MAX_PER_DAY_ENV, DEFAULT_MAX_PER_DAY),
            "env": env,
        }
        values.update({k: v for k, v in overrides.items() if v not in (None, "", 0, ())})
        return cls(**values)  # type: ignore[arg-type]


def window_days(env: Mapping[str, str] | None = None) -> int:
    """How many of the newest scores partitions may raise alerts (``ACCT_ALERT_WINDOW_DAYS``)."""
    return _int(environ(env), WINDOW_ENV, DEFAULT_WINDOW_DAYS)
