"""HubSpot's modified-since search pages through ``paginate`` and restarts past the 10,000 cap."""

from __future__ import annotations

from typing import Any

import pytest

from acct_pipeline.connectors.base import SourceError
from acct_pipeline.connectors.http import RateLimiter
from acct_pipeline.connectors.hubspot import SEARCH_CAP, SEARCH_LIMIT, HubSpotSource


class SearchClient:
    """Answers search requests from a list of (id, modified ms) sorted by time, like HubSpot:
    ``after`` is an offset, and no page starts at or beyond 10,000."""

    sleep = staticmethod(lambda _s: None)

    def __init__(self, records: list[tuple[str, int]]) -> None:
        self.records = records
        self.bodies: list[dict[str, Any]] = []

    def post_json(self, path: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.bodies.append(body)
        since = int(body["filterGroups"][0]["filters"][0]["value"])
        after = int(body["after"])
        assert after + SEARCH_LIMIT <= SEARCH_CAP, "paged past HubSpot's search cap"
        match = [r for r in self.records if r[1] >= since]
        page = match[after : after + SEARCH_LIMIT]
        nxt = after + SEARCH_LIMIT
        return {
            "results": [
                {"id": rid, "properties": {"hs_lastmodifieddate": str(ts)}} for rid, ts in page
            ],
            **({"paging": {"next": {"after": str(nxt)}}} if nxt < len(match) else {}),
        }


def source(client: SearchClient) -> HubSpotSource:
    limiter = RateLimiter([(1000, 1.0)], sleep=lambda _s: None)
    return HubSpotSource(client, search_limiter=limiter)  # type: ignore[arg-type]


def test_search_restarts_from_the_newest_time_past_the_cap() -> None:
    # 12,000 records, two per millisecond: more than one query may page through.
    records = [(f"c{i}", 1_000 + i // 2) for i in range(12_000)]
    client = SearchClient(records)
    got = [r["id"] for r in source(client).search_modified("companies", ["name"], 0)]
    assert got == [rid for rid, _ in records]  # every record once, oldest first
    restarts = [b for b in client.bodies if b["after"] == 0]
    assert len(restarts) == 2 and restarts[1]["filterGroups"][0]["filters"][0]["value"] != "0"


def test_search_stops_when_one_instant_holds_more_than_the_cap() -> None:
    client = SearchClient([(f"c{i}", 5) for i in range(SEARCH_CAP + 10)])
    with pytest.raises(SourceError, match="more than 10000 companies modified at 5"):
        list(source(client).search_modified("companies", ["name"], 0))
