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
- service-specific meaning of error responses through a ``classify`` hook: HubSpot's 429
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
"""

from __future__ import annotations

import csv
import logging
import random
import re
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urljoin

import pandas as pd
import requests
from requests.adapters import HTTPAdapter
from requests.exceptions import ChunkedEncodingError
from urllib3.util.retry import Retry

from acct_pipeline.connectors.base import RawBatch, SourceError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 120.0)  # (connect, read) seconds
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
USER_AGENT = "acct-pipeline/0.1 (+https://github.com/acct-pipeline)"


# ---------------------------------------------------------------------------------------------
# Exceptions
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Rate limiting and counters
# ---------------------------------------------------------------------------------------------


class RateLimiter:
    """Client-side pacing: at most ``calls`` requests in any ``period`` seconds, per window.

    Several windows can apply at once (Mixpanel: 3 per second and 60 per hour). Sliding window
    over the send times of the last requests; ``acquire`` blocks (through the injected ``sleep``)
    until a slot is free and returns the seconds it waited. Thread-safe.
    """

    def __init__(
        self,
        windows: Sequence[tuple[int, float]],
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not windows or any(n < 1 or p <= 0 for n, p in windows):
            raise ValueError(
                f"rate limit windows must be (calls >= 1, period > 0), got {windows!r}"
            )
        self.windows = [(int(n), float(p)) for n, p in windows]
        self._sent: deque[float] = deque(maxlen=max(n for n, _ in self.windows))
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._skew = 0.0
        self.total_wait = 0.0
        self.waits = 0

    def _now(self) -> float:
        return self._clock() + self._skew

    def _delay(self, now: float) -> float:
        delay = 0.0
        sent = list(self._sent)
        for calls, period in self.windows:
            if len(sent) >= calls:
                oldest = sent[-calls]
                delay = max(delay, oldest + period - now)
        return delay

    def acquire(self) -> float:
        waited = 0.0
        with self._lock:
            while True:
                now = self._now()
                delay = self._delay(now)
                if delay <= 0:
                    self._sent.append(now)
                    break
                self._sleep(delay)
                waited += delay
                # An injected sleep that returns at once (tests) must still let the window pass:
                # count the time it should have taken.
                elapsed = self._now() - now
                if elapsed < delay:
                    self._skew += delay - elapsed
            if waited:
                self.total_wait += waited
                self.waits += 1
        return waited


@dataclass
class HttpStats:
    """What a client did, for run metadata. ``throttle_*``: our own limiter; ``rate_limit_*``:
    waits the server asked for (429)."""

    requests: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0
    throttle_waits: int = 0
    throttle_wait_seconds: float = 0.0
    by_status: dict[int, int] = field(default_factory=dict)

    def as_metadata(self) -> dict[str, int | float]:
        return {
            "http_requests": self.requests,
            "http_retries": self.retries,
            "rate_limit_waits": self.rate_limit_waits,
            "rate_limit_wait_seconds": round(self.rate_limit_wait_seconds, 3),
            "throttle_waits": self.throttle_waits,
            "throttle_wait_seconds": round(self.throttle_wait_seconds, 3),
        }


# ---------------------------------------------------------------------------------------------
# Response classification
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retryable:
    """``classify`` verdict: retry after ``wait`` seconds (None = backoff); ``rate_limited`` counts
    it as a server-side rate-limit wait."""

    wait: float | None = None
    rate_limited: bool = False


Classifier = Callable[[requests.Response], "Retryable | ApiError | None"]


def _body_snippet(resp: requests.Response, limit: int = 500) -> str:
    try:
        text = resp.text
    except Exception:  # pragma: no cover - undecodable body
        return ""
    return text[:limit]


@dataclass
class RetryPolicy:
    """How often and how long to retry. Backoff: ``min(cap, base * 2**n)`` with full jitter."""

    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_max: float = 60.0
    retry_after_max: float = 300.0

    def backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.backoff_max, self.backoff_base * (2**attempt)))


_RETRY_AFTER = Retry(total=0)


def retry_after_seconds(resp: requests.Response, cap: float = 300.0) -> float | None:
    """``Retry-After`` in seconds (integer or HTTP date), None when absent or unparseable."""
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return min(cap, _RETRY_AFTER.parse_retry_after(value))
    except Exception:
        return None


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------


class ServiceClient:
    """One service: base URL, session, auth headers, limiter, retries, counters.

    ``auth_env`` names the environment variable(s) holding the credential, so an ``AuthFailed``
    says what to fix. ``secrets`` are redacted from every logged or raised text.
    """

    def __init__(
        self,
        service: str,
        base_url: str,
        *,
        auth_env: str,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        secrets: Iterable[str | None] = (),
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        rate_limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        classify: Classifier | None = None,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/") + "/"
        self.auth_env = auth_env
        self.timeout = timeout
        self.rate_limiter = rate_limiter
        self.retry = retry or RetryPolicy()
        self.classify = classify
        self.sleep = sleep
        self.stats = HttpStats()
        self._secrets = [s for s in secrets if s]
        self.session = session or requests.Session()
        # Retries are ours (see module doc); the adapter only pools connections.
        adapter = HTTPAdapter(max_retries=0, pool_connections=4, pool_maxsize=8)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        if headers:
            self.session.headers.update(headers)
        if auth:
            self.session.auth = auth

    # -- helpers -------------------------------------------------------------------------------

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return urljoin(self.base_url, path_or_url.lstrip("/"))

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _error(
        self, cls: type[ApiError], msg: str, resp: requests.Response | None, url: str
    ) -> ApiError:
        body = self.redact(_body_snippet(resp)) if resp is not None else None
        return cls(
            self.redact(msg),
            service=self.service,
            status=resp.status_code if resp is not None else None,
            url=self.redact(url),
            body=body,
        )

    def _default_verdict(self, resp: requests.Response, url: str) -> Retryable | ApiError | None:
        status = resp.status_code
        if status == 401:
            return self._error(
                AuthFailed,
                f"{self.service}: authentication failed (401) — check {self.auth_env} "
                "(missing, expired or revoked credential)",
                resp,
                url,
            )
        if status == 403:
            return self._error(
                AuthFailed,
                f"{self.service}: permission denied (403) for {url} — the credential in "
                f"{self.auth_env} lacks a scope or permission this call needs: "
                f"{_body_snippet(resp, 300)}",
                resp,
                url,
            )
        if status == 429:
            return Retryable(
                wait=retry_after_seconds(resp, self.retry.retry_after_max), rate_limited=True
            )
        if status in RETRY_STATUSES:
            return Retryable(wait=retry_after_seconds(resp, self.retry.retry_after_max))
        if status >= 400:
            return self._error(
                ApiError,
                f"{self.service}: {resp.request.method if resp.request else ''} {url} failed with "
                f"{status}: {_body_snippet(resp, 300)}",
                resp,
                url,
            )
        return None

    # -- the request loop ------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        stream: bool = False,
        ok_statuses: Iterable[int] = (),
        timeout: float | tuple[float, float] | None = None,
    ) -> requests.Response:
        """Send with pacing and retries; return a 2xx response (or one in ``ok_statuses``).

        ``idempotent``: whether the request may be repeated after a failure whose outcome is
        unknown (a 5xx, a read timeout). Defaults to True for GET/HEAD/PUT/DELETE/OPTIONS.
        Raises ``AuthFailed``, ``QuotaExhausted``, ``RateLimited`` (429 after every retry) or
        ``ApiError``.
        """
        method = method.upper()
        url = self.url(path_or_url)
        safe = idempotent if idempotent is not None else method in IDEMPOTENT_METHODS
        ok = set(ok_statuses)
        attempt = 0
        while True:
            if self.rate_limiter is not None:
                waited = self.rate_limiter.acquire()
                if waited:
                    self.stats.throttle_waits += 1
                    self.stats.throttle_wait_seconds += waited
            self.stats.requests += 1
            started = time.monotonic()
            try:
                resp = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    data=data,
                    headers=dict(headers) if headers else None,
                    stream=stream,
                    timeout=timeout or self.timeout,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                # A connect error means the request never left: always safe to repeat.
                never_sent = isinstance(exc, requests.ConnectTimeout) or (
                    isinstance(exc, requests.ConnectionError)
                    and not isinstance(exc, requests.ReadTimeout)
                    and "NewConnectionError" in repr(exc)
                )
                attempt += 1
                if not (safe or never_sent) or attempt >= self.retry.max_attempts:
                    raise ApiError(
                        self.redact(
                            f"{self.service}: {method} {url} failed after {attempt} attempt(s): "
                            f"{type(exc).__name__}: {exc}"
                        ),
                        service=self.service,
                        url=self.redact(url),
                    ) from None
                delay = self.retry.backoff(attempt)
                log.warning(
                    "%s: %s %s: %s, retry %d in %.1fs",
                    self.service,
                    method,
                    self.redact(url),
                    type(exc).__name__,
                    attempt,
                    delay,
                )
                self.stats.retries += 1
                self.sleep(delay)
                continue

            status = resp.status_code
            self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
            log.debug(
                "%s: %s %s -> %d in %.3fs",
                self.service,
                method,
                self.redact(resp.url),
                status,
                time.monotonic() - started,
            )
            if status < 400 or status in ok:
                return resp

            verdict = self.classify(resp) if self.classify else None
            if verdict is None:
                verdict = self._default_verdict(resp, url)
            if isinstance(verdict, ApiError):
                resp.close()
                if not verdict.url:
                    verdict.url = self.redact(url)
                verdict.service = verdict.service or self.service
                raise verdict
            if verdict is None:  # pragma: no cover - _default_verdict covers every >= 400
                return resp

            attempt += 1
            # A 429 was never processed: repeating it is safe whatever the method.
            retry_ok = safe or status == 429
            if not retry_ok or attempt >= self.retry.max_attempts:
                resp.close()
                cls = RateLimited if status == 429 else ApiError
                msg = (
                    f"{self.service}: {method} {url} still failing with {status} after "
                    f"{attempt} attempt(s): {_body_snippet(resp, 300)}"
                    if retry_ok
                    else f"{self.service}: {method} {url} failed with {status} and is not safe to "
                    f"repeat automatically: {_body_snippet(resp, 300)}"
                )
                err = self._error(cls, msg, resp, url)
                if isinstance(err, RateLimited):
                    err.retry_after = verdict.wait
                raise err
            delay = verdict.wait if verdict.wait is not None else self.retry.backoff(attempt)
            resp.close()
            self.stats.retries += 1
            if verdict.rate_limited:
                self.stats.rate_limit_waits += 1
                self.stats.rate_limit_wait_seconds += delay
            log.warning(
                "%s: %s %s -> %d, retry %d in %.1fs",
                self.service,
                method,
                self.redact(url),
                status,
                attempt,
                delay,
            )
            self.sleep(delay)

    def download(
        self,
        path_or_url: str,
        dest: BinaryIO,
        *,
        params: Mapping[str, Any] | None = None,
        chunk_size: int = 1 << 20,
        ok_statuses: Iterable[int] = (),
    ) -> requests.Response:
        """Stream a (large) GET body into ``dest``, restarting from scratch if the body breaks off.

        Export endpoints answer with one long streamed body; a connection lost half-way raises in
        the middle of reading, after ``request`` returned. Spooling to a file first means a broken
        download is retried whole and the rows handed on are never partial or doubled; memory
        stays at one chunk. Returns the (closed) response for its status and headers.
        """
        attempt = 0
        while True:
            dest.seek(0)
            dest.truncate()
            resp = self.request(
                "GET", path_or_url, params=params, stream=True, ok_statuses=ok_statuses
            )
            try:
                for chunk in resp.iter_content(chunk_size=chunk_size):
                    dest.write(chunk)
                dest.flush()
                return resp
            except (requests.ConnectionError, requests.Timeout, ChunkedEncodingError) as exc:
                attempt += 1
                if attempt >= self.retry.max_attempts:
                    raise ApiError(
                        self.redact(
                            f"{self.service}: download of {self.url(path_or_url)} broke off "
                            f"{attempt} time(s): {type(exc).__name__}"
                        ),
                        service=self.service,
                    ) from None
                delay = self.retry.backoff(attempt)
                log.warning(
                    "%s: download broke off (%s), restarting in %.1fs",
                    self.service,
                    type(exc).__name__,
                    delay,
                )
                self.stats.retries += 1
                self.sleep(delay)
            finally:
                resp.close()

    def get_json(self, path_or_url: str, **kw: Any) -> Any:
        return self.request("GET", path_or_url, **kw).json()

    def post_json(
        self, path_or_url: str, payload: Any, *, idempotent: bool = False, **kw: Any
    ) -> Any:
        return self.request("POST", path_or_url, json=payload, idempotent=idempotent, **kw).json()


# ---------------------------------------------------------------------------------------------
# Service-specific classifiers
# ---------------------------------------------------------------------------------------------


def _json_or_none(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def hubspot_classifier(auth_env: str) -> Classifier:
    """HubSpot: 429 ``policyName`` DAILY stops the run; rolling / secondly limits wait.

    Without ``Retry-After`` (HubSpot does not promise it) a rolling-window 429 waits for the
    window named in ``X-HubSpot-RateLimit-Interval-Milliseconds`` (10 s) or falls back to backoff.
    """

    def classify(resp: requests.Response) -> Retryable | ApiError | None:
        if resp.status_code != 429:
            if resp.status_code == 403:
                body = _json_or_none(resp) or {}
                return AuthFailed(
                    f"hubspot: permission denied (403) — the token in {auth_env} lacks a scope "
                    f"this call needs: {str(body.get('message', ''))[:300]}",
                    service="hubspot",
                    status=403,
                )
            return None
        body = _json_or_none(resp) or {}
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


def salesforce_classifier(auth_env: str) -> Classifier:
    """Salesforce: 403 ``REQUEST_LIMIT_EXCEEDED`` is the org's 24-hour API quota (not a 429)."""

    def classify(resp: requests.Response) -> Retryable | ApiError | None:
        if resp.status_code not in (401, 403):
            return None
        body = _json_or_none(resp)
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


