"""Expectation suites on tiny hand-made warehouses: each rule catches what it is for."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from acct_pipeline.quality.expectations import (
    BLOCKING_SCORE_CHECKS,
    CHURN_PROBABILITY_IN_RANGE,
    COLUMN_TYPES,
    DATA_IS_FRESH,
    HEALTH_SCORE_IN_RANGE,
    KEY_UNIQUE,
    OCCURRED_ON_PARTITION_DAY,
    PARTITION_HAS_ROWS,
    RAW_SUITES,
    SCORES_SUITE,
    TIER_ALLOWED,
    VOLUME_VS_PREVIOUS_LOAD,
    VOLUME_VS_PREVIOUS_PARTITION,
    not_in_future,
    not_null,
    volume_band,
)
from acct_pipeline.quality.guard import scores_partition_problems
from acct_pipeline.quality.validate import validate_suite
from acct_pipeline.warehouse import RAW_TABLES, connect, ensure_core_tables

DAY = date(2026, 6, 10)
REPO = Path(__file__).resolve().parents[2]


def _scores(con: duckdb.DuckDBPyConnection, days: list[date], n: int = 20, extra: str = "") -> None:
    """A thin-slice scores table (account_id, as_of_date, health_score, tier, model_version,
    lifecycle_status)."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS scores.account_scores (account_id VARCHAR, as_of_date DATE, "
        f"health_score DOUBLE, tier VARCHAR, model_version VARCHAR, "
        f"lifecycle_status VARCHAR{extra})"
    )
    for d in days:
        con.execute(
            "INSERT INTO scores.account_scores "
            "(account_id, as_of_date, health_score, tier, model_version, lifecycle_status) "
            "SELECT 'a' || i, ?, 40 + i, "
            "CASE WHEN 40 + i >= 50 THEN 'Concerning' ELSE 'Critical' END, 'v1', 'Active' "
            "FROM range(?) t(i)",
            [d, n],
        )


@pytest.fixture
def con(tmp_path: Path):
    with connect(tmp_path / "w.duckdb") as c:
        ensure_core_tables(c)
        yield c


def test_every_raw_table_has_a_suite_with_keys_types_and_volume() -> None:
    assert set(RAW_SUITES) == {t.name for t in RAW_TABLES}
    for spec in RAW_TABLES:
        checks = RAW_SUITES[spec.name].checks
        assert KEY_UNIQUE in checks and COLUMN_TYPES in checks, spec.name
        assert all(not_null(k) in checks for k in spec.key), spec.name
        volume = VOLUME_VS_PREVIOUS_PARTITION if spec.partitioned else VOLUME_VS_PREVIOUS_LOAD
        assert volume in checks, spec.name


def test_the_crm_facing_score_rules_are_blocking() -> None:
    for check in (
        HEALTH_SCORE_IN_RANGE,
        CHURN_PROBABILITY_IN_RANGE,
        TIER_ALLOWED,
        not_null("tier"),
        KEY_UNIQUE,
    ):
        assert check in BLOCKING_SCORE_CHECKS
    # freshness and volume inform, they do not hold back the CRM
    assert PARTITION_HAS_ROWS not in BLOCKING_SCORE_CHECKS
    assert VOLUME_VS_PREVIOUS_PARTITION not in BLOCKING_SCORE_CHECKS


def test_good_scores_pass_and_absent_columns_are_skipped_not_failed(con) -> None:
    _scores(con, [DAY])
    out = validate_suite(con, SCORES_SUITE, [DAY])
    failed = [o.message for o in out.values() if not o.passed]
    assert failed == []
    churn = out[CHURN_PROBABILITY_IN_RANGE]
    assert churn.skipped and "churn_probability" in churn.metadata["skipped"]
    assert out[HEALTH_SCORE_IN_RANGE].skipped is None
    assert out[HEALTH_SCORE_IN_RANGE].metadata["rows_checked"] == 20


