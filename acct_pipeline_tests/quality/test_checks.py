"""The checks as Dagster sees them, and a broken scores day that never reaches the sync."""

from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from acct_pipeline.definitions import defs
from acct_pipeline.defs.partitions import daily_partitions
from acct_pipeline.defs.quality.checks import ROWS_RECONCILED, SCORES_KEY, scores_checks
from acct_pipeline.defs.quality.identity_checks import (
    EVERY_RECORD_RESOLVED,
    MATCH_RATE,
    NO_SHARED_DOMAINS,
)
from acct_pipeline.defs.resources import EngineResource, WarehouseResource
from acct_pipeline.quality.expectations import (
    BLOCKING_SCORE_CHECKS,
    HEALTH_SCORE_IN_RANGE,
    KEY_UNIQUE,
    PARTITION_HAS_ROWS,
    RAW_SUITES,
    SCORES_SUITE,
    SIGNALS_SUITE,
    not_null,
)
from acct_pipeline.quality.guard import scores_partition_problems
from acct_pipeline.quality.validate import validate_suite
from acct_pipeline.warehouse import ACCOUNT_SCORES, RAW_TABLES
from acct_pipeline_tests.conftest import sample_period

SYNC_KEY = dg.AssetKey(["sync", "crm_score_sync"])


@pytest.fixture(scope="module")
def graph() -> dg.Definitions:
    d = defs()
    dg.Definitions.validate_loadable(d)
    return d


def _checks_by_asset(d: dg.Definitions) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for key in d.resolve_asset_graph().asset_check_keys:
        out.setdefault(key.asset_key.to_user_string(), set()).add(key.name)
    return out


def test_the_definitions_list_a_check_per_expectation_on_every_asset(graph: dg.Definitions) -> None:
    by_asset = _checks_by_asset(graph)
    for spec in RAW_TABLES:
        expected = set(RAW_SUITES[spec.name].checks) | {ROWS_RECONCILED}
        assert expected <= by_asset[f"ingest/{spec.name}"], spec.name
    assert set(SIGNALS_SUITE.checks) <= by_asset["features/account_signals"]
    assert set(SCORES_SUITE.checks) <= by_asset["scores/account_scores"]
    assert {MATCH_RATE, EVERY_RECORD_RESOLVED} <= by_asset["staging/identity_map"]
    assert NO_SHARED_DOMAINS in by_asset["staging/duplicate_domains"]
    assert sum(len(v) for v in by_asset.values()) > 100


def test_crm_facing_score_checks_are_blocking_and_daily_checks_are_partitioned(
    graph: dg.Definitions,
) -> None:
    ag = graph.resolve_asset_graph()
    blocking = {
        k.name
        for k in ag.asset_check_keys
        if k.asset_key == SCORES_KEY and ag.get_check_spec(k).blocking
    }
    assert blocking == set(BLOCKING_SCORE_CHECKS)
    assert {HEALTH_SCORE_IN_RANGE, not_null("tier")} <= blocking
    assert PARTITION_HAS_ROWS not in blocking
    score_spec = ag.get_check_spec(dg.AssetCheckKey(SCORES_KEY, HEALTH_SCORE_IN_RANGE))
    assert score_spec.partitions_def == daily_partitions
    snapshot_spec = ag.get_check_spec(
        dg.AssetCheckKey(dg.AssetKey(["ingest", "crm_companies"]), KEY_UNIQUE)
    )
    assert snapshot_spec.partitions_def is None


# Stand-ins: the scores were (badly) written into the warehouse copy by "the scoring engine";
# the sync records which days it was allowed to run for.
@dg.asset(key=SCORES_KEY, partitions_def=daily_partitions)
def account_scores_standin() -> dg.MaterializeResult:
    return dg.MaterializeResult()


