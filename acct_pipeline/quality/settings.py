"""Settings of the landing rules, read once from the environment (documented in README.md).

``ACCT_SNAPSHOT_MIN_SHARE``     a snapshot keeping fewer rows than this share of the previous load
                                is rejected whole (default ``0.5``; ``0`` rejects only an empty one)
``ACCT_ACCEPT_SNAPSHOT_SHRINK`` comma-separated raw tables (or ``all``) whose shrunken snapshot is
                                accepted anyway: set it for the one run of a real mass deletion
``ACCT_TIMESTAMP_FLOOR``        timestamps before this day are quarantined (default ``1990-01-01``)
``ACCT_TIMESTAMP_CEILING``      timestamps on or after this day are quarantined (default
                                ``2100-01-01``)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from acct_pipeline.settings import environ

SNAPSHOT_MIN_SHARE_ENV = "ACCT_SNAPSHOT_MIN_SHARE"
ACCEPT_SHRINK_ENV = "ACCT_ACCEPT_SNAPSHOT_SHRINK"
TIMESTAMP_FLOOR_ENV = "ACCT_TIMESTAMP_FLOOR"
TIMESTAMP_CEILING_ENV = "ACCT_TIMESTAMP_CEILING"

DEFAULT_SNAPSHOT_MIN_SHARE = 0.5
DEFAULT_TIMESTAMP_FLOOR = date(1990, 1, 1)
DEFAULT_TIMESTAMP_CEILING = date(2100, 1, 1)


class LandingSettingsError(ValueError):
    """A landing-rule variable holds a value that cannot be used; the message names it."""


@dataclass(frozen=True)
class LandingRules:
    """How strict the loader is with a load (see the module docstring for the variables)."""

    snapshot_min_share: float = DEFAULT_SNAPSHOT_MIN_SHARE
    accept_shrink: frozenset[str] = field(default_factory=frozenset)
    timestamp_floor: date = DEFAULT_TIMESTAMP_FLOOR
    timestamp_ceiling: date = DEFAULT_TIMESTAMP_CEILING

    def accepts_shrink(self, table: str) -> bool:
        """Whether a shrunken snapshot of ``table`` was accepted deliberately for this run."""
        return "all" in self.accept_shrink or table in self.accept_shrink

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LandingRules:
        env = environ(env)
        share = _share(env.get(SNAPSHOT_MIN_SHARE_ENV))
        floor = _day(env, TIMESTAMP_FLOOR_ENV, DEFAULT_TIMESTAMP_FLOOR)
        ceiling = _day(env, TIMESTAMP_CEILING_ENV, DEFAULT_TIMESTAMP_CEILING)
        if ceiling <= floor:
            raise LandingSettingsError(
                f"{TIMESTAMP_CEILING_ENV}={ceiling} must be after {TIMESTAMP_FLOOR_ENV}={floor}"
            )
        accept = frozenset(
            t.strip() for t in (env.get(ACCEPT_SHRINK_ENV) or "").split(",") if t.strip()
        )
        return cls(
            snapshot_min_share=share,
            accept_shrink=accept,
            timestamp_floor=floor,
            timestamp_ceiling=ceiling,
        )


def _share(raw: str | None) -> float:
    if not raw:
        return DEFAULT_SNAPSHOT_MIN_SHARE
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise LandingSettingsError(
            f"{SNAPSHOT_MIN_SHARE_ENV}={raw!r} must be a share between 0 and 1 (e.g. 0.5)"
        )
    return value


def _day(env: Mapping[str, str], name: str, default: date) -> date:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return date.fromisoformat(raw.strip())
    except ValueError as exc:
        raise LandingSettingsError(f"{name}={raw!r} is not a date (YYYY-MM-DD)") from exc
