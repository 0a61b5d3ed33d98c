"""A threaded loopback HTTP server that the service fakes build on.

``FakeServer`` binds 127.0.0.1 on an ephemeral port, serves in a daemon thread, routes requests to
handler methods, records every call, and injects faults on demand (status bursts, slow responses,
dropped connections). Subclasses add authentication, rate limits and the service's routes.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class FakeClock:
    """Time shared by a fake server and a client under test: ``sleep`` advances it at once.

    Pass ``clock.sleep`` as the connector's sleep and ``clock`` to the fake: rate-limit windows
    then pass as the client "waits", and the test runs in milliseconds.
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.slept = 0.0

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._now += max(0.0, seconds)
            self.slept += max(0.0, seconds)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    raw_path: str

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def args(self, name: str) -> list[str]:
        """All values of a repeated or comma-separated parameter."""
        out: list[str] = []
        for v in self.query.get(name, []):
            out += [p for p in v.split(",") if p]
        return out

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Response:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status,
        json.dumps(obj).encode(),
        {"Content-Type": "application/json;charset=utf-8", **(headers or {})},
    )


@dataclass
class Fault:
    """``kind``: ``status`` (answer ``status`` with ``body``), ``slow`` (wait ``delay`` seconds,
    then answer normally), ``drop`` (close the connection without answering), ``truncate``
    (answer normally but close the connection half-way through the body)."""

    kind: str
    count: int
    status: int = 503
    delay: float = 0.0
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    path: str | None = None  # regex searched in the path; None matches every request
    method: str | None = None

    def matches(self, req: Request) -> bool:
        if self.method and req.method != self.method.upper():
            return False
        return self.path is None or re.search(self.path, req.path) is not None


@dataclass
class Call:
    """One request as the fake saw it (no auth header), and what it answered."""

    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    at: float
    body: bytes = b""
    fault: str | None = None


Handler = Callable[..., Response]


