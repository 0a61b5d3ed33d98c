"""The sample's days as partition bounds: `make demo` and `make dev` show exactly its history.

``python -m acct_pipeline.sample.period`` prints ``ACCT_PARTITIONS_START=… ACCT_PARTITIONS_END=…``
for the sample in the landing folder (nothing when there is no sample, or when either variable is
already set): the Makefile passes them to ``dagster dev`` (``env $(…)``).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from acct_pipeline.connectors.catalogue import landing_dir
from acct_pipeline.settings import environ

START_ENV = "ACCT_PARTITIONS_START"  # as in defs/partitions.py (no dagster import here)
END_ENV = "ACCT_PARTITIONS_END"


def sample_period(root: Path | None = None) -> tuple[date, date] | None:
    """The first and last day of the generated sample in ``root`` (default: the landing dir)."""
    path = Path(root or landing_dir()) / "_manifest.json"
    if not path.exists():
        return None
    period = json.loads(path.read_text())["period"]
    return date.fromisoformat(period["start"]), date.fromisoformat(period["end"])


def partition_env(root: Path | None = None) -> dict[str, str]:
    """The bounds to set for the sample in ``root``; {} when set already or there is no sample."""
    env = environ()
    if env.get(START_ENV) or env.get(END_ENV):
        return {}
    period = sample_period(root)
    if period is None:
        return {}
    return {START_ENV: period[0].isoformat(), END_ENV: period[1].isoformat()}


if __name__ == "__main__":
    print(" ".join(f"{k}={v}" for k, v in partition_env().items()))
