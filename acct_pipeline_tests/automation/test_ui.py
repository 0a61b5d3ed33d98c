"""The Dagster UI in headless Chromium lists the project's assets (skipped without chromium)."""

from __future__ import annotations

import importlib.util
import sys
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType

import dagster as dg
import pytest

from acct_pipeline.defs.alerts.keys import SCORES_KEY
from acct_pipeline.run import DAGSTER_YAML

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _ui_smoke() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ui_smoke", REPO / "scripts" / "ui_smoke.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["ui_smoke"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_asset_graph_page_lists_the_projects_assets(
    scored_warehouse_copy: Path, tmp_path: Path
) -> None:
    ui_smoke = _ui_smoke()
    binary = ui_smoke.find_chromium()
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
    with ui_smoke.webserver(str(scored_warehouse_copy), str(home), timeout=240) as url:
        result = ui_smoke.check_ui(url, out, binary, timeout=240)
    assert result.missing_assets == [], result
    assert result.missing_groups == [], result
    assert {"account_scores", "score_drop_alerts", "crm_companies"} <= set(result.assets)
    assert {"ingest", "staging", "features", "scores", "alerts"} <= set(result.groups)
    shots = [Path(p) for p in result.screenshots]
    assert [p.name for p in shots] == ["asset-graph.png", "scores-lineage.png"]
    assert all(
        p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000 for p in shots
    )
