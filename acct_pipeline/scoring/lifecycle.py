"""Lifecycle status beside the health tier: Active, Onboarding or Churned.

A health tier says how an account that is still a customer is doing; some accounts are not in
that position, and treating them as if they were misleads:

- **Churned** — the account had subscriptions and none is live on the day (the last one ended).
  A terminal status, not a health tier: no score, tier, trend, playbook or churn probability,
  no alerts, left out of tier churn rates and AUCs after its churn date. The CRM receives the
  status once (the other fields keep what they last showed). An account that subscribes again
  becomes Active again.
- **Onboarding** — a customer (or, without billing, a CRM account) younger than
  ``lifecycle.onboarding_days`` (default 35: the longest usage window, so its usage signals are
  still filling up). Scored as usual — a segment can give it other weights
  (``when: {lifecycle_status: [Onboarding]}``) — and marked, so nobody reads a young account's
  thin usage history as decline.
- **Active** — everything else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from acct_pipeline.scoring.model import ScoringModel

ACTIVE = "Active"
ONBOARDING = "Onboarding"
CHURNED = "Churned"
STATUSES: tuple[str, ...] = (ACTIVE, ONBOARDING, CHURNED)


def _col(signals: pd.DataFrame, name: str) -> np.ndarray:
    if name not in signals:
        return np.full(len(signals), np.nan)
    return pd.to_numeric(signals[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def lifecycle_status(signals: pd.DataFrame, model: ScoringModel) -> np.ndarray:
    """Each row's status from its signals (``has_active_subscription``,
    ``days_since_subscription_ended``, ``customer_age_days``, ``account_age_days``)."""
    live = _col(signals, "has_active_subscription")
    ended = _col(signals, "days_since_subscription_ended")
    churned = (live == 0) & ~np.isnan(ended)
    age = _col(signals, "customer_age_days")
    age = np.where(np.isnan(age), _col(signals, "account_age_days"), age)
    with np.errstate(invalid="ignore"):
        young = age < model.lifecycle.onboarding_days
    out = np.full(len(signals), ACTIVE, dtype=object)
    out[young & ~churned] = ONBOARDING
    out[churned] = CHURNED
    return out
