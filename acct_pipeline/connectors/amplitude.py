"""Amplitude source: the Export API feeding ``product_events``, one UTC day per partition.

Configuration (environment variables):

``AMPLITUDE_API_KEY``      the project's API key (required).
``AMPLITUDE_SECRET_KEY``   the project's secret key (required); both are sent as HTTP basic auth.
                           Any project member with the keys can export (Admin/Manager sees them
                           in Settings > Projects).
``AMPLITUDE_BASE_URL``     default ``https://amplitude.com`` (EU: ``https://analytics.eu.amplitude.com``).
``AMPLITUDE_GROUP_TYPE``   the group type holding the account / workspace id, default ``account``.
``AMPLITUDE_LATE_HOURS``   how many hours after the day's end to keep looking for its events
                           (default 6). The export selects by *upload* time, so a day's events
                           arrive in that day's and the next hours' files; events are kept by
                           ``event_time``. Late mobile uploads beyond this window are missed:
                           raise it, or rerun older partitions.
``AMPLITUDE_RATE_LIMIT``   client-side pacing, ``calls/seconds`` (default ``4/60``).
``ACCT_LANDING_DIR``       ``product_groups`` (the workspace list) is read from the landing
                           folder's ``product/groups.csv``: the Export API has no account list.

The zip is streamed to a temporary file (a zip's directory is at its end; a body that breaks off
is downloaded again), then each hour's gzipped JSON-lines file is read as a stream into one
landing-format CSV per day that the loader reads with DuckDB, so memory holds one line. A 404
means no data in the range (an empty day). ``event_id`` is ``$insert_id`` when the sender set
one, else Amplitude's ``uuid``; ``group_id`` is the first id of
``groups[AMPLITUDE_GROUP_TYPE]``; ``properties`` is ``event_properties`` as JSON.
"""

from __future__ import annotations

import gzip
import json
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from acct_pipeline.connectors.base import RawBatch, SourceError
from acct_pipeline.connectors.catalogue import landing_dir
from acct_pipeline.connectors.files import FilesSource
from acct_pipeline.connectors.http import (
    ServiceClient,
    csv_batches,
    env_number,
    limiter,
    rate_windows,
    require_env,
    text,
)
from acct_pipeline.warehouse import PRODUCT_EVENTS, PRODUCT_GROUPS, TableSpec

KEY_ENV = "AMPLITUDE_API_KEY"
SECRET_ENV = "AMPLITUDE_SECRET_KEY"
BASE_URL_ENV = "AMPLITUDE_BASE_URL"
GROUP_TYPE_ENV = "AMPLITUDE_GROUP_TYPE"
LATE_ENV = "AMPLITUDE_LATE_HOURS"
RATE_ENV = "AMPLITUDE_RATE_LIMIT"


@dataclass
class AmplitudeStats:
    events: int = 0
    outside_day: int = 0
    unparseable: int = 0
    files: int = 0
    duplicates: int = 0


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    s = str(value)
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(s, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


class AmplitudeSource:
    """Reads ``product_events`` from Amplitude (``ACCT_PRODUCT_SOURCE=amplitude``)."""

    name = "amplitude"

    def __init__(
        self,
        client: ServiceClient,
        *,
        group_type: str = "account",
        late_hours: int = 6,
        groups_source: FilesSource | None = None,
        batch_rows: int = 50_000,
    ) -> None:
        self.client = client
        self.group_type = group_type
        self.late_hours = late_hours
        self.groups_source = groups_source
        self.batch_rows = batch_rows
        self.stats = AmplitudeStats()

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        **kw: Any,
    ) -> AmplitudeSource:
        key = require_env(env, KEY_ENV, "amplitude")
        secret = require_env(env, SECRET_ENV, "amplitude")
        client = ServiceClient(
            "amplitude",
            env.get(BASE_URL_ENV) or "https://amplitude.com",
            auth_env=f"{KEY_ENV} / {SECRET_ENV}",
            auth=(key, secret),
            secrets=[key, secret],
            rate_limiter=limiter(rate_windows(env, RATE_ENV, "4/60"), sleep=sleep, clock=clock),
            sleep=sleep,
            timeout=(10.0, 900.0),
        )
        return cls(
            client,
            group_type=env.get(GROUP_TYPE_ENV) or "account",
            late_hours=int(env_number(env, LATE_ENV, 6)),
            groups_source=FilesSource(landing_dir(env)),
            **kw,
        )

    def tables(self) -> tuple[str, ...]:
        return (PRODUCT_GROUPS.name, PRODUCT_EVENTS.name)

    def read_table(self, spec: TableSpec) -> Iterator[RawBatch]:
        if spec.name != PRODUCT_GROUPS.name or self.groups_source is None:
            raise SourceError(f"amplitude does not provide {spec.name}")
        return self.groups_source.read_table(spec)

    def read_events(self, spec: TableSpec, day: date) -> Iterator[RawBatch]:
        if spec.name != PRODUCT_EVENTS.name:
            raise SourceError(f"amplitude does not provide {spec.name}")
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        end = start + timedelta(hours=23 + self.late_hours)
        params = {"start": start.strftime("%Y%m%dT%H"), "end": end.strftime("%Y%m%dT%H")}
        with tempfile.TemporaryFile(prefix="amplitude-export-") as spool:
            resp = self.client.download("/api/2/export", spool, params=params, ok_statuses=(404,))
            if resp.status_code == 404:  # no data uploaded in the range: an empty day
                return
            spool.seek(0)
            try:
                archive = zipfile.ZipFile(spool)
            except zipfile.BadZipFile as exc:
                raise SourceError(f"amplitude export for {day} is not a zip file: {exc}") from None
            with archive:
                origin = f"amplitude:/api/2/export?day={day}"
                yield from csv_batches(self._rows(archive, start), spec.column_names, origin)

    def _rows(self, archive: zipfile.ZipFile, start: datetime) -> Iterator[dict[str, Any]]:
        end = start + timedelta(days=1)
        seen: set[str] = set()
        for name in sorted(n for n in archive.namelist() if n.endswith(".json.gz")):
            self.stats.files += 1
            with archive.open(name) as member, gzip.open(member) as lines:
                for raw in lines:
                    if not raw.strip():
                        continue
                    try:
                        event = json.loads(raw)
                    except ValueError:
                        self.stats.unparseable += 1
                        continue
                    t = _parse_time(event.get("event_time"))
                    if t is None:
                        self.stats.unparseable += 1
                        continue
                    if not start <= t < end:
                        self.stats.outside_day += 1
                        continue
                    event_id = event.get("$insert_id") or event.get("uuid")
                    if event_id in seen:  # a file re-sent across hours
                        self.stats.duplicates += 1
                        continue
                    seen.add(event_id)
                    group = (event.get("groups") or {}).get(self.group_type)
                    if isinstance(group, list):
                        group = group[0] if group else None
                    props = event.get("event_properties") or {}
                    self.stats.events += 1
                    yield {
                        "event_id": text(event_id),
                        "event_name": text(event.get("event_type")),
                        "occurred_at": t.isoformat(),
                        "user_id": text(event.get("user_id")),
                        "group_id": text(group),
                        "properties": json.dumps(props) if props else None,
                    }
