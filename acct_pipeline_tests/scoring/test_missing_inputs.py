"""Robust to whatever a company has: every optional input removed in turn, the day still scores.

The sample is taken apart the way other companies' data is shaped (issue 16's test matrix): an
optional landing file missing, an optional column missing from its header, an optional column
present but empty everywhere, NPS never asked, activities without a contact, product tracking
for nobody or for only part of the book. For each, the pipeline's own steps run on a small
sample (ingest, identity, signals, scores with the walk-forward churn model, sync to the outbox):
every account gets a score row, the live ones a tier, and the sync writes them.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from acct_pipeline import warehouse
from acct_pipeline_tests.scoring.build import days_between, load_landing

SAMPLE = {"accounts": 60, "days": 40, "seed": 11}
SCORED_DAYS = 2


def _rewrite(path: Path, change: Callable[[list[str], list[list[str]]], tuple[list, list]]) -> None:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = change(rows[0], rows[1:])
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(body)


def drop_column(rel: str, column: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        def change(h: list[str], body: list[list[str]]) -> tuple[list, list]:
            i = h.index(column)
            return h[:i] + h[i + 1 :], [r[:i] + r[i + 1 :] if len(r) > i else r for r in body]

        _rewrite(root / rel, change)

    return apply


def empty_column(rel: str, column: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        def change(h: list[str], body: list[list[str]]) -> tuple[list, list]:
            i = h.index(column)
            return h, [r[:i] + [""] + r[i + 1 :] if len(r) > i else r for r in body]

        _rewrite(root / rel, change)

    return apply


def drop_rows(rel: str, column: str, value: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        def change(h: list[str], body: list[list[str]]) -> tuple[list, list]:
            i = h.index(column)
            return h, [r for r in body if len(r) <= i or r[i] != value]

        _rewrite(root / rel, change)

    return apply


def remove(rel: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        target = root / rel
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()

    return apply


def untrack_share(share: float) -> Callable[[Path], None]:
    """Product tracking for only part of the book: drop a share of the product groups."""

    def apply(root: Path) -> None:
        def change(h: list[str], body: list[list[str]]) -> tuple[list, list]:
            keep = max(1, int(len(body) * (1 - share)))
            return h, body[:keep]

        _rewrite(root / "product/groups.csv", change)

    return apply


VARIANTS: dict[str, Callable[[Path], None]] = {
    "no_nps": drop_rows("crm/activities.csv", "activity_type", "nps_response"),
    "csat_column_missing": drop_column("crm/tickets.csv", "csat_score"),
    "csat_column_empty": empty_column("crm/tickets.csv", "csat_score"),
    "tickets_file_missing": remove("crm/tickets.csv"),
    "activity_contacts_missing": drop_column("crm/activities.csv", "contact_id"),
    "activity_contacts_empty": empty_column("crm/activities.csv", "contact_id"),
    "contacts_file_missing": remove("crm/contacts.csv"),
    "activities_file_missing": remove("crm/activities.csv"),
    "no_product_tracking": lambda root: (
        remove("events")(root),
        remove("product/groups.csv")(root),
    ),
    "product_tracking_for_some": untrack_share(0.4),
    "payment_dates_missing": drop_column("billing/invoices.csv", "paid_at"),
    "payment_dates_empty": empty_column("billing/invoices.csv", "paid_at"),
    "seats_missing": lambda root: (
        drop_column("billing/invoices.csv", "seats")(root),
        drop_column("billing/subscriptions.csv", "seats")(root),
    ),
    "seats_empty": lambda root: (
        empty_column("billing/invoices.csv", "seats")(root),
        empty_column("billing/subscriptions.csv", "seats")(root),
    ),
}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from acct_pipeline.sample.generator import generate_sample

    root = tmp_path_factory.mktemp("robust") / "landing"
    generate_sample(root, **SAMPLE)
    return root


def run_pipeline(landing: Path, db: Path, outbox: Path, models: Path) -> tuple[date, object]:
    """Ingest, identity, signals, scores (walk-forward churn) and an outbox sync of the last day."""
    from acct_pipeline.scoring.churn import WalkForwardChurn
    from acct_pipeline.scoring.model import load_model
    from acct_pipeline.scoring.scores import score_day
    from acct_pipeline.scoring.signals import compute_signals_for_days
    from acct_pipeline.sync.engine import run_sync
    from acct_pipeline.sync.settings import SyncSettings

    model = load_model()
    _, end = load_landing(landing, db)
    with warehouse.connect(db) as con:
        days = days_between(end - timedelta(days=SCORED_DAYS - 1), end)
        progress: list[str] = []
        compute_signals_for_days(con, days, model, progress.append)
        assert progress[-1].startswith(f"signals: {len(days)}/{len(days)} days")
        churn = WalkForwardChurn(model, models)
        for day in days:
            score_day(con, day, model, churn=churn)
    report = run_sync(
        lambda: warehouse.connect(db),
        SyncSettings(target="outbox", outbox_dir=outbox),
        end,
        partition_passed_checks=True,
    )
    return end, report


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_day_scores_and_syncs_without_an_optional_input(
    variant: str, sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(sample, landing)
    VARIANTS[variant](landing)
    db = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("ACCT_LANDING_DIR", str(landing))
    monkeypatch.setenv("ACCT_WAREHOUSE", str(db))
    end, report = run_pipeline(landing, db, tmp_path / "outbox", tmp_path / "models")

    with duckdb.connect(str(db), read_only=True) as con:
        accounts = con.execute(f"SELECT count(*) FROM {warehouse.ACCOUNTS}").fetchone()[0]
        rows = con.execute(
            f"SELECT account_id, health_score, tier, lifecycle_status, data_coverage, "
            f"churn_model_version, churn_note, reason_codes "
            f"FROM {warehouse.ACCOUNT_SCORES} WHERE as_of_date = ?",
            [end],
        ).df()
    assert accounts > 0 and len(rows) == accounts  # a score row for every account
    live = rows[rows.lifecycle_status != "Churned"]
    assert len(live) > 0
    assert live.health_score.between(0, 100).all() and live.tier.notna().all(), variant
    # no probability yet on 40 days of history, and every row says why
    assert rows.churn_model_version.isna().all() and rows.churn_note.notna().all()
    assert (live.data_coverage > 0).all() and (live.data_coverage <= 1).all()
    # the sync ran and wrote every live account to the outbox
    assert report.sent + report.unchanged >= len(live), report
    if variant in ("no_product_tracking", "product_tracking_for_some"):
        untracked = live[live.reason_codes.map(lambda r: any("no data for usage" in x for x in r))]
        assert len(untracked) > 0 and (untracked.data_coverage < 1).all()
        if variant == "no_product_tracking":
            assert len(untracked) == len(live)


def test_the_churn_model_trains_without_nps_and_says_which_features_it_dropped() -> None:
    """A CRM without NPS: the column is NULL on every row. Gradient boosting cannot bin an
    all-empty column ("window shape cannot be larger than input array shape"); the feature is
    dropped, named, and the model still learns from the rest."""
    import numpy as np
    import pandas as pd

    from acct_pipeline.scoring.churn import feature_names, fit_churn
    from acct_pipeline.scoring.model import load_model

    model = load_model()
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame({f: rng.normal(size=n) for f in feature_names(model)})
    frame["account_id"] = [f"a{i % 150}" for i in range(n)]
    risk = frame["usage_trend_pct"].to_numpy()
    frame["churned"] = (risk + rng.normal(scale=0.5, size=n) < -0.8).astype(int)
    frame["nps_latest"] = np.nan
    frame["csat_latest"] = 4.0
    est, features, medians, dropped = fit_churn(model, frame)
    assert dropped["nps_latest"] == "no data" and dropped["csat_latest"].startswith("constant")
    assert "nps_latest" not in features and "usage_trend_pct" in features
    assert set(medians) == set(features)
    proba = est.predict_proba(frame[features].to_numpy(dtype=float))[:, 1]
    assert proba[frame.churned == 1].mean() > proba[frame.churned == 0].mean()
