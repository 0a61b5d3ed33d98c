"""HubSpot marketing engagement -> ``marketing_touches`` (``ACCT_MARKETING_SOURCE=hubspot``).

Three streams, chosen by ``HUBSPOT_MARKETING_STREAMS`` (default all three):

``email``  Marketing e-mail events, ``GET /email/public/v1/events`` (scope ``content``): one query
           per event type ``OPEN``, ``CLICK``, ``BOUNCE`` (``eventType`` is case-sensitive),
           ``limit=1000`` (the maximum), paged with the opaque ``offset`` token while ``hasMore``;
           ``excludeFilteredEvents=true`` leaves out the opens and clicks HubSpot filtered as
           machine traffic. An event names its ``recipient`` by e-mail address, not by contact:
           the address is looked up among the portal's contacts (read once, ``email`` property
           only). An address that is no contact gives a touch without account or contact, which
           the loader quarantines (visible, not silently dropped). ``created`` (epoch ms) is the
           time of the touch; ``id`` makes the touch id ``hs-email-<id>``.
``forms``  Form submissions: the forms from ``GET /marketing/v3/forms`` (``after`` cursor), then
           per form ``GET /form-integrations/v1/submissions/forms/{formGuid}`` (scope ``forms``;
           ``limit`` <= 50, ``after`` cursor, newest first). The submitted ``email`` field names
           the contact; ``submittedAt`` (epoch ms) the time; ``conversionId`` the touch id
           ``hs-form-<conversionId>``.
``web``    Page views from the events API, ``GET /events/v3/events?objectType=0-1`` (contacts)
           ``&eventType=<HUBSPOT_PAGE_VIEW_EVENT>`` (default ``e_visited_page``), ``after``
           cursor. Only portals with an Enterprise subscription have it: leave ``web`` out of
           ``HUBSPOT_MARKETING_STREAMS`` otherwise. ``objectId`` is the contact, ``occurredAt``
           the time, ``id`` the touch id ``hs-web-<id>``.

``ACCT_MARKETING_LOOKBACK_DAYS`` bounds every stream to the last N days (``startTimestamp`` /
``occurredAfter``; form submissions stop paging at the first older one, as they come newest
first); unset, the whole history is read. The touches carry the contact only: staging maps a
contact to its account through ``crm_contacts``, the one place that knows it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from acct_pipeline.connectors.base import SourceError
from acct_pipeline.connectors.http import ServiceClient, paginate, text
from acct_pipeline.connectors.marketing import (
    EMAIL,
    EMAIL_BOUNCE,
    EMAIL_CLICK,
    EMAIL_OPEN,
    FORM_SUBMISSION,
    PAGE_VIEW,
    PREFIX_HUBSPOT_EMAIL,
    PREFIX_HUBSPOT_FORM,
    PREFIX_HUBSPOT_WEB,
    WEB,
    iso_from_ms,
    touch,
)

log = logging.getLogger(__name__)

SOURCE = "hubspot"
STREAMS = ("email", "forms", "web")
STREAMS_ENV = "HUBSPOT_MARKETING_STREAMS"

EMAIL_EVENTS_PATH = "/email/public/v1/events"
EMAIL_EVENTS_LIMIT = 1000  # the endpoint's maximum
# HubSpot event type -> activity type. SENT / DELIVERED / PROCESSED are not engagement.
EMAIL_EVENT_TYPES = {"OPEN": EMAIL_OPEN, "CLICK": EMAIL_CLICK, "BOUNCE": EMAIL_BOUNCE}

FORMS_PATH = "/marketing/v3/forms"
FORMS_LIMIT = 100
SUBMISSIONS_PATH = "/form-integrations/v1/submissions/forms/{guid}"
SUBMISSIONS_LIMIT = 50  # the endpoint's maximum

EVENTS_PATH = "/events/v3/events"
EVENTS_LIMIT = 100
CONTACT_OBJECT_TYPE = "0-1"  # objectTypeId of contacts
DEFAULT_PAGE_VIEW_EVENT = "e_visited_page"

ContactLister = Callable[[str, list[str]], Iterator[dict[str, Any]]]


def parse_streams(value: str | None) -> tuple[str, ...]:
    """``HUBSPOT_MARKETING_STREAMS`` as a tuple, checked (the error names the variable)."""
    names = tuple(s.strip().lower() for s in (value or ",".join(STREAMS)).split(",") if s.strip())
    unknown = sorted(set(names) - set(STREAMS))
    if unknown or not names:
        raise SourceError(
            f"{STREAMS_ENV}={value!r}: expected a comma-separated subset of {', '.join(STREAMS)}"
        )
    return names


@dataclass
class MarketingStats:
    touches: dict[str, int] = field(default_factory=dict)
    filtered_events: int = 0  # machine opens / clicks HubSpot flagged (excluded)
    unknown_recipients: int = 0  # e-mail addresses that are no contact (quarantined downstream)
    forms: int = 0


class HubSpotMarketing:
    """Reads the marketing streams of one portal as ``marketing_touches`` rows."""

    def __init__(
        self,
        client: ServiceClient,
        list_objects: ContactLister,
        *,
        streams: tuple[str, ...] = STREAMS,
        page_view_event: str = DEFAULT_PAGE_VIEW_EVENT,
        lookback_days: int | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.list_objects = list_objects
        self.streams = streams
        self.page_view_event = page_view_event
        self.lookback_days = lookback_days
        self.now = now
        self.stats = MarketingStats()
        self._emails: dict[str, str] | None = None
        # page sizes (the endpoints' maxima; tests lower them to see many pages)
        self.email_limit = EMAIL_EVENTS_LIMIT
        self.forms_limit = FORMS_LIMIT
        self.submissions_limit = SUBMISSIONS_LIMIT
        self.events_limit = EVENTS_LIMIT

    # -- shared --------------------------------------------------------------------------------

    def since(self) -> datetime | None:
        """The oldest time read (``ACCT_MARKETING_LOOKBACK_DAYS``), None for all history."""
        if self.lookback_days is None:
            return None
        return self.now() - timedelta(days=self.lookback_days)

    def since_ms(self) -> int | None:
        since = self.since()
        return None if since is None else int(since.timestamp() * 1000)

    def contact_ids_by_email(self) -> dict[str, str]:
        """Lower-cased e-mail address -> contact id, read once (the first contact wins)."""
        if self._emails is None:
            emails: dict[str, str] = {}
            for rec in self.list_objects("contacts", ["email"]):
                address = ((rec.get("properties") or {}).get("email") or "").strip().lower()
                if address and address not in emails:
                    emails[address] = str(rec.get("id"))
            self._emails = emails
        return self._emails

    def _contact_for(self, address: Any) -> str | None:
        key = str(address or "").strip().lower()
        contact = self.contact_ids_by_email().get(key) if key else None
        if contact is None:
            self.stats.unknown_recipients += 1
        return contact

    def _count(self, stream: str) -> None:
        self.stats.touches[stream] = self.stats.touches.get(stream, 0) + 1

    def touches(self) -> Iterator[dict[str, Any]]:
        """Every touch of the configured streams, stream after stream, page by page."""
        readers = {"email": self.email_touches, "forms": self.form_touches, "web": self.web_touches}
        for stream in self.streams:
            for row in readers[stream]():
                self._count(stream)
                yield row
        if self.stats.unknown_recipients:
            log.warning(
                "hubspot marketing: %d touches name an e-mail address that is no contact "
                "(quarantined as touches without account or contact)",
                self.stats.unknown_recipients,
            )

    # -- streams -------------------------------------------------------------------------------

    def email_touches(self) -> Iterator[dict[str, Any]]:
        since = self.since_ms()
        for event_type, activity in EMAIL_EVENT_TYPES.items():
            params: dict[str, Any] = {
                "eventType": event_type,
                "limit": self.email_limit,
                "excludeFilteredEvents": "true",
            }
            if since is not None:
                params["startTimestamp"] = since

            def fetch(
                offset: str | None, params: Mapping[str, Any] = params
            ) -> tuple[list[dict[str, Any]], str | None]:
                page = self.client.get_json(
                    EMAIL_EVENTS_PATH, params={**params, **({"offset": offset} if offset else {})}
                )
                nxt = page.get("offset") if page.get("hasMore") else None
                return page.get("events") or [], nxt

            for event in paginate(fetch):
                if event.get("filteredEvent"):
                    self.stats.filtered_events += 1
                    continue
                yield touch(
                    f"{PREFIX_HUBSPOT_EMAIL}{event.get('id')}",
                    category=EMAIL,
                    activity_type=activity,
                    occurred_at=iso_from_ms(event.get("created")),
                    source=SOURCE,
                    contact_id=self._contact_for(event.get("recipient")),
                )

    def _cursor_pages(
        self, path: str, params: Mapping[str, Any]
    ) -> Callable[[str | None], tuple[list[dict[str, Any]], str | None]]:
        def fetch(after: str | None) -> tuple[list[dict[str, Any]], str | None]:
            page = self.client.get_json(
                path, params={**params, **({"after": after} if after else {})}
            )
            nxt = ((page.get("paging") or {}).get("next") or {}).get("after")
            return page.get("results") or [], nxt or None

        return fetch

    def form_touches(self) -> Iterator[dict[str, Any]]:
        since = self.since_ms()
        for form in paginate(self._cursor_pages(FORMS_PATH, {"limit": self.forms_limit})):
            self.stats.forms += 1
            guid = str(form.get("id"))
            path = SUBMISSIONS_PATH.format(guid=guid)
            for sub in paginate(self._cursor_pages(path, {"limit": self.submissions_limit})):
                submitted = sub.get("submittedAt")
                if since is not None and isinstance(submitted, int) and submitted < since:
                    break  # newest first: the rest is older still
                values = {v.get("name"): v.get("value") for v in sub.get("values") or []}
                yield touch(
                    f"{PREFIX_HUBSPOT_FORM}{sub.get('conversionId')}",
                    category=WEB,
                    activity_type=FORM_SUBMISSION,
                    occurred_at=iso_from_ms(submitted),
                    source=SOURCE,
                    contact_id=self._contact_for(values.get("email")),
                )

    def web_touches(self) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {
            "objectType": CONTACT_OBJECT_TYPE,
            "eventType": self.page_view_event,
            "limit": self.events_limit,
        }
        since = self.since()
        if since is not None:
            params["occurredAfter"] = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        for event in paginate(self._cursor_pages(EVENTS_PATH, params)):
            yield touch(
                f"{PREFIX_HUBSPOT_WEB}{event.get('id')}",
                category=WEB,
                activity_type=PAGE_VIEW,
                occurred_at=text(event.get("occurredAt")),
                source=SOURCE,
                contact_id=text(event.get("objectId")),
            )
