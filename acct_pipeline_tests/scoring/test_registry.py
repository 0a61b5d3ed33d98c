"""Change control: a model file edited without a version bump is refused; the registry lists
what went live, with the backtest it was approved on."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from acct_pipeline.scoring import registry
from acct_pipeline.scoring.model import DEFAULT_MODEL_PATH, load_model
from acct_pipeline.scoring.scores import score_day
from acct_pipeline.scoring.signals import compute_signals
from acct_pipeline.warehouse import ACCOUNT_SCORES, SCHEMAS
from acct_pipeline_tests.scoring.tiny import AS_OF, build_tiny


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    for s in SCHEMAS:
        c.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
    build_tiny(c)
    compute_signals(c, AS_OF, load_model())
    yield c
    c.close()


def _copy(tmp_path: Path, text: str | None = None) -> Path:
    path = tmp_path / "model.yaml"
    path.write_text(text if text is not None else DEFAULT_MODEL_PATH.read_text())
    return path


def test_a_changed_file_with_the_same_version_is_refused(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = _copy(tmp_path)
    model = load_model(path)
    score_day(con, AS_OF, model, churn=None)
    entry = registry.lookup(con, model.label)
    assert entry is not None and entry.status == registry.LIVE
    assert entry.file_hash == model.content_hash and entry.first_scored_day == AS_OF

    # a comment is not a change of the model; re-scoring the same file is fine
    path.write_text("# reviewed\n" + path.read_text())
    assert load_model(path).content_hash == model.content_hash
    score_day(con, AS_OF, load_model(path), churn=None)

    # a weight changes, the version does not: refused, and the stored scores are untouched
    before = con.execute(f"SELECT count(*), max(model_version) FROM {ACCOUNT_SCORES}").fetchone()
    path.write_text(path.read_text().replace("weight: 35", "weight: 40", 1))
    edited = load_model(path)
    assert edited.label == model.label and edited.content_hash != model.content_hash
    with pytest.raises(registry.ModelChanged, match="Bump `version`") as err:
        score_day(con, AS_OF, edited, churn=None)
    assert model.label in str(err.value) and "model.yaml" in str(err.value)
    assert con.execute(f"SELECT count(*), max(model_version) FROM {ACCOUNT_SCORES}").fetchone() == (
        before
    )

    # bumped: accepted, registered as a second live version, rows carry the new name@version
    text = path.read_text().replace('version: "1.2.0"', 'version: "1.3.0"', 1)
    text = text.replace(
        "changelog:\n",
        'changelog:\n  - version: "1.3.0"\n    date: 2026-12-10\n    change: usage 40.\n',
        1,
    )
    path.write_text(text)
    bumped = load_model(path)
    score_day(con, AS_OF, bumped, churn=None)
    labels = {r[0] for r in con.execute(f"SELECT model_version FROM {ACCOUNT_SCORES}").fetchall()}
    assert labels == {bumped.label}
    listed = registry.list_models(con)
    assert set(listed["model_version"]) == {model.label, bumped.label}
    assert listed.set_index("model_version").loc[bumped.label, "changelog"].endswith("usage 40.")


def test_approval_keeps_the_backtest_figures_and_refuses_another_content(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = _copy(tmp_path)
    model = load_model(path)
    backtest = {
        "candidate_hash": model.content_hash,
        "candidate_label": model.label,
        "current": {"health_auc": 0.61, "top_decile_lift": 1.4},
        "candidate": {"health_auc": 0.72, "top_decile_lift": 2.1},
    }
    stale = dict(backtest, candidate_hash="0" * 16)
    with pytest.raises(registry.ApprovalError, match="run the backtest again"):
        registry.approve(con, model, stale)
    entry = registry.approve(con, model, backtest)
    assert entry.status == registry.APPROVED and entry.went_live_at is None
    score_day(con, AS_OF, model, churn=None)
    live = registry.list_models(con).iloc[0]
    assert live["status"] == registry.LIVE and live["approved_at"] is not None
    assert '"health_auc": 0.72' in live["backtest"]
    text = registry.format_registry(registry.list_models(con))
    assert model.label in text and "0.61 -> 0.72" in text


def test_models_command_lists_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from acct_pipeline import cli

    db = tmp_path / "wh.duckdb"
    monkeypatch.setenv("ACCT_WAREHOUSE", str(db))
    path = _copy(tmp_path)
    with duckdb.connect(str(db)) as c:
        for s in SCHEMAS:
            c.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
        build_tiny(c)
        compute_signals(c, AS_OF, load_model(path))
        score_day(c, AS_OF, load_model(path), churn=None)
    assert cli.COMMANDS["models"](argparse.Namespace(models_action=None)) == 0
    out = capsys.readouterr().out
    assert "default@1.2.0" in out and "live" in out and "not approved through a backtest" in out
    args = cli.build_parser().parse_args(["models", "approve", str(path)])
    assert args.models_action == "approve" and args.backtest is None
