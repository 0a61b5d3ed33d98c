"""The sample generator's scenarios: independent synthetic companies with different mechanics.

``default`` is the company of ``generator.py`` (churn follows a hidden health level; NPS, CSAT,
tickets and product tracking for every account). ``renewal`` (``renewal.py``) is an independent
B2B book: churn decided at renewal by the adoption trend and champion loss, no NPS, a fifth of the
accounts without product tracking, Title Case event names. Both write the same landing contract,
``_manifest.json`` and ``_truth/outcomes.csv``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from acct_pipeline.sample import renewal
from acct_pipeline.sample.generator import (
    DEFAULT_EVENTS_PER_ACCOUNT_DAY,
    Simulation,
    run_simulation,
)

DEFAULT_SCENARIO = "default"
SCENARIOS: dict[str, type[Simulation]] = {
    DEFAULT_SCENARIO: Simulation,
    renewal.NAME: renewal.RenewalSimulation,
}


def generate_sample(
    out_dir: str | Path,
    accounts: int = 2000,
    days: int = 180,
    seed: int = 7,
    end_date: date = date(2026, 10, 31),
    progress: Callable[[str], None] | None = None,
    *,
    events_per_account_day: float = DEFAULT_EVENTS_PER_ACCOUNT_DAY,
    scenario: str = DEFAULT_SCENARIO,
) -> dict:
    """``generator.generate_sample`` for any scenario (``SCENARIOS``); ``default`` gives the same
    bytes as ``generator.generate_sample`` with the same arguments."""
    if scenario not in SCENARIOS:
        raise ValueError(
            f"generate_sample: unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}"
        )
    return run_simulation(
        SCENARIOS[scenario],
        out_dir,
        accounts,
        days,
        seed,
        end_date,
        progress,
        events_per_account_day,
    )
