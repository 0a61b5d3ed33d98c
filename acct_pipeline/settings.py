"""Configuration, defined once: every environment variable the package reads, typed and documented.

Each group of variables is a pydantic model whose fields carry the variable name (``alias``), the
type, the default and the meaning. ``load(Model, env)`` reads one group from an environment
mapping (default: the process environment, read at call time so tests can monkeypatch it) and
raises ``SettingsError`` naming the variable when a value does not fit. The README's configuration
tables are generated from these models (``python -m acct_pipeline.settings --markdown``; a test
keeps the README in step).

This is the only module that touches ``os.environ``: the rest of the package asks ``environ()``
for the mapping (the modules that keep a grammar of their own, e.g. the sync's change share,
parse from it) or ``load(...)`` for typed values. A value that is set but empty counts as unset.

This module is a leaf: it imports nothing from the package.
"""

from __future__ import annotations

import argparse
import os
import warnings
from collections.abc import Mapping, MutableMapping
from datetime import date
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

M = TypeVar("M", bound=BaseModel)

RateWindows = tuple[tuple[int, float], ...]


class SettingsError(ValueError):
    """An environment variable has a value that cannot be used; the message names it."""


# ---------------------------------------------------------------------------------------------
# The process environment (the one place that reads or writes it)
# ---------------------------------------------------------------------------------------------


