"""Identity resolution on a hand-made CRM: explicit id first, then domain, never free mail."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from acct_pipeline.defs.quality.identity_checks import (
    DEFAULT_MIN_MATCH_RATE,
    identity_checks,
    min_match_rate,
)
from acct_pipeline.defs.resources import EngineResource, WarehouseResource
from acct_pipeline.defs.staging.assets import identity_map
from acct_pipeline.quality.identity import (
    DUPLICATE_DOMAINS,
    build_accounts,
    build_identity,
    identity_report,
)
from acct_pipeline.warehouse import IDENTITY_MAP, UNMATCHED_RECORDS, connect, ensure_core_tables

TS = "TIMESTAMP '2026-01-01 00:00:00'"

COMPANIES = [
    # company_id, domain as the CRM holds it
    ("c1", "https://www.Acme.com/about"),
    ("c2", "beta.io"),
    ("c3", "twin.com"),  # c3 and c4 share a domain: duplicates in the CRM
    ("c4", "WWW.TWIN.COM"),
    ("c5", "gmail.com"),  # a sole trader whose "website" is their mailbox
    ("c6", "gmail.com"),
    ("c7", None),
]
CUSTOMERS = [
    # customer_id, crm_company_id, email -> expected (account, method) or reason
    ("cus_explicit", "c2", "billing@acme.com"),  # explicit id wins over the domain
    ("cus_domain", None, "Finance@ACME.com"),  # domain, case-insensitive
    ("cus_www", None, "ap@www.beta.io"),  # www. stripped from an e-mail host too
    ("cus_gmail", None, "founder@gmail.com"),  # free mail: never matched, even though c5 has it
    ("cus_twin", None, "x@twin.com"),  # ambiguous: two CRM accounts
    ("cus_unknown_id", "c999", None),  # an explicit id that is not in the CRM
    ("cus_nowhere", None, "a@unknown-corp.net"),
    ("cus_nomail", None, "not-an-email"),
]
GROUPS = [
    # group_id, crm_company_id, domain
    ("g_explicit", "c4", "twin.com"),  # explicit id resolves even an ambiguous domain
    ("g_domain", None, "http://acme.com"),
    ("g_bad_domain", None, "n/a"),
]
EXPECTED_MATCHES = {
    ("billing", "cus_explicit"): ("c2", "explicit_id"),
    ("billing", "cus_domain"): ("c1", "domain"),
    ("billing", "cus_www"): ("c2", "domain"),
    ("product", "g_explicit"): ("c4", "explicit_id"),
    ("product", "g_domain"): ("c1", "domain"),
}
EXPECTED_UNMATCHED = {
    ("billing", "cus_gmail"): "free_mail_domain",
    ("billing", "cus_twin"): "ambiguous_domain",
    ("billing", "cus_unknown_id"): "unknown_crm_id",
    ("billing", "cus_nowhere"): "domain_not_in_crm",
    ("billing", "cus_nomail"): "no_usable_domain",
    ("product", "g_bad_domain"): "no_usable_domain",
}


def _fill(con: duckdb.DuckDBPyConnection) -> None:
    ensure_core_tables(con)
    for cid, domain in COMPANIES:
        con.execute(
            "INSERT INTO ingest.crm_companies "
            "(company_id, domain, created_at, _source, _loaded_at) "
            f"VALUES (?, ?, {TS}, 'files', {TS})",
            [cid, domain],
        )
    for cus, crm, email in CUSTOMERS:
        con.execute(
            "INSERT INTO ingest.billing_customers "
            "(customer_id, crm_company_id, email, created_at, _source, "
            f"_loaded_at) VALUES (?, ?, ?, {TS}, 'files', {TS})",
            [cus, crm, email],
        )
    for gid, crm, domain in GROUPS:
        con.execute(
            "INSERT INTO ingest.product_groups "
            "(group_id, crm_company_id, domain, created_at, _source, "
            f"_loaded_at) VALUES (?, ?, ?, {TS}, 'files', {TS})",
            [gid, crm, domain],
        )


@pytest.fixture
def resolved(tmp_path: Path) -> Path:
    db = tmp_path / "identity.duckdb"
    with connect(db) as con:
        _fill(con)
        build_accounts(con)
        build_identity(con)
    return db


def test_each_record_is_matched_by_the_right_evidence(resolved: Path) -> None:
    with connect(resolved) as con:
        rows = con.execute(
            f"SELECT source_system, source_id, account_id, match_method FROM {IDENTITY_MAP}"
        ).fetchall()
    assert {(s, i): (a, m) for s, i, a, m in rows} == EXPECTED_MATCHES


def test_unmatched_records_carry_the_reason_and_the_raw_record(resolved: Path) -> None:
    with connect(resolved) as con:
        rows = con.execute(
            f"SELECT source_system, source_id, reason, record FROM {UNMATCHED_RECORDS}"
        ).fetchall()
    assert {(s, i): r for s, i, r, _ in rows} == EXPECTED_UNMATCHED
    gmail = next(rec for s, i, _, rec in rows if i == "cus_gmail")
    assert "founder@gmail.com" in gmail


def test_duplicate_domains_are_reported_and_not_merged(resolved: Path) -> None:
    with connect(resolved) as con:
        dupes = con.execute(f"SELECT domain, account_ids FROM {DUPLICATE_DOMAINS}").fetchall()
        accounts = con.execute(
            "SELECT account_id, domain FROM staging.accounts ORDER BY 1"
        ).fetchall()
    # free-mail "domains" shared by sole traders are not duplicates; twin.com is
    assert dupes == [("twin.com", ["c3", "c4"])]
    assert len(accounts) == len(COMPANIES)  # nothing merged away
    assert dict(accounts)["c1"] == "acme.com"  # scheme, www. and path stripped, lower case


def test_identity_report_finds_nothing_wrong_and_the_match_rates(resolved: Path) -> None:
    with connect(resolved) as con:
        report = identity_report(con)
    assert report.problems == []
    assert report.systems["billing"].records == len(CUSTOMERS)
    assert report.systems["billing"].match_rate == pytest.approx(3 / 8)
    assert report.systems["product"].match_rate == pytest.approx(2 / 3)
    assert report.systems["billing"].by_reason["free_mail_domain"] == 1


def test_identity_report_catches_a_lost_and_a_free_mail_match(resolved: Path) -> None:
    with connect(resolved) as con:
        con.execute(f"DELETE FROM {UNMATCHED_RECORDS} WHERE source_id = 'cus_nowhere'")
        con.execute(
            f"INSERT INTO {IDENTITY_MAP} "
            "VALUES ('billing', 'cus_gmail', 'c5', 'domain', 'gmail.com')"
        )
        report = identity_report(con)
    text = " | ".join(report.problems)
    assert "neither matched nor unmatched" in text
    assert "free-mail" in text
    assert "both matched and unmatched" in text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, DEFAULT_MIN_MATCH_RATE), ("0.9", 0.9), ("90", 0.9), ("97.5%", 0.975)],
)
def test_min_match_rate_reads_fractions_and_percentages(raw: str | None, expected: float) -> None:
    env = {} if raw is None else {"ACCT_MIN_MATCH_RATE": raw}
    assert min_match_rate(env) == pytest.approx(expected)


def test_min_match_rate_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="ACCT_MIN_MATCH_RATE"):
        min_match_rate({"ACCT_MIN_MATCH_RATE": "most"})


def _run_identity_with_checks(db: Path) -> dict[str, dg.AssetCheckEvaluation]:
    result = dg.materialize(
        [identity_map, identity_checks],
        resources={"warehouse": WarehouseResource(path=str(db)), "engine": EngineResource()},
        instance=dg.DagsterInstance.ephemeral(),
    )
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_match_rate_check_warns_below_the_configured_threshold(
    resolved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACCT_MIN_MATCH_RATE", raising=False)
    checks = _run_identity_with_checks(resolved)
    rate = checks["match_rate_above_threshold"]
    assert not rate.passed and rate.severity == dg.AssetCheckSeverity.WARN
    assert "billing 37.5%" in rate.description
    assert checks["every_record_resolved_once"].passed
    assert not checks["accounts_share_no_domain"].passed  # twin.com
    assert checks["accounts_share_no_domain"].metadata["accounts_by_domain"].value == {
        "twin.com": ["c3", "c4"]
    }

    monkeypatch.setenv("ACCT_MIN_MATCH_RATE", "30%")
    assert _run_identity_with_checks(resolved)["match_rate_above_threshold"].passed
