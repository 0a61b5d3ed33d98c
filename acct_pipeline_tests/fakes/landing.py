"""Read a landing folder (the sample generator's output) for the fakes to serve."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

from acct_pipeline.warehouse import PRODUCT_EVENTS, TableSpec


def rows(root: Path, spec: TableSpec, day: date | None = None) -> Iterator[dict[str, str | None]]:
    """The rows of a landing CSV as dicts of stripped strings (empty -> None); none if absent."""
    rel = spec.landing_path.format(date=day.isoformat()) if day else spec.landing_path
    path = Path(root) / rel
    if not path.exists():
        return
    with path.open(newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            yield {
                (k or "").strip(): (v.strip() if isinstance(v, str) and v.strip() != "" else None)
                for k, v in row.items()
            }


def unique_rows(root: Path, spec: TableSpec) -> Iterator[dict[str, str | None]]:
    """Rows with a key, first occurrence per key: what an API (one record per id) can hold."""
    seen: set[tuple] = set()
    for row in rows(root, spec):
        key = tuple(row.get(k) for k in spec.key)
        if any(k is None for k in key) or key in seen:
            continue
        seen.add(key)
        yield row


def event_days(root: Path) -> list[date]:
    folder = Path(root) / Path(PRODUCT_EVENTS.landing_path).parent
    out = []
    for p in sorted(folder.glob("events_*.csv")):
        try:
            out.append(date.fromisoformat(p.stem.removeprefix("events_")))
        except ValueError:
            continue
    return out


def parse_ts(value: str | None) -> datetime | None:
    """A landing timestamp as an aware UTC datetime (None when empty or malformed)."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
