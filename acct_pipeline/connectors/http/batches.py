"""Turning mapped records into the loader's ``RawBatch`` (DataFrame batches or one CSV file)."""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from acct_pipeline.connectors.base import RawBatch


def batches_of(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    origin: str,
    batch_rows: int = 5000,
) -> Iterator[RawBatch]:
    """Group mapped records into ``RawBatch`` frames of at most ``batch_rows`` rows.

    Pages are consumed as they arrive, so memory holds one batch, never the whole stream.
    """
    buf: list[Mapping[str, Any]] = []
    first = 1
    for row in rows:
        buf.append(row)
        if len(buf) >= batch_rows:
            yield RawBatch(
                origin=origin,
                frame=pd.DataFrame.from_records(buf, columns=list(columns)),
                first_row=first,
            )
            first += len(buf)
            buf = []
    if buf:
        yield RawBatch(
            origin=origin,
            frame=pd.DataFrame.from_records(buf, columns=list(columns)),
            first_row=first,
        )


def text(value: Any) -> str | None:
    """A source value as the loader wants it: a string (``true``/``false`` for booleans,
    integral floats without ``.0``), or None. Keeps pandas from turning ids into floats."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def csv_batches(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    origin: str,
    *,
    on_written: Callable[[], None] | None = None,
) -> Iterator[RawBatch]:
    """Write mapped records to one temporary landing-format CSV and hand it on as one batch.

    For event volumes: the loader then reads the file with DuckDB directly, exactly as it reads
    the files source, instead of converting Python objects batch by batch. Memory holds one row
    while writing; ``on_written`` runs before the batch is yielded (e.g. to free a de-duplication
    set). The file is removed once the loader has consumed it. Nothing is yielded for no rows.
    """
    with tempfile.NamedTemporaryFile(
        "w", suffix=".csv", prefix="acct-batch-", newline="", encoding="utf-8", delete=False
    ) as fh:
        path = Path(fh.name)
        writer = csv.writer(fh)
        writer.writerow(columns)
        n = 0
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
            n += 1
    try:
        if on_written is not None:
            on_written()
        if n:
            yield RawBatch(origin=origin, csv_path=path)
    finally:
        path.unlink(missing_ok=True)
