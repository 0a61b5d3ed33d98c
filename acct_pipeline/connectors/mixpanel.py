"""Mixpanel source: raw event export (``product_events``, per UTC day) and group profiles.

Configuration (environment variables):

``MIXPANEL_PROJECT_ID``                 the project id (required).
``MIXPANEL_SERVICE_ACCOUNT_USERNAME``   a service account (role Analyst or higher on the project;
``MIXPANEL_SERVICE_ACCOUNT_SECRET``     Consumer cannot export), sent as HTTP basic auth (required).
``MIXPANEL_EXPORT_URL``                 default ``https://data.mixpanel.com`` (EU residency:
                                        ``https://data-eu.mixpanel.com``; tests: the fake).
``MIXPANEL_API_URL``                    Engage (group profiles), default ``https://mixpanel.com``
                                        (EU: ``https://eu.mixpanel.com``).
``MIXPANEL_GROUP_PROPERTY``             event property holding the account / workspace id (the
                                        group key), default ``group_id``.
``MIXPANEL_GROUP_KEY_ID``               ``data_group_id`` of that group key, for ``product_groups``
                                        from group profiles (``$name``, ``domain``,
                                        ``crm_company_id``, ``$created``). Default ``1``.
``MIXPANEL_RATE_LIMIT``                 default ``3/1,60/3600`` (the export's 3 queries per second
                                        and 60 per hour; a backfill of more than 60 days therefore
                                        takes more than an hour — that is Mixpanel's limit).

The project's time zone should be UTC: ``from_date``/``to_date`` are in the project time zone,
and each partition is one UTC day (events outside it are dropped and counted).

Each day is one export query. The streamed JSON lines are spooled to a temporary file (a body that
breaks off is downloaded again from scratch, never half-used), then read line by line, mapped,
de-duplicated and written to a temporary landing-format CSV that the loader reads with DuckDB, as
it reads the files source. Memory holds one line (plus the day's de-duplication keys, 12 bytes
each), whatever the day's volume. The export is **not
de-duplicated**: an event is a duplicate when ``event``, ``distinct_id``, ``time`` and
``$insert_id`` are all equal (Mixpanel's own rule); we keep the first within the day and count the
rest (``stats.duplicates``). Events without ``$insert_id`` are never treated as duplicates (and the
loader quarantines them for the missing ``event_id``).

Mapping: ``event_id`` = ``$insert_id``, ``event_name`` = ``event``, ``occurred_at`` = ``time``
(epoch seconds, or ms), ``user_id`` = ``distinct_id``, ``group_id`` = the group property,
``properties`` = the remaining properties without Mixpanel's own (``$...``, ``mp_...``) as JSON.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from acct_pipeline.connectors.base import RawBatch, SourceError
from acct_pipeline.connectors.http import (
    ServiceClient,
    batches_of,
    csv_batches,
    limiter,
    paginate,
    rate_windows,
    require_env,
    text,
)
from acct_pipeline.warehouse import PRODUCT_EVENTS, PRODUCT_GROUPS, TableSpec

PROJECT_ENV = "MIXPANEL_PROJECT_ID"
USER_ENV = "MIXPANEL_SERVICE_ACCOUNT_USERNAME"
SECRET_ENV = "MIXPANEL_SERVICE_ACCOUNT_SECRET"
EXPORT_URL_ENV = "MIXPANEL_EXPORT_URL"
API_URL_ENV = "MIXPANEL_API_URL"
GROUP_PROPERTY_ENV = "MIXPANEL_GROUP_PROPERTY"
GROUP_KEY_ENV = "MIXPANEL_GROUP_KEY_ID"
RATE_ENV = "MIXPANEL_RATE_LIMIT"


@dataclass
class MixpanelStats:
    events: int = 0
    duplicates: int = 0
    outside_day: int = 0
    unparseable: int = 0


def _clients(
    env: Mapping[str, str], sleep: Callable[[float], None], clock: Callable[[], float]
) -> tuple[ServiceClient, ServiceClient]:
    user = require_env(env, USER_ENV, "mixpanel")
    secret = require_env(env, SECRET_ENV, "mixpanel")
    # One limiter for both hosts: the 60/hour budget is per project, not per host.
    pacing = limiter(rate_windows(env, RATE_ENV, "3/1,60/3600"), sleep=sleep, clock=clock)
    common: dict[str, Any] = {
        "auth_env": f"{USER_ENV} / {SECRET_ENV}",
        "auth": (user, secret),
        "secrets": [secret],
        "rate_limiter": pacing,
        "sleep": sleep,
        "timeout": (10.0, 600.0),
    }
    export = ServiceClient(
        "mixpanel", env.get(EXPORT_URL_ENV) or "https://data.mixpanel.com", **common
    )
    api = ServiceClient(
        "mixpanel",
        env.get(API_URL_ENV) or env.get(EXPORT_URL_ENV) or "https://mixpanel.com",
        **common,
    )
    return export, api


class MixpanelSource:
    """Reads ``product_events`` and ``product_groups`` (``ACCT_PRODUCT_SOURCE=mixpanel``)."""

    name = "mixpanel"

    def __init__(
        self,
        export_client: ServiceClient,
        api_client: ServiceClient | None = None,
        *,
        project_id: str,
        group_property: str = "group_id",
        group_key_id: str = "1",
        batch_rows: int = 50_000,
    ) -> None:
        self.client = export_client
        self.api = api_client or export_client
        self.project_id = project_id
        self.group_property = group_property
        self.group_key_id = group_key_id
        self.batch_rows = batch_rows
        self.stats = MixpanelStats()

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        **kw: Any,
    ) -> MixpanelSource:
        export, api = _clients(env, sleep, clock)
        return cls(
            export,
            api,
            project_id=require_env(env, PROJECT_ENV, "mixpanel"),
            group_property=env.get(GROUP_PROPERTY_ENV) or "group_id",
            group_key_id=env.get(GROUP_KEY_ENV) or "1",
            **kw,
        )

    def tables(self) -> tuple[str, ...]:
        return (PRODUCT_GROUPS.name, PRODUCT_EVENTS.name)

    # -- events --------------------------------------------------------------------------------

    def read_events(self, spec: TableSpec, day: date) -> Iterator[RawBatch]:
        if spec.name != PRODUCT_EVENTS.name:
            raise SourceError(f"mixpanel does not provide {spec.name}")
        with tempfile.TemporaryFile(prefix="mixpanel-export-") as spool:
            params = {
                "project_id": self.project_id,
                "from_date": day.isoformat(),
                "to_date": day.isoformat(),
            }
            self.client.download("/api/2.0/export", spool, params=params)
            spool.seek(0)
            origin = f"mixpanel:/api/2.0/export?day={day}"
            # One landing-format CSV per day: the loader reads it as it reads the files source.
            yield from csv_batches(self._rows(spool, day), spec.column_names, origin)

    def _rows(self, lines: Any, day: date) -> Iterator[dict[str, Any]]:
        seen: set[bytes] = set()
        start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        end = start + 86_400
        for raw in lines:
            if not raw.strip():
                continue
            try:
                event = json.loads(raw)
                props = dict(event.get("properties") or {})
                t = float(props.pop("time"))
            except (ValueError, KeyError, TypeError):
                self.stats.unparseable += 1
                continue
            if t > 1e11:  # milliseconds
                t /= 1000
            if not start <= t < end:
                self.stats.outside_day += 1
                continue
            insert_id = props.pop("$insert_id", None)
            distinct_id = props.pop("distinct_id", None)
            name = event.get("event")
            if insert_id is not None:
                key = hashlib.blake2b(
                    f"{name}\x1f{distinct_id}\x1f{t}\x1f{insert_id}".encode(), digest_size=12
                ).digest()
                if key in seen:
                    self.stats.duplicates += 1
                    continue
                seen.add(key)
            group = props.pop(self.group_property, None)
            extra = {k: v for k, v in props.items() if not k.startswith(("$", "mp_"))}
            self.stats.events += 1
            yield {
                "event_id": text(insert_id),
                "event_name": text(name),
                "occurred_at": datetime.fromtimestamp(t, UTC).isoformat(
                    timespec="milliseconds" if t % 1 else "seconds"
                ),
                "user_id": text(distinct_id),
                "group_id": text(group[0] if isinstance(group, list) and group else group),
                "properties": json.dumps(extra) if extra else None,
            }

    # -- groups --------------------------------------------------------------------------------

    def read_table(self, spec: TableSpec) -> Iterator[RawBatch]:
        if spec.name != PRODUCT_GROUPS.name:
            raise SourceError(f"mixpanel does not provide {spec.name}")
        return batches_of(
            self._groups(), spec.column_names, "mixpanel:/api/2.0/engage", self.batch_rows
        )

    def _groups(self) -> Iterator[dict[str, Any]]:

        def fetch(
            cursor: tuple[int, str | None] | None,
        ) -> tuple[list[dict[str, Any]], tuple[int, str | None] | None]:
            page, session = cursor or (0, None)
            form = {
                "data_group_id": self.group_key_id,
                "page": page,
                **({"session_id": session} if session else {}),
            }
            body = self.api.request(
                "POST",
                "/api/2.0/engage",
                params={"project_id": self.project_id},
                data=form,
                idempotent=True,
            ).json()
            results = body.get("results") or []
            last = len(results) < int(body.get("page_size") or 1000)
            return results, None if last else (page + 1, body.get("session_id"))

        for r in paginate(fetch):
            p = r.get("$properties") or {}
            yield {
                "group_id": text(r.get("$distinct_id")),
                "name": text(p.get("$name") or p.get("name")),
                "domain": text(p.get("domain") or p.get("$domain")),
                "crm_company_id": text(p.get("crm_company_id")),
                "created_at": text(p.get("$created") or p.get("created_at")),
            }
