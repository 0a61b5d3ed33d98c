"""Bad landing files through Dagster: a clear error or a quarantine entry, never a partial day."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from acct_pipeline.defs.ingest.assets import product_events, snapshot_assets
from acct_pipeline.defs.quality.checks import ROWS_RECONCILED, raw_checks_by_table
from acct_pipeline.defs.resources import EngineResource, WarehouseResource
from acct_pipeline.quality.expectations import KEY_UNIQUE
from acct_pipeline.warehouse import LOAD_AUDIT, QUARANTINE

DAY = date(2026, 6, 2)
HEADER = "event_id,event_name,occurred_at,user_id,group_id,properties\n"
GOOD = "e1,login,2026-06-02T10:00:00Z,u1,g1,\ne2,export,2026-06-02T11:00:00Z,u2,g1,\n"
BAD_FILES = {
    "missing_column": ("event_id,event_name,user_id,group_id\ne9,login,u1,g1\n", "'occurred_at'"),
    "empty": ("", "empty"),
    "duplicated_header": (
        HEADER.replace("properties", "event_id") + "e9,login,2026-06-02T10:00:00Z,u1,g1,e9\n",
        "more than once",
    ),
}


def _write(landing: Path, content: str, day: date = DAY) -> Path:
    path = landing / "events" / f"events_{day.isoformat()}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path


def _materialize(db: Path, day: date = DAY) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [product_events, raw_checks_by_table["product_events"]],
        partition_key=day.isoformat(),
        resources={"warehouse": WarehouseResource(path=str(db)), "engine": EngineResource()},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failures, "the run was expected to fail"
    error = failures[0].step_failure_data.error
    messages = []
    while error is not None:
        messages.append(error.message)
        error = error.cause
    return "\n".join(messages)


def _day_state(db: Path, day: date = DAY) -> tuple[list[str], int, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        events = [
            r[0]
            for r in con.execute(
                "SELECT event_id FROM ingest.product_events WHERE event_date = ? ORDER BY 1", [day]
            ).fetchall()
        ]
        audits = con.execute(
            f"SELECT count(*) FROM {LOAD_AUDIT} WHERE partition_date = ?", [day]
        ).fetchone()[0]
        quarantined = con.execute(
            f"SELECT count(*) FROM {QUARANTINE} WHERE partition_date = ?", [day]
        ).fetchone()[0]
    return events, audits, quarantined


@pytest.fixture
def landing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "landing"
    monkeypatch.setenv("ACCT_LANDING_DIR", str(root))
    monkeypatch.setenv("ACCT_PRODUCT_SOURCE", "files")
    return root


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_a_broken_file_fails_with_its_name_and_leaves_the_good_day_in_place(
    landing: Path, tmp_path: Path, kind: str
) -> None:
    db = tmp_path / "w.duckdb"
    _write(landing, HEADER + GOOD)
    assert _materialize(db).success
    before = _day_state(db)
    assert before == (["e1", "e2"], 1, 0)

    content, needle = BAD_FILES[kind]
    path = _write(landing, content)
    result = _materialize(db)
    assert not result.success
    message = _failure_message(result)
    assert str(path) in message and needle in message
    # nothing of the broken load is kept: the day is exactly what it was
    assert _day_state(db) == before


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_a_broken_first_load_leaves_no_partition_at_all(
    landing: Path, tmp_path: Path, kind: str
) -> None:
    db = tmp_path / "w.duckdb"
    _write(landing, BAD_FILES[kind][0])
    result = _materialize(db)
    assert not result.success
    assert not result.get_asset_materialization_events()
    if db.exists():
        with duckdb.connect(str(db), read_only=True) as con:
            tables = {
                t
                for (t,) in con.execute(
                    "SELECT table_name FROM information_schema.tables"
                ).fetchall()
            }
            if "product_events" in tables:
                assert _day_state(db) == ([], 0, 0)


def test_a_wrong_type_is_quarantined_with_file_and_row_and_the_books_balance(
    landing: Path, tmp_path: Path
) -> None:
    db = tmp_path / "w.duckdb"
    path = _write(
        landing,
        HEADER + GOOD + "e3,login,last tuesday,u3,g1,\ne4,login,2026-06-02T12:00:00Z,u4,g1,\n",
    )
    result = _materialize(db)
    assert result.success
    with duckdb.connect(str(db), read_only=True) as con:
        bad = con.execute(
            f"SELECT source_file, row_number, rule, record FROM {QUARANTINE}"
        ).fetchall()
    assert [(f, n, r) for f, n, r, _ in bad] == [(str(path), 3, "malformed_timestamp:occurred_at")]
    assert "last tuesday" in bad[0][3]
    assert _day_state(db) == (["e1", "e2", "e4"], 1, 1)
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks[ROWS_RECONCILED].passed
    assert checks[ROWS_RECONCILED].metadata["rows_in"].value == 4
    assert checks[KEY_UNIQUE].passed


def test_a_snapshot_missing_a_required_column_keeps_the_previous_snapshot(
    landing: Path, tmp_path: Path
) -> None:
    db = tmp_path / "w.duckdb"
    companies = next(
        a for a in snapshot_assets if a.key == dg.AssetKey(["ingest", "crm_companies"])
    )
    path = landing / "crm" / "companies.csv"
    path.parent.mkdir(parents=True)
    path.write_text(
        "company_id,name,created_at\nc1,Acme,2025-01-01T00:00:00Z\nc2,Beta,2025-02-01T00:00:00Z\n"
    )
    run = lambda: dg.materialize(  # noqa: E731
        [companies, raw_checks_by_table["crm_companies"]],
        resources={"warehouse": WarehouseResource(path=str(db)), "engine": EngineResource()},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert run().success
    path.write_text("company_id,name\nc1,Acme\nc2,Beta\nc3,Gamma\n")
    result = run()
    assert not result.success
    assert "'created_at'" in _failure_message(result) and str(path) in _failure_message(result)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT company_id FROM ingest.crm_companies ORDER BY 1").fetchall() == [
            ("c1",),
            ("c2",),
        ]
