"""The default outbox target, the guards, dry run, settings and the field mapping."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from acct_pipeline import warehouse
from acct_pipeline.sync import (
    FieldMapping,
    MappingError,
    SyncConfigError,
    SyncRefused,
    SyncSettings,
    ledger,
    load_mapping,
    run_sync,
)
from acct_pipeline.sync.mapping import mapping_from_dict
from acct_pipeline_tests.sync.conftest import DAY, NEXT_DAY, account_ids, ledger_rows, write_scores

N = 120


def _csv_rows(paths: list[Path]) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for p in paths:
        with p.open(newline="") as fh:
            rows += list(csv.DictReader(fh))
    return rows


@pytest.fixture
def scored(db: Path) -> list[str]:
    ids = account_ids(N)
    write_scores(db, DAY, ids)
    return ids


def _run(db: Path, settings: SyncSettings, day=DAY, **kw):
    kw.setdefault("partition_passed_checks", True)
    return run_sync(lambda: warehouse.connect(db), settings, day, **kw)


def test_outbox_writes_csv_then_nothing_when_unchanged(db: Path, scored, outbox_settings) -> None:
    first = _run(db, outbox_settings)
    files = sorted(outbox_settings.outbox_dir.glob("*.csv"))
    assert len(files) == 1 and first.outbox_files == [str(files[0])]
    rows = _csv_rows(files)
    # a HubSpot import file: matched on "Record ID", columns named as the properties
    assert [r["Record ID"] for r in rows] == scored
    assert list(rows[0]) == ["Record ID", *FieldMapping().crm_names("hubspot")]
    assert rows[2]["acct_health_score"] == "74" and rows[2]["acct_health_tier"] == "At-Risk"
    assert rows[2]["acct_health_updated_at"] == DAY.isoformat()
    assert first.exported == N and first.accepted == 0 and first.awaiting_import == N

    second = _run(db, outbox_settings)
    assert second.exported_unchanged == N and second.sent == 0 and not second.outbox_files
    assert "not yet confirmed as imported" in second.summary_text()
    assert sorted(outbox_settings.outbox_dir.glob("*.csv")) == files  # no new update rows

    write_scores(db, DAY, scored, bump={scored[5]: 6.0, scored[9]: 6.0})
    third = _run(db, outbox_settings)
    new_files = sorted(set(outbox_settings.outbox_dir.glob("*.csv")) - set(files))
    assert [r["Record ID"] for r in _csv_rows(new_files)] == [scored[5], scored[9]]
    assert third.changed == 2


def test_next_day_with_same_values_sends_nothing(db: Path, scored, outbox_settings) -> None:
    """``updated_at`` is a stamp: a new score day with the same values is not a change."""
    _run(db, outbox_settings)
    write_scores(db, NEXT_DAY, scored)
    report = _run(db, outbox_settings, day=NEXT_DAY)
    assert report.exported_unchanged == N and report.sent == 0


def test_older_day_never_overwrites_newer_values(db: Path, scored, outbox_settings) -> None:
    write_scores(db, NEXT_DAY, scored, bump={i: 5.0 for i in scored})
    _run(db, outbox_settings, day=NEXT_DAY)
    report = _run(db, outbox_settings, day=DAY)  # a late rerun of the day before
    assert report.stale == N and report.sent == 0
    forced = _run(db, outbox_settings, day=DAY, force=True)
    assert forced.sent == N


@pytest.mark.parametrize("checks", [False, ["scores_in_range"], lambda day: ["tier_consistent"]])
def test_failed_blocking_checks_refuse(db: Path, scored, outbox_settings, checks) -> None:
    with pytest.raises(SyncRefused, match="failed its blocking checks") as exc:
        _run(db, outbox_settings, partition_passed_checks=checks)
    assert exc.value.reason == "checks_failed"
    assert not outbox_settings.outbox_dir.exists()
    with warehouse.connect(db) as con:
        assert not warehouse.table_exists(con, warehouse.CRM_SYNC_LEDGER)


def test_checks_callable_gets_the_day(db: Path, scored, outbox_settings) -> None:
    seen = []
    _run(db, outbox_settings, partition_passed_checks=lambda day: seen.append(day) or [])
    assert seen == [DAY]


def test_missing_or_empty_partition_refuses(db: Path, outbox_settings) -> None:
    with pytest.raises(SyncRefused, match="no scores table") as exc:
        _run(db, outbox_settings)
    assert exc.value.reason == "no_scores"
    write_scores(db, DAY, account_ids(3))
    with pytest.raises(SyncRefused, match=f"partition {NEXT_DAY} is missing or empty"):
        _run(db, outbox_settings, day=NEXT_DAY)


def test_change_share_guard_stops_unless_forced(db: Path, scored, outbox_settings) -> None:
    _run(db, outbox_settings)
    files = set(outbox_settings.outbox_dir.glob("*.csv"))
    write_scores(db, DAY, scored, bump={i: 6.0 for i in scored[:61]})  # 61 of 120 > 50 %
    with pytest.raises(SyncRefused, match=r"61 of 120 synced records \(50.8%\)") as exc:
        _run(db, outbox_settings)
    assert exc.value.reason == "change_share" and exc.value.report.changed == 61
    assert set(outbox_settings.outbox_dir.glob("*.csv")) == files
    assert {r["status"] for r in ledger_rows(db, "outbox").values()} == {"exported"}
    # a higher limit, or --force, lets it through
    assert _run(db, outbox_settings.with_overrides(max_change_share=0.6)).sent == 61
    write_scores(db, DAY, scored, bump={i: 12.0 for i in scored[:61]})
    assert _run(db, outbox_settings, force=True).sent == 61


def test_dry_run_writes_nothing(db: Path, scored, outbox_settings) -> None:
    report = _run(db, outbox_settings, dry_run=True)
    assert report.dry_run and report.new == N and report.sent == 0
    assert not outbox_settings.outbox_dir.exists()
    with warehouse.connect(db) as con:
        assert not warehouse.table_exists(con, warehouse.CRM_SYNC_LEDGER)

    _run(db, outbox_settings)
    before = ledger_rows(db, "outbox")
    files = set(outbox_settings.outbox_dir.glob("*.csv"))
    write_scores(db, DAY, scored, bump={scored[0]: 9.0, scored[1]: 9.0, scored[2]: 9.0})
    dry = _run(db, outbox_settings, dry_run=True)
    assert dry.changed == 3 and dry.exported_unchanged == N - 3
    assert dry.field_changes["health_score"] == 3
    sample = {(s["record_id"], s["field"]): (s["before"], s["after"]) for s in dry.samples}
    assert sample[(scored[2], "health_score")] == ("74", "83")
    assert "74 → 83" in dry.summary_text()
    assert ledger_rows(db, "outbox") == before
    assert set(outbox_settings.outbox_dir.glob("*.csv")) == files


def test_dry_run_reports_guards_instead_of_raising(db: Path, scored, outbox_settings) -> None:
    report = _run(db, outbox_settings, dry_run=True, partition_passed_checks=["scores_in_range"])
    assert report.refusals and "scores_in_range" in report.refusals[0]
    assert not report.complete


def test_outbox_interrupted_after_file_is_not_written_again(
    db: Path, scored, outbox_settings
) -> None:
    _run(db, outbox_settings)
    with warehouse.connect(db) as con:  # as if killed between the rename and the ledger update
        con.execute(f"UPDATE {warehouse.CRM_SYNC_LEDGER} SET status = 'in_flight'")
    files = set(outbox_settings.outbox_dir.glob("*.csv"))
    report = _run(db, outbox_settings)
    assert report.recovered_in_flight == N and report.confirmed_by_read_back == N
    assert report.sent == 0 and set(outbox_settings.outbox_dir.glob("*.csv")) == files


def test_metadata_is_plain_and_complete(db: Path, scored, outbox_settings) -> None:
    meta = _run(db, outbox_settings).to_metadata()
    json.dumps(meta)  # JSON-able
    for key in (
        "records_sent",
        "records_accepted",
        "records_rejected",
        "top_rejections",
        "records_unchanged",
        "records_pending",
        "write_requests",
        "http_requests",
        "rate_limit_waits",
        "change_share",
    ):
        assert key in meta
    assert meta["records_sent"] == meta["records_exported"] == meta["records_awaiting_import"] == N
    assert meta["records_accepted"] == 0  # a file is not an import


# -- settings and mapping ------------------------------------------------------------------------


def test_settings_from_env() -> None:
    s = SyncSettings.from_env(
        {
            "ACCT_SYNC_TARGET": "hubspot",
            "ACCT_SYNC_MAX_CHANGE_SHARE": "30%",
            "ACCT_SYNC_RATE_LIMIT": "190/10",
            "HUBSPOT_ACCESS_TOKEN": "pat-na1-secret-token-value",
            "ACCT_SYNC_BATCH_SIZE": "500",
        }
    )
    assert s.target == "hubspot" and s.max_change_share == pytest.approx(0.3)
    assert (
        s.rate_limit == ((190, 10.0),) and s.effective_batch_size == 100
    )  # capped at the API limit
    assert "secret" not in repr(s)
    assert SyncSettings.from_env({}).target == "outbox"
    assert SyncSettings.from_env({"ACCT_SYNC_TARGET": "hubspot"}).rate_limit == ((100, 10.0),)
    assert SyncSettings.from_env({"ACCT_SYNC_TARGET": "salesforce"}).effective_batch_size == 200
    with pytest.raises(SyncConfigError, match="ACCT_SYNC_TARGET"):
        SyncSettings.from_env({"ACCT_SYNC_TARGET": "pipedrive"})
    with pytest.raises(SyncConfigError, match="ACCT_SYNC_RATE_LIMIT"):
        SyncSettings.from_env({"ACCT_SYNC_RATE_LIMIT": "fast"})


def test_hubspot_without_token_names_the_variable(db: Path, scored) -> None:
    settings = SyncSettings(target="hubspot")
    with pytest.raises(SyncConfigError, match="HUBSPOT_ACCESS_TOKEN"):
        _run(db, settings)


def test_mapping_file_replaces_defaults_and_validates(tmp_path: Path, db: Path, scored) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(
        "fields:\n"
        "  - {name: score, source: health_score, type: number, decimals: 1, hubspot: my_score}\n"
        "  - {name: tier, source: tier, type: enumeration, nulls: clear, salesforce: Tier__c}\n"
    )
    mapping = load_mapping(path)
    assert [f.name for f in mapping.fields] == ["score", "tier"]
    settings = SyncSettings(target="outbox", outbox_dir=tmp_path / "out", field_mapping_path=path)
    report = _run(db, settings)
    rows = _csv_rows([Path(p) for p in report.outbox_files])
    assert list(rows[0]) == ["Record ID", "my_score"] and rows[2]["my_score"] == "74.0"
    sf = settings.with_overrides(outbox_format="salesforce", outbox_dir=tmp_path / "sf")
    fresh = tmp_path / "fresh.duckdb"  # one ledger per outbox (see the README)
    write_scores(fresh, DAY, scored)
    rows = _csv_rows([Path(p) for p in _run(fresh, sf).outbox_files])
    assert list(rows[0]) == ["Id", "Tier__c"] and rows[2]["Tier__c"] == "At-Risk"

    with pytest.raises(MappingError, match="unknown key"):
        mapping_from_dict({"fields": [{"name": "x", "source": "tier", "colour": "red"}]}, "m.yaml")
    with pytest.raises(MappingError, match="type 'float'"):
        mapping_from_dict({"fields": [{"name": "x", "source": "tier", "type": "float"}]}, "m.yaml")
    with pytest.raises(MappingError, match="mapped twice"):
        mapping_from_dict(
            {
                "fields": [
                    {"name": "a", "source": "tier", "hubspot": "p"},
                    {"name": "b", "source": "trend", "hubspot": "p"},
                ]
            },
            "m.yaml",
        )
    with pytest.raises(MappingError, match="file not found"):
        load_mapping(tmp_path / "missing.yaml")


def test_missing_score_columns_are_skipped_with_a_warning(db: Path, outbox_settings) -> None:
    """The first scoring slice has only a few columns: the rest are simply not sent."""
    with warehouse.connect(db) as con:
        con.execute(
            f"CREATE TABLE {warehouse.ACCOUNT_SCORES} AS SELECT '1' AS account_id, "
            f"DATE '{DAY}' AS as_of_date, "
            "42.4 AS health_score, 'Critical' AS tier, 'slice-0.1' AS model_version"
        )
    report = _run(db, outbox_settings)
    assert report.sent == 1 and any("no column for" in w for w in report.warnings)
    row = _csv_rows([Path(p) for p in report.outbox_files])[0]
    assert row["acct_health_score"] == "42" and row["acct_health_trend"] == ""


def test_sync_command_exit_codes(db: Path, scored, outbox_settings, monkeypatch) -> None:
    from acct_pipeline.sync import sync_command

    monkeypatch.setenv("ACCT_WAREHOUSE", str(db))
    out: list[str] = []
    code = sync_command(
        None,
        dry_run=True,
        force=False,
        partition_passed_checks=True,
        settings=outbox_settings,
        say=out.append,
    )
    assert code == 0 and "DRY RUN" in out[-1] and str(DAY) in out[-1]
    code = sync_command(
        None,
        dry_run=False,
        force=False,
        partition_passed_checks=["scores_in_range"],
        settings=outbox_settings,
        say=out.append,
    )
    assert code == 2 and "scores_in_range" in out[-1]
    assert (
        sync_command(
            DAY,
            dry_run=False,
            force=False,
            partition_passed_checks=True,
            settings=outbox_settings,
            say=out.append,
        )
        == 0
    )


def test_outbox_neutralises_spreadsheet_formulas(db: Path, outbox_settings) -> None:
    ids = account_ids(3)
    write_scores(db, DAY, ids)
    with warehouse.connect(db) as con:
        con.execute(
            f"""UPDATE {warehouse.ACCOUNT_SCORES} SET
                recommended_playbook = CASE account_id WHEN '1001' THEN '=HYPERLINK("x")'
                    WHEN '1002' THEN '@SUM(A1)' ELSE '-call the owner' END,
                reason_codes = ['+1 seat', 'fine'], score_delta_7d = -4"""
        )
    report = _run(db, outbox_settings)
    rows = {r["Record ID"]: r for r in _csv_rows([Path(p) for p in report.outbox_files])}
    assert rows["1001"]["acct_recommended_playbook"] == '\'=HYPERLINK("x")'
    assert rows["1002"]["acct_recommended_playbook"] == "'@SUM(A1)"
    assert rows["1003"]["acct_recommended_playbook"] == "'-call the owner"
    assert rows["1003"]["acct_health_reasons"] == "'+1 seat; fine"
    assert rows["1003"]["acct_health_score_delta_7d"] == "-4"  # a number stays a number


def test_confirm_import_marks_a_files_records_accepted(
    db: Path, scored, outbox_settings, monkeypatch
) -> None:
    from acct_pipeline.sync.command import confirm_import_command

    monkeypatch.setenv("ACCT_WAREHOUSE", str(db))
    first = _run(db, outbox_settings)
    write_scores(db, DAY, scored, bump={scored[0]: 9.0})
    second = _run(db, outbox_settings)  # scored[0] is now in a second file
    assert second.exported == 1 and second.awaiting_import == N
    out: list[str] = []
    assert confirm_import_command(first.outbox_files[0], say=out.append) == 0
    assert f"{N - 1:,} records marked as imported" in out[-1]
    rows = ledger_rows(db, "outbox")
    assert rows[scored[0]]["status"] == "exported"  # its newer values are in the second file
    assert {rows[i]["status"] for i in scored[1:]} == {"accepted"}
    assert confirm_import_command(first.outbox_files[0], say=out.append) == 2  # nothing left
    assert confirm_import_command(second.outbox_files[0], say=out.append) == 0
    third = _run(db, outbox_settings)
    assert third.unchanged == N and third.awaiting_import == 0 and third.sent == 0


def test_newly_mapped_field_is_a_first_fill_not_a_mass_change(
    db: Path, scored, outbox_settings, tmp_path: Path
) -> None:
    """A team that adds a field to the mapping (or upgrades to a release that maps one) fills
    it on every record at the next sync: that is not a broken score blanketing the CRM, so the
    change-share guard lets it through; a real change of a field the CRM already held still
    counts."""
    narrow = tmp_path / "mapping.yaml"
    narrow.write_text(
        "fields:\n  - {name: health_score, source: health_score, type: number, "
        "hubspot: acct_health_score}\n"
    )
    first = _run(db, outbox_settings.with_overrides(field_mapping_path=narrow))
    with warehouse.connect(db) as con:  # the team imported the file: the CRM holds the scores
        assert ledger.confirm_import(con, "outbox", Path(first.outbox_files[0]).stem) == N
    full = _run(db, outbox_settings)  # the default mapping: tier, trend, reasons ... are new
    assert full.changed == N and full.change_share == 0.0 and not full.refusals
    assert any("first fill" in n for n in full.notes)
    # now the new fields are held: a change of more than half of them is refused again
    write_scores(db, DAY, scored, bump={i: 6.0 for i in scored[:61]})
    with pytest.raises(SyncRefused, match=r"61 of 120 synced records"):
        _run(db, outbox_settings)
