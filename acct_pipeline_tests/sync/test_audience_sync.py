"""The marketing audience reaches the CRM: ``acct_audience`` (HubSpot) / ``Audience__c``
(Salesforce), from the synced day's ``alerts.audience_membership``, written only when it changes;
capped and control-group accounts get none."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from acct_pipeline import warehouse
from acct_pipeline.alerts.audiences import CAPPED, ENTERED, update_membership
from acct_pipeline.alerts.experiment import CONTROL, TREATED, arm_for
from acct_pipeline.scoring.actions import Actions, load_actions
from acct_pipeline.sync.mapping import FieldMapping, default_fields, model_audience_names
from acct_pipeline.sync.settings import SyncConfigError
from acct_pipeline_tests.fakes.base import FakeClock
from acct_pipeline_tests.fakes.hubspot import FakeHubSpot
from acct_pipeline_tests.fakes.salesforce import FakeSalesforce
from acct_pipeline_tests.fakes.salesforce import account_ids as sf_account_ids
from acct_pipeline_tests.sync.conftest import (
    DAY,
    NEXT_DAY,
    account_ids,
    add_companies,
    sync_hubspot,
    sync_salesforce,
    write_scores,
)

IDS = account_ids(12)
SF_IDS = sf_account_ids(12)
BUSY_OWNER = "busy@example.com"  # owns ids[0] and ids[1]: one audience entry a day
# the model file's acting sections (the tiers are the sync fixtures' tiers)
MODEL_YAML = """
experiment: {name: automation, control_share: 0.3, seed: 7}
audiences:
  - {name: win_back, tiers: [Critical, Concerning]}
  - {name: adoption_education, tiers: [At-Risk]}
  - {name: expansion_sequence, tiers: [Healthy], trends: [improving, stable]}
caps:
  audiences: {account_cooldown_days: 14, per_owner_per_day: 1}
