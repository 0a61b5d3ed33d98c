"""A fake HubSpot portal: CRM objects v3 (and the date-versioned alias), properties, owners.

Read side: list (``limit`` <= 100, ``after`` cursor, ``properties=``, ``associations=``), get one,
``batch/read``, ``search`` (filters, sorts, <= 200 per page, 10,000 result cap, 5 req/s).
Write side: ``batch/update`` (<= 100 inputs; 200 / 207 Multi-Status), create (``POST /{type}``,
e.g. tasks with associations), properties and property groups (409 when they exist).
Every write is recorded in ``writes``. See the package docstring for the knobs.
Marketing (e-mail events, forms, web analytics events): ``hubspot_marketing.py``.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from acct_pipeline.warehouse import CRM_ACTIVITIES, CRM_COMPANIES, CRM_CONTACTS, CRM_TICKETS
from acct_pipeline_tests.fakes import hubspot_schema as schema
from acct_pipeline_tests.fakes import landing, marketing
from acct_pipeline_tests.fakes.base import (
    FakeServer,
    Fault,
    Request,
    Response,
    bearer_token,
    iso_ms,
    json_response,
)
from acct_pipeline_tests.fakes.hubspot_marketing import HubSpotMarketingRoutes

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
OBJECT_TYPES = (
    "companies",
    "contacts",
    "emails",
    "meetings",
    "calls",
    "tickets",
    "tasks",
    "notes",
    "feedback_submissions",
)
BASE_PATHS = ("/crm/v3/objects", "/crm/objects/2026-03")
PROPERTY_PATHS = ("/crm/v3/properties", "/crm/properties/2026-03")
# Properties every object returns besides the requested ones (as the real API does); with no
# ``properties=`` at all a list returns ``schema.DEFAULT_LIST_PROPERTIES`` (issue #26).
DEFAULT_PROPERTIES = {"createdate", "hs_lastmodifieddate", "hs_object_id"}
PORTAL_CREATED = "2019-06-04T09:12:45.123Z"  # when the built-in properties and owners "appeared"
# Properties a portal has out of the box, per object (the fake refuses writes to anything else).
STANDARD_PROPERTIES: dict[str, tuple[tuple[str, str], ...]] = {
    "companies": (
        ("name", "string"),
        ("domain", "string"),
        ("industry", "enumeration"),
        ("region", "string"),
        ("numberofemployees", "number"),
        ("lifecyclestage", "enumeration"),
        ("hubspot_owner_id", "enumeration"),
        ("createdate", "datetime"),
        ("hs_lastmodifieddate", "datetime"),
        ("hs_object_id", "number"),
        ("description", "string"),
    ),
    "contacts": (
        ("email", "string"),
        ("firstname", "string"),
        ("lastname", "string"),
        ("jobtitle", "string"),
        ("hs_buying_role", "enumeration"),
        ("left_company_date", "datetime"),
        ("createdate", "datetime"),
        ("lastmodifieddate", "datetime"),
        ("hs_object_id", "number"),
    ),
    "tickets": (
        ("subject", "string"),
        ("hs_ticket_priority", "enumeration"),
        ("hs_pipeline_stage", "enumeration"),
        ("closed_date", "datetime"),
        ("escalated", "bool"),
        ("csat_score", "number"),
        ("createdate", "datetime"),
        ("hs_lastmodifieddate", "datetime"),
        ("hs_object_id", "number"),
    ),
    "tasks": (
        ("hs_task_subject", "string"),
        ("hs_task_body", "string"),
        ("hs_task_status", "enumeration"),
        ("hs_task_priority", "enumeration"),
        ("hs_task_type", "enumeration"),
        ("hs_timestamp", "datetime"),
        ("hubspot_owner_id", "enumeration"),
        ("createdate", "datetime"),
        ("hs_lastmodifieddate", "datetime"),
    ),
}
_ACTIVITY_PROPS = (
    ("hs_timestamp", "datetime"),
    ("createdate", "datetime"),
    ("hs_lastmodifieddate", "datetime"),
)
for _t in ("emails", "meetings", "calls", "notes", "feedback_submissions"):
    STANDARD_PROPERTIES[_t] = _ACTIVITY_PROPS + (
        ("hs_email_direction", "enumeration"),
        ("hs_survey_type", "enumeration"),
        ("hs_response_value", "number"),
    )

PRIORITY_TO_API = {"low": "LOW", "medium": "MEDIUM", "high": "HIGH", "urgent": "URGENT"}
STAGE_TO_API = {"open": "1", "pending": "2", "closed": "4"}
ACTIVITY_OBJECT = {
    "email_sent": ("emails", "EMAIL"),
    "email_reply": ("emails", "INCOMING_EMAIL"),
    "meeting": ("meetings", None),
    "call": ("calls", None),
    "nps_response": ("feedback_submissions", None),
}


@dataclass
class Write:
    """One record written through the API: which object, which properties, when, how."""

    object_type: str
    record_id: str
    properties: dict[str, Any]
    at: float
    endpoint: str
    request_no: int


@dataclass
class Rejection:
    status: str = "error"
    category: str = "VALIDATION_ERROR"
    message: str = "Property values were not valid"
    times: int | None = None  # None: always; n: the next n writes of the record, then accepted


@dataclass
class HubSpotRecord:
    id: str
    properties: dict[str, Any]
    created_at: str
    updated_at: str
    associations: dict[str, list[str]] = field(default_factory=dict)
    archived: bool = False


_PORTAL_IDS = itertools.count(40_000_001)


class FakeHubSpot(HubSpotMarketingRoutes, FakeServer):
    """Fake HubSpot. ``FakeHubSpot(token=..., rate_limit=(100, 10.0), daily_limit=250_000)``."""

    name = "hubspot"
    max_url_length = 4096

    def __init__(
        self,
        token: str = TOKEN,
        *,
        rate_limit: tuple[int, float] | None = (100, 10.0),
        daily_limit: int | None = 250_000,
        search_per_second: int = 5,
        clock: Callable[[], float] | None = None,
        portal_id: int | None = None,
    ) -> None:
        super().__init__(clock)
        self.token = token
        # every fake is its own portal unless told otherwise (a restored / emptied portal)
        self.portal_id = portal_id if portal_id is not None else next(_PORTAL_IDS)
        self.rate_limit = rate_limit
        self.daily_limit = daily_limit
        self.search_per_second = search_per_second
        self.objects: dict[str, dict[str, HubSpotRecord]] = {t: {} for t in OBJECT_TYPES}
        self.owners: dict[str, dict[str, Any]] = {}
        self.properties: dict[str, dict[str, dict[str, Any]]] = {}
        self.groups: dict[str, dict[str, dict[str, Any]]] = {}
        self.writes: list[Write] = []
        self.rejections: dict[tuple[str, str], Rejection] = {}
        self.daily_used = 0
        self._recent: list[float] = []
        self._recent_search: list[float] = []
        self._ids = itertools.count(9_000_000_001)
        self._request_no = 0
        for otype, props in STANDARD_PROPERTIES.items():
            group, group_label = schema.PROPERTY_GROUPS.get(otype, schema.ENGAGEMENT_GROUP)
            self.properties[otype] = {
                name: _property_def(
                    name,
                    name.replace("hs_", "").replace("_", " ").capitalize(),
                    ptype,
                    _FIELD_TYPES.get(ptype, "text"),
                    group,
                    schema.option_list(schema.ENUMERATIONS[name])
                    if name in schema.ENUMERATIONS
                    else None,
                    hubspot_defined=True,
                    display_order=i,
                )
                for i, (name, ptype) in enumerate(props)
            }
            self.groups[otype] = {
                g: {"name": g, "label": label, "displayOrder": -1, "archived": False}
                for g, label in {group: group_label, "companyinformation": "Information"}.items()
            }
        for base in BASE_PATHS:
            self.route("GET", f"{base}/(?P<otype>[a-z_]+)", self.list_objects)
            self.route("GET", f"{base}/(?P<otype>[a-z_]+)/(?P<rid>[^/]+)", self.get_object)
            self.route("POST", f"{base}/(?P<otype>[a-z_]+)/batch/read", self.batch_read)
            self.route("POST", f"{base}/(?P<otype>[a-z_]+)/batch/update", self.batch_update)
            self.route("POST", f"{base}/(?P<otype>[a-z_]+)/search", self.search)
            self.route("POST", f"{base}/(?P<otype>[a-z_]+)", self.create_object)
        for base in PROPERTY_PATHS:
            self.route("GET", f"{base}/(?P<otype>[a-z_]+)", self.list_properties)
            self.route("GET", f"{base}/(?P<otype>[a-z_]+)/groups", self.list_groups)
            self.route("POST", f"{base}/(?P<otype>[a-z_]+)/groups", self.create_group)
            self.route("GET", f"{base}/(?P<otype>[a-z_]+)/(?P<name>[^/]+)", self.get_property)
            self.route("POST", f"{base}/(?P<otype>[a-z_]+)", self.create_property)
        self.route("GET", "/crm/v3/owners/?", self.list_owners)
        self.route("GET", "/account-info/v3/details/?", self.account_details)
        self._init_marketing()

    # -- knobs ---------------------------------------------------------------------------------

    def reject(
        self,
        object_type: str,
        ids: list[str],
        message: str = "Property values were not valid",
        category: str = "VALIDATION_ERROR",
        times: int | None = None,
    ) -> None:
        """Make ``batch/update`` fail for these records (207 Multi-Status with their errors);
        ``times``: only the next n writes of each (a transient ``LOCKED``), then they land."""
        for rid in ids:
            self.rejections[(object_type, str(rid))] = Rejection("error", category, message, times)

    def accept(self, object_type: str, ids: list[str]) -> None:
        for rid in ids:
            self.rejections.pop((object_type, str(rid)), None)

    def exhaust_daily_quota(self) -> None:
        """The next request gets 429 ``DAILY``."""
        self.daily_used = self.daily_limit or 0
        if self.daily_limit is None:
            self.daily_limit = 0

    def writes_to(self, object_type: str, record_id: str | None = None) -> list[Write]:
        return [
            w
            for w in self.writes
            if w.object_type == object_type and (record_id is None or w.record_id == record_id)
        ]

    def written_property_names(self, object_type: str = "companies") -> set[str]:
        return {p for w in self.writes if w.object_type == object_type for p in w.properties}

    def add_record(
        self,
        object_type: str,
        record_id: str | None,
        properties: dict[str, Any],
        associations: dict[str, list[str]] | None = None,
    ) -> HubSpotRecord:
        rid = str(record_id) if record_id else str(next(self._ids))
        now = iso_ms(self.clock())
        props = {k: v for k, v in properties.items()}
        created = props.get("createdate") or now
        props.setdefault("createdate", created)
        modified_prop = "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"
        props.setdefault(modified_prop, created)
        props["hs_object_id"] = rid
        rec = HubSpotRecord(rid, props, created, props[modified_prop], associations or {})
        self.objects.setdefault(object_type, {})[rid] = rec
        return rec

    def load_landing(self, root: str | Path) -> FakeHubSpot:
        """Fill the portal from a landing folder (generator output), one record per id."""
        root = Path(root)
        for row in landing.unique_rows(root, CRM_COMPANIES):
            if row.get("owner_id") and row["owner_id"] not in self.owners:
                self.owners[row["owner_id"]] = {
                    "id": row["owner_id"],
                    "email": row.get("owner_email"),
                    "firstName": None,
                    "lastName": None,
                    "userId": None,
                    "archived": False,
                }
            self.add_record(
                "companies",
                row["company_id"],
                {
                    "name": row.get("name"),
                    "domain": row.get("domain"),
                    "industry": row.get("industry"),
                    "region": row.get("region"),
                    "numberofemployees": row.get("employees"),
                    "lifecyclestage": row.get("lifecycle_stage"),
                    "hubspot_owner_id": row.get("owner_id"),
                    "createdate": row.get("created_at"),
                    "hs_lastmodifieddate": row.get("updated_at"),
                },
            )
        for row in landing.unique_rows(root, CRM_CONTACTS):
            champion = row.get("is_champion")
            role = (
                None
                if champion is None
                else (
                    "CHAMPION"
                    if champion.lower() == "true"
                    else ""
                    if champion.lower() == "false"
                    else champion
                )
            )
            self.add_record(
                "contacts",
                row["contact_id"],
                {
                    "email": row.get("email"),
                    "firstname": row.get("first_name"),
                    "lastname": row.get("last_name"),
                    "jobtitle": row.get("job_title"),
                    "hs_buying_role": role,
                    "left_company_date": row.get("left_company_at"),
                    "createdate": row.get("created_at"),
                    "lastmodifieddate": row.get("updated_at"),
                },
                {"companies": [row["company_id"]]} if row.get("company_id") else {},
            )
        for row in landing.unique_rows(root, CRM_ACTIVITIES):
            otype, direction = ACTIVITY_OBJECT.get(row.get("activity_type") or "", ("notes", None))
            props = {"hs_timestamp": row.get("occurred_at"), "createdate": row.get("occurred_at")}
            if direction:
                props["hs_email_direction"] = direction
            if otype == "feedback_submissions":
                props |= {"hs_survey_type": "NPS", "hs_response_value": row.get("value")}
            if otype == "notes":  # not an engagement the pipeline knows: kept as the raw type
                props["hs_note_body"] = row.get("activity_type")
            assoc = {}
            if row.get("company_id"):
                assoc["companies"] = [row["company_id"]]
            if row.get("contact_id"):
                assoc["contacts"] = [row["contact_id"]]
            self.add_record(otype, row["activity_id"], props, assoc)
        for row in landing.unique_rows(root, CRM_TICKETS):
            sev, status = row.get("severity"), row.get("status")
            self.add_record(
                "tickets",
                row["ticket_id"],
                {
                    "createdate": row.get("created_at"),
                    "closed_date": row.get("closed_at"),
                    "hs_ticket_priority": PRIORITY_TO_API.get(sev, sev) if sev else None,
                    "hs_pipeline_stage": STAGE_TO_API.get(status, status) if status else None,
                    "escalated": row.get("escalated"),
                    "csat_score": row.get("csat_score"),
                },
                {"companies": [row["company_id"]]} if row.get("company_id") else {},
            )
        self.load_touches(marketing.landing_touches(root, "hubspot"))
        return self

    # -- auth, limits, faults ------------------------------------------------------------------

    def authenticate(self, req: Request) -> Response | None:
        if bearer_token(req) == self.token:
            return None
        return json_response(
            401,
            {
                "status": "error",
                "message": "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication "
                "and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "correlationId": "00000000-0000-4000-8000-000000000401",
                "category": "INVALID_AUTHENTICATION",
            },
        )

    def _limit_headers(self, remaining: int) -> dict[str, str]:
        n, period = self.rate_limit or (100, 10.0)
        h = {
            "X-HubSpot-RateLimit-Max": str(n),
            "X-HubSpot-RateLimit-Remaining": str(max(0, remaining)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(period * 1000)),
        }
        if self.daily_limit is not None:
            h["X-HubSpot-RateLimit-Daily"] = str(self.daily_limit)
            h["X-HubSpot-RateLimit-Daily-Remaining"] = str(
                max(0, self.daily_limit - self.daily_used)
            )
        return h

    def _429(self, policy: str, remaining: int = 0) -> Response:
        msg = {
            "DAILY": "You have reached your daily limit.",
            "SECONDLY": "You have reached your secondly limit.",
        }.get(policy, "You have reached your ten_secondly_rolling limit.")
        return json_response(
            429,
            {
                "status": "error",
                "message": msg,
                "errorType": "RATE_LIMIT",
                "correlationId": "00000000-0000-4000-8000-000000000429",
                "policyName": policy,
                "groupName": "publicapi:private-app:1234567",
            },
            self._limit_headers(remaining),
        )

    def rate_limit_fault_response(self, fault: Fault) -> Response:
        return self._429("TEN_SECONDLY_ROLLING")

    def throttle(self, req: Request) -> Response | None:
        with self.lock:
            now = self.clock()
            if self.daily_limit is not None and self.daily_used >= self.daily_limit:
                return self._429("DAILY")
            if req.path.endswith("/search"):
                self._recent_search = [t for t in self._recent_search if t > now - 1.0]
                if len(self._recent_search) >= self.search_per_second:
                    return self._429("SECONDLY")
                self._recent_search.append(now)
            if self.rate_limit is not None:
                n, period = self.rate_limit
                self._recent = [t for t in self._recent if t > now - period]
                if len(self._recent) >= n:
                    return self._429("TEN_SECONDLY_ROLLING")
                self._recent.append(now)
            self.daily_used += 1
            self._request_no += 1
        return None

    def dispatch(self, req: Request) -> tuple[Response | None, str | None]:
        resp, fault = super().dispatch(req)
        if resp is not None and resp.status != 429 and resp.status != 401 and self.rate_limit:
            with self.lock:
                remaining = self.rate_limit[0] - len(self._recent)
            resp.headers.update(self._limit_headers(remaining))
        return resp, fault

    # -- helpers -------------------------------------------------------------------------------

    def _store(self, otype: str) -> dict[str, HubSpotRecord] | None:
        return self.objects.get(otype)

    def _next_page(self, req: Request, after: str) -> dict[str, Any]:
        """``paging`` with the absolute ``link`` HubSpot gives (same query, the next cursor)."""
        query = [(k, v) for k, vs in req.query.items() if k != "after" for v in vs]
        host = req.header("host") or self.url.split("://", 1)[1]
        link = f"http://{host}{req.path}?{urlencode([*query, ('after', after)])}"
        return {"next": {"after": after, "link": link}}

    def _render(
        self,
        otype: str,
        rec: HubSpotRecord,
        props: list[str] | None,
        assoc: list[str] | None = None,
    ) -> dict[str, Any]:
        if props:
            names = set(props) | DEFAULT_PROPERTIES
            if otype == "contacts":
                names.add("lastmodifieddate")
        else:  # like HubSpot: a default set, not every property (issue #26)
            names = set(
                schema.DEFAULT_LIST_PROPERTIES.get(otype, schema.ENGAGEMENT_DEFAULT_PROPERTIES)
            )
        out = {
            "id": rec.id,
            "properties": {k: rec.properties.get(k) for k in sorted(names)},
            "createdAt": rec.created_at,
            "updatedAt": rec.updated_at,
            "archived": rec.archived,
        }
        if assoc:
            a = {}
            for t in assoc:
                ids = rec.associations.get(t) or []
                if ids:
                    a[t] = {
                        "results": [
                            {"id": i, "type": f"{_singular(otype)}_to_{_singular(t)}"} for i in ids
                        ]
                    }
            if a:
                out["associations"] = a
        return out

    @staticmethod
    def _bad_request(message: str, category: str = "VALIDATION_ERROR", **extra: Any) -> Response:
        return json_response(400, _error_body(message, category, **extra))

    @staticmethod
    def _not_found(message: str = "resource not found") -> Response:
        return json_response(404, _error_body(message, "OBJECT_NOT_FOUND"))

    def error_response(self, status: int, message: str) -> Response:
        """Unknown routes, injected faults, crashes: HubSpot's error shape, never a bare string."""
        return json_response(status, _error_body(message, _CATEGORIES.get(status, "UNKNOWN")))

    # -- read routes ---------------------------------------------------------------------------

    def list_objects(self, req: Request, otype: str) -> Response:
        store = self._store(otype)
        if store is None:
            return self._bad_request(f"Unable to infer object type from: {otype}")
        try:
            limit = int(req.arg("limit", "10") or 10)
        except ValueError:
            return self._bad_request("limit must be an integer")
        if limit < 1 or limit > 100:
            return self._bad_request(f"limit must be between 1 and 100, got {limit}")
        after = req.arg("after")
        ids = list(store)
        start = 0
        if after:
            if not after.isdigit():
                return self._bad_request(f"invalid after cursor {after!r}")
            start = int(after)
        page = ids[start : start + limit]
        props = req.args("properties") or None
        assoc = req.args("associations") or None
        body: dict[str, Any] = {
            "results": [self._render(otype, store[i], props, assoc) for i in page]
        }
        if start + limit < len(ids):
            body["paging"] = self._next_page(req, str(start + limit))
        return json_response(200, body)

    def get_object(self, req: Request, otype: str, rid: str) -> Response:
        store = self._store(otype)
        if store is None or rid not in store:
            return self._not_found()
        return json_response(
            200,
            self._render(
                otype, store[rid], req.args("properties") or None, req.args("associations") or None
            ),
        )

    def batch_read(self, req: Request, otype: str) -> Response:
        store = self._store(otype)
        body = req.json() or {}
        inputs = body.get("inputs") or []
        if store is None:
            return self._bad_request(f"Unable to infer object type from: {otype}")
        if len(inputs) > 100:
            return self._bad_request(f"Batch input size {len(inputs)} exceeds the maximum of 100")
        props = body.get("properties") or None
        results, errors = [], []
        for inp in inputs:
            rid = str(inp.get("id"))
            if rid in store:
                results.append(self._render(otype, store[rid], props))
            else:
                errors.append(
                    _batch_error(
                        "OBJECT_NOT_FOUND",
                        "Could not get some objects, they may be deleted or not exist.",
                        rid,
                    )
                )
        status = 207 if errors else 200
        now = iso_ms(self.clock())
        out: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": now,
            "completedAt": now,
        }
        if errors:
            out |= {"numErrors": len(errors), "errors": errors}
        return json_response(status, out)

    def search(self, req: Request, otype: str) -> Response:
        store = self._store(otype)
        if store is None:
            return self._bad_request(f"Unable to infer object type from: {otype}")
        body = req.json() or {}
        limit = int(body.get("limit", 10))
        if limit > 200:
            return self._bad_request("limit must be less than or equal to 200")
        after = int(body.get("after") or 0)
        if after + limit > 10_000:
            return self._bad_request(
                "Paging past 10,000 results is not supported", "VALIDATION_ERROR"
            )
        groups = body.get("filterGroups") or []

        def keep(rec: HubSpotRecord) -> bool:
            if not groups:
                return True
            return any(
                all(_match(rec.properties.get(f["propertyName"]), f) for f in g.get("filters", []))
                for g in groups
            )

        hits = [r for r in store.values() if keep(r)]
        for s in reversed(body.get("sorts") or []):
            name = s if isinstance(s, str) else s.get("propertyName")
            desc = not isinstance(s, str) and str(s.get("direction", "")).upper() == "DESCENDING"
            hits.sort(key=lambda r, n=name: _sort_key(r.properties.get(n)), reverse=desc)
        page = hits[after : after + limit]
        props = body.get("properties") or None
        out: dict[str, Any] = {
            "total": len(hits),
            "results": [self._render(otype, r, props) for r in page],
        }
        if after + limit < len(hits):
            out["paging"] = {"next": {"after": str(after + limit)}}
        return json_response(200, out)

    def account_details(self, req: Request) -> Response:
        """``GET /account-info/v3/details``: the portal the token belongs to."""
        return json_response(
            200,
            {
                "portalId": self.portal_id,
                "accountType": "STANDARD",
                "timeZone": "Europe/Berlin",
                "companyCurrency": "EUR",
                "additionalCurrencies": [],
                "utcOffset": "+01:00",
                "utcOffsetMilliseconds": 3_600_000,
                "uiDomain": "app-eu1.hubspot.com",
                "dataHostingLocation": "eu1",
            },
        )

    def list_owners(self, req: Request) -> Response:
        limit = int(req.arg("limit", "100") or 100)
        if limit > 500:
            return self._bad_request("limit must be <= 500")
        after = int(req.arg("after", "0") or 0)
        owners = [_owner(o) for o in self.owners.values()]
        body: dict[str, Any] = {"results": owners[after : after + limit]}
        if after + limit < len(owners):
            body["paging"] = self._next_page(req, str(after + limit))
        return json_response(200, body)

    # -- write routes --------------------------------------------------------------------------

    def _validate(self, otype: str, props: dict[str, Any]) -> str | None:
        known = self.properties.get(otype, {})
        for name, value in props.items():
            if name not in known:
                return f'Property "{name}" does not exist'
            d = known[name]
            if value in (None, ""):
                continue
            if d.get("type") == "number":
                try:
                    float(value)
                except (TypeError, ValueError):
                    return f'{value!r} is not a valid number for property "{name}"'
            if d.get("type") == "enumeration" and d.get("options"):
                allowed = {o["value"] for o in d["options"]}
                if str(value) not in allowed:
                    return (
                        f'{value!r} was not one of the allowed options for property "{name}": '
                        f"{sorted(allowed)}"
                    )
        return None

    def batch_update(self, req: Request, otype: str) -> Response:
        store = self._store(otype)
        if store is None:
            return self._bad_request(f"Unable to infer object type from: {otype}")
        inputs = (req.json() or {}).get("inputs")
        if not isinstance(inputs, list) or not inputs:
            return self._bad_request("inputs must be a non-empty list")
        if len(inputs) > 100:
            return self._bad_request(
                f"Batch input size {len(inputs)} exceeds the maximum of 100",
                context={"size": [str(len(inputs))]},
            )
        ids = [str(i.get("id")) for i in inputs]
        if len(set(ids)) != len(ids):
            return self._bad_request("Duplicate IDs found in batch input", context={"ids": ids})
        for inp in inputs:  # an unknown property fails the whole batch, as in HubSpot
            problem = self._validate(
                otype, {k: v for k, v in (inp.get("properties") or {}).items()}
            )
            if problem and "does not exist" in problem:
                return self._bad_request(
                    problem,
                    "VALIDATION_ERROR",
                    errors=[{"message": problem, "code": "PROPERTY_DOESNT_EXIST"}],
                )
        results, errors = [], []
        now = self.clock()
        with self.lock:
            for inp in inputs:
                rid = str(inp.get("id"))
                props = dict(inp.get("properties") or {})
                rec = store.get(rid)
                if rec is None:
                    errors.append(
                        _batch_error(
                            "OBJECT_NOT_FOUND",
                            f"Object not found. objectId are usually numeric. ({rid})",
                            rid,
                        )
                    )
                    continue
                rejection = self.rejections.get((otype, rid))
                if rejection is not None and rejection.times is not None:
                    if rejection.times <= 0:
                        rejection = None
                    else:
                        rejection.times -= 1
                problem = self._validate(otype, props)
                if rejection or problem:
                    r = rejection or Rejection(message=problem or "")
                    errors.append(_batch_error(r.category, r.message, rid, r.status))
                    continue
                rec.properties.update(
                    {k: (None if v is None else str(v)) for k, v in props.items()}
                )
                stamp = iso_ms(now)
                rec.properties[
                    "lastmodifieddate" if otype == "contacts" else "hs_lastmodifieddate"
                ] = stamp
                rec.updated_at = stamp
                self.writes.append(Write(otype, rid, props, now, "batch/update", self._request_no))
                results.append(self._render(otype, rec, list(props)))
        out: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": iso_ms(now),
            "completedAt": iso_ms(now),
        }
        if errors:
            out |= {"numErrors": len(errors), "errors": errors}
            return json_response(207, out)
        return json_response(200, out)

    def create_object(self, req: Request, otype: str) -> Response:
        if otype not in self.objects:
            return self._bad_request(f"Unable to infer object type from: {otype}")
        body = req.json() or {}
        props = dict(body.get("properties") or {})
        problem = self._validate(otype, props)
        if problem:
            return self._bad_request(problem)
        if otype in schema.TIMESTAMPED and not props.get("hs_timestamp"):
            return self._bad_request(
                'Property values were not valid: [{"isValid":false,"message":"hs_timestamp is '
                'required","error":"REQUIRED_FIELD","name":"hs_timestamp"}]',
                errors=[
                    {
                        "message": "hs_timestamp is required",
                        "code": "REQUIRED_FIELD",
                        "context": {"propertyName": ["hs_timestamp"]},
                    }
                ],
            )
        assoc: dict[str, list[str]] = {}
        for a in body.get("associations") or []:
            types = a.get("types")
            if not types or not all(
                isinstance(t, dict)
                and t.get("associationCategory") in schema.ASSOCIATION_CATEGORIES
                and isinstance(t.get("associationTypeId"), int)
                for t in types
            ):
                return self._bad_request(
                    "Invalid input JSON: Cannot build PublicAssociationsForObject, some of "
                    "required attributes are not set [types] (each association needs types "
                    "[{associationCategory, associationTypeId}])"
                )
            to = str((a.get("to") or {}).get("id"))
            target = next(
                (t for t in ("companies", "contacts", "tickets") if to in self.objects[t]), None
            )
            if target is None:
                return self._bad_request(f"association target {to} does not exist")
            assoc.setdefault(target, []).append(to)
        with self.lock:
            rec = self.add_record(
                otype, None, {k: (None if v is None else str(v)) for k, v in props.items()}, assoc
            )
            self.writes.append(
                Write(otype, rec.id, props, self.clock(), "create", self._request_no)
            )
        return json_response(201, self._render(otype, rec, list(props), list(assoc)))

    # -- properties ----------------------------------------------------------------------------

    def list_properties(self, req: Request, otype: str) -> Response:
        return json_response(200, {"results": list(self.properties.get(otype, {}).values())})

    def get_property(self, req: Request, otype: str, name: str) -> Response:
        d = self.properties.get(otype, {}).get(name)
        return json_response(200, d) if d else self._not_found(f"Unable to find property {name}")

    def create_property(self, req: Request, otype: str) -> Response:
        body = req.json() or {}
        missing = [
            k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)
        ]
        if missing:
            return self._bad_request(f"missing required field(s) {missing}")
        if body["groupName"] not in self.groups.setdefault(otype, {}):
            return self._bad_request(f"property group {body['groupName']} does not exist")
        if body["type"] == "enumeration" and not body.get("options"):
            return self._bad_request("enumeration properties need options")
        props = self.properties.setdefault(otype, {})
        if body["name"] in props:
            return json_response(
                409,
                {
                    "status": "error",
                    "category": "OBJECT_ALREADY_EXISTS",
                    "message": f"Property named '{body['name']}' already exists.",
                    "correlationId": "00000000-0000-4000-8000-000000000409",
                },
            )
        d = _property_def(
            body["name"],
            body["label"],
            body["type"],
            body["fieldType"],
            body["groupName"],
            [
                {"hidden": False, "description": "", "displayOrder": i, **o}
                for i, o in enumerate(body.get("options") or [])
            ],
            body.get("description", ""),
            display_order=int(body.get("displayOrder", -1)),
            created_at=iso_ms(self.clock()),
        )
        props[body["name"]] = d
        self.writes.append(
            Write(
                "properties/" + otype,
                body["name"],
                body,
                self.clock(),
                "create_property",
                self._request_no,
            )
        )
        return json_response(201, d)

    def list_groups(self, req: Request, otype: str) -> Response:
        return json_response(200, {"results": list(self.groups.get(otype, {}).values())})

    def create_group(self, req: Request, otype: str) -> Response:
        body = req.json() or {}
        if not body.get("name") or not body.get("label"):
            return self._bad_request("name and label are required")
        groups = self.groups.setdefault(otype, {})
        if body["name"] in groups:
            return json_response(
                409,
                _error_body(
                    f"Property group '{body['name']}' already exists.", "OBJECT_ALREADY_EXISTS"
                ),
            )
        groups[body["name"]] = {
            "name": body["name"],
            "label": body["label"],
            "displayOrder": body.get("displayOrder", -1),
            "archived": False,
        }
        return json_response(201, groups[body["name"]])


