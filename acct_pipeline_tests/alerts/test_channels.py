"""Channels: what the webhook, HubSpot and Salesforce receive, and that signatures hold."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from acct_pipeline.alerts.channels import (
    SIGNATURE_HEADER,
    ChannelError,
    HubSpotTasks,
    JsonlLog,
    SalesforceTasks,
    Webhook,
    build_channels,
    sign,
    verify_signature,
)
from acct_pipeline.alerts.config import AlertConfigError, AlertSettings
from acct_pipeline.alerts.detect import Alert
from acct_pipeline_tests.fakes import hubspot, salesforce
from acct_pipeline_tests.fakes.webhook import WebhookReceiver

SECRET = "whsec-test-0123456789"  # noqa: S105 - a test value

ALERT = Alert(
    event_key="score_drop:9100000001:2026-10-11",
    as_of_date=date(2026, 10, 11),
    account_id="9100000001",
    account_name="Acme Corp",
    owner_id="501",
    owner_email="ana@vendor.test",
    score_before=95.0,
    score_after=80.0,
    score_delta_7d=-15.0,
    previous_tier="Healthy",
    tier="At-Risk",
    drop_kind="points+tier",
    headline="health score down 15 points in 7 days (95 -> 80); tier Healthy -> At-Risk",
    reason_codes=("active users down 42% vs prior 28 days",),
    recommended_playbook="exec-sponsor-call",
    model_version="test-1",
    detected_at=None,
)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(secret=SECRET) as server:
        yield server


def test_the_webhook_is_signed_and_the_receiver_verifies_it(receiver: WebhookReceiver) -> None:
    assert Webhook(receiver.hook_url, SECRET).send(ALERT) == "200"
    [got] = receiver.received
    assert got.verified and got.event_key == ALERT.event_key
    # Slack-compatible: text + blocks; the alert itself rides along for machines.
    assert "Acme Corp" in got.payload["text"]
    assert {b["type"] for b in got.payload["blocks"]} >= {"header", "section"}
    assert got.payload["alert"]["score_after"] == 80.0


def test_a_wrong_secret_is_detected_by_the_receiver(receiver: WebhookReceiver) -> None:
    with pytest.raises(ChannelError, match="webhook") as err:
        Webhook(receiver.hook_url, "not-the-secret").send(ALERT)
    assert receiver.received == []
    [bad] = receiver.rejected
    assert not bad.verified and bad.signature and bad.signature.startswith("sha256=")
    assert "not-the-secret" not in str(err.value)


def test_an_unsigned_post_is_rejected_when_the_receiver_expects_a_signature(
    receiver: WebhookReceiver,
) -> None:
    with pytest.raises(ChannelError):
        Webhook(receiver.hook_url, None).send(ALERT)
    assert len(receiver.rejected) == 1 and receiver.received == []


def test_signature_rules() -> None:
    body = json.dumps({"a": 1}).encode()
    ts = str(int(time.time()))
    good = sign(SECRET, ts, body)
    assert verify_signature(SECRET, ts, body, good)
    assert not verify_signature(SECRET, ts, body + b" ", good)  # body changed
    assert not verify_signature("other", ts, body, good)  # wrong secret
    assert not verify_signature(
        SECRET, str(int(ts) - 3600), body, sign(SECRET, str(int(ts) - 3600), body)
    )  # replay
    assert not verify_signature(SECRET, ts, body, None)
    assert SIGNATURE_HEADER == "X-Acct-Signature"


def test_the_jsonl_log_gets_one_line_per_alert(tmp_path: Path) -> None:
    log = JsonlLog(tmp_path / "alerts" / "alerts.jsonl")
    log.send(ALERT)
    [line] = (tmp_path / "alerts" / "alerts.jsonl").read_text().splitlines()
    assert json.loads(line)["event_key"] == ALERT.event_key


def test_a_hubspot_task_is_created_for_the_owner_and_associated_with_the_company() -> None:
    with hubspot.FakeHubSpot() as hs:
        hs.add_record("companies", ALERT.account_id, {"name": "Acme Corp"})
        [channel] = build_channels(
            AlertSettings.from_env(
                {
                    "ACCT_ALERT_CHANNELS": "hubspot_task",
                    "HUBSPOT_ACCESS_TOKEN": hubspot.TOKEN,
                    "HUBSPOT_BASE_URL": hs.url,
                }
            )
        )
        assert isinstance(channel, HubSpotTasks)
        task_id = channel.send(ALERT)
        task = hs.objects["tasks"][task_id]
    assert task.properties["hubspot_owner_id"] == "501"
    assert task.properties["hs_task_subject"].startswith("Account health dropped: Acme Corp")
    assert ALERT.event_key in task.properties["hs_task_body"]
    assert task.associations == {"companies": [ALERT.account_id]}


def test_a_salesforce_task_is_inserted_on_the_account() -> None:
    # Salesforce ids, not HubSpot's: the fake refuses a WhatId / OwnerId that is not one.
    alert = dataclasses.replace(
        ALERT, account_id=salesforce.account_ids(1)[0], owner_id=salesforce.sf_id("005", 501)
    )
    with salesforce.FakeSalesforce() as sf:
        [channel] = build_channels(
            AlertSettings.from_env(
                {
                    "ACCT_ALERT_CHANNELS": "salesforce_task",
                    "SALESFORCE_ACCESS_TOKEN": salesforce.TOKEN,
                    "SALESFORCE_INSTANCE_URL": sf.url,
                    "SALESFORCE_API_VERSION": salesforce.API_VERSION,
                }
            )
        )
        assert isinstance(channel, SalesforceTasks)
        task_id = channel.send(alert)
        [write] = [w for w in sf.writes if w.object_type == "Task"]
    assert write.record_id == task_id
    assert write.fields["WhatId"] == alert.account_id and write.fields["OwnerId"] == alert.owner_id
    assert write.fields["Status"] == "Not Started"


def test_settings_name_what_is_wrong() -> None:
    assert AlertSettings.from_env({}).channels == ("log",)
    assert AlertSettings.from_env({"ACCT_ALERT_WEBHOOK_URL": "http://x"}).channels == (
        "log",
        "webhook",
    )
    assert AlertSettings.from_env({"ACCT_ALERT_CRM_TASKS": "hubspot"}).channels == (
        "log",
        "hubspot_task",
    )
    with pytest.raises(AlertConfigError, match="ACCT_ALERT_CRM_TASKS"):
        AlertSettings.from_env({"ACCT_ALERT_CRM_TASKS": "pipedrive"})
    with pytest.raises(AlertConfigError, match="ACCT_ALERT_WEBHOOK_URL"):
        AlertSettings.from_env({"ACCT_ALERT_CHANNELS": "log,webhook"})
    with pytest.raises(AlertConfigError, match="ACCT_ALERT_WINDOW_DAYS"):
        AlertSettings.from_env({"ACCT_ALERT_WINDOW_DAYS": "soon"})
    with pytest.raises(ChannelError, match="HUBSPOT_ACCESS_TOKEN"):
        build_channels(AlertSettings.from_env({"ACCT_ALERT_CHANNELS": "hubspot_task"}))
    assert SECRET not in repr(AlertSettings.from_env({"ACCT_ALERT_WEBHOOK_SECRET": SECRET}))