"""
HS_FIELD, SF_FIELD = "acct_audience", "Audience__c"


@pytest.fixture
def actions(tmp_path: Path) -> Actions:
    path = tmp_path / "model.yaml"
    path.write_text(MODEL_YAML)
    return load_actions(path)


def owners(db: Path, ids: list[str]) -> None:
    with warehouse.connect(db) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS staging")
        con.execute(f"CREATE TABLE {warehouse.ACCOUNTS} (account_id VARCHAR, owner_email VARCHAR)")
        con.executemany(
            f"INSERT INTO {warehouse.ACCOUNTS} VALUES (?, ?)",
            [(a, BUSY_OWNER if a in ids[:2] else f"owner{a}@example.com") for a in ids],
        )


def audiences_of(db: Path, day: date, actions: Actions) -> dict[str, tuple[str, str, str | None]]:
    """Recompute the day's membership; account -> (status, arm, crm_audience) of its in / capped
    row."""
    with warehouse.connect(db) as con:
        update_membership(con, day, actions)
        rows = con.execute(
            f"SELECT account_id, status, arm, crm_audience FROM {warehouse.AUDIENCE_MEMBERSHIP} "
            "WHERE as_of_date = ? AND status <> 'exited'",
            [day],
        ).fetchall()
    return {a: (s, arm, crm) for a, s, arm, crm in rows}


def scored_book(
    db: Path, actions: Actions, ids: list[str]
) -> dict[str, tuple[str, str, str | None]]:
    """Scores and audiences of DAY: the preconditions the tests rely on are checked here."""
    write_scores(db, DAY, ids)
    owners(db, ids)
    day = audiences_of(db, DAY, actions)
    # the busy owner's second account is capped out; a control member exists; the capped account
    # will be treated when it enters (the arm is a hash of the experiment, seed and id)
    assert day[ids[1]][0] == CAPPED and day[ids[0]][0] == ENTERED
    assert any(arm == CONTROL for _, arm, _ in day.values())
    assert arm_for(ids[1], actions.experiment) == TREATED
    return day


@pytest.fixture
def book(db: Path, actions: Actions) -> dict[str, tuple[str, str, str | None]]:
    return scored_book(db, actions, IDS)


def expected(day: dict[str, tuple[str, str, str | None]], ids: list[str] = IDS) -> dict[str, str]:
    """What the CRM shows per account: the audience, or empty."""
    return {a: (day[a][2] if a in day and day[a][2] else "") for a in ids}


def test_default_mapping_has_the_models_audiences() -> None:
    spec = FieldMapping().by_name("audience")
    assert spec.options == model_audience_names()
    assert {"win_back", "adoption_education", "expansion_sequence"} <= set(spec.options)
    assert (spec.crm_name("hubspot"), spec.crm_name("salesforce")) == (HS_FIELD, SF_FIELD)
    assert spec.nulls == "clear" and spec.type == "enumeration"
    # a model without audiences maps no audience field
    assert "audience" not in [f.name for f in default_fields(audience_names=())]


def test_hubspot_gets_the_audience_only_when_it_changes(
    db: Path, fake_hubspot: FakeHubSpot, fake_clock: FakeClock, book, actions: Actions
) -> None:
    hs = fake_hubspot
    add_companies(hs, IDS)
    report = sync_hubspot(db, hs, fake_clock)
    assert report.accepted == len(IDS) and not any("audience" in w for w in report.warnings)
    prop = hs.properties["companies"][HS_FIELD]  # created by the sync, as an enumeration
    assert prop["type"] == "enumeration"
    assert [o["value"] for o in prop["options"]] == list(model_audience_names())

    def crm() -> dict[str, str]:
        return {a: hs.objects["companies"][a].properties.get(HS_FIELD) or "" for a in IDS}

    assert crm() == expected(book)
    assert any(crm().values())
    control = [a for a, (_, arm, _) in book.items() if arm == CONTROL]
    assert control and all(crm()[a] == "" for a in control)  # held out: nothing written
    assert crm()[IDS[1]] == ""  # capped out by the owner's daily cap

    # unchanged membership: nothing written
    writes = len(hs.writes_to("companies"))
    again = sync_hubspot(db, hs, fake_clock)
    assert again.to_send == 0 and len(hs.writes_to("companies")) == writes

    # the next day the capped account enters: exactly that account is written
    write_scores(db, NEXT_DAY, IDS)
    day2 = audiences_of(db, NEXT_DAY, actions)
    assert day2[IDS[1]][0] == ENTERED and day2[IDS[1]][2]
    report2 = sync_hubspot(db, hs, fake_clock, NEXT_DAY)
    assert report2.field_changes == {"audience": 1}
    assert [w.record_id for w in hs.writes_to("companies")[writes:]] == [IDS[1]]
    assert crm() == expected(day2) and crm()[IDS[1]] == day2[IDS[1]][2]

    # leaving every audience empties the field (IDS[2] becomes a declining Healthy account)
    day3 = NEXT_DAY + timedelta(days=1)
    write_scores(db, day3, IDS, bump={IDS[2]: 20.0})
    audiences_of(db, day3, actions)
    assert crm()[IDS[2]] != ""
    sync_hubspot(db, hs, fake_clock, day3)
    assert crm()[IDS[2]] == ""
    assert hs.writes_to("companies", IDS[2])[-1].properties[HS_FIELD] == ""


def test_salesforce_gets_the_audience(
    db: Path, fake_salesforce: FakeSalesforce, fake_clock: FakeClock, actions: Actions
) -> None:
    sf, ids = fake_salesforce, SF_IDS
    book = scored_book(db, actions, ids)
    types = {"number": "double", "text": "string", "enumeration": "picklist", "date": "date"}
    for f in FieldMapping().for_target("salesforce"):
        if f.name != "audience":
            sf.add_field("Account", f.crm_name("salesforce"), types[f.type])
    for rid in ids:
        sf.add("Account", {"Id": rid, "Name": f"Account {rid}"})

    # the field-existence check names the missing audience field
    with pytest.raises(SyncConfigError, match=SF_FIELD):
        sync_salesforce(db, sf, fake_clock)
    sf.add_field("Account", SF_FIELD, "picklist", picklist=model_audience_names(), restricted=True)

    report = sync_salesforce(db, sf, fake_clock)
    assert report.accepted == len(ids) and report.rejected == 0

    def crm() -> dict[str, str]:
        return {a: sf.records["Account"][a].get(SF_FIELD) or "" for a in ids}

    assert crm() == expected(book, ids) and any(crm().values())
    assert crm()[ids[1]] == ""  # capped out
    control = [a for a, (_, arm, _) in book.items() if arm == CONTROL]
    assert control and all(crm()[a] == "" for a in control)

    writes = len(sf.writes_to("Account"))
    assert sync_salesforce(db, sf, fake_clock).to_send == 0
    assert len(sf.writes_to("Account")) == writes

    write_scores(db, NEXT_DAY, ids)
    day2 = audiences_of(db, NEXT_DAY, actions)
    sync_salesforce(db, sf, fake_clock, NEXT_DAY)
    assert [w.record_id for w in sf.writes_to("Account")[writes:]] == [ids[1]]
    assert crm()[ids[1]] == day2[ids[1]][2] != ""


def test_a_warehouse_without_audiences_still_syncs_quietly(
    db: Path, fake_hubspot: FakeHubSpot, fake_clock: FakeClock
) -> None:
    add_companies(fake_hubspot, IDS)
    write_scores(db, DAY, IDS)
    report = sync_hubspot(db, fake_hubspot, fake_clock)
    assert report.accepted == len(IDS)
    assert not any("audience" in w for w in report.warnings)
    assert not any("audience membership" in n for n in report.notes)
    assert HS_FIELD not in fake_hubspot.written_property_names("companies")


def test_a_day_without_membership_leaves_the_crm_audience_alone(
    db: Path, fake_hubspot: FakeHubSpot, fake_clock: FakeClock, book
) -> None:
    hs = fake_hubspot
    add_companies(hs, IDS)
    sync_hubspot(db, hs, fake_clock)
    member = next(a for a in IDS if expected(book)[a])
    # the next day is scored (one account's score moves) but its audiences were not computed
    write_scores(db, NEXT_DAY, IDS, bump={member: 30.0})
    report = sync_hubspot(db, hs, fake_clock, NEXT_DAY)
    assert report.accepted == 1 and not any("audience" in w for w in report.warnings)
    assert any("no audience membership" in n for n in report.notes)
    assert HS_FIELD not in hs.writes_to("companies", member)[-1].properties
    assert hs.objects["companies"][member].properties[HS_FIELD] == expected(book)[member]
