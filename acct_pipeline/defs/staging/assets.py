"""Cleaned and matched data (``staging.*``): one row per account, and who is who."""

import dagster as dg

from acct_pipeline.defs.resources import WarehouseResource
from acct_pipeline.quality.identity import build_accounts, build_identity


@dg.asset(
    key=["staging", "accounts"],
    group_name="staging",
    kinds={"duckdb"},
    deps=[dg.AssetKey(["ingest", "crm_companies"])],
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
            ["staging", "identity_map"],
            group_name="staging",
            kinds={"duckdb"},
            deps=[
                dg.AssetKey(["staging", "accounts"]),
                dg.AssetKey(["ingest", "billing_customers"]),
                dg.AssetKey(["ingest", "product_groups"]),
            ],
            description=(
                "Which CRM account each billing customer and product workspace belongs to, and "
                "how we know: the explicit CRM id first, then the web / e-mail domain "
                "(never free-mail)."
            ),
        ),
        dg.AssetSpec(
            ["staging", "unmatched_records"],
            group_name="staging",
            kinds={"duckdb"},
            description=(
                "Billing customers and product workspaces that match no CRM account, with the "
                "reason "
                "(no domain, free-mail domain, domain shared by several accounts, unknown domain)."
            ),
        ),
        dg.AssetSpec(
            ["staging", "duplicate_domains"],
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
        asset_key=["staging", "identity_map"],
        metadata={
            "matched": dg.MetadataValue.int(stats["matched"]),
            "billing_match_rate": dg.MetadataValue.float(stats["billing_match_rate"]),
            "product_match_rate": dg.MetadataValue.float(stats["product_match_rate"]),
            "duplicate_domains": dg.MetadataValue.int(stats["duplicate_domains"]),
        },
    )
    yield dg.MaterializeResult(
        asset_key=["staging", "unmatched_records"],
        metadata={"unmatched": dg.MetadataValue.int(stats["unmatched"])},
    )
    yield dg.MaterializeResult(
        asset_key=["staging", "duplicate_domains"],
        metadata={"shared_domains": dg.MetadataValue.int(stats["duplicate_domains"])},
    )
