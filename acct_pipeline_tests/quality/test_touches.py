"""The marketing touches file: the contract's quarantine rules, unmatched touches reported, the
file optional, and the sample's touches (a whole category missing in the renewal scenario)."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from acct_pipeline.connectors.files import FilesSource
from acct_pipeline.connectors.ingest import ingest_snapshot
from acct_pipeline.connectors.loader import load_batches
from acct_pipeline.quality.touches import build_staged_touches
from acct_pipeline.warehouse import (
    ACCOUNTS,
    MARKETING_TOUCHES,
    QUARANTINE,
    STAGED_TOUCHES,
    ensure_core_tables,
)
from acct_pipeline_tests.scoring.tiny import insert, ts

HEADER = "touch_id,account_id,contact_id,category,activity_type,occurred_at,value,source\n"
ROWS = [
    "t1,A,,email,email_open,2026-06-01T10:00:00Z,,hubspot",  # good
    "t2,,c1,web,page_view,2026-06-01T11:00:00Z,30,segment",  # good, by contact
    "t1,A,,email,email_open,2026-06-01T10:00:00Z,,hubspot",  # duplicate id
    "t3,A,,podcast,episode_played,2026-06-01T10:00:00Z,,files",  # unknown category
    "t4,A,,web,page_view,not-a-date,,segment",  # bad timestamp
    "t5,,,web,page_view,2026-06-01T10:00:00Z,,segment",  # neither id
    "t6,A,,web,page_view,2026-06-01T10:00:00Z,-5,segment",  # negative value (nulled)
    ",A,,web,page_view,2026-06-01T10:00:00Z,,segment",  # no touch id
    "t7,ZZ,,social,social_share,2026-06-01T10:00:00Z,,files",  # unknown account
    "t8,,nobody,email,email_click,2026-06-01T10:00:00Z,,hubspot",  # unknown contact
]


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    c = duckdb.connect(str(tmp_path / "w.duckdb"))
    c.execute("SET TimeZone = 'UTC'")
    ensure_core_tables(c)
    return c


def test_touches_quarantine_rules(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "landing" / MARKETING_TOUCHES.landing_path
    path.parent.mkdir(parents=True)
    path.write_text(HEADER + "\n".join(ROWS) + "\n")
    source = FilesSource(tmp_path / "landing")
    result = load_batches(con, MARKETING_TOUCHES, source.read_table(MARKETING_TOUCHES), "files")
    assert result.rules == {
        "duplicate_key:touch_id": 1,
        "malformed_timestamp:occurred_at": 1,
        "missing_one_of:account_id,contact_id": 1,
        "missing_required:touch_id": 1,
        "negative_amount:value (nulled)": 1,
        "unknown_value:category": 1,
    }
    kept = dict(
        con.execute(f"SELECT touch_id, value FROM {MARKETING_TOUCHES.qualified}").fetchall()
    )
    assert set(kept) == {"t1", "t2", "t6", "t7", "t8"}
    assert kept["t2"] == 30.0 and kept["t6"] is None
    rows = con.execute(
        f"SELECT row_number, rule FROM {QUARANTINE} WHERE source_table = ? ORDER BY 1",
        [MARKETING_TOUCHES.name],
    ).fetchall()
    assert (4, "unknown_value:category") in rows and (
        6,
        "missing_one_of:account_id,contact_id",
    ) in rows


def test_unmatched_touches_are_reported_not_dropped(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE TABLE {ACCOUNTS} AS SELECT 'A' AS account_id")
    insert(
        con,
        "crm_contacts",
        [
            {"contact_id": "c1", "company_id": "A", "created_at": ts("2026-01-01")},
            {"contact_id": "c9", "company_id": "GONE", "created_at": ts("2026-01-01")},
        ],
    )
    base = {
        "category": "web",
        "activity_type": "page_view",
        "occurred_at": ts("2026-06-01"),
        "source": "files",
    }
    insert(
        con,
        "marketing_touches",
        [
            {**base, "touch_id": "a", "account_id": "A"},
            {**base, "touch_id": "b", "contact_id": "c1"},
            {**base, "touch_id": "c", "account_id": "ZZ"},
            {**base, "touch_id": "d", "contact_id": "nobody"},
            {**base, "touch_id": "e", "contact_id": "c9"},
            {**base, "touch_id": "f", "account_id": "ZZ", "contact_id": "c1"},
        ],
    )
    stats = build_staged_touches(con)
    assert stats["touches"] == 6 and stats["matched"] == 3 and stats["unmatched"] == 3
    got = dict(
        con.execute(
            f"SELECT touch_id, coalesce(account_id, unmatched_reason) FROM {STAGED_TOUCHES}"
        ).fetchall()
    )
    assert got == {
        "a": "A",
        "b": "A",
        "c": "unknown_account_id",
        "d": "unknown_contact_id",
        "e": "contact_without_account",
        "f": "A",
    }


def test_the_touches_file_is_optional(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCT_LANDING_DIR", str(tmp_path / "empty"))
    result = ingest_snapshot(con, MARKETING_TOUCHES)
    assert result.rows_in == 0 and "optional" in result.notes[0]


def _categories(landing: Path) -> dict[str, int]:
    with (landing / MARKETING_TOUCHES.landing_path).open() as fh:
        counts: dict[str, int] = {}
        for row in csv.DictReader(fh):
            counts[row["category"]] = counts.get(row["category"], 0) + 1
    return counts


def test_sample_touches_and_a_scenario_without_social(tmp_path: Path) -> None:
    from acct_pipeline.sample.scenarios import generate_sample

    default = generate_sample(tmp_path / "d", accounts=40, days=10, seed=3)
    cats = _categories(tmp_path / "d")
    assert {"web", "email", "social"} <= set(cats)
    planted = {
        q["rule"] for q in default["planted"]["quarantine"] if q["table"] == "marketing_touches"
    }
    assert {
        "duplicate_key:touch_id",
        "malformed_timestamp:occurred_at",
        "unknown_value:category",
        "missing_one_of:account_id,contact_id",
    } <= planted
    generate_sample(tmp_path / "r", accounts=40, days=10, seed=3, scenario="renewal")
    cats = _categories(tmp_path / "r")
    assert "social" not in cats and cats.get("web", 0) > 0 and cats.get("email", 0) > 0
