"""The score-drop sensor reads the metadata keys the scores asset writes (one constant each,
``acct_pipeline.defs.keys``): a rename on one side cannot silently stop the alerts."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from acct_pipeline.defs import keys
from acct_pipeline.defs.alerts import keys as alert_keys
from acct_pipeline.defs.resources import EngineResource, WarehouseResource
from acct_pipeline.defs.scores.assets import MODELS_DIR_ENV, account_scores
from acct_pipeline.defs.sensors import drops_in
from acct_pipeline.scoring.model import load_model
from acct_pipeline.scoring.signals import compute_signals
from acct_pipeline.warehouse import SCHEMAS
from acct_pipeline_tests.scoring.tiny import AS_OF, build_tiny


def test_the_alert_keys_are_the_shared_ones() -> None:
    assert alert_keys.SCORES_KEY is keys.SCORES_KEY
    assert alert_keys.DROPPED_ACCOUNTS is keys.DROPPED_ACCOUNTS
    assert alert_keys.DROPPED_ACCOUNTS_BY_DAY is keys.DROPPED_ACCOUNTS_BY_DAY


def test_the_sensor_reads_what_the_scores_asset_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("SET TimeZone = 'UTC'")
        for s in SCHEMAS:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
        build_tiny(con)
        compute_signals(con, AS_OF, load_model())
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "models"))

    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [account_scores],
            partition_key=AS_OF.isoformat(),
            resources={"warehouse": WarehouseResource(path=str(db)), "engine": EngineResource()},
            instance=instance,
        )
        assert result.success
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=keys.SCORES_KEY), limit=10
        ).records
        assert len(records) == 1
        metadata = records[0].asset_materialization.metadata
        assert keys.DROPPED_ACCOUNTS in metadata and keys.DROPPED_ACCOUNTS_BY_DAY in metadata
        # the sensor gets a number from it (None would mean "did not say": keys out of step)
        drops = drops_in(records[0])
    assert drops is not None and drops == metadata[keys.DROPPED_ACCOUNTS].value