_FIELD_TYPES = {
    "string": "text",
    "number": "number",
    "enumeration": "select",
    "datetime": "date",
    "date": "date",
    "bool": "booleancheckbox",
}
_CATEGORIES = {
    400: "VALIDATION_ERROR",
    401: "INVALID_AUTHENTICATION",
    403: "MISSING_SCOPES",
    404: "OBJECT_NOT_FOUND",
    409: "CONFLICT",
    414: "VALIDATION_ERROR",
    429: "RATE_LIMITS",
}


def _error_body(message: str, category: str, **extra: Any) -> dict[str, Any]:
    """HubSpot's error object: ``{status, message, correlationId, category, ...}``."""
    return {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }


def _batch_error(category: str, message: str, rid: str, status: str = "error") -> dict[str, Any]:
    """One entry of a 207's ``errors`` (the SDK's ``StandardError``: links and errors too)."""
    return {
        "status": status,
        "category": category,
        "message": message,
        "context": {"ids": [rid]},
        "links": {},
        "errors": [],
    }


def _owner(o: dict[str, Any]) -> dict[str, Any]:
    """An owner as ``/crm/v3/owners`` returns it (``PublicOwner``), whatever a test stored."""
    return {
        "firstName": "",
        "lastName": "",
        "userId": None,
        "userIdIncludingInactive": o.get("userId"),
        "createdAt": PORTAL_CREATED,
        "updatedAt": PORTAL_CREATED,
        "archived": False,
        "type": "PERSON",
        "teams": [],
        **{k: v for k, v in o.items() if v is not None or k in ("email", "userId")},
    }


