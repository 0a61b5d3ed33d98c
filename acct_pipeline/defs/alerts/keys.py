"""Check and job names the automation refers to (one place, no literals elsewhere); the asset
and metadata keys come from ``acct_pipeline.defs.keys``."""

import dagster as dg

from acct_pipeline.defs.keys import (
    ACCOUNTS_KEY,
    ALERTS_KEY,
    DROPPED_ACCOUNTS,
    DROPPED_ACCOUNTS_BY_DAY,
    SCORES_KEY,
)

__all__ = [
    "ACCOUNTS_KEY",
    "ALERTS_GROUP",
    "ALERTS_JOB_NAME",
    "ALERTS_KEY",
    "DROPPED_ACCOUNTS",
    "DROPPED_ACCOUNTS_BY_DAY",
    "FRESHNESS_CHECK",
    "FRESHNESS_CHECK_KEY",
    "SCORES_KEY",
]

ALERTS_GROUP = "alerts"

FRESHNESS_CHECK = "scores_fresh"
FRESHNESS_CHECK_KEY = dg.AssetCheckKey(SCORES_KEY, FRESHNESS_CHECK)

ALERTS_JOB_NAME = "score_drop_alerts_job"
