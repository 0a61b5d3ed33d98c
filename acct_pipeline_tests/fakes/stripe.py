"""A fake Stripe account: customers, subscriptions, invoices (list endpoints).

Lists follow Stripe: ``{"object": "list", "data": [...], "has_more": ...}``, newest first,
``limit`` 1..100 (400 otherwise), ``starting_after`` / ``ending_before`` cursors (400 for an
unknown id), subscriptions exclude ``canceled`` unless ``status=all`` (or ``status=canceled``).
Auth ``Bearer sk_test_...`` (or the key as basic-auth user); 401 otherwise. Rolling rate limit
``rate_limit=(25, 1.0)`` (test mode) -> 429 ``rate_limit`` error. ``versions_seen`` collects the
``Stripe-Version`` headers received; ``invalid_versions`` answer 400.

API versions (issue #26): objects are served in the shape of the ``Stripe-Version`` the request
asks for, else of the account's pinned ``api_version`` (default ``2024-06-20``). From
``2025-03-31.basil`` on, a subscription has no top-level ``current_period_start/end`` (each item
has them), and an invoice names its subscription in ``parent.subscription_details.subscription``
(no top-level ``subscription``) and its lines carry ``pricing.price_details.price`` (a price id)
instead of an expanded ``price``. Errors are Stripe's ``{"error": {type, code, message, param}}``
(``resource_missing`` naming the object type for an unknown cursor id), for unknown routes and
injected faults too.

Landing mapping: timestamps -> unix seconds, money -> integer cents, ``crm_company_id`` ->
``customer.metadata``; a subscription has one item (``quantity`` = seats, ``price.lookup_key`` =
plan) whose price is monthly, or — for every ``yearly_every``-th / ``quarterly_every``-th
subscription — yearly / every 3 months (so MRR normalisation is exercised); the contract term is
``metadata.term_start`` / ``term_end``. Records whose timestamps do not parse are not stored.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from acct_pipeline.warehouse import BILLING_CUSTOMERS, BILLING_INVOICES, BILLING_SUBSCRIPTIONS
from acct_pipeline_tests.fakes import landing
from acct_pipeline_tests.fakes.base import (
    FakeServer,
    Fault,
    Request,
    Response,
    bearer_token,
    json_response,
)

API_KEY = "sk_test_51FakeKeyForTests0000000000000000000000000000000000"
DEFAULT_API_VERSION = "2024-06-20"
BASIL = "2025-03-31"  # first version with item-level periods and invoice ``parent``
OBJECT_NAMES = {  # list path -> the object type Stripe names in "No such ..." errors
    "/v1/customers": "customer",
    "/v1/subscriptions": "subscription",
    "/v1/invoices": "invoice",
    "/v1/subscription_items": "subscription item",
}


def is_basil_or_later(version: str) -> bool:
    """``2025-03-31.basil`` and every later version (clover, dahlia, ...) share the new shapes."""
    return version[:10] >= BASIL


def render(obj: dict[str, Any], version: str) -> dict[str, Any]:
    """An object as the requested API version shapes it (stored objects are 2024-06-20)."""
    if not is_basil_or_later(version):
        return obj
    kind = obj.get("object")
    if kind == "subscription":
        out = {
            k: v for k, v in obj.items() if k not in ("current_period_start", "current_period_end")
        }
        items = obj["items"]
        out["items"] = {
            **items,
            "data": [
                {
                    **i,
                    "current_period_start": obj.get("current_period_start"),
                    "current_period_end": obj.get("current_period_end"),
                }
                for i in items["data"]
            ],
        }
        return out
    if kind == "subscription_item":
        return obj
    if kind == "invoice":
        out = {k: v for k, v in obj.items() if k != "subscription"}
        sid = obj.get("subscription")
        out["parent"] = (
            {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {"metadata": {}, "subscription": sid},
            }
            if sid
            else None
        )
        out["lines"] = {
            **obj["lines"],
            "data": [_basil_line(ln, sid) for ln in obj["lines"]["data"]],
        }
        return out
    return obj


def _basil_line(line: dict[str, Any], subscription: str | None) -> dict[str, Any]:
    out = {k: v for k, v in line.items() if k not in ("price", "subscription", "type")}
    price = line.get("price") or {}
    out["pricing"] = {
        "type": "price_details",
        "price_details": {"price": price.get("id"), "product": f"prod_{price.get('lookup_key')}"},
        "unit_amount_decimal": str(price.get("unit_amount")),
    }
    out["parent"] = {
        "type": "subscription_item_details",
        "invoice_item_details": None,
        "subscription_item_details": {
            "invoice_item": None,
            "proration": False,
            "proration_details": {"credited_items": None},
            "subscription": subscription,
            "subscription_item": line.get("id"),
        },
    }
    return out


def _unix(value: str | None) -> int | None:
    ts = landing.parse_ts(value)
    return int(ts.timestamp()) if ts else None


def _cents(value: str | None) -> int | None:
    return None if value is None else int(round(float(value) * 100))


class _Unparseable(Exception):
    pass


def _req_unix(value: str | None) -> int:
    out = _unix(value)
    if out is None:
        raise _Unparseable(value)
    return out


class FakeStripe(FakeServer):
    """Fake Stripe. ``FakeStripe(api_key=..., rate_limit=(25, 1.0))``."""

    name = "stripe"

    def __init__(
        self,
        api_key: str = API_KEY,
        *,
        rate_limit: tuple[int, float] | None = (25, 1.0),
        yearly_every: int = 5,
        quarterly_every: int = 7,
        api_version: str = DEFAULT_API_VERSION,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(clock)
        self.api_key = api_key
        self.api_version = api_version  # the account's pinned version (dashboard setting)
        self.rate_limit = rate_limit
        self.yearly_every = yearly_every
        self.quarterly_every = quarterly_every
        self.customers: list[dict[str, Any]] = []
        self.subscriptions: list[dict[str, Any]] = []
        self.invoices: list[dict[str, Any]] = []
        self.versions_seen: set[str] = set()
        self.invalid_versions: set[str] = {"1999-01-01"}
        self._recent: list[float] = []
        self.route("GET", "/v1/customers", lambda r: self._list(r, self.customers, "/v1/customers"))
        self.route("GET", "/v1/subscriptions", self.list_subscriptions)
        self.route("GET", "/v1/invoices", lambda r: self._list(r, self.invoices, "/v1/invoices"))
        self.route("GET", "/v1/subscription_items", self.list_subscription_items)
        self._all_items: dict[str, list[dict[str, Any]]] = {}

    # -- data ----------------------------------------------------------------------------------

    def load_landing(self, root: str | Path) -> FakeStripe:
        root = Path(root)
        for row in landing.unique_rows(root, BILLING_CUSTOMERS):
            try:
                created = _req_unix(row.get("created_at"))
            except _Unparseable:
                continue
            delinquent = (row.get("delinquent") or "false").lower() == "true"
            self.customers.append(
                {
                    "id": row["customer_id"],
                    "object": "customer",
                    "email": row.get("email"),
                    "name": row.get("name"),
                    "currency": row.get("currency"),
                    "delinquent": delinquent,
                    "created": created,
                    "livemode": False,
                    "metadata": {"crm_company_id": row["crm_company_id"]}
                    if row.get("crm_company_id")
                    else {},
                }
            )
        sub_interval: dict[str, tuple[str, int]] = {}
        for i, row in enumerate(landing.unique_rows(root, BILLING_SUBSCRIPTIONS)):
            try:
                created = _req_unix(row.get("started_at"))
            except _Unparseable:
                continue
            interval = (
                ("year", 1)
                if i % self.yearly_every == 0
                else ("month", 3)
                if i % self.quarterly_every == 0
                else ("month", 1)
            )
            sub_interval[row["subscription_id"]] = interval
            seats = int(float(row.get("seats") or 0))
            mrr_cents = _cents(row.get("mrr")) or 0
            item = self._item(
                row["subscription_id"],
                row.get("plan"),
                seats,
                mrr_cents,
                interval,
                row.get("currency"),
            )
            self.subscriptions.append(
                {
                    "id": row["subscription_id"],
                    "object": "subscription",
                    "customer": row["customer_id"],
                    "status": row.get("status"),
                    "created": created,
                    "start_date": created,
                    "currency": row.get("currency"),
                    "canceled_at": _unix(row.get("canceled_at")),
                    "ended_at": _unix(row.get("ended_at")),
                    "cancel_at_period_end": False,
                    "current_period_start": _unix(row.get("term_start")),
                    "current_period_end": _unix(row.get("term_end")),
                    "metadata": {k: row[k] for k in ("term_start", "term_end") if row.get(k)},
                    "items": {
                        "object": "list",
                        "data": [item],
                        "has_more": False,
                        "total_count": 1,
                        "url": f"/v1/subscription_items?subscription={row['subscription_id']}",
                    },
                }
            )
        for row in landing.unique_rows(root, BILLING_INVOICES):
            try:
                created = _req_unix(row.get("created_at"))
            except _Unparseable:
                continue
            interval = sub_interval.get(row.get("subscription_id") or "", ("month", 1))
            seats = int(float(row.get("seats") or 0))
            line = self._item(
                row["invoice_id"],
                row.get("plan"),
                seats,
                _cents(row.get("mrr")) or 0,
                interval,
                "usd",
            )
            line |= {
                "object": "line_item",
                "amount": line["price"]["unit_amount"] * seats,
                "period": {
                    "start": _unix(row.get("period_start")),
                    "end": _unix(row.get("period_end")),
                },
            }
            self.invoices.append(
                {
                    "id": row["invoice_id"],
                    "object": "invoice",
                    "customer": row["customer_id"],
                    "subscription": row.get("subscription_id"),
                    "created": created,
                    "period_start": _unix(row.get("period_start")),
                    "period_end": _unix(row.get("period_end")),
                    "due_date": _unix(row.get("due_date")),
                    "amount_due": _cents(row.get("amount_due")),
                    "amount_paid": _cents(row.get("amount_paid")),
                    "status": row.get("status"),
                    "attempt_count": int(row["attempt_count"]) if row.get("attempt_count") else 0,
                    "status_transitions": {
                        "paid_at": _unix(row.get("paid_at")),
                        "finalized_at": created,
                    },
                    "currency": "usd",
                    "lines": {
                        "object": "list",
                        "data": [line] if row.get("plan") else [],
                        "has_more": False,
                    },
                }
            )
        for coll in (self.customers, self.subscriptions, self.invoices):
            coll.sort(key=lambda o: (o["created"], o["id"]), reverse=True)  # newest first
        return self

    @staticmethod
    def _item(
        owner: str,
        plan: str | None,
        seats: int,
        mrr_cents: int,
        interval: tuple[str, int],
        currency: str | None,
    ) -> dict[str, Any]:
        months = 12 * interval[1] if interval[0] == "year" else interval[1]
        per_seat = round(mrr_cents / seats) if seats else 0
        return {
            "id": f"si_{owner}",
            "object": "subscription_item",
            "quantity": seats,
            "price": {
                "id": f"price_{plan}_{interval[0]}_{interval[1]}",
                "object": "price",
                "currency": currency,
                "unit_amount": per_seat * months,
                "lookup_key": plan,
                "nickname": plan,
                "type": "recurring",
                "recurring": {
                    "interval": interval[0],
                    "interval_count": interval[1],
                    "usage_type": "licensed",
                },
            },
        }

    # -- auth, limits --------------------------------------------------------------------------

    def authenticate(self, req: Request) -> Response | None:
        key = bearer_token(req)
        if key is None and (req.header("authorization") or "").lower().startswith("basic "):
            import base64

            key = base64.b64decode(req.header("authorization")[6:]).decode().split(":")[0]
        version = req.header("stripe-version")
        if version:
            self.versions_seen.add(version)
            if version in self.invalid_versions:
                return json_response(
                    400,
                    {
                        "error": {
                            "type": "invalid_request_error",
                            "message": f"Invalid Stripe API version: {version}",
                        }
                    },
                )
        if key == self.api_key:
            return None
        shown = f"{key[:8]}{'*' * 12}{key[-4:]}" if key and len(key) > 12 else "****"
        return json_response(
            401,
            {
                "error": {
                    "type": "invalid_request_error",
                    "message": f"Invalid API Key provided: {shown}",
                }
            },
        )

    def _429(self) -> Response:
        return json_response(
            429,
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "rate_limit",
                    "message": "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
                }
            },
            {"Stripe-Rate-Limited-Reason": "global-rate"},
        )

    def rate_limit_fault_response(self, fault: Fault) -> Response:
        return self._429()

    def throttle(self, req: Request) -> Response | None:
        if self.rate_limit is None:
            return None
        with self.lock:
            now = self.clock()
            n, period = self.rate_limit
            self._recent = [t for t in self._recent if t > now - period]
            if len(self._recent) >= n:
                return self._429()
            self._recent.append(now)
        return None

    # -- lists ---------------------------------------------------------------------------------

    @staticmethod
    def _error(
        message: str, param: str | None = None, code: str | None = None, status: int = 400
    ) -> Response:
        err: dict[str, Any] = {"type": "invalid_request_error", "message": message}
        if code:
            err |= {"code": code, "doc_url": f"https://stripe.com/docs/error-codes/{code}"}
        if param:
            err["param"] = param
        return json_response(status, {"error": err})

    def error_response(self, status: int, message: str) -> Response:
        """Unknown routes, injected faults, crashes: Stripe's error object (the SDK needs it)."""
        if status == 429:
            return self._429()
        if status == 404 and message.startswith("no route for "):
            method, path = message[len("no route for ") :].split(" ", 1)
            message = (
                f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
                "or we can help at https://support.stripe.com/."
            )
        kind = "api_error" if status >= 500 else "invalid_request_error"
        return json_response(status, {"error": {"type": kind, "message": message}})

    def _version(self, req: Request) -> str:
        return req.header("stripe-version") or self.api_version

    def _list(self, req: Request, items: list[dict[str, Any]], url: str) -> Response:
        raw = req.arg("limit", "10") or "10"
        if not raw.isdigit() or not 1 <= int(raw) <= 100:
            return self._error(
                f"This value must be between 1 and 100 (it currently is '{raw}')",
                "limit",
                "parameter_invalid_integer",
            )
        kind = OBJECT_NAMES.get(url, "object")
        limit = int(raw)
        ids = [o["id"] for o in items]
        start = 0
        if after := req.arg("starting_after"):
            if after not in ids:
                return self._error(
                    f"No such {kind}: '{after}'", "starting_after", "resource_missing"
                )
            start = ids.index(after) + 1
        end = start + limit
        if before := req.arg("ending_before"):
            if before not in ids:
                return self._error(
                    f"No such {kind}: '{before}'", "ending_before", "resource_missing"
                )
            end = ids.index(before)
            start = max(0, end - limit)
        version = self._version(req)
        page = [render(o, version) for o in items[start:end]]
        return json_response(
            200, {"object": "list", "url": url, "has_more": end < len(items), "data": page}
        )

    def add_items(self, subscription_id: str, items: list[dict[str, Any]]) -> None:
        """Give a subscription more items; like Stripe, it embeds only the first 10."""
        sub = next(s for s in self.subscriptions if s["id"] == subscription_id)
        full = self._all_items.setdefault(subscription_id, list(sub["items"]["data"])) + items
        self._all_items[subscription_id] = full
        sub["items"] = {
            **sub["items"],
            "data": full[:10],
            "has_more": len(full) > 10,
            "total_count": len(full),
        }

    def list_subscription_items(self, req: Request) -> Response:
        sid = req.arg("subscription")
        if not sid:
            return self._error(
                "Missing required param: subscription.", "subscription", "parameter_missing"
            )
        sub = next((s for s in self.subscriptions if s["id"] == sid), None)
        if sub is None:
            return self._error(f"No such subscription: '{sid}'", "subscription", "resource_missing")
        items = self._all_items.get(sid, sub["items"]["data"])
        if is_basil_or_later(self._version(req)):
            period = {k: sub.get(k) for k in ("current_period_start", "current_period_end")}
            items = [{**i, **period} for i in items]
        return self._list(req, items, "/v1/subscription_items")

    def list_subscriptions(self, req: Request) -> Response:
        status = req.arg("status")
        if status == "all":
            items = self.subscriptions
        elif status:
            items = [s for s in self.subscriptions if s["status"] == status]
        else:
            items = [s for s in self.subscriptions if s["status"] != "canceled"]
        if customer := req.arg("customer"):
            items = [s for s in items if s["customer"] == customer]
        return self._list(req, items, "/v1/subscriptions")
