"""Stripe billing source: customers, subscriptions, invoices.

Configuration (environment variables):

``STRIPE_API_KEY``       a restricted key (``rk_live_...``) with **Read** on Customers,
                         Subscriptions (Billing) and Invoices; a secret key works too but grants
                         far more than needed. Required.
``STRIPE_API_VERSION``   the pinned ``Stripe-Version`` header (default ``2024-06-20``; the mapping
                         below reads ``current_period_*`` from the subscription, the invoice's
                         ``subscription`` and its lines' expanded ``price``, as that version
                         returns them). From ``2025-03-31.basil`` on, periods move to the items and
                         the invoice's subscription to ``parent.subscription_details``: both are
                         read as fallbacks, but basil invoice lines carry only a price id, so an
                         invoice's plan / seats / MRR need the pre-basil pin.
``STRIPE_BASE_URL``      default ``https://api.stripe.com`` (tests point it at the fake).
``STRIPE_RATE_LIMIT``    client-side pacing, ``calls/seconds`` (default ``20/1``: under the
                         25 req/s per-endpoint and test-mode limits).

Lists page with ``limit=100`` and ``starting_after=<last id>`` while ``has_more`` (newest first).
Subscriptions are listed with ``status=all`` — without it Stripe leaves out canceled ones, and
churn would be invisible.

Mapping. Money is converted from cents to major units. ``plan`` is the first item's
``price.lookup_key`` (else ``nickname``, else the price id), ``seats`` the sum of licensed item
quantities. **MRR** is not a Stripe field: the sum over items of ``unit_amount x quantity``,
normalised to a month by ``recurring.interval`` / ``interval_count`` (day 365/12, week 52/12,
month 1, year 1/12), for ``active`` and ``past_due`` subscriptions; other statuses (trialing,
unpaid, canceled, incomplete) have MRR 0. An invoice's ``mrr`` is the same computation over its
subscription lines. The contract term is ``metadata.term_start`` / ``metadata.term_end`` when your
billing team keeps it there (Stripe has no contract term), else the current billing period.
``crm_company_id`` comes from ``customer.metadata.crm_company_id``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any

from acct_pipeline.connectors.base import RawBatch, SourceError
from acct_pipeline.connectors.http import (
    ServiceClient,
    batches_of,
    limiter,
    paginate,
    rate_windows,
    require_env,
    text,
)
from acct_pipeline.warehouse import (
    BILLING_CUSTOMERS,
    BILLING_INVOICES,
    BILLING_SUBSCRIPTIONS,
    TableSpec,
)

KEY_ENV = "STRIPE_API_KEY"
VERSION_ENV = "STRIPE_API_VERSION"
BASE_URL_ENV = "STRIPE_BASE_URL"
RATE_ENV = "STRIPE_RATE_LIMIT"
DEFAULT_VERSION = "2024-06-20"
DEFAULT_BASE_URL = "https://api.stripe.com"
PAGE_LIMIT = 100
MRR_STATUSES = ("active", "past_due")
MONTHS_PER = {"day": 12 / 365, "week": 12 / 52, "month": 1.0, "year": 12.0}


def stripe_client(
    env: Mapping[str, str],
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ServiceClient:
    key = require_env(env, KEY_ENV, "stripe")
    return ServiceClient(
        "stripe",
        env.get(BASE_URL_ENV) or DEFAULT_BASE_URL,
        auth_env=KEY_ENV,
        headers={
            "Authorization": f"Bearer {key}",
            "Stripe-Version": env.get(VERSION_ENV) or DEFAULT_VERSION,
        },
        secrets=[key],
        rate_limiter=limiter(rate_windows(env, RATE_ENV, "20/1"), sleep=sleep, clock=clock),
        sleep=sleep,
    )


def iso(ts: Any) -> str | None:
    """Unix seconds as ISO-8601 UTC (``2026-05-01T13:45:10Z``)."""
    if ts is None or ts == "":
        return None
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(cents: Any) -> str | None:
    return None if cents is None else f"{int(cents) / 100:.2f}"


def monthly_cents(price: Mapping[str, Any], quantity: Any) -> float:
    """``unit_amount x quantity`` of a recurring price, normalised to one month (in cents)."""
    recurring = price.get("recurring") or {}
    if not recurring:
        return 0.0
    per = MONTHS_PER.get(str(recurring.get("interval")), 1.0) * int(
        recurring.get("interval_count") or 1
    )
    amount = price.get("unit_amount")
    if amount is None:
        amount = float(price.get("unit_amount_decimal") or 0)
    return float(amount) * int(quantity or 0) / per


def _plan(price: Mapping[str, Any]) -> str | None:
    return text(price.get("lookup_key") or price.get("nickname") or price.get("id"))


def subscription_mrr(sub: Mapping[str, Any]) -> float:
    """Monthly recurring revenue in major units (0 unless active or past_due)."""
    if sub.get("status") not in MRR_STATUSES:
        return 0.0
    items = (sub.get("items") or {}).get("data") or []
    return round(
        sum(monthly_cents(i.get("price") or {}, i.get("quantity")) for i in items) / 100, 2
    )


def _lines_mrr(lines: list[Mapping[str, Any]]) -> str | None:
    if not lines:
        return None
    return f"{sum(monthly_cents(ln['price'], ln.get('quantity')) for ln in lines) / 100:.2f}"


def _period(sub: Mapping[str, Any], items: list[Mapping[str, Any]], end: str) -> Any:
    """``current_period_<end>``: on the subscription before basil, on its items from basil on."""
    key = f"current_period_{end}"
    if sub.get(key) is not None:
        return sub.get(key)
    return items[0].get(key) if items else None


def _parent_subscription(invoice: Mapping[str, Any]) -> Any:
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    sid = details.get("subscription")
    return sid.get("id") if isinstance(sid, Mapping) else sid


class StripeSource:
    """Reads the billing raw tables from Stripe (``ACCT_BILLING_SOURCE=stripe``)."""

    name = "stripe"

    def __init__(
        self, client: ServiceClient, *, batch_rows: int = 5000, page_limit: int = PAGE_LIMIT
    ) -> None:
        self.client = client
        self.batch_rows = batch_rows
        self.page_limit = min(page_limit, PAGE_LIMIT)
        self.records_read: dict[str, int] = {}

    @classmethod
    def from_env(cls, env: Mapping[str, str], **kw: Any) -> StripeSource:
        client = stripe_client(env, **{k: kw.pop(k) for k in ("sleep", "clock") if k in kw})
        return cls(client, **kw)

    def tables(self) -> tuple[str, ...]:
        return (BILLING_CUSTOMERS.name, BILLING_SUBSCRIPTIONS.name, BILLING_INVOICES.name)

    def read_events(self, spec: TableSpec, day: date) -> Iterator[RawBatch]:
        raise SourceError(f"stripe does not provide {spec.name}; choose a product source")

    def iter_list(
        self, path: str, *, starting_after: str | None = None, **params: Any
    ) -> Iterator[dict[str, Any]]:
        """Every object of a list endpoint, ``starting_after`` the last id while ``has_more``."""

        def fetch(after: str | None) -> tuple[list[dict[str, Any]], str | None]:
            page = self.client.get_json(
                path,
                params={
                    **params,
                    "limit": self.page_limit,
                    **({"starting_after": after} if after else {}),
                },
            )
            data = page.get("data") or []
            return data, data[-1]["id"] if page.get("has_more") and data else None

        n = 0
        for obj in paginate(fetch, starting_after):
            n += 1
            yield obj
        self.records_read[path] = self.records_read.get(path, 0) + n

    def read_table(self, spec: TableSpec) -> Iterator[RawBatch]:
        if spec.name == BILLING_CUSTOMERS.name:
            rows = (self._customer(c) for c in self.iter_list("/v1/customers"))
            origin = "stripe:/v1/customers"
        elif spec.name == BILLING_SUBSCRIPTIONS.name:
            rows = (
                self._subscription(self._all_items(s))
                for s in self.iter_list("/v1/subscriptions", status="all")
            )
            origin = "stripe:/v1/subscriptions"
        elif spec.name == BILLING_INVOICES.name:
            rows = (self._invoice(i) for i in self.iter_list("/v1/invoices"))
            origin = "stripe:/v1/invoices"
        else:
            raise SourceError(f"stripe does not provide {spec.name}")
        return batches_of(rows, spec.column_names, origin, self.batch_rows)

    @staticmethod
    def _customer(c: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "customer_id": text(c.get("id")),
            "crm_company_id": text((c.get("metadata") or {}).get("crm_company_id")),
            "email": text(c.get("email")),
            "name": text(c.get("name")),
            "currency": text(c.get("currency")),
            "delinquent": text(c.get("delinquent")),
            "created_at": iso(c.get("created")),
        }

    def _all_items(self, sub: dict[str, Any]) -> dict[str, Any]:
        """A subscription embeds its first 10 items; page through ``/v1/subscription_items``
        for the rest."""
        items = sub.get("items") or {}
        data = list(items.get("data") or [])
        if items.get("has_more") and data:
            more = self.iter_list(
                "/v1/subscription_items", subscription=sub["id"], starting_after=data[-1]["id"]
            )
            sub = {**sub, "items": {**items, "data": data + list(more), "has_more": False}}
        return sub

    @staticmethod
    def _subscription(s: Mapping[str, Any]) -> dict[str, Any]:
        items = (s.get("items") or {}).get("data") or []
        first = items[0].get("price") or {} if items else {}
        meta = s.get("metadata") or {}
        seats = sum(int(i.get("quantity") or 0) for i in items) if items else None
        customer = s.get("customer")
        return {
            "subscription_id": text(s.get("id")),
            "customer_id": text(customer.get("id") if isinstance(customer, Mapping) else customer),
            "plan": _plan(first) if first else None,
            "status": text(s.get("status")),
            "seats": text(seats),
            "mrr": f"{subscription_mrr(s):.2f}",
            "currency": text(s.get("currency") or first.get("currency")),
            "started_at": iso(s.get("start_date") or s.get("created")),
            "term_start": text(meta.get("term_start")) or iso(_period(s, items, "start")),
            "term_end": text(meta.get("term_end")) or iso(_period(s, items, "end")),
            "canceled_at": iso(s.get("canceled_at")),
            "ended_at": iso(s.get("ended_at")),
        }

    @staticmethod
    def _invoice(i: Mapping[str, Any]) -> dict[str, Any]:
        lines = [
            ln
            for ln in (i.get("lines") or {}).get("data") or []
            if (ln.get("price") or {}).get("recurring")
        ]
        first = lines[0].get("price") or {} if lines else {}
        customer = i.get("customer")
        return {
            "invoice_id": text(i.get("id")),
            "customer_id": text(customer.get("id") if isinstance(customer, Mapping) else customer),
            "subscription_id": text(i.get("subscription") or _parent_subscription(i)),
            "created_at": iso(i.get("created")),
            "period_start": iso(i.get("period_start")),
            "period_end": iso(i.get("period_end")),
            "due_date": iso(i.get("due_date")),
            "amount_due": money(i.get("amount_due")),
            "amount_paid": money(i.get("amount_paid")),
            "status": text(i.get("status")),
            "attempt_count": text(i.get("attempt_count")),
            "paid_at": iso((i.get("status_transitions") or {}).get("paid_at")),
            "plan": _plan(first) if first else None,
            "seats": text(sum(int(ln.get("quantity") or 0) for ln in lines)) if lines else None,
            "mrr": _lines_mrr(lines),
        }
