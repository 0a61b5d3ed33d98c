"""Salesforce Accounts: ``PATCH composite/sobjects`` with ``allOrNone: false``, 200 per request.

- The answer lists one result per record, in request order: ``{id, success, errors: [{statusCode,
  message, fields}]}``; failures are recorded per record with Salesforce's message.
- ``prepare`` describes Account once per run that has something to send and stops with a clear
  list when a mapped field is missing or not updateable (custom fields are created in Setup, not
  by the sync).
- The org's API quota is a 403 ``REQUEST_LIMIT_EXCEEDED`` (``QuotaExhausted``, the run stops).
- After an unknown outcome (5xx, timeout) the engine reads the records back with SOQL.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from acct_pipeline.connectors.http import RetryPolicy
from acct_pipeline.services.salesforce import salesforce_client
from acct_pipeline.sync.mapping import FieldMapping, FieldSpec
from acct_pipeline.sync.settings import (
    SALESFORCE_INSTANCE_URL_ENV,
    SALESFORCE_TOKEN_ENV,
    SyncConfigError,
    SyncSettings,
)
from acct_pipeline.sync.targets.base import (
    BatchOutcome,
    HttpTarget,
    OutRecord,
    plan_windows,
    values_equal,
)

SOBJECT = "Account"
FIELD_TYPES = {
    "number": "Number",
    "text": "Text / Long Text Area",
    "enumeration": "Picklist",
    "date": "Date",
}


def _sf_value(spec: FieldSpec, value: str | None) -> Any:
    if value is None:
        return None
    if spec.type == "number":
        number = float(value)
        return int(number) if number.is_integer() and "." not in value else number
    return value


def _key(record_id: str) -> str:
    """15- and 18-character ids of one record share the first 15 characters."""
    return record_id[:15]


class SalesforceTarget(HttpTarget):
    name = "salesforce"

    def __init__(
        self,
        settings: SyncSettings,
        mapping: FieldMapping,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(mapping)
        if not settings.salesforce_instance_url or not settings.salesforce_token:
            raise SyncConfigError(
                f"sync target salesforce: set {SALESFORCE_INSTANCE_URL_ENV} (https://<domain>."
                f"my.salesforce.com) and {SALESFORCE_TOKEN_ENV} (an OAuth access token)"
            )
        self.settings = settings
        self.batch_size = settings.effective_batch_size
        self.prefix = f"/services/data/v{settings.salesforce_api_version}"
        self.client = salesforce_client(
            settings.salesforce_token,
            settings.salesforce_instance_url,
            rate_limit=plan_windows(settings.rate_limit),
            retry=retry or RetryPolicy(max_attempts=8),
            headers={"Content-Type": "application/json"},
            sleep=sleep,
            clock=clock,
        )

    def prepare(self) -> list[str]:
        desc = self.client.get_json(f"{self.prefix}/sobjects/{SOBJECT}/describe")
        fields = {f.get("name"): f for f in desc.get("fields") or [] if isinstance(f, dict)}
        missing = [f for f in self.specs if f.crm_name(self.name) not in fields]
        locked = [
            f.crm_name(self.name)
            for f in self.specs
            if f.crm_name(self.name) in fields
            and fields[f.crm_name(self.name)].get("updateable") is False
        ]
        problems = []
        if missing:
            problems.append(
                "missing Account fields: "
                + ", ".join(f"{f.crm_name(self.name)} ({FIELD_TYPES[f.type]})" for f in missing)
            )
        if locked:
            problems.append("fields not updateable by this user: " + ", ".join(locked))
        if problems:
            raise SyncConfigError(
                "salesforce: " + "; ".join(problems) + " — create them in Setup → Object Manager → "
                "Account → Fields & Relationships and grant the integration user edit access "
                "(field-level security), or remove them from the field mapping "
                "(ACCT_SYNC_FIELD_MAPPING)"
            )
        return []

    def write(self, records: Sequence[OutRecord], batch_id: str) -> BatchOutcome:
        if len(records) > self.batch_size:
            raise ValueError(f"salesforce batch of {len(records)} exceeds {self.batch_size}")
        body_records = []
        for r in records:
            rec: dict[str, Any] = {"attributes": {"type": SOBJECT}, "id": r.record_id}
            for f in self.specs:
                if f.name in r.values:
                    rec[f.crm_name(self.name)] = _sf_value(f, r.values[f.name])
            body_records.append(rec)
        self.write_requests += 1
        resp = self.client.request(
            "PATCH",
            f"{self.prefix}/composite/sobjects",
            json={"allOrNone": False, "records": body_records},
            idempotent=False,
        )
        results = resp.json()
        out = BatchOutcome()
        if not isinstance(results, list) or len(results) != len(records):
            out.unknown = [r.record_id for r in records]
            return out
        for r, res in zip(records, results, strict=True):
            if res.get("success"):
                out.accepted.append(r.record_id)
                continue
            msgs = []
            for e in res.get("errors") or []:
                fields = ",".join(e.get("fields") or [])
                msgs.append(
                    f"{e.get('statusCode')}: {e.get('message')}"
                    + (f" [{fields}]" if fields else "")
                )
            out.rejected[r.record_id] = self.redact(
                "; ".join(msgs) or "rejected without a message"
            )[:1000]
        return out

    def read_back(self, records: Sequence[OutRecord], batch_ids: Sequence[str | None]) -> set[str]:
        confirmed: set[str] = set()
        names = [f.crm_name(self.name) for f in self.specs]
        for i in range(0, len(records), 100):
            chunk = records[i : i + 100]
            ids = ", ".join("'" + r.record_id.replace("'", "") + "'" for r in chunk)
            soql = f"SELECT Id, {', '.join(names)} FROM {SOBJECT} WHERE Id IN ({ids})"
            url: str | None = f"{self.prefix}/query"
            params: dict[str, str] | None = {"q": soql}
            found: dict[str, dict[str, Any]] = {}
            while url:
                page = self.client.get_json(url, params=params)
                for row in page.get("records") or []:
                    found[_key(str(row.get("Id")))] = row
                url = None if page.get("done", True) else page.get("nextRecordsUrl")
                params = None
            for r in chunk:
                row = found.get(_key(r.record_id))
                if row is not None and all(
                    values_equal(f, row.get(f.crm_name(self.name)), r.values[f.name])
                    for f in self.specs
                    if f.name in r.values
                ):
                    confirmed.add(r.record_id)
        return confirmed
