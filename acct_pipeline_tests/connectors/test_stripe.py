"""Stripe connector against the fake account: same tables as files, MRR, paging, limits, auth."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from acct_pipeline.connectors.http import AuthFailed
from acct_pipeline.connectors.stripe import StripeSource, monthly_cents, subscription_mrr
from acct_pipeline.warehouse import BILLING_CUSTOMERS, BILLING_INVOICES, BILLING_SUBSCRIPTIONS
from acct_pipeline_tests.connectors.conftest import assert_same_table, load, table
from acct_pipeline_tests.fakes.base import FakeClock
from acct_pipeline_tests.fakes.stripe import API_KEY, FakeStripe

BILLING = (BILLING_CUSTOMERS, BILLING_SUBSCRIPTIONS, BILLING_INVOICES)


def source(fake: FakeStripe, clock: FakeClock, key: str = API_KEY, **env: str) -> StripeSource:
    return StripeSource.from_env(
        {"STRIPE_API_KEY": key, "STRIPE_BASE_URL": fake.url, **env}, sleep=clock.sleep, clock=clock
    )


def mrr_only_when_active(frame: pd.DataFrame) -> pd.DataFrame:
    """Stripe has no MRR for trialing / unpaid / canceled subscriptions; the landing files keep the
    last contracted amount. That is the one intended difference."""
    out = frame.copy()
    out.loc[~out["status"].isin(["active", "past_due"]), "mrr"] = 0.0
    return out


def test_same_raw_tables_as_files(sample: Path, files_warehouse: Path, tmp_path: Path) -> None:
    clock = FakeClock()
    with FakeStripe(clock=clock).load_landing(sample) as fake:
        src = source(fake, clock)
        load(tmp_path / "api.duckdb", src, BILLING)
        assert fake.versions_seen == {"2024-06-20"}
        subs = fake.calls_to("/v1/subscriptions")
    assert all(c.query.get("status") == ["all"] for c in subs)
    assert all(c.query.get("limit") == ["100"] for c in fake.calls)
    assert len(fake.calls_to("/v1/invoices")) >= 5  # starting_after across pages
    assert_same_table(files_warehouse, tmp_path / "api.duckdb", BILLING_CUSTOMERS)
    assert_same_table(files_warehouse, tmp_path / "api.duckdb", BILLING_INVOICES)
    subs = assert_same_table(
        files_warehouse, tmp_path / "api.duckdb", BILLING_SUBSCRIPTIONS, mrr_only_when_active
    )
    assert (subs["status"] == "canceled").any()  # status=all: churned subscriptions are there


def test_mrr_normalised_by_interval_over_active_and_past_due() -> None:
    def sub(status: str, *items: tuple[int, int, str, int]) -> dict:
        return {
            "status": status,
            "items": {
                "data": [
                    {
                        "quantity": q,
                        "price": {
                            "unit_amount": a,
                            "recurring": {"interval": i, "interval_count": n},
                        },
                    }
                    for a, q, i, n in items
                ]
            },
        }

    assert subscription_mrr(sub("active", (4500, 10, "month", 1))) == 450.0
    assert subscription_mrr(sub("past_due", (54000, 10, "year", 1), (3000, 2, "month", 3))) == 470.0
    assert subscription_mrr(sub("trialing", (4500, 10, "month", 1))) == 0.0
    assert subscription_mrr(sub("canceled", (4500, 10, "month", 1))) == 0.0
    assert monthly_cents(
        {"unit_amount": 1000, "recurring": {"interval": "week", "interval_count": 1}}, 1
    ) == pytest.approx(1000 * 52 / 12)
    assert (
        monthly_cents({"unit_amount": 1000}, 1) == 0.0
    )  # one-off prices are not recurring revenue


def test_429_and_5xx_bursts_and_tight_rate_limit(
    sample: Path, files_warehouse: Path, tmp_path: Path
) -> None:
    clock = FakeClock()
    with FakeStripe(clock=clock, rate_limit=(3, 1.0)).load_landing(sample) as fake:
        fake.inject("status", 4, status=429, path="/v1/invoices")
        fake.inject("status", 2, status=500)
        src = source(
            fake, clock, STRIPE_RATE_LIMIT="100/1"
        )  # pace too fast on purpose: server 429s
        load(tmp_path / "api.duckdb", src, BILLING)
        limited = [c for c in fake.calls if c.status == 429]
    assert len(limited) >= 4 and src.client.stats.rate_limit_waits >= 4
    assert_same_table(files_warehouse, tmp_path / "api.duckdb", BILLING_INVOICES)
    assert_same_table(files_warehouse, tmp_path / "api.duckdb", BILLING_CUSTOMERS)


def test_bad_key_fails_fast_naming_the_variable(sample: Path, tmp_path: Path) -> None:
    wrong = "sk_test_51WrongKey999999999999999999999999999999999999"
    clock = FakeClock()
    with FakeStripe(clock=clock).load_landing(sample) as fake:
        with pytest.raises(AuthFailed) as err:
            load(tmp_path / "api.duckdb", source(fake, clock, key=wrong), (BILLING_CUSTOMERS,))
        assert len(fake.calls) == 1
    assert "STRIPE_API_KEY" in str(err.value)
    assert wrong not in f"{err.value} {err.value.body} {err.value.url}"


def test_subscriptions_with_more_than_ten_items_are_paged(sample: Path, tmp_path: Path) -> None:
    clock = FakeClock()
    with FakeStripe(clock=clock).load_landing(sample) as fake:
        sub = next(s for s in fake.subscriptions if s["status"] == "active")
        base = sub["items"]["data"][0]
        extra = [
            {
                **base,
                "id": f"si_extra_{i}",
                "quantity": 1,
                "price": {
                    **base["price"],
                    "unit_amount": 1000,
                    "recurring": {"interval": "month", "interval_count": 1},
                },
            }
            for i in range(14)
        ]
        before = subscription_mrr({**sub, "items": {"data": [base]}})
        fake.add_items(sub["id"], extra)
        assert sub["items"]["has_more"]
        load(tmp_path / "api.duckdb", source(fake, clock), (BILLING_SUBSCRIPTIONS,))
        assert fake.calls_to("/v1/subscription_items")
    got = table(tmp_path / "api.duckdb", BILLING_SUBSCRIPTIONS).set_index("subscription_id")
    assert got.loc[sub["id"], "mrr"] == pytest.approx(before + 140.0)
    assert got.loc[sub["id"], "seats"] == base["quantity"] + 14
