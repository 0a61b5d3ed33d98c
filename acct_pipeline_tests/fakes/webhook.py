"""A loopback webhook receiver that checks the ``X-Acct-Signature`` HMAC like a real one should.

``WebhookReceiver(secret=...)`` accepts ``POST /hooks/alerts``; with a secret, a request whose
signature does not verify (wrong secret, changed body, missing header, stale timestamp) gets 401
and is kept in ``rejected``; good ones are kept in ``received``. Without a secret everything is
accepted (``verified`` is then False).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from acct_pipeline.alerts.channels import (
    EVENT_KEY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_signature,
)
from acct_pipeline_tests.fakes.base import FakeServer, Request, Response, json_response

PATH = "/hooks/alerts"


@dataclass
class Delivery:
    event_key: str | None
    payload: dict[str, Any]
    verified: bool
    signature: str | None
    body: bytes


class WebhookReceiver(FakeServer):
    name = "webhook"

    def __init__(self, secret: str | None = None, clock: Callable[[], float] | None = None) -> None:
        super().__init__(clock)
        self.secret = secret
        self.received: list[Delivery] = []
        self.rejected: list[Delivery] = []
        self.route("POST", PATH, self._post)

    @property
    def hook_url(self) -> str:
        return self.url + PATH

    def _post(self, req: Request) -> Response:
        signature = req.header(SIGNATURE_HEADER)
        verified = self.secret is not None and verify_signature(
            self.secret, req.header(TIMESTAMP_HEADER), req.body, signature, now=self.clock()
        )
        try:
            payload = json.loads(req.body)
        except ValueError:
            return json_response(400, {"error": "body is not JSON"})
        delivery = Delivery(req.header(EVENT_KEY_HEADER), payload, verified, signature, req.body)
        with self.lock:
            if self.secret is not None and not verified:
                self.rejected.append(delivery)
                return json_response(401, {"error": "invalid signature"})
            self.received.append(delivery)
        # Slack answers a plain "ok".
        return Response(200, b"ok", {"Content-Type": "text/plain"})

    def event_keys(self) -> list[str | None]:
        with self.lock:
            return [d.event_key for d in self.received]
