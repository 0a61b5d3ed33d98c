"""On the generated sample the planted dirt is caught, and every source's books balance."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from acct_pipeline.quality.audit import reconcile_load
from acct_pipeline.quality.identity import identity_report
from acct_pipeline.warehouse import ACCOUNTS, LOAD_AUDIT, QUARANTINE, RAW_TABLES, UNMATCHED_RECORDS
from acct_pipeline_tests.conftest import sample_period

SYSTEM_OF_TABLE = {"billing_customers": "billing", "product_groups": "product"}


def _manifest(landing: Path) -> dict:
    return json.loads((landing / "_manifest.json").read_text())


@pytest.fixture(scope="module")
def con(scored_warehouse: Path):
    with duckdb.connect(str(scored_warehouse), read_only=True) as c:
        yield c


def test_every_planted_bad_row_is_quarantined_with_its_rule_and_nothing_else(
    con, small_sample: Path
) -> None:
    planted = {
        (q["table"], q["file"], q["row_number"], q["rule"])
        for q in _manifest(small_sample)["planted"]["quarantine"]
    }
    assert len(planted) > 20, "the sample should plant dirt in several tables"
    rows = con.execute(
        f"SELECT source_table, source_file, row_number, rule FROM {QUARANTINE}"
    ).fetchall()
    found = {(t, Path(f).relative_to(small_sample).as_posix(), n, r) for t, f, n, r in rows}
    missing = planted - found
    assert not missing, (
        f"planted rows not quarantined (or with another rule): {sorted(missing)[:10]}"
    )
    # and no good row was quarantined by mistake
    assert found == planted
    assert len(rows) == len(found)


def test_quarantined_rows_keep_the_raw_record_source_and_load_time(con) -> None:
    bad = con.execute(
        f"SELECT record, source, loaded_at, partition_date, source_table FROM {QUARANTINE} "
        "WHERE rule LIKE 'malformed_timestamp:%' LIMIT 5"
    ).fetchall()
    assert bad
    for record, source, loaded_at, partition_date, table in bad:
        assert isinstance(json.loads(record), dict)
        assert source == "files" and loaded_at is not None
        assert (partition_date is not None) == (table == "product_events")


def test_every_planted_unmatched_record_is_in_unmatched_records(con, small_sample: Path) -> None:
    planted = {
        (SYSTEM_OF_TABLE[u["table"]], u["id"])
        for u in _manifest(small_sample)["planted"]["unmatched"]
    }
    assert planted
    rows = dict(
        ((s, i), r)
        for s, i, r in con.execute(
            f"SELECT source_system, source_id, reason FROM {UNMATCHED_RECORDS}"
        ).fetchall()
    )
    assert planted <= set(rows), sorted(planted - set(rows))
    assert {rows[p] for p in planted} <= {"free_mail_domain", "domain_not_in_crm"}
    # nothing else is unmatched: every other record has an explicit id or a good domain
    assert set(rows) == planted


def test_companies_with_bad_domains_keep_a_null_domain_and_their_records_still_match(
    con, small_sample: Path
) -> None:
    bad = _manifest(small_sample)["planted"]["bad_domains"]
    assert bad
    domains = dict(con.execute(f"SELECT account_id, domain FROM {ACCOUNTS}").fetchall())
    assert all(domains[b] is None for b in bad)
    matched = {
        a for (a,) in con.execute("SELECT DISTINCT account_id FROM staging.identity_map").fetchall()
    }
    assert set(bad) <= matched  # matched by their explicit CRM id
    report = identity_report(con)
    assert report.problems == []
    assert report.systems["billing"].match_rate >= 0.95


def test_rows_in_equal_kept_plus_quarantined_for_every_source_and_day(
    con, small_sample: Path
) -> None:
    start, end = sample_period(small_sample)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    counts = _manifest(small_sample)["counts"]
    for spec in RAW_TABLES:
        rec = reconcile_load(con, spec, days if spec.partitioned else None)
        assert rec.problems == [], spec.name
        assert len(rec.loads) == (len(days) if spec.partitioned else 1)
        # rows in is every data row of the landing files
        assert rec.totals["rows_in"] == counts[spec.name], spec.name


def test_reconciliation_notices_a_row_lost_after_the_load(
    scored_warehouse_copy: Path, small_sample: Path
) -> None:
    _, end = sample_period(small_sample)
    events = next(s for s in RAW_TABLES if s.name == "product_events")
    with duckdb.connect(str(scored_warehouse_copy)) as c:
        c.execute(
            "DELETE FROM ingest.product_events WHERE event_id = "
            "(SELECT min(event_id) FROM ingest.product_events WHERE event_date = ?)",
            [end],
        )
        c.execute(
            f"UPDATE {LOAD_AUDIT} SET rows_quarantined = rows_quarantined + 1 "
            "WHERE source_table = 'crm_tickets'"
        )
        lost = reconcile_load(c, events, [end - timedelta(days=1), end])
        tickets = reconcile_load(c, next(s for s in RAW_TABLES if s.name == "crm_tickets"))
    assert (
        len(lost.problems) == 1
        and str(end) in lost.problems[0]
        and "ingest table holds" in lost.problems[0]
    )
    assert any("!=" in p for p in tickets.problems)
    assert isinstance(end, date)
