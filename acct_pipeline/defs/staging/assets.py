"""Cleaned and matched data (``staging.*``): one row per account, and who is who."""

import dagster as dg

from acct_pipeline.defs.keys import (
    ACCOUNTS_KEY,
    DUPLICATE_DOMAINS_KEY,
    IDENTITY_MAP_KEY,
    STAGED_TOUCHES_KEY,
    UNMATCHED_KEY,
    ingest_key,
)
from acct_pipeline.defs.resources import WarehouseResource
from acct_pipeline.quality.identity import build_accounts, build_identity
from acct_pipeline.quality.touches import build_staged_touches


@dg.asset(
    key=ACCOUNTS_KEY,
    group_name="staging",
    kinds={"duckdb"},
    deps=[ingest_key("crm_companies")],
)
def accounts(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every CRM account once, with its normalised web domain, owner, industry, region and size.

    The account id is the CRM's own record id, so scores can be written back to that record.
    """
    with warehouse.connect() as con:
        n = build_accounts(con)
    return dg.MaterializeResult(metadata={"accounts": dg.MetadataValue.int(n)})


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            IDENTITY_MAP_KEY,
            group_name="staging",
            kinds={"duckdb"},
            deps=[
                ACCOUNTS_KEY,
                ingest_key("billing_customers"),
                ingest_key("product_groups"),
            ],
            description=(
                "Which CRM account each billing customer and product workspace belongs to, and "
                "how we know: the explicit CRM id first, then the web / e-mail domain "
                "(never free-mail)."
            ),
        ),
        dg.AssetSpec(
            UNMATCHED_KEY,
            group_name="staging",
            kinds={"duckdb"},
            description=(
                "Billing customers and product workspaces that match no CRM account, with the "
                "reason "
                "(no domain, free-mail domain, domain shared by several accounts, unknown domain)."
            ),
        ),
        dg.AssetSpec(
            DUPLICATE_DOMAINS_KEY,
            group_name="staging",
            kinds={"duckdb"},
            description=(
                "Web domains shared by several CRM accounts (likely duplicates in the CRM), with "
                "the account ids: reported for a person to merge, never merged automatically."
            ),
        ),
    ]
)
def identity_map(warehouse: WarehouseResource):
    with warehouse.connect() as con:
        stats = build_identity(con)
    yield dg.MaterializeResult(
        asset_key=IDENTITY_MAP_KEY,
        metadata={
            "matched": dg.MetadataValue.int(stats["matched"]),
            "billing_match_rate": dg.MetadataValue.float(stats["billing_match_rate"]),
            "product_match_rate": dg.MetadataValue.float(stats["product_match_rate"]),
            "duplicate_domains": dg.MetadataValue.int(stats["duplicate_domains"]),
        },
    )
    yield dg.MaterializeResult(
        asset_key=UNMATCHED_KEY,
        metadata={"unmatched": dg.MetadataValue.int(stats["unmatched"])},
    )
    yield dg.MaterializeResult(
        asset_key=DUPLICATE_DOMAINS_KEY,
        metadata={"shared_domains": dg.MetadataValue.int(stats["duplicate_domains"])},
    )


@dg.asset(
    key=STAGED_TOUCHES_KEY,
    group_name="staging",
    kinds={"duckdb"},
    deps=[ACCOUNTS_KEY, ingest_key("crm_contacts"), ingest_key("marketing_touches")],
)
def marketing_touches(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every marketing touch (web, email, social, ...) with the CRM account it reaches: the
    account it names, else the company of the contact it names. Touches that reach no account
    are kept with the reason (unknown account id, unknown contact id, contact without account)."""
    with warehouse.connect() as con:
        stats = build_staged_touches(con)
    return dg.MaterializeResult(metadata={k: dg.MetadataValue.int(v) for k, v in stats.items()})
