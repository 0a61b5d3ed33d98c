"""Identity resolution: which CRM account a billing customer or product group belongs to.

Order of evidence: the explicit CRM id carried by the record (Stripe metadata, product group
property) first, then the normalised web / email domain. Free-mail domains (gmail.com, ...) are
never used for matching, and a domain shared by several CRM accounts matches none of them (the
duplicates are reported, never merged silently). Whatever cannot be matched goes to
``staging.unmatched_records`` with the reason — nothing is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from acct_pipeline.warehouse import (
    ACCOUNTS,
    IDENTITY_MAP,
    UNMATCHED_RECORDS,
    replace_table,
    table_exists,
    transaction,
)

FREE_MAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "live.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "gmx.de",
    "mail.com",
    "yandex.com",
    "zoho.com",
)

DUPLICATE_DOMAINS = "staging.duplicate_domains"


def normalize_domain_sql(expr: str) -> str:
    """SQL normalising a website or domain: lower case, no scheme, no ``www.``, no path.

    Anything that is not a plausible host name afterwards becomes NULL.
    """
    host = (
        f"regexp_replace(regexp_replace(regexp_replace(lower(trim({expr})), "
        f"'^[a-z]+://', ''), '^www\\.', ''), '[/?#:].*$', '')"
    )
    return f"CASE WHEN regexp_full_match({host}, '[a-z0-9-]+(\\.[a-z0-9-]+)+') THEN {host} END"


def email_domain_sql(expr: str) -> str:
    """SQL for the normalised domain of an e-mail address (NULL if there is none)."""
    return normalize_domain_sql(f"CASE WHEN {expr} LIKE '%@%' THEN split_part({expr}, '@', 2) END")


ACCOUNTS_SQL = f"""
SELECT
    company_id                     AS account_id,
    name,
    {normalize_domain_sql("domain")} AS domain,
    domain                         AS raw_domain,
    industry,
    region,
    employees,
    lifecycle_stage,
    owner_id,
    owner_email,
    created_at,
    updated_at,
    _source                        AS crm_source
FROM ingest.crm_companies
"""

# Why a record matches no account (``staging.unmatched_records.reason``).
REASON_UNKNOWN_CRM_ID = "unknown_crm_id"  # carries a CRM id that is not in the CRM, no domain match
REASON_FREE_MAIL = "free_mail_domain"  # only a gmail.com-like domain: never used for matching
REASON_AMBIGUOUS = "ambiguous_domain"  # the domain belongs to several CRM accounts
REASON_NO_DOMAIN = "no_usable_domain"  # no domain, or one that is not a host name
REASON_NOT_IN_CRM = "domain_not_in_crm"  # a real domain no CRM account has
UNMATCHED_REASONS = (
    REASON_UNKNOWN_CRM_ID,
    REASON_FREE_MAIL,
    REASON_AMBIGUOUS,
    REASON_NO_DOMAIN,
    REASON_NOT_IN_CRM,
)
METHOD_EXPLICIT = "explicit_id"
METHOD_DOMAIN = "domain"
MATCH_METHODS = (METHOD_EXPLICIT, METHOD_DOMAIN)

# Candidate links from billing customers and product groups, with the evidence they carry.
# A CRM account's own free-mail "domain" (a sole trader on gmail.com) is never matching evidence
# either, and never makes two accounts "share a domain".
_CANDIDATES_SQL = f"""
WITH free_mail AS (SELECT unnest(?::VARCHAR[]) AS domain),
candidates AS (
    SELECT 'billing' AS source_system, customer_id AS source_id, crm_company_id AS explicit_id,
           {email_domain_sql("email")} AS domain,
           to_json(struct_pack(customer_id, crm_company_id, email, name)) AS record
    FROM ingest.billing_customers
    UNION ALL
    SELECT 'product', group_id, crm_company_id, {normalize_domain_sql("domain")},
           to_json(struct_pack(group_id, crm_company_id, domain, name))
    FROM ingest.product_groups
),
domain_owners AS (
    SELECT domain, count(*) AS n, min(account_id) AS account_id
    FROM {ACCOUNTS}
    WHERE domain IS NOT NULL AND domain NOT IN (SELECT domain FROM free_mail)
    GROUP BY domain
),
resolved AS (
    SELECT c.*,
           ex.account_id AS explicit_match,
           d.account_id AS domain_match,
           coalesce(d.n, 0) AS domain_owners,
           coalesce(c.domain IN (SELECT domain FROM free_mail), false) AS free_mail
    FROM candidates c
    LEFT JOIN {ACCOUNTS} ex ON ex.account_id = c.explicit_id
    LEFT JOIN domain_owners d ON d.domain = c.domain
)
SELECT *,
    CASE
        WHEN explicit_match IS NOT NULL THEN explicit_match
        WHEN free_mail THEN NULL
        WHEN domain_owners = 1 THEN domain_match
    END AS account_id,
    CASE
        WHEN explicit_match IS NOT NULL THEN '{METHOD_EXPLICIT}'
        WHEN free_mail THEN NULL
        WHEN domain_owners = 1 THEN '{METHOD_DOMAIN}'
    END AS match_method,
    CASE
        WHEN explicit_match IS NOT NULL THEN NULL
        WHEN NOT free_mail AND domain_owners = 1 THEN NULL
        WHEN explicit_id IS NOT NULL THEN '{REASON_UNKNOWN_CRM_ID}'
        WHEN free_mail THEN '{REASON_FREE_MAIL}'
        WHEN domain_owners > 1 THEN '{REASON_AMBIGUOUS}'
        WHEN domain IS NULL THEN '{REASON_NO_DOMAIN}'
        ELSE '{REASON_NOT_IN_CRM}'
    END AS unmatched_reason
