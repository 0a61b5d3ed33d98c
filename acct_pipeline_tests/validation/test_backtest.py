"""Backtest / what-if: a candidate model re-scores the history without touching production."""

from __future__ import annotations

import argparse
import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from acct_pipeline.scoring.backtest import (
    BacktestError,
    add_backtest_parser,
    cmd_backtest,
    format_backtest,
    run_backtest,
    write_backtest,
)
from acct_pipeline.warehouse import ACCOUNT_SCORES, replace_partition

# A stand-in engine for the fast tests: the synthetic warehouse's hidden health, either way round.
FAKE_SCORES_SQL = """
SELECT account_id, as_of_date,
       CASE WHEN {direction} > 0 THEN hidden_health * 100
            ELSE 100 - hidden_health * 100 END AS health_score,
       CASE WHEN health_score >= 90 THEN 'Healthy' WHEN health_score >= 70 THEN 'At-Risk'
            WHEN health_score >= 50 THEN 'Concerning' ELSE 'Critical' END AS tier,
       'fake@' || {direction} AS model_version
FROM features.account_signals WHERE as_of_date = CAST(? AS DATE)
"""


def fake_load(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def fake_score_day(con: duckdb.DuckDBPyConnection, as_of: date, model: dict[str, Any]) -> int:
    sql = FAKE_SCORES_SQL.format(direction=int(model["direction"]))
    return replace_partition(con, ACCOUNT_SCORES, sql, "as_of_date", [as_of], [as_of])


def _fingerprint(db: Path) -> str:
    """Hash of the file and of every table's contents."""
    h = hashlib.sha256(db.read_bytes())
    with duckdb.connect(str(db), read_only=True) as con:
        for schema, name in con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables ORDER BY 1, 2"
        ).fetchall():
            rows = con.execute(f'SELECT * FROM "{schema}"."{name}" ORDER BY ALL').fetchall()
            h.update(f"{schema}.{name}:{rows!r}".encode())
    return h.hexdigest()


@pytest.fixture
def bad_candidate(tmp_path: Path) -> Path:
    path = tmp_path / "reversed.json"
    path.write_text(json.dumps({"direction": -1}))
    return path


def test_a_reversed_model_is_clearly_worse_and_reshuffles_tiers(
    synthetic_warehouse: Path, bad_candidate: Path
) -> None:
    result = run_backtest(
        synthetic_warehouse, bad_candidate, load_model=fake_load, score_day=fake_score_day
    )
    cur, cand, changes = result["current"], result["candidate"], result["tier_changes"]
    assert cur["auc_health_score"] > 0.8
    assert cand["auc_health_score"] < 0.3
    assert cur["lift_health_score"] > 2 > cand["lift_health_score"]
    assert changes["share_changing_tier"] > 0.5
    assert changes["to_worse_tier"] > 0 and changes["to_better_tier"] > 0
    assert changes["top_movers"] and abs(changes["top_movers"][0]["tier_steps"]) == 3
    assert cur["churn_monotonic"] and not cand["churn_monotonic"]
    assert result["candidate_churn_model"] == {"trained": False, "reason": "not requested"}
    text = format_backtest(result)
    assert "ROC-AUC, health score" in text and "accounts whose tier changes most" in text


def test_a_faithful_candidate_changes_nothing(synthetic_copy: Path, tmp_path: Path) -> None:
    # make production the fake engine's own output, then backtest the same model
    with duckdb.connect(str(synthetic_copy)) as con:
        days = [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT as_of_date FROM {ACCOUNT_SCORES} ORDER BY 1"
            ).fetchall()
        ]
        con.execute(f"DELETE FROM {ACCOUNT_SCORES}")
        for day in days:
            fake_score_day(con, day, {"direction": 1})
    same = tmp_path / "same.json"
    same.write_text(json.dumps({"direction": 1}))
    result = run_backtest(synthetic_copy, same, load_model=fake_load, score_day=fake_score_day)
    assert result["tier_changes"]["accounts_changing_tier"] == 0
    assert result["current"]["auc_health_score"] == result["candidate"]["auc_health_score"]


def test_backtest_leaves_the_warehouse_byte_for_byte_unchanged(
    synthetic_copy: Path, bad_candidate: Path
) -> None:
    before = _fingerprint(synthetic_copy)
    run_backtest(
        synthetic_copy,
        bad_candidate,
        date(2026, 6, 10),
        date(2026, 7, 10),
        load_model=fake_load,
        score_day=fake_score_day,
    )
    assert _fingerprint(synthetic_copy) == before


def test_a_window_scores_only_its_days(synthetic_warehouse: Path, bad_candidate: Path) -> None:
    result = run_backtest(
        synthetic_warehouse,
        bad_candidate,
        date(2026, 6, 10),
        date(2026, 6, 20),
        load_model=fake_load,
        score_day=fake_score_day,
    )
    assert result["window"] == {"from": "2026-06-10", "to": "2026-06-20", "days": 11}
    assert result["tier_changes"]["compared_on"] == "2026-06-20"