class FakeServer:
    """Base class: subclasses call ``self.route(method, regex, handler)`` in ``__init__``.

    Knobs common to every fake: ``inject(...)`` faults, ``calls`` (every request),
    ``max_url_length``
    (414 beyond it), ``clock`` (a ``FakeClock`` or ``time.time``).
    """

    name = "fake"
    max_url_length = 8192

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self.clock: Callable[[], float] = clock or time.time
        self.lock = threading.RLock()
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- configuration -------------------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method.upper(), re.compile(f"^{pattern}$"), handler))

    def inject(
        self,
        kind: str,
        count: int = 1,
        *,
        status: int = 503,
        delay: float = 0.0,
        body: Any = None,
        headers: dict[str, str] | None = None,
        path: str | None = None,
        method: str | None = None,
    ) -> Fault:
        """Make the next ``count`` matching requests fail (status / slow / drop / truncate).

        A ``status`` fault of 429 without ``body`` uses the service's own rate-limit answer.
        """
        if kind not in ("status", "slow", "drop", "truncate"):
            raise ValueError(f"unknown fault kind {kind!r}")
        fault = Fault(kind, count, status, delay, body, headers or {}, path, method)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def calls_to(self, pattern: str, method: str | None = None) -> list[Call]:
        rx = re.compile(pattern)
        return [
            c for c in self.calls if rx.search(c.path) and (method is None or c.method == method)
        ]

    # -- hooks for subclasses ------------------------------------------------------------------

    def authenticate(self, req: Request) -> Response | None:
        """Return an error response when the request is not authenticated."""
        return None

    def throttle(self, req: Request) -> Response | None:
        """Return a 429 (or the service's equivalent) when the request is over a limit."""
        return None

    def error_response(self, status: int, message: str) -> Response:
        """An error in the service's own shape (subclasses override: HubSpot, Stripe and
        Salesforce each have one, and their SDKs parse nothing else)."""
        return json_response(status, {"error": message})

    def rate_limit_fault_response(self, fault: Fault) -> Response:
        resp = self.error_response(429, "rate limited")
        resp.headers.update({"Retry-After": "1", **fault.headers})
        return resp

    def fault_response(self, fault: Fault) -> Response:
        if fault.status == 429 and fault.body is None:
            return self.rate_limit_fault_response(fault)
        if fault.body is None:
            resp = self.error_response(fault.status, f"injected {fault.status}")
            resp.headers.update(fault.headers)
            return resp
        return json_response(fault.status, fault.body, fault.headers)

    def not_found(self, req: Request) -> Response:
        return self.error_response(404, f"no route for {req.method} {req.path}")

    # -- serving -------------------------------------------------------------------------------

    def _take_fault(self, req: Request) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.count > 0 and fault.matches(req):
                    fault.count -= 1
                    return fault
        return None

    def dispatch(self, req: Request) -> tuple[Response | None, str | None]:
        """The response for ``req`` (None = drop the connection) and the fault applied."""
        fault = self._take_fault(req)
        if fault is not None:
            if fault.kind == "drop":
                return None, "drop"
            if fault.kind == "status":
                return self.fault_response(fault), f"status:{fault.status}"
            if fault.kind == "slow":
                time.sleep(fault.delay)  # real time, so a client timeout can fire
        if len(req.raw_path) > self.max_url_length:
            return Response(
                414,
                b"<html><body>414 Request-URI Too Large</body></html>",
                {"Content-Type": "text/html"},
            ), None
        denied = self.authenticate(req)
        if denied is not None:
            return denied, None
        limited = self.throttle(req)
        if limited is not None:
            return limited, None
        for method, rx, handler in self._routes:
            if method != req.method:
                continue
            m = rx.match(req.path)
            if m:
                return handler(req, **m.groupdict()), fault and (
                    "truncate" if fault.kind == "truncate" else f"slow:{fault.delay}"
                )
        return self.not_found(req), None

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        req = Request(
            method=h.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in h.headers.items()},
            body=body,
            raw_path=h.path,
        )
        try:
            resp, fault = self.dispatch(req)
        except Exception as exc:  # a bug in a fake must show up as a 500, not a hang
            resp, fault = self.error_response(500, f"fake crashed: {exc!r}"), "crash"
        with self.lock:
            self.calls.append(
                Call(
                    req.method,
                    req.path,
                    req.query,
                    resp.status if resp else 0,
                    self.clock(),
                    body,
                    fault,
                )
            )
        if resp is None:
            _hang_up(h)
            return
        h.send_response(resp.status)
        for k, v in resp.headers.items():
            h.send_header(k, v)
        truncate = fault == "truncate"
        if isinstance(resp.body, bytes | bytearray):
            h.send_header("Content-Length", str(len(resp.body)))
            h.end_headers()
            h.wfile.write(resp.body[: len(resp.body) // 2] if truncate else resp.body)
            if truncate:
                _hang_up(h)
            return
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        try:
            for i, chunk in enumerate(_coalesce(resp.body)):
                h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                if truncate and i == 0:
                    _hang_up(h)
                    return
            h.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True

    def start(self) -> FakeServer:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else every answer waits ~40 ms for a delayed ACK

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._serve(self)

            do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_GET

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name=f"{self.name}-fake", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def port(self) -> int:
        assert self._httpd is not None, "start() the fake first"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _hang_up(h: BaseHTTPRequestHandler) -> None:
    h.close_connection = True
    try:
        h.wfile.flush()
        h.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _coalesce(chunks: Iterable[bytes], size: int = 256 * 1024) -> Iterator[bytes]:
    buf: list[bytes] = []
    n = 0
    for c in chunks:
        if not c:
            continue
        buf.append(c)
        n += len(c)
        if n >= size:
            yield b"".join(buf)
            buf, n = [], 0
    if buf:
        yield b"".join(buf)


def bearer_token(req: Request) -> str | None:
    auth = req.header("authorization") or ""
    return auth[7:] if auth[:7].lower() == "bearer " else None


def iso_ms(ts: float) -> str:
    """Epoch seconds as HubSpot/Salesforce-style ISO-8601 with milliseconds, UTC ``Z``."""
    t = time.gmtime(ts)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{int(round((ts % 1) * 1000)) % 1000:03d}Z"
