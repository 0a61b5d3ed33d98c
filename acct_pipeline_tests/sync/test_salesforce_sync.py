"""Reverse ETL to the fake Salesforce: composite/sobjects PATCH, 200 each, per-record errors."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from acct_pipeline.sync.mapping import FieldMapping
from acct_pipeline.sync.settings import SyncConfigError
from acct_pipeline_tests.fakes.base import FakeClock
from acct_pipeline_tests.fakes.salesforce import FakeSalesforce, account_ids
from acct_pipeline_tests.sync.conftest import (
    DAY,
    ledger_rows,
    sync_salesforce,
    write_scores,
)

N = 450
MAPPED = set(FieldMapping().crm_names("salesforce"))
FIELD_TYPES = {"number": "double", "text": "string", "enumeration": "picklist", "date": "date"}


class SalesforceWithIdIn(FakeSalesforce):
    """The fake's SOQL subset lacks ``Id IN (...)``, which the read-back after an unknown outcome
    uses (real Salesforce supports it); this test-only subclass adds just that."""

    _IN = re.compile(
        r"^\s*SELECT\s+(?P<f>.+?)\s+FROM\s+(?P<o>\w+)\s+WHERE\s+Id\s+IN\s*\((?P<ids>[^)]*)\)\s*$",
        re.I,
    )

    def _run_soql(self, q: str) -> list[dict[str, Any]]:
        m = self._IN.match(q)
        if not m:
            return super()._run_soql(q)
        obj = m.group("o")
        fields = [f.strip() for f in m.group("f").split(",")]
        for f in fields:
            self._check_field(obj, f)
        ids = [i.strip().strip("'") for i in m.group("ids").split(",")]
        return [
            self._shape(obj, self.records[obj][i], fields) for i in ids if i in self.records[obj]
        ]


def setup_org(sf: FakeSalesforce, ids: list[str], with_fields: bool = True) -> None:
    if with_fields:
        for f in FieldMapping().for_target("salesforce"):
            sf.add_field("Account", f.crm_name("salesforce"), FIELD_TYPES[f.type])
    for rid in ids:
        sf.add("Account", {"Id": rid, "Name": f"Account {rid}"})


@pytest.fixture
def org(db: Path, fake_salesforce: FakeSalesforce) -> tuple[FakeSalesforce, list[str]]:
    ids = account_ids(N)
    setup_org(fake_salesforce, ids)
    write_scores(db, DAY, ids)
    return fake_salesforce, ids


def patches(sf: FakeSalesforce) -> list[list[dict[str, Any]]]:
    return [json.loads(c.body)["records"] for c in sf.calls_to(r"/composite/sobjects$", "PATCH")]


def test_batches_of_200_only_mapped_fields_then_nothing(
    db: Path, org, fake_clock: FakeClock
) -> None:
    sf, ids = org
    report = sync_salesforce(db, sf, fake_clock)
    assert report.accepted == N and report.pending == 0
    assert sorted(len(p) for p in patches(sf)) == [50, 200, 200]
    body = json.loads(sf.calls_to(r"/composite/sobjects$")[0].body)
    assert body["allOrNone"] is False and body["records"][0]["attributes"] == {"type": "Account"}
    assert Counter(w.record_id for w in sf.writes_to("Account")) == Counter({i: 1 for i in ids})
    assert {f for w in sf.writes_to("Account") for f in w.fields} <= MAPPED
    rec = sf.records["Account"][ids[2]]
    assert rec["Health_Score__c"] == 74 and rec["Health_Tier__c"] == "At-Risk"
    assert rec["Churn_Probability__c"] == 0.26 and rec["Name"] == f"Account {ids[2]}"

    calls = len(sf.calls)
    again = sync_salesforce(db, sf, fake_clock)
    assert again.unchanged == N and len(sf.calls) == calls


def test_per_record_errors_are_kept_and_retried_alone(db: Path, org, fake_clock: FakeClock) -> None:
    sf, ids = org
    bad = [ids[0], ids[199], ids[200], ids[449]]
    for rid in bad:
        sf.fail_record(rid, "Health score must be between 0 and 100", fields=["Health_Score__c"])
    report = sync_salesforce(db, sf, fake_clock)
    assert report.accepted == N - 4 and report.rejected == 4 and report.pending == 4
    msg = (
        "FIELD_CUSTOM_VALIDATION_EXCEPTION: Health score must be between 0 and 100 "
        "[Health_Score__c]"
    )
    assert report.top_rejections() == [(msg, 4)]
    rows = ledger_rows(db, "salesforce")
    assert {rid for rid, r in rows.items() if r["status"] == "rejected"} == set(bad)
    assert all(rows[rid]["message"] == msg for rid in bad)

    sf.record_errors.clear()
    before = len(sf.writes)
    retry = sync_salesforce(db, sf, fake_clock)
    assert retry.retried == 4 and retry.write_requests == 1
    assert sorted(w.record_id for w in sf.writes[before:]) == sorted(bad)
    assert retry.pending == 0


def test_missing_fields_are_listed_before_any_write(
    db: Path, fake_salesforce: FakeSalesforce, fake_clock
) -> None:
    ids = account_ids(5)
    setup_org(fake_salesforce, ids, with_fields=False)
    fake_salesforce.add_field("Account", "Health_Score__c", "double")
    write_scores(db, DAY, ids)
    with pytest.raises(
        SyncConfigError, match=r"missing Account fields: Health_Tier__c \(Picklist\)"
    ) as exc:
        sync_salesforce(db, fake_salesforce, fake_clock)
    assert "Health_Score__c" not in str(exc.value).split("missing Account fields:")[1].split("—")[0]
    assert not fake_salesforce.writes


def test_api_limit_stops_cleanly_and_next_run_resumes(db: Path, org, fake_clock: FakeClock) -> None:
    sf, ids = org
    sf.limit_after(2)  # describe + one PATCH, then REQUEST_LIMIT_EXCEEDED
    report = sync_salesforce(db, sf, fake_clock, concurrency=1)
    assert report.stopped_reason and "REQUEST_LIMIT_EXCEEDED" in report.stopped_reason
    assert report.accepted == 200 and report.pending == N - 200
    sf.api_limit = 1_000_000
    resumed = sync_salesforce(db, sf, fake_clock)
    assert resumed.accepted == N - 200 and resumed.pending == 0
    assert Counter(w.record_id for w in sf.writes_to("Account")) == Counter({i: 1 for i in ids})


def test_5xx_is_read_back_then_only_missing_records_resent(db: Path, fake_clock: FakeClock) -> None:
    ids = account_ids(N)
    write_scores(db, DAY, ids)
    with SalesforceWithIdIn(clock=fake_clock) as sf:
        setup_org(sf, ids)
        sf.inject("status", 2, status=503, path="composite/sobjects")
        report = sync_salesforce(db, sf, fake_clock)
        assert report.accepted == N and report.pending == 0
        assert sf.calls_to(r"/query$")  # it read back before resending
        assert Counter(w.record_id for w in sf.writes_to("Account")) == Counter({i: 1 for i in ids})
