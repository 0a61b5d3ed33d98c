"""Identity resolution: which CRM account a billing customer or product group belongs to.

Order of evidence: the explicit CRM id carried by the record (Stripe metadata, product group
property) first, then the normalised web / email domain. Free-mail domains (gmail.com, ...) are
never used for matching, and a domain shared by several CRM accounts matches none of them (the
duplicates are reported, never merged silently). Whatever cannot be matched goes to
``staging.unmatched_records`` with the reason — nothing is dropped.
"""

from __future__ import annotations

import duckdb

from acct_pipeline.warehouse import (
    ACCOUNTS,
    IDENTITY_MAP,
    UNMATCHED_RECORDS,
    replace_table,
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

# Candidate links from billing customers and product groups, with the evidence they carry.
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
    FROM {ACCOUNTS} WHERE domain IS NOT NULL GROUP BY domain
),
resolved AS (
    SELECT c.*,
           ex.account_id AS explicit_match,
           d.account_id AS domain_match,
           d.n AS domain_owners,
           c.domain IN (SELECT domain FROM free_mail) AS free_mail
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
        WHEN explicit_match IS NOT NULL THEN 'explicit_id'
        WHEN free_mail THEN NULL
        WHEN domain_owners = 1 THEN 'domain'
    END AS match_method,
    CASE
        WHEN explicit_match IS NOT NULL THEN NULL
        WHEN free_mail THEN 'free_mail_domain'
        WHEN domain_owners > 1 THEN 'ambiguous_domain'
        WHEN domain_owners = 1 THEN NULL
        WHEN explicit_id IS NOT NULL AND domain IS NULL THEN 'unknown_crm_id'
        WHEN domain IS NULL THEN 'no_usable_domain'
        ELSE 'domain_not_in_crm'
    END AS unmatched_reason
FROM resolved
"""


def build_accounts(con: duckdb.DuckDBPyConnection) -> int:
    """Replace ``staging.accounts`` (one row per CRM company, domain normalised)."""
    return replace_table(con, ACCOUNTS, ACCOUNTS_SQL)


def build_identity(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Replace ``staging.identity_map``, ``staging.unmatched_records`` and the duplicate-domain
    report. Returns counts for asset metadata."""
    params = [list(FREE_MAIL_DOMAINS)]
    con.execute(f"CREATE OR REPLACE TEMP TABLE _identity AS {_CANDIDATES_SQL}", params)
    matched = replace_table(
        con,
        IDENTITY_MAP,
        "SELECT source_system, source_id, account_id, match_method, domain "
        "FROM _identity WHERE account_id IS NOT NULL ORDER BY source_system, source_id",
    )
    unmatched = replace_table(
        con,
        UNMATCHED_RECORDS,
        "SELECT source_system, source_id, unmatched_reason AS reason, domain, record, "
        "now()::TIMESTAMP AS detected_at "
        "FROM _identity WHERE account_id IS NULL ORDER BY source_system, source_id",
    )
    duplicates = replace_table(
        con,
        DUPLICATE_DOMAINS,
        f"SELECT domain, count(*) AS accounts, list(account_id ORDER BY account_id) AS account_ids "
        f"FROM {ACCOUNTS} WHERE domain IS NOT NULL GROUP BY domain HAVING count(*) > 1 ORDER BY domain",
    )
    by_system = dict(
        con.execute(
            "SELECT source_system, count(*) FILTER (WHERE account_id IS NOT NULL) / count(*) "
            "FROM _identity GROUP BY 1"
        ).fetchall()
    )
    con.execute("DROP TABLE IF EXISTS _identity")
    return {
        "matched": matched,
        "unmatched": unmatched,
        "duplicate_domains": duplicates,
        "billing_match_rate": float(by_system.get("billing", 1.0)),
        "product_match_rate": float(by_system.get("product", 1.0)),
    }
