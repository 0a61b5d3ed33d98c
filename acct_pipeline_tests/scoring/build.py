"""Build a scored warehouse from a landing folder through the pipeline's own functions.

The ingest and staging steps are the lead's (``connectors.ingest``, ``quality.identity``); the
signals, scores and churn model are the scoring engine's. Used by the end-to-end scoring test
and by ``python -m acct_pipeline_tests.scoring.build LANDING DB`` for tuning on a big sample.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from acct_pipeline import warehouse
from acct_pipeline.scoring.model import ScoringModel, load_model
from acct_pipeline.scoring.scores import score_day
from acct_pipeline.scoring.signals import compute_signals


def period(landing: Path) -> tuple[date, date]:
    manifest = json.loads((landing / "_manifest.json").read_text())
    return date.fromisoformat(manifest["period"]["start"]), date.fromisoformat(
        manifest["period"]["end"]
    )


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def load_landing(landing: Path, db: Path) -> tuple[date, date]:
    """Raw tables + staging from ``landing`` into ``db``; returns the sample period."""
    from acct_pipeline.connectors.ingest import ingest_days, ingest_snapshot
    from acct_pipeline.quality.identity import build_accounts, build_identity

    start, end = period(landing)
    old = os.environ.get("ACCT_LANDING_DIR")
    os.environ["ACCT_LANDING_DIR"] = str(landing)
    try:
        with warehouse.connect(db) as con:
            for spec in warehouse.SNAPSHOT_TABLES:
                ingest_snapshot(con, spec)
            ingest_days(con, warehouse.PRODUCT_EVENTS, days_between(start, end))
            build_accounts(con)
            build_identity(con)
    finally:
        if old is None:
            os.environ.pop("ACCT_LANDING_DIR", None)
        else:
            os.environ["ACCT_LANDING_DIR"] = old
    return start, end


def score_history(db: Path, start: date, end: date, model: ScoringModel) -> dict[str, float]:
    """Signals and scores for every day in order (no churn model). Returns timings."""
    t_sig = t_score = 0.0
    with warehouse.connect(db) as con:
        for day in days_between(start, end):
            t0 = time.perf_counter()
            compute_signals(con, day, model)
            t1 = time.perf_counter()
            score_day(con, day, model, churn=None)
            t_sig += t1 - t0
            t_score += time.perf_counter() - t1
    n = (end - start).days + 1
    return {"signals_s_per_day": t_sig / n, "scores_s_per_day": t_score / n}


def build(landing: Path, db: Path, model: ScoringModel | None = None) -> tuple[date, date]:
    model = model or load_model()
    start, end = load_landing(landing, db)
    score_history(db, start, end, model)
    return start, end


if __name__ == "__main__":  # pragma: no cover - a tuning aid
    landing_arg, db_arg = Path(sys.argv[1]), Path(sys.argv[2])
    t0 = time.perf_counter()
    s, e = load_landing(landing_arg, db_arg)
    print(f"loaded {s}..{e} in {time.perf_counter() - t0:.0f}s", flush=True)
    print(score_history(db_arg, s, e, load_model()), flush=True)
