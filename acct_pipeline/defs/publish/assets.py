"""The read copy readers open (``acct_pipeline.read_copy``), published at the end of a run."""

import dagster as dg

from acct_pipeline.defs.keys import (
    AUDIENCES_KEY,
    CRM_SYNC_KEY,
    DUPLICATE_DOMAINS_KEY,
    READ_COPY_KEY,
    SCORE_REPORT_KEY,
    UNMATCHED_KEY,
)
from acct_pipeline.defs.resources import WarehouseResource
from acct_pipeline.read_copy import publish, read_copy_path


@dg.asset(
    key=READ_COPY_KEY,
    group_name="publish",
    kinds={"duckdb"},
    # Last in the daily job: after the report and the CRM sync, so the copy holds the whole day.
    # A blocking check that fails upstream skips it, and readers keep the previous day.
    deps=[SCORE_REPORT_KEY, CRM_SYNC_KEY, UNMATCHED_KEY, DUPLICATE_DOMAINS_KEY, AUDIENCES_KEY],
)
def read_copy(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """A consistent read-only copy of what people read (scores, signals, validation, accounts,
    identity, quarantine, sync ledger, alerts, CRM and billing snapshots) in
    ``warehouse.read.duckdb`` beside the warehouse (``ACCT_READ_COPY`` overrides). It replaces
    the previous copy atomically, so the CLI, notebooks and BI tools read the last complete day
    while the next run writes (DuckDB lets no other process open the warehouse meanwhile)."""
    path = warehouse.resolved_path()
    with warehouse.connect() as con:
        done = publish(con, read_copy_path(path if warehouse.path else None), path)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(done.path.resolve())),
            "tables": dg.MetadataValue.int(done.tables),
            "rows": dg.MetadataValue.int(done.rows),
            "seconds": dg.MetadataValue.float(round(done.seconds, 2)),
        }
    )
