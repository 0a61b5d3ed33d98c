"""Landing-file ingestion: good rows load, bad rows are quarantined, bad files fail clearly."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from acct_pipeline.connectors.base import MissingColumnError, SourceError
from acct_pipeline.connectors.files import FilesSource
from acct_pipeline.connectors.loader import load_batches
from acct_pipeline.quality.audit import reconcile_load
from acct_pipeline.warehouse import CRM_COMPANIES, LOAD_AUDIT, PRODUCT_EVENTS, QUARANTINE, connect

DAY = date(2026, 6, 1)
HEADER = "event_id,event_name,occurred_at,user_id,group_id,properties\n"


def write_events(root: Path, body: str, header: str = HEADER, day: date = DAY) -> Path:
    path = root / "events" / f"events_{day.isoformat()}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + body)
    return path


def load_events(root: Path, db: Path, day: date = DAY):
    src = FilesSource(root)
    with connect(db) as con:
        return load_batches(
            con, PRODUCT_EVENTS, src.read_events(PRODUCT_EVENTS, day), "files", partition=day
        )


def test_good_and_bad_rows_are_split_with_the_rule_and_row_number(tmp_path: Path) -> None:
    write_events(
        tmp_path,
        "e1,login,2026-06-01T10:00:00Z,u1,g1,\n"
        "e2,login,yesterday,u1,g1,\n"  # row 2: malformed timestamp
        "e1,login,2026-06-01T10:00:00Z,u1,g1,\n"  # row 3: duplicate of row 1
        ",login,2026-06-01T10:00:00Z,u1,g1,\n"  # row 4: missing key
        'e4,login,2026-06-01T12:00:00+02:00,u2,g1,"{""plan"": ""pro""}"\n',
    )
    db = tmp_path / "w.duckdb"
    result = load_events(tmp_path, db)
    assert (result.rows_in, result.rows_kept, result.rows_quarantined) == (5, 2, 3)
    with connect(db) as con:
        kept = con.execute(
            "SELECT event_id, occurred_at, event_date FROM ingest.product_events ORDER BY 1"
        ).fetchall()
        bad = con.execute(
            f"SELECT row_number, rule FROM {QUARANTINE} ORDER BY row_number"
        ).fetchall()
    assert [k[0] for k in kept] == ["e1", "e4"]
    # the +02:00 offset is converted to UTC; the partition column is a DATE
    assert kept[1][1].isoformat() == "2026-06-01T10:00:00"
    assert kept[0][2] == DAY
    assert bad == [
        (2, "malformed_timestamp:occurred_at"),
        (3, "duplicate_key:event_id"),
        (4, "missing_required:event_id"),
    ]


def test_rerun_replaces_the_partition_instead_of_doubling(tmp_path: Path) -> None:
    write_events(tmp_path, "e1,login,2026-06-01T10:00:00Z,u1,g1,\ne2,login,bad,u1,g1,\n")
    db = tmp_path / "w.duckdb"
    load_events(tmp_path, db)
    load_events(tmp_path, db)
    with connect(db) as con:
        assert con.execute("SELECT count(*) FROM ingest.product_events").fetchone()[0] == 1
        assert con.execute(f"SELECT count(*) FROM {QUARANTINE}").fetchone()[0] == 1
        assert con.execute(
            f"SELECT rows_in, rows_kept, rows_quarantined FROM {LOAD_AUDIT}"
        ).fetchall() == [(2, 1, 1)]


def test_missing_required_column_names_file_and_column(tmp_path: Path) -> None:
    path = write_events(
        tmp_path, "e1,login,u1,g1\n", header="event_id,event_name,user_id,group_id\n"
    )
    with pytest.raises(MissingColumnError) as err:
        load_events(tmp_path, tmp_path / "w.duckdb")
    assert str(path) in str(err.value)
    assert "'occurred_at'" in str(err.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("event_id,event_id,event_name,occurred_at,user_id,group_id\n", "more than once"),
    ],
)
def test_empty_file_and_duplicated_header_fail_clearly(
    tmp_path: Path, content: str, message: str
) -> None:
    path = write_events(tmp_path, "", header=content)
    with pytest.raises(SourceError, match=message) as err:
        load_events(tmp_path, tmp_path / "w.duckdb")
    assert str(path) in str(err.value)


def test_a_failed_load_leaves_the_previous_partition_intact(tmp_path: Path) -> None:
    write_events(tmp_path, "e1,login,2026-06-01T10:00:00Z,u1,g1,\n")
    db = tmp_path / "w.duckdb"
    load_events(tmp_path, db)
    # the same day arrives again, broken: it must not wipe the good rows
    write_events(tmp_path, "e1,login,u1,g1\n", header="event_id,event_name,user_id,group_id\n")
    with pytest.raises(MissingColumnError):
        load_events(tmp_path, db)
    with connect(db) as con:
        assert con.execute("SELECT event_id FROM ingest.product_events").fetchall() == [("e1",)]


def test_a_bad_optional_value_is_nulled_and_noted_and_the_row_kept(tmp_path: Path) -> None:
    """Issue 19 (3): one bad optional field never removes the account; a bad required one does."""
    path = tmp_path / "crm" / "companies.csv"
    path.parent.mkdir(parents=True)
    path.write_text(
        "company_id,name,employees,created_at\n"
        "c1,Acme,120,2025-01-01T00:00:00Z\n"
        "c2,Beta,lots,2025-01-01T00:00:00Z\n"
        "c3,Gamma,12.5,2025-01-01T00:00:00Z\n"
        "c4,Delta,-5,2025-01-01T00:00:00Z\n"
        "c5,Eps,7,last tuesday\n"
    )
    db = tmp_path / "w.duckdb"
    with connect(db) as con:
        result = load_batches(
            con, CRM_COMPANIES, FilesSource(tmp_path).read_table(CRM_COMPANIES), "files"
        )
        rows = con.execute(
            "SELECT company_id, employees, domain FROM ingest.crm_companies ORDER BY 1"
        ).fetchall()
        notes = con.execute(
            f"SELECT source_file, row_number, rule, record FROM {QUARANTINE} ORDER BY row_number"
        ).fetchall()
        audit = con.execute(
            f"SELECT rows_in, rows_kept, rows_quarantined, values_nulled FROM {LOAD_AUDIT}"
        ).fetchall()
        reconciliation = reconcile_load(con, CRM_COMPANIES)
    # optional columns absent from the file load as NULL; bad optional values are set NULL
    assert rows == [("c1", 120, None), ("c2", None, None), ("c3", None, None), ("c4", None, None)]
    assert [(f, n, r) for f, n, r, _ in notes] == [
        (str(path), 2, "malformed_integer:employees (nulled)"),
        (str(path), 3, "malformed_integer:employees (nulled)"),
        (str(path), 4, "negative_amount:employees (nulled)"),
        (str(path), 5, "malformed_timestamp:created_at"),
    ]
    assert json.loads(notes[0][3])["employees"] == "lots"  # the raw value is kept
    assert json.loads(notes[2][3])["employees"] == "-5"
    assert result.rules == {
        "malformed_integer:employees (nulled)": 2,
        "malformed_timestamp:created_at": 1,
        "negative_amount:employees (nulled)": 1,
    }
    # the books balance: a nulled row is kept (with a note), only c5 is quarantined
    assert (result.rows_in, result.rows_kept, result.rows_quarantined) == (5, 4, 1)
    assert result.values_nulled == 3
    assert audit == [(5, 4, 1, 3)]
    assert reconciliation.problems == []


def test_a_backfill_loads_chunks_sized_by_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first chunk is one day; the rows it held size the next chunks (memory stays bounded
    however many days a backfill asks for), and every day still lands exactly once."""
    from datetime import timedelta

    from acct_pipeline.connectors import ingest

    days = [DAY + timedelta(days=i) for i in range(6)]
    for d in days:
        body = "".join(f"e{d:%d}-{n},login,{d.isoformat()}T10:00:00Z,u{n},g1,\n" for n in range(10))
        write_events(tmp_path, body, day=d)
    monkeypatch.setenv("ACCT_LANDING_DIR", str(tmp_path))
    monkeypatch.setenv("ACCT_PRODUCT_SOURCE", "files")
    monkeypatch.setattr(ingest, "ROWS_PER_TRANSACTION", 25)  # 10 rows a day: 2 days a chunk
    chunks: list[list[date]] = []
    real = ingest.load_partitions

    def recording(con, spec, parts, source_name):  # noqa: ANN001, ANN202
        parts = list(parts)
        chunks.append([d for d, _ in parts])
        return real(con, spec, parts, source_name)

    monkeypatch.setattr(ingest, "load_partitions", recording)
    with connect(tmp_path / "warehouse.duckdb") as con:
        result = ingest.ingest_days(con, PRODUCT_EVENTS, reversed(days))
        per_day = con.execute(
            f"SELECT event_date, count(*) FROM {PRODUCT_EVENTS.qualified} GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert [len(c) for c in chunks] == [1, 2, 2, 1]
    assert [d for c in chunks for d in c] == days
    assert result.rows_kept == 60 and per_day == [(d, 10) for d in days]
