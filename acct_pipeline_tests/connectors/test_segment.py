"""Segment / RudderStack export files: same product tables as the landing files."""

from __future__ import annotations

from pathlib import Path

import pytest

from acct_pipeline.connectors.base import SourceError
from acct_pipeline.connectors.segment import SegmentSource
from acct_pipeline.warehouse import PRODUCT_EVENTS, PRODUCT_GROUPS
from acct_pipeline_tests.connectors.conftest import assert_same_table, load, sample_days
from acct_pipeline_tests.fakes.segment import write_segment_export


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_same_product_tables_as_files(
    sample: Path, files_warehouse: Path, tmp_path: Path, fmt: str
) -> None:
    export = write_segment_export(sample, tmp_path / "segment", fmt)
    days = sample_days(sample)[-5:] if fmt == "parquet" else sample_days(sample)[-2:]
    src = SegmentSource.from_env({"SEGMENT_EXPORT_DIR": str(export)}, batch_rows=500)
    load(tmp_path / "api.duckdb", src, (PRODUCT_GROUPS, PRODUCT_EVENTS), days)
    assert_same_table(files_warehouse, tmp_path / "api.duckdb", PRODUCT_GROUPS)
    # Tracks with an unparseable timestamp belong to no day: the files source quarantines them.
    assert_same_table(files_warehouse, tmp_path / "api.duckdb", PRODUCT_EVENTS, days=days)


def test_missing_export_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="SEGMENT_EXPORT_DIR"):
        SegmentSource.from_env({})
    with pytest.raises(SourceError, match="tracks"):
        list(SegmentSource(tmp_path).read_table(PRODUCT_GROUPS))
