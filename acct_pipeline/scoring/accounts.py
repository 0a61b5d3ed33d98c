"""``acct-pipeline accounts``: the list that leads to ``explain`` — who, how healthy, and why.

One row per scored account on a day (default: the newest), filtered by tier, owner and trend,
riskiest first (lowest health; with ``trend="declining"`` the steepest 7-day drop first). The
top reason is the biggest *risk* recomputed from the day's signals (``explain.labelled_reasons``),
so a strength is never shown as the reason an account is in trouble.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from acct_pipeline.scoring.explain import labelled_reasons
from acct_pipeline.scoring.model import HEALTH, ScoringModel, load_model
from acct_pipeline.scoring.rules import evaluate_model
from acct_pipeline.warehouse import (
    ACCOUNT_SCORES,
    ACCOUNT_SIGNALS,
    ACCOUNTS,
    table_columns,
    table_exists,
)

COLUMNS = ("account_id", "name", "owner", "health_score", "tier", "score_delta_7d", "top_reason")


class AccountsError(LookupError):
    """Nothing to list: no scores, or no scores on the day asked for."""


@dataclass(frozen=True)
class AccountFilter:
    tier: str | None = None
    owner: str | None = None  # part of the owner's e-mail, any case
    trend: str | None = None  # improving / stable / declining
    limit: int = 20


def list_accounts(
    con: duckdb.DuckDBPyConnection,
    filters: AccountFilter = AccountFilter(),
    as_of: date | None = None,
    model: ScoringModel | None = None,
) -> tuple[date, pd.DataFrame]:
    """The day listed and its rows (``COLUMNS``), riskiest first, at most ``filters.limit``."""
    if not table_exists(con, ACCOUNT_SCORES):
        raise AccountsError("no scores yet: run the pipeline first (acct-pipeline demo)")
    if as_of is None:
        as_of = con.execute(f"SELECT max(as_of_date) FROM {ACCOUNT_SCORES}").fetchone()[0]
    if (
        as_of is None
        or not con.execute(
            f"SELECT 1 FROM {ACCOUNT_SCORES} WHERE as_of_date = ? LIMIT 1", [as_of]
        ).fetchone()
    ):
        raise AccountsError(f"no scores on {as_of}")
    where, params = ["s.as_of_date = ?"], [as_of]
    if filters.tier:
        where.append("lower(s.tier) = lower(?)")
        params.append(filters.tier)
    if filters.owner:
        where.append("contains(lower(a.owner_email), lower(?))")
        params.append(filters.owner)
    if filters.trend:
        where.append("lower(s.trend) = lower(?)")
        params.append(filters.trend)
    order = (
        "s.score_delta_7d ASC NULLS LAST, s.health_score"
        if (filters.trend or "").lower() == "declining"
        else "s.health_score ASC NULLS LAST"
    )
    status = (
        "s.lifecycle_status" if "lifecycle_status" in table_columns(con, ACCOUNT_SCORES) else "NULL"
    )
    rows = con.execute(
        f"""SELECT s.account_id, a.name, a.owner_email AS owner, s.health_score,
                   coalesce(s.tier, {status}) AS tier, s.score_delta_7d
            FROM {ACCOUNT_SCORES} s LEFT JOIN {ACCOUNTS} a USING (account_id)
            WHERE {" AND ".join(where)}
            ORDER BY {order}, s.account_id
            LIMIT {max(0, int(filters.limit))}""",
        params,
    ).df()
    rows["top_reason"] = _top_risks(con, rows["account_id"].tolist(), as_of, model)
    return as_of, rows.loc[:, list(COLUMNS)]


def _top_risks(
    con: duckdb.DuckDBPyConnection, ids: list[str], as_of: date, model: ScoringModel | None
) -> list[str]:
    if not ids or not table_exists(con, ACCOUNT_SIGNALS):
        return [""] * len(ids)
    signals = con.execute(
        f"SELECT * FROM {ACCOUNT_SIGNALS} WHERE as_of_date = ? AND list_contains(?, account_id)",
        [as_of, ids],
    ).df()
    if signals.empty:
        return [""] * len(ids)
    results, _ = evaluate_model(model or load_model(), signals)
    found = labelled_reasons(results[HEALTH], signals, limit=1)
    by_id = {
        acc: (r.caps + r.risks + [""])[0]
        for acc, r in zip(signals["account_id"], found, strict=True)
    }
    return [by_id.get(i, "") for i in ids]


def format_accounts(day: date, rows: pd.DataFrame) -> list[str]:
    """Aligned lines for a terminal; ids first, so any of them can go to ``explain``."""
    if rows.empty:
        return [f"no accounts match on {day}"]
    lines = [
        f"{'id':<11} {'name':<26} {'owner':<32} {'score':>5} {'tier':<11} {'Δ7d':>6}  top risk"
    ]
    for r in rows.itertuples(index=False):
        score = "-" if pd.isna(r.health_score) else f"{r.health_score:.1f}"
        delta = "-" if pd.isna(r.score_delta_7d) else f"{r.score_delta_7d:+.1f}"
        lines.append(
            f"{r.account_id:<11} {str(r.name or '')[:26]:<26} {str(r.owner or '-')[:32]:<32} "
            f"{score:>5} {str(r.tier or '-'):<11} {delta:>6}  {r.top_reason}"
        )
    lines.append(f"{len(rows)} account(s) on {day}; acct-pipeline explain <id or name> for one")
    return lines
