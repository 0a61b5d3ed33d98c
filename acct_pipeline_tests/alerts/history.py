"""A tiny, hand-made scores history for alert tests: exact numbers, no pipeline run needed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path

from acct_pipeline import warehouse

ACCOUNTS = (
    # account_id, name, owner_id, owner_email
    ("9100000001", "Acme Corp", "501", "ana@vendor.test"),
    ("9100000002", "Beta GmbH", "502", "ben@vendor.test"),
    ("9100000003", "Gamma Ltd", "501", "ana@vendor.test"),
)


def tier_of(score: float) -> str:
    return (
        "Healthy"
        if score >= 90
        else "At-Risk"
        if score >= 70
        else "Concerning"
        if score >= 50
        else "Critical"
    )


def write_history(
    db: Path,
    scores: Mapping[str, Sequence[float]],
    start: date,
    *,
    full_engine: bool = False,
) -> list[date]:
    """Write ``scores[account][i]`` as the health score on ``start + i`` days; return the days.

    ``full_engine`` adds the scoring engine's columns (score_delta_7d, reason_codes, playbook).
    """
    n = max(len(v) for v in scores.values())
    days = [start + timedelta(days=i) for i in range(n)]
    with warehouse.connect(db) as con:
        con.execute(
            f"CREATE OR REPLACE TABLE {warehouse.ACCOUNTS} AS SELECT * FROM (VALUES "
            + ", ".join("(?, ?, ?, ?)" for _ in ACCOUNTS)
            + ") t(account_id, name, owner_id, owner_email)",
            [v for row in ACCOUNTS for v in row],
        )
        extra = (
            ", score_delta_7d DOUBLE, reason_codes VARCHAR[], recommended_playbook VARCHAR"
            if full_engine
            else ""
        )
        con.execute(
            f"CREATE OR REPLACE TABLE {warehouse.ACCOUNT_SCORES} ("
            "account_id VARCHAR, as_of_date DATE, "
            f"health_score DOUBLE, tier VARCHAR, model_version VARCHAR{extra})"
        )
        for account, series in scores.items():
            for i, score in enumerate(series):
                row = [account, days[i], score, tier_of(score), "test-1"]
                if full_engine:
                    delta = score - series[i - 7] if i >= 7 else None
                    row += [
                        delta,
                        ["active users down 42% vs prior 28 days", "1 invoice overdue"],
                        "exec-sponsor-call",
                    ]
                con.execute(
                    f"INSERT INTO {warehouse.ACCOUNT_SCORES} "
                    f"VALUES ({', '.join('?' for _ in row)})",
                    row,
                )
    return days
