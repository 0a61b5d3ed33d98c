"""From a list to one account: ``accounts``, ``explain`` by id or name, ``summary --date``."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from acct_pipeline import cli, warehouse
from acct_pipeline.scoring.accounts import AccountFilter, list_accounts
from acct_pipeline.scoring.explain import ExplainError, labelled_reasons, resolve_account
from acct_pipeline.scoring.model import HEALTH, load_model
from acct_pipeline.scoring.rules import evaluate_model


@pytest.fixture
def wh(scored_warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ACCT_WAREHOUSE", str(scored_warehouse))
    return scored_warehouse


def test_accounts_lists_ids_riskiest_first_with_a_risk_as_top_reason(
    wh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with duckdb.connect(str(wh), read_only=True) as con:
        day, rows = list_accounts(con, AccountFilter(limit=8))
        critical_day, critical = list_accounts(con, AccountFilter(tier="critical", limit=50))
        declining_day, declining = list_accounts(con, AccountFilter(trend="declining", limit=5))
    assert len(rows) == 8 and rows["account_id"].str.startswith("co_").all()
    scores = rows["health_score"].dropna().tolist()
    assert scores == sorted(scores)
    assert (critical["tier"] == "Critical").all()
    deltas = declining["score_delta_7d"].dropna().tolist()
    assert deltas == sorted(deltas)
    # the top reason is a cost: "(-x pts)" or a binding cap, never a strength
    for reason in rows["top_reason"]:
        assert reason == "" or "(-" in reason or "lost to the cap" in reason, reason
    assert cli.main(["accounts", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert rows["account_id"].iloc[0] in out and "explain" in out


def test_explain_takes_a_unique_name_and_refuses_an_ambiguous_one(wh: Path) -> None:
    with duckdb.connect(str(wh), read_only=True) as con:
        account_id, name = con.execute(
            f"SELECT account_id, name FROM {warehouse.ACCOUNTS} "
            "WHERE name IN (SELECT name FROM staging.accounts GROUP BY name HAVING count(*) = 1) "
            "ORDER BY account_id LIMIT 1"
        ).fetchone()
        assert resolve_account(con, name.upper()) == account_id
        assert resolve_account(con, account_id) == account_id
        word = name.split()[0]
        many = con.execute(
            f"SELECT count(*) FROM {warehouse.ACCOUNTS} WHERE contains(lower(name), lower(?))",
            [word],
        ).fetchone()[0]
        if many > 1:
            with pytest.raises(ExplainError, match="several accounts"):
                resolve_account(con, word)
        with pytest.raises(ExplainError, match="no account"):
            resolve_account(con, "no such company zzz")


def test_explain_labels_reasons_and_shows_only_binding_caps(wh: Path) -> None:
    model = load_model()
    with duckdb.connect(str(wh), read_only=True) as con:
        day = con.execute(f"SELECT max(as_of_date) FROM {warehouse.ACCOUNT_SIGNALS}").fetchone()[0]
        signals = con.execute(
            f"SELECT * FROM {warehouse.ACCOUNT_SIGNALS} WHERE as_of_date = ?", [day]
        ).df()
    health = evaluate_model(model, signals)[0][HEALTH]
    found = labelled_reasons(health, signals)
    assert any(r.risks for r in found) and any(r.strengths for r in found)
    for i, r in enumerate(found):
        assert all("(-" in t for t in r.risks) and all("(+" in t for t in r.strengths)
        fired_binding = any(
            k.fired[i] and health.uncapped[i] > k.knockout.cap for k in health.knockouts
        )
        assert bool(r.caps) == fired_binding


def test_explain_output_and_a_closed_pipe(wh: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with duckdb.connect(str(wh), read_only=True) as con:
        account = con.execute(
            f"SELECT account_id FROM {warehouse.ACCOUNT_SCORES} WHERE tier IS NOT NULL "
            "ORDER BY as_of_date DESC, health_score LIMIT 1"
        ).fetchone()[0]
    assert cli.main(["explain", account]) == 0
    out = capsys.readouterr().out
    assert "risks (cost points):" in out and "strengths (earn points):" in out
    assert "(cap " not in out  # the cap is told once, in the reason's own words
    # `explain X | head`: the reader has gone before the text is written; no traceback
    proc = subprocess.run(
        [
            "bash",
            "-c",
            f"{sys.executable} -m acct_pipeline.cli explain {account} | true; "
            "echo rc=${PIPESTATUS[0]}",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "ACCT_WAREHOUSE": str(wh)},
    )
    assert "rc=0" in proc.stdout
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_summary_of_a_day_without_scores_exits_non_zero(
    wh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["summary", "--date", "2001-01-01"]) == 1
    assert "no scores on 2001-01-01" in capsys.readouterr().out
    assert cli.main(["summary"]) == 0
    assert cli.main(["accounts", "--date", str(date(2001, 1, 1))]) == 1
