"""The blocking-check guard the sync uses outside Dagster (CLI) and inside it (belt and braces)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from acct_pipeline import warehouse


def scores_guard(path: str | Path | None = None):
    """A ``partition_passed_checks`` callable: the blocking score rules re-run on that day.

    Returns the list of broken rules (empty = the day may be synced).
    """

    def _problems(as_of: date) -> list[str]:
        from acct_pipeline.quality.guard import scores_partition_problems

        with warehouse.connect(path) as con:
            return scores_partition_problems(con, as_of)

    return _problems