def test_clear_errors(tmp_path: Path, synthetic_warehouse: Path, bad_candidate: Path) -> None:
    with pytest.raises(BacktestError, match="no warehouse"):
        run_backtest(
            tmp_path / "nope.duckdb", bad_candidate, load_model=fake_load, score_day=fake_score_day
        )
    with pytest.raises(BacktestError, match="does not exist"):
        run_backtest(
            synthetic_warehouse,
            tmp_path / "nope.yaml",
            load_model=fake_load,
            score_day=fake_score_day,
        )
    with pytest.raises(BacktestError, match="no stored scores"):
        run_backtest(
            synthetic_warehouse,
            bad_candidate,
            date(2030, 1, 1),
            load_model=fake_load,
            score_day=fake_score_day,
        )


def test_json_output_and_cli_arguments(
    synthetic_warehouse: Path, bad_candidate: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_backtest(
        synthetic_warehouse, bad_candidate, load_model=fake_load, score_day=fake_score_day
    )
    out = write_backtest(result, tmp_path / "bt.json")
    assert (
        json.loads(out.read_text())["tier_changes"]["accounts_compared"]
        == result["tier_changes"]["accounts_compared"]
    )

    monkeypatch.setenv("ACCT_REPORTS_DIR", str(tmp_path / "reports"))
    default = write_backtest(result)
    assert default.parent == tmp_path / "reports" and default.name.startswith("backtest_")

    parser = argparse.ArgumentParser()
    add_backtest_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "backtest",
            "--model",
            "c.yaml",
            "--from",
            "2026-06-01",
            "--to",
            "2026-06-30",
            "--out",
            "x.json",
        ]
    )
    assert (args.model, args.date_from, args.date_to, args.out) == (
        "c.yaml",
        date(2026, 6, 1),
        date(2026, 6, 30),
        "x.json",
    )
    bad = parser.parse_args(
        [
            "backtest",
            "--model",
            str(tmp_path / "missing.yaml"),
            "--warehouse",
            str(synthetic_warehouse),
        ]
    )
    assert cmd_backtest(bad) == 2


def test_json_carries_the_headline_figures_per_side_on_the_judged_accounts(
    synthetic_warehouse: Path, bad_candidate: Path, tmp_path: Path
) -> None:
    with duckdb.connect(str(synthetic_warehouse), read_only=True) as con:
        ids = [
            r[0]
            for r in con.execute(f"SELECT DISTINCT account_id FROM {ACCOUNT_SCORES}").fetchall()
        ]
    judged = sorted(ids)[: len(ids) // 2]
    how = {"out_of_time": True, "accounts": f"{len(judged)} held out of the fit"}
    result = run_backtest(
        synthetic_warehouse,
        bad_candidate,
        load_model=fake_load,
        score_day=fake_score_day,
        accounts=judged,
        evaluation=how,
    )
    doc = json.loads(write_backtest(result, tmp_path / "bt.json").read_text())
    for side in ("current", "candidate"):
        figures = doc[side]
        for key in ("health_auc", "top_decile_lift", "churn_rate_by_tier", "tier_share"):
            assert figures[key] is not None, (side, key)
        assert abs(sum(figures["tier_share"].values()) - 1) < 1e-3
        assert figures["basis"]["out_of_time"] is True
        assert figures["basis"]["n"] > 0 and figures["basis"]["churned"] > 0
        assert figures["accounts"] == len(judged)  # only the judged accounts count
    assert doc["current"]["health_auc"] > 0.8 > 0.3 > doc["candidate"]["health_auc"]
    assert doc["evaluation"] == how
    whole = run_backtest(
        synthetic_warehouse, bad_candidate, load_model=fake_load, score_day=fake_score_day
    )
    assert whole["current"]["accounts"] == len(ids)
    assert whole["current"]["basis"]["out_of_time"] is False


def test_the_backtest_tells_its_progress(synthetic_warehouse: Path, bad_candidate: Path) -> None:
    lines: list[str] = []
    run_backtest(
        synthetic_warehouse,
        bad_candidate,
        load_model=fake_load,
        score_day=fake_score_day,
        progress=lines.append,
    )
    with duckdb.connect(str(synthetic_warehouse), read_only=True) as con:
        n = con.execute(f"SELECT count(DISTINCT as_of_date) FROM {ACCOUNT_SCORES}").fetchone()[0]
    assert lines and lines[-1].startswith(f"backtest: scored {n}/{n} days")
    assert len(lines) == -(-n // 10)  # every 10 days and the last one


def test_a_candidate_with_productions_version_is_warned_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from acct_pipeline.scoring.backtest import same_version_warning
    from acct_pipeline.scoring.model import DEFAULT_MODEL_PATH

    monkeypatch.delenv("ACCT_MODEL", raising=False)
    text = Path(DEFAULT_MODEL_PATH).read_text()
    same = tmp_path / "same.yaml"
    same.write_text(text)
    edited = tmp_path / "edited.yaml"
    edited.write_text(text.replace("drop_points_7d: 10", "drop_points_7d: 12"))
    bumped = tmp_path / "bumped.yaml"
    bumped.write_text(
        text.replace("drop_points_7d: 10", "drop_points_7d: 12").replace(
            'version: "1.2.0"', 'version: "1.3.0"', 1
        )
    )
    assert "production's own model" in (same_version_warning(same) or "")
    assert "bump its version" in (same_version_warning(edited) or "")
    assert same_version_warning(bumped) is None
