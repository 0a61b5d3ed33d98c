"""The report's first page, for a VP: accounts and ARR per tier, ARR at risk, what moved this week,
the accounts to call, and one line on each model-quality measure.

Numbers are computed here (SQL over the warehouse, account-sized frames) and rendered by the
Jinja2 template ``templates/executive.html.j2``; formatting for people (percentages, thousands,
money) lives in the template's filters, so the figures stay numbers until the page is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import jinja2

from acct_pipeline.scoring.explain import labelled_reasons
from acct_pipeline.scoring.model import HEALTH, ScoringModel, load_model
from acct_pipeline.scoring.rules import evaluate_model
from acct_pipeline.scoring.validation.revenue import AT_RISK_TIER_COUNT, revenue_view
from acct_pipeline.warehouse import ACCOUNT_SCORES, ACCOUNT_SIGNALS, ACCOUNTS, table_columns

TEMPLATES = Path(__file__).parent / "templates"
TOP_ACCOUNTS = 10
TOP_MOVERS = 5
WEEK = 7

# One line per measure, in plain words (shown beside the numbers on the model-quality section).
MEASURES: dict[str, str] = {
    "ROC-AUC": "How well the score ranks accounts that churned below those that stayed: 0.5 is a "
    "coin toss, 1.0 perfect; 0.7-0.9 is useful, above 0.95 usually means the score saw the answer.",
    "Brier": "The average squared gap between the churn probability and what happened (0 = "
    "perfect; lower is better). It checks that a 30 % probability means about 3 in 10 churn.",
    "PSI": "Population stability index: how much the score distribution moved from one day to the "
    "next. Below 0.10 is stable, above 0.25 means the scores shifted (data or model change).",
    "Lift": "How many times more churn the riskiest 10 % of accounts have than the average "
    "account: 3x means a CSM calling that list finds three times the churn of a random list.",
}


@dataclass
class TierRow:
    tier: str
    accounts: int
    arr: float
    share: float  # of accounts
    nrr: float | None = None  # accounts in this tier at the revenue window's start
    expansion_arr: float | None = None


@dataclass
class Executive:
    as_of: date
    week_from: date
    tiers: list[TierRow]
    accounts: int
    arr: float
    arr_at_risk: float
    at_risk_accounts: int
    moved_up: int
    moved_down: int
    top_up: list[dict[str, Any]]
    top_down: list[dict[str, Any]]
    top_accounts: list[dict[str, Any]]
    nrr: float | None = None
    expansion_arr: float | None = None
    revenue_from: date | None = None  # the revenue window's first day (NRR, expansion)
    measures: dict[str, str] = field(default_factory=lambda: dict(MEASURES))
    quality: dict[str, Any] = field(default_factory=dict)


def _who(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    """SQL for the account's name and owner (NULL where the accounts table lacks them)."""
    cols = table_columns(con, ACCOUNTS)
    return (
        "a.name" if "name" in cols else "NULL",
        "a.owner_email" if "owner_email" in cols else "NULL",
    )


def _accounts_join(con: duckdb.DuckDBPyConnection) -> str:
    return (
        f"LEFT JOIN {ACCOUNTS} a ON a.account_id = s.account_id"
        if table_columns(con, ACCOUNTS)
        else ""
    )


def at_risk_tiers(model: ScoringModel) -> list[str]:
    """The tiers whose ARR counts as "at risk": the model's worst ``AT_RISK_TIER_COUNT``."""
    return model.tiers.names[-AT_RISK_TIER_COUNT:]


def _movers(
    con: duckdb.DuckDBPyConnection, day: date, earlier: date, tier_names: list[str]
) -> list[dict[str, Any]]:
    rank = {t: i for i, t in enumerate(tier_names)}
    name, owner = _who(con)
    rows = con.execute(
        f"""SELECT s.account_id, {name}, {owner}, p.tier AS was, s.tier AS now,
                   s.health_score - p.health_score AS delta
            FROM {ACCOUNT_SCORES} s JOIN {ACCOUNT_SCORES} p
              ON p.account_id = s.account_id AND p.as_of_date = ?
            {_accounts_join(con)}
            WHERE s.as_of_date = ? AND s.tier IS NOT NULL AND p.tier IS NOT NULL
              AND s.tier <> p.tier""",
        [earlier, day],
    ).fetchall()
    out = []
    for acc, name, owner, was, now, delta in rows:
        if was in rank and now in rank:
            out.append(
                {
                    "account_id": acc,
                    "name": name,
                    "owner": owner,
                    "was": was,
                    "now": now,
                    "delta": float(delta) if delta is not None else None,
                    "up": rank[now] < rank[was],
                }
            )
    return out


