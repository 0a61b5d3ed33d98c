"""Calendar rules of the automation, as plain functions the schedule, sensors and tests share.

Partitions are UTC days (``defs/partitions.py``). The schedule fires at a local hour in
``ACCT_SCHEDULE_TZ``; whatever that zone, the day it runs is the newest UTC day that has fully
ended at the tick, so no day is ever scored before its events are complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from acct_pipeline.settings import environ

SCHEDULE_TZ_ENV = "ACCT_SCHEDULE_TZ"
SCHEDULE_HOUR_ENV = "ACCT_SCHEDULE_HOUR"
SCHEDULE_MINUTE_ENV = "ACCT_SCHEDULE_MINUTE"
FRESHNESS_HOUR_ENV = "ACCT_FRESHNESS_HOUR"
ALERT_SENSOR_INTERVAL_ENV = "ACCT_ALERT_SENSOR_INTERVAL"
FRESHNESS_SENSOR_INTERVAL_ENV = "ACCT_FRESHNESS_SENSOR_INTERVAL"
DEFAULT_SCHEDULE_TZ = "UTC"
DEFAULT_SCHEDULE_HOUR = 6
DEFAULT_FRESHNESS_HOUR = 9
DEFAULT_ALERT_SENSOR_INTERVAL = 60
DEFAULT_FRESHNESS_SENSOR_INTERVAL = 300


class TimingConfigError(ValueError):
    """A schedule setting is wrong; the message names the variable."""


def _whole(env: Mapping[str, str], name: str, default: int, low: int, high: int, what: str) -> int:
    raw = env.get(name)
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise TimingConfigError(f"{name}={raw!r} must be {what} from {low} to {high}")
    return int(raw)


def _hour(env: Mapping[str, str], name: str, default: int) -> int:
    return _whole(env, name, default, 0, 23, "an hour")


def schedule_timezone(env: Mapping[str, str] | None = None) -> str:
    """``ACCT_SCHEDULE_TZ`` (an IANA name such as Europe/Berlin), default UTC."""
    env = environ(env)
    tz = env.get(SCHEDULE_TZ_ENV) or DEFAULT_SCHEDULE_TZ
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimingConfigError(
            f"{SCHEDULE_TZ_ENV}={tz!r} is not an IANA time zone (e.g. Europe/Berlin)"
        ) from None
    return tz


def schedule_hour(env: Mapping[str, str] | None = None) -> int:
    return _hour(environ(env), SCHEDULE_HOUR_ENV, DEFAULT_SCHEDULE_HOUR)


def schedule_minute(env: Mapping[str, str] | None = None) -> int:
    """``ACCT_SCHEDULE_MINUTE``: the minute of the schedule's hour (default 0, i.e. 06:00)."""
    return _whole(environ(env), SCHEDULE_MINUTE_ENV, 0, 0, 59, "a minute")


def sensor_interval(name: str, default: int, env: Mapping[str, str] | None = None) -> int:
    """Seconds between a sensor's ticks: ``ACCT_ALERT_SENSOR_INTERVAL`` (default 60) or
    ``ACCT_FRESHNESS_SENSOR_INTERVAL`` (default 300)."""
    return _whole(environ(env), name, default, 1, 86400, "seconds")


def freshness_hour(env: Mapping[str, str] | None = None) -> int:
    return _hour(environ(env), FRESHNESS_HOUR_ENV, DEFAULT_FRESHNESS_HOUR)


def last_complete_day(moment: datetime) -> date:
    """The newest UTC day that has fully ended at ``moment`` (an aware datetime)."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    return moment.astimezone(UTC).date() - timedelta(days=1)


def last_deadline(now: datetime, hour: int, tz: str) -> datetime:
    """The most recent ``hour``:00 in ``tz`` at or before ``now``."""
    local = now.astimezone(ZoneInfo(tz))
    today = datetime.combine(local.date(), time(hour), ZoneInfo(tz))
    return (
        today
        if local >= today
        else datetime.combine(local.date() - timedelta(days=1), time(hour), ZoneInfo(tz))
    )


def expected_partition(now: datetime, hour: int, tz: str) -> date:
    """The scores partition that must exist at ``now``: the day completed before the last deadline.

    With the defaults (09:00 UTC): from 09:00 on D+1 partition D must be there; before 09:00 only
    D-1 is expected.
    """
    return last_complete_day(last_deadline(now, hour, tz))


def in_alert_window(partition: date, newest: date, window_days: int) -> bool:
    """Whether a scores partition is recent enough to alert: one of the ``window_days`` newest days.

    ``newest`` is the newest scores partition materialized so far, so a backfill of old history
    never pages owners, while the day the schedule just scored (and the few before it, for a late
    run or a rerun) does.
    """
    return newest - timedelta(days=window_days - 1) <= partition <= newest
