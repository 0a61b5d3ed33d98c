"""Jobs: the whole pipeline for a day (or a range of days, in one run)."""

import dagster as dg

DAILY_JOB_NAME = "daily_scoring"

daily_scoring = dg.define_asset_job(
    DAILY_JOB_NAME,
    selection=dg.AssetSelection.all(),
    description=(
        "Everything for one as-of day: refresh the CRM and billing snapshots, load the day's "
        "product events, match identities, compute signals and scores, run the checks."
    ),
)
