"""Fixtures for the connector tests: one small generated sample, loaders, table comparison."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from acct_pipeline.connectors.base import Source
from acct_pipeline.connectors.files import FilesSource
from acct_pipeline.connectors.loader import load_batches
from acct_pipeline.warehouse import LoadResult, TableSpec, connect

SAMPLE = {"accounts": 100, "days": 20, "seed": 5, "end_date": date(2026, 10, 31)}


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A landing folder with 100 accounts x 20 days, generated once per worker."""
    from acct_pipeline.sample.generator import generate_sample

    out = tmp_path_factory.mktemp("connector_sample")
    generate_sample(out, **SAMPLE)
    return out


def sample_days(root: Path) -> list[date]:
    return sorted(
        date.fromisoformat(p.stem.removeprefix("events_"))
        for p in (root / "events").glob("events_*.csv")
    )


def load(
    db: Path, source: Source, specs: Iterable[TableSpec], days: Iterable[date] = ()
) -> dict[str, LoadResult]:
    """Load snapshot tables (and the given days of partitioned ones) from ``source`` into ``db``."""
    out: dict[str, LoadResult] = {}
    with connect(db) as con:
        for spec in specs:
            if spec.partitioned:
                total = LoadResult(table=spec.name, source=source.name)
                for day in days:
                    total.add(
                        load_batches(
                            con, spec, source.read_events(spec, day), source.name, partition=day
                        )
                    )
                out[spec.name] = total
            else:
                out[spec.name] = load_batches(con, spec, source.read_table(spec), source.name)
    return out


def table(db: Path, spec: TableSpec) -> pd.DataFrame:
    """The contract columns of a raw table, sorted by key (loader columns dropped)."""
    cols = ", ".join(f'"{c}"' for c in spec.column_names) + (
        ", event_date" if spec.partitioned else ""
    )
    keys = ", ".join(spec.key)
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"SELECT {cols} FROM {spec.qualified} ORDER BY {keys}").df()


def assert_same_table(
    files_db: Path,
    api_db: Path,
    spec: TableSpec,
    normalise: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    days: Iterable[date] | None = None,
) -> pd.DataFrame:
    """The raw table loaded from files equals the one loaded from the API (after ``normalise``);
    for a partitioned table, only ``days`` (default: all) of the files side are compared."""
    a, b = table(files_db, spec), table(api_db, spec)
    if days is not None:
        wanted = pd.to_datetime(pd.Series(list(days)))
        a = a[pd.to_datetime(a["event_date"]).isin(wanted)]
    if normalise is not None:
        a, b = normalise(a), normalise(b)
    assert len(a) > 0, f"{spec.name}: nothing loaded from files"
    pd.testing.assert_frame_equal(
        a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False
    )
    return b


@pytest.fixture(scope="session")
def files_warehouse(sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every raw table of the sample loaded through the files source (the reference)."""
    from acct_pipeline.warehouse import RAW_TABLES

    db = tmp_path_factory.mktemp("files_wh") / "files.duckdb"
    load(db, FilesSource(sample), RAW_TABLES, sample_days(sample))
    return db