FROM resolved
"""

IDENTITY_MAP_SQL = """
SELECT source_system, source_id, account_id, match_method, domain
FROM _identity WHERE account_id IS NOT NULL ORDER BY source_system, source_id
"""

UNMATCHED_SQL = """
SELECT source_system, source_id, unmatched_reason AS reason, domain, record,
       now()::TIMESTAMP AS detected_at
FROM _identity WHERE account_id IS NULL ORDER BY source_system, source_id
"""

DUPLICATE_DOMAINS_SQL = f"""
SELECT domain, count(*) AS accounts, list(account_id ORDER BY account_id) AS account_ids
FROM {ACCOUNTS}
WHERE domain IS NOT NULL AND domain NOT IN (SELECT unnest(?::VARCHAR[]))
GROUP BY domain HAVING count(*) > 1
ORDER BY domain
"""


def build_accounts(con: duckdb.DuckDBPyConnection) -> int:
    """Replace ``staging.accounts`` (one row per CRM company, domain normalised)."""
    return replace_table(con, ACCOUNTS, ACCOUNTS_SQL)


def build_identity(con: duckdb.DuckDBPyConnection) -> dict[str, int | float]:
    """Replace ``staging.identity_map``, ``staging.unmatched_records`` and
    ``staging.duplicate_domains`` together (one transaction: never a map without its unmatched
    records). Returns counts and match rates for asset metadata."""
    free_mail = [list(FREE_MAIL_DOMAINS)]
    with transaction(con):
        con.execute(f"CREATE OR REPLACE TEMP TABLE _identity AS {_CANDIDATES_SQL}", free_mail)
        con.execute(f"CREATE OR REPLACE TABLE {IDENTITY_MAP} AS {IDENTITY_MAP_SQL}")
        con.execute(f"CREATE OR REPLACE TABLE {UNMATCHED_RECORDS} AS {UNMATCHED_SQL}")
        con.execute(
            f"CREATE OR REPLACE TABLE {DUPLICATE_DOMAINS} AS {DUPLICATE_DOMAINS_SQL}", free_mail
        )
        matched, unmatched = con.execute(
            "SELECT count(account_id), count(*) - count(account_id) FROM _identity"
        ).fetchone()
        duplicates = con.execute(f"SELECT count(*) FROM {DUPLICATE_DOMAINS}").fetchone()[0]
        by_system = dict(
            con.execute(
                "SELECT source_system, count(account_id) / count(*) FROM _identity GROUP BY 1"
            ).fetchall()
        )
        con.execute("DROP TABLE IF EXISTS _identity")
    return {
        "matched": int(matched),
        "unmatched": int(unmatched),
        "duplicate_domains": int(duplicates),
        "billing_match_rate": float(by_system.get("billing", 1.0)),
        "product_match_rate": float(by_system.get("product", 1.0)),
    }


@dataclass(frozen=True)
class SystemMatch:
    """How one source system's records resolved."""

    source_system: str
    records: int
    matched: int
    unmatched: int
    by_method: dict[str, int]
    by_reason: dict[str, int]

    @property
    def match_rate(self) -> float:
        return self.matched / self.records if self.records else 1.0


