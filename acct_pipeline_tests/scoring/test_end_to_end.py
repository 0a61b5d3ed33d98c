"""End to end on a generated sample: the issue's "Done when" numbers, computed from the warehouse.

A 500-account, 160-day sample is generated, loaded through the pipeline's loader and identity
steps, and scored day by day with the default model. Only the days the held-out evaluation
needs are loaded and scored (the churn horizon's last 90 days only feed the labels).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest

from acct_pipeline import warehouse
from acct_pipeline.scoring.churn import (
    WARMUP_DAYS,
    apply_churn_model,
    evaluate_holdout,
    latest_artifact,
    needs_training,
    train_churn_model,
)
from acct_pipeline.scoring.explain import explain
from acct_pipeline.scoring.model import load_model
from acct_pipeline.scoring.scores import score_day
from acct_pipeline.scoring.signals import compute_signals
from acct_pipeline_tests.scoring.build import days_between, period

E2E = {"accounts": 500, "days": 160, "seed": 5}


@pytest.fixture(scope="module")
def model():
    base = load_model()
    # more, closer evaluation days than the default weekly sampling: the sample is short
    return base.model_copy(
        update={"churn_model": base.churn_model.model_copy(update={"sample_every_days": 4})}
    )


@pytest.fixture(scope="module")
def warehouse_e2e(tmp_path_factory: pytest.TempPathFactory, model) -> Path:
    from acct_pipeline.connectors.ingest import ingest_days, ingest_snapshot
    from acct_pipeline.quality.identity import build_accounts, build_identity
    from acct_pipeline.sample.generator import generate_sample

    root = tmp_path_factory.mktemp("e2e")
    landing = root / "landing"
    generate_sample(landing, **E2E)
    start, end = period(landing)
    last_scored = end - timedelta(days=model.churn_model.horizon_days)
    db = root / "warehouse.duckdb"
    mp = pytest.MonkeyPatch()
    mp.setenv("ACCT_LANDING_DIR", str(landing))
    mp.setenv("ACCT_WAREHOUSE", str(db))
    try:
        with warehouse.connect(db) as con:
            for spec in warehouse.SNAPSHOT_TABLES:
                ingest_snapshot(con, spec)
            ingest_days(con, warehouse.PRODUCT_EVENTS, days_between(start, last_scored))
            build_accounts(con)
            build_identity(con)
            # the trend window (30 d) before the first labelled day, then every day in order
            for day in days_between(start + timedelta(days=WARMUP_DAYS - 30), last_scored):
                compute_signals(con, day, model)
                score_day(con, day, model, churn=None)
            # the observation end is the sample's last day: one signals partition for it
            compute_signals(con, end, model)
    finally:
        mp.undo()
    return db


@pytest.mark.slow
def test_done_when_on_the_generated_sample(warehouse_e2e: Path, model, tmp_path: Path) -> None:
    with duckdb.connect(str(warehouse_e2e)) as con:
        ev = evaluate_holdout(con, model)
    print(json.dumps(ev.metadata(), indent=1))
    assert ev.eval_dates[0] > ev.train_dates[-1]  # time split: later days are held out
    assert len(ev.eval_dates) >= 3 and ev.positives_eval >= 20
    train_keys = set(zip(ev.frame.account_id, ev.frame.as_of_date, strict=True))
    assert all(d not in ev.train_dates for _, d in train_keys)
    # churn rate rises monotonically from Healthy to Critical on the held-out period
    rates = [ev.churn_rate_by_tier[t] for t in model.tiers.names]
    assert all(b > a for a, b in zip(rates, rates[1:], strict=False)), ev.churn_rate_by_tier
    assert ev.tiers_monotonic
    # the health score predicts 90-day churn; the predictive model does not do worse
    assert ev.health_auc >= 0.75, ev.health_auc
    assert ev.churn_auc >= ev.health_auc, (ev.churn_auc, ev.health_auc)
    assert 0 < ev.churn_brier < 0.2


@pytest.mark.slow
def test_churn_artefact_is_versioned_and_fills_probabilities(
    warehouse_e2e: Path, model, tmp_path: Path
) -> None:
    models_dir = tmp_path / "models"
    with duckdb.connect(str(warehouse_e2e)) as con:
        art = train_churn_model(con, model, models_dir, evaluate=False)
        assert re.fullmatch(r"[0-9a-f]{12}", art.version)
        assert (
            art.path == models_dir / f"churn-{model.name}-{art.version}.joblib"
            and art.path.exists()
        )
        meta = json.loads(art.path.with_suffix(".json").read_text())
        assert meta["version"] == art.version and meta["model_hash"] == model.content_hash
        assert meta["positives"] > 0 and meta["rows"] > meta["positives"]
        # same data and model: same version, no retraining
        again = train_churn_model(con, model, models_dir, evaluate=False)
        assert again.version == art.version
        assert latest_artifact(model, models_dir).version == art.version
        # a changed model file needs its own training
        changed = model.model_copy(update={"content_hash": "0" * 12})
        assert needs_training(changed, models_dir) and not needs_training(model, models_dir)
        days = [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT as_of_date FROM {warehouse.ACCOUNT_SCORES} ORDER BY 1"
            ).fetchall()
        ]
        assert apply_churn_model(con, art, days[-1:]) > 0
        p = (
            con.execute(
                f"SELECT churn_probability FROM {warehouse.ACCOUNT_SCORES} WHERE as_of_date = ?",
                [days[-1]],
            )
            .df()["churn_probability"]
            .to_numpy()
        )
        assert np.all((p >= 0) & (p <= 1)) and p.std() > 0
        account = con.execute(
            f"SELECT account_id FROM {warehouse.ACCOUNT_SCORES} WHERE as_of_date = ? "
            "ORDER BY health_score LIMIT 1",
            [days[-1]],
        ).fetchone()[0]
        mp = pytest.MonkeyPatch()
        mp.setenv("ACCT_MODELS_DIR", str(models_dir))
        try:
            text = explain(con, account, days[-1], model)
        finally:
            mp.undo()
    assert account in text and "tier" in text and "reasons:" in text and "playbook:" in text
    assert "usage" in text and "points" in text and "churn drivers:" in text
    assert len(text.splitlines()) <= 50
