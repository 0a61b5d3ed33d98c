"""The write side of the CRM fakes behaves like the real APIs (the sync and alerts tests use it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from acct_pipeline.connectors.http import ApiError, ServiceClient
from acct_pipeline.services.hubspot import client_from_env as hubspot_client
from acct_pipeline.services.salesforce import client_from_env as salesforce_client
from acct_pipeline_tests.fakes import hubspot, salesforce
from acct_pipeline_tests.fakes.base import FakeClock


@pytest.fixture
def hs(sample: Path):
    clock = FakeClock()
    with hubspot.FakeHubSpot(clock=clock).load_landing(sample) as fake:
        env = {"HUBSPOT_ACCESS_TOKEN": hubspot.TOKEN, "HUBSPOT_BASE_URL": fake.url}
        yield fake, hubspot_client(env, sleep=clock.sleep, clock=clock)


def test_hubspot_properties_batch_update_and_tasks(
    hs: tuple[hubspot.FakeHubSpot, ServiceClient],
) -> None:
    fake, c = hs
    ids = list(fake.objects["companies"])[:3]
    prop = {
        "name": "acct_health_score",
        "label": "Health score",
        "type": "number",
        "fieldType": "number",
        "groupName": "companyinformation",
    }
    assert c.request("POST", "/crm/v3/properties/companies", json=prop).status_code == 201
    assert (
        c.request("POST", "/crm/v3/properties/companies", json=prop, ok_statuses=(409,)).status_code
        == 409
    )
    assert c.get_json("/crm/v3/properties/companies/acct_health_score")["type"] == "number"

    # an unknown property fails the whole batch; more than 100 inputs too
    with pytest.raises(ApiError, match="does not exist"):
        c.post_json(
            "/crm/v3/objects/companies/batch/update",
            {"inputs": [{"id": ids[0], "properties": {"not_a_property": "1"}}]},
            idempotent=True,
        )
    too_many = {
        "inputs": [{"id": str(i), "properties": {"acct_health_score": "1"}} for i in range(101)]
    }
    with pytest.raises(ApiError, match="100"):
        c.post_json("/crm/v3/objects/companies/batch/update", too_many, idempotent=True)
    assert fake.writes_to("companies") == []
    assert fake.writes_to("properties/companies")[0].record_id == "acct_health_score"

    fake.reject("companies", [ids[1]], message="Score locked by admin")
    resp = c.request(
        "POST",
        "/crm/objects/2026-03/companies/batch/update",
        idempotent=True,
        json={
            "inputs": [
                {"id": ids[0], "properties": {"acct_health_score": "87"}},
                {"id": ids[1], "properties": {"acct_health_score": "12"}},
                {"id": ids[2], "properties": {"acct_health_score": "high"}},
            ]
        },
    )
    body = resp.json()
    assert resp.status_code == 207 and body["numErrors"] == 2
    failed = {i for e in body["errors"] for i in e["context"]["ids"]}
    assert failed == {ids[1], ids[2]}
    assert [w.record_id for w in fake.writes_to("companies")] == [ids[0]]
    assert fake.written_property_names() == {"acct_health_score"}
    assert fake.objects["companies"][ids[0]].properties["hs_lastmodifieddate"].startswith("2027-")

    task = c.post_json(
        "/crm/v3/objects/tasks",
        {
            "properties": {
                "hs_task_subject": "Score dropped",
                "hs_timestamp": "2027-01-15T08:00:00Z",
            },
            "associations": [
                {
                    "to": {"id": ids[0]},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 192}],
                }
            ],
        },
    )
    assert fake.objects["tasks"][task["id"]].associations == {"companies": [ids[0]]}
    assert fake.writes_to("tasks")[0].properties["hs_task_subject"] == "Score dropped"


def test_salesforce_composite_update_describe_and_task(sample: Path) -> None:
    clock = FakeClock()
    with salesforce.FakeSalesforce(clock=clock).load_landing(sample) as fake:
        env = {"SALESFORCE_ACCESS_TOKEN": salesforce.TOKEN, "SALESFORCE_INSTANCE_URL": fake.url}
        c = salesforce_client(env, sleep=clock.sleep, clock=clock)
        base = "/services/data/v62.0"
        names = {f["name"] for f in c.get_json(f"{base}/sobjects/Account/describe")["fields"]}
        assert "Health_Score__c" not in names
        fake.add_field("Account", "Health_Score__c", "double")
        ids = list(fake.records["Account"])[:3]
        fake.fail_record(ids[1], "Health score is locked")
        records = [
            {"attributes": {"type": "Account"}, "id": i, "Health_Score__c": 50 + n}
            for n, i in enumerate(ids)
        ]
        out = c.request(
            "PATCH",
            f"{base}/composite/sobjects",
            json={"allOrNone": False, "records": records},
            idempotent=True,
        ).json()
        assert [r["success"] for r in out] == [True, False, True]
        assert out[1]["errors"][0]["message"] == "Health score is locked"
        assert [w.record_id for w in fake.writes] == [ids[0], ids[2]]
        with pytest.raises(ApiError, match="EXCEEDED_ID_LIMIT"):
            c.request(
                "PATCH",
                f"{base}/composite/sobjects",
                idempotent=True,
                json={"allOrNone": False, "records": records * 67},
            )
        created = c.post_json(
            f"{base}/sobjects/Task", {"WhatId": ids[0], "Subject": "Score dropped"}
        )
        assert created["success"] and fake.writes_to("Task")[0].fields["Subject"] == "Score dropped"
        assert "api-usage=" in c.request("GET", f"{base}/limits").headers["Sforce-Limit-Info"]
