"""Reverse ETL to the fake HubSpot: only changes, batched at 100, per-record failures, retries."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from acct_pipeline.connectors.http import AuthFailed
from acct_pipeline.sync.mapping import FieldMapping, load_mapping
from acct_pipeline.sync.settings import SyncConfigError
from acct_pipeline_tests.fakes.base import FakeClock, Request, Response, json_response
from acct_pipeline_tests.fakes.hubspot import TOKEN, FakeHubSpot
from acct_pipeline_tests.sync.conftest import (
    DAY,
    account_ids,
    add_companies,
    batch_updates,
    ledger_rows,
    sync_hubspot,
    write_scores,
)

N = 250
MAPPED = set(FieldMapping().crm_names("hubspot"))


@pytest.fixture
def portal(db: Path, fake_hubspot: FakeHubSpot) -> tuple[FakeHubSpot, list[str]]:
    ids = account_ids(N)
    add_companies(fake_hubspot, ids)
    write_scores(db, DAY, ids)
    return fake_hubspot, ids


def writes_per_record(hs: FakeHubSpot) -> Counter[str]:
    return Counter(w.record_id for w in hs.writes_to("companies"))


def test_first_run_updates_every_account_then_nothing(
    db: Path, portal, fake_clock: FakeClock
) -> None:
    hs, ids = portal
    report = sync_hubspot(db, hs, fake_clock)
    assert report.accepted == N and report.rejected == 0 and report.pending == 0
    assert writes_per_record(hs) == Counter({i: 1 for i in ids})
    # 250 records at 100 per request: 3 write requests, none larger than 100
    updates = batch_updates(hs)
    assert len(updates) == 3 == report.write_requests
    assert all(len(json.loads(c.body)["inputs"]) <= 100 for c in updates)
    # only mapped properties were ever written, and the person's field is untouched
    assert hs.written_property_names("companies") <= MAPPED
    rec = hs.objects["companies"][ids[2]].properties
    assert rec["description"] == "typed by a person"
    assert rec["acct_health_score"] == "74" and rec["acct_health_tier"] == "At-Risk"
    assert rec["acct_health_updated_at"] == DAY.isoformat()
    assert all(r["status"] == "accepted" for r in ledger_rows(db, "hubspot").values())

    calls_before = len(hs.calls)
    again = sync_hubspot(db, hs, fake_clock)
    assert again.unchanged == N and again.to_send == 0
    assert len(batch_updates(hs)) == 3  # zero write requests on the rerun
    assert len(hs.calls) == calls_before  # not even a read
    assert again.write_requests == 0 and again.http_requests == 0


def test_changing_37_scores_sends_exactly_those_37(db: Path, portal, fake_clock: FakeClock) -> None:
    hs, ids = portal
    sync_hubspot(db, hs, fake_clock)
    changed = ids[100:137]
    write_scores(db, DAY, ids, bump={i: 6.0 for i in changed})
    first_writes = len(hs.writes)
    calls_before = len(hs.calls)
    report = sync_hubspot(db, hs, fake_clock)
    assert report.changed == 37 and report.unchanged == N - 37
    assert report.write_requests == 1 and report.accepted == 37
    # the fields were verified by the first run: one request in all, the batch update itself
    assert [c.path for c in hs.calls[calls_before:]] == ["/crm/v3/objects/companies/batch/update"]
    new = hs.writes[first_writes:]
    assert sorted(w.record_id for w in new) == sorted(changed)
    assert hs.written_property_names("companies") <= MAPPED


def test_207_rejects_five_keeps_them_pending_and_retries_only_them(
    db: Path, portal, fake_clock: FakeClock
) -> None:
    hs, ids = portal
    bad = [ids[3], ids[50], ids[120], ids[199], ids[248]]
    hs.reject("companies", bad, message="acct_health_score: value out of range")
    report = sync_hubspot(db, hs, fake_clock)
    assert report.accepted == N - 5 and report.rejected == 5 and report.pending == 5
    assert report.top_rejections() == [
        ("VALIDATION_ERROR: acct_health_score: value out of range", 5)
    ]
    rows = ledger_rows(db, "hubspot")
    for rid in bad:
        assert rows[rid]["status"] == "rejected"
        assert rows[rid]["accepted_json"] is None
        assert "value out of range" in rows[rid]["message"]
    assert sum(r["status"] == "accepted" for r in rows.values()) == N - 5

    hs.accept("companies", bad)
    before = len(hs.writes)
    retry = sync_hubspot(db, hs, fake_clock)
    assert retry.retried == 5 and retry.to_send == 5 and retry.write_requests == 1
    assert sorted(w.record_id for w in hs.writes[before:]) == sorted(bad)
    assert retry.pending == 0
    assert all(r["status"] == "accepted" for r in ledger_rows(db, "hubspot").values())


def test_429_storm_and_5xx_bursts_end_with_every_record_accepted_once(
    db: Path, portal, fake_clock: FakeClock
) -> None:
    hs, ids = portal
    hs.inject("status", 6, status=429, path="batch/update")
    hs.inject("status", 2, status=503, path="batch/update")
    hs.inject("status", 1, status=502, path="batch/update")
    hs.inject("drop", 1, path="batch/update")
    report = sync_hubspot(db, hs, fake_clock)
    assert report.accepted + report.confirmed_by_read_back == N and report.pending == 0
    assert writes_per_record(hs) == Counter({i: 1 for i in ids})
    assert report.rate_limit_waits >= 6
    assert all(r["status"] == "accepted" for r in ledger_rows(db, "hubspot").values())


class ApplyThen502(FakeHubSpot):
    """HubSpot applies a batch, then the gateway answers 502: the outcome is unknown."""

    fail_next = 1

    def batch_update(self, req: Request, otype: str) -> Response:
        resp = super().batch_update(req, otype)
        if self.fail_next:
            self.fail_next -= 1
            return json_response(502, {"message": "bad gateway"})
        return resp


def test_unknown_outcome_is_read_back_not_written_twice(db: Path, fake_clock: FakeClock) -> None:
    ids = account_ids(N)
    write_scores(db, DAY, ids)
    with ApplyThen502(clock=fake_clock) as hs:
        add_companies(hs, ids)
        report = sync_hubspot(db, hs, fake_clock)
        assert writes_per_record(hs) == Counter({i: 1 for i in ids})
        assert report.confirmed_by_read_back in (50, 100)  # whichever batch got the 502
        assert len(hs.calls_to(r"/batch/read$")) == 1
        assert all(r["status"] == "accepted" for r in ledger_rows(db, "hubspot").values())


def test_daily_quota_stops_cleanly_and_next_run_resumes(
    db: Path, portal, fake_clock: FakeClock
) -> None:
    hs, ids = portal
    for f in FieldMapping().for_target("hubspot"):  # properties exist: the quota goes to writes
        name = f.crm_name("hubspot")
        hs.properties["companies"][name] = {"name": name, "type": "string", "options": []}
    # the portal id (read once per token and cached), the properties list + 2 writes, then 429
    hs.daily_limit = hs.daily_used + 4
    report = sync_hubspot(db, hs, fake_clock, concurrency=1)
    assert report.stopped_reason and "DAILY" in report.stopped_reason
    assert report.accepted == 200 and report.pending == N - 200
    assert {r["status"] for r in ledger_rows(db, "hubspot").values()} == {"accepted", "pending"}

    hs.daily_limit = None
    resumed = sync_hubspot(db, hs, fake_clock)
    assert resumed.retried == N - 200 and resumed.accepted == N - 200 and resumed.pending == 0
    assert writes_per_record(hs) == Counter({i: 1 for i in ids})


def test_missing_properties_are_created_once_in_their_group(
    db: Path, portal, fake_clock: FakeClock
) -> None:
    hs, ids = portal
    sync_hubspot(db, hs, fake_clock)
    created = [w for w in hs.writes if w.object_type == "properties/companies"]
    assert sorted(w.record_id for w in created) == sorted(MAPPED)
    assert {w.properties["groupName"] for w in created} == {"account_health"}
    assert hs.properties["companies"]["acct_health_tier"]["options"]
    write_scores(db, DAY, ids, bump={ids[0]: 6.0})
    sync_hubspot(db, hs, fake_clock)
    assert len([w for w in hs.writes if w.object_type == "properties/companies"]) == len(MAPPED)


def test_missing_properties_without_permission_name_them(
    db: Path, portal, fake_clock: FakeClock
) -> None:
    hs, _ = portal
    with pytest.raises(SyncConfigError, match="acct_health_score.*ACCT_SYNC_CREATE_FIELDS"):
        sync_hubspot(db, hs, fake_clock, create_fields=False)
    assert not hs.writes and not batch_updates(hs)


def test_null_values_are_skipped_not_blanked(db: Path, portal, fake_clock: FakeClock) -> None:
    hs, ids = portal
    sync_hubspot(db, hs, fake_clock)
    from acct_pipeline import warehouse

    with warehouse.connect(db) as con:
        con.execute(
            f"UPDATE {warehouse.ACCOUNT_SCORES} SET health_score = NULL, trend = 'declining' "
            "WHERE account_id = ?",
            [ids[0]],
        )
    before = len(hs.writes)
    report = sync_hubspot(db, hs, fake_clock)
    new = hs.writes[before:]
    assert report.to_send == 1 and [w.record_id for w in new] == [ids[0]]
    assert "acct_health_score" not in new[0].properties
    assert hs.objects["companies"][ids[0]].properties["acct_health_score"] == "0"


def test_secrets_never_in_errors_reports_or_logs(
    db: Path, portal, fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    hs, _ = portal
    token = "pat-na1-99999999-8888-7777-6666-555555555555"
    with pytest.raises(AuthFailed) as exc:
        sync_hubspot(db, hs, fake_clock, hubspot_token=token)
    assert "HUBSPOT_ACCESS_TOKEN" in str(exc.value)
    hs.inject("status", 2, status=503, path="batch/update")
    report = sync_hubspot(db, hs, fake_clock)
    for text in (
        str(exc.value),
        exc.value.body or "",
        json.dumps(report.to_metadata()),
        report.summary_text(),
        caplog.text,
    ):
        assert token not in text and TOKEN not in text


class PoisonBatch400(FakeHubSpot):
    """A CRM that refuses a whole batch (400) when one record in it is bad."""

    poison = "1042"

    def batch_update(self, req: Request, otype: str) -> Response:
        ids = [str(i.get("id")) for i in (req.json() or {}).get("inputs") or []]
        if self.poison in ids:
            return self._bad_request(f"Invalid input for record {self.poison}")
        return super().batch_update(req, otype)


def test_a_whole_batch_400_is_split_until_the_bad_record_is_isolated(
    db: Path, fake_clock: FakeClock
) -> None:
    ids = account_ids(N)
    write_scores(db, DAY, ids)
    with PoisonBatch400(clock=fake_clock) as hs:
        add_companies(hs, ids)
        report = sync_hubspot(db, hs, fake_clock)
        assert report.accepted == N - 1 and report.rejected == 1
        assert "Invalid input for record 1042" in report.top_rejections()[0][0]
        assert writes_per_record(hs) == Counter({i: 1 for i in ids if i != "1042"})
        assert report.write_requests <= 3 + 2 * 7  # log2(100) splits, not one request per record
        assert ledger_rows(db, "hubspot")["1042"]["status"] == "rejected"


def test_clear_policy_blanks_the_field(db: Path, portal, fake_clock: FakeClock, tmp_path) -> None:
    hs, ids = portal
    path = tmp_path / "mapping.json"
    path.write_text(
        json.dumps(
            {
                "fields": [
                    {
                        "name": "health_score",
                        "source": "health_score",
                        "type": "number",
                        "decimals": 0,
                        "hubspot": "acct_health_score",
                    },
                    {
                        "name": "health_trend",
                        "source": "trend",
                        "type": "text",
                        "hubspot": "acct_health_trend",
                        "nulls": "clear",
                    },
                ]
            }
        )
    )
    sync_hubspot(db, hs, fake_clock, field_mapping_path=path, mapping=load_mapping(path))
    from acct_pipeline import warehouse

    with warehouse.connect(db) as con:
        con.execute(
            f"UPDATE {warehouse.ACCOUNT_SCORES} SET trend = NULL WHERE account_id = ?", [ids[0]]
        )
    before = len(hs.writes)
    report = sync_hubspot(db, hs, fake_clock, field_mapping_path=path, mapping=load_mapping(path))
    assert report.to_send == 1 and hs.writes[before].properties["acct_health_trend"] == ""
    assert hs.written_property_names("companies") == {"acct_health_score", "acct_health_trend"}


def test_locked_records_are_retried_within_the_run(db: Path, portal, fake_clock: FakeClock) -> None:
    """20 records refused as LOCKED twice each all land in one run, which exits 0."""
    from acct_pipeline.sync.command import EXIT_OK, exit_code

    hs, ids = portal
    locked = ids[10:30]
    hs.reject("companies", locked, "Record is locked by another update", "LOCKED", times=2)
    report = sync_hubspot(db, hs, fake_clock)
    assert report.accepted == N and report.rejected == 0 and report.pending == 0
    assert report.sent == N and exit_code(report) == EXIT_OK
    assert report.retried_in_run == Counter({"LOCKED": 40})
    assert "retried within the run: LOCKED ×40" in report.summary_text()
    assert writes_per_record(hs) == Counter({i: 1 for i in ids})
    assert {r["status"] for r in ledger_rows(db, "hubspot").values()} == {"accepted"}


def test_permanent_rejections_are_not_retried_and_counted_by_category(
    db: Path, portal, fake_clock: FakeClock
) -> None:
    from acct_pipeline.sync.command import EXIT_INCOMPLETE, exit_code

    hs, ids = portal
    hs.reject("companies", ids[:3], "Property values were not valid")
    hs.reject("companies", ids[3:5], "Record is locked", "LOCKED")  # locked for good
    report = sync_hubspot(db, hs, fake_clock, max_record_attempts=3)
    assert report.accepted == N - 5 and report.rejected == 5 and report.sent == N
    assert report.rejection_categories == Counter({"VALIDATION_ERROR": 3, "LOCKED": 2})
    assert report.retried_in_run == Counter({"LOCKED": 4})  # 3 sends each, then rejected
    assert "rejected: VALIDATION_ERROR ×3, LOCKED ×2" in report.summary_text()
    assert exit_code(report) == EXIT_INCOMPLETE
    rows = ledger_rows(db, "hubspot")
    assert rows[ids[0]]["status"] == "rejected"
    assert rows[ids[0]]["message"] == "VALIDATION_ERROR: Property values were not valid"
    bodies = [json.loads(c.body) for c in batch_updates(hs)]
    sends = Counter(i["id"] for b in bodies for i in b["inputs"])
    assert sends[ids[0]] == 1 and sends[ids[3]] == 3


def test_property_creation_is_retried_after_5xx_and_dropped_connections(
    db: Path, portal, fake_clock: FakeClock
) -> None:
    hs, ids = portal
    hs.inject("status", 2, status=503, path=r"/properties/companies$", method="POST")
    hs.inject("drop", 1, path=r"/properties/companies/groups$", method="POST")
    report = sync_hubspot(db, hs, fake_clock)
    assert report.accepted == N
    assert set(hs.properties["companies"]) >= MAPPED
    assert "account_health" in hs.groups["companies"]
    faults = [c for c in hs.calls if c.fault]
    assert len(faults) == 3  # both 503s and the dropped answer happened, and were retried


def test_reconcile_repairs_an_empty_portal_and_hand_edits(
    db: Path, portal, fake_clock: FakeClock
) -> None:
    """A synced portal emptied or restored from a backup (same portal id, none of the values): a
    plain run trusts its ledger and sends nothing; ``reconcile`` reads the CRM back and writes
    every record. (Another portal is another ledger: test_target_identity.py.)"""
    hs, ids = portal
    sync_hubspot(db, hs, fake_clock)
    with FakeHubSpot(clock=fake_clock, portal_id=hs.portal_id) as empty:
        add_companies(empty, ids)  # the companies exist, without score properties or values
        assert sync_hubspot(db, empty, fake_clock).sent == 0
        report = sync_hubspot(db, empty, fake_clock, reconcile=True)
        assert report.reconcile_checked == N and report.drifted == N
        assert report.accepted == N and report.rejected == 0
        assert any("fields checked again" in n for n in report.notes)
        assert set(empty.properties["companies"]) >= MAPPED  # re-created after the refusal
        rec = empty.objects["companies"][ids[2]].properties
        assert rec["acct_health_score"] == "74" and rec["acct_health_tier"] == "At-Risk"
        reads = empty.calls_to(r"/batch/read$", "POST")
        assert reads and all(len(json.loads(c.body)["inputs"]) <= 100 for c in reads)

        # a person edits one field by hand: the next reconcile puts the score's value back
        empty.objects["companies"][ids[7]].properties["acct_health_tier"] = "Healthy"
        before = len(empty.writes_to("companies"))
        again = sync_hubspot(db, empty, fake_clock, reconcile=True)
        assert again.drifted == 1 and again.accepted == 1
        assert (
            empty.objects["companies"][ids[7]].properties["acct_health_tier"]
            == (hs.objects["companies"][ids[7]].properties["acct_health_tier"])
        )
        assert [w.record_id for w in empty.writes_to("companies")[before:]] == [ids[7]]


def test_a_deleted_property_is_checked_again_and_recreated(
    db: Path, portal, fake_clock: FakeClock
) -> None:
    hs, ids = portal
    sync_hubspot(db, hs, fake_clock)
    del hs.properties["companies"]["acct_health_score"]  # someone deleted it in HubSpot
    write_scores(db, DAY, ids, bump={i: 6.0 for i in ids[:10]})
    report = sync_hubspot(db, hs, fake_clock)
    assert report.accepted == 10 and report.pending == 0
    assert "acct_health_score" in hs.properties["companies"]
    assert hs.objects["companies"][ids[0]].properties["acct_health_score"] == "6"  # 0 + 6
    assert any("fields checked again" in n for n in report.notes)
