"""Shared fixtures: a small generated sample company and a warehouse built from it.

Session-scoped (per xdist worker) so the suite generates and scores the sample once; tests that
change data copy the warehouse first (``scored_warehouse_copy``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

SMALL = {"accounts": 150, "days": 40, "seed": 11}


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A landing folder with 150 accounts × 40 days (generated once per worker)."""
    from acct_pipeline.sample.generator import generate_sample

    out = tmp_path_factory.mktemp("landing")
    generate_sample(out, **SMALL)
    return out


def sample_period(landing: Path) -> tuple[date, date]:
    manifest = json.loads((landing / "_manifest.json").read_text())
    return date.fromisoformat(manifest["period"]["start"]), date.fromisoformat(
        manifest["period"]["end"]
    )


class _Env:
    """Set environment variables for a block and restore them afterwards (session-safe)."""

    def __init__(self, **values: str) -> None:
        self.values = values
        self.saved: dict[str, str | None] = {}

    def __enter__(self) -> None:
        for k, v in self.values.items():
            self.saved[k] = os.environ.get(k)
            os.environ[k] = v

    def __exit__(self, *exc: object) -> None:
        for k, old in self.saved.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old


@pytest.fixture(scope="session")
def scored_warehouse(small_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse with every day of the small sample run through the Dagster job (read only!)."""
    from acct_pipeline.run import run_days

    db = tmp_path_factory.mktemp("wh") / "warehouse.duckdb"
    start, end = sample_period(small_sample)
    with _Env(ACCT_LANDING_DIR=str(small_sample), ACCT_WAREHOUSE=str(db)):
        outcome = run_days(start, end, instance=dg.DagsterInstance.ephemeral())
    assert outcome.success, "building the shared test warehouse failed"
    return db


@pytest.fixture
def scored_warehouse_copy(scored_warehouse: Path, tmp_path: Path) -> Path:
    """A private copy of the shared warehouse that a test may change."""
    target = tmp_path / "warehouse.duckdb"
    shutil.copy(scored_warehouse, target)
    return target


@pytest.fixture
def pipeline_env(
    small_sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Point the pipeline at the small sample and an empty warehouse in ``tmp_path``."""
    db = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("ACCT_LANDING_DIR", str(small_sample))
    monkeypatch.setenv("ACCT_WAREHOUSE", str(db))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    yield db
