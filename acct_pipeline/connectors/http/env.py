"""A connector's required credentials, read from its configuration mapping (``settings.py``)."""

from __future__ import annotations

from collections.abc import Mapping

from acct_pipeline.connectors.base import SourceError


def require_env(env: Mapping[str, str], name: str, what: str) -> str:
    """The value of ``name`` or a ``SourceError`` saying which variable to set (never its value)."""
    value = (env.get(name) or "").strip()
    if not value:
        raise SourceError(f"{what}: set the environment variable {name} (see README, 'Sources')")
    return value


def env_number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SourceError(f"{name}={raw!r} is not a number") from None
