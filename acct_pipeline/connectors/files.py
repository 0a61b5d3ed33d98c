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

from acct_pipeline.connectors.base import MissingColumnError, RawBatch, SourceError
from acct_pipeline.warehouse import RAW_TABLES, TableSpec


def read_header(path: Path) -> list[str]:
    """The header row of a CSV file, stripped of surrounding blanks and a UTF-8 BOM."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        try:
            header = next(csv.reader(fh))
        except StopIteration:
            return []
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
