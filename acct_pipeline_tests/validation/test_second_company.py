"""A second, differently built company through the whole daily job: the ``renewal`` scenario.

Churn decided at renewal by falling adoption and lost champions, no NPS, a fifth of the accounts
without product tracking, other event names, no social touches (``sample/renewal.py``). The
default model is not tuned to it; the job must still run end to end and say honestly what it
found: warnings for the inputs this book does not have, never an error; every account scored or
marked churned; untracked accounts scored on what they have; a health score above chance and
below anything that would smell of a leak; the audiences, the report and the CRM outbox built
for every account.
"""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta

import dagster as dg
import duckdb
import pytest

from acct_pipeline.alerts.config import model_path
from acct_pipeline.scoring.actions import load_actions
from acct_pipeline.scoring.signals import SIGNAL_WARMUP_DAYS
from acct_pipeline.scoring.tiers import model_tier_names
from acct_pipeline.scoring.validation.result import CHECK_PSI
from acct_pipeline_tests.conftest import _Env

SIZE = {"accounts": 120, "days": 60, "seed": 7}
# the checks that may fail on this book, each a warning about what the book lacks or how it moves
WARNINGS = {
    "features/account_signals:no_dead_signals",  # no NPS, other event names: always
    "scores/score_validation:segments_scored_fairly",  # untracked accounts miss 42 % of the weight
}


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from acct_pipeline.run import run_days
    from acct_pipeline.sample import generate_sample

    root = tmp_path_factory.mktemp("second_company")
    landing, db = root / "landing", root / "warehouse.duckdb"
    generate_sample(landing, scenario="renewal", **SIZE)
    manifest = json.loads((landing / "_manifest.json").read_text())
    start = date.fromisoformat(manifest["period"]["start"])
    end = date.fromisoformat(manifest["period"]["end"])
    with _Env(
        ACCT_LANDING_DIR=str(landing),
        ACCT_WAREHOUSE=str(db),
        ACCT_SYNC_OUTBOX_DIR=str(root / "outbox"),
    ):
        outcome = run_days(start, end, instance=dg.DagsterInstance.ephemeral(), log_level="WARNING")
    return {"root": root, "db": db, "manifest": manifest, "end": end, "outcome": outcome}


def _last_day(book: dict) -> list[tuple]:
    with duckdb.connect(str(book["db"]), read_only=True) as con:
        return con.execute(
            "SELECT s.account_id, s.health_score, s.tier, s.lifecycle_status, s.reason_codes, "
            "       s.engagement_product, s.points_usage, g.active_users_30d, g.nps_latest "
            "FROM scores.account_scores s "
            "JOIN features.account_signals g USING (account_id, as_of_date) "
            "WHERE s.as_of_date = ? ORDER BY s.account_id",
            [book["end"]],
        ).fetchall()


@pytest.mark.slow
def test_the_job_runs_and_only_warns_about_what_the_book_lacks(book: dict) -> None:
    from acct_pipeline.definitions import defs

    outcome = book["outcome"]
    assert outcome.success, outcome.failure
    assert outcome.partitions == SIZE["days"]
    failed = set(outcome.failed_checks)
    assert "features/account_signals:no_dead_signals" in failed
    assert failed <= WARNINGS, failed - WARNINGS
    graph = defs().resolve_asset_graph()
    blocking = {
        f"{k.asset_key.to_user_string()}:{k.name}"
        for k in graph.asset_check_keys
        if graph.get_check_spec(k).blocking
    }
    assert blocking  # the job has blocking checks; none of them failed
    assert not failed & blocking


@pytest.mark.slow
def test_every_account_is_scored_or_churned_and_untracked_ones_on_what_they_have(
    book: dict,
) -> None:
    rows = _last_day(book)
    with duckdb.connect(str(book["db"]), read_only=True) as con:
        accounts = {r[0] for r in con.execute("SELECT account_id FROM staging.accounts").fetchall()}
    assert {r[0] for r in rows} == accounts and len(accounts) == SIZE["accounts"]
    tiers = set(model_tier_names())
    for account, score, tier, status, reasons, *_ in rows:
        if status == "Churned":
            assert score is None, account
        else:
            assert score is not None and 0 <= score <= 100 and tier in tiers, account
        assert not any("NPS" in r for r in reasons or []), (account, reasons)

    untracked = set(book["manifest"]["scenario"]["untracked_accounts"])
    assert len(untracked) >= SIZE["accounts"] // 10
    scored_untracked = [r for r in rows if r[0] in untracked and r[3] != "Churned"]
    assert scored_untracked
    for account, *_, product, usage_points, users, _nps in rows:
        if account in untracked:
            # no product tracking: no usage signal, no product engagement, no usage points
            # (not zeros that would read as "nobody uses it")
            assert (users, product, usage_points) == (None, None, None), account
    for row in scored_untracked:
        assert any(r.startswith("no data for usage") for r in row[4]), row[0]
    assert all(r[8] is None for r in rows)  # no NPS in this book


@pytest.mark.slow
def test_validation_is_above_chance_and_not_too_good_to_be_true(book: dict) -> None:
    with duckdb.connect(str(book["db"]), read_only=True) as con:
        summary = json.loads(
            con.execute("SELECT summary FROM scores.score_validation_summary").fetchone()[0]
        )
    assert summary["churned_accounts_in_horizon"] > 0
    # the default model was not fitted to this book: above chance, and an AUC near 1.0 would
    # be a leak until proven otherwise
    assert 0.6 < summary["auc_health_score"] < 0.95, summary["auc_health_score"]
    assert any("untracked" in f for f in summary["segment_findings"])
    # stability is judged after the signal warm-up: the first weeks' shift (the windows filling)
    # is reported, not held against the score
    first = date.fromisoformat(book["manifest"]["period"]["start"])
    assert summary["psi_judged_from"] == str(first + timedelta(days=SIGNAL_WARMUP_DAYS))
    assert summary["psi_warmup_max"] > summary["psi_max"]
    assert f"scores/score_validation:{CHECK_PSI}" not in book["outcome"].failed_checks


@pytest.mark.slow
def test_audiences_report_and_outbox_cover_the_book(book: dict) -> None:
    names = {a.name for a in load_actions(model_path()).audiences}
    with duckdb.connect(str(book["db"]), read_only=True) as con:
        audiences = con.execute(
            "SELECT crm_audience, count(*) FROM alerts.audience_membership WHERE as_of_date = ? "
            "GROUP BY 1",
            [book["end"]],
        ).fetchall()
    found = {name for name, _ in audiences if name is not None}
    assert found and found <= names

    report = (book["db"].parent / "reports" / f"score_report_{book['end']}.html").read_text()
    for section in ("Churn by tier", "Audiences on", "Measured lift", "Time to action"):
        assert section in report, section
    assert "Traceback" not in report and ">nan<" not in report.lower()

    files = sorted((book["root"] / "outbox").glob(f"account_scores_{book['end']}_*.csv"))
    assert len(files) == 1
    with files[0].open() as fh:
        exported = {row["Record ID"] for row in csv.DictReader(fh)}
    assert exported == {r[0] for r in _last_day(book)}
