"""HubSpot: the variables, the error classifier and the one ``ServiceClient`` builder.

Used by the CRM connector (``connectors/hubspot.py``), the score sync (``sync/targets/hubspot.py``)
and the task alert channel (``alerts/channels.py``).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence

import requests

from acct_pipeline.connectors.base import SourceError
from acct_pipeline.connectors.http import (
    ApiError,
    AuthFailed,
    Classifier,
    QuotaExhausted,
    Retryable,
    RetryPolicy,
    ServiceClient,
    json_or_none,
    limiter,
    rate_windows,
    require_env,
    retry_after_seconds,
)

TOKEN_ENV = "HUBSPOT_ACCESS_TOKEN"  # noqa: S105 - a variable name
BASE_URL_ENV = "HUBSPOT_BASE_URL"
BASE_PATH_ENV = "HUBSPOT_BASE_PATH"
RATE_ENV = "HUBSPOT_RATE_LIMIT"
STATE_ENV = "HUBSPOT_INCREMENTAL_STATE"
DEFAULT_BASE_URL = "https://api.hubapi.com"
DEFAULT_BASE_PATH = "/crm/v3/objects"
BASE_PATHS = ("/crm/v3/objects", "/crm/objects/2026-03")
OBJECTS_PATH_ENV = "HUBSPOT_OBJECTS_PATH"  # deprecated alias of HUBSPOT_BASE_PATH (alerts read it)
DEFAULT_RATE_LIMIT = "100/10"  # Free/Starter private apps; 190/10 on Professional/Enterprise


def hubspot_classifier(auth_env: str) -> Classifier:
    """HubSpot: 429 ``policyName`` DAILY stops the run; rolling / secondly limits wait.

    Without ``Retry-After`` (HubSpot does not promise it) a rolling-window 429 waits for the
    window named in ``X-HubSpot-RateLimit-Interval-Milliseconds`` (10 s) or falls back to backoff.
    """

    def classify(resp: requests.Response) -> Retryable | ApiError | None:
        if resp.status_code != 429:
            if resp.status_code == 403:
                body = json_or_none(resp) or {}
                return AuthFailed(
                    f"hubspot: permission denied (403) — the token in {auth_env} lacks a scope "
                    f"this call needs: {str(body.get('message', ''))[:300]}",
                    service="hubspot",
                    status=403,
                )
            return None
        body = json_or_none(resp) or {}
        policy = str(body.get("policyName") or "").upper()
        if policy == "DAILY":
            remaining = resp.headers.get("X-HubSpot-RateLimit-Daily-Remaining")
            return QuotaExhausted(
                "hubspot: the portal's DAILY API quota is used up"
                + (f" (X-HubSpot-RateLimit-Daily-Remaining={remaining})" if remaining else "")
                + "; the run stopped cleanly — rerun after midnight (portal time zone) or raise "
                "the quota (API limit increase add-on)",
                service="hubspot",
                status=429,
            )
        wait = retry_after_seconds(resp)
        if wait is None and policy in ("TEN_SECONDLY_ROLLING", ""):
            interval = resp.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
            remaining = resp.headers.get("X-HubSpot-RateLimit-Remaining")
            if interval and interval.isdigit() and remaining == "0":
                wait = int(interval) / 1000.0
        if wait is None and policy == "SECONDLY":
            wait = 1.0
        return Retryable(wait=wait, rate_limited=True)

    return classify


def hubspot_client(
    token: str,
    *,
    base_url: str = DEFAULT_BASE_URL,
    rate_limit: Sequence[tuple[int, float]] | None = None,
    retry: RetryPolicy | None = None,
    headers: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ServiceClient:
    """The one HubSpot client: Bearer ``token``, the portal's pacing ``rate_limit`` (windows; None =
    no client-side pacing), HubSpot's error meanings; the token is redacted from everything."""
    return ServiceClient(
        "hubspot",
        base_url or DEFAULT_BASE_URL,
        auth_env=TOKEN_ENV,
        headers={"Authorization": f"Bearer {token}", **(headers or {})},
        secrets=[token],
        rate_limiter=limiter(rate_limit, sleep=sleep, clock=clock),
        retry=retry,
        classify=hubspot_classifier(TOKEN_ENV),
        sleep=sleep,
    )


def client_from_env(
    env: Mapping[str, str],
    *,
    rate_limit: Sequence[tuple[int, float]] | None | str = "configured",
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ServiceClient:
    """``hubspot_client`` configured by ``HUBSPOT_ACCESS_TOKEN``, ``HUBSPOT_BASE_URL`` and (unless
    ``rate_limit`` is given) ``HUBSPOT_RATE_LIMIT``."""
    token = require_env(env, TOKEN_ENV, "hubspot")
    windows = (
        rate_windows(env, RATE_ENV, DEFAULT_RATE_LIMIT)
        if rate_limit == "configured"
        else rate_limit
    )
    return hubspot_client(
        token,
        base_url=env.get(BASE_URL_ENV) or DEFAULT_BASE_URL,
        rate_limit=windows,  # type: ignore[arg-type]
        sleep=sleep,
        clock=clock,
    )


def base_path_setting(env: Mapping[str, str]) -> str | None:
    """``HUBSPOT_BASE_PATH`` as set (or the deprecated ``HUBSPOT_OBJECTS_PATH``), else None."""
    value = (env.get(BASE_PATH_ENV) or "").strip()
    if not value and (env.get(OBJECTS_PATH_ENV) or "").strip():
        warnings.warn(
            f"{OBJECTS_PATH_ENV} is deprecated: set {BASE_PATH_ENV} instead",
            DeprecationWarning,
            stacklevel=2,
        )
        value = str(env[OBJECTS_PATH_ENV]).strip()
    return value.rstrip("/") or None


def base_path(env: Mapping[str, str]) -> str:
    """The objects path (``HUBSPOT_BASE_PATH``, default ``/crm/v3/objects``), checked."""
    path = base_path_setting(env) or DEFAULT_BASE_PATH
    if not path.startswith("/crm/"):
        raise SourceError(f"{BASE_PATH_ENV}={path!r}: expected e.g. {' or '.join(BASE_PATHS)}")
    return path
