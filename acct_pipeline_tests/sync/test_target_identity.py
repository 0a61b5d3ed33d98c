"""The ledger is kept per target identity (HubSpot portal id, Salesforce instance URL, outbox
folder): another portal / org / folder gets every record with a plain run, the first one nothing
more; ledgers from before identities are taken over by the configured target."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from acct_pipeline import warehouse
from acct_pipeline.sync import SyncSettings, ledger, run_sync
from acct_pipeline.sync.mapping import FieldMapping
from acct_pipeline_tests.fakes.base import FakeClock
from acct_pipeline_tests.fakes.hubspot import FakeHubSpot
from acct_pipeline_tests.fakes.salesforce import FakeSalesforce
from acct_pipeline_tests.fakes.salesforce import account_ids as sf_ids
from acct_pipeline_tests.sync.conftest import (
    DAY,
    account_ids,
    add_companies,
    batch_updates,
    sync_hubspot,
    sync_salesforce,
    write_scores,
)

N = 150


def _rows(db: Path) -> list[tuple[str, str, str, str]]:
    with warehouse.connect(db) as con:
        ledger.fold_journal(con)
        return con.execute(
            f"SELECT target, target_id, record_id, status FROM {warehouse.CRM_SYNC_LEDGER} "
            "ORDER BY ALL"
        ).fetchall()


def _to_legacy(db: Path) -> None:
    """Rewrite the ledger and journal as the version before target identities left them."""
    old_columns = (
        "\n".join(
            line for line in ledger.LEDGER_COLUMNS_SQL.splitlines() if "target_id" not in line
        )
        .rstrip()
        .rstrip(",")
    )
    with warehouse.connect(db) as con:
        ledger.fold_journal(con)
        con.execute("ALTER TABLE sync.crm_sync_ledger RENAME TO now")
        con.execute(
            f"CREATE TABLE sync.crm_sync_ledger ({old_columns}, PRIMARY KEY (target, record_id))"
        )
        con.execute("INSERT INTO sync.crm_sync_ledger SELECT * EXCLUDE (target_id) FROM sync.now")
        con.execute("DROP TABLE sync.now")
        con.execute("DROP TABLE sync.crm_sync_ledger_journal")
        con.execute(
            """CREATE TABLE sync.crm_sync_ledger_journal (step BIGINT NOT NULL,
               target VARCHAR NOT NULL, record_id VARCHAR NOT NULL, event VARCHAR NOT NULL,
               batch_id VARCHAR, message VARCHAR, run_id VARCHAR, logged_at TIMESTAMP NOT NULL)"""
        )
        con.execute("DELETE FROM sync.crm_sync_fields")


def test_hubspot_second_portal_gets_every_record_and_the_first_nothing_more(
    db: Path, fake_hubspot: FakeHubSpot, fake_clock: FakeClock
) -> None:
    first, ids = fake_hubspot, account_ids(N)
    add_companies(first, ids)
    write_scores(db, DAY, ids)
    report = sync_hubspot(db, first, fake_clock)
    assert report.accepted == N and report.target_identity == str(first.portal_id)
    assert len(first.calls_to(r"/account-info/v3/details$", "GET")) == 1

    with FakeHubSpot(clock=fake_clock) as second:
        add_companies(second, ids)  # same companies, no score properties, no values
        moved = sync_hubspot(db, second, fake_clock)  # a plain run: no --force, no --reconcile
        assert moved.target_identity == str(second.portal_id) != str(first.portal_id)
        assert moved.new == N and moved.accepted == N and moved.pending == 0
        assert Counter(w.record_id for w in second.writes_to("companies")) == Counter(
            {i: 1 for i in ids}
        )
        rec = second.objects["companies"][ids[2]].properties
        assert rec["acct_health_score"] == "74" and rec["acct_health_tier"] == "At-Risk"
        assert set(second.properties["companies"]) >= set(FieldMapping().crm_names("hubspot"))
        # the second portal's ledger rows sit beside the first's, which are untouched
        by_portal = Counter((t, tid, s) for t, tid, _, s in _rows(db))
        assert by_portal == {
            ("hubspot", str(first.portal_id), "accepted"): N,
            ("hubspot", str(second.portal_id), "accepted"): N,
        }
        # rerunning against the second portal: nothing to send, and the portal id is cached
        calls = len(second.calls)
        assert sync_hubspot(db, second, fake_clock).unchanged == N
        assert len(second.calls) == calls

    calls = len(first.calls)
    back = sync_hubspot(db, first, fake_clock)
    assert back.unchanged == N and back.sent == 0 and back.http_requests == 0
    assert len(first.calls) == calls and len(batch_updates(first)) == 2


def test_salesforce_another_org_gets_every_record_and_back_sends_nothing(
    db: Path, fake_salesforce: FakeSalesforce, fake_clock: FakeClock
) -> None:
    from acct_pipeline_tests.sync.test_salesforce_sync import setup_org

    first, ids = fake_salesforce, sf_ids(N)
    setup_org(first, ids)
    write_scores(db, DAY, ids)
    assert sync_salesforce(db, first, fake_clock).accepted == N
    with FakeSalesforce(clock=fake_clock) as second:
        setup_org(second, ids)
        moved = sync_salesforce(db, second, fake_clock)
        assert moved.target_identity == second.url.rstrip("/").lower()
        assert moved.new == N and moved.accepted == N and moved.pending == 0
    back = sync_salesforce(db, first, fake_clock)
    assert back.unchanged == N and back.sent == 0 and back.http_requests == 0


def test_outbox_another_folder_gets_every_record_and_back_sends_nothing(
    db: Path, tmp_path: Path
) -> None:
    ids = account_ids(N)
    write_scores(db, DAY, ids)

    def run(folder: Path):
        settings = SyncSettings(target="outbox", outbox_dir=folder)
        return run_sync(lambda: warehouse.connect(db), settings, DAY, partition_passed_checks=True)

    assert run(tmp_path / "a").exported == N
    moved = run(tmp_path / "b")
    assert moved.exported == N and moved.target_identity == str((tmp_path / "b").resolve())
    assert len(list((tmp_path / "b").glob("*.csv"))) == 1
    back = run(tmp_path / "a")
    assert back.exported_unchanged == N and back.sent == 0 and not back.outbox_files
    assert len(list((tmp_path / "a").glob("*.csv"))) == 1


def test_a_ledger_from_before_identities_is_migrated_to_the_configured_target(
    db: Path, fake_hubspot: FakeHubSpot, fake_clock: FakeClock, tmp_path: Path
) -> None:
    hs, ids = fake_hubspot, account_ids(N)
    add_companies(hs, ids)
    write_scores(db, DAY, ids)
    sync_hubspot(db, hs, fake_clock)
    outbox = SyncSettings(target="outbox", outbox_dir=tmp_path / "out")
    run_sync(lambda: warehouse.connect(db), outbox, DAY, partition_passed_checks=True)
    _to_legacy(db)

    # a dry run sees the old rows as the configured target's, and changes nothing
    dry = sync_hubspot(db, hs, fake_clock, dry_run=True)
    assert dry.unchanged == N and dry.new == 0
    with warehouse.connect(db) as con:
        cols = {
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'sync' AND table_name = 'crm_sync_ledger'"
            ).fetchall()
        }
    assert "target_id" not in cols

    # and an old run died with one record in flight (its journal has no target_id either)
    with warehouse.connect(db) as con:
        con.execute(
            "INSERT INTO sync.crm_sync_ledger_journal VALUES "
            "(1, 'hubspot', ?, 'in_flight', 'b1', NULL, 'old', now()::TIMESTAMP)",
            [ids[0]],
        )

    writes = len(hs.writes_to("companies"))
    report = sync_hubspot(db, hs, fake_clock)
    assert report.recovered_in_flight == 1 and report.confirmed_by_read_back == 1
    assert report.unchanged == N and report.sent == 0 and report.pending == 0
    assert any(f"{N:,} ledger rows from before target identities" in n for n in report.notes)
    assert len(hs.writes_to("companies")) == writes
    rows = Counter((t, tid) for t, tid, _, _ in _rows(db))
    # the hubspot rows now belong to the portal; the outbox rows wait for an outbox run
    assert rows == {("hubspot", str(hs.portal_id)): N, ("outbox", ""): N}
    again = run_sync(lambda: warehouse.connect(db), outbox, DAY, partition_passed_checks=True)
    assert again.exported_unchanged == N and again.sent == 0
    rows = Counter((t, tid) for t, tid, _, _ in _rows(db))
    assert rows == {
        ("hubspot", str(hs.portal_id)): N,
        ("outbox", str((tmp_path / "out").resolve())): N,
    }
