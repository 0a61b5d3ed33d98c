"""The marketing side of the fake HubSpot portal: e-mail events, forms and their submissions,
web analytics events. ``FakeHubSpot`` mixes this in; the routes follow the public contracts:

- ``GET /email/public/v1/events``: ``limit`` 1..1000 (default 10; else 400), ``eventType``
  (case-sensitive), ``startTimestamp`` / ``endTimestamp`` (epoch ms, inclusive),
  ``excludeFilteredEvents``, ``recipient``; newest first; ``{events, hasMore, offset}`` where
  ``offset`` is an opaque token valid only for the same query (without ``offset`` / ``limit``):
  anything else answers 400.
- ``GET /marketing/v3/forms``: ``limit``, ``after`` cursor, ``paging.next``.
- ``GET /form-integrations/v1/submissions/forms/{guid}``: 404 for an unknown form; ``limit`` 1..50
  (default 20; else 400), ``after`` cursor; newest first; ``{results: [{conversionId,
  submittedAt, values: [{name, value}], pageUrl}], paging}``.
- ``GET /events/v3/events``: ``objectType`` required (400 without), ``eventType``,
  ``objectId``, ``occurredAfter`` / ``occurredBefore`` (ISO 8601), ``limit``, ``after``;
  ``{results: [{id, eventType, objectId, objectType, occurredAt, properties}], paging}``.

Knobs: ``email_events``, ``forms``, ``submissions`` (form guid -> newest first),
``web_events`` are the store; ``load_touches(rows)`` fills it from contract rows (``e-mail``
kinds become events of the contact's address, form submissions go round-robin to three forms,
page views become ``e_visited_page`` events); ``add_email_event(...)`` adds one by hand (e.g. a
filtered one, or one to an address that is no contact).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import Iterable, Mapping
from typing import Any

from acct_pipeline_tests.fakes import landing
from acct_pipeline_tests.fakes.base import Request, Response, iso_ms, json_response
from acct_pipeline_tests.fakes.marketing import epoch_ms

EMAIL_TYPES = {"email_open": "OPEN", "email_click": "CLICK", "email_bounce": "BOUNCE"}
PAGE_VIEW_EVENT = "e_visited_page"
FORM_NAMES = ("Contact us", "Download the guide", "Webinar sign-up")
CONTACT_OBJECT_TYPES = {"0-1", "contact", "contacts"}


def _strip(touch_id: str) -> str:
    for prefix in ("hs-email-", "hs-form-", "hs-web-"):
        if touch_id.startswith(prefix):
            return touch_id[len(prefix) :]
    return touch_id


class HubSpotMarketingRoutes:
    """Mixin for ``FakeHubSpot`` (which provides ``route``, ``lock``, ``objects``, the error
    helpers and ``portal_id``)."""

    email_events: list[dict[str, Any]]
    forms: dict[str, dict[str, Any]]
    submissions: dict[str, list[dict[str, Any]]]
    web_events: list[dict[str, Any]]

    def _init_marketing(self) -> None:
        self.email_events = []
        self.forms = {}
        self.submissions = {}
        self.web_events = []
        self._marketing_ids = itertools.count(5_000_000_001)
        route = self.route  # type: ignore[attr-defined]
        route("GET", "/email/public/v1/events/?", self.list_email_events)
        route("GET", "/marketing/v3/forms/?", self.list_forms)
        route(
            "GET", "/form-integrations/v1/submissions/forms/(?P<guid>[^/]+)", self.list_submissions
        )
        route("GET", "/events/v3/events/?", self.list_web_events)

    # -- filling the store ---------------------------------------------------------------------

    def add_email_event(
        self,
        event_type: str,
        recipient: str,
        created_ms: int,
        event_id: str | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        event = {
            "id": event_id or str(next(self._marketing_ids)),
            "created": created_ms,
            "type": event_type,
            "recipient": recipient,
            "portalId": self.portal_id,  # type: ignore[attr-defined]
            "appId": 113,
            "appName": "BatchEmail",
            "emailCampaignId": 12_345_678,
            "sentBy": {"id": "sent-1", "created": created_ms - 3_600_000},
            **kw,
        }
        if event_type in ("OPEN", "CLICK"):
            event.setdefault("filteredEvent", False)
        self.email_events.append(event)
        return event

    def add_form(self, name: str) -> str:
        guid = hashlib.sha1(name.encode()).hexdigest()  # noqa: S324 - an id, not security
        guid = f"{guid[:8]}-{guid[8:12]}-{guid[12:16]}-{guid[16:20]}-{guid[20:32]}"
        self.forms[guid] = {
            "id": guid,
            "name": name,
            "formType": "hubspot",
            "createdAt": "2024-01-10T09:00:00.000Z",
            "updatedAt": "2024-01-10T09:00:00.000Z",
            "archived": False,
            "fieldGroups": [],
        }
        self.submissions.setdefault(guid, [])
        return guid

    def load_touches(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Serve contract touches (rows of ``source`` hubspot with a known contact)."""
        contacts = self.objects["contacts"]  # type: ignore[attr-defined]
        guids = [self.add_form(n) for n in FORM_NAMES]
        for i, row in enumerate(rows):
            contact = contacts.get(row.get("contact_id") or "")
            when = epoch_ms(row.get("occurred_at"))
            if contact is None or when is None:
                continue
            email = contact.properties.get("email")
            rid = _strip(str(row["touch_id"]))
            kind = row.get("activity_type")
            if kind in EMAIL_TYPES and email:
                self.add_email_event(EMAIL_TYPES[kind], email, when, rid)
            elif kind == "form_submission" and email:
                self.submissions[guids[i % len(guids)]].append(
                    {
                        "conversionId": rid,
                        "submittedAt": when,
                        "values": [
                            {"name": "email", "value": email},
                            {"name": "firstname", "value": contact.properties.get("firstname")},
                        ],
                        "pageUrl": "https://www.example.com/contact",
                    }
                )
            elif kind == "page_view":
                self.web_events.append(
                    {
                        "id": rid,
                        "eventType": PAGE_VIEW_EVENT,
                        "objectId": contact.id,
                        "objectType": "CONTACT",
                        "occurredAt": iso_ms(when / 1000),
                        "properties": {"hs_url": "https://www.example.com/pricing"},
                    }
                )

    # -- routes --------------------------------------------------------------------------------

    def _limit(self, req: Request, default: int, maximum: int | None) -> int | Response:
        raw = req.arg("limit", str(default)) or str(default)
        try:
            limit = int(raw)
        except ValueError:
            return self._bad_request(f"limit must be an integer, got {raw!r}")  # type: ignore[attr-defined]
        if limit < 1 or (maximum is not None and limit > maximum):
            bound = f"between 1 and {maximum}" if maximum else "at least 1"
            return self._bad_request(f"limit must be {bound}, got {limit}")  # type: ignore[attr-defined]
        return limit

    def _start(self, req: Request) -> int | Response:
        after = req.arg("after")
        if not after:
            return 0
        if not after.isdigit():
            return self._bad_request(f"invalid after cursor {after!r}")  # type: ignore[attr-defined]
        return int(after)

    @staticmethod
    def _query_key(req: Request) -> str:
        q = sorted(
            (k, v) for k, vs in req.query.items() if k not in ("offset", "limit") for v in vs
        )
        return hashlib.sha1(json.dumps(q).encode()).hexdigest()[:12]  # noqa: S324

    def list_email_events(self, req: Request) -> Response:
        limit = self._limit(req, 10, 1000)
        if isinstance(limit, Response):
            return limit
        start = 0
        token = req.arg("offset")
        if token:
            try:
                state = json.loads(base64.urlsafe_b64decode(token.encode()))
                start, key = int(state["i"]), state["q"]
            except (ValueError, KeyError, TypeError):
                return self._bad_request(f"invalid offset {token!r}")  # type: ignore[attr-defined]
            if key != self._query_key(req):
                return self._bad_request(  # type: ignore[attr-defined]
                    "offset does not belong to this query (same parameters required)"
                )
        events = self.email_events
        etype = req.arg("eventType")
        if etype:
            events = [e for e in events if e["type"] == etype]
        if req.arg("recipient"):
            events = [e for e in events if e["recipient"] == req.arg("recipient")]
        lo, hi = req.arg("startTimestamp"), req.arg("endTimestamp")
        try:
            if lo:
                events = [e for e in events if e["created"] >= int(lo)]
            if hi:
                events = [e for e in events if e["created"] <= int(hi)]
        except ValueError:
            return self._bad_request("startTimestamp / endTimestamp are epoch milliseconds")  # type: ignore[attr-defined]
        if (req.arg("excludeFilteredEvents") or "").lower() == "true":
            events = [e for e in events if not e.get("filteredEvent")]
        events = sorted(events, key=lambda e: (-e["created"], e["id"]))
        page = events[start : start + limit]
        nxt = start + len(page)
        state = json.dumps({"i": nxt, "q": self._query_key(req)}).encode()
        return json_response(
            200,
            {
                "events": page,
                "hasMore": nxt < len(events),
                "offset": base64.urlsafe_b64encode(state).decode(),
            },
        )

    def _cursor_page(self, req: Request, items: list[Any], start: int, limit: int) -> Response:
        body: dict[str, Any] = {"results": items[start : start + limit]}
        if start + limit < len(items):
            body["paging"] = self._next_page(req, str(start + limit))  # type: ignore[attr-defined]
        return json_response(200, body)

    def list_forms(self, req: Request) -> Response:
        limit, start = self._limit(req, 20, None), self._start(req)
        if isinstance(limit, Response):
            return limit
        if isinstance(start, Response):
            return start
        return self._cursor_page(req, list(self.forms.values()), start, limit)

    def list_submissions(self, req: Request, guid: str) -> Response:
        if guid not in self.forms:
            return self._not_found(f"Form {guid} does not exist")  # type: ignore[attr-defined]
        limit, start = self._limit(req, 20, 50), self._start(req)
        if isinstance(limit, Response):
            return limit
        if isinstance(start, Response):
            return start
        subs = sorted(self.submissions[guid], key=lambda s: (-s["submittedAt"], s["conversionId"]))
        return self._cursor_page(req, subs, start, limit)

    def list_web_events(self, req: Request) -> Response:
        otype = req.arg("objectType")
        if not otype:
            return self._bad_request("objectType is required")  # type: ignore[attr-defined]
        limit, start = self._limit(req, 100, None), self._start(req)
        if isinstance(limit, Response):
            return limit
        if isinstance(start, Response):
            return start
        events = self.web_events if otype.lower() in CONTACT_OBJECT_TYPES else []
        if req.arg("eventType"):
            events = [e for e in events if e["eventType"] == req.arg("eventType")]
        if req.arg("objectId"):
            events = [e for e in events if e["objectId"] == req.arg("objectId")]
        for name, keep in (
            ("occurredAfter", lambda a, b: a > b),
            ("occurredBefore", lambda a, b: a < b),
        ):
            bound = landing.parse_ts(req.arg(name))
            if req.arg(name) and bound is None:
                return self._bad_request(f"{name} must be an ISO 8601 date-time")  # type: ignore[attr-defined]
            if bound is not None:
                events = [e for e in events if keep(landing.parse_ts(e["occurredAt"]), bound)]
        events = sorted(events, key=lambda e: (e["occurredAt"], e["id"]))
        return self._cursor_page(req, events, start, limit)