def no_sleep(_seconds: float) -> None:
    """A ``sleep`` for tests: returns at once."""


# ---------------------------------------------------------------------------------------------
# Small helpers shared by the connectors
# ---------------------------------------------------------------------------------------------


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


def rate_windows(env: Mapping[str, str], name: str, default: str) -> list[tuple[int, float]]:
    """Parse ``"100/10,250000/86400"`` (calls/seconds, comma-separated windows)."""
    raw = (env.get(name) or default).strip()
    out = []
    try:
        for part in raw.split(","):
            calls, period = part.split("/")
            out.append((int(calls), float(period)))
    except ValueError:
        raise SourceError(
            f"{name}={raw!r}: expected calls/seconds, e.g. 100/10 or 3/1,60/3600"
        ) from None
    return out


def batches_of(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    origin: str,
    batch_rows: int = 5000,
) -> Iterator[RawBatch]:
    """Group mapped records into ``RawBatch`` frames of at most ``batch_rows`` rows.

    Pages are consumed as they arrive, so memory holds one batch, never the whole stream.
    """
    buf: list[Mapping[str, Any]] = []
    first = 1
    for row in rows:
        buf.append(row)
        if len(buf) >= batch_rows:
            yield RawBatch(
                origin=origin,
                frame=pd.DataFrame.from_records(buf, columns=list(columns)),
                first_row=first,
            )
            first += len(buf)
            buf = []
    if buf:
        yield RawBatch(
            origin=origin,
            frame=pd.DataFrame.from_records(buf, columns=list(columns)),
            first_row=first,
        )


def text(value: Any) -> str | None:
    """A source value as the loader wants it: a string (``true``/``false`` for booleans,
    integral floats without ``.0``), or None. Keeps pandas from turning ids into floats."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def csv_batches(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    origin: str,
    *,
    on_written: Callable[[], None] | None = None,
) -> Iterator[RawBatch]:
    """Write mapped records to one temporary landing-format CSV and hand it on as one batch.

    For event volumes: the loader then reads the file with DuckDB directly, exactly as it reads
    the files source, instead of converting Python objects batch by batch. Memory holds one row
    while writing; ``on_written`` runs before the batch is yielded (e.g. to free a de-duplication
    set). The file is removed once the loader has consumed it. Nothing is yielded for no rows.
    """
    with tempfile.NamedTemporaryFile(
        "w", suffix=".csv", prefix="acct-batch-", newline="", encoding="utf-8", delete=False
    ) as fh:
        path = Path(fh.name)
        writer = csv.writer(fh)
        writer.writerow(columns)
        n = 0
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
            n += 1
    try:
        if on_written is not None:
            on_written()
        if n:
            yield RawBatch(origin=origin, csv_path=path)
    finally:
        path.unlink(missing_ok=True)