def environ(env: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """``env`` when given, else the live process environment (read now, never cached)."""
    return os.environ if env is None else env


def set_default(name: str, value: str) -> None:
    """Set ``name`` for this process and its children unless it is set already."""
    os.environ.setdefault(name, value)


def export(values: Mapping[str, str]) -> None:
    """Set ``values`` for this process and the processes it starts (e.g. ``dagster dev``)."""
    os.environ.update(values)


def python_for_workers(executable: str) -> None:
    """Point PySpark's Python workers at ``executable`` unless ``PYSPARK_PYTHON`` is set."""
    os.environ.setdefault("PYSPARK_PYTHON", executable)


def mutable_environ() -> MutableMapping[str, str]:
    """The process environment itself, for a caller that must hand it on whole."""
    return os.environ


# ---------------------------------------------------------------------------------------------
# Grammars shared by several variables
# ---------------------------------------------------------------------------------------------


def parse_rate_limit(text: str, var: str) -> RateWindows | None:
    """Client-side pacing windows, one grammar for every ``*_RATE_LIMIT`` variable.

    ``100/10`` (100 requests per 10 s), ``190/10s`` (the ``s`` is optional), ``25`` (per second),
    several windows that all apply ``3/1,60/3600`` or ``100/10,250000/86400``; ``none`` / ``off``
    / ``0`` / empty: no client-side pacing (None).
    """
    raw = text.strip().lower()
    if raw in ("", "none", "off", "0"):
        return None
    windows: list[tuple[int, float]] = []
    for part in raw.split(","):
        calls, _, period = part.strip().partition("/")
        try:
            n = int(calls)
            p = float(period.strip().removesuffix("s") or 1.0)
        except ValueError:
            raise SettingsError(
                f"{var}={text!r}: expected '<requests>/<seconds>' windows, comma-separated, e.g. "
                "'100/10' (100 requests per 10 seconds), '190/10s', '3/1,60/3600' or 'none'"
            ) from None
        if n < 1 or p <= 0:
            raise SettingsError(f"{var}={text!r}: requests must be >= 1 and seconds > 0")
        windows.append((n, p))
    return tuple(windows)


# ---------------------------------------------------------------------------------------------
# The models
# ---------------------------------------------------------------------------------------------


def var(default: Any, name: str, meaning: str, shown: str | None = None) -> Any:
    """A field read from the environment variable ``name``; ``shown`` is the README's default."""
    extra = {"shown": shown} if shown is not None else {}
    return Field(default, alias=name, description=meaning, json_schema_extra=extra)


class Group(BaseModel):
    """A group of variables: one README table (its title is in ``GROUPS``)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class CoreSettings(Group):
    """Where the data lives and which sources fill it."""

    warehouse: Path = var(Path("data/warehouse.duckdb"), "ACCT_WAREHOUSE", "the DuckDB file")
    landing_dir: Path = var(
        Path("data/sample"), "ACCT_LANDING_DIR", "landing folder for the `files` source"
    )
    partitions_start: date = var(date(2026, 5, 1), "ACCT_PARTITIONS_START", "first daily partition")
    partitions_end: date | None = var(
        None,
        "ACCT_PARTITIONS_END",
        "last daily partition, for a fixed history: `make demo` and `make dev` set both to the "
        "sample's days, so the UI shows no missing days, the freshness check measures against "
        "the sample's last day and the schedule stays quiet after it",
        shown="– (up to today)",
    )
    models_dir: Path | None = var(
        None,
        "ACCT_MODELS_DIR",
        "where trained churn models are kept",
        shown="`models/` beside the warehouse",
    )
    crm_source: str = var("files", "ACCT_CRM_SOURCE", "`files`, `hubspot`, `salesforce`")
    billing_source: str = var("files", "ACCT_BILLING_SOURCE", "`files`, `stripe`")
    product_source: str = var(
        "files", "ACCT_PRODUCT_SOURCE", "`files`, `mixpanel`, `amplitude`, `segment`"
    )
    marketing_source: str = var(
        "files",
        "ACCT_MARKETING_SOURCE",
        "`files`, `hubspot` (marketing e-mail events, form submissions, page views), "
        "`salesforce` (campaign members)",
    )
    marketing_lookback_days: int | None = var(
        None,
        "ACCT_MARKETING_LOOKBACK_DAYS",
        "days of marketing touches the API sources read back from today (the 90-day windows "
        "and the previous window need 180); unset: all history",
        shown="– (all)",
    )
    dagster_home: Path = var(
        Path("data/dagster_home"), "DAGSTER_HOME", "Dagster instance (run history)"
    )
    duckdb_memory_limit: str | None = var(
        None,
        "ACCT_DUCKDB_MEMORY_LIMIT",
        "cap DuckDB's memory, e.g. `1GB` (it spills to disk beyond it). Set it for very large CRM "
        "snapshots: a 35 M-row activities snapshot (1M accounts) took DuckDB past 20 GB without "
        "it, 8 GB with `8GB`",
        shown="DuckDB's default (80 % of RAM)",
    )
    read_copy: Path | None = var(
        None,
        "ACCT_READ_COPY",
        "the read copy every run publishes and readers open ([Reading the results while the "
        "pipeline runs](#reading-the-results-while-the-pipeline-runs))",
        shown="`warehouse.read.duckdb` beside the warehouse",
    )
    writer_wait_seconds: float = var(
        300.0,
        "ACCT_WRITER_WAIT_SECONDS",
        "how long a writing command or pipeline step waits while another process holds the "
        "warehouse, before it stops with a one-line error naming that process (exit code 3)",
        shown="`300`",
    )
    checkpoint_threshold: str = var(
        "1GB",
        "ACCT_DUCKDB_CHECKPOINT_THRESHOLD",
        "write-ahead-log size at which DuckDB checkpoints; the log is always folded in when a "
        "step closes its connection",
    )
    model: Path | None = var(
        None,
        "ACCT_MODEL",
        "the scoring model file",
        shown="`acct_pipeline/models/default.yaml`",
    )
    reports_dir: Path | None = var(
        None,
        "ACCT_REPORTS_DIR",
        "score reports and backtest JSON",
        shown="`reports/` beside the warehouse",
    )
    min_match_rate: str | None = var(
        None,
        "ACCT_MIN_MATCH_RATE",
        "identity match rate below which a check warns (`0.95`, `95` and `95%` are the same)",
        shown="`0.95`",
    )
    volume_band: str | None = var(
        None,
        "ACCT_VOLUME_BAND",
        "allowed row-count ratio to the previous load / partition",
        shown="`0.5,2.0`",
    )
    snapshot_min_share: str | None = var(
        None,
        "ACCT_SNAPSHOT_MIN_SHARE",
        "a snapshot keeping fewer rows than this share of the previous load is rejected whole "
        "and the previous one stays (an empty snapshot always is)",
        shown="`0.5`",
    )
    accept_snapshot_shrink: str | None = var(
        None,
        "ACCT_ACCEPT_SNAPSHOT_SHRINK",
        "raw tables (comma-separated, or `all`) whose shrunken snapshot is accepted: set it for "
        "the one run of a real mass deletion",
        shown="–",
    )
    timestamp_floor: date = var(
        date(1990, 1, 1),
        "ACCT_TIMESTAMP_FLOOR",
        "landing timestamps before this day break `timestamp_too_early`",
    )
    timestamp_ceiling: date = var(
        date(2100, 1, 1),
        "ACCT_TIMESTAMP_CEILING",
        "landing timestamps after this day break `timestamp_too_late`",
    )

    @field_validator("marketing_lookback_days")
    @classmethod
    def _positive_days(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError("must be >= 1 day")
        return value

    @field_validator("writer_wait_seconds")
    @classmethod
    def _not_negative(cls, value: float) -> float:
        if value < 0:
            raise ValueError("must be >= 0 seconds")
        return value


class SyncSettingsVars(Group):
    """Reverse ETL: writing scores back to the CRM (parsed by ``sync/settings.py``)."""

    target: str = var(
        "outbox",
        "ACCT_SYNC_TARGET",
        "`outbox` (CSV files for a CRM import in `data/outbox/`), `hubspot`, `salesforce`",
    )
    max_change_share: str | None = var(
        None,
        "ACCT_SYNC_MAX_CHANGE_SHARE",
        "stop when a run would change more than this share of synced records (`--force` "
        "overrides); `0.5`, `50` or `50%`",
        shown="`0.5`",
    )
    rate_limit: str | None = var(
        None,
        "ACCT_SYNC_RATE_LIMIT",
        "requests per seconds, sized to your plan (same grammar as `HUBSPOT_RATE_LIMIT`); "
        "unset: `HUBSPOT_RATE_LIMIT` / `SALESFORCE_RATE_LIMIT`",
        shown="HubSpot `100/10`, Salesforce `25/1`",
    )
    field_mapping: Path | None = var(
        None,
        "ACCT_SYNC_FIELD_MAPPING",
        "YAML/JSON field mapping (the allow-list of CRM fields written)",
        shown="built-in",
    )
    outbox_dir: Path | None = var(
        None, "ACCT_SYNC_OUTBOX_DIR", "where the outbox target writes", shown="`data/outbox`"
    )
    outbox_format: str = var(
        "hubspot",
        "ACCT_SYNC_OUTBOX_FORMAT",
        "which CRM's import the outbox files are for: `hubspot` (`Record ID` + property names) "
        "or `salesforce` (`Id` + field API names)",
    )
    max_record_attempts: str | None = var(
        None,
        "ACCT_SYNC_MAX_RECORD_ATTEMPTS",
        "sends of a record refused for a transient reason (`LOCKED` …) within one run",
        shown="`4`",
    )
    reconcile_cron: str = var(
        "0 7 * * 0",
        "ACCT_SYNC_RECONCILE_CRON",
        "when the weekly reconcile runs (cron, in `ACCT_SCHEDULE_TZ`); `off` disables it",
    )
    create_fields: str | None = var(
        None,
        "ACCT_SYNC_CREATE_FIELDS",
        "create missing HubSpot properties (in the group `ACCT_SYNC_PROPERTY_GROUP`)",
        shown="`false`",
    )
    property_group: str = var(
        "account_health", "ACCT_SYNC_PROPERTY_GROUP", "the HubSpot property group created"
    )
    batch_size: str | None = var(
        None,
        "ACCT_SYNC_BATCH_SIZE",
        "records per write request",
        shown="the CRM's limit (HubSpot 100, Salesforce 200)",
    )
    concurrency: str | None = var(
        None,
        "ACCT_SYNC_CONCURRENCY",
        "write requests in flight at once (still paced by the rate limit)",
        shown="`4`",
    )
    max_write_attempts: str | None = var(
        None,
        "ACCT_SYNC_MAX_WRITE_ATTEMPTS",
        "tries of one write request on 429 / 5xx before the run stops",
        shown="`5`",
    )
    sample_size: str | None = var(
        None,
        "ACCT_SYNC_SAMPLE_SIZE",
        "changed records shown as examples by `--dry-run` (5 on a real run)",
        shown="`10`",
    )
    read_back: str | None = var(
        None,
        "ACCT_SYNC_READ_BACK",
        "after a crash or an unknown outcome, read records back before resending",
        shown="`true`",
    )


class AutomationSettings(Group):
    """Schedules, sensors and alerts (parsed by ``alerts/timing.py`` and ``alerts/config.py``)."""

    schedule_tz: str = var(
        "UTC",
        "ACCT_SCHEDULE_TZ",
        "time zone of the morning run (it scores the UTC day that just ended)",
    )
    schedule_hour: str | None = var(
        None, "ACCT_SCHEDULE_HOUR", "hour the morning run starts", shown="`6`"
    )
    schedule_minute: str | None = var(
        None, "ACCT_SCHEDULE_MINUTE", "minute the morning run starts", shown="`0`"
    )
    alert_sensor_interval: str | None = var(
        None,
        "ACCT_ALERT_SENSOR_INTERVAL",
        "seconds between the score-drop sensor's ticks",
        shown="`60`",
    )
    freshness_sensor_interval: str | None = var(
        None,
        "ACCT_FRESHNESS_SENSOR_INTERVAL",
        "seconds between the freshness sensor's ticks",
        shown="`300`",
    )
    freshness_hour: str | None = var(
        None,
        "ACCT_FRESHNESS_HOUR",
        "yesterday's scores must exist by this hour, or the `scores_fresh` check turns red",
        shown="`9`",
    )
    alert_window_days: str | None = var(
        None,
        "ACCT_ALERT_WINDOW_DAYS",
        "only the newest N scored days alert (a backfill never pages owners)",
        shown="`3`",
    )
    alert_max_per_day: str | None = var(
        None,
        "ACCT_ALERT_MAX_PER_DAY",
        "more alerts than this in a day are held back (the run fails loudly)",
        shown="`500`",
    )
    alert_channels: str | None = var(
        None,
        "ACCT_ALERT_CHANNELS",
        "any of `log,webhook,hubspot_task,salesforce_task`",
        shown="`log` (+ webhook / CRM when configured)",
    )
    alert_log: Path = var(Path("data/alerts/alerts.jsonl"), "ACCT_ALERT_LOG", "the local alert log")
    alert_webhook_url: str | None = var(
        None, "ACCT_ALERT_WEBHOOK_URL", "Slack-compatible webhook", shown="–"
    )
    alert_webhook_secret: str | None = Field(
        None,
        alias="ACCT_ALERT_WEBHOOK_SECRET",
        description="posts are signed with `X-Acct-Signature` (HMAC-SHA256) when it is set",
        json_schema_extra={"shown": "–"},
        repr=False,
    )
    alert_crm_tasks: str | None = var(
        None,
        "ACCT_ALERT_CRM_TASKS",
        "`hubspot` or `salesforce`: a task for the account owner",
        shown="–",
    )


class HubSpotSettings(Group):
    """HubSpot (CRM source, score write-back, task alerts)."""

    access_token: str | None = Field(
        None,
        alias="HUBSPOT_ACCESS_TOKEN",
        description="private-app access token or Service Key (required for HubSpot)",
        json_schema_extra={"shown": "–"},
        repr=False,
    )
    base_url: str = var("https://api.hubapi.com", "HUBSPOT_BASE_URL", "API host")
    base_path: str = var(
        "/crm/v3/objects",
        "HUBSPOT_BASE_PATH",
        "objects path: `/crm/v3/objects` or the date-versioned `/crm/objects/2026-03` (also "
        "read from the deprecated `HUBSPOT_OBJECTS_PATH`)",
    )
    rate_limit: str = var(
        "100/10",
        "HUBSPOT_RATE_LIMIT",
        "client-side pacing: `<requests>/<seconds>` windows, comma-separated (`100/10`, "
        "`190/10s`, `100/10,250000/86400`), or `none`",
    )
    incremental_state: Path | None = var(
        None,
        "HUBSPOT_INCREMENTAL_STATE",
        "a folder: companies are read incrementally by last-modified time",
        shown="– (full snapshot)",
    )
    marketing_streams: str = var(
        "email,forms,web",
        "HUBSPOT_MARKETING_STREAMS",
        "what `ACCT_MARKETING_SOURCE=hubspot` reads: `email` (marketing e-mail events, scope "
        "`content`), `forms` (form submissions, scope `forms`), `web` (page views from the "
        "events API; needs an Enterprise subscription)",
    )
    page_view_event: str = var(
        "e_visited_page",
        "HUBSPOT_PAGE_VIEW_EVENT",
        "the event type read as page views by the `web` stream",
    )


class SalesforceSettings(Group):
    """Salesforce (CRM source, score write-back, task alerts)."""

    instance_url: str | None = var(
        None, "SALESFORCE_INSTANCE_URL", "the org's instance URL (required)", shown="–"
    )
    access_token: str | None = Field(
        None,
        alias="SALESFORCE_ACCESS_TOKEN",
        description="OAuth access token (required)",
        json_schema_extra={"shown": "–"},
        repr=False,
    )
    api_version: str = var("v62.0", "SALESFORCE_API_VERSION", "REST API version")
    rate_limit: str = var("25/1", "SALESFORCE_RATE_LIMIT", "client-side pacing (windows)")


class ProductSourceSettings(Group):
    """Billing and product sources: Stripe, Mixpanel, Amplitude, Segment."""

    stripe_api_key: str | None = Field(
        None,
        alias="STRIPE_API_KEY",
        description="a restricted key with Read on Customers, Subscriptions, Invoices",
        json_schema_extra={"shown": "–"},
        repr=False,
    )
    stripe_api_version: str = var("2024-06-20", "STRIPE_API_VERSION", "pinned API version")
    stripe_base_url: str = var("https://api.stripe.com", "STRIPE_BASE_URL", "API host")
    stripe_rate_limit: str = var("20/1", "STRIPE_RATE_LIMIT", "client-side pacing (windows)")
    mixpanel_project_id: str | None = var(None, "MIXPANEL_PROJECT_ID", "project id", shown="–")
    mixpanel_user: str | None = var(
        None, "MIXPANEL_SERVICE_ACCOUNT_USERNAME", "service account user name", shown="–"
    )
    mixpanel_secret: str | None = Field(
        None,
        alias="MIXPANEL_SERVICE_ACCOUNT_SECRET",
        description="service account secret",
        json_schema_extra={"shown": "–"},
        repr=False,
    )
    mixpanel_export_url: str = var(
        "https://data.mixpanel.com", "MIXPANEL_EXPORT_URL", "raw export host (EU: data-eu)"
    )
    mixpanel_api_url: str | None = var(
        None, "MIXPANEL_API_URL", "query API host", shown="`https://mixpanel.com`"
    )
    mixpanel_group_property: str = var(
        "group_id", "MIXPANEL_GROUP_PROPERTY", "event property holding the account id"
    )
    mixpanel_group_key_id: str = var("1", "MIXPANEL_GROUP_KEY_ID", "group analytics key id")
    mixpanel_rate_limit: str = var(
        "3/1,60/3600", "MIXPANEL_RATE_LIMIT", "client-side pacing (windows)"
    )
    amplitude_api_key: str | None = var(None, "AMPLITUDE_API_KEY", "project API key", shown="–")
    amplitude_secret_key: str | None = Field(
        None,
        alias="AMPLITUDE_SECRET_KEY",
        description="project secret key",
        json_schema_extra={"shown": "–"},
        repr=False,
    )
    amplitude_base_url: str = var("https://amplitude.com", "AMPLITUDE_BASE_URL", "API host")
    amplitude_group_type: str = var("account", "AMPLITUDE_GROUP_TYPE", "group type of accounts")
    amplitude_late_hours: float = var(
        6, "AMPLITUDE_LATE_HOURS", "hours after a day's end before it is exported"
    )
    amplitude_rate_limit: str = var("4/60", "AMPLITUDE_RATE_LIMIT", "client-side pacing (windows)")
    segment_export_dir: Path | None = var(
        None,
        "SEGMENT_EXPORT_DIR",
        "folder with `tracks/` and `groups/` (parquet, csv or csv.gz)",
        shown="–",
    )


class EngineVars(Group):
    """Which engine runs the heavy steps ([Running on Spark](#running-on-spark))."""

    engine: Literal["duckdb", "spark"] = var(
        "duckdb", "ACCT_ENGINE", "`duckdb` (the embedded warehouse) or `spark`"
    )
    spark_remote: str | None = var(
        None,
        "SPARK_REMOTE",
        "Spark Connect URL (`sc://host:15002`, Databricks); wins over the master URL",
        shown="–",
    )
    spark_master: str = var("local[*]", "ACCT_SPARK_MASTER", "master URL of a classic session")
    lake_path: str | None = var(
        None,
        "ACCT_LAKE_PATH",
        "folder or object-store URI of the Spark engine's tables",
        shown="`lake/` beside the warehouse",
    )

    @field_validator("engine", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


GROUPS: tuple[tuple[str, type[Group]], ...] = (
    ("Environment variables", CoreSettings),
    ("Reverse ETL (sync)", SyncSettingsVars),
    ("Automation and alerts", AutomationSettings),
    ("HubSpot", HubSpotSettings),
    ("Salesforce", SalesforceSettings),
    ("Billing and product sources", ProductSourceSettings),
    ("Engine (Spark)", EngineVars),
)

DEPRECATED_ALIASES = {"HUBSPOT_OBJECTS_PATH": "HUBSPOT_BASE_PATH"}


def _values(model: type[Group], env: Mapping[str, str]) -> dict[str, str]:
    names = {f.alias for f in model.model_fields.values() if f.alias}
    out = {k: env[k].strip() for k in names if (env.get(k) or "").strip()}
    for old, new in DEPRECATED_ALIASES.items():
        if new in names and new not in out and (env.get(old) or "").strip():
            warnings.warn(
                f"{old} is deprecated: set {new} instead", DeprecationWarning, stacklevel=3
            )
            out[new] = env[old].strip()
    return out


def load(model: type[M], env: Mapping[str, str] | None = None) -> M:
    """One group of settings from ``env`` (default: the process environment, read now)."""
    values = _values(model, environ(env))  # type: ignore[arg-type]
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "?"
            problems.append(f"{name}={values.get(name, '')!r}: {err['msg']}")
        raise SettingsError("; ".join(problems)) from None


def get(model: type[Group], field: str, env: Mapping[str, str] | None = None) -> Any:
    """One typed value: only its own variable is read and validated (the error names it)."""
    alias = model.model_fields[field].alias
    values = {k: v for k, v in _values(model, environ(env)).items() if k == alias}
    try:
        return getattr(model.model_validate(values), field)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise SettingsError(f"{alias}={values.get(str(alias), '')!r}: {err['msg']}") from None


def load_core(env: Mapping[str, str] | None = None) -> CoreSettings:
    """Warehouse, sources, partitions, models and landing rules (see ``CoreSettings``)."""
    return load(CoreSettings, env)


def check_all(env: Mapping[str, str] | None = None) -> list[str]:
    """Every group validated; the problems found (empty: all settings usable)."""
    problems = []
    for _, model in GROUPS:
        try:
            load(model, env)
        except SettingsError as exc:
            problems.append(str(exc))
    return problems


# ---------------------------------------------------------------------------------------------
# Documentation
# ---------------------------------------------------------------------------------------------


def _shown(field: Any) -> str:
    extra = field.json_schema_extra or {}
    if "shown" in extra:
        return str(extra["shown"])
    default = field.default
    if default is None:
        return "–"
    if isinstance(default, Path):
        default = default.as_posix()
    if isinstance(default, float) and default.is_integer():
        default = int(default)
    return f"`{default}`"


def markdown() -> str:
    """The README's configuration tables, one per group."""
    parts = []
    for title, model in GROUPS:
        rows = [f"{title}:", "", "| variable | default | meaning |", "| --- | --- | --- |"]
        for field in model.model_fields.values():
            rows.append(f"| `{field.alias}` | {_shown(field)} | {field.description} |")
        parts.append("\n".join(rows))
    return "\n\n".join(parts) + "\n"


def variable_names() -> set[str]:
    """Every environment variable the package reads."""
    return {
        f.alias for _, model in GROUPS for f in model.model_fields.values() if f.alias is not None
    } | set(DEPRECATED_ALIASES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m acct_pipeline.settings")
    parser.add_argument("--markdown", action="store_true", help="print the README tables")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(), end="")
        return 0
    problems = check_all()
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
