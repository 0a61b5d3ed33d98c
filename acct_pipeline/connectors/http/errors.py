"""The errors of the HTTP layer, and redaction: nothing raised or logged carries a token."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from acct_pipeline.connectors.base import SourceError


class ApiError(SourceError):
    """An API answered with an error we cannot retry away (or retries ran out)."""

    def __init__(
        self,
        message: str,
        *,
        service: str = "",
        status: int | None = None,
        url: str | None = None,
        body: str | None = None,
    ) -> None:
        super().__init__(message)
        self.service = service
        self.status = status
        self.url = url
        self.body = body


class AuthFailed(ApiError):
    """401/403 for credentials: the message names the environment variable to fix."""


class RateLimited(ApiError):
    """Still rate limited (429) after every retry; ``retry_after`` seconds if the API said."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class QuotaExhausted(ApiError):
    """A daily / org-wide quota is used up: stop the run cleanly, retrying now cannot help."""


class RejectedRecords(ApiError):
    """Some records of a write were rejected; ``errors`` maps record id -> the API's message."""

    def __init__(self, message: str, *, errors: Mapping[str, str] | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.errors: dict[str, str] = dict(errors or {})


# ---------------------------------------------------------------------------------------------
# Redaction
# ---------------------------------------------------------------------------------------------

_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)(basic\s+)[A-Za-z0-9+/=]+"),
    re.compile(r"(?i)((?:access_token|api_key|apikey|token|secret|password|hapikey)=)[^&\s]+"),
    re.compile(r"\b((?:sk|rk|pk)_(?:live|test)_)[A-Za-z0-9]+"),
    re.compile(r"\b(pat-[a-z0-9]+-)[A-Za-z0-9-]+"),  # HubSpot private-app tokens
)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with known secrets and anything shaped like a credential replaced by ``***``."""
    out = str(text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            out = out.replace(secret, "***")
    for pattern in _SECRET_PATTERNS:
        out = pattern.sub(lambda m: m.group(1) + "***", out)
    return out
