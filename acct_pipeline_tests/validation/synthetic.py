"""A tiny hand-made warehouse with known outcomes, for fast validation / backtest tests.

It does not need the sample generator or the scoring engine: billing, identity, accounts,
signals and scores are written directly, with a hidden health per account that drives both the
scores and churn, so the numbers have a known direction.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from acct_pipeline import warehouse as wh

START = date(2026, 6, 1)
DAYS = 60
ACCOUNTS = 200


def _tier(score: float) -> str:
    if score >= 90:
        return "Healthy"
    if score >= 70:
        return "At-Risk"
    if score >= 50:
        return "Concerning"
    return "Critical"


def build(
    path: Path,
    accounts: int = ACCOUNTS,
    days: int = DAYS,
    seed: int = 3,
    with_probability: bool = True,
) -> Path:
    rng = np.random.default_rng(seed)
    health = rng.uniform(0, 1, accounts)
    ids = [f"A{i:04d}" for i in range(accounts)]
    loaded = datetime(2026, 11, 1)

    subs, invoices, idmap, accts = [], [], [], []
    churn_on: dict[str, date] = {}
    for i, acc in enumerate(ids):
        cust = f"cus_{i}"
        idmap.append(("billing", cust, acc, "explicit_id", None))
        accts.append(
            (acc, f"Company {i}", ["EMEA", "NA", "APAC"][i % 3], ["saas", "retail"][i % 2], 10 + i)
        )
        started = datetime(2025, 1, 1) + timedelta(days=int(rng.integers(0, 300)))
        # low health churns inside the window; high health renews inside the window
        if health[i] < 0.3 and rng.random() < 0.8:
            ended = datetime.combine(START, datetime.min.time()) + timedelta(
                days=int(rng.integers(10, days + 20))
            )
            churn_on[acc] = ended.date()
            subs.append(
                (
                    f"sub_{i}",
                    cust,
                    "growth",
                    "canceled",
                    10,
                    500.0,
                    "usd",
                    started,
                    started,
                    ended,
                    ended - timedelta(days=30),
                    ended,
                )
            )
        else:
            renewed = datetime.combine(START, datetime.min.time()) + timedelta(
                days=int(rng.integers(5, max(days, 6)))
            )
            term_start = renewed if health[i] > 0.5 else started
            subs.append(
                (
                    f"sub_{i}",
                    cust,
                    ["starter", "enterprise"][i % 2],
                    "active",
                    10,
                    500.0,
                    "usd",
                    started,
                    term_start,
                    term_start + timedelta(days=365),
                    None,
                    None,
                )
            )
        # three invoices; healthy ones expand, the weakest contract
        for k in range(3):
            mrr = 500.0 + (
                100.0 * k if health[i] > 0.8 else (-100.0 * k if health[i] < 0.1 else 0.0)
            )
            p = datetime(2026, 6, 1) + timedelta(days=30 * k)
            invoices.append(
                (f"in_{i}_{k}", cust, f"sub_{i}", p, p, p + timedelta(days=30), mrr, 10 + k)
            )

    score_rows, signal_rows = [], []
    for d in range(days):
        day = START + timedelta(days=d)
        for i, acc in enumerate(ids):
            if acc in churn_on and churn_on[acc] <= day:
                continue
            s = float(np.clip(100 * health[i] + rng.normal(0, 8), 0, 100))
            p = float(np.clip(1 - health[i] + rng.normal(0, 0.1), 0.001, 0.999))
            score_rows.append(
                (acc, day, round(s, 1), _tier(s), p if with_probability else None, "synthetic-1")
            )
            users = None if i % 10 == 0 else round(50 * health[i] + rng.normal(0, 2), 1)
            signal_rows.append((acc, day, users, round(health[i], 3), "growth"))

    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    wh.ensure_core_tables(con)
    sub_cols = [
        "subscription_id",
        "customer_id",
        "plan",
        "status",
        "seats",
        "mrr",
        "currency",
        "started_at",
        "term_start",
        "term_end",
        "canceled_at",
        "ended_at",
    ]
    inv_cols = [
        "invoice_id",
        "customer_id",
        "subscription_id",
        "created_at",
        "period_start",
        "period_end",
        "mrr",
        "seats",
    ]
    subs_df = pd.DataFrame(subs, columns=sub_cols)
    inv_df = pd.DataFrame(invoices, columns=inv_cols)
    for df in (subs_df, inv_df):
        df["_source"] = "test"
        df["_loaded_at"] = loaded
    inv_df["status"] = "paid"
    con.register("subs_df", subs_df)
    con.register("inv_df", inv_df)
    con.execute(f"INSERT INTO {wh.BILLING_SUBSCRIPTIONS.qualified} BY NAME SELECT * FROM subs_df")
    con.execute(f"INSERT INTO {wh.BILLING_INVOICES.qualified} BY NAME SELECT * FROM inv_df")
    id_df = pd.DataFrame(
        idmap, columns=["source_system", "source_id", "account_id", "match_method", "domain"]
    )
    acc_df = pd.DataFrame(accts, columns=["account_id", "name", "region", "industry", "employees"])
    con.register("id_df", id_df)
    con.register("acc_df", acc_df)
    con.execute(f"CREATE TABLE {wh.IDENTITY_MAP} AS SELECT * FROM id_df")
    con.execute(f"CREATE TABLE {wh.ACCOUNTS} AS SELECT * FROM acc_df")
    scores = pd.DataFrame(
        score_rows,
        columns=[
            "account_id",
            "as_of_date",
            "health_score",
            "tier",
            "churn_probability",
            "model_version",
        ],
    )
    signals = pd.DataFrame(
        signal_rows,
        columns=["account_id", "as_of_date", "active_users_30d", "hidden_health", "plan"],
    )
    con.register("s_df", scores)
    con.register("g_df", signals)
    con.execute(
        f"CREATE TABLE {wh.ACCOUNT_SCORES} AS SELECT account_id, "
        "CAST(as_of_date AS DATE) AS as_of_date, health_score, tier, "
        + ("churn_probability, " if with_probability else "")
        + "model_version FROM s_df"
    )
    con.execute(
        f"CREATE TABLE {wh.ACCOUNT_SIGNALS} AS SELECT account_id, "
        "CAST(as_of_date AS DATE) AS as_of_date, "
        "active_users_30d, hidden_health, plan FROM g_df"
    )
    con.close()
    return path


if __name__ == "__main__":  # pragma: no cover
    build(Path("/tmp/synthetic.duckdb"))
