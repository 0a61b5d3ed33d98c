"""Every alert names the account id, the owner, the reasons and a link to the CRM record."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from acct_pipeline.alerts.channels import JsonlLog, body_text, record_link, slack_payload, subject
from acct_pipeline.alerts.detect import Alert

ALERT = Alert(
    event_key="score_drop:0015g00000ABCDE:2026-06-30",
    as_of_date=date(2026, 6, 30),
    account_id="0015g00000ABCDE",
    account_name="Acme",
    owner_id="own_7",
    owner_email="csm@example.com",
    score_before=80.0,
    score_after=60.0,
    score_delta_7d=-20.0,
    previous_tier="At-Risk",
    tier="Concerning",
    drop_kind="points",
    headline="health score down 20 points in 7 days (80 -> 60)",
    reason_codes=("active users down 42% vs prior 28 days", "2 open high-severity tickets"),
    recommended_playbook="call the sponsor",
    model_version="default 1.1.0",
    detected_at=None,
)
CRM_VARS = ("ACCT_CRM_SOURCE", "ACCT_SYNC_TARGET", "ACCT_ALERT_CRM_TASKS")


@pytest.fixture(autouse=True)
def no_crm(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*CRM_VARS, "HUBSPOT_PORTAL_ID", "SALESFORCE_INSTANCE_URL"):
        monkeypatch.delenv(name, raising=False)


def _has_id_owner_reasons(text: str) -> None:
    assert ALERT.account_id in text and "csm@example.com" in text
    assert all(r in text for r in ALERT.reason_codes)


def test_hubspot_link(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCT_CRM_SOURCE", "hubspot")
    monkeypatch.setenv("HUBSPOT_PORTAL_ID", "4711")
    link = f"https://app.hubspot.com/contacts/4711/company/{ALERT.account_id}"
    text = body_text(ALERT)
    _has_id_owner_reasons(text)
    assert f"CRM record: {link}" in text
    payload = slack_payload(ALERT)
    assert payload["alert"]["link"] == link and link in json.dumps(payload["blocks"])


def test_salesforce_link_from_the_sync_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCT_SYNC_TARGET", "salesforce")
    monkeypatch.setenv("SALESFORCE_INSTANCE_URL", "https://acme.my.salesforce.com/")
    link = f"https://acme.my.salesforce.com/lightning/r/Account/{ALERT.account_id}/view"
    assert record_link(ALERT.account_id) == link
    _has_id_owner_reasons(body_text(ALERT))
    assert link in body_text(ALERT)


def test_without_a_crm_the_outbox_alert_shows_the_id(tmp_path: Path) -> None:
    text = body_text(ALERT)
    _has_id_owner_reasons(text)
    assert f"Account id: {ALERT.account_id}" in text and "http" not in text
    log = JsonlLog(tmp_path / "alerts.jsonl")
    log.send(ALERT)
    line = json.loads((tmp_path / "alerts.jsonl").read_text())
    assert line["account_id"] == ALERT.account_id and line["link"] is None
    assert line["owner_email"] == "csm@example.com" and line["reason_codes"]


def test_override_alert_subject() -> None:
    import dataclasses

    alert = dataclasses.replace(ALERT, drop_kind="override")
    assert subject(alert).startswith("Overridden account still falling: Acme")
