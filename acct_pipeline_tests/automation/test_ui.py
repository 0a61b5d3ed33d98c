"""The Dagster UI in headless Chromium lists the project's assets (skipped without chromium)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from acct_pipeline.defs.alerts.keys import SCORES_KEY
from acct_pipeline.run import DAGSTER_YAML
from acct_pipeline_tests.automation.ui_smoke_loader import ui_smoke

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_the_asset_graph_page_lists_the_projects_assets(
    scored_warehouse_copy: Path, tmp_path: Path
) -> None:
    smoke = ui_smoke()
    binary = smoke.find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed (apt-get update && apt-get install -y chromium)")
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    # Some materialized history for the partitions view.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for i in range(3):
            day = date(2026, 10, 29) + timedelta(days=i)
            instance.report_runless_asset_event(
                dg.AssetMaterialization(SCORES_KEY, partition=day.isoformat())
            )
    out = tmp_path / "ui"
    with smoke.webserver(str(scored_warehouse_copy), str(home), timeout=240) as url:
        result = smoke.check_ui(url, out, binary, timeout=240)
    assert result.missing_assets == [], result
    assert result.missing_groups == [], result
    assert {"account_scores", "score_drop_alerts", "crm_companies"} <= set(result.assets)
    assert {"ingest", "staging", "features", "scores", "alerts"} <= set(result.groups)
    shots = [Path(p) for p in result.screenshots]
    assert [p.name for p in shots] == ["asset-graph.png", "scores-lineage.png"]
    assert all(
        p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000 for p in shots
    )
