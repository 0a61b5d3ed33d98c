"""A fake Amplitude project: the Export API (zip of gzipped JSON-lines files, one per hour).

``GET /api/2/export?start=YYYYMMDDTHH&end=YYYYMMDDTHH`` (hours inclusive, by **server upload
time**, UTC) answers ``application/zip`` holding ``<app>/<app>_<YYYY-MM-DD>_<H>#0.json.gz`` for
each hour with data; 404 when the range holds no data, 400 for a malformed range or one longer
than ``max_hours`` (365 days). Auth: HTTP basic ``API_KEY:SECRET_KEY``, 401 otherwise. Rolling
``rate_limit`` (default 5 requests per 60 s... realistically generous: Amplitude documents no
limit but concurrent exports) -> 429.

Events: ``uuid`` (always), ``$insert_id`` (the landing ``event_id`` when present),
``event_type``, ``event_time`` / ``client_event_time`` (``2026-05-01 13:45:10.000000``),
``server_upload_time`` = event time + a deterministic lag of 0..``max_lag_seconds`` (default two
hours, so late-evening events arrive in the next day's files), ``user_id``, ``groups``
(``{group_type: [id]}``), ``event_properties`` (the landing JSON), ``group_properties``, ``app``.
Events whose time does not parse are not stored.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import tempfile
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from acct_pipeline.warehouse import PRODUCT_EVENTS
from acct_pipeline_tests.fakes import landing
from acct_pipeline_tests.fakes.base import FakeServer, Fault, Request, Response, json_response

API_KEY = "0123456789abcdef0123456789abcdef"
SECRET_KEY = "fedcba9876543210fedcba9876543210"
APP_ID = 187520

EventsSource = Callable[[date], Iterable[dict[str, str | None]]]


class FakeAmplitude(FakeServer):
    name = "amplitude"

    def __init__(
        self,
        api_key: str = API_KEY,
        secret_key: str = SECRET_KEY,
        *,
        group_type: str = "account",
        group_as_list: bool = True,
        max_lag_seconds: int = 7200,
        max_hours: int = 365 * 24,
        rate_limit: tuple[int, float] | None = None,
        events_source: EventsSource | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(clock)
        self.api_key, self.secret_key = api_key, secret_key
        self.group_type = group_type
        self.group_as_list = group_as_list
        self.max_lag_seconds = max_lag_seconds
        self.max_hours = max_hours
        self.rate_limit = rate_limit
        self.events_source = events_source
        self._recent: list[float] = []
        self.route("GET", "/api/2/export/?", self.export)

    def load_landing(self, root: str | Path) -> FakeAmplitude:
        root = Path(root)
        self.events_source = lambda day: landing.rows(root, PRODUCT_EVENTS, day)
        return self

    def authenticate(self, req: Request) -> Response | None:
        auth = req.header("authorization") or ""
        if auth.lower().startswith("basic "):
            user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            if (user, pw) == (self.api_key, self.secret_key):
                return None
        return Response(401, b"Invalid Api-Key", {"Content-Type": "text/plain"})

    def rate_limit_fault_response(self, fault: Fault) -> Response:
        return json_response(429, {"error": "Too many requests for export"})

    def throttle(self, req: Request) -> Response | None:
        if self.rate_limit is None:
            return None
        with self.lock:
            now = self.clock()
            n, period = self.rate_limit
            self._recent = [t for t in self._recent if t > now - period]
            if len(self._recent) >= n:
                return self.rate_limit_fault_response(Fault("status", 0, 429))
            self._recent.append(now)
        return None

    # -- export --------------------------------------------------------------------------------

    def lag(self, key: str) -> int:
        return zlib.crc32(key.encode()) % (self.max_lag_seconds + 1)

    def to_amplitude(
        self, row: dict[str, str | None], n: int
    ) -> tuple[datetime, dict[str, Any]] | None:
        ts = landing.parse_ts(row.get("occurred_at"))
        if ts is None:
            return None
        key = row.get("event_id") or f"{row.get('user_id')}|{row.get('occurred_at')}|{n}"
        uploaded = ts + timedelta(seconds=self.lag(key))
        fmt = "%Y-%m-%d %H:%M:%S.%f"
        group = row.get("group_id")
        event: dict[str, Any] = {
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, key)),
            "event_type": row.get("event_name"),
            "event_time": ts.strftime(fmt),
            "client_event_time": ts.strftime(fmt),
            "server_upload_time": uploaded.strftime(fmt),
            "user_id": row.get("user_id"),
            "device_id": None,
            "groups": (
                {self.group_type: [group] if self.group_as_list else group} if group else {}
            ),
            "event_properties": json.loads(row["properties"]) if row.get("properties") else {},
            "group_properties": {},
            "user_properties": {},
            "app": APP_ID,
        }
        if row.get("event_id"):
            event["$insert_id"] = row["event_id"]
        return uploaded, event

    def export(self, req: Request) -> Response:
        try:
            start = datetime.strptime(req.arg("start") or "", "%Y%m%dT%H").replace(tzinfo=UTC)
            end = datetime.strptime(req.arg("end") or "", "%Y%m%dT%H").replace(tzinfo=UTC)
        except ValueError:
            return Response(
                400, b"start and end must be YYYYMMDDTHH", {"Content-Type": "text/plain"}
            )
        if end < start or (end - start) / timedelta(hours=1) > self.max_hours:
            return Response(400, b"Invalid time range", {"Content-Type": "text/plain"})
        stop = end + timedelta(hours=1)  # end hour inclusive
        hours: dict[datetime, list[bytes]] = {}
        if self.events_source is not None:
            day = (start - timedelta(seconds=self.max_lag_seconds)).date()
            while day <= end.date():
                for n, row in enumerate(self.events_source(day)):
                    got = self.to_amplitude(row, n)
                    if got is None:
                        continue
                    uploaded, event = got
                    if start <= uploaded < stop:
                        hour = uploaded.replace(minute=0, second=0, microsecond=0)
                        hours.setdefault(hour, []).append(json.dumps(event).encode() + b"\n")
                day += timedelta(days=1)
        if not hours:
            return Response(404, b"Raw data files were not found.", {"Content-Type": "text/plain"})
        # Closed by _chunks once the body is sent (the response outlives this method).
        spool = tempfile.SpooledTemporaryFile(max_size=32 << 20)  # noqa: SIM115
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED) as zf:
            for hour in sorted(hours):
                name = f"{APP_ID}/{APP_ID}_{hour:%Y-%m-%d}_{hour.hour}#0.json.gz"
                zf.writestr(name, gzip.compress(b"".join(hours[hour]), compresslevel=1))
        size = spool.tell()
        spool.seek(0)
        return Response(
            200,
            _chunks(spool),
            {
                "Content-Type": "application/zip",
                "Content-Disposition": "attachment; filename=export.zip",
                "X-Export-Size": str(size),
            },
        )


def _chunks(fh: io.IOBase, size: int = 1 << 20) -> Iterator[bytes]:
    try:
        while chunk := fh.read(size):
            yield chunk
    finally:
        fh.close()
