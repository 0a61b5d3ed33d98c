"""The scores card in the UI counts its checks as they came out (issue 22: "0/20 Passed").

The asset card's "N / M Passed" is computed in the browser from two GraphQL fields of each check,
``partitionStatuses`` and ``executionForLatestMaterialization`` (dagster-webserver 1.13:
``ui-core/src/assets/asset-checks/AssetChecksStatusSummary.tsx`` counts a check as passed when
``getAggregateCheckIconType`` in ``asset-checks/util.tsx`` says SUCCEEDED). This test runs the
daily job over a range of days (as ``acct-pipeline demo`` does) into a real instance, asks the
code location's GraphQL schema for those fields, applies the card's rule, and compares the count
with the checks that passed on the newest day. Chromium is not needed (a browser test of the same
number would read it off the rendered card; the number comes only from these fields).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from acct_pipeline.defs.alerts.keys import SCORES_KEY
from acct_pipeline.run import DAGSTER_YAML, run_days
from acct_pipeline_tests.automation.ui_smoke_loader import ui_smoke
from acct_pipeline_tests.conftest import sample_period

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

# The fields the asset card reads (AssetCheckLiveFragment in AssetBaseDataProvider.tsx).
CHECKS_QUERY = """
query ($assetKey: AssetKeyInput!) {
  assetNodes(assetKeys: [$assetKey]) {
    assetChecksOrError {
      ... on AssetChecks {
        checks {
          name
          executionForLatestMaterialization { status evaluation { severity } }
          partitionStatuses {
            ... on AssetCheckTimePartitionStatuses { ranges { startKey endKey status } }
            ... on AssetCheckDefaultPartitionStatuses {
              succeededPartitions failedPartitions inProgressPartitions skippedPartitions
              executionFailedPartitions
            }
          }
        }
      }
    }
  }
}
"""


def card_status(check: dict[str, Any]) -> str:
    """The card's status of one check: ``getAggregateCheckIconType`` in util.tsx, in Python."""
    statuses = check.get("partitionStatuses") or {}
    counts: dict[str, int] = {}
    for r in statuses.get("ranges") or []:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    for field, status in (
        ("succeededPartitions", "SUCCEEDED"),
        ("failedPartitions", "FAILED"),
        ("inProgressPartitions", "IN_PROGRESS"),
        ("skippedPartitions", "SKIPPED"),
        ("executionFailedPartitions", "EXECUTION_FAILED"),
    ):
        counts[status] = counts.get(status, 0) + len(statuses.get(field) or [])
    latest = check.get("executionForLatestMaterialization") or {}
    if not any(counts.values()):  # not partitioned: the latest execution decides
        return latest.get("status") or "NOT_EVALUATED"
    for status in ("FAILED", "EXECUTION_FAILED", "IN_PROGRESS", "SKIPPED", "SUCCEEDED"):
        if counts.get(status):
            return "FAILED" if status == "EXECUTION_FAILED" else status
    return "NOT_EVALUATED"


@pytest.fixture(scope="module")
def instance_after_a_range_run(
    small_sample: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dg.DagsterInstance, str, date]]:
    tmp_path = tmp_path_factory.mktemp("range_run")
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    start, end = sample_period(small_sample)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("ACCT_LANDING_DIR", str(small_sample))
        monkeypatch.setenv("ACCT_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
        monkeypatch.setenv("ACCT_SYNC_OUTBOX_DIR", str(tmp_path / "outbox"))
        monkeypatch.setenv("ACCT_PARTITIONS_START", start.isoformat())
        monkeypatch.setenv("ACCT_PARTITIONS_END", end.isoformat())
        with dg.DagsterInstance.from_config(str(home)) as instance:
            outcome = run_days(start, end, instance=instance, history=True)
            assert outcome.success, outcome.failure
            yield instance, outcome.run_id, end


def newest_day_results(instance: dg.DagsterInstance, run_id: str, end: date) -> dict[str, bool]:
    """Check name -> passed, as the run recorded them against the newest day."""
    newest: dict[str, bool] = {}
    for record in instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, limit=100_000
    ).records:
        ev = record.event_log_entry.dagster_event.event_specific_data
        if ev.asset_key == SCORES_KEY and ev.partition == end.isoformat():
            newest[ev.check_name] = ev.passed
    return newest


def test_the_scores_card_counts_the_checks_that_passed_on_the_newest_day(
    instance_after_a_range_run: tuple[dg.DagsterInstance, str, date],
) -> None:
    from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

    instance, run_id, end = instance_after_a_range_run
    # what the run recorded against the newest day, check by check
    newest = newest_day_results(instance, run_id, end)
    assert len(newest) >= 10 and sum(newest.values()) >= 10, newest

    with define_out_of_process_context(str(REPO / "workspace.yaml"), None, instance) as context:
        result = execute_dagster_graphql(
            context, CHECKS_QUERY, {"assetKey": {"path": list(SCORES_KEY.path)}}
        )
    assert not result.errors, result.errors
    checks = result.data["assetNodes"][0]["assetChecksOrError"]["checks"]
    card = {c["name"]: card_status(c) for c in checks}
    passed = sorted(name for name, status in card.items() if status == "SUCCEEDED")
    # "N / M Passed": N is the checks that passed on the newest day, none reads Skipped
    assert passed == sorted(name for name, ok in newest.items() if ok), card
    assert "SKIPPED" not in card.values(), card
    # every partitioned check has a status for every day of the run
    for c in checks:
        ranges = (c.get("partitionStatuses") or {}).get("ranges")
        if ranges:
            assert [r["status"] for r in ranges] == ["SUCCEEDED"] or newest.get(c["name"]) is False


CARD = re.compile(r"account_scores Latest event .{0,80}? Asset checks (\d+) / (\d+) Passed")


def test_the_scores_card_in_the_browser_reads_the_checks_count(
    instance_after_a_range_run: tuple[dg.DagsterInstance, str, date],
) -> None:
    """The number a user reads on the scores card (lineage view, headless Chromium) is the
    number of the asset's checks that passed on the newest day, out of all its checks."""
    smoke = ui_smoke()
    binary = smoke.find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed (apt-get update && apt-get install -y chromium)")
    instance, run_id, end = instance_after_a_range_run
    newest = newest_day_results(instance, run_id, end)
    all_checks = [key.name for key in scores_checks()]  # every check the scores asset declares
    warehouse = os.environ["ACCT_WAREHOUSE"]  # the fixture's, set while it is alive
    home = Path(instance.root_directory)
    page = f"/locations/{smoke.LOCATION}/asset-groups/scores/lineage"
    found = None
    deadline = time.monotonic() + 240
    with smoke.webserver(warehouse, str(home), timeout=240) as url:
        while found is None and time.monotonic() < deadline:
            dom = smoke.chromium(
                binary,
                ["--window-size=1600,3000", "--virtual-time-budget=20000", "--dump-dom"],
                url + page,
            )
            found = CARD.search(smoke.visible_text(dom))
            if found is None:
                time.sleep(2)
    assert found, "the scores card shows no 'N / M Passed'"
    shown_passed, shown_total = int(found.group(1)), int(found.group(2))
    assert shown_total == len(all_checks), (shown_total, all_checks)
    assert shown_passed == sum(newest.values()), (shown_passed, newest)
    assert shown_passed > 0


def scores_checks() -> list[dg.AssetCheckKey]:
    """The checks declared on the scores asset by the code location."""
    from acct_pipeline.definitions import defs

    graph = defs().resolve_asset_graph()
    return sorted(
        (k for k in graph.asset_check_keys if k.asset_key == SCORES_KEY), key=lambda k: k.name
    )
