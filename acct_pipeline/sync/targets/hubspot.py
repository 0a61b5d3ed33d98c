"""HubSpot companies: ``batch/update`` by record id, 100 per request, on ``connectors/http/``.

- Only the mapped properties are sent (values as strings; ``""`` clears a ``nulls: clear`` field).
- 200: every input accepted. 207 Multi-Status: errors carry ``context.ids``; those records are
  rejected with HubSpot's message, the others accepted (``results``). A record in neither is
  "unknown" and read back.
- A write is sent with ``idempotent=False``: a 429 is retried by the client (HubSpot did not process
  it), but after a 5xx or a timeout nobody knows whether HubSpot applied it, so the engine reads the
  batch back (``batch/read``) and resends only what is not there — no accepted record is written
  twice.
- ``prepare``: lists the company properties once per run that has something to send; missing ones
  are created (own property group, 409 = already there) when ``ACCT_SYNC_CREATE_FIELDS`` allows it,
  otherwise the run stops with their names.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from acct_pipeline.connectors.http import ApiError, RetryPolicy
from acct_pipeline.services.hubspot import hubspot_client
from acct_pipeline.sync.mapping import FieldMapping, FieldSpec
from acct_pipeline.sync.settings import HUBSPOT_TOKEN_ENV, SyncConfigError, SyncSettings
from acct_pipeline.sync.targets.base import (
    BatchOutcome,
    HttpTarget,
    OutRecord,
    plan_windows,
    values_equal,
)

ACCOUNT_INFO_PATH = "/account-info/v3/details"  # {"portalId": 12345, "timeZone": ..., ...}

PROPERTY_TYPES = {  # mapping type -> (HubSpot type, fieldType)
    "number": ("number", "number"),
    "text": ("string", "text"),
    "enumeration": ("enumeration", "select"),
    "date": ("date", "date"),
}


class HubSpotTarget(HttpTarget):
    name = "hubspot"

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
        if not settings.hubspot_token:
            raise SyncConfigError(
                f"sync target hubspot: no access token — set {HUBSPOT_TOKEN_ENV} (a private-app "
                "token or service key with crm.objects.companies.write and "
                "crm.schemas.companies.write)"
            )
        self.settings = settings
        self.batch_size = settings.effective_batch_size
        self.objects_path = settings.hubspot_objects_path.rstrip("/")
        self.properties_path = settings.hubspot_properties_path.rstrip("/")
        self.client = hubspot_client(
            settings.hubspot_token,
            base_url=settings.hubspot_base_url,
            rate_limit=plan_windows(settings.rate_limit),
            retry=retry or RetryPolicy(max_attempts=10),
            headers={"Content-Type": "application/json"},
            sleep=sleep,
            clock=clock,
        )

    # -- helpers -------------------------------------------------------------------------------

    def _props(self, values: dict[str, str | None]) -> dict[str, str]:
        out: dict[str, str] = {}
        for f in self.specs:
            if f.name in values:
                v = values[f.name]
                out[f.crm_name(self.name)] = "" if v is None else v
        return out

    def identity(self) -> str | None:
        """The portal id (``portalId`` of the account details); None when the server has no
        such endpoint (404)."""
        try:
            body = self.client.get_json(ACCOUNT_INFO_PATH)
        except ApiError as exc:
            if exc.status in (404, 405):
                return None
            raise
        portal = body.get("portalId") if isinstance(body, dict) else None
        return str(portal) if portal not in (None, "") else None

    # -- properties ----------------------------------------------------------------------------

    def _property_body(self, f: FieldSpec) -> dict[str, Any]:
        ptype, field_type = PROPERTY_TYPES[f.type]
        if f.type == "text" and (f.max_length or 0) > 255:
            field_type = "textarea"
        body: dict[str, Any] = {
            "name": f.crm_name(self.name),
            "label": f.label or f.name.replace("_", " ").capitalize(),
            "type": ptype,
            "fieldType": field_type,
            "groupName": self.settings.property_group,
            "description": f.description or f"Written by acct_pipeline (field {f.name}).",
        }
        if f.type == "enumeration":
            body["options"] = [
                {"label": o, "value": o, "displayOrder": i} for i, o in enumerate(f.options)
            ]
        return body

    def prepare(self) -> list[str]:
        existing = {
            p.get("name")
            for p in self.client.get_json(self.properties_path).get("results", [])
            if isinstance(p, dict)
        }
        missing = [f for f in self.specs if f.crm_name(self.name) not in existing]
        if not missing:
            return []
        names = [f.crm_name(self.name) for f in missing]
        if not self.settings.create_fields:
            raise SyncConfigError(
                f"hubspot: company properties missing: {', '.join(names)} — create them in HubSpot "
                "(Settings → Properties → Company) or set ACCT_SYNC_CREATE_FIELDS=true to let the "
                f"sync create them in the property group '{self.settings.property_group}'"
            )
        group = self.settings.property_group
        self.client.request(
            "POST",
            f"{self.properties_path}/groups",
            json={"name": group, "label": group.replace("_", " ").title()},
            ok_statuses=(409,),
            idempotent=True,  # 409 = already there: safe to repeat after a 5xx / dropped answer
        )
        for f in missing:
            self.client.request(
                "POST",
                self.properties_path,
                json=self._property_body(f),
                ok_statuses=(409,),
                idempotent=True,
            )
        return [f"created HubSpot company properties in group '{group}': {', '.join(names)}"]

    # -- writes --------------------------------------------------------------------------------

    def write(self, records: Sequence[OutRecord], batch_id: str) -> BatchOutcome:
        if len(records) > self.batch_size:
            raise ValueError(f"hubspot batch of {len(records)} exceeds {self.batch_size}")
        payload = {
            "inputs": [{"id": r.record_id, "properties": self._props(r.values)} for r in records]
        }
        self.write_requests += 1
        resp = self.client.request(
            "POST", f"{self.objects_path}/batch/update", json=payload, idempotent=False
        )
        body = resp.json() if resp.content else {}
        sent = [r.record_id for r in records]
        if resp.status_code == 200:
            return BatchOutcome(accepted=sent)
        rejected: dict[str, str] = {}
        for err in body.get("errors") or []:
            msg = f"{err.get('category') or 'ERROR'}: {err.get('message') or ''}".strip()
            for rid in (err.get("context") or {}).get("ids") or []:
                rejected[str(rid)] = self.redact(msg)[:1000]
        ok = {str(r.get("id")) for r in body.get("results") or [] if isinstance(r, dict)}
        accepted = [rid for rid in sent if rid in ok and rid not in rejected]
        unknown = [rid for rid in sent if rid not in ok and rid not in rejected]
        return BatchOutcome(
            accepted=accepted,
            rejected={k: v for k, v in rejected.items() if k in set(sent)},
            unknown=unknown,
        )

    def read_back(self, records: Sequence[OutRecord], batch_ids: Sequence[str | None]) -> set[str]:
        confirmed: set[str] = set()
        names = [f.crm_name(self.name) for f in self.specs]
        for i in range(0, len(records), 100):
            chunk = records[i : i + 100]
            resp = self.client.request(
                "POST",
                f"{self.objects_path}/batch/read",
                json={"properties": names, "inputs": [{"id": r.record_id} for r in chunk]},
                idempotent=True,
            )
            found = {
                str(x.get("id")): x.get("properties") or {}
                for x in resp.json().get("results") or []
            }
            for r in chunk:
                props = found.get(r.record_id)
                if props is None:
                    continue
                if all(
                    values_equal(f, props.get(f.crm_name(self.name)), r.values[f.name])
                    for f in self.specs
                    if f.name in r.values
                ):
                    confirmed.add(r.record_id)
        return confirmed
