"""HubSpot CRM source: companies, contacts, activities (emails, meetings, calls, NPS), tickets;
and marketing touches (``marketing_touches``: e-mail events, form submissions, page views; see
``hubspot_marketing.py`` for the endpoints, ``HUBSPOT_MARKETING_STREAMS`` and
``HUBSPOT_PAGE_VIEW_EVENT``).

Configuration (environment variables):

``HUBSPOT_ACCESS_TOKEN``   private-app access token or Service Key, sent as ``Bearer`` (required).
                           Read scopes: ``crm.objects.companies.read``,
                           ``crm.objects.contacts.read``,
                           ``crm.objects.owners.read``, ``tickets``, ``sales-email-read`` (e-mail
                           engagements), ``crm.objects.feedback_submissions.read`` (NPS).
                           The score write-back (sync) also needs ``crm.objects.companies.write``
                           and ``crm.schemas.companies.write`` (to create its properties).
``HUBSPOT_BASE_URL``       default ``https://api.hubapi.com`` (tests point it at the fake).
``HUBSPOT_BASE_PATH``      objects path: ``/crm/v3/objects`` (default) or the date-versioned
                           ``/crm/objects/2026-03`` (v3 is unsupported from Sept 2027).
``HUBSPOT_RATE_LIMIT``     client-side pacing, ``calls/seconds`` (default ``100/10``: Free/Starter;
                           ``190/10`` on Professional/Enterprise; all apps of a portal share it).
``HUBSPOT_MARKETING_STREAMS``  ``email,forms,web`` (default): what ``marketing_touches`` reads.
``HUBSPOT_INCREMENTAL_STATE``  a folder: companies are read incrementally (see below). Unset = full
                           snapshot every run.

Objects are read with the list endpoint, ``limit=100`` and the ``after`` cursor, requesting only
the properties the raw tables need (a long ``properties=`` list gets 414) and the company
association in the same request.

Incremental reads (companies). HubSpot bumps ``hs_lastmodifieddate`` when *anything* writes a
company — including this pipeline's own score write-back. We keep the last snapshot (the mapped
contract rows) and a cursor in ``HUBSPOT_INCREMENTAL_STATE``; a run searches for companies
modified since the cursor and compares only the properties we read (our own score properties are
never requested). A record whose read properties are unchanged was touched by someone else's or
our own write-back: it keeps its previous row, including ``updated_at``, and is counted in
``stats.ignored_unchanged``. We chose this over remembering what we wrote (the sync ledger) because
it needs no coupling to the sync and is also right when a human edits a score property; the cost
is one search request per 200 modified companies. Deletions are not seen by search: remove the
state folder (or set a new one) to force a full snapshot now and then.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from acct_pipeline import settings
from acct_pipeline.connectors.base import RawBatch, SourceError
from acct_pipeline.connectors.http import (
    RateLimiter,
    ServiceClient,
    batches_of,
    paginate,
    text,
)
from acct_pipeline.connectors.hubspot_marketing import (
    DEFAULT_PAGE_VIEW_EVENT,
    STREAMS,
    HubSpotMarketing,
    parse_streams,
)
from acct_pipeline.connectors.marketing import TOUCHES_TABLE
from acct_pipeline.services.hubspot import (
    DEFAULT_BASE_PATH,
    STATE_ENV,
    base_path,
    client_from_env,
)
from acct_pipeline.warehouse import (
    CRM_ACTIVITIES,
    CRM_COMPANIES,
    CRM_CONTACTS,
    CRM_TICKETS,
    TableSpec,
)

log = logging.getLogger(__name__)

PAGE_LIMIT = 100  # the list endpoint's maximum
SEARCH_LIMIT = 200  # the search endpoint's maximum per page
SEARCH_CAP = 10_000  # search refuses to page beyond this many results per query

# Properties read per object: contract column -> HubSpot property.
COMPANY_PROPERTIES = {
    "name": "name",
    "domain": "domain",
    "industry": "industry",
    "region": "region",
    "employees": "numberofemployees",
    "lifecycle_stage": "lifecyclestage",
    "owner_id": "hubspot_owner_id",
    "created_at": "createdate",
    "updated_at": "hs_lastmodifieddate",
}
CONTACT_PROPERTIES = {
    "email": "email",
    "first_name": "firstname",
    "last_name": "lastname",
    "job_title": "jobtitle",
    "is_champion": "hs_buying_role",
    "created_at": "createdate",
    "left_company_at": "left_company_date",
    "updated_at": "lastmodifieddate",
}
TICKET_PROPERTIES = {
    "created_at": "createdate",
    "closed_at": "closed_date",
    "severity": "hs_ticket_priority",
    "status": "hs_pipeline_stage",
    "escalated": "escalated",
    "csat_score": "csat_score",
}
# Default support pipeline stage ids -> contract status; unknown stages pass through.
TICKET_STAGES = {"1": "open", "2": "pending", "3": "pending", "4": "closed"}
ACTIVITY_OBJECTS = {
    "emails": ("hs_timestamp", "hs_email_direction"),
    "meetings": ("hs_timestamp",),
    "calls": ("hs_timestamp",),
    "feedback_submissions": ("hs_timestamp", "hs_response_value"),
}


@dataclass
class _SearchWindow:
    """Where a modified-since search stands: its lower bound, the newest time seen, and whether
    it must restart from there (HubSpot's search pages stop at 10,000 results)."""

    since: int
    last_ts: int
    restart: bool = False


def _next_after(page: Mapping[str, Any]) -> str | None:
    """HubSpot's next-page cursor (``paging.next.after``), None on the last page."""
    return ((page.get("paging") or {}).get("next") or {}).get("after") or None


def _first_assoc(record: Mapping[str, Any], otype: str) -> str | None:
    results = ((record.get("associations") or {}).get(otype) or {}).get("results") or []
    return text(results[0].get("id")) if results else None


def _champion(role: str | None) -> str | None:
    if role is None:
        return None
    return "true" if "CHAMPION" in str(role).split(";") else "false"


@dataclass
class HubSpotStats:
    records: dict[str, int] = field(default_factory=dict)
    ignored_unchanged: int = 0
    changed: int = 0
    incremental: bool = False


class HubSpotSource:
    """Reads the CRM raw tables from HubSpot (``ACCT_CRM_SOURCE=hubspot``)."""

    name = "hubspot"

    def __init__(
        self,
        client: ServiceClient,
        *,
        objects_path: str = DEFAULT_BASE_PATH,
        state_dir: str | Path | None = None,
        batch_rows: int = 5000,
        page_limit: int = PAGE_LIMIT,
        search_limiter: RateLimiter | None = None,
        marketing_streams: tuple[str, ...] = STREAMS,
        page_view_event: str = DEFAULT_PAGE_VIEW_EVENT,
        marketing_lookback_days: int | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.objects_path = objects_path.rstrip("/")
        self.state_dir = Path(state_dir) if state_dir else None
        self.batch_rows = batch_rows
        self.page_limit = min(page_limit, PAGE_LIMIT)
        self.search_limiter = search_limiter or RateLimiter([(4, 1.0)], sleep=client.sleep)
        self.stats = HubSpotStats()
        self._owners: dict[str, str | None] | None = None
        self.marketing = HubSpotMarketing(
            client,
            self.iter_objects,
            streams=marketing_streams,
            page_view_event=page_view_event,
            lookback_days=marketing_lookback_days,
            now=now,
        )

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        **kw: Any,
    ) -> HubSpotSource:
        client = client_from_env(env, sleep=sleep, clock=clock)
        # Search has its own, stricter limit (about 5 requests per second per portal).
        kw.setdefault("search_limiter", RateLimiter([(4, 1.0)], sleep=sleep, clock=clock))
        hs = settings.HubSpotSettings
        kw.setdefault(
            "marketing_streams", parse_streams(settings.get(hs, "marketing_streams", env))
        )
        kw.setdefault("page_view_event", settings.get(hs, "page_view_event", env))
        kw.setdefault(
            "marketing_lookback_days",
            settings.get(settings.CoreSettings, "marketing_lookback_days", env),
        )
        return cls(client, objects_path=base_path(env), state_dir=env.get(STATE_ENV) or None, **kw)

    def tables(self) -> tuple[str, ...]:
        crm = (CRM_COMPANIES, CRM_CONTACTS, CRM_ACTIVITIES, CRM_TICKETS)
        return (*(t.name for t in crm), TOUCHES_TABLE)

    def read_events(self, spec: TableSpec, day: date) -> Iterator[RawBatch]:
        raise SourceError(f"hubspot does not provide {spec.name}; choose a product source")

    def read_table(self, spec: TableSpec) -> Iterator[RawBatch]:
        readers = {
            CRM_COMPANIES.name: self._companies,
            CRM_CONTACTS.name: self._contacts,
            CRM_ACTIVITIES.name: self._activities,
            CRM_TICKETS.name: self._tickets,
            TOUCHES_TABLE: self._touches,
        }
        if spec.name not in readers:
            raise SourceError(f"hubspot does not provide {spec.name}")
        return readers[spec.name](spec)

    # -- paging --------------------------------------------------------------------------------

    def _list_pages(
        self, path: str, params: Mapping[str, Any]
    ) -> Callable[[str | None], tuple[list[dict[str, Any]], str | None]]:
        """One page of a list endpoint per call: (records, the ``after`` cursor of the next)."""

        def fetch(after: str | None) -> tuple[list[dict[str, Any]], str | None]:
            page = self.client.get_json(
                path, params={**params, **({"after": after} if after else {})}
            )
            return page.get("results") or [], _next_after(page)

        return fetch

    def iter_objects(
        self, otype: str, properties: list[str], associations: list[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every record of an object type, page by page (``after`` cursor, ``limit`` <= 100)."""
        params: dict[str, Any] = {"limit": self.page_limit, "archived": "false"}
        if properties:
            params["properties"] = ",".join(properties)
        if associations:
            params["associations"] = ",".join(associations)
        n = 0
        for rec in paginate(self._list_pages(f"{self.objects_path}/{otype}", params)):
            n += 1
            yield rec
        self.stats.records[otype] = self.stats.records.get(otype, 0) + n

    def owners(self) -> dict[str, str | None]:
        """Owner id -> e-mail (``/crm/v3/owners``), read once per source."""
        if self._owners is None:
            owners: dict[str, str | None] = {}
            for o in paginate(self._list_pages("/crm/v3/owners", {"limit": 100})):
                owners[str(o.get("id"))] = o.get("email")
            self._owners = owners
        return self._owners

    def search_modified(
        self, otype: str, properties: list[str], since_ms: int
    ) -> Iterator[dict[str, Any]]:
        """Records modified at or after ``since_ms`` (epoch ms), oldest first.

        Search stops paging at 10,000 results per query: past that, the query restarts from the
        last modification time seen (records at that exact instant are de-duplicated by id).
        """
        modified = "lastmodifieddate" if otype == "contacts" else "hs_lastmodifieddate"
        seen: set[str] = set()
        window = _SearchWindow(since=since_ms, last_ts=since_ms)
        while True:
            fetch = self._search_pages(otype, properties, modified, window)
            for rec in paginate(fetch, 0):
                if rec["id"] in seen:
                    continue
                seen.add(rec["id"])
                ts = _epoch_ms((rec.get("properties") or {}).get(modified))
                if ts is not None:
                    window.last_ts = max(window.last_ts, ts)
                yield rec
            if not window.restart:
                return
            window.since, window.restart = window.last_ts, False

    def _search_pages(
        self, otype: str, properties: list[str], modified: str, window: _SearchWindow
    ) -> Callable[[int | None], tuple[list[dict[str, Any]], int | None]]:
        """One search page per call, from ``window.since``; past the 10,000-result cap it ends
        the pages and marks the window for a restart from the newest time seen."""

        def fetch(after: int | None) -> tuple[list[dict[str, Any]], int | None]:
            if after and after + SEARCH_LIMIT > SEARCH_CAP:
                if window.last_ts == window.since:  # > 10,000 records at one instant
                    raise SourceError(
                        f"hubspot search: more than {SEARCH_CAP} {otype} modified at {window.since}"
                    )
                window.restart = True
                return [], None
            self.search_limiter.acquire()
            body = {
                "filterGroups": [
                    {
                        "filters": [
                            {
                                "propertyName": modified,
                                "operator": "GTE",
                                "value": str(window.since),
                            }
                        ]
                    }
                ],
                "sorts": [{"propertyName": modified, "direction": "ASCENDING"}],
                "properties": properties,
                "limit": SEARCH_LIMIT,
                "after": after or 0,
            }
            # Search is a read: repeating it is safe.
            page = self.client.post_json(
                f"{self.objects_path}/{otype}/search", body, idempotent=True
            )
            nxt = _next_after(page)
            return page.get("results") or [], int(nxt) if nxt else None

        return fetch

    # -- mapping -------------------------------------------------------------------------------

    def _company_row(self, rec: Mapping[str, Any]) -> dict[str, Any]:
        p = rec.get("properties") or {}
        row = {col: text(p.get(prop)) for col, prop in COMPANY_PROPERTIES.items()}
        row["company_id"] = text(rec.get("id"))
        owner = row.get("owner_id")
        row["owner_email"] = self.owners().get(owner) if owner else None
        return row

    def _companies(self, spec: TableSpec) -> Iterator[RawBatch]:
        props = list(COMPANY_PROPERTIES.values())
        origin = f"hubspot:{self.objects_path}/companies"
        if self.state_dir is None:
            rows = (self._company_row(r) for r in self.iter_objects("companies", props))
            yield from batches_of(rows, spec.column_names, origin, self.batch_rows)
            return
        yield from self._companies_incremental(spec, props, origin)

    def _companies_incremental(
        self, spec: TableSpec, props: list[str], origin: str
    ) -> Iterator[RawBatch]:
        assert self.state_dir is not None
        self.stats.incremental = True
        snap_path = self.state_dir / "companies.parquet"
        cursor_path = self.state_dir / "companies.cursor.json"
        # The cursor is the newest modification time HubSpot reported (server time, no skew).
        newest = 0
        if snap_path.exists() and cursor_path.exists():
            prev = pd.read_parquet(snap_path).astype(object).where(lambda f: f.notna(), None)
            rows = {r["company_id"]: r for r in prev.to_dict("records")}
            newest = int(json.loads(cursor_path.read_text())["since_ms"])
            # Overlap: search is eventually consistent, a record can show up a little late.
            for rec in self.search_modified("companies", props, newest - 5 * 60 * 1000):
                newest = max(
                    newest, _epoch_ms((rec.get("properties") or {}).get("hs_lastmodifieddate")) or 0
                )
                new = self._company_row(rec)
                old = rows.get(new["company_id"])
                if old is not None and all(
                    old.get(c) == new.get(c) for c in spec.column_names if c != "updated_at"
                ):
                    self.stats.ignored_unchanged += 1
                    continue
                self.stats.changed += 1
                rows[new["company_id"]] = new
            records = list(rows.values())
        else:
            records = [self._company_row(r) for r in self.iter_objects("companies", props)]
            self.stats.changed = len(records)
            newest = max((_epoch_ms(r["updated_at"]) or 0 for r in records), default=0)
        frame = pd.DataFrame.from_records(records, columns=spec.column_names)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        frame.astype("string").to_parquet(snap_path, index=False)
        cursor_path.write_text(json.dumps({"since_ms": newest}))
        log.info(
            "hubspot companies: %d changed, %d modified only by write-backs / unread properties",
            self.stats.changed,
            self.stats.ignored_unchanged,
        )
        yield from batches_of(records, spec.column_names, origin, self.batch_rows)

    def _contacts(self, spec: TableSpec) -> Iterator[RawBatch]:
        def rows() -> Iterator[dict[str, Any]]:
            for rec in self.iter_objects(
                "contacts", list(CONTACT_PROPERTIES.values()), ["companies"]
            ):
                p = rec.get("properties") or {}
                row = {col: text(p.get(prop)) for col, prop in CONTACT_PROPERTIES.items()}
                row["is_champion"] = _champion(p.get("hs_buying_role"))
                row["contact_id"] = text(rec.get("id"))
                row["company_id"] = _first_assoc(rec, "companies")
                yield row

        yield from batches_of(
            rows(), spec.column_names, f"hubspot:{self.objects_path}/contacts", self.batch_rows
        )

    def _activities(self, spec: TableSpec) -> Iterator[RawBatch]:
        for otype, props in ACTIVITY_OBJECTS.items():

            def rows(
                otype: str = otype, props: tuple[str, ...] = props
            ) -> Iterator[dict[str, Any]]:
                for rec in self.iter_objects(otype, list(props), ["companies", "contacts"]):
                    p = rec.get("properties") or {}
                    if otype == "emails":
                        kind = (
                            "email_reply"
                            if p.get("hs_email_direction") == "INCOMING_EMAIL"
                            else "email_sent"
                        )
                    else:
                        kind = {
                            "meetings": "meeting",
                            "calls": "call",
                            "feedback_submissions": "nps_response",
                        }[otype]
                    yield {
                        "activity_id": text(rec.get("id")),
                        "company_id": _first_assoc(rec, "companies"),
                        "contact_id": _first_assoc(rec, "contacts"),
                        "activity_type": kind,
                        "occurred_at": text(p.get("hs_timestamp")),
                        "value": text(p.get("hs_response_value")),
                    }

            yield from batches_of(
                rows(), spec.column_names, f"hubspot:{self.objects_path}/{otype}", self.batch_rows
            )

    def _touches(self, spec: TableSpec) -> Iterator[RawBatch]:
        streams = "+".join(self.marketing.streams)
        yield from batches_of(
            self.marketing.touches(),
            spec.column_names,
            f"hubspot:marketing/{streams}",
            self.batch_rows,
        )

    def _tickets(self, spec: TableSpec) -> Iterator[RawBatch]:
        def rows() -> Iterator[dict[str, Any]]:
            for rec in self.iter_objects(
                "tickets", list(TICKET_PROPERTIES.values()), ["companies"]
            ):
                p = rec.get("properties") or {}
                row = {col: text(p.get(prop)) for col, prop in TICKET_PROPERTIES.items()}
                if row["severity"]:
                    row["severity"] = row["severity"].lower()
                if row["status"]:
                    row["status"] = TICKET_STAGES.get(row["status"], row["status"])
                row["ticket_id"] = text(rec.get("id"))
                row["company_id"] = _first_assoc(rec, "companies")
                yield row

        yield from batches_of(
            rows(), spec.column_names, f"hubspot:{self.objects_path}/tickets", self.batch_rows
        )


def _epoch_ms(value: Any) -> int | None:
    if value is None:
        return None
    s = str(value)
    if s.isdigit():
        return int(s)
    try:
        return int(pd.Timestamp(s).timestamp() * 1000)
    except (ValueError, TypeError):
        return None
