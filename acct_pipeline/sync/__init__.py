"""Reverse ETL: write account scores back to CRM fields — only changes, batched, nothing lost.

Public API (no Dagster here; ``defs/`` wires it into the ``sync.crm_score_sync`` asset and the
CLI)::

    from acct_pipeline.sync import SyncSettings, run_sync
    report = run_sync(lambda: warehouse.connect(), SyncSettings.from_env(), day,
                      partition_passed_checks=True, dry_run=False, force=False)
    report.to_metadata(); report.summary_text()
"""

from acct_pipeline.sync.command import sync_command
from acct_pipeline.sync.engine import (
    ChecksGuard,
    SyncError,
    SyncRefused,
    failed_checks,
    latest_scored_date,
    new_run_id,
    run_sync,
)
from acct_pipeline.sync.mapping import (
    FieldMapping,
    FieldSpec,
    MappingError,
    default_fields,
    load_mapping,
)
from acct_pipeline.sync.report import SyncReport
from acct_pipeline.sync.settings import SyncConfigError, SyncSettings

__all__ = [
    "default_fields",
    "ChecksGuard",
    "FieldMapping",
    "FieldSpec",
    "MappingError",
    "SyncConfigError",
    "SyncError",
    "SyncRefused",
    "SyncReport",
    "SyncSettings",
    "failed_checks",
    "latest_scored_date",
    "load_mapping",
    "new_run_id",
    "run_sync",
    "sync_command",
]
