"""The interface every sync target implements, and the value comparisons they share."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from acct_pipeline.connectors.http import (
    ApiError,
    HttpStats,
    ServiceClient,
)
from acct_pipeline.sync.mapping import FieldMapping, FieldSpec


@dataclass(frozen=True)
class OutRecord:
    """One record to write: the CRM record id and mapping name -> canonical text (None = clear)."""

    record_id: str
    values: dict[str, str | None]


@dataclass
class BatchOutcome:
    """What the CRM said about one write request.

    ``accepted``: confirmed written; ``rejected``: record id -> the CRM's message (retried next
    run);
    ``unknown``: neither confirmed nor refused in the answer (the engine reads them back).
    """

    accepted: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)


class SyncTarget(ABC):
    """A CRM (or the outbox). Implementations hold no warehouse connection: the engine does."""

    name: str = ""
    batch_size: int = 100
    # the ledger event for a record the target took: a CRM "accepted" it; the outbox "exported" it
    # (nobody knows yet whether the file was imported)
    delivered_event: str = "accepted"

    def __init__(self, mapping: FieldMapping) -> None:
        self.mapping = mapping
        self.specs: tuple[FieldSpec, ...] = mapping.for_target(self.name)
        self.write_requests = 0

    def prepare(self) -> list[str]:
        """Check (and, when allowed, create) the CRM fields before the first write of a run.

        Returns notes for the report (e.g. properties created). Raises ``SyncConfigError`` naming
        missing fields when they cannot be created.
        """
        return []

    @abstractmethod
    def write(self, records: Sequence[OutRecord], batch_id: str) -> BatchOutcome:
        """Send one batch (at most ``batch_size`` records)."""

    def read_back(
        self, records: Sequence[OutRecord], batch_ids: Sequence[str | None]
    ) -> set[str] | None:
        """Record ids whose CRM values already equal ``values`` (None: the target cannot tell)."""
        return None

    def identity(self) -> str | None:
        """The CRM instance's own id, read from the CRM (None: it has none to read; the ledger
        key is then derived from the settings — ``sync/identity.py``)."""
        return None

    def http_stats(self) -> HttpStats | None:
        return None

    def pause(self, attempt: int) -> None:
        """Back off before retrying after an unknown outcome (HTTP targets sleep with jitter)."""
        client = getattr(self, "client", None)
        if client is not None:
            client.sleep(client.retry.backoff(attempt))

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def redact(self, text: str) -> str:
        return text


def plan_windows(rate_limit: Sequence[tuple[int, float]] | None) -> list[tuple[int, float]] | None:
    """The plan's limit windows with a small margin, for the client-side limiter.

    Our limiter stamps a request when it leaves; the CRM counts it when it arrives. Without a margin
    the 101st request can reach HubSpot a hair before the 1st has left its 10-second window, and a
    429 costs a whole window. 1 % + 50 ms of slack keeps us under it at ~98 % of the limit.
    """
    if not rate_limit:
        return None
    return [(calls, period * 1.01 + 0.05) for calls, period in rate_limit]


def values_equal(spec: FieldSpec, crm_value: Any, expected: str | None) -> bool:
    """Does the CRM's value equal what we sent? Numbers compare as numbers, dates by day, text
    exactly; an empty string and None both mean "no value"."""
    if crm_value in (None, "") or expected in (None, ""):
        return crm_value in (None, "") and expected in (None, "")
    if spec.type == "number":
        try:
            a, b = float(crm_value), float(expected)
        except (TypeError, ValueError):
            return False
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if spec.type == "date":
        return str(crm_value)[:10] == str(expected)[:10]
    return str(crm_value) == str(expected)


# Per-record rejections that say "not now" rather than "no": the same write may land a moment later.
# HubSpot 207 error categories, Salesforce per-record status codes.
TRANSIENT_CATEGORIES = frozenset(
    {
        "LOCKED",
        "RATE_LIMITS",
        "RATE_LIMIT",
        "CONCURRENT_MODIFICATION",
        "TIMEOUT",
        "SERVICE_UNAVAILABLE",
        "UNABLE_TO_LOCK_ROW",
        "REQUEST_RUNNING_TOO_LONG",
        "SERVER_UNAVAILABLE",
    }
)


def rejection_category(message: str) -> str:
    """The category a target put in front of a per-record message (``"LOCKED: ..."``)."""
    head = message.split(":", 1)[0].strip()
    return head if head and head.replace("_", "").isalnum() and head.isupper() else "ERROR"


def is_transient(message: str) -> bool:
    return rejection_category(message) in TRANSIENT_CATEGORIES


def is_config_error(exc: ApiError) -> bool:
    """A 400 that no split of the batch can fix: a field / property that does not exist."""
    text = f"{exc} {exc.body or ''}"
    return any(
        k in text
        for k in ("PROPERTY_DOESNT_EXIST", "does not exist", "INVALID_FIELD", "No such column")
    )


class HttpTarget(SyncTarget):
    """A CRM reached over HTTP: one ``ServiceClient`` (built by ``acct_pipeline.services``) with
    Bearer auth, the plan's rate limit, retries and the service's error classifier; secrets
    redacted from everything it reports."""

    client: ServiceClient

    def redact(self, text: str) -> str:
        return self.client.redact(text)

    def http_stats(self) -> HttpStats:
        return self.client.stats

    def close(self) -> None:
        self.client.close()
