"""Sync configuration: one dataclass, read from environment variables (``.env`` works too).

Secrets (the HubSpot token, the Salesforce access token) are held in ``repr=False`` fields so they
never appear in a repr, a log line, run metadata or an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from acct_pipeline import settings
from acct_pipeline.services import hubspot, salesforce
from acct_pipeline.settings import RateWindows
from acct_pipeline.warehouse import DEFAULT_WAREHOUSE, WAREHOUSE_ENV

TARGETS = ("outbox", "hubspot", "salesforce")

TARGET_ENV = "ACCT_SYNC_TARGET"
MAX_CHANGE_SHARE_ENV = "ACCT_SYNC_MAX_CHANGE_SHARE"
RATE_LIMIT_ENV = "ACCT_SYNC_RATE_LIMIT"
FIELD_MAPPING_ENV = "ACCT_SYNC_FIELD_MAPPING"
OUTBOX_DIR_ENV = "ACCT_SYNC_OUTBOX_DIR"
OUTBOX_FORMAT_ENV = "ACCT_SYNC_OUTBOX_FORMAT"
OUTBOX_FORMATS = ("hubspot", "salesforce")  # which CRM's import the outbox files are made for
BATCH_SIZE_ENV = "ACCT_SYNC_BATCH_SIZE"
CREATE_FIELDS_ENV = "ACCT_SYNC_CREATE_FIELDS"
PROPERTY_GROUP_ENV = "ACCT_SYNC_PROPERTY_GROUP"
SAMPLE_SIZE_ENV = "ACCT_SYNC_SAMPLE_SIZE"
READ_BACK_ENV = "ACCT_SYNC_READ_BACK"
MAX_WRITE_ATTEMPTS_ENV = "ACCT_SYNC_MAX_WRITE_ATTEMPTS"
MAX_RECORD_ATTEMPTS_ENV = "ACCT_SYNC_MAX_RECORD_ATTEMPTS"
RECONCILE_CRON_ENV = "ACCT_SYNC_RECONCILE_CRON"
DEFAULT_RECONCILE_CRON = "0 7 * * 0"  # Sundays 07:00 (in ACCT_SCHEDULE_TZ)
CONCURRENCY_ENV = "ACCT_SYNC_CONCURRENCY"
# Shared with the connectors and the alert channels (acct_pipeline/services/).
HUBSPOT_TOKEN_ENV = hubspot.TOKEN_ENV
HUBSPOT_BASE_URL_ENV = hubspot.BASE_URL_ENV
HUBSPOT_BASE_PATH_ENV = hubspot.BASE_PATH_ENV
HUBSPOT_RATE_LIMIT_ENV = hubspot.RATE_ENV  # the portal's plan
SALESFORCE_RATE_LIMIT_ENV = salesforce.RATE_ENV
SALESFORCE_INSTANCE_URL_ENV = salesforce.INSTANCE_ENV
SALESFORCE_TOKEN_ENV = salesforce.TOKEN_ENV
SALESFORCE_API_VERSION_ENV = salesforce.VERSION_ENV

# The API's own maximum per write request (docs/traps.md, "CRM write limits"): never exceeded.
MAX_BATCH = {"hubspot": 100, "salesforce": 200, "outbox": 100_000}
# Default pacing per target, (requests, seconds). HubSpot Free/Starter private apps: 100 / 10 s.
DEFAULT_RATE_LIMIT: dict[str, RateWindows | None] = {
    "hubspot": ((100, 10.0),),
    "salesforce": ((25, 1.0),),
    "outbox": None,
}


class SyncConfigError(ValueError):
    """A sync setting is missing or malformed; the message names the variable to fix."""


def parse_rate_limit(text: str, var: str = RATE_LIMIT_ENV) -> RateWindows | None:
    """The one rate-limit grammar (``acct_pipeline.settings.parse_rate_limit``): ``100/10``,
    ``190/10s``, ``25`` (per s), several windows ``100/10,250000/86400``; ``none``: off."""
    try:
        return settings.parse_rate_limit(text, var)
    except settings.SettingsError as exc:
        raise SyncConfigError(str(exc)) from None


def _share(text: str) -> float:
    raw = text.strip().rstrip("%").strip()
    try:
        value = float(raw)
    except ValueError:
        raise SyncConfigError(
            f"{MAX_CHANGE_SHARE_ENV}={text!r}: expected a share such as 0.5, '50' or '50%'"
        ) from None
    if value > 1 or text.strip().endswith("%"):
        value /= 100.0
    if not 0 < value <= 1:
        raise SyncConfigError(f"{MAX_CHANGE_SHARE_ENV}={text!r}: must be between 0 and 100 %")
    return value


def _bool(text: str, var: str) -> bool:
    raw = text.strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off", ""):
        return False
    raise SyncConfigError(f"{var}={text!r}: expected true or false")


def _int(text: str, var: str, minimum: int = 1) -> int:
    try:
        value = int(text)
    except ValueError:
        raise SyncConfigError(f"{var}={text!r}: expected an integer") from None
    if value < minimum:
        raise SyncConfigError(f"{var}={text!r}: must be >= {minimum}")
    return value


_UNSET: RateWindows = ((-1, -1.0),)


@dataclass(frozen=True)
class SyncSettings:
    """Everything the sync needs besides the warehouse connection.

    ``rate_limit``: the CRM plan's windows ((requests, seconds), ...), None = no client-side
    pacing; left at its default it is the target's default (HubSpot 100 / 10 s, Salesforce 25 / s).
    """

    target: str = "outbox"
    max_change_share: float = 0.5
    rate_limit: RateWindows | None = _UNSET
    field_mapping_path: Path | None = None
    outbox_dir: Path = Path("data/outbox")
    outbox_format: str = "hubspot"
    batch_size: int | None = None
    create_fields: bool = False
    property_group: str = "account_health"
    sample_size: int = 10
    read_back: bool = True
    max_write_attempts: int = 5
    max_record_attempts: int = 4  # sends of one record refused as LOCKED etc., within a run
    concurrency: int = 4
    hubspot_base_url: str = "https://api.hubapi.com"
    hubspot_objects_path: str = "/crm/v3/objects/companies"
    hubspot_properties_path: str = "/crm/v3/properties/companies"
    hubspot_token: str | None = field(default=None, repr=False)
    salesforce_instance_url: str | None = None
    salesforce_api_version: str = "62.0"
    salesforce_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise SyncConfigError(
                f"{TARGET_ENV}={self.target!r}: expected one of {', '.join(TARGETS)}"
            )
        if not 0 < self.max_change_share <= 1:
            raise SyncConfigError(f"max_change_share={self.max_change_share}: must be in (0, 1]")
        if self.outbox_format not in OUTBOX_FORMATS:
            raise SyncConfigError(
                f"{OUTBOX_FORMAT_ENV}={self.outbox_format!r}: expected one of "
                f"{', '.join(OUTBOX_FORMATS)}"
            )
        if self.rate_limit == _UNSET:
            object.__setattr__(self, "rate_limit", DEFAULT_RATE_LIMIT[self.target])
        elif self.rate_limit and isinstance(self.rate_limit[0], int | float):
            # One window given as (requests, seconds): the windows tuple it stands for.
            object.__setattr__(self, "rate_limit", (tuple(self.rate_limit),))

    @property
    def effective_batch_size(self) -> int:
        cap = MAX_BATCH[self.target]
        return min(cap, self.batch_size) if self.batch_size else cap

    def with_overrides(self, **changes: object) -> SyncSettings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        warehouse: str | Path | None = None,
        **overrides: object,
    ) -> SyncSettings:
        """Settings from ``env`` (default: the process environment); keyword ``overrides`` win.
        ``warehouse``: the resolved warehouse file (default ``ACCT_WAREHOUSE``), beside which the
        outbox is kept."""
        e = settings.environ(env)
        kw: dict[str, object] = {}
        if e.get(TARGET_ENV):
            kw["target"] = e[TARGET_ENV].strip().lower()
        if e.get(MAX_CHANGE_SHARE_ENV):
            kw["max_change_share"] = _share(e[MAX_CHANGE_SHARE_ENV])
        target = str(kw.get("target", overrides.get("target", "outbox")))
        plan_env = {"hubspot": HUBSPOT_RATE_LIMIT_ENV, "salesforce": SALESFORCE_RATE_LIMIT_ENV}
        for var in (RATE_LIMIT_ENV, plan_env.get(target)):
            if var and e.get(var):
                kw["rate_limit"] = parse_rate_limit(e[var], var)
                break
        if e.get(FIELD_MAPPING_ENV):
            kw["field_mapping_path"] = Path(e[FIELD_MAPPING_ENV])
        # The outbox sits beside the warehouse (data/outbox for the default data/warehouse.duckdb).
        kw["outbox_dir"] = Path(
            e.get(OUTBOX_DIR_ENV)
            or Path(warehouse or e.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE).parent / "outbox"
        )
        if e.get(OUTBOX_FORMAT_ENV):
            kw["outbox_format"] = e[OUTBOX_FORMAT_ENV].strip().lower()
        if e.get(BATCH_SIZE_ENV):
            kw["batch_size"] = _int(e[BATCH_SIZE_ENV], BATCH_SIZE_ENV)
        if e.get(CREATE_FIELDS_ENV):
            kw["create_fields"] = _bool(e[CREATE_FIELDS_ENV], CREATE_FIELDS_ENV)
        if e.get(PROPERTY_GROUP_ENV):
            kw["property_group"] = e[PROPERTY_GROUP_ENV].strip()
        if e.get(SAMPLE_SIZE_ENV):
            kw["sample_size"] = _int(e[SAMPLE_SIZE_ENV], SAMPLE_SIZE_ENV, 0)
        if e.get(READ_BACK_ENV):
            kw["read_back"] = _bool(e[READ_BACK_ENV], READ_BACK_ENV)
        if e.get(MAX_WRITE_ATTEMPTS_ENV):
            kw["max_write_attempts"] = _int(e[MAX_WRITE_ATTEMPTS_ENV], MAX_WRITE_ATTEMPTS_ENV)
        if e.get(MAX_RECORD_ATTEMPTS_ENV):
            kw["max_record_attempts"] = _int(e[MAX_RECORD_ATTEMPTS_ENV], MAX_RECORD_ATTEMPTS_ENV)
        if e.get(CONCURRENCY_ENV):
            kw["concurrency"] = _int(e[CONCURRENCY_ENV], CONCURRENCY_ENV)
        if e.get(HUBSPOT_BASE_URL_ENV):
            kw["hubspot_base_url"] = e[HUBSPOT_BASE_URL_ENV].strip()
        base = hubspot.base_path_setting(e)
        if base:
            kw["hubspot_objects_path"] = f"{base}/companies"
            kw["hubspot_properties_path"] = base.replace("/objects", "/properties") + "/companies"
        if e.get(HUBSPOT_TOKEN_ENV):
            kw["hubspot_token"] = e[HUBSPOT_TOKEN_ENV].strip()
        if e.get(SALESFORCE_INSTANCE_URL_ENV):
            kw["salesforce_instance_url"] = e[SALESFORCE_INSTANCE_URL_ENV].strip()
        if e.get(SALESFORCE_API_VERSION_ENV):
            kw["salesforce_api_version"] = e[SALESFORCE_API_VERSION_ENV].strip().lstrip("v")
        if e.get(SALESFORCE_TOKEN_ENV):
            kw["salesforce_token"] = e[SALESFORCE_TOKEN_ENV].strip()
        kw.update(overrides)
        return cls(**kw)  # type: ignore[arg-type]


def reconcile_cron(env: Mapping[str, str] | None = None) -> str | None:
    """``ACCT_SYNC_RECONCILE_CRON``: the weekly reconcile's 5-field cron; ``off``: never."""
    e = settings.environ(env)
    raw = (e.get(RECONCILE_CRON_ENV) or DEFAULT_RECONCILE_CRON).strip()
    if raw.lower() in ("off", "none", "false", "0"):
        return None
    if len(raw.split()) != 5:
        raise SyncConfigError(
            f"{RECONCILE_CRON_ENV}={raw!r}: expected a cron expression with 5 fields such as "
            f"'{DEFAULT_RECONCILE_CRON}' (Sundays 07:00), or 'off'"
        )
    return raw
