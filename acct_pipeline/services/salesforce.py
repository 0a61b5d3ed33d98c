"""Salesforce: the variables, the error classifier and the one ``ServiceClient`` builder.

Used by the CRM connector (``connectors/salesforce.py``), the score sync
(``sync/targets/salesforce.py``) and the task alert channel (``alerts/channels.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import requests

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
    paginate,
    rate_windows,
    require_env,
)

TOKEN_ENV = "SALESFORCE_ACCESS_TOKEN"  # noqa: S105 - a variable name
INSTANCE_ENV = "SALESFORCE_INSTANCE_URL"
VERSION_ENV = "SALESFORCE_API_VERSION"
RATE_ENV = "SALESFORCE_RATE_LIMIT"
DEFAULT_VERSION = "v62.0"
DEFAULT_RATE_LIMIT = "25/1"


def salesforce_classifier(auth_env: str) -> Classifier:
    """Salesforce: 403 ``REQUEST_LIMIT_EXCEEDED`` is the org's 24-hour API quota (not a 429)."""

    def classify(resp: requests.Response) -> Retryable | ApiError | None:
        if resp.status_code not in (401, 403):
            return None
        body = json_or_none(resp)
        codes = (
            {str(e.get("errorCode")) for e in body if isinstance(e, dict)}
            if isinstance(body, list)
            else set()
        )
        if "REQUEST_LIMIT_EXCEEDED" in codes:
            usage = resp.headers.get("Sforce-Limit-Info", "")
            return QuotaExhausted(
                "salesforce: the org's API request limit is exceeded (REQUEST_LIMIT_EXCEEDED"
                + (f", {usage}" if usage else "")
                + "); the run stopped cleanly — rerun when the rolling 24-hour usage drops or ask "
                "Salesforce for a higher limit",
                service="salesforce",
                status=resp.status_code,
            )
        if resp.status_code == 401 or "INVALID_SESSION_ID" in codes:
            return AuthFailed(
                f"salesforce: the session is invalid or expired (INVALID_SESSION_ID) — refresh the "
                f"OAuth access token in {auth_env}",
                service="salesforce",
                status=resp.status_code,
            )
        return AuthFailed(
            f"salesforce: permission denied (403) — the user behind {auth_env} needs 'API Enabled' "
            f"and read access to the objects: {sorted(codes)}",
            service="salesforce",
            status=403,
        )

    return classify


def salesforce_client(
    token: str,
    instance_url: str,
    *,
    rate_limit: Sequence[tuple[int, float]] | None = None,
    retry: RetryPolicy | None = None,
    headers: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ServiceClient:
    """The one Salesforce client: Bearer ``token`` on the org's ``instance_url``, pacing
    ``rate_limit`` (windows; None = none), Salesforce's error meanings; the token is redacted."""
    return ServiceClient(
        "salesforce",
        instance_url,
        auth_env=TOKEN_ENV,
        headers={"Authorization": f"Bearer {token}", **(headers or {})},
        secrets=[token],
        rate_limiter=limiter(rate_limit, sleep=sleep, clock=clock),
        retry=retry,
        classify=salesforce_classifier(TOKEN_ENV),
        sleep=sleep,
    )


def client_from_env(
    env: Mapping[str, str],
    *,
    rate_limit: Sequence[tuple[int, float]] | None | str = "configured",
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ServiceClient:
    """``salesforce_client`` configured by ``SALESFORCE_ACCESS_TOKEN``,
    ``SALESFORCE_INSTANCE_URL`` and (unless ``rate_limit`` is given) ``SALESFORCE_RATE_LIMIT``."""
    token = require_env(env, TOKEN_ENV, "salesforce")
    instance = require_env(env, INSTANCE_ENV, "salesforce")
    windows = (
        rate_windows(env, RATE_ENV, DEFAULT_RATE_LIMIT)
        if rate_limit == "configured"
        else rate_limit
    )
    return salesforce_client(
        token,
        instance,
        rate_limit=windows,  # type: ignore[arg-type]
        sleep=sleep,
        clock=clock,
    )


def query(client: ServiceClient, api_version: str, soql: str) -> Iterator[dict[str, Any]]:
    """Every record of a SOQL query (``GET .../query?q=``), following ``nextRecordsUrl`` until
    ``done``; one page (at most 2,000 records) in memory at a time."""
    version = api_version if api_version.startswith("v") else f"v{api_version}"

    def fetch(next_url: str | None) -> tuple[list[dict[str, Any]], str | None]:
        page = (
            client.get_json(next_url)
            if next_url
            else client.get_json(f"/services/data/{version}/query", params={"q": soql})
        )
        return page.get("records") or [], None if page.get("done", True) else page.get(
            "nextRecordsUrl"
        )

    return paginate(fetch)


def soql_string(value: str) -> str:
    """``value`` as a SOQL string literal (quotes and backslashes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
