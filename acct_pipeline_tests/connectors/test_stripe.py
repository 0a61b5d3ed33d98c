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


def test_the_pinned_version_is_served_whatever_the_account_default(
    sample: Path, files_warehouse: Path, tmp_path: Path
) -> None:
    """Issue #26: the fake shapes objects by ``Stripe-Version``. An account whose dashboard pin
    is basil still answers our pinned 2024-06-20 requests in 2024-06-20 shapes, so the connector
    reads invoice subscriptions and subscription periods where its parser looks for them."""
    clock = FakeClock()
    with FakeStripe(clock=clock, api_version="2025-03-31.basil").load_landing(sample) as fake:
        load(tmp_path / "api.duckdb", source(fake, clock), BILLING)
        invoices = table(tmp_path / "api.duckdb", BILLING_INVOICES)
        assert invoices["subscription_id"].notna().any()
        assert_same_table(files_warehouse, tmp_path / "api.duckdb", BILLING_INVOICES)
        assert_same_table(
            files_warehouse, tmp_path / "api.duckdb", BILLING_SUBSCRIPTIONS, mrr_only_when_active
        )


def test_basil_shapes_move_periods_to_items_and_the_subscription_to_parent(sample: Path) -> None:
    import requests

    with FakeStripe(api_version="2025-09-30.clover").load_landing(sample) as fake:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {API_KEY}"

        def first(path: str, version: str | None) -> dict:
            headers = {"Stripe-Version": version} if version else {}
            return s.get(fake.url + path, params={"limit": 1}, headers=headers).json()["data"][0]

        old_sub, new_sub = (
            first("/v1/subscriptions", "2024-06-20"),
            first("/v1/subscriptions", None),
        )
        assert "current_period_end" in old_sub and "current_period_end" not in new_sub
        assert new_sub["items"]["data"][0]["current_period_end"] == old_sub["current_period_end"]
        old_inv = first("/v1/invoices", "2024-06-20")
        new_inv = first("/v1/invoices", "2025-03-31.basil")
        assert "subscription" not in new_inv and "price" not in new_inv["lines"]["data"][0]
        assert new_inv["parent"]["subscription_details"]["subscription"] == old_inv["subscription"]


def test_a_basil_pin_still_maps_subscriptions_and_invoice_parents(sample: Path, tmp_path: Path):
    clock = FakeClock()
    with FakeStripe(clock=clock).load_landing(sample) as fake:
        old = tmp_path / "old.duckdb"
        load(old, source(fake, clock), BILLING)
        new = tmp_path / "new.duckdb"
        load(new, source(fake, clock, STRIPE_API_VERSION="2025-03-31.basil"), BILLING)
        assert fake.versions_seen == {"2024-06-20", "2025-03-31.basil"}
    for spec, cols in (
        (BILLING_SUBSCRIPTIONS, ["subscription_id", "term_start", "term_end"]),
        (BILLING_INVOICES, ["invoice_id", "subscription_id"]),
    ):
        a = table(old, spec)[cols].sort_values(cols[0]).reset_index(drop=True)
        b = table(new, spec)[cols].sort_values(cols[0]).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b)
        assert a[cols[1]].notna().any()
