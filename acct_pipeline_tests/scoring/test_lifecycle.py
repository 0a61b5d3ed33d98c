"""Lifecycle status from the day's signals: Churned, Onboarding or Active."""

from __future__ import annotations

import numpy as np
import pandas as pd

from acct_pipeline.scoring.lifecycle import lifecycle_status
from acct_pipeline.scoring.model import load_model


def test_statuses_from_subscriptions_and_age() -> None:
    nan = np.nan
    signals = pd.DataFrame(
        {
            # live sub | days since a sub ended | customer age | CRM age
            "has_active_subscription": [0, 1, 1, 0, nan, 0, 1],
            "days_since_subscription_ended": [12, 30, nan, nan, nan, 3, nan],
            "customer_age_days": [400, 500, 10, nan, nan, 20, 400],
            "account_age_days": [900, 900, 900, 5, 20, 30, 40],
        }
    )
    got = lifecycle_status(signals, load_model()).tolist()
    assert got == [
        "Churned",  # had subscriptions, none live: out of the book
        "Active",  # an old subscription ended but another is live
        "Onboarding",  # a customer for 10 days (the CRM record is older)
        "Onboarding",  # billing linked, no subscription started yet: the CRM age decides
        "Onboarding",  # no billing at all, a young CRM account
        "Churned",  # churned young: churned wins
        "Active",
    ]


def test_the_onboarding_window_comes_from_the_model() -> None:
    model = load_model()
    short = model.model_copy(
        update={"lifecycle": model.lifecycle.model_copy(update={"onboarding_days": 5})}
    )
    signals = pd.DataFrame({"customer_age_days": [4.0, 10.0], "account_age_days": [4.0, 10.0]})
    assert lifecycle_status(signals, short).tolist() == ["Onboarding", "Active"]
    assert lifecycle_status(signals, model).tolist() == ["Onboarding", "Onboarding"]
