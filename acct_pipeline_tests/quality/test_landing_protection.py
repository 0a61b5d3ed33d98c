"""Issue 19: bad landing data never deletes good data, never lands in the wrong account, and
always says where it is. One test (or more) per finding; each keeps earlier good data intact."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from acct_pipeline.connectors.base import EncodingError, SnapshotShrinkError, SourceError
from acct_pipeline.connectors.files import FilesSource, first_invalid_utf8, unread_landing_files
from acct_pipeline.connectors.loader import load_batches
from acct_pipeline.defs.ingest.assets import snapshot_assets
from acct_pipeline.defs.quality.checks import ROWS_RECONCILED, raw_checks_by_table
from acct_pipeline.defs.resources import EngineResource, WarehouseResource
from acct_pipeline.quality.audit import reconcile_load
from acct_pipeline.quality.settings import (
    ACCEPT_SHRINK_ENV,
    SNAPSHOT_MIN_SHARE_ENV,
    TIMESTAMP_FLOOR_ENV,
    LandingRules,
    LandingSettingsError,
)
from acct_pipeline.run import first_failure, run_days
from acct_pipeline.warehouse import (
    ACCOUNT_SCORES,
    ACCOUNTS,
    CRM_COMPANIES,
    IDENTITY_MAP,
    LOAD_AUDIT,
    PRODUCT_EVENTS,
    QUARANTINE,
    connect,
)
from acct_pipeline_tests.conftest import sample_period

DAY = date(2026, 6, 1)
NEXT = date(2026, 6, 2)
EVENTS_HEADER = "event_id,event_name,occurred_at,user_id,group_id,properties\n"
COMPANIES_HEADER = "company_id,name,employees,created_at\n"


def _companies(n: int, start: int = 1) -> str:
    return "".join(
        f"c{i},Company {i},{10 * i},2025-01-0{1 + i % 9}T00:00:00Z\n"
        for i in range(start, start + n)
    )


def _write(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def _load_companies(root: Path, db: Path):
    with connect(db) as con:
        return load_batches(
            con, CRM_COMPANIES, FilesSource(root).read_table(CRM_COMPANIES), "files"
        )


def _load_events(root: Path, db: Path, day: date = DAY):
    with connect(db) as con:
        return load_batches(
            con, PRODUCT_EVENTS, FilesSource(root).read_events(PRODUCT_EVENTS, day), "files", day
        )


def _company_ids(db: Path) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT company_id FROM ingest.crm_companies ORDER BY 1").fetchall()
    return [r[0] for r in rows]


def _quarantine(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            f"SELECT source_file, row_number, rule, record FROM {QUARANTINE} "
            "ORDER BY source_file, row_number, rule"
        ).fetchall()


# --- 1. a header-only (or much smaller) snapshot never replaces the previous one -------------


@pytest.mark.parametrize(
    ("body", "what"),
    [
        ("", "no rows at all"),  # header only
        (_companies(4), "4 usable rows (4 read, 0 quarantined)"),  # 4 of 10: below 50 %
        (
            "".join(f"c{i},X,1,not a date\n" for i in range(1, 11)),  # every row quarantined
            "0 usable rows (10 read, 10 quarantined)",
        ),
    ],
)
def test_a_shrunken_snapshot_is_rejected_whole_and_the_previous_one_stays(
    tmp_path: Path, body: str, what: str
) -> None:
    db = tmp_path / "w.duckdb"
    path = _write(tmp_path, "crm/companies.csv", COMPANIES_HEADER + _companies(10))
    _load_companies(tmp_path, db)
    before_ids, before_audit = _company_ids(db), _audit(db)
    assert len(before_ids) == 10

    _write(tmp_path, "crm/companies.csv", COMPANIES_HEADER + body)
    with pytest.raises(SnapshotShrinkError) as err:
        _load_companies(tmp_path, db)
    message = str(err.value)
    assert str(path) in message and what in message
    assert "previous load kept 10 rows" in message and "50%" in message
    assert f"{ACCEPT_SHRINK_ENV}=crm_companies" in message  # how to accept it deliberately
    assert _company_ids(db) == before_ids and _audit(db) == before_audit


def test_a_header_only_companies_file_on_a_rerun_keeps_accounts_and_scores(
    scored_warehouse_copy: Path,
    small_sample: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The corpus case: a rerun of the last day with crm/companies.csv cut to its header."""
    landing = tmp_path / "landing"
    shutil.copytree(small_sample, landing)
    path = landing / "crm" / "companies.csv"
    path.write_text(path.read_text().splitlines()[0] + "\n")
    _, end = sample_period(small_sample)
    tables = ("ingest.crm_companies", ACCOUNTS, IDENTITY_MAP)

    def state() -> tuple:
        with duckdb.connect(str(scored_warehouse_copy), read_only=True) as con:
            counts = [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables]
            scores = con.execute(
                f"SELECT account_id, health_score, tier FROM {ACCOUNT_SCORES} "
                "WHERE as_of_date = ? ORDER BY 1",
                [end],
            ).fetchall()
        return counts, scores

    before = state()
    assert before[0][0] >= 140 and len(before[1]) >= 140
    monkeypatch.setenv("ACCT_LANDING_DIR", str(landing))
    monkeypatch.setenv("ACCT_WAREHOUSE", str(scored_warehouse_copy))
    outcome = run_days(end, end, instance=dg.DagsterInstance.ephemeral())
    assert not outcome.success
    assert outcome.failure is not None and str(path) in outcome.failure
    assert "no rows at all" in outcome.failure and ACCEPT_SHRINK_ENV in outcome.failure
    assert state() == before