@dg.asset(key=SYNC_KEY, partitions_def=daily_partitions, deps=[SCORES_KEY])
def crm_score_sync_standin(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> None:
    with warehouse.connect() as con:
        con.execute("CREATE TABLE IF NOT EXISTS sync.standin_synced (as_of_date DATE)")
        con.execute(
            "INSERT INTO sync.standin_synced VALUES (CAST(? AS DATE))", [context.partition_key]
        )


def _run(db: Path, day) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [account_scores_standin, scores_checks, crm_score_sync_standin],
        partition_key=day.isoformat(),
        resources={"warehouse": WarehouseResource(path=str(db)), "engine": EngineResource()},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def test_a_broken_scores_day_blocks_the_sync_and_earlier_days_stay_intact(
    scored_warehouse_copy: Path, small_sample: Path
) -> None:
    _, end = sample_period(small_sample)
    bad_day, good_day = end, end - timedelta(days=1)
    with duckdb.connect(str(scored_warehouse_copy)) as con:
        first, second = (
            r[0]
            for r in con.execute(
                f"SELECT account_id FROM {ACCOUNT_SCORES} WHERE as_of_date = ? ORDER BY 1 LIMIT 2",
                [bad_day],
            ).fetchall()
        )
        con.execute(
            f"UPDATE {ACCOUNT_SCORES} SET health_score = 140 "
            "WHERE as_of_date = ? AND account_id = ?",
            [bad_day, first],
        )
        con.execute(
            f"UPDATE {ACCOUNT_SCORES} SET tier = NULL WHERE as_of_date = ? AND account_id = ?",
            [bad_day, second],
        )
        good_before = con.execute(
            f"SELECT * FROM {ACCOUNT_SCORES} WHERE as_of_date = ? ORDER BY account_id", [good_day]
        ).fetchall()

    bad = _run(scored_warehouse_copy, bad_day)
    assert not bad.success
    failed = {e.check_name for e in bad.get_asset_check_evaluations() if not e.passed}
    assert {HEALTH_SCORE_IN_RANGE, not_null("tier")} <= failed
    assert all(e.partition == bad_day.isoformat() for e in bad.get_asset_check_evaluations())
    health = next(
        e for e in bad.get_asset_check_evaluations() if e.check_name == HEALTH_SCORE_IN_RANGE
    )
    assert health.metadata["unexpected_rows"].value == 1
    assert SYNC_KEY not in {m.asset_key for m in bad.get_asset_materialization_events()}

    good = _run(scored_warehouse_copy, good_day)
    assert good.success
    assert all(
        e.passed
        for e in good.get_asset_check_evaluations()
        if e.check_name in BLOCKING_SCORE_CHECKS
    )
    assert SYNC_KEY in {m.asset_key for m in good.get_asset_materialization_events()}

    with duckdb.connect(str(scored_warehouse_copy)) as con:
        synced = [
            r[0] for r in con.execute("SELECT as_of_date FROM sync.standin_synced").fetchall()
        ]
        good_after = con.execute(
            f"SELECT * FROM {ACCOUNT_SCORES} WHERE as_of_date = ? ORDER BY account_id", [good_day]
        ).fetchall()
        # the guard the command-line sync calls agrees with the blocking checks
        bad_problems = scores_partition_problems(con, bad_day)
        good_problems = scores_partition_problems(con, good_day)
    assert synced == [good_day]
    assert good_after == good_before
    assert any(p.startswith(HEALTH_SCORE_IN_RANGE) for p in bad_problems)
    assert any(p.startswith(not_null("tier")) for p in bad_problems)
    assert good_problems == []


def test_the_suites_find_no_error_on_the_sample(scored_warehouse: Path, small_sample: Path) -> None:
    """Every suite on the last day of the sample: only warnings may fail (no false alarms)."""
    _, end = sample_period(small_sample)
    errors, evaluated = [], 0
    with duckdb.connect(str(scored_warehouse), read_only=True) as con:
        for suite in [*RAW_SUITES.values(), SIGNALS_SUITE, SCORES_SUITE]:
            days = [end] if suite.partition_column else None
            for outcome in validate_suite(con, suite, days).values():
                evaluated += 0 if outcome.skipped else 1
                if not outcome.passed and outcome.severity == "ERROR":
                    errors.append(outcome.message)
    assert errors == []
    assert evaluated > 100
