"""The shared HTTP layer of the API connectors (and of the CRM sync): one session per service.

Every service client (HubSpot, Salesforce, Stripe, Mixpanel, Amplitude, the sync writers) is a
``ServiceClient``:

- one ``requests.Session`` (connection pooling, keep-alive), a timeout on every request;
- a client-side ``RateLimiter`` (one or more sliding windows, e.g. HubSpot 100 per 10 s, Mixpanel
  3 per second *and* 60 per hour) so we pace ourselves instead of collecting 429s;
- retries with exponential backoff and full jitter on 429, 5xx and connection errors; ``GET``,
  ``HEAD``, ``PUT``, ``DELETE`` and ``OPTIONS`` are retried, a ``POST``/``PATCH`` only when the
  caller marks it ``idempotent=True`` (a batch update by record id sends the same values twice
  without harm; a create does not) — except a connect error, where the request never left;
- ``Retry-After`` honoured (seconds or HTTP date, parsed by urllib3), otherwise backoff;
- service-specific meaning of error responses through a ``classify`` hook (the classifiers live
  with their service in ``acct_pipeline/services/``): HubSpot's 429
  ``policyName`` (``TEN_SECONDLY_ROLLING``/``SECONDLY`` wait and retry, ``DAILY`` raises
  ``QuotaExhausted``), Salesforce's 403 ``REQUEST_LIMIT_EXCEEDED`` (``QuotaExhausted``) and 401
  ``INVALID_SESSION_ID`` (``AuthFailed``);
- counters (requests, retries, rate-limit waits and their seconds) for run metadata
  (``client.stats.as_metadata()``);
- nothing logged or raised contains a token: every message goes through ``redact``.

``sleep`` and ``clock`` are injectable so tests run without waiting.

Why not ``urllib3.Retry`` on the adapter: it cannot read a response body (HubSpot's
``policyName`` decides between "wait" and "stop"), its sleeps cannot be injected or counted, and it
retries POSTs by method, not by the caller's knowledge that this POST is safe to repeat. The
adapter therefore runs with ``max_retries=0`` and this module keeps the loop; urllib3 still parses
``Retry-After``.

Modules: ``errors`` (exceptions, redaction), ``ratelimit`` (``RateLimiter``, windows from the
configuration), ``client`` (``ServiceClient``, ``RetryPolicy``, ``HttpStats``), ``paging``
(``paginate``), ``batches`` (records to ``RawBatch``), ``env`` (required credentials).
"""

from acct_pipeline.connectors.http.batches import batches_of, csv_batches, text
from acct_pipeline.connectors.http.client import (
    DEFAULT_TIMEOUT,
    Classifier,
    HttpStats,
    Retryable,
    RetryPolicy,
    ServiceClient,
    json_or_none,
    no_sleep,
    retry_after_seconds,
)
from acct_pipeline.connectors.http.env import env_number, require_env
from acct_pipeline.connectors.http.errors import (
    ApiError,
    AuthFailed,
    QuotaExhausted,
    RateLimited,
    RejectedRecords,
    redact,
)
from acct_pipeline.connectors.http.paging import paginate
from acct_pipeline.connectors.http.ratelimit import RateLimiter, limiter, rate_windows

__all__ = [
    "DEFAULT_TIMEOUT",
    "ApiError",
    "AuthFailed",
    "Classifier",
    "HttpStats",
    "QuotaExhausted",
    "RateLimited",
    "RateLimiter",
    "RejectedRecords",
    "RetryPolicy",
    "Retryable",
    "ServiceClient",
    "batches_of",
    "csv_batches",
    "env_number",
    "json_or_none",
    "limiter",
    "no_sleep",
    "paginate",
    "rate_windows",
    "redact",
    "require_env",
    "retry_after_seconds",
    "text",
]
