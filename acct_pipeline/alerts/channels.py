"""Where alerts go: the JSONL log (default), a signed webhook, and a CRM task for the owner.

Every channel has a ``name`` (the ledger's channel column) and ``send(alert) -> external id``;
``send`` returns only after the receiver confirmed the alert and raises ``ChannelError`` (message
without secrets) otherwise. Whether an alert was already sent is the ledger's business, not the
channel's.

Webhook signature: when ``ACCT_ALERT_WEBHOOK_SECRET`` is set every POST carries

    X-Acct-Timestamp: <unix seconds>
    X-Acct-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>
    X-Acct-Event-Key: score_drop:<account>:<day>

A receiver recomputes the HMAC over the raw body (``verify_signature``), compares in constant
time and rejects old timestamps, so a forged or replayed message is detectable.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from acct_pipeline import settings as config
from acct_pipeline.alerts.config import (
    HUBSPOT_TASK,
    LOG,
    SALESFORCE_TASK,
    WEBHOOK,
    WEBHOOK_SECRET_ENV,
    WEBHOOK_URL_ENV,
    AlertSettings,
)
from acct_pipeline.alerts.detect import Alert
from acct_pipeline.connectors.base import SourceError
from acct_pipeline.connectors.http import ApiError, RetryPolicy, ServiceClient
from acct_pipeline.services import hubspot, salesforce

SIGNATURE_HEADER = "X-Acct-Signature"
TIMESTAMP_HEADER = "X-Acct-Timestamp"
EVENT_KEY_HEADER = "X-Acct-Event-Key"

# Alerts share the portal's limit with the sync: stay well under HubSpot's 100 per 10 s.
HUBSPOT_ALERT_RATE_LIMIT = ((50, 10.0),)

# HubSpot's default association type "task to company" (HUBSPOT_DEFINED).
# https://developers.hubspot.com/docs/api/crm/associations (association type ids)
HUBSPOT_TASK_TO_COMPANY = 192


class ChannelError(RuntimeError):
    """A channel could not deliver an alert; the message says why (never a secret)."""


class Channel(Protocol):
    name: str

    def send(self, alert: Alert) -> str | None: ...


# ---------------------------------------------------------------------------------------------
# Message text
# ---------------------------------------------------------------------------------------------


def crm_of(env: Mapping[str, str] | None = None) -> str | None:
    """The CRM the account ids belong to: the CRM source, else the sync target, else the CRM
    the alert tasks go to (None: no CRM configured — alerts then show the bare id)."""
    for group, name in (
        (config.CoreSettings, "crm_source"),
        (config.SyncSettingsVars, "target"),
        (config.AutomationSettings, "alert_crm_tasks"),
    ):
        value = str(config.get(group, name, env) or "").strip().lower()
        if value in ("hubspot", "salesforce"):
            return value
    return None


def record_link(account_id: str, env: Mapping[str, str] | None = None) -> str | None:
    """A link to the account's CRM record: HubSpot needs ``HUBSPOT_PORTAL_ID``, Salesforce
    ``SALESFORCE_INSTANCE_URL``; None when the CRM or its setting is missing."""
    crm = crm_of(env)
    if crm == "hubspot":
        portal = config.get(config.HubSpotSettings, "portal_id", env)
        return f"https://app.hubspot.com/contacts/{portal}/company/{account_id}" if portal else None
    if crm == "salesforce":
        instance = config.get(config.SalesforceSettings, "instance_url", env)
        if instance:
            return f"{str(instance).rstrip('/')}/lightning/r/Account/{account_id}/view"
    return None


def _record_line(alert: Alert) -> str:
    link = record_link(alert.account_id)
    return f"CRM record: {link}" if link else f"Account id: {alert.account_id} (no CRM link)"


def _num(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}"


def subject(alert: Alert) -> str:
    who = alert.account_name or alert.account_id
    if alert.drop_kind == "override":
        change = f"{_num(alert.score_before)} -> {_num(alert.score_after)}"
        return f"Overridden account still falling: {who} ({change})"[:255]
    if alert.drop_kind == "tier":
        change = f"{alert.previous_tier} -> {alert.tier}"
    else:
        change = f"{_num(alert.score_before)} -> {_num(alert.score_after)}"
    return f"Account health dropped: {who} ({change})"[:255]


def body_text(alert: Alert) -> str:
    owner = alert.owner_email or alert.owner_id or "no owner"
    lines = [
        f"{alert.headline} on {alert.as_of_date.isoformat()}.",
        f"Account: {alert.account_name or alert.account_id} ({alert.account_id}); owner: {owner}",
        _record_line(alert),
    ]
    if alert.reason_codes:
        lines.append("Why:")
        lines += [f"- {r}" for r in alert.reason_codes[:5]]
    if alert.recommended_playbook:
        lines.append(f"Recommended playbook: {alert.recommended_playbook}")
    lines.append(
        f"Tier: {alert.tier} (was {alert.previous_tier}); model {alert.model_version or '?'}"
    )
    lines.append(f"Alert id: {alert.event_key}")
    return "\n".join(lines)


def slack_payload(alert: Alert) -> dict[str, object]:
    """Slack-compatible incoming-webhook JSON (``text`` + ``blocks``), plus the alert itself."""
    reasons = "\n".join(f"• {r}" for r in alert.reason_codes[:5]) or "_no reasons recorded_"
    owner = alert.owner_email or alert.owner_id or "no owner"
    fields = [
        f"*Score:* {_num(alert.score_before)} → {_num(alert.score_after)}",
        f"*Tier:* {alert.previous_tier or '?'} → {alert.tier or '?'}",
        f"*Owner:* {owner}",
        f"*Playbook:* {alert.recommended_playbook or '-'}",
        f"*Account:* `{alert.account_id}`",
    ]
    link = record_link(alert.account_id)
    if link:
        fields.append(f"*CRM:* <{link}|open the record>")
    return {
        "text": f"{subject(alert)}: {alert.headline}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": subject(alert)[:150]}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Why*\n{reasons}"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"`{alert.event_key}`"}]},
        ],
        "alert": {**alert.as_json(), "link": link},
    }


# ---------------------------------------------------------------------------------------------
# Signing
# ---------------------------------------------------------------------------------------------


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``"<timestamp>." + body``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str | None,
    body: bytes,
    signature: str | None,
    *,
    tolerance_seconds: float = 300.0,
    now: float | None = None,
) -> bool:
    """True if ``signature`` is ours for this body and the timestamp is recent (receiver side)."""
    if not timestamp or not signature:
        return False
    try:
        age = abs((time.time() if now is None else now) - float(timestamp))
    except ValueError:
        return False
    if age > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


# ---------------------------------------------------------------------------------------------
# Channels
# ---------------------------------------------------------------------------------------------


class JsonlLog:
    """One JSON line per alert in a local file (``ACCT_ALERT_LOG``, default
    ``data/alerts/alerts.jsonl``)."""

    name = LOG
    _lock = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def send(self, alert: Alert) -> str | None:
        line = json.dumps(
            {
                "sent_at": datetime.now(UTC).isoformat(),
                **alert.as_json(),
                "link": record_link(alert.account_id),
            },
            sort_keys=True,
        )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock, self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise ChannelError(f"alert log {self.path}: {exc.strerror or exc}") from None
        return str(self.path)


class Webhook:
    """POST Slack-compatible JSON to ``ACCT_ALERT_WEBHOOK_URL``, signed when a secret is set."""

    name = WEBHOOK

    def __init__(
        self,
        url: str,
        secret: str | None = None,
        *,
        client: ServiceClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self._secret = secret
        self.clock = clock
        # The URL of a Slack webhook is itself a credential: keep it out of messages.
        self.client = client or ServiceClient(
            "webhook",
            url,
            auth_env=WEBHOOK_URL_ENV,
            secrets=[url, secret],
            timeout=(5.0, 20.0),
            retry=RetryPolicy(max_attempts=3),
        )

    def send(self, alert: Alert) -> str | None:
        body = json.dumps(slack_payload(alert), sort_keys=True).encode()
        headers = {"Content-Type": "application/json", EVENT_KEY_HEADER: alert.event_key}
        if self._secret:
            ts = str(int(self.clock()))
            headers[TIMESTAMP_HEADER] = ts
            headers[SIGNATURE_HEADER] = sign(self._secret, ts, body)
        try:
            # Not idempotent: a webhook post that timed out may have been shown already.
            resp = self.client.request(
                "POST", self.url, data=body, headers=headers, idempotent=False
            )
        except ApiError as exc:
            raise ChannelError(
                f"webhook ({WEBHOOK_URL_ENV}) refused alert {alert.event_key}: {exc}".replace(
                    self.url, "***"
                )
            ) from None
        return str(resp.status_code)


class HubSpotTasks:
    """A HubSpot task for the account owner, associated with the company (the account id)."""

    name = HUBSPOT_TASK

    def __init__(self, client: ServiceClient, objects_path: str = "/crm/v3/objects") -> None:
        self.client = client
        self.objects_path = objects_path.rstrip("/")

    def payload(self, alert: Alert) -> dict[str, object]:
        due = datetime.combine(alert.as_of_date + timedelta(days=1), datetime.min.time(), UTC)
        properties = {
            "hs_timestamp": due.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "hs_task_subject": subject(alert),
            "hs_task_body": body_text(alert),
            "hs_task_status": "NOT_STARTED",
            "hs_task_priority": "HIGH",
            "hs_task_type": "TODO",
        }
        if alert.owner_id:
            properties["hubspot_owner_id"] = alert.owner_id
        return {
            "properties": properties,
            "associations": [
                {
                    "to": {"id": alert.account_id},
                    "types": [
                        {
                            "associationCategory": "HUBSPOT_DEFINED",
                            "associationTypeId": HUBSPOT_TASK_TO_COMPANY,
                        }
                    ],
                }
            ],
        }

    def send(self, alert: Alert) -> str | None:
        try:
            # A create is not safe to repeat blindly (it would make a second task).
            data = self.client.post_json(
                f"{self.objects_path}/tasks", self.payload(alert), idempotent=False
            )
        except ApiError as exc:
            raise ChannelError(f"hubspot task for {alert.event_key}: {exc}") from None
        return str((data or {}).get("id") or "")


class SalesforceTasks:
    """A Salesforce Task on the Account (``WhatId``), assigned to the account owner."""

    name = SALESFORCE_TASK

    def __init__(self, client: ServiceClient, api_version: str = "v62.0") -> None:
        self.client = client
        self.api_version = api_version if api_version.startswith("v") else f"v{api_version}"

    def payload(self, alert: Alert) -> dict[str, object]:
        record: dict[str, object] = {
            "Subject": subject(alert),
            "Description": body_text(alert),
            "WhatId": alert.account_id,
            "Status": "Not Started",
            "Priority": "High",
            "ActivityDate": (alert.as_of_date + timedelta(days=1)).isoformat(),
        }
        if alert.owner_id:
            record["OwnerId"] = alert.owner_id
        return record

    def send(self, alert: Alert) -> str | None:
        path = f"/services/data/{self.api_version}/sobjects/Task"
        try:
            data = self.client.post_json(path, self.payload(alert), idempotent=False)
        except ApiError as exc:
            raise ChannelError(f"salesforce task for {alert.event_key}: {exc}") from None
        if isinstance(data, dict) and data.get("success") is False:
            raise ChannelError(f"salesforce task for {alert.event_key}: {data.get('errors')}")
        return str((data or {}).get("id") or "")


def _require(env: Mapping[str, str], name: str, channel: str) -> str:
    value = env.get(name)
    if not value:
        raise ChannelError(f"the {channel} alert channel needs {name}")
    return value


def build_channels(settings: AlertSettings) -> list[Channel]:
    """The configured channels, in delivery order (log first: the cheapest record of all)."""
    env = settings.env or config.environ()
    out: list[Channel] = []
    for name in settings.channels:
        if name == LOG:
            out.append(JsonlLog(settings.log_path))
        elif name == WEBHOOK:
            if not settings.webhook_url:
                raise ChannelError(f"the webhook alert channel needs {WEBHOOK_URL_ENV}")
            out.append(Webhook(settings.webhook_url, settings.webhook_secret))
        elif name == HUBSPOT_TASK:
            _require(env, hubspot.TOKEN_ENV, name)
            try:
                client = hubspot.client_from_env(env, rate_limit=HUBSPOT_ALERT_RATE_LIMIT)
                path = hubspot.base_path(env)
            except SourceError as exc:
                raise ChannelError(f"the {name} alert channel: {exc}") from None
            out.append(HubSpotTasks(client, path))
        elif name == SALESFORCE_TASK:
            token = _require(env, salesforce.TOKEN_ENV, name)
            instance = _require(env, salesforce.INSTANCE_ENV, name)
            client = salesforce.salesforce_client(token, instance)
            out.append(
                SalesforceTasks(
                    client, env.get(salesforce.VERSION_ENV) or salesforce.DEFAULT_VERSION
                )
            )
    return out


__all__ = [
    "Channel",
    "ChannelError",
    "HubSpotTasks",
    "JsonlLog",
    "SalesforceTasks",
    "Webhook",
    "WEBHOOK_SECRET_ENV",
    "build_channels",
    "sign",
    "slack_payload",
    "verify_signature",
]
