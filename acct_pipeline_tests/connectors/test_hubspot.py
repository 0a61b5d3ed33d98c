"""HubSpot connector against the fake portal: same raw tables as files, paging, limits, auth."""

from __future__ import annotations

from pathlib import Path

import pytest

from acct_pipeline.connectors.http import AuthFailed, QuotaExhausted
from acct_pipeline.connectors.hubspot import HubSpotSource
from acct_pipeline.warehouse import CRM_ACTIVITIES, CRM_COMPANIES, CRM_CONTACTS, CRM_TICKETS
from acct_pipeline_tests.connectors.conftest import assert_same_table, load, table
from acct_pipeline_tests.fakes.base import FakeClock
from acct_pipeline_tests.fakes.hubspot import TOKEN, FakeHubSpot

CRM = (CRM_COMPANIES, CRM_CONTACTS, CRM_ACTIVITIES, CRM_TICKETS)


def source(fake: FakeHubSpot, clock: FakeClock, **env: str) -> HubSpotSource:
    base = {"HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_BASE_URL": fake.url}
    return HubSpotSource.from_env({**base, **env}, sleep=clock.sleep, clock=clock)


def test_same_raw_tables_as_files(sample: Path, files_warehouse: Path, tmp_path: Path) -> None:
    clock = FakeClock()
    with FakeHubSpot(clock=clock).load_landing(sample) as hs:
        src = source(hs, clock)
        load(tmp_path / "api.duckdb", src, CRM)
    for spec in CRM:
        assert_same_table(files_warehouse, tmp_path / "api.duckdb", spec)
    # paging: 100 per page, so hundreds of activities took many pages, all with the cursor
    assert src.stats.records["emails"] > 100
    assert len(hs.calls_to(r"/emails$")) == -(-src.stats.records["emails"] // 100)


def test_date_versioned_base_path(sample: Path, files_warehouse: Path, tmp_path: Path) -> None:
    clock = FakeClock()
    with FakeHubSpot(clock=clock).load_landing(sample) as hs:
        src = source(hs, clock, HUBSPOT_BASE_PATH="/crm/objects/2026-03")
        load(tmp_path / "api.duckdb", src, (CRM_COMPANIES, CRM_TICKETS))
        assert all(c.path.startswith(("/crm/objects/2026-03/", "/crm/v3/owners")) for c in hs.calls)
    assert_same_table(files_warehouse, tmp_path / "api.duckdb", CRM_COMPANIES)
    assert_same_table(files_warehouse, tmp_path / "api.duckdb", CRM_TICKETS)


def test_recovers_from_429_and_5xx_bursts_without_duplicates(
    sample: Path, files_warehouse: Path, tmp_path: Path
) -> None:
    clock = FakeClock()
    with FakeHubSpot(clock=clock).load_landing(sample) as hs:
        hs.inject("status", 3, status=429, path="/contacts")
        hs.inject("status", 2, status=502, path="/emails")
        hs.inject("status", 1, status=503)
        hs.inject("drop", 1, path="/tickets")
        src = source(hs, clock)
        load(tmp_path / "api.duckdb", src, CRM)
        faults = [c.fault for c in hs.calls if c.fault]
    assert sorted(faults) == [
        "drop",
        "status:429",
        "status:429",
        "status:429",
        "status:502",
        "status:502",
        "status:503",
    ]
    for spec in CRM:
        assert_same_table(files_warehouse, tmp_path / "api.duckdb", spec)
    stats = src.client.stats
    assert stats.retries == 7 and stats.rate_limit_waits == 3


def test_rolling_rate_limit_is_paced_not_hit(sample: Path, tmp_path: Path) -> None:
    """The client-side limiter keeps under 100 requests / 10 s, so the portal never says 429."""
    clock = FakeClock()
    with FakeHubSpot(clock=clock, rate_limit=(100, 10.0)).load_landing(sample) as hs:
        src = source(hs, clock, HUBSPOT_RATE_LIMIT="100/10")
        src.page_limit = 10  # many more requests than the window allows
        load(tmp_path / "api.duckdb", src, (CRM_ACTIVITIES,))
        statuses = {c.status for c in hs.calls}
    assert len(hs.calls) > 100
    assert statuses == {200}
    assert src.client.stats.throttle_waits > 0 and clock.slept >= 10


def test_daily_quota_stops_cleanly_and_keeps_loaded_tables(sample: Path, tmp_path: Path) -> None:
    db = tmp_path / "api.duckdb"
    clock = FakeClock()
    with FakeHubSpot(clock=clock).load_landing(sample) as hs:
        load(db, source(hs, clock), (CRM_COMPANIES, CRM_ACTIVITIES))
        before = {spec.name: len(table(db, spec)) for spec in (CRM_COMPANIES, CRM_ACTIVITIES)}
        hs.daily_limit = hs.daily_used + 5  # runs out in the middle of the activities
        with pytest.raises(QuotaExhausted, match="DAILY") as err:
            load(db, source(hs, clock), (CRM_COMPANIES, CRM_ACTIVITIES))
        assert len(hs.calls_to("/emails")) > 1
    assert "rerun" in str(err.value) and TOKEN not in str(err.value)
    assert {spec.name: len(table(db, spec)) for spec in (CRM_COMPANIES, CRM_ACTIVITIES)} == before


def test_401_fails_fast_naming_the_variable_without_the_token(sample: Path, tmp_path: Path) -> None:
    wrong = "pat-na1-00000000-dead-beef-0000-000000000000"
    clock = FakeClock()
    with FakeHubSpot(clock=clock).load_landing(sample) as hs:
        src = HubSpotSource.from_env(
            {"HUBSPOT_ACCESS_TOKEN": wrong, "HUBSPOT_BASE_URL": hs.url}, sleep=clock.sleep
        )
        with pytest.raises(AuthFailed) as err:
            load(tmp_path / "api.duckdb", src, (CRM_COMPANIES,))
        assert len(hs.calls) == 1  # no retries on a 401
    text = f"{err.value} {err.value.body} {err.value.url}"
    assert "HUBSPOT_ACCESS_TOKEN" in str(err.value)
    assert wrong not in text and wrong[8:] not in text


def test_only_needed_properties_so_no_414(sample: Path) -> None:
    clock = FakeClock()
    with FakeHubSpot(clock=clock).load_landing(sample) as hs:
        src = source(hs, clock)
        props = [f"custom_property_number_{i}" for i in range(300)]
        with pytest.raises(Exception, match="414"):
            next(src.iter_objects("companies", props))
        hs.calls.clear()
        for spec in CRM:
            for _ in src.read_table(spec):
                pass
        assert max(len(c.path) + len("&".join(c.query)) for c in hs.calls) < hs.max_url_length
        assert {c.status for c in hs.calls} == {200}
        sent = {
            p
            for c in hs.calls_to("/companies")
            for p in ",".join(c.query.get("properties", [])).split(",")
        }
        assert sent == {
            "name",
            "domain",
            "industry",
            "region",
            "numberofemployees",
            "lifecyclestage",
            "hubspot_owner_id",
            "createdate",
            "hs_lastmodifieddate",
            "hs_parent_company_id",  # the parent company (hierarchy roll-up)
        }


def test_incremental_ignores_our_own_write_back(sample: Path, tmp_path: Path) -> None:
    clock = FakeClock()
    state = tmp_path / "state"
    with FakeHubSpot(clock=clock).load_landing(sample) as hs:
        first = source(hs, clock, HUBSPOT_INCREMENTAL_STATE=str(state))
        load(tmp_path / "a.duckdb", first, (CRM_COMPANIES,))
        before = table(tmp_path / "a.duckdb", CRM_COMPANIES).set_index("company_id")
        ids = list(before.index[:3])
        client = first.client
        client.post_json(
            "/crm/v3/properties/companies",
            {
                "name": "acct_health_score",
                "label": "Health score",
                "type": "number",
                "fieldType": "number",
                "groupName": "companyinformation",
            },
        )
        clock.sleep(60)
        # the pipeline's own write-back on two companies, a customer's edit on the third
        client.post_json(
            "/crm/v3/objects/companies/batch/update",
            {
                "inputs": [
                    {"id": ids[0], "properties": {"acct_health_score": "87"}},
                    {"id": ids[1], "properties": {"acct_health_score": "42"}},
                    {"id": ids[2], "properties": {"name": "Renamed Inc"}},
                ]
            },
            idempotent=True,
        )
        assert hs.objects["companies"][ids[0]].properties["hs_lastmodifieddate"] > str(
            before.loc[ids[0], "updated_at"]
        )
        second = source(hs, clock, HUBSPOT_INCREMENTAL_STATE=str(state))
        load(tmp_path / "b.duckdb", second, (CRM_COMPANIES,))
        assert hs.calls_to("/companies/search")
    after = table(tmp_path / "b.duckdb", CRM_COMPANIES).set_index("company_id")
    # the two write-backs (and the newest record, re-read by the overlap) are not changes
    assert second.stats.ignored_unchanged >= 2 and second.stats.changed == 1
    assert after.loc[ids[0], "updated_at"] == before.loc[ids[0], "updated_at"]
    assert after.loc[ids[2], "name"] == "Renamed Inc"
    assert after.loc[ids[2], "updated_at"] > before.loc[ids[2], "updated_at"]
    assert len(after) == len(before)
