"""A model that renames its tiers is followed everywhere: scoring, the blocking quality checks,
the validation, the alert ranks, the CRM enumeration and the report (issue 23)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import yaml

from acct_pipeline.quality.expectations import SCORES_SUITE, allowed_values
from acct_pipeline.quality.guard import scores_partition_problems
from acct_pipeline.scoring.model import DEFAULT_MODEL_PATH, MODEL_ENV, ModelError, load_model
from acct_pipeline.scoring.report import build_report
from acct_pipeline.scoring.scores import score_day
from acct_pipeline.scoring.signals import compute_signals
from acct_pipeline.scoring.tiers import model_tier_names, tier_rank_sql
from acct_pipeline.scoring.validation import (
    compute_validation,
    evaluate_checks,
    summary_from_table,
    write_validation,
)
from acct_pipeline.sync.mapping import FieldMapping
from acct_pipeline.warehouse import ACCOUNT_SCORES, SCHEMAS
from acct_pipeline_tests.scoring.tiny import AS_OF, build_tiny

DEFAULT_NAMES = ("Healthy", "At-Risk", "Concerning", "Critical")
RENAMED = {"Healthy": "Thriving", "At-Risk": "Watch", "Concerning": "Slipping", "Critical": "Red"}


def write_renamed_model(path: Path) -> Path:
    doc = yaml.safe_load(DEFAULT_MODEL_PATH.read_text())
    assert [b["name"] for b in doc["tiers"]["bands"]] == list(DEFAULT_NAMES)
    for band in doc["tiers"]["bands"]:
        band["name"] = RENAMED[band["name"]]
    doc["playbooks"] = {RENAMED.get(k, k): v for k, v in doc["playbooks"].items()}
    for audience in doc.get("audiences") or []:  # a renaming renames the audiences' tiers too
        audience["tiers"] = [RENAMED.get(t, t) for t in audience.get("tiers") or []]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture
def renamed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = write_renamed_model(tmp_path / "renamed.yaml")
    monkeypatch.setenv(MODEL_ENV, str(path))
    return path


@pytest.fixture
def tiny() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for s in SCHEMAS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
    build_tiny(con)
    yield con
    con.close()


def test_the_renamed_model_is_the_one_every_layer_reads(renamed: Path) -> None:
    assert model_tier_names() == tuple(RENAMED.values())
    # the CRM enumeration lists the new names, best first
    assert FieldMapping().by_name("health_tier").options == tuple(RENAMED.values())
    # alert ranks: a worse tier ranks higher; a name of the old model is unknown (no alert)
    con = duckdb.connect()
    exprs = ", ".join(tier_rank_sql(f"'{t}'") for t in ("Thriving", "Red", "Critical"))
    ranks = con.execute(f"SELECT {exprs}").fetchone()
    assert ranks == (0, 3, None)


def test_a_day_scored_with_renamed_tiers_passes_the_blocking_checks(
    renamed: Path, tiny: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = load_model()
    compute_signals(tiny, AS_OF, model)
    assert score_day(tiny, AS_OF, model, churn=None) > 0
    tiers = {r[0] for r in tiny.execute(f"SELECT DISTINCT tier FROM {ACCOUNT_SCORES}").fetchall()}
    assert tiers - {None} and tiers - {None} <= set(RENAMED.values())

    # the blocking rules the sync guard runs (the same as the blocking Dagster checks) pass
    assert scores_partition_problems(tiny, AS_OF) == []

    # ... and they are read from the model: judged against the default model, the same rows fail
    monkeypatch.delenv(MODEL_ENV)
    problems = " ".join(scores_partition_problems(tiny, AS_OF))
    assert allowed_values("tier") in problems or "tier" in problems, problems
    expectation = SCORES_SUITE.expectation(allowed_values("tier"))
    assert expectation.blocking


def _rename_scores(con: duckdb.DuckDBPyConnection) -> None:
    cases = " ".join(f"WHEN '{old}' THEN '{new}'" for old, new in RENAMED.items())
    con.execute(f"UPDATE {ACCOUNT_SCORES} SET tier = CASE tier {cases} ELSE tier END")


def test_the_validation_and_report_follow_renamed_tiers(
    synthetic_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with duckdb.connect(str(synthetic_copy)) as con:
        before = compute_validation(con)
        checks_before = {c.name: c.passed for c in evaluate_checks(before.summary)}

    renamed_copy = tmp_path / "renamed.duckdb"
    shutil.copy(synthetic_copy, renamed_copy)
    monkeypatch.setenv(MODEL_ENV, str(write_renamed_model(tmp_path / "renamed.yaml")))
    with duckdb.connect(str(renamed_copy)) as con:
        _rename_scores(con)
        after = compute_validation(con)
        write_validation(con, after)
        stored = summary_from_table(con)
        report = build_report(con, tmp_path / "reports")

    # the same numbers under the new names, in the model's order (best first)
    expected = {RENAMED[t]: r for t, r in before.summary["churn_rate_by_tier"].items()}
    assert after.summary["churn_rate_by_tier"] == expected
    assert list(after.summary["churn_rate_by_tier"]) == list(RENAMED.values())
    judged = [RENAMED[t] for t in before.summary["tiers_judged_for_monotonicity"]]
    assert after.summary["tiers_judged_for_monotonicity"] == judged and len(judged) >= 2
    assert stored["tiers_judged_for_monotonicity"] == judged
    assert after.summary["churn_monotonic"] == before.summary["churn_monotonic"]
    assert {c.name: c.passed for c in evaluate_checks(stored)} == checks_before

    html = report.path.read_text()
    assert "Red" in html and ".tier-red{background:#c62828}" in html
    assert ".tier-critical" not in html


def test_tier_names_come_from_the_tiers_section_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a file with only the alert thresholds (as the alert tests write) has the default's tiers
    stub = tmp_path / "alerts_only.yaml"
    stub.write_text("alerts:\n  drop_points_7d: 5\n")
    monkeypatch.setenv(MODEL_ENV, str(stub))
    assert model_tier_names() == DEFAULT_NAMES

    # bands out of order: an error naming the file and the section
    bad = tmp_path / "bad.yaml"
    bad.write_text("tiers:\n  bands:\n    - {name: Low, min: 0}\n    - {name: High, min: 80}\n")
    monkeypatch.setenv(MODEL_ENV, str(bad))
    with pytest.raises(ModelError, match="bad.yaml: tiers: .*out of order"):
        model_tier_names()