def test_a_deliberate_mass_deletion_is_accepted_with_the_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "w.duckdb"
    _write(tmp_path, "crm/companies.csv", COMPANIES_HEADER + _companies(10))
    _load_companies(tmp_path, db)
    _write(tmp_path, "crm/companies.csv", COMPANIES_HEADER + _companies(2))
    monkeypatch.setenv(ACCEPT_SHRINK_ENV, "crm_contacts, crm_companies")
    assert _load_companies(tmp_path, db).rows_kept == 2
    assert _company_ids(db) == ["c1", "c2"]


def test_the_share_is_configurable_and_a_normal_shrink_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "w.duckdb"
    _write(tmp_path, "crm/companies.csv", COMPANIES_HEADER + _companies(10))
    _load_companies(tmp_path, db)
    _write(tmp_path, "crm/companies.csv", COMPANIES_HEADER + _companies(6))
    assert _load_companies(tmp_path, db).rows_kept == 6  # 60 % of the previous rows: fine
    monkeypatch.setenv(SNAPSHOT_MIN_SHARE_ENV, "0.9")
    _write(tmp_path, "crm/companies.csv", COMPANIES_HEADER + _companies(5))
    with pytest.raises(SnapshotShrinkError, match="below 90%"):
        _load_companies(tmp_path, db)
    # even with the share at 0, an empty snapshot never replaces rows
    monkeypatch.setenv(SNAPSHOT_MIN_SHARE_ENV, "0")
    _write(tmp_path, "crm/companies.csv", COMPANIES_HEADER)
    with pytest.raises(SnapshotShrinkError, match="no rows at all"):
        _load_companies(tmp_path, db)
    assert len(_company_ids(db)) == 6
    monkeypatch.setenv(SNAPSHOT_MIN_SHARE_ENV, "half")
    with pytest.raises(LandingSettingsError, match=SNAPSHOT_MIN_SHARE_ENV):
        LandingRules.from_env()


def _companies_asset() -> dg.AssetsDefinition:
    return next(a for a in snapshot_assets if a.key == dg.AssetKey(["ingest", "crm_companies"]))


def _audit(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            f"SELECT source_table, rows_in, rows_kept, rows_quarantined, loaded_at "
            f"FROM {LOAD_AUDIT} ORDER BY 1, loaded_at"
        ).fetchall()


# --- 2. rows with fewer or more fields than the header are quarantined, never padded --------


