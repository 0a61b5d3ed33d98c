"""Salesforce source: Account, Contact, Task + Event (activities), Case (tickets) via SOQL;
CampaignMember (``marketing_touches``, ``ACCT_MARKETING_SOURCE=salesforce``).

Configuration (environment variables):

``SALESFORCE_INSTANCE_URL``   e.g. ``https://yourorg.my.salesforce.com`` (required).
``SALESFORCE_ACCESS_TOKEN``   an OAuth access token (connected app; JWT bearer or client
                              credentials flow), sent as ``Bearer`` (required). The integration
                              user needs "API Enabled" and read access to Account, Contact, Task,
                              Event, Case, User and the custom fields below; the score write-back
                              needs edit access to the score fields on Account and Create on Task.
``SALESFORCE_API_VERSION``    default ``v62.0``.
``SALESFORCE_RATE_LIMIT``     client-side pacing, ``calls/seconds`` (default ``25/1``).

Queries page with ``nextRecordsUrl`` until ``done``. An org over its 24-hour API allowance
answers 403 ``REQUEST_LIMIT_EXCEEDED``: that raises ``QuotaExhausted`` and stops the run; an
expired token (401 ``INVALID_SESSION_ID``) raises ``AuthFailed`` naming the variable.

Field mapping (custom fields end in ``__c``; adjust the constants for your org):
Account: Id, Name, Website, Industry, Region__c, NumberOfEmployees, Lifecycle_Stage__c, OwnerId,
Owner.Email, CreatedDate, LastModifiedDate, ParentId (the parent account). Contact: Id, AccountId,
Email, FirstName, LastName, Title, Is_Champion__c, Left_Company_At__c, CreatedDate,
LastModifiedDate. Task: Type ``Email`` -> email_sent, ``Email Reply`` -> email_reply, ``Call`` ->
call, ``NPS`` -> nps_response (NPS_Score__c),
CompletedDateTime; Event -> meeting (StartDateTime). Case: Priority, Status (New -> open, Working /
Escalated -> pending, Closed -> closed), IsEscalated, CSAT__c, ClosedDate.

Campaign members (marketing touches; the user also needs read access to Campaign and
CampaignMember): ``SELECT Id, ContactId, Status, HasResponded, CreatedDate,
FirstRespondedDate, Campaign.Type, Contact.AccountId FROM CampaignMember WHERE ContactId != null``
(members that are only leads belong to no account yet; once converted they are contacts). The
campaign's ``Type`` and the member's ``Status`` (member statuses are set per campaign: the
defaults are ``Sent`` and ``Responded``; ``HasResponded`` is true for the statuses the campaign
counts as responses) decide the touch (``CAMPAIGN_TOUCHES``):

- ``Webinar``: responded -> web / ``webinar_attended``; status ``Registered`` -> web /
  ``webinar_registered``; others (``Sent``, ``Invited``) are no touch;
- ``Conference``, ``Trade Show``, ``Event``, ``Seminar / Conference``: responded -> web /
  ``event_attended``; others are no touch;
- ``Email``: by status ``Opened`` -> ``email_open``, ``Clicked`` / ``Responded`` ->
  ``email_click``, ``Replied`` -> ``email_reply``, ``Bounced`` -> ``email_bounce`` (category
  email); ``Sent`` is no touch;
- other campaign types: no touch (counted in ``campaign_members_skipped``).

A response happened on ``FirstRespondedDate`` — a date, so responded touches land at midnight
UTC; a registration on the member's ``CreatedDate``. ``touch_id`` is ``sf-cm-<Id>``, the
account ``Contact.AccountId``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

from acct_pipeline.connectors.base import RawBatch, SourceError
from acct_pipeline.connectors.http import ServiceClient, batches_of, text
from acct_pipeline.connectors.marketing import (
    EMAIL,
    EMAIL_BOUNCE,
    EMAIL_CLICK,
    EMAIL_OPEN,
    EMAIL_REPLY,
    EVENT_ATTENDED,
    PREFIX_SALESFORCE_CAMPAIGN_MEMBER,
    TOUCHES_TABLE,
    WEB,
    WEBINAR_ATTENDED,
    WEBINAR_REGISTERED,
    touch,
)
from acct_pipeline.services.salesforce import (
    DEFAULT_VERSION,
    VERSION_ENV,
    client_from_env,
)
from acct_pipeline.services.salesforce import query as salesforce_query
from acct_pipeline.warehouse import (
    CRM_ACTIVITIES,
    CRM_COMPANIES,
    CRM_CONTACTS,
    CRM_TICKETS,
    TableSpec,
)

ACCOUNT_FIELDS = {
    "company_id": "Id",
    "name": "Name",
    "domain": "Website",
    "industry": "Industry",
    "region": "Region__c",
    "employees": "NumberOfEmployees",
    "lifecycle_stage": "Lifecycle_Stage__c",
    "owner_id": "OwnerId",
    "owner_email": "Owner.Email",
    "created_at": "CreatedDate",
    "updated_at": "LastModifiedDate",
    "parent_account_id": "ParentId",
}
CONTACT_FIELDS = {
    "contact_id": "Id",
    "company_id": "AccountId",
    "email": "Email",
    "first_name": "FirstName",
    "last_name": "LastName",
    "job_title": "Title",
    "is_champion": "Is_Champion__c",
    "created_at": "CreatedDate",
    "left_company_at": "Left_Company_At__c",
    "updated_at": "LastModifiedDate",
}
CASE_FIELDS = {
    "ticket_id": "Id",
    "company_id": "AccountId",
    "created_at": "CreatedDate",
    "closed_at": "ClosedDate",
    "severity": "Priority",
    "status": "Status",
    "escalated": "IsEscalated",
    "csat_score": "CSAT__c",
}
TASK_TYPES = {
    "Email": "email_sent",
    "Email Reply": "email_reply",
    "Call": "call",
    "NPS": "nps_response",
}
CASE_STATUSES = {"New": "open", "Working": "pending", "Escalated": "pending", "Closed": "closed"}

CAMPAIGN_MEMBER_SOQL = (
    "SELECT Id, ContactId, Status, HasResponded, CreatedDate, FirstRespondedDate, "
    "Campaign.Type, Contact.AccountId FROM CampaignMember WHERE ContactId != null ORDER BY Id"
)
EVENT_CAMPAIGN_TYPES = ("Conference", "Trade Show", "Event", "Seminar / Conference")
EMAIL_STATUSES = {
    "Opened": EMAIL_OPEN,
    "Clicked": EMAIL_CLICK,
    "Responded": EMAIL_CLICK,
    "Replied": EMAIL_REPLY,
    "Bounced": EMAIL_BOUNCE,
}


def campaign_touch(
    campaign_type: str | None, status: str | None, responded: bool
) -> tuple[str, str] | None:
    """(category, activity_type) of a campaign member, None when it is no engagement."""
    if campaign_type == "Webinar":
        if responded:
            return WEB, WEBINAR_ATTENDED
        return (WEB, WEBINAR_REGISTERED) if status == "Registered" else None
    if campaign_type in EVENT_CAMPAIGN_TYPES:
        return (WEB, EVENT_ATTENDED) if responded else None
    if campaign_type == "Email" and status in EMAIL_STATUSES:
        return EMAIL, EMAIL_STATUSES[status]
    return None


def _get(rec: Mapping[str, Any], path: str) -> Any:
    value: Any = rec
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


class SalesforceSource:
    """Reads the CRM raw tables from Salesforce (``ACCT_CRM_SOURCE=salesforce``)."""

    name = "salesforce"

    def __init__(
        self, client: ServiceClient, *, api_version: str = DEFAULT_VERSION, batch_rows: int = 5000
    ) -> None:
        self.client = client
        self.api_version = api_version if api_version.startswith("v") else f"v{api_version}"
        self.batch_rows = batch_rows
        self.records_read: dict[str, int] = {}
        self.campaign_members_skipped = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str], **kw: Any) -> SalesforceSource:
        client = client_from_env(env, **{k: kw.pop(k) for k in ("sleep", "clock") if k in kw})
        return cls(client, api_version=env.get(VERSION_ENV) or DEFAULT_VERSION, **kw)

    def tables(self) -> tuple[str, ...]:
        crm = (CRM_COMPANIES, CRM_CONTACTS, CRM_ACTIVITIES, CRM_TICKETS)
        return (*(t.name for t in crm), TOUCHES_TABLE)

    def read_events(self, spec: TableSpec, day: date) -> Iterator[RawBatch]:
        raise SourceError(f"salesforce does not provide {spec.name}; choose a product source")

    def query(self, soql: str) -> Iterator[dict[str, Any]]:
        """Every record of a SOQL query, following ``nextRecordsUrl`` until ``done``."""
        obj = soql.split(" FROM ", 1)[1].split()[0] if " FROM " in soql else "?"
        n = 0
        for rec in salesforce_query(self.client, self.api_version, soql):
            n += 1
            yield rec
        self.records_read[obj] = self.records_read.get(obj, 0) + n

    def read_table(self, spec: TableSpec) -> Iterator[RawBatch]:
        origin = f"salesforce:{spec.name}"
        if spec.name == CRM_COMPANIES.name:
            rows = self._mapped("Account", ACCOUNT_FIELDS)
        elif spec.name == CRM_CONTACTS.name:
            rows = self._mapped("Contact", CONTACT_FIELDS)
        elif spec.name == CRM_TICKETS.name:
            rows = self._cases()
        elif spec.name == CRM_ACTIVITIES.name:
            rows = self._activities()
        elif spec.name == TOUCHES_TABLE:
            rows = self._campaign_members()
        else:
            raise SourceError(f"salesforce does not provide {spec.name}")
        return batches_of(rows, spec.column_names, origin, self.batch_rows)

    def _mapped(self, obj: str, fields: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        soql = f"SELECT {', '.join(fields.values())} FROM {obj} ORDER BY Id"
        for rec in self.query(soql):
            yield {col: text(_get(rec, f)) for col, f in fields.items()}

    def _cases(self) -> Iterator[dict[str, Any]]:
        for row in self._mapped("Case", CASE_FIELDS):
            if row["severity"]:
                row["severity"] = row["severity"].lower()
            if row["status"]:
                row["status"] = CASE_STATUSES.get(row["status"], row["status"])
            yield row

    def _activities(self) -> Iterator[dict[str, Any]]:
        fields = "Id, AccountId, WhoId, Type, CompletedDateTime, NPS_Score__c"
        task = f"SELECT {fields} FROM Task ORDER BY Id"
        for rec in self.query(task):
            kind = rec.get("Type")
            yield {
                "activity_id": text(rec.get("Id")),
                "company_id": text(rec.get("AccountId")),
                "contact_id": text(rec.get("WhoId")),
                "activity_type": TASK_TYPES.get(kind, text(kind)),
                "occurred_at": text(rec.get("CompletedDateTime")),
                "value": text(rec.get("NPS_Score__c")),
            }
        event = "SELECT Id, AccountId, WhoId, StartDateTime FROM Event ORDER BY Id"
        for rec in self.query(event):
            yield {
                "activity_id": text(rec.get("Id")),
                "company_id": text(rec.get("AccountId")),
                "contact_id": text(rec.get("WhoId")),
                "activity_type": "meeting",
                "occurred_at": text(rec.get("StartDateTime")),
                "value": None,
            }

    def _campaign_members(self) -> Iterator[dict[str, Any]]:
        for rec in self.query(CAMPAIGN_MEMBER_SOQL):
            status = text(rec.get("Status"))
            responded = rec.get("HasResponded") is True
            kind = campaign_touch(text(_get(rec, "Campaign.Type")), status, responded)
            if kind is None:
                self.campaign_members_skipped += 1
                continue
            category, activity = kind
            when = rec.get("FirstRespondedDate") if responded else rec.get("CreatedDate")
            yield touch(
                f"{PREFIX_SALESFORCE_CAMPAIGN_MEMBER}{rec.get('Id')}",
                category=category,
                activity_type=activity,
                occurred_at=text(when or rec.get("CreatedDate")),
                source=self.name,
                account_id=text(_get(rec, "Contact.AccountId")),
                contact_id=text(rec.get("ContactId")),
            )