@pytest.mark.parametrize(
    ("breakage", "check", "needle"),
    [
        (
            "UPDATE scores.account_scores SET health_score = 140 WHERE account_id = 'a3'",
            HEALTH_SCORE_IN_RANGE,
            "140",
        ),
        (
            "UPDATE scores.account_scores SET health_score = -1 WHERE account_id = 'a3'",
            HEALTH_SCORE_IN_RANGE,
            "-1",
        ),
        (
            "UPDATE scores.account_scores SET tier = NULL WHERE account_id = 'a3'",
            not_null("tier"),
            "1 of 20",
        ),
        (
            "UPDATE scores.account_scores SET tier = 'Green' WHERE account_id = 'a3'",
            TIER_ALLOWED,
            "Green",
        ),
        (
            "UPDATE scores.account_scores SET lifecycle_status = 'Gone' WHERE account_id = 'a3'",
            "lifecycle_status_allowed_values",
            "Gone",
        ),
        (
            "UPDATE scores.account_scores SET account_id = 'a4' WHERE account_id = 'a3'",
            KEY_UNIQUE,
            "a4",
        ),
    ],
)
def test_broken_scores_fail_their_blocking_check_only_on_that_day(
    con, breakage, check, needle
) -> None:
    earlier = date(2026, 6, 9)
    _scores(con, [earlier, DAY])
    con.execute(breakage + " AND as_of_date = ?", [DAY])
    bad = validate_suite(con, SCORES_SUITE, [DAY], only={check})[check]
    assert not bad.passed
    assert needle in bad.message
    assert validate_suite(con, SCORES_SUITE, [earlier], only={check})[check].passed


def test_the_sync_guard_names_exactly_the_broken_rule_and_passes_a_clean_day(con) -> None:
    earlier = date(2026, 6, 9)
    _scores(con, [earlier, DAY])
    con.execute("UPDATE scores.account_scores SET health_score = 140 WHERE account_id = 'a3'")
    con.execute(
        "UPDATE scores.account_scores SET tier = NULL WHERE as_of_date = ? AND account_id = 'a5'",
        [DAY],
    )
    problems = scores_partition_problems(con, DAY)
    assert [p.split(":")[0] for p in problems] == [not_null("tier"), HEALTH_SCORE_IN_RANGE]
    assert len(scores_partition_problems(con, earlier)) == 1
    con.execute("UPDATE scores.account_scores SET health_score = 99 WHERE account_id = 'a3'")
    assert scores_partition_problems(con, earlier) == []


def test_out_of_range_probability_fails_when_the_column_exists(con) -> None:
    _scores(con, [DAY], extra=", churn_probability DOUBLE")
    con.execute("UPDATE scores.account_scores SET churn_probability = 0.2")
    assert validate_suite(con, SCORES_SUITE, [DAY])[CHURN_PROBABILITY_IN_RANGE].passed
    con.execute("UPDATE scores.account_scores SET churn_probability = 1.7 WHERE account_id = 'a0'")
    assert not validate_suite(con, SCORES_SUITE, [DAY])[CHURN_PROBABILITY_IN_RANGE].passed


def test_a_score_stored_as_text_fails_the_type_check(con) -> None:
    con.execute(
        "CREATE TABLE scores.account_scores AS SELECT 'a1' AS account_id, "
        "DATE '2026-06-10' AS as_of_date, "
        "'87' AS health_score, 'Healthy' AS tier, 'v1' AS model_version"
    )
    out = validate_suite(con, SCORES_SUITE, [DAY], only={COLUMN_TYPES})[COLUMN_TYPES]
    assert not out.passed
    assert "health_score" in out.message


def test_the_sync_guard_refuses_a_day_that_was_never_scored(con) -> None:
    assert "does not exist" in scores_partition_problems(con, DAY)[0]
    _scores(con, [DAY])
    assert "no rows" in scores_partition_problems(con, date(2026, 6, 11))[0]


def test_volume_band_against_the_previous_partition_and_its_setting(con, monkeypatch) -> None:
    _scores(con, [date(2026, 6, 9)], n=10)
    _scores(con, [DAY], n=35)
    out = validate_suite(con, SCORES_SUITE, [DAY], only={VOLUME_VS_PREVIOUS_PARTITION})
    assert not out[VOLUME_VS_PREVIOUS_PARTITION].passed
    assert out[VOLUME_VS_PREVIOUS_PARTITION].metadata["failing"][0]["day"].startswith("2026-06-10")
    monkeypatch.setenv("ACCT_VOLUME_BAND", "0.2,4")
    assert volume_band() == (0.2, 4.0)
    assert validate_suite(con, SCORES_SUITE, [DAY], only={VOLUME_VS_PREVIOUS_PARTITION})[
        VOLUME_VS_PREVIOUS_PARTITION
    ].passed


