"""The shared HTTP layer: pacing, retries, Retry-After, quota / auth errors, redaction."""

from __future__ import annotations

import pytest

from acct_pipeline.connectors.http import (
    ApiError,
    QuotaExhausted,
    RateLimited,
    RateLimiter,
    RetryPolicy,
    ServiceClient,
    redact,
)
from acct_pipeline.services.hubspot import hubspot_classifier
from acct_pipeline_tests.fakes.base import FakeClock, FakeServer, Request, Response, json_response


class Echo(FakeServer):
    """A minimal service: every path answers 200 with the method and body it got."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.route("GET", "/.*", lambda r: json_response(200, {"method": r.method}))
        self.route("POST", "/.*", lambda r: json_response(200, {"method": r.method}))


def client(fake: FakeServer, clock: FakeClock, **kw: object) -> ServiceClient:
    return ServiceClient(
        "echo",
        fake.url,
        auth_env="ECHO_TOKEN",
        headers={"Authorization": "Bearer secret-token-123"},
        secrets=["secret-token-123"],
        sleep=clock.sleep,
        **kw,  # type: ignore[arg-type]
    )


def test_rate_limiter_sliding_windows_report_waits() -> None:
    clock = FakeClock()
    limiter = RateLimiter([(3, 1.0), (5, 60.0)], sleep=clock.sleep, clock=clock)
    waits = [limiter.acquire() for _ in range(6)]
    assert waits[:3] == [0, 0, 0]
    assert waits[3] == pytest.approx(1.0)  # 4th call waits for the 1-second window
    assert waits[5] == pytest.approx(59.0, abs=1.0)  # 6th waits for the minute window
    assert waits[4] == 0 and limiter.waits == 2
    assert limiter.total_wait == pytest.approx(sum(waits))


def test_retry_after_is_honoured_and_counted() -> None:
    clock = FakeClock()
    with Echo(clock) as fake:
        fake.inject("status", 2, status=429, headers={"Retry-After": "7"})
        c = client(fake, clock)
        assert c.get_json("/x") == {"method": "GET"}
    assert clock.slept == pytest.approx(14.0)
    assert c.stats.retries == 2 and c.stats.rate_limit_waits == 2
    assert c.stats.as_metadata()["rate_limit_wait_seconds"] == pytest.approx(14.0)


def test_post_is_retried_only_when_marked_idempotent() -> None:
    clock = FakeClock()
    with Echo(clock) as fake:
        fake.inject("status", 1, status=503)
        c = client(fake, clock)
        with pytest.raises(ApiError, match="not safe to repeat"):
            c.post_json("/create", {"a": 1})
        fake.inject("status", 1, status=503)
        fake.inject("drop", 1)
        assert c.post_json("/batch/update", {"a": 1}, idempotent=True) == {"method": "POST"}
        # a 429 was never processed: repeating it is safe even for a create
        fake.inject("status", 1, status=429)
        assert c.post_json("/create", {"a": 1}) == {"method": "POST"}


def test_retries_run_out_with_a_clear_error() -> None:
    clock = FakeClock()
    with Echo(clock) as fake:
        fake.inject("status", 10, status=429)
        c = client(fake, clock, retry=RetryPolicy(max_attempts=3))
        with pytest.raises(RateLimited, match="after 3 attempt"):
            c.get_json("/x")
        assert len(fake.calls) == 3


def test_hubspot_policy_name_decides_wait_or_stop() -> None:
    clock = FakeClock()

    class Portal(FakeServer):
        def __init__(self, policy: str) -> None:
            super().__init__(clock)
            body = {"status": "error", "policyName": policy, "errorType": "RATE_LIMIT"}
            headers = {
                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                "X-HubSpot-RateLimit-Remaining": "0",
            }
            self.answers = [json_response(429, body, headers), json_response(200, {"ok": True})]
            self.route("GET", "/.*", lambda r: self.answers.pop(0))

    with Portal("TEN_SECONDLY_ROLLING") as fake:
        c = client(fake, clock, classify=hubspot_classifier("HUBSPOT_ACCESS_TOKEN"))
        assert c.get_json("/crm/v3/objects/companies") == {"ok": True}
        assert clock.slept == pytest.approx(10.0)  # the window, not a guess
    with Portal("DAILY") as fake:
        c = client(fake, clock, classify=hubspot_classifier("HUBSPOT_ACCESS_TOKEN"))
        with pytest.raises(QuotaExhausted, match="DAILY"):
            c.get_json("/crm/v3/objects/companies")
        assert len(fake.calls) == 1


def test_timeouts_are_always_set_and_slow_answers_retried() -> None:
    clock = FakeClock()
    with Echo(clock) as fake:
        fake.inject("slow", 1, delay=0.6)
        c = client(fake, clock, timeout=(1.0, 0.3))
        assert c.get_json("/x") == {"method": "GET"}
        assert c.stats.retries == 1


def test_redaction_of_tokens_in_messages() -> None:
    text = (
        "GET https://api/x?api_key=abc123&x=1 Authorization: Bearer pat-na1-aaaa-bbbb "
        "sk_live_ABCDEF0123 secret-token-123"
    )
    out = redact(text, ["secret-token-123"])
    for leaked in ("abc123", "pat-na1-aaaa-bbbb", "sk_live_ABCDEF0123", "secret-token-123"):
        assert leaked not in out
    assert "x=1" in out


def test_error_bodies_and_urls_are_redacted() -> None:
    clock = FakeClock()

    class Leaky(FakeServer):
        def __init__(self) -> None:
            super().__init__(clock)
            self.route("GET", "/.*", self.answer)

        def answer(self, req: Request) -> Response:
            return json_response(400, {"error": f"bad header {req.header('authorization')}"})

    with Leaky() as fake:
        c = client(fake, clock)
        with pytest.raises(ApiError) as err:
            c.get_json("/x", params={"access_token": "secret-token-123"})
    assert "secret-token-123" not in f"{err.value} {err.value.body} {err.value.url}"
