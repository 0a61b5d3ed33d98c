"""Salesforce connector against the fake org: same raw tables as files, paging, limits, auth."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from acct_pipeline.connectors.http import AuthFailed, QuotaExhausted
from acct_pipeline.connectors.salesforce import SalesforceSource
from acct_pipeline.warehouse import CRM_ACTIVITIES, CRM_COMPANIES, CRM_CONTACTS, CRM_TICKETS
from acct_pipeline_tests.connectors.conftest import assert_same_table, load, table
from acct_pipeline_tests.fakes.base import FakeClock
from acct_pipeline_tests.fakes.salesforce import TOKEN, FakeSalesforce

CRM = (CRM_COMPANIES, CRM_CONTACTS, CRM_ACTIVITIES, CRM_TICKETS)


def source(fake: FakeSalesforce, clock: FakeClock, token: str = TOKEN) -> SalesforceSource:
    env = {"SALESFORCE_ACCESS_TOKEN": token, "SALESFORCE_INSTANCE_URL": fake.url}
    return SalesforceSource.from_env(env, sleep=clock.sleep, clock=clock)


def test_same_raw_tables_as_files_across_many_pages(
    sample: Path, files_warehouse: Path, tmp_path: Path
) -> None:
    clock = FakeClock()
    with FakeSalesforce(clock=clock, page_size=200).load_landing(sample) as sf:
        src = source(sf, clock)
        load(tmp_path / "api.duckdb", src, CRM)
        more = sf.calls_to(r"/query/01g")
    assert len(more) >= 10  # nextRecordsUrl followed page after page
    for spec in CRM:
        assert_same_table(files_warehouse, tmp_path / "api.duckdb", spec)


def test_burst_of_5xx_and_dropped_connection_recovered(
    sample: Path, files_warehouse: Path, tmp_path: Path
) -> None:
    clock = FakeClock()
    with FakeSalesforce(clock=clock, page_size=300).load_landing(sample) as sf:
        sf.inject("status", 3, status=503, path="/query/01g")
        sf.inject("drop", 1, path="/query")
        load(tmp_path / "api.duckdb", source(sf, clock), (CRM_ACTIVITIES,))
        assert sum(1 for c in sf.calls if c.fault) == 4
    assert_same_table(files_warehouse, tmp_path / "api.duckdb", CRM_ACTIVITIES)


def test_request_limit_exceeded_is_a_clean_quota_stop(sample: Path, tmp_path: Path) -> None:
    db = tmp_path / "api.duckdb"
    clock = FakeClock()
    with FakeSalesforce(clock=clock, page_size=200).load_landing(sample) as sf:
        load(db, source(sf, clock), (CRM_COMPANIES, CRM_ACTIVITIES))
        before = {s.name: table(db, s) for s in (CRM_COMPANIES, CRM_ACTIVITIES)}
        sf.limit_after(3)  # the org runs out while paging through the tasks
        with pytest.raises(QuotaExhausted, match="REQUEST_LIMIT_EXCEEDED") as err:
            load(db, source(sf, clock), (CRM_ACTIVITIES,))
        assert sf.calls[-1].status == 403 and len([c for c in sf.calls if c.status == 403]) == 1
    assert "api-usage=" in str(err.value) and TOKEN not in str(err.value)
    for name, frame in before.items():
        spec = CRM_COMPANIES if name == CRM_COMPANIES.name else CRM_ACTIVITIES
        pd.testing.assert_frame_equal(table(db, spec), frame)


def test_invalid_session_fails_fast_naming_the_variable(sample: Path, tmp_path: Path) -> None:
    wrong = "00Dxx0000001gPL!AQ4AQWrongTokenThatMustNeverBeLogged000000000000000"
    clock = FakeClock()
    with FakeSalesforce(clock=clock).load_landing(sample) as sf:
        with pytest.raises(AuthFailed) as err:
            load(tmp_path / "api.duckdb", source(sf, clock, token=wrong), (CRM_COMPANIES,))
        assert len(sf.calls) == 1
    assert "SALESFORCE_ACCESS_TOKEN" in str(err.value) and "INVALID_SESSION_ID" in str(err.value)
    assert wrong not in f"{err.value} {err.value.body} {err.value.url}"
