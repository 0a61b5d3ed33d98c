"""Drop detection: the right accounts on the right day, once per slide, with the numbers."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from acct_pipeline import warehouse
from acct_pipeline.alerts import (
    AlertThresholds,
    count_drops,
    drop_counts,
    load_alerts,
    load_thresholds,
    write_alerts,
)
from acct_pipeline.alerts.config import AlertConfigError
from acct_pipeline_tests.alerts.history import write_history

START = date(2026, 10, 1)
A, B, C = "9100000001", "9100000002", "9100000003"
SCORES = {
    A: [95.0] * 10 + [80.0] * 4,  # -15 on day 10: points and tier (Healthy -> At-Risk)
    B: [75.0] * 12 + [72.0] * 2,  # a 3-point wobble inside At-Risk: nothing
    C: [72.0] * 11 + [68.0] * 3,  # -4 on day 11 but crosses into Concerning: tier only
}


@pytest.fixture(params=[False, True], ids=["thin-slice", "full-engine"])
def history(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    db = tmp_path / "w.duckdb"
    write_history(db, SCORES, START, full_engine=request.param)
    return db


def day(i: int) -> date:
    return START + timedelta(days=i)


def test_drops_are_found_on_the_day_they_happen_and_only_then(history: Path) -> None:
    with warehouse.connect(history) as con:
        counts = {i: count_drops(con, day(i), AlertThresholds()) for i in range(14)}
    assert counts == {i: (1 if i in (10, 11) else 0) for i in range(14)}


def test_drop_counts_per_day_for_the_scores_metadata(history: Path) -> None:
    with warehouse.connect(history) as con:
        counts = drop_counts(con, [day(11), day(9), day(10)], AlertThresholds())
    assert counts == {"2026-10-10": 0, "2026-10-11": 1, "2026-10-12": 1}


def test_alert_rows_name_account_owner_scores_tiers_and_reasons(history: Path) -> None:
    with warehouse.connect(history) as con:
        assert write_alerts(con, day(10), AlertThresholds()) == 1
        assert write_alerts(con, day(11), AlertThresholds()) == 1
        a = load_alerts(con, day(10))[0]
        c = load_alerts(con, day(11))[0]
        full = "score_delta_7d" in {
            r[0] for r in con.execute(f"DESCRIBE {warehouse.ACCOUNT_SCORES}").fetchall()
        }
    assert (a.event_key, a.account_id, a.account_name, a.owner_id, a.owner_email) == (
        f"score_drop:{A}:2026-10-11",
        A,
        "Acme Corp",
        "501",
        "ana@vendor.test",
    )
    assert (a.score_before, a.score_after, a.score_delta_7d) == (95.0, 80.0, -15.0)
    assert (a.previous_tier, a.tier, a.drop_kind) == ("Healthy", "At-Risk", "points+tier")
    assert "down 15 points in 7 days (95 -> 80)" in a.headline
    assert (c.account_id, c.drop_kind, c.previous_tier, c.tier) == (
        C,
        "tier",
        "At-Risk",
        "Concerning",
    )
    if full:
        assert a.reason_codes[0] == "active users down 42% vs prior 28 days"
        assert a.recommended_playbook == "exec-sponsor-call"
    else:
        assert a.reason_codes == ()


def test_rewriting_a_day_replaces_its_rows(history: Path) -> None:
    with warehouse.connect(history) as con:
        for _ in range(3):
            write_alerts(con, day(10), AlertThresholds())
        n = con.execute(f"SELECT count(*) FROM {warehouse.SCORE_DROP_ALERTS}").fetchone()[0]
        dtype = con.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_schema = 'alerts' "
            "AND table_name = 'score_drop_alerts' AND column_name = 'as_of_date'"
        ).fetchone()[0]
    assert (n, dtype) == (1, "DATE")


def test_thresholds_change_what_counts(history: Path) -> None:
    with warehouse.connect(history) as con:
        strict = AlertThresholds(drop_points_7d=20, tier_worsened=True)
        loose = AlertThresholds(drop_points_7d=3, tier_worsened=False)
        assert [count_drops(con, day(i), strict) for i in (10, 11, 12)] == [1, 1, 0]  # tiers only
        assert [count_drops(con, day(i), loose) for i in (10, 11, 12)] == [1, 1, 1]  # B's 3 points


def test_thresholds_come_from_the_model_file_with_defaults(tmp_path: Path) -> None:
    model = tmp_path / "m.yaml"
    assert load_thresholds(tmp_path / "missing.yaml") == AlertThresholds(10.0, True)
    model.write_text("name: x\nversion: 1\n")
    assert load_thresholds(model) == AlertThresholds(10.0, True)
    model.write_text("alerts:\n  drop_points_7d: 12\n  tier_worsened: false\n")
    assert load_thresholds(model) == AlertThresholds(12.0, False)
    model.write_text("alerts:\n  drop_points_7d: -3\n")
    with pytest.raises(AlertConfigError, match=r"m\.yaml: alerts\.drop_points_7d"):
        load_thresholds(model)
    model.write_text("alerts:\n  drop_point_7d: 5\n")
    with pytest.raises(AlertConfigError, match=r"alerts\.drop_point_7d"):
        load_thresholds(model)


def test_the_packaged_model_file_loads() -> None:
    thresholds = load_thresholds()
    assert thresholds.drop_points_7d > 0


def test_no_scores_table_means_no_drops(tmp_path: Path) -> None:
    with warehouse.connect(tmp_path / "empty.duckdb") as con:
        assert count_drops(con, START) == 0
        assert write_alerts(con, START) == 0


def test_the_real_pipeline_output_can_be_scanned(scored_warehouse: Path, tmp_path: Path) -> None:
    """Whatever the scoring engine writes today, detection runs on it and stays consistent."""
    copy = tmp_path / "w.duckdb"
    copy.write_bytes(scored_warehouse.read_bytes())
    with duckdb.connect(str(copy)) as raw:
        last = raw.execute(f"SELECT max(as_of_date) FROM {warehouse.ACCOUNT_SCORES}").fetchone()[0]
    with warehouse.connect(copy) as con:
        n = count_drops(con, last)
        assert write_alerts(con, last) == n
        assert len(load_alerts(con, last)) == n


def test_an_account_that_churned_raises_no_alert(tmp_path: Path) -> None:
    """Churned accounts leave the book (scoring/lifecycle.py): no score, no tier, no alert, even
    though the day before they were Critical and their score 'fell' to nothing."""
    db = tmp_path / "w.duckdb"
    write_history(db, {A: [45.0] * 14, B: [75.0] * 14}, START, full_engine=True)
    with warehouse.connect(db) as con:
        con.execute(
            f"UPDATE {warehouse.ACCOUNT_SCORES} SET health_score = NULL, tier = NULL, "
            "score_delta_7d = NULL WHERE account_id = ? AND as_of_date >= ?",
            [A, day(10)],
        )
        counts = {i: count_drops(con, day(i), AlertThresholds()) for i in range(14)}
    assert counts == dict.fromkeys(range(14), 0)
