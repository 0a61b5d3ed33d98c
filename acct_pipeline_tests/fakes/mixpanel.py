"""A fake Mixpanel project: raw event export (JSON lines, streamed) and group profiles (Engage).

``GET /api/2.0/export?project_id=&from_date=&to_date=`` (dates inclusive, UTC) streams one JSON
object per line, chunked, ``{"event", "properties": {"time", "distinct_id", "$insert_id",
<account_property>, ..., "mp_processing_time_ms", "$mp_api_endpoint", "mp_lib"}}``. Like the
real export it is **not de-duplicated**: the landing file's own duplicate rows are served as they
are, and ``duplicate_every=N`` re-sends every N-th event once more (same ``$insert_id``, later
``mp_processing_time_ms``), as client retries do. Events without a parseable time are not stored
(Mixpanel rejects them at ingestion); events without an id have no ``$insert_id``.

``POST /api/2.0/engage`` with ``data_group_id`` pages group profiles (``page``, ``session_id``,
``page_size`` 1000 by default, knob ``engage_page_size``).

Auth: service account as HTTP basic (``USERNAME``/``SECRET``), ``project_id`` required (400).
Limits: ``hourly_limit=60`` queries per rolling hour and ``per_second=3`` -> 429. Events come
from ``load_landing(dir)`` (read lazily per request) or ``events_source=callable(day) ->
iterable of landing-shaped dicts`` (the 1M-event benchmark uses a synthetic one).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from acct_pipeline.warehouse import PRODUCT_EVENTS, PRODUCT_GROUPS
from acct_pipeline_tests.fakes import landing
from acct_pipeline_tests.fakes.base import FakeServer, Fault, Request, Response, json_response

USERNAME = "acct-pipeline.1a2b3c.mp-service-account"
SECRET = "mpsa-Secret-For-Tests-0123456789abcdef"
PROJECT_ID = "3141592"
GROUP_KEY_ID = "1"

EventsSource = Callable[[date], Iterable[dict[str, str | None]]]


class FakeMixpanel(FakeServer):
    name = "mixpanel"

    def __init__(
        self,
        username: str = USERNAME,
        secret: str = SECRET,
        project_id: str = PROJECT_ID,
        *,
        account_property: str = "group_id",
        duplicate_every: int | None = 50,
        hourly_limit: int | None = 60,
        per_second: int | None = 3,
        engage_page_size: int = 1000,
        events_source: EventsSource | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(clock)
        self.username, self.secret, self.project_id = username, secret, project_id
        self.account_property = account_property
        self.duplicate_every = duplicate_every
        self.hourly_limit = hourly_limit
        self.per_second = per_second
        self.engage_page_size = engage_page_size
        self.events_source = events_source
        self.groups: list[dict[str, Any]] = []
        self.events_sent = 0
        self.duplicates_sent = 0
        self._queries: list[float] = []
        self.route("GET", "/api/2.0/export/?", self.export)
        self.route("POST", "/api/2.0/engage/?", self.engage)

    def load_landing(self, root: str | Path) -> FakeMixpanel:
        root = Path(root)
        self.events_source = lambda day: landing.rows(root, PRODUCT_EVENTS, day)
        self.groups = []
        for row in landing.unique_rows(root, PRODUCT_GROUPS):
            created = landing.parse_ts(row.get("created_at"))
            props = {
                "$name": row.get("name"),
                "domain": row.get("domain"),
                "$created": created.strftime("%Y-%m-%dT%H:%M:%S")
                if created
                else row.get("created_at"),
            }
            if row.get("crm_company_id"):
                props["crm_company_id"] = row["crm_company_id"]
            self.groups.append({"$distinct_id": row["group_id"], "$properties": props})
        return self

    # -- auth and limits -----------------------------------------------------------------------

    def authenticate(self, req: Request) -> Response | None:
        auth = req.header("authorization") or ""
        ok = False
        if auth.lower().startswith("basic "):
            user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            ok = (user, pw) == (self.username, self.secret)
        if not ok:
            return json_response(
                401,
                {
                    "error": "Invalid credentials: service account or secret is wrong",
                    "status": "error",
                },
            )
        if req.arg("project_id") != self.project_id:
            return json_response(
                400,
                {
                    "error": "project_id is required and must name a project this "
                    "service account can access",
                    "status": "error",
                },
            )
        return None

    def _429(self, why: str) -> Response:
        return json_response(429, {"error": f"Query rate limit exceeded: {why}", "status": "error"})

    def rate_limit_fault_response(self, fault: Fault) -> Response:
        return self._429("too many requests")

    def throttle(self, req: Request) -> Response | None:
        with self.lock:
            now = self.clock()
            self._queries = [t for t in self._queries if t > now - 3600]
            if (
                self.per_second is not None
                and sum(1 for t in self._queries if t > now - 1) >= self.per_second
            ):
                return self._429(f"{self.per_second} queries per second")
            if self.hourly_limit is not None and len(self._queries) >= self.hourly_limit:
                return self._429(f"{self.hourly_limit} queries per hour")
            self._queries.append(now)
        return None

    # -- export --------------------------------------------------------------------------------

    def export(self, req: Request) -> Response:
        try:
            start = date.fromisoformat(req.arg("from_date") or "")
            end = date.fromisoformat(req.arg("to_date") or "")
        except ValueError:
            return json_response(
                400, {"error": "from_date and to_date must be YYYY-MM-DD", "status": "error"}
            )
        if end < start:
            return json_response(400, {"error": "to_date is before from_date", "status": "error"})
        if self.events_source is None:
            return Response(200, b"", {"Content-Type": "text/plain; charset=utf-8"})
        return Response(200, self._lines(start, end), {"Content-Type": "text/plain; charset=utf-8"})

    def _lines(self, start: date, end: date) -> Iterator[bytes]:
        assert self.events_source is not None
        day = start
        processed = int(self.clock() * 1000)
        while day <= end:
            buf: list[bytes] = []
            for i, row in enumerate(self.events_source(day)):
                event = self.to_mixpanel(row, processed)
                if event is None:
                    continue
                line = json.dumps(event).encode() + b"\n"
                buf.append(line)
                self.events_sent += 1
                if self.duplicate_every and i % self.duplicate_every == self.duplicate_every - 1:
                    event["properties"]["mp_processing_time_ms"] += 1234
                    buf.append(json.dumps(event).encode() + b"\n")
                    self.duplicates_sent += 1
                if len(buf) >= 2000:
                    yield b"".join(buf)
                    buf = []
            if buf:
                yield b"".join(buf)
            day += timedelta(days=1)

    def to_mixpanel(self, row: dict[str, str | None], processed_ms: int) -> dict[str, Any] | None:
        ts = landing.parse_ts(row.get("occurred_at"))
        if ts is None:
            return None
        seconds = ts.timestamp()
        props: dict[str, Any] = {
            "time": int(seconds) if seconds == int(seconds) else int(seconds * 1000),
            "distinct_id": row.get("user_id"),
        }
        if row.get("event_id"):
            props["$insert_id"] = row["event_id"]
        if row.get("group_id"):
            props[self.account_property] = row["group_id"]
        if row.get("properties"):
            props.update(json.loads(row["properties"]))
        props |= {
            "mp_processing_time_ms": processed_ms,
            "$mp_api_endpoint": "api.mixpanel.com",
            "mp_lib": "python",
        }
        return {"event": row.get("event_name"), "properties": props}

    # -- engage (group profiles) ---------------------------------------------------------------

    def engage(self, req: Request) -> Response:
        form = {k: v[-1] for k, v in _form(req).items()}
        if form.get("data_group_id") != GROUP_KEY_ID:
            return json_response(
                400, {"error": "data_group_id does not name a group key", "status": "error"}
            )
        page = int(form.get("page") or 0)
        if page and not form.get("session_id"):
            return json_response(
                400, {"error": "session_id is required for page > 0", "status": "error"}
            )
        size = self.engage_page_size
        results = self.groups[page * size : (page + 1) * size]
        return json_response(
            200,
            {
                "page": page,
                "page_size": size,
                "session_id": "1234567890-EXAMPL",
                "status": "ok",
                "total": len(self.groups),
                "results": results,
            },
        )


def _form(req: Request) -> dict[str, list[str]]:
    from urllib.parse import parse_qs

    out = dict(req.query)
    if req.body:
        for k, v in parse_qs(req.body.decode(), keep_blank_values=True).items():
            out[k] = v
    return out
