"""The ``files`` source: a landing folder of CSV exports (the embedded default).

The layout and columns are the contract in ``acct_pipeline.warehouse`` and are documented for
people in ``docs/landing-format.md``. Files are handed to the loader by path, so DuckDB reads them
directly and the event history is never materialised in pandas.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from acct_pipeline.connectors.base import (
    EncodingError,
    MissingColumnError,
    RawBatch,
    SourceError,
)
from acct_pipeline.warehouse import RAW_TABLES, TableSpec


def first_invalid_utf8(path: Path, chunk_size: int = 1 << 20) -> tuple[int, int, bytes] | None:
    """Where ``path`` stops being UTF-8: (1-based line, 0-based byte offset, the bad bytes).

    ``None`` when the whole file decodes. Reads the file in chunks (run it on the error path).
    """
    line, base, pending = 1, 0, b""
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(chunk_size)
            data = pending + chunk
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                # A multi-byte character cut by the chunk boundary: decode it with the next chunk.
                if chunk and exc.reason == "unexpected end of data":
                    line += data.count(b"\n", 0, exc.start)
                    base += exc.start
                    pending = data[exc.start :]
                    continue
                return (
                    line + data.count(b"\n", 0, exc.start),
                    base + exc.start,
                    data[exc.start : exc.end],
                )
            if not chunk:
                return None
            line += data.count(b"\n")
            base += len(data)
            pending = b""


def encoding_error(path: Path) -> EncodingError:
    """The error for a landing file that is not UTF-8, naming where and what to do."""
    where = first_invalid_utf8(path)
    at = f" at line {where[0]}, byte offset {where[1]} (bytes {where[2].hex(' ')})" if where else ""
    return EncodingError(
        f"{path}: the file is not valid UTF-8{at}. Re-export it as UTF-8 (in Excel: "
        "'CSV UTF-8'); nothing of this load was kept"
    )


def read_header(path: Path) -> list[str]:
    """The header row of a CSV file, stripped of surrounding blanks and a UTF-8 BOM."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            try:
                header = next(csv.reader(fh))
            except StopIteration:
                return []
    except UnicodeDecodeError as exc:
        raise encoding_error(path) from exc
    return [h.strip() for h in header]


def check_header(spec: TableSpec, path: Path) -> list[str]:
    """Validate a landing file's header against the contract and return it.

    Raises ``MissingColumnError`` naming the file and the column when a required column is
    missing, and ``SourceError`` for an empty file or a duplicated column name.
    """
    header = read_header(path)
    if not header:
        raise SourceError(
            f"{path}: the file is empty (expected a header row with {spec.required_columns})"
        )
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise SourceError(
            f"{path}: column(s) {', '.join(dupes)} appear more than once in the header"
        )
    missing = [c for c in spec.required_columns if c not in header]
    if missing:
        raise MissingColumnError(
            f"{path}: required column {', '.join(repr(m) for m in missing)} is missing "
            f"(table {spec.name}; see docs/landing-format.md)"
        )
    return header


def unread_landing_files(root: Path, first_day: date, last_day: date) -> list[str]:
    """Files under the landing folder ``root`` that no run reads, each with the reason.

    A run reads the snapshot files of the contract and the event file of each day it runs; the
    days that exist are ``first_day`` .. ``last_day`` (the partition range). Anything else (an
    unknown file, an event file for a day outside that range or with a name that is not a date)
    would be ignored without a word. Names starting with ``_`` or ``.`` (the sample's manifest,
    its hidden truth) are not landing files and are skipped.
    """
    if not root.is_dir():
        return []
    snapshots = {spec.landing_path for spec in RAW_TABLES if not spec.partitioned}
    daily = [spec.landing_path for spec in RAW_TABLES if spec.partitioned]
    out: list[str] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        if any(part.startswith(("_", ".")) for part in rel.parts):
            continue
        name = rel.as_posix()
        if name in snapshots:
            continue
        day = _day_of(name, daily)
        if day is None:
            out.append(f"{name} (not a landing file of the contract, docs/landing-format.md)")
        elif day == "":
            out.append(f"{name} (the day in its name is not a date YYYY-MM-DD)")
        elif day < first_day.isoformat():
            out.append(f"{name} (before the first partition, {first_day}: no run reads it)")
        elif day > last_day.isoformat():
            out.append(f"{name} (after the newest partition, {last_day}: no run reads it yet)")
    return out


def _day_of(name: str, patterns: list[str]) -> str | None:
    """The day in a daily file's name ('' when not a date); None when no pattern matches."""
    for pattern in patterns:
        head, tail = pattern.split("{date}")
        if name.startswith(head) and name.endswith(tail) and len(name) > len(head) + len(tail):
            day = name[len(head) : len(name) - len(tail)]
            try:
                return date.fromisoformat(day).isoformat() if len(day) == 10 else ""
            except ValueError:
                return ""
    return None


class FilesSource:
    """Reads the landing folder (``ACCT_LANDING_DIR``, default ``data/sample``)."""

    name = "files"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def tables(self) -> tuple[str, ...]:
        return tuple(t.name for t in RAW_TABLES)

    def path_for(self, spec: TableSpec, day: date | None = None) -> Path:
        rel = spec.landing_path.format(date=day.isoformat()) if day else spec.landing_path
        return self.root / rel

    def read_table(self, spec: TableSpec) -> Iterator[RawBatch]:
        path = self.path_for(spec)
        if not path.exists():
            raise SourceError(
                f"{path}: landing file for {spec.name} not found "
                "(generate the sample with `acct-pipeline generate-sample` "
                "or set ACCT_LANDING_DIR)"
            )
        check_header(spec, path)
        yield RawBatch(origin=str(path), csv_path=path)

    def read_events(self, spec: TableSpec, day: date) -> Iterator[RawBatch]:
        path = self.path_for(spec, day)
        if not path.exists():
            # A day with no export is a day with no events; the freshness check reports it.
            return
        check_header(spec, path)
        yield RawBatch(origin=str(path), csv_path=path)