def test_an_empty_day_fails_freshness(con) -> None:
    _scores(con, [date(2026, 6, 9)])
    out = validate_suite(con, SCORES_SUITE, [DAY], only={PARTITION_HAS_ROWS})[PARTITION_HAS_ROWS]
    assert not out.passed and "2026-06-10" in out.message


def _insert_event(con, event_id: str, occurred: str, day: date) -> None:
    con.execute(
        "INSERT INTO ingest.product_events "
        "VALUES (?, 'login', CAST(? AS TIMESTAMP), 'u1', 'g1', NULL, ?, "
        "'files', now()::TIMESTAMP)",
        [event_id, occurred, day],
    )


def test_events_in_the_future_or_on_another_day_are_reported(con) -> None:
    _insert_event(con, "e1", "2026-06-10 09:00:00", DAY)
    _insert_event(con, "e2", "2026-06-11 09:00:00", DAY)  # in the wrong day's file
    suite = RAW_SUITES["product_events"]
    now = datetime(2026, 6, 11, 0, 0)
    out = validate_suite(con, suite, [DAY], now=now)
    assert not out[OCCURRED_ON_PARTITION_DAY].passed
    assert not out[not_in_future("occurred_at")].passed  # e2 is after "now"
    assert out[not_null("event_id")].passed and out[KEY_UNIQUE].passed


def test_snapshot_freshness_and_volume_against_the_previous_load(con) -> None:
    _insert_event(con, "e1", "2026-06-10 09:00:00", DAY)  # the data horizon is 2026-06-10
    for i, ts in enumerate(["2026-05-01 10:00:00", "2026-05-02 10:00:00"]):
        con.execute(
            "INSERT INTO ingest.crm_activities "
            "(activity_id, company_id, activity_type, occurred_at, _source, "
            "_loaded_at) VALUES (?, 'c1', 'call', CAST(? AS TIMESTAMP), 'files', now()::TIMESTAMP)",
            [f"a{i}", ts],
        )
    suite = RAW_SUITES["crm_activities"]
    stale = validate_suite(con, suite, previous_row_count=2)
    assert not stale[DATA_IS_FRESH].passed  # newest activity 39 days before the horizon
    assert stale[VOLUME_VS_PREVIOUS_LOAD].passed
    shrunk = validate_suite(con, suite, previous_row_count=40)[VOLUME_VS_PREVIOUS_LOAD]
    assert not shrunk.passed and "observed 2" in shrunk.message
    first = validate_suite(con, suite)[VOLUME_VS_PREVIOUS_LOAD]
    assert first.passed and first.skipped


def test_volume_band_setting_is_validated(monkeypatch) -> None:
    monkeypatch.setenv("ACCT_VOLUME_BAND", "2,0.5")
    with pytest.raises(ValueError, match="ACCT_VOLUME_BAND"):
        volume_band()


def test_loading_the_definitions_does_not_import_great_expectations() -> None:
    code = (
        "import sys\n"
        "from acct_pipeline.definitions import defs\n"
        "d = defs()\n"
        "assert d.resolve_asset_graph().asset_check_keys\n"
        "print('great_expectations' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_a_churned_account_may_have_no_score_or_tier_but_a_live_one_may_not(con) -> None:
    _scores(con, [DAY])
    con.execute(
        "UPDATE scores.account_scores SET tier = NULL, health_score = NULL, "
        "lifecycle_status = 'Churned' WHERE account_id = 'a3'"
    )
    checks = {not_null("tier"), not_null("health_score")}
    out = validate_suite(con, SCORES_SUITE, [DAY], only=checks)
    assert all(out[c].passed and out[c].skipped is None for c in checks)
    con.execute(
        "UPDATE scores.account_scores SET lifecycle_status = 'Active' WHERE account_id = 'a3'"
    )
    out = validate_suite(con, SCORES_SUITE, [DAY], only=checks)
    assert not any(out[c].passed for c in checks)
