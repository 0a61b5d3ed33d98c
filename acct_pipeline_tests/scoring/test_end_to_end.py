"""End to end on a generated sample: the issue's "Done when" numbers, computed from the warehouse.

A 500-account, 160-day sample is generated, loaded through the pipeline's loader and identity
steps, and scored day by day with the default model. Only the days the held-out evaluation
needs are loaded and scored (the churn horizon's last 90 days only feed the labels).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from acct_pipeline import warehouse
from acct_pipeline.scoring.churn import (
    MIN_DRIVER_EFFECT,
    WARMUP_DAYS,
    ChurnModelError,
    WalkForwardChurn,
    churn_drivers,
    evaluate_holdout,
    holdout_accounts,
    latest_artifact,
    needs_training,
    retrain_day,
    train_churn_model,
    training_frame,
)
from acct_pipeline.scoring.explain import explain
from acct_pipeline.scoring.model import load_model
from acct_pipeline.scoring.scores import read_signals, score_day
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
    assert len(ev.eval_dates) >= 3 and ev.positives_eval >= 8
    # ... and an account split: the evaluated accounts were never trained on
    assert holdout_accounts(ev.frame["account_id"]).all()
    train_keys = set(zip(ev.frame.account_id, ev.frame.as_of_date, strict=True))
    assert all(d not in ev.train_dates for _, d in train_keys)
    # the health score predicts 90-day churn on the sample it was written for
    assert ev.health_auc >= 0.7, ev.health_auc
    assert 0.5 < ev.churn_auc < 0.95, ev.churn_auc  # better than chance, not a leak
    assert 0 < ev.churn_brier < 0.2


@pytest.mark.slow
def test_walk_forward_churn_model_never_sees_a_label_after_the_day_it_scores(
    warehouse_e2e: Path, model, tmp_path: Path
) -> None:
    models_dir = tmp_path / "models"
    end = None
    with duckdb.connect(str(warehouse_e2e)) as con:
        end = con.execute(f"SELECT max(as_of_date) FROM {warehouse.ACCOUNT_SIGNALS}").fetchone()[0]
        wf = WalkForwardChurn(model, models_dir)
        got = wf.for_day(con, end)
        art = got.artifact
        assert art is not None, got.note
        known_by = retrain_day(end, model.churn_model.retrain_every_days)
        meta = art.metadata
        # trained only on as-of days whose 90-day label window had closed by the retraining day
        last_label_day = date.fromisoformat(meta["last_date"])
        assert last_label_day + timedelta(days=model.churn_model.horizon_days) <= known_by <= end
        assert meta["labels_known_by"] == known_by.isoformat()
        assert art.version == f"{known_by.isoformat()}.{model.content_hash[:8]}"
        assert art.path.exists() and latest_artifact(model, models_dir).version == art.version
        # the outcomes it learned from are those known by then: no churn after known_by counts
        frame = training_frame(con, model, [last_label_day], known_by)
        assert (
            pd.to_datetime(frame.loc[frame.churned == 1, "churned_on"]).dt.date <= known_by
        ).all()
        # the same day and model file: the saved model, no retraining
        assert WalkForwardChurn(model, models_dir).for_day(con, end).artifact.version == art.version
        assert not needs_training(model, models_dir)
        # too early for matured labels: no model, and the reason says why
        early = wf.for_day(con, last_label_day)
        assert early.artifact is None and "no churn model yet" in early.note
        with pytest.raises(ChurnModelError, match="min_churn_events"):
            strict = model.model_copy(
                update={
                    "churn_model": model.churn_model.model_copy(
                        update={"min_churn_events": 100_000}
                    )
                }
            )
            train_churn_model(con, strict, tmp_path / "m2", evaluate=False, known_by=known_by)
        # score the last day with it: every live row names the version, probabilities in 0..1
        score_day(con, end, model, churn=wf)
        rows = con.execute(
            f"SELECT churn_probability, churn_model_version, churn_note, lifecycle_status "
            f"FROM {warehouse.ACCOUNT_SCORES} WHERE as_of_date = ?",
            [end],
        ).df()
        live = rows[rows.lifecycle_status != "Churned"]
        assert (live.churn_model_version == art.version).all()
        p = live.churn_probability.to_numpy()
        assert np.all((p >= 0) & (p <= 1)) and p.std() > 0
        churned = rows[rows.lifecycle_status == "Churned"]
        assert len(churned) > 0 and churned.churn_probability.isna().all()
        assert (churned.churn_note == "account churned").all()
        account = con.execute(
            f"SELECT account_id FROM {warehouse.ACCOUNT_SCORES} WHERE as_of_date = ? "
            "AND lifecycle_status <> 'Churned' ORDER BY health_score LIMIT 1",
            [end],
        ).fetchone()[0]
        mp = pytest.MonkeyPatch()
        mp.setenv("ACCT_MODELS_DIR", str(models_dir))
        try:
            text = explain(con, account, end, model)
        finally:
            mp.undo()
    assert account in text and "tier" in text and "playbook:" in text
    assert "risks (cost points):" in text and "strengths (earn points):" in text
    assert "usage" in text and "points" in text and "churn drivers: the" in text
    assert len(text.splitlines()) <= 50


# Run in a fresh interpreter: explain one account the way the CLI does, then list the heavy
# packages that got imported (the test process itself has imported them all already).
EXPLAIN_IMPORTS = """
import sys
from acct_pipeline import cli
code = cli.main(["explain", sys.argv[1]])
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"sklearn", "joblib", "dagster"})
print("EXIT", code, "HEAVY", ",".join(heavy) or "-")
"""


@pytest.mark.slow
def test_stored_churn_drivers_are_the_models_and_explain_reads_them_without_sklearn(
    warehouse_e2e: Path, model, tmp_path: Path
) -> None:
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse_e2e, db)
    models_dir = tmp_path / "models"
    with duckdb.connect(str(db)) as con:
        end = con.execute(f"SELECT max(as_of_date) FROM {warehouse.ACCOUNT_SIGNALS}").fetchone()[0]
        wf = WalkForwardChurn(model, models_dir)
        score_day(con, end, model, churn=wf)
        art = wf.for_day(con, end).artifact
        assert art is not None
        scores = con.execute(
            f"SELECT * FROM {warehouse.ACCOUNT_SCORES} WHERE as_of_date = ? "
            "AND lifecycle_status <> 'Churned' ORDER BY account_id",
            [end],
        ).df()
        signals = read_signals(con, end).set_index("account_id").loc[scores.account_id]
        stored = con.execute(
            f"SELECT account_id, rank, feature, value, typical, effect FROM "
            f"{warehouse.CHURN_DRIVERS} WHERE as_of_date = ? ORDER BY account_id, rank",
            [end],
        ).df()
    # what the model computes now, for the same rows, is what was stored at scoring time
    top = model.churn_model.top_drivers
    computed = churn_drivers(art, signals.reset_index(), scores, top=top)
    expected = [
        (a, rank, d.feature, d.effect)
        for a, found in zip(scores.account_id, computed, strict=True)
        for rank, d in enumerate(found, 1)
    ]
    assert len(expected) > 0 and len(stored) == len(expected)
    got = list(stored[["account_id", "rank", "feature", "effect"]].itertuples(index=False))
    for g, e in zip(got, expected, strict=True):
        assert g[:3] == e[:3] and g[3] == pytest.approx(e[3], abs=1e-9)
    assert (stored.effect >= MIN_DRIVER_EFFECT).all()
    assert stored.groupby("account_id").size().max() <= top
    # the drivers explain the stored probability: each alone lowers it, never below zero
    proba = scores.set_index("account_id").churn_probability
    assert (stored.effect <= stored.account_id.map(proba) + 1e-4).all()
    # explain tells the stored drivers, in a process that never loads scikit-learn or dagster
    account = stored.loc[stored.effect.idxmax(), "account_id"]
    proc = subprocess.run(
        [sys.executable, "-c", EXPLAIN_IMPORTS, account],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "ACCT_WAREHOUSE": str(db), "ACCT_MODELS_DIR": str(tmp_path / "none")},
    )
    assert "EXIT 0 HEAVY -" in proc.stdout, proc.stdout + proc.stderr
    first = stored[stored.account_id == account].iloc[0]
    assert f"{first.feature.replace('_', ' ')} = " in proc.stdout
    assert f"-{first.effect * 100:.0f} pp" in proc.stdout
    assert "they do not add up to the probability" in proc.stdout