def test_a_cut_last_row_and_a_row_with_extra_fields_are_quarantined_not_padded(
    tmp_path: Path,
) -> None:
    db = tmp_path / "w.duckdb"
    _write(
        tmp_path,
        f"events/events_{DAY}.csv",
        EVENTS_HEADER + "e0,login,2026-06-01T09:00:00Z,u0,grp_0001,\n",
    )
    _load_events(tmp_path, db, DAY)
    path = _write(
        tmp_path,
        f"events/events_{NEXT}.csv",
        EVENTS_HEADER
        + "e1,login,2026-06-02T10:00:00Z,u1,grp_0001,\n"
        + "e2,login,2026-06-02T10:00:00Z,u2,grp_0001,,,,,,,,,,x\n"  # 15 fields, not 6
        + "e3,export,2026-06-02T11:00:00Z,u3,grp_0001,\n"
        + "e4,login,2026-06-02T12:00:00Z,u4,grp_000",  # cut in the middle of group_id
    )
    result = _load_events(tmp_path, db, NEXT)
    assert (result.rows_in, result.rows_kept, result.rows_quarantined) == (4, 2, 2)
    bad = [(f, n, r) for f, n, r, _ in _quarantine(db)]
    assert bad == [(str(path), 2, "malformed_row"), (str(path), 4, "malformed_row")]
    assert json.loads(_quarantine(db)[1][3])["group_id"] == "grp_000"  # the raw record is kept
    with duckdb.connect(str(db), read_only=True) as con:
        kept = con.execute(
            "SELECT event_date, event_id, group_id FROM ingest.product_events ORDER BY 2"
        ).fetchall()
        assert reconcile_load(con, PRODUCT_EVENTS, [DAY, NEXT]).problems == []
    # the earlier day is intact, no row landed padded in a cut account
    assert kept == [
        (DAY, "e0", "grp_0001"),
        (NEXT, "e1", "grp_0001"),
        (NEXT, "e3", "grp_0001"),
    ]


