"""stripe-python against ``FakeStripe``: lists, versions, and errors as the SDK's exceptions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe

from acct_pipeline_tests.fakes.stripe import API_KEY, FakeStripe

T0 = 1_780_000_000


@pytest.fixture
def account() -> Iterator[FakeStripe]:
    with FakeStripe(rate_limit=None) as fake:
        for i in range(5):
            cid, sid = f"cus_{i:04d}", f"sub_{i:04d}"
            item = FakeStripe._item(sid, "pro", 10, 50_000, ("month", 1), "usd")
            fake.customers.append(
                {"id": cid, "object": "customer", "created": T0 - i, "metadata": {}}
            )
            fake.subscriptions.append(
                {
                    "id": sid,
                    "object": "subscription",
                    "customer": cid,
                    "status": "active",
                    "created": T0 - i,
                    "current_period_start": T0 - i,
                    "current_period_end": T0 - i + 30 * 86400,
                    "metadata": {},
                    "items": {"object": "list", "data": [item], "has_more": False},
                }
            )
            line = {**item, "object": "line_item", "amount": 50_000, "quantity": 10}
            fake.invoices.append(
                {
                    "id": f"in_{i:04d}",
                    "object": "invoice",
                    "customer": cid,
                    "subscription": sid,
                    "created": T0 - i,
                    "status": "paid",
                    "lines": {"object": "list", "data": [line], "has_more": False},
                }
            )
        yield fake


def sdk(fake: FakeStripe, version: str | None = None) -> stripe.StripeClient:
    kw = {"stripe_version": version} if version else {}
    return stripe.StripeClient(
        API_KEY, base_addresses={"api": fake.url}, max_network_retries=0, **kw
    )


def test_auto_paging_follows_starting_after(account: FakeStripe) -> None:
    ids = [c.id for c in sdk(account).v1.customers.list({"limit": 2}).auto_paging_iter()]
    assert ids == [f"cus_{i:04d}" for i in range(5)]
    assert len(account.calls_to("/v1/customers")) == 3


def test_the_sdk_version_gets_basil_era_shapes_and_a_pin_gets_the_old_ones(
    account: FakeStripe,
) -> None:
    new = sdk(account)  # the SDK's own pinned version (2026-..., after basil)
    sub = new.v1.subscriptions.list({"limit": 1}).data[0]
    assert "current_period_end" not in sub and sub["items"].data[0].current_period_end
    inv = new.v1.invoices.list({"limit": 1}).data[0]
    assert "subscription" not in inv
    assert inv.parent.subscription_details.subscription == "sub_0000"
    assert inv.lines.data[0].pricing.price_details.price.startswith("price_")
    old = sdk(account, "2024-06-20")
    assert old.v1.subscriptions.list({"limit": 1}).data[0].current_period_end
    assert old.v1.invoices.list({"limit": 1}).data[0].subscription == "sub_0000"
    assert account.versions_seen == {stripe.api_version, "2024-06-20"}


def test_an_unknown_cursor_is_resource_missing_naming_the_object(account: FakeStripe) -> None:
    with pytest.raises(stripe.InvalidRequestError) as err:
        sdk(account).v1.customers.list({"starting_after": "cus_nope"})
    assert err.value.code == "resource_missing" and err.value.param == "starting_after"
    assert "No such customer: 'cus_nope'" in err.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as bad_limit:
        sdk(account).v1.invoices.list({"limit": 101})
    assert bad_limit.value.param == "limit" and bad_limit.value.http_status == 400


def test_limits_faults_and_unknown_routes_are_stripe_errors(account: FakeStripe) -> None:
    client = sdk(account)
    account.inject("status", 1, status=429)
    with pytest.raises(stripe.RateLimitError) as limited:
        client.v1.customers.list()
    assert limited.value.error.code == "rate_limit"
    account.inject("status", 1, status=503)
    with pytest.raises(stripe.APIError) as fault:  # was AttributeError inside the SDK
        client.v1.customers.list()
    assert fault.value.http_status == 503 and fault.value.error.type == "api_error"
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.raw_request("get", "/v1/widgets")
    assert unknown.value.http_status == 404 and "Unrecognized request URL" in str(unknown.value)
    with pytest.raises(stripe.AuthenticationError):
        stripe.StripeClient(
            "sk_test_wrong000000000000", base_addresses={"api": account.url}
        ).v1.customers.list()
