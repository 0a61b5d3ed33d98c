"""``ServiceClient``: one session per service with timeouts, pacing, retries and counters."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter
from requests.exceptions import ChunkedEncodingError
from urllib3.util.retry import Retry

from acct_pipeline.connectors.http.errors import ApiError, AuthFailed, RateLimited, redact
from acct_pipeline.connectors.http.ratelimit import RateLimiter

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 120.0)  # (connect, read) seconds
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
USER_AGENT = "acct-pipeline/0.1 (+https://github.com/acct-pipeline)"


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


@dataclass(frozen=True)
class Retryable:
    """``classify`` verdict: retry after ``wait`` seconds (None = backoff); ``rate_limited`` counts
    it as a server-side rate-limit wait."""

    wait: float | None = None
    rate_limited: bool = False


Classifier = Callable[[requests.Response], "Retryable | ApiError | None"]


def body_snippet(resp: requests.Response, limit: int = 500) -> str:
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
        body = self.redact(body_snippet(resp)) if resp is not None else None
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
                f"{body_snippet(resp, 300)}",
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
                f"{status}: {body_snippet(resp, 300)}",
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
                    f"{attempt} attempt(s): {body_snippet(resp, 300)}"
                    if retry_ok
                    else f"{self.service}: {method} {url} failed with {status} and is not safe to "
                    f"repeat automatically: {body_snippet(resp, 300)}"
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


def json_or_none(resp: requests.Response) -> Any:
    """The response body as JSON, None when it is not JSON."""
    try:
        return resp.json()
    except ValueError:
        return None


def no_sleep(_seconds: float) -> None:
    """A ``sleep`` for tests: returns at once."""
