"""Jobs: the whole pipeline for a day (or a range of days, in one run), and the alert run."""

import dagster as dg

from acct_pipeline.defs.alerts.keys import (
    ALERTS_GROUP,
    ALERTS_JOB_NAME,
    ALERTS_KEY,
    FRESHNESS_CHECK_KEY,
)
from acct_pipeline.defs.keys import CRM_SYNC_KEY

DAILY_JOB_NAME = "daily_scoring"

# Everything except the alerts (launched per day by the score-drop sensor, so a backfill through
# this job never pages anyone) and the freshness check (it judges this job from the outside, on
# the wall clock, so it must not run inside a backfill of old days).
DAILY_SELECTION = (
    dg.AssetSelection.all()
    - dg.AssetSelection.groups(ALERTS_GROUP)
    - dg.AssetSelection.checks(FRESHNESS_CHECK_KEY)
)
daily_scoring = dg.define_asset_job(
    DAILY_JOB_NAME,
    selection=DAILY_SELECTION,
    description=(
        "Everything for one as-of day, in dependency order: refresh the CRM and billing "
        "snapshots, load the day's product events, match identities, compute signals and scores, "
        "run the checks, refresh the validation, sync the scores to the CRM. A date range runs "
        "as one run (single-run backfill): DuckDB has one writer."
    ),
)

score_drop_alerts_job = dg.define_asset_job(
    ALERTS_JOB_NAME,
    selection=dg.AssetSelection.assets(ALERTS_KEY),
    description=(
        "Detect and deliver one day's score-drop alerts. Launched by the score_drop_sensor for "
        "each new scores partition with drops; rerunning it never sends an alert twice."
    ),
)


RECONCILE_JOB_NAME = "crm_reconcile"
SYNC_KEY = CRM_SYNC_KEY

crm_reconcile_job = dg.define_asset_job(
    RECONCILE_JOB_NAME,
    selection=dg.AssetSelection.assets(SYNC_KEY),
    config={"ops": {"sync__crm_score_sync": {"config": {"reconcile": True}}}},
    description=(
        "Read the mapped score fields back from the CRM and rewrite the records that drifted "
        "(edited by hand, a restored or emptied portal), then sync the day as usual. Run weekly "
        "by crm_reconcile_schedule (ACCT_SYNC_RECONCILE_CRON)."
    ),
)
