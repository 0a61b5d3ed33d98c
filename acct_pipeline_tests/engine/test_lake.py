"""The lake side of a Spark run, without Spark: events ingested to the lake's day folders (not
DuckDB), days the product's pipeline wrote are counted, not read, the small tables are
published once, and the checks' view reads the lake."""

from __future__ import annotations

from pathlib import Path

import pytest

from acct_pipeline import warehouse
from acct_pipeline.connectors.ingest import ingest_days
from acct_pipeline.engine.lake import (
    LOAD_MARKER,
    events_day_path,
    events_view,
    lake_day_rows,
    publish_tables,
)
from acct_pipeline.warehouse import LOAD_AUDIT, PRODUCT_EVENTS
from acct_pipeline_tests.conftest import sample_period


def _lake_rows(con, folder: Path) -> int:  # noqa: ANN001
    files = [str(f) for f in folder.glob("*.parquet")]
    return con.execute("SELECT count(*) FROM read_parquet(?)", [files]).fetchone()[0]


def test_events_go_to_the_lake_not_duckdb(
    small_sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCT_LANDING_DIR", str(small_sample))
    start, _ = sample_period(small_sample)
    lake = str(tmp_path / "lake")
    folder = Path(events_day_path(lake, start))
    with warehouse.connect(tmp_path / "wh.duckdb") as con:
        first = ingest_days(con, PRODUCT_EVENTS, [start], lake=lake)
        assert first.rows_kept > 0 and first.source != "lake"
        assert con.execute(f"SELECT count(*) FROM {PRODUCT_EVENTS.qualified}").fetchone()[0] == 0
        assert (folder / LOAD_MARKER).exists()
        assert _lake_rows(con, folder) == first.rows_kept
        # a day this pipeline wrote is replaced by a rerun (not taken as the product's)
        assert lake_day_rows(con, lake, start) is None
        again = ingest_days(con, PRODUCT_EVENTS, [start], lake=lake)
        assert again.rows_kept == first.rows_kept and again.source != "lake"
        assert len(list(folder.glob("*.parquet"))) == 1
        # a day written by someone else (no marker) is counted, not read
        (folder / LOAD_MARKER).unlink()
        found = ingest_days(con, PRODUCT_EVENTS, [start], lake=lake)
        assert found.rows_in == found.rows_kept == first.rows_kept
        assert any("already in the lake" in n for n in found.notes)
        audit = con.execute(
            f"SELECT source, rows_kept FROM {LOAD_AUDIT} "
            "WHERE source_table = ? AND partition_date = ?",
            [PRODUCT_EVENTS.name, start],
        ).fetchall()
        assert audit == [("lake", first.rows_kept)]
        # the checks' view reads the lake's rows, with event_date from the folder
        with events_view(con, lake) as view:
            n = con.execute(f"SELECT count(*) FROM {view} WHERE event_date = ?", [start])
            assert n.fetchone()[0] == first.rows_kept
        assert not warehouse.table_exists(con, view)


def test_an_empty_lake_gives_an_empty_view(tmp_path: Path) -> None:
    with warehouse.connect(tmp_path / "wh.duckdb") as con:
        warehouse.ensure_core_tables(con)
        with events_view(con, str(tmp_path / "lake")) as view:
            assert con.execute(f"SELECT count(*) FROM {view}").fetchone()[0] == 0
            assert "event_date" in warehouse.column_types(con, view)


def test_small_tables_are_published_once(scored_warehouse_copy: Path, tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    with warehouse.connect(scored_warehouse_copy) as con:
        first = publish_tables(con, lake)
        assert first["staging.accounts"] > 0 and "ingest.product_events" not in first
        assert publish_tables(con, lake) == {}  # nothing changed: nothing rewritten
        con.execute(
            "DELETE FROM staging.accounts WHERE account_id IN "
            "(SELECT account_id FROM staging.accounts LIMIT 1)"
        )
        assert publish_tables(con, lake) == {"staging.accounts": first["staging.accounts"] - 1}
        folder = tmp_path / "lake" / "staging" / "accounts"
        assert _lake_rows(con, folder) == first["staging.accounts"] - 1


def test_an_object_store_lake_needs_spark(tmp_path: Path) -> None:
    with warehouse.connect(tmp_path / "wh.duckdb") as con:
        warehouse.ensure_core_tables(con)
        with pytest.raises(ValueError, match="Spark"):
            publish_tables(con, "s3a://bucket/lake")
        with (
            pytest.raises(ValueError, match="local lakes only"),
            events_view(con, "s3a://bucket/lake"),
        ):
            pass
