"""The report's "Acting on scores" section on the synthetic history: audiences and lift."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb

from acct_pipeline.alerts.audiences import update_membership
from acct_pipeline.scoring.actions import Actions, Experiment
from acct_pipeline.scoring.lift import measure_lift
from acct_pipeline.scoring.model import load_model
from acct_pipeline.scoring.report import build_report
from acct_pipeline.warehouse import ACCOUNT_SCORES, EXPERIMENT_ASSIGNMENTS


def test_the_report_shows_audiences_and_lift(synthetic_copy: Path, tmp_path: Path) -> None:
    model = load_model()
    # a short horizon so the 60-day history has matured assignments
    actions = Actions(
        experiment=Experiment(control_share=0.3, seed=1, horizon_days=20),
        audiences=model.audiences,
        caps=model.caps,
    )
    with duckdb.connect(str(synthetic_copy)) as con:
        first, last = con.execute(
            f"SELECT min(as_of_date), max(as_of_date) FROM {ACCOUNT_SCORES}"
        ).fetchone()
        day = first
        while day <= last:
            update_membership(con, day, actions)
            day += timedelta(days=1)
        arms = dict(
            con.execute(f"SELECT arm, count(*) FROM {EXPERIMENT_ASSIGNMENTS} GROUP BY 1").fetchall()
        )
        frame, lines = measure_lift(con, actions.experiment, list(model.tiers.names))
        result = build_report(
            con, tmp_path, model=model.model_copy(update={"experiment": actions.experiment})
        )
    assert arms["control"] > 10 and arms["treated"] > arms["control"]
    overall = frame[(frame.tier == "all") & (frame.outcome == "retained")].iloc[0]
    assert overall.n_treated + overall.n_control > 0
    assert any("retained" in line for line in lines)
    html = result.path.read_text()
    assert "Acting on scores" in html and "Measured lift" in html
    assert "suppress" in html or "win_back" in html
    assert "too small to conclude" in html or "no measurable difference" in html
