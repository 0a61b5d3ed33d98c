"""The asset keys and the materialization-metadata keys of the pipeline, defined once.

A leaf module (it imports only Dagster): the assets declare themselves with these keys, and
everything that refers to an asset (dependencies, checks, jobs, sensors) or reads what an asset
recorded (the score-drop sensor, the row-count check) uses the same constants, so a rename is
one edit and cannot silently leave a reader behind.
"""

import dagster as dg

# ------------------------------------------------------------------------------- asset keys
INGEST_PREFIX = "ingest"


def ingest_key(table: str) -> dg.AssetKey:
    """The raw copy of one source table (``ingest.<table>``)."""
    return dg.AssetKey([INGEST_PREFIX, table])


ACCOUNTS_KEY = dg.AssetKey(["staging", "accounts"])
IDENTITY_MAP_KEY = dg.AssetKey(["staging", "identity_map"])
UNMATCHED_KEY = dg.AssetKey(["staging", "unmatched_records"])
DUPLICATE_DOMAINS_KEY = dg.AssetKey(["staging", "duplicate_domains"])
STAGED_TOUCHES_KEY = dg.AssetKey(["staging", "marketing_touches"])
SIGNALS_KEY = dg.AssetKey(["features", "account_signals"])
SCORES_KEY = dg.AssetKey(["scores", "account_scores"])
ROLLUPS_KEY = dg.AssetKey(["scores", "account_rollups"])
SCORE_VALIDATION_KEY = dg.AssetKey(["scores", "score_validation"])
SCORE_REPORT_KEY = dg.AssetKey(["scores", "score_report"])
ALERTS_KEY = dg.AssetKey(["alerts", "score_drop_alerts"])
CRM_SYNC_KEY = dg.AssetKey(["sync", "crm_score_sync"])
READ_COPY_KEY = dg.AssetKey(["publish", "read_copy"])
AUDIENCES_KEY = dg.AssetKey(["alerts", "audience_membership"])  # in the daily job (group actions)
LIFECYCLE_ALERTS_KEY = dg.AssetKey(["alerts", "lifecycle_event_alerts"])  # trigger runs only

# ------------------------------------------------------------------ materialization metadata
# Written by the scores asset per run (see acct_pipeline.alerts.drop_counts); the score-drop
# sensor reads them instead of opening the warehouse.
DROPPED_ACCOUNTS = "dropped_accounts"  # int: drop events on the materialized day(s)
DROPPED_ACCOUNTS_BY_DAY = "dropped_accounts_by_day"  # json {"YYYY-MM-DD": n}, for multi-day runs
# Written by every ingest asset (its load result); the volume check reads the previous load's.
ROWS_KEPT = "rows_kept"
# Written by the rollups asset: parents rolled up from their children on the materialized day(s).
ROLLUP_PARENTS = "rollup_parents"
# Tags of a lifecycle-event trigger run (defs/triggers.py): which trigger kinds, accounts, events.
TRIGGER_TAG = "acct/trigger"
TRIGGER_ACCOUNTS_TAG = "acct/trigger_accounts"
TRIGGER_EVENTS_TAG = "acct/trigger_events"
