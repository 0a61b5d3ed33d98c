"""Asset keys, check and job names the automation refers to (one place, no literals elsewhere)."""

import dagster as dg

SCORES_KEY = dg.AssetKey(["scores", "account_scores"])
ACCOUNTS_KEY = dg.AssetKey(["staging", "accounts"])
ALERTS_KEY = dg.AssetKey(["alerts", "score_drop_alerts"])
ALERTS_GROUP = "alerts"

FRESHNESS_CHECK = "scores_fresh"
FRESHNESS_CHECK_KEY = dg.AssetCheckKey(SCORES_KEY, FRESHNESS_CHECK)

ALERTS_JOB_NAME = "score_drop_alerts_job"

# Materialization metadata the scores asset records per day (see acct_pipeline.alerts.count_drops):
# the score-drop sensor reads it instead of opening the warehouse.
DROPPED_ACCOUNTS = "dropped_accounts"  # int: drop events on the materialized day
DROPPED_ACCOUNTS_BY_DAY = "dropped_accounts_by_day"  # json {"YYYY-MM-DD": n}, for multi-day runs
