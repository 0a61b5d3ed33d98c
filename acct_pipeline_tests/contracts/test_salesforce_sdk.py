"""simple-salesforce against ``FakeSalesforce``: queries, describe, writes, errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from acct_pipeline_tests.fakes.salesforce import TOKEN, FakeSalesforce, account_ids, sf_id

N = 7


class _Loopback(HTTPAdapter):
    """simple-salesforce builds ``https://`` URLs; the fake speaks plain HTTP on loopback."""

    def send(self, request: requests.PreparedRequest, **kw: Any) -> requests.Response:
        request.url = (request.url or "").replace("https://", "http://", 1)
        return super().send(request, **kw)


@pytest.fixture
def org() -> Iterator[tuple[FakeSalesforce, Salesforce]]:
    with FakeSalesforce(page_size=3) as fake:
        fake.add_field("Account", "Health_Score__c", "double")
        fake.add_field(
            "Account", "Health_Tier__c", "Picklist", ("Healthy", "At-Risk"), restricted=True
        )
        for rid in account_ids(N):
            fake.add("Account", {"Id": rid, "Name": f"Account {rid[-4:]}"})
        session = requests.Session()
        session.mount("https://127.0.0.1", _Loopback())
        host = fake.url.split("://", 1)[1]
        yield (
            fake,
            Salesforce(
                instance_url=f"https://{host}", session_id=TOKEN, version="62.0", session=session
            ),
        )


def test_query_all_follows_next_records_url(org: tuple[FakeSalesforce, Salesforce]) -> None:
    fake, sf = org
    out = sf.query_all("SELECT Id, Name FROM Account")
    assert out["totalSize"] == N and len(out["records"]) == N
    assert len(fake.calls_to("/query")) == 3  # pages of 3
    assert all(len(r["Id"]) == 18 and r["Id"].startswith("001") for r in out["records"])
    with pytest.raises(SalesforceMalformedRequest) as bad:
        sf.query("SELECT Id FROM Account WHERE Id = '1001'")
    assert bad.value.content[0]["errorCode"] == "INVALID_QUERY_FILTER_OPERATOR"


def test_describe_has_the_field_metadata_clients_read(
    org: tuple[FakeSalesforce, Salesforce],
) -> None:
    _, sf = org
    desc = sf.Account.describe()
    assert desc["keyPrefix"] == "001" and desc["urls"]["describe"].endswith("/describe")
    fields = {f["name"]: f for f in desc["fields"]}
    for f in fields.values():
        assert {"picklistValues", "createable", "updateable", "length", "nillable"} <= set(f)
    assert fields["LastModifiedDate"]["updateable"] is False
    assert fields["Health_Score__c"]["type"] == "double" and fields["Health_Score__c"]["custom"]
    tier = fields["Health_Tier__c"]
    assert tier["restrictedPicklist"] and [v["value"] for v in tier["picklistValues"]] == [
        "Healthy",
        "At-Risk",
    ]
    assert sf.Task.describe()["keyPrefix"] == "00T"


def test_single_update_refuses_read_only_fields_and_bad_picklist_values(
    org: tuple[FakeSalesforce, Salesforce],
) -> None:
    fake, sf = org
    rid = account_ids(1)[0]
    assert sf.Account.update(rid, {"Health_Score__c": 87}) == 204
    assert sf.Account.update(rid[:15], {"Health_Tier__c": "Healthy"}) == 204  # 15-char form
    with pytest.raises(SalesforceMalformedRequest) as ro:
        sf.Account.update(rid, {"LastModifiedDate": "2020-01-01T00:00:00.000+0000"})
    assert ro.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert ro.value.content[0]["fields"] == ["LastModifiedDate"]
    with pytest.raises(SalesforceMalformedRequest) as pick:
        sf.Account.update(rid, {"Health_Tier__c": "Great"})
    assert pick.value.content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.update("1001", {"Health_Score__c": 1})
    assert [w.fields for w in fake.writes_to("Account")] == [
        {"Health_Score__c": 87},
        {"Health_Tier__c": "Healthy"},
    ]


def test_composite_update_per_record_results(org: tuple[FakeSalesforce, Salesforce]) -> None:
    fake, sf = org
    ids = account_ids(3)
    fake.fail_record(ids[1], "Health score is locked")
    records = [
        {"attributes": {"type": "Account"}, "id": i, "Health_Score__c": 50 + n}
        for n, i in enumerate(ids)
    ] + [{"attributes": {"type": "Account"}, "id": "1001", "Health_Score__c": 1}]
    out = sf.restful(
        "composite/sobjects", method="PATCH", json={"allOrNone": False, "records": records}
    )
    assert [r["success"] for r in out] == [True, False, True, False]
    assert out[3]["errors"][0]["statusCode"] == "MALFORMED_ID"
    assert [w.record_id for w in fake.writes] == [ids[0], ids[2]]


def test_task_insert_checks_ids_and_restricted_picklists(
    org: tuple[FakeSalesforce, Salesforce],
) -> None:
    fake, sf = org
    what = account_ids(1)[0]
    created = sf.Task.create(
        {"WhatId": what, "Subject": "Score dropped", "Status": "Not Started", "Priority": "High"}
    )
    assert created["success"] and created["id"].startswith("00T") and len(created["id"]) == 18
    with pytest.raises(SalesforceMalformedRequest) as bad_id:
        sf.Task.create({"WhatId": "1001", "Subject": "x"})
    assert bad_id.value.content[0]["errorCode"] == "MALFORMED_ID"
    assert bad_id.value.content[0]["fields"] == ["WhatId"]
    with pytest.raises(SalesforceMalformedRequest) as bad_status:
        sf.Task.create({"WhatId": what, "Subject": "x", "Status": "Open-ish"})
    assert bad_status.value.content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert sf.Task.create({"OwnerId": sf_id("005", 1), "Subject": "ok"})["success"]
    assert len(fake.writes_to("Task")) == 2


def test_limits_faults_and_unknown_routes_are_salesforce_errors(
    org: tuple[FakeSalesforce, Salesforce],
) -> None:
    fake, sf = org
    fake.inject("status", 1, status=503)
    with pytest.raises(SalesforceGeneralError) as fault:
        sf.query("SELECT Id FROM Account")
    assert fault.value.content[0]["errorCode"] == "SERVER_UNAVAILABLE"
    with pytest.raises(SalesforceResourceNotFound) as unknown:
        sf.restful("nothing/here")
    assert unknown.value.content[0]["errorCode"] == "NOT_FOUND"
    fake.limit_after(0)
    with pytest.raises(SalesforceRefusedRequest) as limit:
        sf.query("SELECT Id FROM Account")
    assert limit.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert isinstance(limit.value, SalesforceError)
