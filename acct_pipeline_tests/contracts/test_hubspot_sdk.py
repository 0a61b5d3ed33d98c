"""hubspot-api-client (strict client-side validation) against ``FakeHubSpot``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from hubspot import HubSpot
from hubspot.crm.companies import (
    BatchInputSimplePublicObjectBatchInput,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectId,
)
from hubspot.crm.companies.exceptions import ApiException
from hubspot.crm.objects.tasks import (
    AssociationSpec,
    PublicAssociationsForObject,
    PublicObjectId,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.properties import PropertyCreate, PropertyGroupCreate

from acct_pipeline.connectors.hubspot import HubSpotSource
from acct_pipeline.warehouse import CRM_ACTIVITIES, CRM_COMPANIES, CRM_CONTACTS, CRM_TICKETS
from acct_pipeline_tests.fakes.base import FakeClock
from acct_pipeline_tests.fakes.hubspot import TOKEN, FakeHubSpot
from acct_pipeline_tests.fakes.hubspot_schema import DEFAULT_LIST_PROPERTIES

N = 150


@pytest.fixture
def portal() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(rate_limit=None, daily_limit=None) as hs:
        hs.owners["501"] = {"id": "501", "email": "ana@vendor.test", "userId": 9001}
        for i in range(N):
            hs.add_record(
                "companies",
                str(9_100_000_000 + i),
                {
                    "name": f"Company {i}",
                    "domain": f"c{i}.test",
                    "industry": "COMPUTER_SOFTWARE",
                    "lifecyclestage": "customer",
                    "hubspot_owner_id": "501",
                },
            )
        yield hs


def sdk(fake: FakeHubSpot) -> HubSpot:
    return HubSpot(access_token=TOKEN, host=fake.url, client_side_validation=True)


def parse_error(api: Any, exc: ApiException) -> Any:
    """The error body as the SDK's strict ``Error`` model (raises if it is not HubSpot's shape)."""
    return api.api_client.deserialize(SimpleNamespace(data=exc.body), "Error")


def test_paging_with_absolute_links_and_requested_properties(portal: FakeHubSpot) -> None:
    api = sdk(portal).crm.companies
    page = api.basic_api.get_page(limit=100, properties=["name", "industry"])
    assert len(page.results) == 100
    assert page.paging.next.link.startswith(portal.url + "/crm/v3/objects/companies?")
    assert page.paging.next.link.endswith("after=100") and "properties=" in page.paging.next.link
    assert set(page.results[0].properties) == {
        "name",
        "industry",
        "createdate",
        "hs_lastmodifieddate",
        "hs_object_id",
    }
    every = api.get_all(properties=["name"])
    assert len(every) == N and len({c.id for c in every}) == N


def test_a_list_without_properties_returns_the_default_set_only(portal: FakeHubSpot) -> None:
    page = sdk(portal).crm.companies.basic_api.get_page(limit=5)
    for company in page.results:
        assert set(company.properties) == DEFAULT_LIST_PROPERTIES["companies"]
        assert "industry" not in company.properties


def test_our_connector_always_names_the_properties_it_reads(portal: FakeHubSpot) -> None:
    clock = FakeClock()
    src = HubSpotSource.from_env(
        {"HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_BASE_URL": portal.url},
        sleep=clock.sleep,
        clock=clock,
    )
    for spec in (CRM_COMPANIES, CRM_CONTACTS, CRM_ACTIVITIES, CRM_TICKETS):
        for _ in src.read_table(spec):
            pass
    lists = portal.calls_to(r"^/crm/(v3/)?objects/[a-z_]+$", "GET")
    assert len(lists) >= 8
    assert all(c.query.get("properties") for c in lists), [c.path for c in lists]


def test_batch_update_207_and_batch_read_parse_strictly(portal: FakeHubSpot) -> None:
    api = sdk(portal).crm.companies
    ids = list(portal.objects["companies"])[:3]
    portal.reject("companies", [ids[1]], message="Score locked by admin")
    out = api.batch_api.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[
                SimplePublicObjectBatchInput(id=ids[0], properties={"name": "Renamed"}),
                SimplePublicObjectBatchInput(id=ids[1], properties={"name": "Locked"}),
                SimplePublicObjectBatchInput(id="1", properties={"name": "Missing"}),
            ]
        )
    )
    assert out.num_errors == 2 and [r.id for r in out.results] == [ids[0]]
    failed = {i for e in out.errors for i in e.context["ids"]}
    assert failed == {ids[1], "1"}
    assert all(e.links == {} and e.errors == [] for e in out.errors)
    read = api.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=ids[0]), SimplePublicObjectId(id="1")],
            properties=["name"],
            properties_with_history=[],
        )
    )
    assert read.results[0].properties["name"] == "Renamed" and read.num_errors == 1


def test_enumerations_refuse_values_hubspot_does_not_offer(portal: FakeHubSpot) -> None:
    api = sdk(portal).crm.companies
    rid = next(iter(portal.objects["companies"]))
    out = api.batch_api.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[SimplePublicObjectBatchInput(id=rid, properties={"lifecyclestage": "vip"})]
        )
    )
    assert out.num_errors == 1 and "allowed options" in out.errors[0].message
    out = api.batch_api.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[SimplePublicObjectBatchInput(id=rid, properties={"industry": "Software"})]
        )
    )
    assert out.num_errors == 1 and portal.writes_to("companies") == []


def test_rate_limit_and_daily_quota_are_hubspot_429s(portal: FakeHubSpot) -> None:
    api = sdk(portal).crm.companies.basic_api
    portal.inject("status", 1, status=429)
    with pytest.raises(ApiException) as burst:
        api.get_page(limit=1)
    assert burst.value.status == 429
    assert json.loads(burst.value.body)["policyName"] == "TEN_SECONDLY_ROLLING"
    assert "X-HubSpot-RateLimit-Max" in burst.value.headers
    portal.exhaust_daily_quota()
    with pytest.raises(ApiException) as daily:
        api.get_page(limit=1)
    assert json.loads(daily.value.body)["policyName"] == "DAILY"


def test_injected_faults_and_unknown_routes_answer_hubspot_errors(portal: FakeHubSpot) -> None:
    api = sdk(portal).crm.companies.basic_api
    portal.inject("status", 1, status=503)
    with pytest.raises(ApiException) as fault:
        api.get_page(limit=1)
    err = parse_error(api, fault.value)
    assert fault.value.status == 503 and err.correlation_id and err.category
    resp = requests.get(
        portal.url + "/crm/v3/nothing/here/at/all",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    body = resp.json()
    assert resp.status_code == 404 and body["status"] == "error"
    assert body["category"] == "OBJECT_NOT_FOUND" and body["correlationId"]


def test_properties_groups_and_owners_parse_strictly(portal: FakeHubSpot) -> None:
    client = sdk(portal)
    props = client.crm.properties
    groups = {g.name for g in props.groups_api.get_all("companies").results}
    every = props.core_api.get_all("companies").results
    assert every and all(p.group_name in groups for p in every)  # no built-in with groupName ""
    industry = props.core_api.get_by_name("companies", "industry")
    assert industry.hubspot_defined and industry.created_at is not None
    assert "COMPUTER_SOFTWARE" in {o.value for o in industry.options}
    props.groups_api.create("companies", PropertyGroupCreate(name="acct", label="Acct"))
    created = props.core_api.create(
        "companies",
        PropertyCreate(
            name="acct_tier",
            label="Tier",
            type="enumeration",
            field_type="select",
            group_name="acct",
            options=[{"label": "Healthy", "value": "Healthy", "displayOrder": 0}],
        ),
    )
    assert created.options[0].hidden is False and created.form_field
    with pytest.raises(Exception) as again:
        props.core_api.create(
            "companies",
            PropertyCreate(
                name="acct_tier", label="Tier", type="string", field_type="text", group_name="acct"
            ),
        )
    assert again.value.status == 409
    assert parse_error(props.core_api, again.value).category == "OBJECT_ALREADY_EXISTS"
    owners = client.crm.owners.owners_api.get_page(limit=100).results
    assert [(o.id, o.email, o.type) for o in owners] == [("501", "ana@vendor.test", "PERSON")]
    assert owners[0].created_at is not None and owners[0].archived is False


def test_tasks_need_a_timestamp_and_typed_associations(portal: FakeHubSpot) -> None:
    tasks = sdk(portal).crm.objects.tasks.basic_api
    company = next(iter(portal.objects["companies"]))
    assoc = PublicAssociationsForObject(
        to=PublicObjectId(id=company),
        types=[AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=192)],
    )
    task = tasks.create(
        SimplePublicObjectInputForCreate(
            properties={
                "hs_timestamp": "2027-01-15T08:00:00.000Z",
                "hs_task_subject": "Score dropped",
                "hs_task_status": "NOT_STARTED",
                "hs_task_priority": "HIGH",
            },
            associations=[assoc],
        )
    )
    assert task.properties["hs_task_subject"] == "Score dropped"
    assert portal.objects["tasks"][task.id].associations == {"companies": [company]}
    with pytest.raises(Exception) as no_time:
        tasks.create(
            SimplePublicObjectInputForCreate(
                properties={"hs_task_subject": "No time"}, associations=[assoc]
            )
        )
    assert no_time.value.status == 400 and "hs_timestamp" in no_time.value.body
    # the SDK would not send an association without types: check the fake refuses it too
    resp = requests.post(
        portal.url + "/crm/v3/objects/tasks",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={
            "properties": {"hs_timestamp": "2027-01-15T08:00:00.000Z"},
            "associations": [{"to": {"id": company}}],
        },
        timeout=5,
    )
    assert resp.status_code == 400 and "types" in resp.json()["message"]
    resp = requests.post(
        portal.url + "/crm/v3/objects/tasks",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={"properties": {"hs_timestamp": "2027-01-15T08:00:00.000Z", "hs_task_status": "X"}},
        timeout=5,
    )
    assert resp.status_code == 400 and "allowed options" in resp.json()["message"]
    assert len(portal.writes_to("tasks")) == 1
