"""A hand-made warehouse with a few accounts, for signal and scoring tests that need SQL."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import duckdb

from acct_pipeline.warehouse import ACCOUNTS, IDENTITY_MAP, RAW_BY_NAME, ensure_core_tables

AS_OF = date(2026, 6, 30)


def ts(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour)


def insert(con: duckdb.DuckDBPyConnection, table: str, rows: Iterable[dict]) -> None:
    """Insert dicts into a raw table (missing columns NULL, loader columns filled)."""
    spec = RAW_BY_NAME[table]
    cols = spec.column_names + (["event_date"] if spec.partitioned else [])
    for row in rows:
        values = [row.get(c) for c in cols]
        if spec.partitioned and row.get("event_date") is None:
            values[-1] = row["occurred_at"].date()
        placeholders = ", ".join("?" for _ in cols)
        con.execute(
            f"INSERT INTO {spec.qualified} ({', '.join(cols)}, _source, _loaded_at) "
            f"VALUES ({placeholders}, 'test', now()::TIMESTAMP)",
            values,
        )


def build_tiny(con: duckdb.DuckDBPyConnection) -> None:
    """Three accounts: A (product + billing + CRM), B (CRM only), C (created after AS_OF)."""
    ensure_core_tables(con)
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {ACCOUNTS} AS
        SELECT * FROM (VALUES
            ('A', 'Acme', 'acme.com', 'software', 'EU', 200, 'customer', 'u1', 'o@x.com',
             TIMESTAMP '2025-01-01 00:00:00'),
            ('B', 'Beta', 'beta.com', 'retail', 'US', 20, 'onboarding', 'u2', 'p@x.com',
             TIMESTAMP '2026-03-01 00:00:00'),
            ('C', 'Cent', 'cent.com', 'retail', 'US', 5, 'customer', 'u2', 'p@x.com',
             TIMESTAMP '2026-07-15 00:00:00')
        ) t(account_id, name, domain, industry, region, employees, lifecycle_stage, owner_id,
            owner_email, created_at)
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {IDENTITY_MAP} AS
        SELECT * FROM (VALUES
            ('product', 'g-a', 'A', 'explicit_id'),
            ('billing', 'cus-a', 'A', 'domain')
        ) t(source_system, source_id, account_id, match_method)
        """
    )
    events = []
    # 4 users active in the last 7 days, 2 more only in the prior 28 days; 2 key features
    for i, day in enumerate(["2026-06-28", "2026-06-29", "2026-06-30", "2026-06-25"]):
        events.append(
            {
                "event_id": f"e{i}",
                "event_name": "report_created",
                "occurred_at": ts(day),
                "user_id": f"u{i}",
                "group_id": "g-a",
            }
        )
    for i, day in enumerate(["2026-06-10", "2026-06-05"]):
        events.append(
            {
                "event_id": f"p{i}",
                "event_name": "dashboard_viewed",
                "occurred_at": ts(day),
                "user_id": f"v{i}",
                "group_id": "g-a",
            }
        )
    insert(con, "product_events", events)
    insert(
        con,
        "billing_subscriptions",
        [
            {
                "subscription_id": "s1",
                "customer_id": "cus-a",
                "plan": "growth",
                "status": "active",
                "seats": 10,
                "mrr": 1000.0,
                "started_at": ts("2025-01-01"),
                "term_start": ts("2026-01-01"),
                "term_end": ts("2027-01-01"),
            },
        ],
    )
    insert(
        con,
        "billing_invoices",
        [
            {
                "invoice_id": "i1",
                "customer_id": "cus-a",
                "subscription_id": "s1",
                "created_at": ts("2026-03-01"),
                "period_start": ts("2026-03-01"),
                "due_date": ts("2026-03-15"),
                "amount_due": 800.0,
                "amount_paid": 800.0,
                "status": "paid",
                "attempt_count": 1,
                "paid_at": ts("2026-03-10"),
                "plan": "growth",
                "seats": 8,
                "mrr": 800.0,
            },
            {
                "invoice_id": "i2",
                "customer_id": "cus-a",
                "subscription_id": "s1",
                "created_at": ts("2026-06-01"),
                "period_start": ts("2026-06-01"),
                "due_date": ts("2026-06-15"),
                "amount_due": 1000.0,
                "amount_paid": 0.0,
                "status": "open",
                "attempt_count": 3,
                "plan": "growth",
                "seats": 10,
                "mrr": 1000.0,
            },
        ],
    )
    insert(
        con,
        "crm_activities",
        [
            {
                "activity_id": "a1",
                "company_id": "A",
                "contact_id": "c1",
                "activity_type": "meeting",
                "occurred_at": ts("2026-06-20"),
            },
            {
                "activity_id": "a2",
                "company_id": "A",
                "contact_id": "c2",
                "activity_type": "email_reply",
                "occurred_at": ts("2026-05-31"),
            },
            {
                "activity_id": "a3",
                "company_id": "A",
                "contact_id": "c1",
                "activity_type": "nps_response",
                "occurred_at": ts("2026-04-01"),
                "value": 9.0,
            },
        ],
    )
    insert(
        con,
        "crm_tickets",
        [
            {
                "ticket_id": "t1",
                "company_id": "A",
                "created_at": ts("2026-06-25"),
                "severity": "high",
                "status": "open",
                "escalated": True,
            },
            {
                "ticket_id": "t2",
                "company_id": "A",
                "created_at": ts("2026-06-01"),
                "closed_at": ts("2026-06-03"),
                "severity": "low",
                "status": "closed",
                "csat_score": 4.0,
            },
        ],
    )
    insert(
        con,
        "crm_contacts",
        [
            {
                "contact_id": "c1",
                "company_id": "A",
                "is_champion": True,
                "created_at": ts("2025-02-01"),
            },
            {
                "contact_id": "c2",
                "company_id": "A",
                "is_champion": True,
                "created_at": ts("2025-02-01"),
                "left_company_at": ts("2026-06-15"),
            },
        ],
    )