def _property_def(
    name: str,
    label: str,
    ptype: str,
    field_type: str,
    group: str,
    options: list | None = None,
    description: str = "",
    *,
    hubspot_defined: bool = False,
    display_order: int = -1,
    created_at: str = PORTAL_CREATED,
) -> dict[str, Any]:
    """A property definition with the fields the SDK's ``Property`` model has."""
    return {
        "name": name,
        "label": label,
        "type": ptype,
        "fieldType": field_type,
        "groupName": group,
        "options": options or [],
        "description": description,
        "displayOrder": display_order,
        "hidden": False,
        "formField": not hubspot_defined or ptype != "datetime",
        "hasUniqueValue": False,
        "hubspotDefined": hubspot_defined,
        "calculated": False,
        "externalOptions": name == "hubspot_owner_id",
        "modificationMetadata": {
            "archivable": not hubspot_defined,
            "readOnlyDefinition": hubspot_defined,
            "readOnlyValue": name in ("hs_object_id", "createdate", "hs_lastmodifieddate"),
        },
        "createdAt": created_at,
        "updatedAt": created_at,
        "archived": False,
    }


def _singular(t: str) -> str:
    return {"companies": "company", "feedback_submissions": "feedback_submission"}.get(
        t, t.rstrip("s")
    )


def _sort_key(v: Any) -> tuple[int, Any]:
    if v is None:
        return (1, "")
    try:
        return (0, float(v))
    except (TypeError, ValueError):
        ts = landing.parse_ts(str(v))
        return (0, ts.timestamp() * 1000) if ts else (0, str(v))


def _match(value: Any, f: dict[str, Any]) -> bool:
    op = str(f.get("operator", "EQ")).upper()
    if op == "HAS_PROPERTY":
        return value not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return value in (None, "")
    if value in (None, ""):
        return False
    a, b = _sort_key(value)[1], _sort_key(f.get("value"))[1]
    if type(a) is not type(b):
        a, b = str(value), str(f.get("value"))
    return {
        "EQ": a == b,
        "NEQ": a != b,
        "GT": a > b,
        "GTE": a >= b,
        "LT": a < b,
        "LTE": a <= b,
    }.get(op, False)
