"""Marketing touches from HubSpot and Salesforce equal the same touches from the landing file.

One touches dataset is drawn from the sample's contacts (``fakes/marketing.py``) and written
both as ``marketing/touches.csv`` and into the fakes; each connector's raw table must equal the
file's rows of its source after the same loader. Paging, faults, the look-back window, stream
selection and the fakes' own strictness are checked too.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import requests

from acct_pipeline.connectors.base import Source, SourceError
from acct_pipeline.connectors.files import FilesSource
from acct_pipeline.connectors.hubspot import HubSpotSource
from acct_pipeline.connectors.marketing import TOUCHES_TABLE
from acct_pipeline.connectors.registry import source_for
from acct_pipeline.connectors.salesforce import SalesforceSource
from acct_pipeline.warehouse import (
    CRM_COMPANIES,
    CRM_CONTACTS,
    connect,
    ensure_core_tables,
    raw_table_ddl,
)
from acct_pipeline_tests.connectors.conftest import assert_same_table, table
from acct_pipeline_tests.connectors.conftest import load as load_tables
from acct_pipeline_tests.fakes import salesforce as sf_fake
from acct_pipeline_tests.fakes.base import FakeClock
from acct_pipeline_tests.fakes.hubspot import TOKEN, FakeHubSpot
from acct_pipeline_tests.fakes.marketing import MARKETING_TOUCHES, make_touches, write_touches
from acct_pipeline_tests.fakes.salesforce import FakeSalesforce

HUBSPOT_KINDS = {"email_open", "email_click", "email_bounce", "form_submission", "page_view"}
SALESFORCE_KINDS = {
    "webinar_registered",
    "webinar_attended",
    "event_attended",
    "email_open",
    "email_click",
    "email_reply",
    "email_bounce",
}


def load(db: Path, source: Source, specs: tuple = (MARKETING_TOUCHES,)) -> None:
    """Load the touches table (created first: before the contract's TableSpec is among the
    warehouse's raw tables, the warehouse does not create it by itself)."""
    with connect(db) as con:
        ensure_core_tables(con)
        con.execute(raw_table_ddl(MARKETING_TOUCHES))
    load_tables(db, source, specs)


@pytest.fixture(scope="module")
def touches_root(sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A landing folder with the sample's companies and contacts and a generated touches file
    (the sample's own touches file, if any, is not copied: the fakes serve exactly this one)."""
    root = tmp_path_factory.mktemp("touches_landing")
    for spec in (CRM_COMPANIES, CRM_CONTACTS):
        (root / spec.landing_path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(sample / spec.landing_path, root / spec.landing_path)
    write_touches(root, make_touches(sample))
    return root


@pytest.fixture(scope="module")
def files_touches(touches_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("touches_files") / "files.duckdb"
    load(db, FilesSource(touches_root), (MARKETING_TOUCHES,))
    return db


def only(source: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def pick(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["source"] == source].reset_index(drop=True)

    return pick


def hubspot(fake: FakeHubSpot, clock: FakeClock, **env: str) -> HubSpotSource:
    base = {"HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_BASE_URL": fake.url}
    src = HubSpotSource.from_env({**base, **env}, sleep=clock.sleep, clock=clock)
    m = src.marketing
    m.email_limit, m.submissions_limit, m.events_limit, m.forms_limit = 100, 10, 50, 2
    return src


def salesforce(fake: FakeSalesforce, clock: FakeClock) -> SalesforceSource:
    env = {"SALESFORCE_ACCESS_TOKEN": sf_fake.TOKEN, "SALESFORCE_INSTANCE_URL": fake.url}
    return SalesforceSource.from_env(env, sleep=clock.sleep, clock=clock)


# -- API equals files ------------------------------------------------------------------------


def test_hubspot_touches_equal_the_file(
    touches_root: Path, files_touches: Path, tmp_path: Path
) -> None:
    clock = FakeClock()
    with FakeHubSpot(clock=clock).load_landing(touches_root) as hs:
        src = hubspot(hs, clock)
        load(tmp_path / "api.duckdb", src, (MARKETING_TOUCHES,))
        email_calls = hs.calls_to(r"^/email/public/v1/events$")
        sub_calls = hs.calls_to(r"^/form-integrations/v1/submissions/forms/")
    got = assert_same_table(
        files_touches, tmp_path / "api.duckdb", MARKETING_TOUCHES, normalise=only("hubspot")
    )
    assert set(got["activity_type"]) == HUBSPOT_KINDS
    assert got["account_id"].isna().all() and got["contact_id"].notna().all()
    # offset paging per event type: every request after the first of a type carries the token
    assert len(email_calls) > 3 and sum("offset" in c.query for c in email_calls) > 0
    assert {c.query["eventType"][0] for c in email_calls} == {"OPEN", "CLICK", "BOUNCE"}
    assert all(c.query["excludeFilteredEvents"] == ["true"] for c in email_calls)
    assert len(sub_calls) > 3 and {c.status for c in hs.calls} == {200}
    assert src.marketing.stats.forms == 3 and src.marketing.stats.unknown_recipients == 0


def test_salesforce_touches_equal_the_file(
    touches_root: Path, files_touches: Path, tmp_path: Path
) -> None:
    clock = FakeClock()
    with FakeSalesforce(clock=clock, page_size=200).load_landing(touches_root) as sf:
        contact = next(iter(sf.records["Contact"]))
        webinar = sf.add_campaign("Webinar")
        # members that are no engagement: an invitation, a lead, an advertisement's response
        sf.add("CampaignMember", {"CampaignId": webinar, "ContactId": contact, "Status": "Sent"})
        sf.add("CampaignMember", {"CampaignId": webinar, "LeadId": sf_fake.sf_id("00Q", 1)})
        ad = sf.add_campaign("Advertisement")
        sf.add(
            "CampaignMember",
            {"CampaignId": ad, "ContactId": contact, "Status": "Responded", "HasResponded": True},
        )
        src = salesforce(sf, clock)
        load(tmp_path / "api.duckdb", src, (MARKETING_TOUCHES,))
        pages = sf.calls_to(r"/query/01g")
    got = assert_same_table(
        files_touches, tmp_path / "api.duckdb", MARKETING_TOUCHES, normalise=only("salesforce")
    )
    assert set(got["activity_type"]) == SALESFORCE_KINDS
    assert got["account_id"].notna().all()
    assert len(pages) >= 2  # nextRecordsUrl followed
    assert src.campaign_members_skipped == 2  # the invitation and the advertisement (lead: WHERE)


# -- behaviour -------------------------------------------------------------------------------


def test_hubspot_recovers_from_429_5xx_and_drops(
    touches_root: Path, files_touches: Path, tmp_path: Path
) -> None:
    clock = FakeClock()
    with FakeHubSpot(clock=clock).load_landing(touches_root) as hs:
        hs.inject("status", 2, status=429, path="/email/public/v1/events")
        hs.inject("status", 1, status=502, path="/form-integrations/")
        hs.inject("drop", 1, path="/events/v3/events")
        src = hubspot(hs, clock)
        load(tmp_path / "api.duckdb", src, (MARKETING_TOUCHES,))
        faults = sorted(c.fault for c in hs.calls if c.fault)
    assert faults == ["drop", "status:429", "status:429", "status:502"]
    assert_same_table(
        files_touches, tmp_path / "api.duckdb", MARKETING_TOUCHES, normalise=only("hubspot")
    )
    assert src.client.stats.retries == 4


def test_filtered_events_and_unknown_recipients(touches_root: Path) -> None:
    clock = FakeClock()
    with FakeHubSpot(clock=clock).load_landing(touches_root) as hs:
        bot = hs.add_email_event("OPEN", "x@example.com", 1_790_000_000_000, filteredEvent=True)
        stranger = hs.add_email_event("CLICK", "nobody@nowhere.test", 1_790_000_000_000)
        src = hubspot(hs, clock, HUBSPOT_MARKETING_STREAMS="email")
        rows = {r["touch_id"]: r for r in src.marketing.touches()}
        assert not hs.calls_to("/marketing/v3/forms") and not hs.calls_to("/events/v3/events")
    assert f"hs-email-{bot['id']}" not in rows  # HubSpot left the machine open out
    unknown = rows[f"hs-email-{stranger['id']}"]
    assert unknown["contact_id"] is None and unknown["account_id"] is None
    assert unknown["occurred_at"] == "2026-09-21T14:13:20.000Z"
    assert src.marketing.stats.unknown_recipients == 1


def test_lookback_bounds_every_stream(touches_root: Path, files_touches: Path) -> None:
    clock = FakeClock()
    with FakeHubSpot(clock=clock).load_landing(touches_root) as hs:
        src = hubspot(hs, clock, ACCT_MARKETING_LOOKBACK_DAYS="30")
        now = pd.Timestamp("2026-10-31T00:00:00Z")
        src.marketing.now = lambda: now.to_pydatetime()
        rows = list(src.marketing.touches())
        email = hs.calls_to("/email/public/v1/events")
        web = hs.calls_to("/events/v3/events")
    since = now - pd.Timedelta(days=30)
    assert all(c.query["startTimestamp"] == [str(int(since.timestamp() * 1000))] for c in email)
    assert all(c.query["occurredAfter"] == ["2026-10-01T00:00:00Z"] for c in web)
    times = pd.to_datetime([r["occurred_at"] for r in rows], utc=True)
    assert len(rows) > 0 and (times >= since).all()
    expected = table(files_touches, MARKETING_TOUCHES)
    expected = expected[(expected["source"] == "hubspot")]
    expected = expected[pd.to_datetime(expected["occurred_at"], utc=True) >= since]
    assert sorted(r["touch_id"] for r in rows) == sorted(expected["touch_id"])


def test_streams_setting_is_checked() -> None:
    env = {"ACCT_MARKETING_SOURCE": "hubspot", "HUBSPOT_ACCESS_TOKEN": "pat-na1-x"}
    src = source_for(TOUCHES_TABLE, env)
    assert src.name == "hubspot" and TOUCHES_TABLE in src.tables()
    with pytest.raises(SourceError, match="HUBSPOT_MARKETING_STREAMS"):
        source_for(TOUCHES_TABLE, {**env, "HUBSPOT_MARKETING_STREAMS": "email,tweets"})
    sf_env = {
        "ACCT_MARKETING_SOURCE": "salesforce",
        "SALESFORCE_ACCESS_TOKEN": "00D!x",
        "SALESFORCE_INSTANCE_URL": "https://example.my.salesforce.com",
    }
    assert TOUCHES_TABLE in source_for(TOUCHES_TABLE, sf_env).tables()
    with pytest.raises(SourceError, match="ACCT_MARKETING_SOURCE"):
        source_for(TOUCHES_TABLE, {"ACCT_MARKETING_SOURCE": "stripe"})
    assert source_for(TOUCHES_TABLE, {}).name == "files"


def test_fake_hubspot_marketing_is_strict(touches_root: Path) -> None:
    with FakeHubSpot().load_landing(touches_root) as hs:
        auth = {"Authorization": f"Bearer {TOKEN}"}

        def get(path: str, **params: object) -> requests.Response:
            return requests.get(hs.url + path, params=params, headers=auth, timeout=10)

        assert get("/email/public/v1/events", limit=1001).status_code == 400
        first = get("/email/public/v1/events", eventType="OPEN", limit=5).json()
        assert first["hasMore"] and len(first["events"]) == 5
        created = [e["created"] for e in first["events"]]
        assert created == sorted(created, reverse=True)  # newest first
        other = get("/email/public/v1/events", eventType="CLICK", offset=first["offset"])
        assert other.status_code == 400 and other.json()["category"] == "VALIDATION_ERROR"
        assert get("/email/public/v1/events", eventType="open").json()["events"] == []
        guid = next(iter(hs.forms))
        path = f"/form-integrations/v1/submissions/forms/{guid}"
        assert get(path, limit=51).status_code == 400
        assert get("/form-integrations/v1/submissions/forms/no-such-form").status_code == 404
        assert get("/events/v3/events", eventType="e_visited_page").status_code == 400
        unauthenticated = requests.get(hs.url + "/email/public/v1/events", timeout=10)
        assert unauthenticated.status_code == 401
