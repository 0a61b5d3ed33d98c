"""What every source delivers: raw batches in the columns of the landing contract.

A source (landing files, HubSpot, Salesforce, Stripe, Mixpanel, Amplitude, Segment exports) maps
its records onto the columns of a raw ``TableSpec`` (``acct_pipeline.warehouse``) and yields them
page by page as ``RawBatch``es. Values are left as the source gave them (strings are fine): the
loader casts them and quarantines rows that break a rule, the same way for every source, so
everything downstream is source-agnostic.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

import pandas as pd

from acct_pipeline.warehouse import TableSpec


@dataclass
class RawBatch:
    """One page / file of raw records for one raw table.

    Exactly one of ``frame`` (records as a DataFrame, any dtypes, contract column names) and
    ``csv_path`` (a landing CSV that DuckDB reads directly, without pandas) is set.
    ``origin`` names where the rows came from (file path or endpoint, never a secret) and
    ``first_row`` the 1-based row number of the batch's first record within that origin.
    """

    origin: str
    frame: pd.DataFrame | None = None
    csv_path: Path | None = None
    first_row: int = 1


class Source(Protocol):
    """A system the pipeline reads from. ``name`` is stored in every raw row's ``_source``."""

    name: str

    def tables(self) -> tuple[str, ...]:
        """Names of the raw tables this source fills."""
        ...

    def read_table(self, spec: TableSpec) -> Iterator[RawBatch]:
        """Yield batches for a snapshot table (companies, customers, ...)."""
        ...

    def read_events(self, spec: TableSpec, day: date) -> Iterator[RawBatch]:
        """Yield batches of one UTC day of a partitioned table (product events)."""
        ...


class SourceError(Exception):
    """A source cannot deliver: the message names the file / endpoint and what to do."""


class MissingColumnError(SourceError):
    """A landing file lacks a required column of the contract."""


class SnapshotShrinkError(SourceError):
    """A snapshot would keep far fewer rows than the previous load: rejected, the previous stays."""


class EncodingError(SourceError):
    """A landing file is not UTF-8: the message names the file, line and byte offset."""
