"""A fake Salesforce org: REST API ``query`` (SOQL subset), composite sobjects, describe, inserts.

SOQL supported: ``SELECT f1, f2, Rel.Field FROM Object [WHERE f op literal [AND ...]]
[ORDER BY f [ASC|DESC]] [LIMIT n]`` with ``=, !=, <, <=, >, >=`` on strings, numbers, datetimes
and ``true/false/null``, and ``f IN ('a', 'b', ...)`` with string literals (ids are checked
there too). A Task's ``IsClosed`` and ``CompletedDateTime`` are read-only and follow its
``Status``, as Salesforce sets them. Campaign and CampaignMember (``Campaign.Type``,
``Contact.AccountId``) serve marketing touches (``load_landing`` reads
``marketing/touches.csv``, see ``load_touches``). Unknown fields / objects answer
``INVALID_FIELD`` / ``INVALID_TYPE`` as Salesforce does. See the package docstring for the
knobs.

No kinder than Salesforce (issue #26): ids the fake makes are 18-character ids with the object's
key prefix (``001`` Account, ``003`` Contact, ``00T`` Task, ...); an id in a write that is not 15 or
18 characters answers ``MALFORMED_ID`` (records loaded from a landing folder keep the generator's
ids so the pipeline's joins hold, and those are accepted). Read-only fields and bad values for
restricted picklists are refused on every write path; ``describe`` returns full field metadata
(``picklistValues``, ``createable``, ``updateable``, ``length``, ...). Errors are Salesforce's
``[{message, errorCode, fields?}]``, for unknown routes and injected faults too.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from acct_pipeline.warehouse import CRM_ACTIVITIES, CRM_COMPANIES, CRM_CONTACTS, CRM_TICKETS
from acct_pipeline_tests.fakes import landing, marketing
from acct_pipeline_tests.fakes.base import (
    FakeServer,
    Fault,
    Request,
    Response,
    bearer_token,
    json_response,
)

TOKEN = "00Dxx0000001gPL!AQ4AQFakeSessionTokenForTests0123456789abcdefghijklmnop"
API_VERSION = "v62.0"

# object -> field -> type (string, id, reference, datetime, date, int, double, boolean, picklist)
SCHEMA: dict[str, dict[str, str]] = {
    "User": {
        "Id": "id",
        "Email": "string",
        "Name": "string",
        "CreatedDate": "datetime",
        "LastModifiedDate": "datetime",
    },
    "Account": {
        "Id": "id",
        "Name": "string",
        "Website": "url",
        "Industry": "picklist",
        "Region__c": "string",
        "NumberOfEmployees": "int",
        "Lifecycle_Stage__c": "picklist",
        "OwnerId": "reference",
        "ParentId": "reference",
        "CreatedDate": "datetime",
        "LastModifiedDate": "datetime",
        "SystemModstamp": "datetime",
    },
    "Contact": {
        "Id": "id",
        "AccountId": "reference",
        "Email": "email",
        "FirstName": "string",
        "LastName": "string",
        "Title": "string",
        "Is_Champion__c": "boolean",
        "Left_Company_At__c": "datetime",
        "CreatedDate": "datetime",
        "LastModifiedDate": "datetime",
        "SystemModstamp": "datetime",
    },
    "Task": {
        "Id": "id",
        "AccountId": "reference",
        "WhoId": "reference",
        "WhatId": "reference",
        "Type": "picklist",
        "Subject": "string",
        "Description": "textarea",
        "Status": "picklist",
        "Priority": "picklist",
        "OwnerId": "reference",
        "ActivityDate": "date",
        "IsClosed": "boolean",
        "CompletedDateTime": "datetime",
        "NPS_Score__c": "double",
        "CreatedDate": "datetime",
        "LastModifiedDate": "datetime",
        "SystemModstamp": "datetime",
    },
    "Event": {
        "Id": "id",
        "AccountId": "reference",
        "WhoId": "reference",
        "Subject": "string",
        "StartDateTime": "datetime",
        "EndDateTime": "datetime",
        "CreatedDate": "datetime",
        "LastModifiedDate": "datetime",
        "SystemModstamp": "datetime",
    },
    "Case": {
        "Id": "id",
        "AccountId": "reference",
        "CreatedDate": "datetime",
        "ClosedDate": "datetime",
        "Priority": "picklist",
        "Status": "picklist",
        "IsEscalated": "boolean",
        "CSAT__c": "double",
        "LastModifiedDate": "datetime",
        "SystemModstamp": "datetime",
    },
    "Campaign": {
        "Id": "id",
        "Name": "string",
        "Type": "picklist",
        "Status": "picklist",
        "StartDate": "date",
        "IsActive": "boolean",
        "CreatedDate": "datetime",
        "LastModifiedDate": "datetime",
        "SystemModstamp": "datetime",
    },
    "CampaignMember": {
        "Id": "id",
        "CampaignId": "reference",
        "ContactId": "reference",
        "LeadId": "reference",
        "Status": "picklist",
        "HasResponded": "boolean",
        "FirstRespondedDate": "date",
        "CreatedDate": "datetime",
        "LastModifiedDate": "datetime",
        "SystemModstamp": "datetime",
    },
}
RELATIONSHIPS = {
    ("Account", "Owner"): ("OwnerId", "User"),
    ("Contact", "Account"): ("AccountId", "Account"),
    ("CampaignMember", "Campaign"): ("CampaignId", "Campaign"),
    ("CampaignMember", "Contact"): ("ContactId", "Contact"),
}
READ_ONLY = {
    "Id",
    "CreatedDate",
    "LastModifiedDate",
    "SystemModstamp",
    # a Task's: set by Salesforce from its Status (a closed status closes it, at that moment)
    "IsClosed",
    "CompletedDateTime",
}
TASK_CLOSED_STATUSES = ("Completed",)
KEY_PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "User": "005",
    "Task": "00T",
    "Event": "00U",
    "Case": "500",
    "Campaign": "701",
    "CampaignMember": "00v",
}
# (object, field) -> (values, restricted). Restricted picklists refuse other values via the API.
PICKLISTS: dict[tuple[str, str], tuple[tuple[str, ...], bool]] = {
    ("Task", "Status"): (
        ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"),
        True,
    ),
    ("Task", "Priority"): (("High", "Normal", "Low"), True),
    ("Task", "Type"): (("Call", "Email", "Email Reply", "Meeting", "NPS", "Other"), False),
    ("Case", "Status"): (("New", "Working", "Escalated", "Closed"), True),
    ("Case", "Priority"): (("Low", "Medium", "High", "Urgent"), False),
    ("Campaign", "Type"): (
        (
            "Advertisement",
            "Banner Ads",
            "Conference",
            "Direct Mail",
            "Email",
            "Other",
            "Partners",
            "Public Relations",
            "Referral Program",
            "Telemarketing",
            "Trade Show",
            "Webinar",
        ),
        False,
    ),
    ("Account", "Industry"): (
        (
            "Agriculture",
            "Apparel",
            "Banking",
            "Biotechnology",
            "Chemicals",
            "Communications",
            "Construction",
            "Consulting",
            "Education",
            "Electronics",
            "Energy",
            "Engineering",
            "Entertainment",
            "Environmental",
            "Finance",
            "Food & Beverage",
            "Government",
            "Healthcare",
            "Hospitality",
            "Insurance",
            "Machinery",
            "Manufacturing",
            "Media",
            "Not For Profit",
            "Other",
            "Recreation",
            "Retail",
            "Shipping",
            "Technology",
            "Telecommunications",
            "Transportation",
            "Utilities",
        ),
        False,
    ),
}
# Setup's names for field types (what ``add_field`` may be given) -> the API's describe type.
TYPE_ALIASES = {
    "Number": "double",
    "Text / Long Text Area": "string",
    "Text": "string",
    "Picklist": "picklist",
    "Date": "date",
}
_ID = re.compile(r"[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?")
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_CODES = {
    400: "MALFORMED_REQUEST",
    401: "INVALID_SESSION_ID",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    429: "REQUEST_LIMIT_EXCEEDED",
    503: "SERVER_UNAVAILABLE",
}


def sf_id(prefix: str, n: int) -> str:
    """An 18-character Salesforce id: key prefix, a 15-character body, the case-safe suffix."""
    short = f"{prefix}5g{n:010d}"[:15]
    return short + "".join(
        _SUFFIX[sum(1 << i for i, ch in enumerate(short[k : k + 5]) if ch.isupper())]
        for k in (0, 5, 10)
    )


def account_ids(n: int, start: int = 1) -> list[str]:
    """``n`` Account ids as Salesforce makes them (for tests that set up an org by hand)."""
    return [sf_id("001", start + i) for i in range(n)]


def is_sf_id(value: Any) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


PRIORITY_TO_API = {"low": "Low", "medium": "Medium", "high": "High", "urgent": "Urgent"}
STATUS_TO_API = {"open": "New", "pending": "Working", "closed": "Closed"}
TASK_TYPE_TO_API = {
    "email_sent": "Email",
    "email_reply": "Email Reply",
    "call": "Call",
    "nps_response": "NPS",
}


# touch activity type -> (Campaign.Type, member Status, HasResponded)
TOUCH_TO_MEMBER = {
    "webinar_registered": ("Webinar", "Registered", False),
    "webinar_attended": ("Webinar", "Attended", True),
    "event_attended": ("Conference", "Attended", True),
    "email_open": ("Email", "Opened", False),
    "email_click": ("Email", "Clicked", True),
    "email_reply": ("Email", "Replied", True),
    "email_bounce": ("Email", "Bounced", False),
}


@dataclass
class Write:
    object_type: str
    record_id: str
    fields: dict[str, Any]
    at: float
    endpoint: str


def sf_datetime(value: str | None) -> str | None:
    """A landing timestamp in Salesforce's format (``2026-05-01T13:45:10.000+0000``); a value
    that is not a timestamp is kept as it is (the dirt stays visible to the loader)."""
    if value is None:
        return None
    ts = landing.parse_ts(value)
    if ts is None:
        return value
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}+0000"


def _num(value: str | None, integer: bool = False) -> Any:
    if value is None:
        return None
    try:
        f = float(value)
    except ValueError:
        return value
    return int(f) if integer and f == int(f) else f


def _bool(value: str | None) -> Any:
    if value is None:
        return False  # a checkbox is never null in Salesforce
    low = value.lower()
    return True if low == "true" else False if low == "false" else value


class FakeSalesforce(FakeServer):
    """Fake Salesforce. ``FakeSalesforce(token=..., page_size=None, api_limit=15000)``."""

    name = "salesforce"
    max_url_length = 16384

    def __init__(
        self,
        token: str = TOKEN,
        *,
        page_size: int | None = None,
        api_limit: int = 15_000,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(clock)
        self.token = token
        self.page_size = page_size
        self.api_limit = api_limit
        self.api_used = 0
        self.schema = {k: dict(v) for k, v in SCHEMA.items()}
        self.records: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in self.schema}
        self.writes: list[Write] = []
        self.record_errors: dict[str, dict[str, Any]] = {}
        self.picklists = dict(PICKLISTS)
        self.legacy_ids: set[str] = set()  # landing ids: not Salesforce-shaped, accepted as ids
        self._cursors: dict[str, tuple[list[dict[str, Any]], int, int]] = {}
        self._ids = itertools.count(1)
        base = "/services/data/v(?P<ver>[0-9]+\\.0)"
        self.route("GET", f"{base}/query/?", self.query)
        self.route("GET", f"{base}/query/(?P<cursor>[^/]+)", self.query_more)
        self.route("PATCH", f"{base}/composite/sobjects/?", self.composite_update)
        self.route("GET", f"{base}/sobjects/(?P<obj>[A-Za-z_]+)/describe/?", self.describe)
        self.route("POST", f"{base}/sobjects/(?P<obj>[A-Za-z_]+)/?", self.insert)
        self.route("PATCH", f"{base}/sobjects/(?P<obj>[A-Za-z_]+)/(?P<rid>[^/]+)", self.update_one)
        self.route("GET", f"{base}/limits/?", self.limits)

    # -- knobs ---------------------------------------------------------------------------------

    def limit_after(self, calls: int) -> None:
        """Answer 403 ``REQUEST_LIMIT_EXCEEDED`` once ``calls`` more API calls have been made."""
        self.api_limit = self.api_used + calls

    def fail_record(
        self,
        record_id: str,
        message: str = "Health score out of range",
        status_code: str = "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        fields: list[str] | None = None,
    ) -> None:
        """Make updates of this record fail with a per-record error in composite results."""
        self.record_errors[str(record_id)] = {
            "statusCode": status_code,
            "message": message,
            "fields": fields or [],
        }

    def add_field(
        self,
        obj: str,
        name: str,
        ftype: str = "double",
        picklist: tuple[str, ...] | None = None,
        restricted: bool = False,
    ) -> None:
        """A field an admin created (Setup / Metadata API); describe lists it from now on.
        ``picklist`` values with ``restricted=True`` make the API refuse any other value."""
        self.schema[obj][name] = TYPE_ALIASES.get(ftype, ftype)
        if picklist is not None:
            self.picklists[(obj, name)] = (tuple(picklist), restricted)

    def writes_to(self, obj: str, record_id: str | None = None) -> list[Write]:
        return [
            w
            for w in self.writes
            if w.object_type == obj and (record_id is None or w.record_id == record_id)
        ]

    def add(self, obj: str, fields: dict[str, Any], *, legacy_id: bool = False) -> dict[str, Any]:
        """Store a record; without ``Id`` it gets a Salesforce-shaped one. A given ``Id`` must be
        15 or 18 characters unless ``legacy_id`` (landing folders keep the generator's ids)."""
        rid = fields.get("Id") or sf_id(KEY_PREFIXES.get(obj, "a00"), next(self._ids))
        if legacy_id:
            self.legacy_ids.add(rid)
        elif not is_sf_id(rid):
            raise ValueError(f"{obj} Id {rid!r} is not a 15- or 18-character Salesforce id")
        rec = {"Id": rid, **{k: v for k, v in fields.items() if k != "Id"}}
        now = sf_datetime(datetime.fromtimestamp(self.clock(), UTC).isoformat())
        rec.setdefault("CreatedDate", now)
        if obj != "User":
            rec.setdefault("LastModifiedDate", rec["CreatedDate"])
            rec.setdefault("SystemModstamp", rec["LastModifiedDate"])
        if obj == "Task" and "IsClosed" not in fields:
            # a planted task: closed by its status, or (landing activities) by a completion time
            status = rec.get("Status")
            rec["IsClosed"] = (
                status in TASK_CLOSED_STATUSES if status else bool(rec.get("CompletedDateTime"))
            )
        for name, ftype in self.schema[obj].items():
            if ftype == "boolean" and rec.get(name) is None:
                rec[name] = False
        self.records[obj][rid] = rec
        return rec

    @staticmethod
    def _derive(obj: str, rec: dict[str, Any], was_closed: bool, stamp: str) -> None:
        """What Salesforce sets itself after a write: a Task's ``IsClosed`` from its status, and
        ``CompletedDateTime`` when it closes (cleared when it is reopened)."""
        if obj != "Task":
            return
        closed = rec.get("Status") in TASK_CLOSED_STATUSES
        if closed and not was_closed:
            rec["CompletedDateTime"] = stamp
        elif not closed:
            rec["CompletedDateTime"] = None
        rec["IsClosed"] = closed

    def load_landing(self, root: str | Path) -> FakeSalesforce:
        root = Path(root)
        for row in landing.unique_rows(root, CRM_COMPANIES):
            owner = row.get("owner_id")
            if owner and owner not in self.records["User"]:
                self.add(
                    "User",
                    {"Id": owner, "Email": row.get("owner_email"), "Name": owner},
                    legacy_id=True,
                )
            self.add(
                "Account",
                {
                    "Id": row["company_id"],
                    "Name": row.get("name"),
                    "Website": row.get("domain"),
                    "Industry": row.get("industry"),
                    "Region__c": row.get("region"),
                    "NumberOfEmployees": _num(row.get("employees"), integer=True),
                    "Lifecycle_Stage__c": row.get("lifecycle_stage"),
                    "OwnerId": owner,
                    "ParentId": row.get("parent_account_id") or None,
                    "CreatedDate": sf_datetime(row.get("created_at")),
                    "LastModifiedDate": sf_datetime(row.get("updated_at") or row.get("created_at")),
                },
                legacy_id=True,
            )
        for row in landing.unique_rows(root, CRM_CONTACTS):
            self.add(
                "Contact",
                {
                    "Id": row["contact_id"],
                    "AccountId": row.get("company_id"),
                    "Email": row.get("email"),
                    "FirstName": row.get("first_name"),
                    "LastName": row.get("last_name"),
                    "Title": row.get("job_title"),
                    "Is_Champion__c": _bool(row.get("is_champion")),
                    "Left_Company_At__c": sf_datetime(row.get("left_company_at")),
                    "CreatedDate": sf_datetime(row.get("created_at")),
                    "LastModifiedDate": sf_datetime(row.get("updated_at") or row.get("created_at")),
                },
                legacy_id=True,
            )
        for row in landing.unique_rows(root, CRM_ACTIVITIES):
            kind = row.get("activity_type")
            if kind == "meeting":
                self.add(
                    "Event",
                    {
                        "Id": row["activity_id"],
                        "AccountId": row.get("company_id"),
                        "WhoId": row.get("contact_id"),
                        "StartDateTime": sf_datetime(row.get("occurred_at")),
                        "Subject": "Meeting",
                        "CreatedDate": sf_datetime(row.get("occurred_at")),
                    },
                    legacy_id=True,
                )
            else:
                self.add(
                    "Task",
                    {
                        "Id": row["activity_id"],
                        "AccountId": row.get("company_id"),
                        "WhoId": row.get("contact_id"),
                        "Type": TASK_TYPE_TO_API.get(kind or "", kind),
                        "Status": "Completed",
                        "CompletedDateTime": sf_datetime(row.get("occurred_at")),
                        "NPS_Score__c": _num(row.get("value")),
                        "CreatedDate": sf_datetime(row.get("occurred_at")),
                    },
                    legacy_id=True,
                )
        for row in landing.unique_rows(root, CRM_TICKETS):
            sev, status = row.get("severity"), row.get("status")
            self.add(
                "Case",
                {
                    "Id": row["ticket_id"],
                    "AccountId": row.get("company_id"),
                    "CreatedDate": sf_datetime(row.get("created_at")),
                    "ClosedDate": sf_datetime(row.get("closed_at")),
                    "Priority": PRIORITY_TO_API.get(sev, sev) if sev else None,
                    "Status": STATUS_TO_API.get(status, status) if status else None,
                    "IsEscalated": _bool(row.get("escalated")),
                    "CSAT__c": _num(row.get("csat_score")),
                },
                legacy_id=True,
            )
        self.load_touches(marketing.landing_touches(root, "salesforce"))
        return self

    def add_campaign(self, ctype: str, name: str | None = None) -> str:
        """A Campaign of type ``ctype`` (one per type is enough for the touches)."""
        for rid, rec in self.records["Campaign"].items():
            if rec.get("Type") == ctype and (name is None or rec.get("Name") == name):
                return rid
        return self.add("Campaign", {"Name": name or f"{ctype} 2026", "Type": ctype})["Id"]

    def load_touches(self, rows: list[dict[str, str | None]]) -> None:
        """Campaign members for contract touches (``TOUCH_TO_MEMBER``); a response is dated by
        ``FirstRespondedDate`` (a date), the member's ``CreatedDate`` a week before it."""
        for row in rows:
            kind = TOUCH_TO_MEMBER.get(row.get("activity_type") or "")
            when = landing.parse_ts(row.get("occurred_at"))
            if kind is None or when is None or not row.get("contact_id"):
                continue
            ctype, status, responded = kind
            created = when - timedelta(days=7) if responded else when
            self.add(
                "CampaignMember",
                {
                    "Id": str(row["touch_id"]).removeprefix("sf-cm-"),
                    "CampaignId": self.add_campaign(ctype),
                    "ContactId": row["contact_id"],
                    "LeadId": None,
                    "Status": status,
                    "HasResponded": responded,
                    "FirstRespondedDate": when.date().isoformat() if responded else None,
                    "CreatedDate": sf_datetime(created.isoformat()),
                },
                legacy_id=True,
            )

    # -- auth and limits -----------------------------------------------------------------------

    def authenticate(self, req: Request) -> Response | None:
        if bearer_token(req) == self.token:
            return None
        return json_response(
            401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
        )

    def _limit_header(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.api_limit}"}

    def throttle(self, req: Request) -> Response | None:
        with self.lock:
            if self.api_used >= self.api_limit:
                return json_response(
                    403,
                    [
                        {
                            "message": "TotalRequests Limit exceeded.",
                            "errorCode": "REQUEST_LIMIT_EXCEEDED",
                        }
                    ],
                    self._limit_header(),
                )
            self.api_used += 1
        return None

    def rate_limit_fault_response(self, fault: Fault) -> Response:
        # Salesforce has no 429 for API limits; an injected 429 looks like a gateway's.
        return json_response(
            429, [{"message": "Too many requests", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
        )

    def dispatch(self, req: Request) -> tuple[Response | None, str | None]:
        resp, fault = super().dispatch(req)
        if resp is not None and resp.status != 401:
            resp.headers.update(self._limit_header())
        return resp, fault

    @staticmethod
    def _error(status: int, code: str, message: str, fields: list[str] | None = None) -> Response:
        err: dict[str, Any] = {"message": message, "errorCode": code}
        if fields is not None:
            err["fields"] = fields
        return json_response(status, [err])

    def error_response(self, status: int, message: str) -> Response:
        """Unknown routes, injected faults, crashes: Salesforce's ``[{message, errorCode}]``."""
        if status == 404 and message.startswith("no route for "):
            message = "The requested resource does not exist"
        return self._error(status, _CODES.get(status, "UNKNOWN_EXCEPTION"), message)

    # -- ids and field validation ----------------------------------------------------------

    def valid_id(self, rid: Any) -> bool:
        return is_sf_id(rid) or rid in self.legacy_ids

    def _resolve(self, obj: str, rid: str) -> str | None:
        """The stored key of ``rid`` (15- and 18-character forms of an id are the same record)."""
        store = self.records.get(obj, {})
        if rid in store:
            return rid
        if is_sf_id(rid):
            return next((k for k in store if is_sf_id(k) and k[:15] == rid[:15]), None)
        return None

    def _field_errors(
        self, obj: str, fields: dict[str, Any], creating: bool = False
    ) -> list[dict[str, Any]]:
        """Salesforce's per-field errors for a write: read-only fields, malformed reference ids,
        values outside a restricted picklist."""
        errors: list[dict[str, Any]] = []
        ro = [f for f in fields if f in READ_ONLY]
        if ro:
            errors.append(
                {
                    "statusCode": "INVALID_FIELD_FOR_INSERT_UPDATE",
                    "message": f"Unable to create/update fields: {', '.join(ro)}. Please check "
                    "the security settings of this field and verify that it is read/write for "
                    "your profile or permission set.",
                    "fields": ro,
                }
            )
        for name, value in fields.items():
            ftype = self.schema[obj].get(name)
            if ftype == "reference" and value not in (None, "") and not self.valid_id(value):
                label = {"WhatId": "Related To ID", "WhoId": "Name ID"}.get(name, f"{name[:-2]} ID")
                errors.append(
                    {
                        "statusCode": "MALFORMED_ID",
                        "message": f"{label}: id value of incorrect type: {value}",
                        "fields": [name],
                    }
                )
            values, restricted = self.picklists.get((obj, name), ((), False))
            if restricted and value not in (None, "") and value not in values:
                errors.append(
                    {
                        "statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        "message": f"{name}: bad value for restricted picklist field: {value}",
                        "fields": [name],
                    }
                )
        return errors

    @staticmethod
    def _errors_response(errors: list[dict[str, Any]]) -> Response:
        """Errors of a single-record write: 400 with ``[{message, errorCode, fields}]``."""
        return json_response(
            400,
            [
                {"message": e["message"], "errorCode": e["statusCode"], "fields": e["fields"]}
                for e in errors
            ],
        )

    # -- query ---------------------------------------------------------------------------------

    def _page_size(self, req: Request) -> int:
        if self.page_size:
            return self.page_size
        m = re.search(r"batchSize=(\d+)", req.header("sforce-query-options") or "")
        return max(200, min(2000, int(m.group(1)))) if m else 2000

    def query(self, req: Request, ver: str) -> Response:
        q = req.arg("q")
        if not q:
            return self._error(400, "MALFORMED_QUERY", "query parameter q is required")
        try:
            rows = self._run_soql(q)
        except SoqlError as exc:
            return self._error(400, exc.code, str(exc))
        return self._page(req, ver, rows, 0, self._page_size(req))

    def query_more(self, req: Request, ver: str, cursor: str) -> Response:
        state = self._cursors.get(cursor)
        if state is None:
            return self._error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        rows, offset, size = state
        return self._page(req, ver, rows, offset, size)

    def _page(
        self, req: Request, ver: str, rows: list[dict[str, Any]], offset: int, size: int
    ) -> Response:
        page = rows[offset : offset + size]
        done = offset + size >= len(rows)
        body: dict[str, Any] = {"totalSize": len(rows), "done": done, "records": page}
        if not done:
            locator = f"01g{uuid.uuid4().hex[:12]}-{offset + size}"
            self._cursors[locator] = (rows, offset + size, size)
            body["nextRecordsUrl"] = f"/services/data/v{ver}/query/{locator}"
        return json_response(200, body)

    def _run_soql(self, q: str) -> list[dict[str, Any]]:
        parsed = parse_soql(q)
        obj = parsed["object"]
        if obj not in self.schema:
            raise SoqlError("INVALID_TYPE", f"sObject type '{obj}' is not supported.")
        fields = parsed["fields"]
        for f in (
            fields
            + [w[0] for w in parsed["where"]]
            + ([parsed["order"][0]] if parsed["order"] else [])
        ):
            self._check_field(obj, f)
        for fname, _op, lit in parsed["where"]:
            ftype = self.schema[obj].get(fname)
            for value in lit if isinstance(lit, tuple) else (lit,):
                is_id = ftype in ("id", "reference") and isinstance(value, str)
                if is_id and not self.valid_id(value):
                    raise SoqlError("INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {value}")
        recs = list(self.records[obj].values())
        for fname, op, lit in parsed["where"]:
            recs = [r for r in recs if _compare(self._value(obj, r, fname), op, lit)]
        if parsed["order"]:
            fname, desc = parsed["order"]
            recs.sort(
                key=lambda r: (
                    self._value(obj, r, fname) is None,
                    str(self._value(obj, r, fname) or ""),
                ),
                reverse=desc,
            )
        if parsed["limit"] is not None:
            recs = recs[: parsed["limit"]]
        return [self._shape(obj, r, fields) for r in recs]

    def _check_field(self, obj: str, f: str) -> None:
        if "." in f:
            rel, sub = f.split(".", 1)
            if (obj, rel) not in RELATIONSHIPS:
                raise SoqlError(
                    "INVALID_FIELD", f"Didn't understand relationship '{rel}' in field path."
                )
            self._check_field(RELATIONSHIPS[(obj, rel)][1], sub)
        elif f not in self.schema[obj]:
            raise SoqlError("INVALID_FIELD", f"No such column '{f}' on entity '{obj}'.")

    def _value(self, obj: str, rec: dict[str, Any], f: str) -> Any:
        if "." in f:
            rel, sub = f.split(".", 1)
            fk, target = RELATIONSHIPS[(obj, rel)]
            other = self.records[target].get(rec.get(fk) or "")
            return self._value(target, other, sub) if other else None
        return rec.get(f)

    def _shape(self, obj: str, rec: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attributes": {
                "type": obj,
                "url": f"/services/data/{API_VERSION}/sobjects/{obj}/{rec['Id']}",
            }
        }
        for f in fields:
            if "." in f:
                rel, sub = f.split(".", 1)
                fk, target = RELATIONSHIPS[(obj, rel)]
                other = self.records[target].get(rec.get(fk) or "")
                if other is None:
                    out[rel] = None
                else:
                    nested = out.setdefault(
                        rel,
                        {
                            "attributes": {
                                "type": target,
                                "url": _url(target, other["Id"]),
                            }
                        },
                    )
                    nested[sub] = other.get(sub)
            else:
                out[f] = rec.get(f)
        return out

    # -- writes --------------------------------------------------------------------------------

    def composite_update(self, req: Request, ver: str) -> Response:
        body = req.json() or {}
        records = body.get("records")
        if not isinstance(records, list) or not records:
            return self._error(400, "INVALID_FIELD", "records must be a non-empty list")
        if len(records) > 200:
            return self._error(
                400,
                "EXCEEDED_ID_LIMIT",
                "record limit reached. cannot submit more than 200 records into this call",
            )
        all_or_none = bool(body.get("allOrNone", False))
        for r in records:
            obj = (r.get("attributes") or {}).get("type")
            if obj not in self.schema:
                return self._error(400, "INVALID_TYPE", f"sObject type '{obj}' is not supported.")
            for f in r:
                if f not in ("attributes", "id", "Id") and f not in self.schema[obj]:
                    return self._error(
                        400, "INVALID_FIELD", f"No such column '{f}' on sobject of type {obj}"
                    )
        results: list[dict[str, Any]] = []
        ok: list[tuple[str, str, dict[str, Any]]] = []
        for r in records:
            obj = r["attributes"]["type"]
            rid = str(r.get("id") or r.get("Id") or "")
            fields = {k: v for k, v in r.items() if k not in ("attributes", "id", "Id")}
            rid = self._resolve(obj, rid) or rid
            if rid and not self.valid_id(rid):
                results.append(
                    {
                        "id": None,
                        "success": False,
                        "errors": [
                            {
                                "statusCode": "MALFORMED_ID",
                                "message": f"{obj} ID: id value of incorrect type: {rid}",
                                "fields": ["Id"],
                            }
                        ],
                    }
                )
            elif rid not in self.records[obj]:
                results.append(
                    {
                        "id": rid,
                        "success": False,
                        "errors": [
                            {
                                "statusCode": "ENTITY_IS_DELETED" if rid else "MISSING_ARGUMENT",
                                "message": "entity is deleted"
                                if rid
                                else "Id not specified in an update call",
                                "fields": [],
                            }
                        ],
                    }
                )
            elif rid in self.record_errors:
                results.append(
                    {"id": rid, "success": False, "errors": [dict(self.record_errors[rid])]}
                )
            elif problems := self._field_errors(obj, fields):
                results.append({"id": rid, "success": False, "errors": problems})
            else:
                results.append({"id": rid, "success": True, "errors": []})
                ok.append((obj, rid, fields))
        if all_or_none and len(ok) != len(records):
            results = [
                r
                if not r["success"]
                else {
                    "id": r["id"],
                    "success": False,
                    "errors": [
                        {
                            "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                            "message": ROLLED_BACK,
                            "fields": [],
                        }
                    ],
                }
                for r in results
            ]
            return json_response(200, results)
        now = self.clock()
        stamp = sf_datetime(datetime.fromtimestamp(now, UTC).isoformat())
        with self.lock:
            for obj, rid, fields in ok:
                was_closed = bool(self.records[obj][rid].get("IsClosed"))
                self.records[obj][rid].update(fields)
                self._derive(obj, self.records[obj][rid], was_closed, stamp)
                self.records[obj][rid]["LastModifiedDate"] = stamp
                self.records[obj][rid]["SystemModstamp"] = stamp
                self.writes.append(Write(obj, rid, fields, now, "composite/sobjects"))
        return json_response(200, results)

    def update_one(self, req: Request, ver: str, obj: str, rid: str) -> Response:
        if obj not in self.schema:
            return self._error(404, "NOT_FOUND", "The requested resource does not exist")
        if not self.valid_id(rid):  # not an id: Salesforce tries it as an external id
            return self._error(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {rid}",
            )
        key = self._resolve(obj, rid)
        if key is None:
            return self._error(404, "ENTITY_IS_DELETED", "entity is deleted", [])
        fields = req.json() or {}
        bad = [f for f in fields if f not in self.schema[obj]]
        if bad:
            return self._error(
                400, "INVALID_FIELD", f"No such column '{bad[0]}' on sobject of type {obj}"
            )
        if problems := self._field_errors(obj, fields):
            return self._errors_response(problems)
        rid = key
        stamp = sf_datetime(datetime.fromtimestamp(self.clock(), UTC).isoformat())
        was_closed = bool(self.records[obj][rid].get("IsClosed"))
        self.records[obj][rid].update(fields)
        self._derive(obj, self.records[obj][rid], was_closed, stamp)
        self.records[obj][rid]["LastModifiedDate"] = stamp
        self.records[obj][rid]["SystemModstamp"] = stamp
        self.writes.append(Write(obj, rid, fields, self.clock(), "sobjects/update"))
        return Response(204)

    def insert(self, req: Request, ver: str, obj: str) -> Response:
        if obj not in self.schema:
            return self._error(404, "NOT_FOUND", "The requested resource does not exist")
        fields = req.json() or {}
        bad = [f for f in fields if f not in self.schema[obj]]
        if bad:
            return self._error(
                400, "INVALID_FIELD", f"No such column '{bad[0]}' on sobject of type {obj}"
            )
        if problems := self._field_errors(obj, fields, creating=True):
            return self._errors_response(problems)
        with self.lock:
            rec = self.add(obj, {k: v for k, v in fields.items()})
            self._derive(obj, rec, False, rec["CreatedDate"])
            self.writes.append(Write(obj, rec["Id"], fields, self.clock(), "sobjects/insert"))
        return json_response(201, {"id": rec["Id"], "success": True, "errors": []})

    def describe(self, req: Request, ver: str, obj: str) -> Response:
        if obj not in self.schema:
            return self._error(404, "NOT_FOUND", "The requested resource does not exist")
        fields = [self._describe_field(obj, n, t) for n, t in self.schema[obj].items()]
        prefix = f"/services/data/v{ver}/sobjects/{obj}"
        return json_response(
            200,
            {
                "name": obj,
                "label": obj,
                "labelPlural": f"{obj}s",
                "keyPrefix": KEY_PREFIXES.get(obj),
                "custom": False,
                "createable": True,
                "deletable": True,
                "queryable": True,
                "retrieveable": True,
                "searchable": True,
                "updateable": True,
                "fields": fields,
                "childRelationships": [],
                "recordTypeInfos": [],
                "urls": {
                    "sobject": prefix,
                    "describe": f"{prefix}/describe",
                    "rowTemplate": f"{prefix}/{{ID}}",
                },
            },
        )

    def _describe_field(self, obj: str, name: str, ftype: str) -> dict[str, Any]:
        """One field as ``describe`` returns it (the keys the SDKs and the sync read)."""
        values, restricted = self.picklists.get((obj, name), ((), False))
        text_length = {"string": 255, "url": 255, "email": 80, "picklist": 255, "textarea": 32000}
        length = 18 if ftype in ("id", "reference") else text_length.get(ftype, 0)
        numeric = ftype in ("double", "int", "currency", "percent")
        target = next(
            (t for (o, rel), (fk, t) in RELATIONSHIPS.items() if o == obj and fk == name), None
        )
        return {
            "name": name,
            "label": name.replace("__c", "").replace("_", " "),
            "type": ftype,
            "soapType": {
                "id": "tns:ID",
                "reference": "tns:ID",
                "boolean": "xsd:boolean",
                "datetime": "xsd:dateTime",
                "date": "xsd:date",
                "double": "xsd:double",
                "int": "xsd:int",
            }.get(ftype, "xsd:string"),
            "length": length,
            "byteLength": length * 3,
            "precision": 18 if ftype == "double" else 0,
            "scale": 2 if ftype == "double" else 0,
            "digits": 9 if ftype == "int" else 0,
            "custom": name.endswith("__c"),
            "createable": name not in READ_ONLY,
            "updateable": name not in READ_ONLY,
            "nillable": ftype not in ("boolean", "id") and name not in READ_ONLY,
            "defaultedOnCreate": name in READ_ONLY or ftype == "boolean",
            "calculated": False,
            "unique": False,
            "externalId": False,
            "idLookup": ftype == "id",
            "nameField": name == "Name",
            "autoNumber": False,
            "caseSensitive": False,
            "filterable": True,
            "sortable": ftype != "textarea",
            "groupable": not numeric and ftype != "textarea",
            "aggregatable": True,
            "permissionable": name.endswith("__c"),
            "htmlFormatted": False,
            "dependentPicklist": False,
            "restrictedPicklist": restricted,
            "picklistValues": [
                {"active": True, "defaultValue": False, "label": v, "validFor": None, "value": v}
                for v in values
            ],
            "referenceTo": [target] if target else [],
            "relationshipName": name[:-2] if ftype == "reference" else None,
            "defaultValue": False if ftype == "boolean" else None,
            "deprecatedAndHidden": False,
            "inlineHelpText": None,
        }

    def limits(self, req: Request, ver: str) -> Response:
        return json_response(
            200,
            {
                "DailyApiRequests": {
                    "Max": self.api_limit,
                    "Remaining": self.api_limit - self.api_used,
                }
            },
        )


# ---------------------------------------------------------------------------------------------
# A tiny SOQL parser: enough for the connectors' and the sync's queries, strict about the rest.
# ---------------------------------------------------------------------------------------------


ROLLED_BACK = (
    "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header"
)


def _url(obj: str, rid: str) -> str:
    return f"/services/data/{API_VERSION}/sobjects/{obj}/{rid}"


class SoqlError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


_SOQL = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<obj>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+ORDER\s+BY\s+(?P<order>[\w.]+)(?:\s+(?P<dir>ASC|DESC))?)?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_COND = re.compile(
    r"^\s*(?P<f>[\w.]+)\s*(?P<op>!=|<=|>=|=|<|>)\s*(?P<lit>'(?:[^'\\]|\\.)*'|[^\s]+)\s*$"
)
# ``f IN ('a', 'b', ...)``: a list of string literals (what the pipeline sends: record ids)
_IN = re.compile(r"^\s*(?P<f>[\w.]+)\s+IN\s*\((?P<items>.*)\)\s*$", re.IGNORECASE | re.DOTALL)
_IN_ITEM = re.compile(r"\s*('(?:[^'\\]|\\.)*')\s*(?:,|$)")


def parse_soql(q: str) -> dict[str, Any]:
    m = _SOQL.match(q)
    if not m:
        raise SoqlError("MALFORMED_QUERY", f"unexpected token in query: {q[:80]}")
    fields = [f.strip() for f in m.group("fields").split(",")]
    if any(not re.fullmatch(r"[\w.]+", f) for f in fields):
        raise SoqlError("MALFORMED_QUERY", "only plain field lists are supported by this fake")
    where = []
    if m.group("where"):
        for part in re.split(r"\s+AND\s+", m.group("where"), flags=re.IGNORECASE):
            if listed := _IN.match(part):
                where.append((listed.group("f"), "IN", _in_list(listed.group("items"))))
                continue
            c = _COND.match(part)
            if not c:
                raise SoqlError("MALFORMED_QUERY", f"unexpected condition: {part}")
            where.append((c.group("f"), c.group("op"), _literal(c.group("lit"))))
    order = (
        (m.group("order"), (m.group("dir") or "ASC").upper() == "DESC")
        if m.group("order")
        else None
    )
    return {
        "fields": fields,
        "object": m.group("obj"),
        "where": where,
        "order": order,
        "limit": int(m.group("limit")) if m.group("limit") else None,
    }


def _in_list(items: str) -> tuple[str, ...]:
    """The string literals of an ``IN (...)`` list; anything else is a malformed query."""
    out, pos = [], 0
    while pos < len(items):
        m = _IN_ITEM.match(items, pos)
        if not m or m.end() == pos:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token in IN list: {items[pos:][:40]}")
        out.append(_literal(m.group(1)))
        pos = m.end()
    if not out:
        raise SoqlError("MALFORMED_QUERY", "an IN list needs at least one value")
    return tuple(out)


def _literal(lit: str) -> Any:
    if lit.startswith("'"):
        return lit[1:-1].replace("\\'", "'")
    low = lit.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "null":
        return None
    if re.fullmatch(r"\d{4}-\d\d-\d\dT.*", lit):
        ts = landing.parse_ts(lit)
        if ts is None:
            raise SoqlError("MALFORMED_QUERY", f"invalid datetime literal {lit}")
        return ts
    try:
        return float(lit)
    except ValueError as exc:
        raise SoqlError("MALFORMED_QUERY", f"unexpected literal {lit}") from exc


def _compare(value: Any, op: str, lit: Any) -> bool:
    if op == "IN":
        return any(_compare(value, "=", item) for item in lit)
    if lit is None:
        return (value is None) == (op == "=")
    if value is None:
        return op == "!="
    if isinstance(lit, datetime):
        value = landing.parse_ts(str(value).replace("+0000", "+00:00"))
        if value is None:
            return False
    elif isinstance(lit, float):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return False
    return {
        "=": value == lit,
        "!=": value != lit,
        "<": value < lit,
        "<=": value <= lit,
        ">": value > lit,
        ">=": value >= lit,
    }[op]
