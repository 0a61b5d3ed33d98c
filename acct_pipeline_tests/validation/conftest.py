"""Fixtures for the validation tests: a small hand-made warehouse (see ``synthetic.py``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from acct_pipeline_tests.validation import synthetic


@pytest.fixture(scope="session")
def synthetic_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 accounts x 60 days with known outcomes and scores (read only!)."""
    return synthetic.build(tmp_path_factory.mktemp("synthetic") / "warehouse.duckdb")


@pytest.fixture
def synthetic_copy(synthetic_warehouse: Path, tmp_path: Path) -> Path:
    target = tmp_path / "warehouse.duckdb"
    shutil.copy(synthetic_warehouse, target)
    return target