def _top_accounts(
    con: duckdb.DuckDBPyConnection, day: date, model: ScoringModel
) -> list[dict[str, Any]]:
    has_mrr = "mrr" in table_columns(con, ACCOUNT_SIGNALS)
    mrr = "g.mrr" if has_mrr else "NULL"
    name, owner = _who(con)
    cols = table_columns(con, ACCOUNT_SCORES)
    prob = "s.churn_probability" if "churn_probability" in cols else "NULL"
    playbook = "s.recommended_playbook" if "recommended_playbook" in cols else "NULL"
    rows = con.execute(
        f"""SELECT s.account_id, {name} AS name, {owner} AS owner, s.tier, s.health_score,
                   {prob} AS churn_probability, {playbook} AS recommended_playbook,
                   12 * {mrr} AS arr
            FROM {ACCOUNT_SCORES} s
            {_accounts_join(con)}
            LEFT JOIN {ACCOUNT_SIGNALS} g ON g.account_id = s.account_id AND g.as_of_date = ?
            WHERE s.as_of_date = ? AND list_contains(?, s.tier)
            ORDER BY {prob} DESC NULLS LAST, s.health_score, s.account_id
            LIMIT {TOP_ACCOUNTS}""",
        [day, day, at_risk_tiers(model)],
    ).df()
    if rows.empty:
        return []
    ids = rows["account_id"].tolist()
    if not table_columns(con, ACCOUNT_SIGNALS):
        return [dict(r, reasons=[]) for r in rows.to_dict("records")]
    signals = con.execute(
        f"SELECT * FROM {ACCOUNT_SIGNALS} WHERE as_of_date = ? AND list_contains(?, account_id)",
        [day, ids],
    ).df()
    risks: dict[str, list[str]] = {}
    if not signals.empty:
        health = evaluate_model(model, signals)[0][HEALTH]
        for acc, r in zip(
            signals["account_id"], labelled_reasons(health, signals, limit=3), strict=True
        ):
            told = [t.rsplit(" (", 1)[0] if t.endswith("pts)") else t for t in r.caps + r.risks]
            risks[acc] = told[:3]
    out = []
    for r in rows.to_dict("records"):
        r["reasons"] = risks.get(r["account_id"], [])
        out.append(r)
    return out


def executive_summary(
    con: duckdb.DuckDBPyConnection,
    day: date,
    quality: dict[str, Any] | None = None,
    model: ScoringModel | None = None,
) -> Executive:
    """The figures of the first page for ``day`` (the report's latest scored day)."""
    model = model or load_model()
    has_mrr = "mrr" in table_columns(con, ACCOUNT_SIGNALS)
    mrr = "g.mrr" if has_mrr else "0"
    signals_join = (
        f"LEFT JOIN {ACCOUNT_SIGNALS} g ON g.account_id = s.account_id AND g.as_of_date = ?"
        if has_mrr
        else "LEFT JOIN (SELECT ?) g ON true"
    )
    tier_rows = con.execute(
        f"""SELECT s.tier, count(*), coalesce(sum(12 * {mrr}), 0)
            FROM {ACCOUNT_SCORES} s {signals_join}
            WHERE s.as_of_date = ? AND s.tier IS NOT NULL GROUP BY 1""",
        [day, day],
    ).fetchall()
    counts = {t: (int(n), float(a)) for t, n, a in tier_rows}
    total = sum(n for n, _ in counts.values())
    names = model.tiers.names
    order = [t for t in names if t in counts] + sorted(t for t in counts if t not in names)
    revenue = revenue_view(con, day, tier_names=names)
    by_tier = revenue.by_tier() if revenue else {}
    tiers = [
        TierRow(
            t,
            counts[t][0],
            counts[t][1],
            counts[t][0] / total if total else 0.0,
            by_tier[t].nrr if t in by_tier else None,
            by_tier[t].expansion_arr if t in by_tier else None,
        )
        for t in order
    ]
    earlier = day - timedelta(days=WEEK)
    moves = _movers(con, day, earlier, names)
    up = sorted((m for m in moves if m["up"]), key=lambda m: -(m["delta"] or 0))
    down = sorted((m for m in moves if not m["up"]), key=lambda m: m["delta"] or 0)
    return Executive(
        as_of=day,
        week_from=earlier,
        tiers=tiers,
        accounts=total,
        arr=sum(a for _, a in counts.values()),
        arr_at_risk=sum(counts[t][1] for t in at_risk_tiers(model) if t in counts),
        at_risk_accounts=sum(counts[t][0] for t in at_risk_tiers(model) if t in counts),
        moved_up=len(up),
        moved_down=len(down),
        top_up=up[:TOP_MOVERS],
        top_down=down[:TOP_MOVERS],
        top_accounts=_top_accounts(con, day, model),
        quality=quality or {},
        nrr=revenue.nrr if revenue else None,
        expansion_arr=revenue.expansion_arr if revenue else None,
        revenue_from=revenue.start if revenue else None,
    )


def _money(value: float | None) -> str:
    if value is None or value != value:
        return "-"
    if abs(value) >= 1_000_000:
        return f"${value / 1_000_000:,.1f}M"
    if abs(value) >= 10_000:
        return f"${value / 1_000:,.0f}k"
    return f"${value:,.0f}"


def _pct(value: float | None, digits: int = 0) -> str:
    return "-" if value is None or value != value else f"{value:.{digits}%}"


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None or value != value else f"{value:,.{digits}f}"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(money=_money, pct=_pct, num=_num)
    return env


def render_executive(summary: Executive) -> str:
    """The first page as an HTML fragment (a ``<section id="executive">``)."""
    return environment().get_template("executive.html.j2").render(x=summary)