@dataclass
class IdentityReport:
    """What the identity checks look at: match rates, and whether every record is accounted for."""

    systems: dict[str, SystemMatch] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # records lost, doubled or badly matched
    duplicate_domains: list[tuple[str, list[str]]] = field(default_factory=list)


def identity_report(con: duckdb.DuckDBPyConnection) -> IdentityReport:
    """Match rates per source system, plus every way the identity tables could be wrong:
    a source record in neither or both tables, a record mapped twice, a match on a free-mail
    domain, an unknown method or reason, a mapped account that is not in ``staging.accounts``."""
    report = IdentityReport()
    for table in (ACCOUNTS, IDENTITY_MAP, UNMATCHED_RECORDS, DUPLICATE_DOMAINS):
        if not table_exists(con, table):
            report.problems.append(f"{table} does not exist (materialize staging.identity_map)")
    if report.problems:
        return report
    sources = {
        "billing": ("ingest.billing_customers", "customer_id"),
        "product": ("ingest.product_groups", "group_id"),
    }
    for system, (table, key) in sources.items():
        records = (
            con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            if table_exists(con, table)
            else 0
        )
        by_method = dict(
            con.execute(
                f"SELECT match_method, count(*) FROM {IDENTITY_MAP} "
                "WHERE source_system = ? GROUP BY 1",
                [system],
            ).fetchall()
        )
        by_reason = dict(
            con.execute(
                f"SELECT reason, count(*) FROM {UNMATCHED_RECORDS} "
                "WHERE source_system = ? GROUP BY 1",
                [system],
            ).fetchall()
        )
        matched, unmatched = sum(by_method.values()), sum(by_reason.values())
        report.systems[system] = SystemMatch(
            system, int(records), int(matched), int(unmatched), by_method, by_reason
        )
        if table_exists(con, table):
            lost = con.execute(
                f"""
                SELECT count(*) FROM {table} s
                WHERE s.{key} NOT IN (SELECT source_id FROM {IDENTITY_MAP} WHERE source_system = ?)
                  AND s.{key} NOT IN (
                      SELECT source_id FROM {UNMATCHED_RECORDS} WHERE source_system = ?
                  )
                """,
                [system, system],
            ).fetchone()[0]
            if lost:
                report.problems.append(
                    f"{system}: {lost} record(s) of {table} are neither matched nor unmatched"
                )
        bad_method = set(by_method) - set(MATCH_METHODS)
        if bad_method:
            report.problems.append(
                f"{system}: unknown match method(s) {sorted(map(str, bad_method))}"
            )
        bad_reason = set(by_reason) - set(UNMATCHED_REASONS)
        if bad_reason:
            report.problems.append(
                f"{system}: unmatched records without a known reason {sorted(map(str, bad_reason))}"
            )
    both, doubled, free_mail, unknown_account = con.execute(
        f"""
        SELECT
            (SELECT count(*) FROM {IDENTITY_MAP} m
                JOIN {UNMATCHED_RECORDS} u USING (source_system, source_id)),
            (SELECT count(*) FROM (
                SELECT 1 FROM {IDENTITY_MAP} GROUP BY source_system, source_id HAVING count(*) > 1
            )),
            (SELECT count(*) FROM {IDENTITY_MAP} WHERE match_method = '{METHOD_DOMAIN}'
                AND domain IN (SELECT unnest(?::VARCHAR[]))),
            (SELECT count(*) FROM {IDENTITY_MAP}
                WHERE account_id NOT IN (SELECT account_id FROM {ACCOUNTS}))
        """,
        [list(FREE_MAIL_DOMAINS)],
    ).fetchone()
    if both:
        report.problems.append(f"{both} record(s) are both matched and unmatched")
    if doubled:
        report.problems.append(f"{doubled} record(s) are mapped to more than one account")
    if free_mail:
        report.problems.append(f"{free_mail} record(s) were matched on a free-mail domain")
    if unknown_account:
        report.problems.append(
            f"{unknown_account} record(s) are mapped to an account not in {ACCOUNTS}"
        )
    report.duplicate_domains = [
        (str(d), [str(a) for a in ids])
        for d, ids in con.execute(
            f"SELECT domain, account_ids FROM {DUPLICATE_DOMAINS} ORDER BY domain"
        ).fetchall()
    ]
    return report