def test_a_row_cut_inside_quotes_rejects_the_file_naming_the_line(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    _write(
        tmp_path,
        f"events/events_{DAY}.csv",
        EVENTS_HEADER + "e1,login,2026-06-01T10:00:00Z,u1,g1,\n",
    )
    _load_events(tmp_path, db)
    path = _write(
        tmp_path,
        f"events/events_{DAY}.csv",
        EVENTS_HEADER
        + "e1,login,2026-06-01T10:00:00Z,u1,g1,\n"
        + 'e2,login,2026-06-01T10:00:00Z,u1,g1,"{""plan"": ""pr',
    )
    with pytest.raises(SourceError) as err:
        _load_events(tmp_path, db)
    assert str(path) in str(err.value) and "Line: 3" in str(err.value)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT event_id FROM ingest.product_events").fetchall() == [("e1",)]


# --- 3. a bad optional value is set NULL and noted; the account stays -----------------------
# (the loader-level case is foundation/test_loader.py::test_a_bad_optional_value_is_nulled_...)


def test_a_company_with_a_bad_optional_field_keeps_its_account_and_the_checks_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCT_LANDING_DIR", str(tmp_path))
    db = tmp_path / "w.duckdb"
    path = _write(
        tmp_path,
        "crm/companies.csv",
        COMPANIES_HEADER + "c1,Acme,lots,2025-01-01T00:00:00Z\nc2,Beta,-5,2025-01-01T00:00:00Z\n",
    )
    companies = next(
        a for a in snapshot_assets if a.key == dg.AssetKey(["ingest", "crm_companies"])
    )
    result = dg.materialize(
        [companies, raw_checks_by_table["crm_companies"]],
        resources={"warehouse": WarehouseResource(path=str(db)), "engine": EngineResource()},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert result.success
    assert _company_ids(db) == ["c1", "c2"]
    notes = [(f, n, r) for f, n, r, _ in _quarantine(db)]
    assert notes == [
        (str(path), 1, "malformed_integer:employees (nulled)"),
        (str(path), 2, "negative_amount:employees (nulled)"),
    ]
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks[ROWS_RECONCILED].passed
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert meta["values_nulled"].value == 2 and meta["rows_quarantined"].value == 0


# --- 4. non-finite numbers, special timestamp words, absurd dates ---------------------------


def test_special_values_break_their_own_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "w.duckdb"
    rows = {
        "c01": ("1", "infinity"),
        "c02": ("1", "-infinity"),
        "c03": ("1", "epoch"),
        "c04": ("1", "inf"),
        "c05": ("1", "1850-03-01T00:00:00Z"),
        "c06": ("1", "2391-01-01T00:00:00Z"),
        "c07": ("NaN", "2025-01-01T00:00:00Z"),
        "c08": ("inf", "2025-01-01T00:00:00Z"),
        "c09": ("1e3", "2025-01-01T00:00:00Z"),
        "c10": ("-infinity", "2025-01-01T00:00:00Z"),
        "c11": ("12", "2025-01-01T00:00:00Z"),
    }
    body = "".join(f"{k},{k.upper()},{e},{c}\n" for k, (e, c) in rows.items())
    _write(tmp_path, "crm/companies.csv", COMPANIES_HEADER + body)
    _load_companies(tmp_path, db)
    rules = {json.loads(rec)["company_id"]: rule for _, _, rule, rec in _quarantine(db)}
    assert rules == {
        # created_at is required: the row is quarantined
        "c01": "special_timestamp:created_at",
        "c02": "special_timestamp:created_at",
        "c03": "special_timestamp:created_at",
        "c04": "special_timestamp:created_at",
        "c05": "timestamp_too_early:created_at",
        "c06": "timestamp_too_late:created_at",
        # employees is optional: the value is set NULL and the account stays
        "c07": "nonfinite_number:employees (nulled)",
        "c08": "nonfinite_number:employees (nulled)",
        "c09": "malformed_integer:employees (nulled)",
        "c10": "nonfinite_number:employees (nulled)",
    }
    with duckdb.connect(str(db), read_only=True) as con:
        kept = dict(
            con.execute("SELECT company_id, employees FROM ingest.crm_companies").fetchall()
        )
    assert kept == {"c07": None, "c08": None, "c09": None, "c10": None, "c11": 12}

    # the floor is configurable
    monkeypatch.setenv(TIMESTAMP_FLOOR_ENV, "1800-01-01")
    _load_companies(tmp_path, db)
    assert "c05" in _company_ids(db)


def test_a_nan_amount_in_a_daily_file_is_noted_and_the_event_time_checked(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    path = _write(
        tmp_path,
        f"events/events_{DAY}.csv",
        EVENTS_HEADER
        + "e1,login,2026-06-01T10:00:00Z,u1,g1,\n"
        + "e2,login,infinity,u1,g1,\n"
        + "e3,login,epoch,u1,g1,\n",
    )
    result = _load_events(tmp_path, db)
    assert result.rules == {"special_timestamp:occurred_at": 2}
    assert [(f, n) for f, n, _, _ in _quarantine(db)] == [(str(path), 2), (str(path), 3)]


# --- 5. a file that is not UTF-8 names the file, line and byte offset -----------------------


@pytest.mark.parametrize("where", ["header", "row 2", "far down"])
def test_a_non_utf8_byte_names_file_line_and_offset(tmp_path: Path, where: str) -> None:
    db = tmp_path / "w.duckdb"
    _write(tmp_path, "crm/companies.csv", COMPANIES_HEADER + _companies(3))
    _load_companies(tmp_path, db)
    header = COMPANIES_HEADER.encode()
    good = _companies(3).encode()
    if where == "header":
        content, line, offset = b"company_id,n\xe9me,employees,created_at\n" + good, 1, 12
    elif where == "row 2":
        rows = good.split(b"\n")
        rows[1] = rows[1].replace(b"Company", b"Soci\xe9t\xe9")
        content = header + b"\n".join(rows)
        line, offset = 3, len(header) + len(rows[0]) + 1 + len(b"c2,Soci")
    else:
        filler = _companies(3000, start=4).encode()  # more than DuckDB's and Python's buffers
        content = header + good + filler + b"c9999,Caf\xe9,1,2025-01-01T00:00:00Z\n"
        line, offset = 3005, len(header) + len(good) + len(filler) + len(b"c9999,Caf")
    path = _write(tmp_path, "crm/companies.csv", content)
    assert first_invalid_utf8(path, chunk_size=64)[:2] == (line, offset)  # chunk edges too
    with pytest.raises(EncodingError) as err:
        _load_companies(tmp_path, db)
    message = str(err.value)
    assert str(path) in message
    assert f"line {line}, byte offset {offset}" in message and "as UTF-8" in message
    assert _company_ids(db) == ["c1", "c2", "c3"]


# --- 6. header names are identifiers, never SQL text ----------------------------------------


def test_an_extra_column_with_quotes_in_its_name_is_ignored(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    _write(
        tmp_path,
        "crm/companies.csv",
        'company_id,it\'s "odd",name,created_at,"a""b",\'); DROP TABLE x; --\n'
        "c1,1,Acme,2025-01-01T00:00:00Z,2,3\n"
        "c2,1,Beta,2025-01-01T00:00:00Z,2,3\n",
    )
    result = _load_companies(tmp_path, db)
    assert (result.rows_kept, result.rows_quarantined) == (2, 0)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute(
            "SELECT company_id, name FROM ingest.crm_companies ORDER BY 1"
        ).fetchall() == [
            ("c1", "Acme"),
            ("c2", "Beta"),
        ]


# --- 7. a failed run says which step and why; unread files are listed once ------------------


def test_the_first_failure_names_the_step_and_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCT_LANDING_DIR", str(tmp_path))
    db = tmp_path / "w.duckdb"
    companies = next(
        a for a in snapshot_assets if a.key == dg.AssetKey(["ingest", "crm_companies"])
    )
    path = _write(tmp_path, "crm/companies.csv", COMPANIES_HEADER + _companies(3))
    run = lambda: dg.materialize(  # noqa: E731
        [companies],
        resources={"warehouse": WarehouseResource(path=str(db)), "engine": EngineResource()},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert run().success and first_failure(run()) is None
    _write(tmp_path, "crm/companies.csv", COMPANIES_HEADER)
    failure = first_failure(run())
    assert failure is not None
    assert failure.startswith("step ingest__crm_companies failed: ")
    assert str(path) in failure and "previous load kept 3 rows" in failure
    assert "Traceback" not in failure


def test_cli_run_prints_the_failure_once_and_lists_unread_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from acct_pipeline import cli, run
    from acct_pipeline.defs.partitions import daily_partitions

    first = date.fromisoformat(daily_partitions.get_first_partition_key())
    monkeypatch.setenv("ACCT_LANDING_DIR", str(tmp_path))
    _write(tmp_path, "crm/companies.csv", COMPANIES_HEADER)
    _write(tmp_path, "crm/companies_old.csv", COMPANIES_HEADER)
    _write(tmp_path, f"events/events_{first}.csv", EVENTS_HEADER)
    _write(tmp_path, "events/events_2019-01-01.csv", EVENTS_HEADER)
    _write(tmp_path, "_manifest.json", "{}")
    failure = "step ingest__crm_companies failed: /x/crm/companies.csv: the new ..."
    monkeypatch.setattr(
        run,
        "run_days",
        lambda start, end: run.RunOutcome("r-1", False, 1, ["ingest/x:check"], failure),
    )
    code = cli.main(["run", "--from", first.isoformat()])
    out = capsys.readouterr().out
    assert code == 1
    assert out.count(failure) == 1 and "full log: run r-1" in out
    assert "failed check: ingest/x:check" in out
    assert out.count("notice: 2 file(s)") == 1
    assert "crm/companies_old.csv (not a landing file" in out
    assert "events/events_2019-01-01.csv (before the first partition" in out
    assert f"events_{first}.csv" not in out and "_manifest" not in out


def test_unread_landing_files_reasons(tmp_path: Path) -> None:
    for rel in (
        "crm/companies.csv",
        "events/events_2026-06-01.csv",
        "events/events_2026-06-31.csv",
        "events/events_2026-07-05.csv",
        "events/notes.txt",
        "_truth/outcomes.csv",
    ):
        _write(tmp_path, rel, "x\n")
    assert unread_landing_files(tmp_path, date(2026, 6, 1), date(2026, 6, 30)) == [
        "events/events_2026-06-31.csv (the day in its name is not a date YYYY-MM-DD)",
        "events/events_2026-07-05.csv (after the newest partition, 2026-06-30: "
        "no run reads it yet)",
        "events/notes.txt (not a landing file of the contract, docs/landing-format.md)",
    ]
