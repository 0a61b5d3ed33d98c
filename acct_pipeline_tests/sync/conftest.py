"""Sync fixtures: a small scores partition in a temp DuckDB file, fake CRMs, settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from acct_pipeline import warehouse
from acct_pipeline.scoring.scores import SCORE_COLUMNS
from acct_pipeline.sync.settings import SyncSettings

DAY = date(2026, 10, 30)
NEXT_DAY = date(2026, 10, 31)

SCORES_DDL = f"""
CREATE TABLE IF NOT EXISTS {warehouse.ACCOUNT_SCORES} (
    account_id VARCHAR, as_of_date DATE, health_score DOUBLE, engagement_score DOUBLE,
    value_score DOUBLE, churn_probability DOUBLE, tier VARCHAR, previous_tier VARCHAR,
    score_delta_7d DOUBLE, score_delta_30d DOUBLE, trend VARCHAR, reason_codes VARCHAR[],
    recommended_playbook VARCHAR, model_version VARCHAR, lifecycle_status VARCHAR,
    data_coverage DOUBLE, churn_model_version VARCHAR, churn_note VARCHAR
)
"""

TIERS = ((90, "Healthy"), (70, "At-Risk"), (50, "Concerning"), (0, "Critical"))


def account_ids(n: int, start: int = 1001) -> list[str]:
    return [str(start + i) for i in range(n)]


def write_scores(db: Path, day: date, ids: list[str], bump: dict[str, float] | None = None) -> None:
    """One scores partition: deterministic values per account; ``bump`` adds to health_score."""
    bump = bump or {}
    with warehouse.connect(db) as con:
        con.execute(SCORES_DDL)
        con.execute(f"DELETE FROM {warehouse.ACCOUNT_SCORES} WHERE as_of_date = ?", [day])
        rows = []
        for i, rid in enumerate(ids):
            score = float((i * 37) % 101) + bump.get(rid, 0.0)
            tier = next(t for lo, t in TIERS if score >= lo)
            rows.append(
                (
                    rid,
                    day,
                    score,
                    score * 0.9,
                    score * 0.8,
                    round(1 - score / 100, 4),
                    tier,
                    tier,
                    float(i % 7 - 3),
                    float(i % 11 - 5),
                    ("improving", "stable", "declining")[i % 3],
                    [
                        f"active users down {i % 50}% vs prior 28 days",
                        "2 open high-severity tickets",
                        "renewal in 45 days",
                    ],
                    f"{tier} playbook",
                    "test-1.0",
                    "Active",
                    1.0,
                    "test-churn",
                    None,
                )
            )
        cols = list(SCORE_COLUMNS)[: len(rows[0])]  # the engagement categories stay NULL
        frame = pd.DataFrame(rows, columns=cols)  # noqa: F841 - read by DuckDB's replacement scan
        con.execute(f"INSERT INTO {warehouse.ACCOUNT_SCORES} BY NAME SELECT * FROM frame")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


@pytest.fixture
def con_factory(db: Path) -> Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]:
    return lambda: warehouse.connect(db)


def ledger_rows(db: Path, target: str) -> dict[str, dict]:
    """The ledger as the next run will see it (a crashed run's journal folded in first)."""
    from acct_pipeline.sync import ledger

    with warehouse.connect(db) as con:
        ledger.fold_journal(con)
        cur = con.execute(f"SELECT * FROM {warehouse.CRM_SYNC_LEDGER} WHERE target = ?", [target])
        cols = [d[0] for d in cur.description]
        return {r[1]: dict(zip(cols, r, strict=True)) for r in cur.fetchall()}


@pytest.fixture
def outbox_settings(tmp_path: Path) -> Iterator[SyncSettings]:
    yield SyncSettings(target="outbox", outbox_dir=tmp_path / "outbox")


# -- fake CRMs ---------------------------------------------------------------------------------

from acct_pipeline.sync.engine import run_sync  # noqa: E402
from acct_pipeline.sync.mapping import FieldMapping  # noqa: E402
from acct_pipeline.sync.report import SyncReport  # noqa: E402
from acct_pipeline.sync.targets.hubspot import HubSpotTarget  # noqa: E402
from acct_pipeline.sync.targets.salesforce import SalesforceTarget  # noqa: E402
from acct_pipeline_tests.fakes import hubspot as fake_hs  # noqa: E402
from acct_pipeline_tests.fakes import salesforce as fake_sf  # noqa: E402
from acct_pipeline_tests.fakes.base import FakeClock  # noqa: E402
from acct_pipeline_tests.fakes.fixtures import fake_clock, fake_hubspot, fake_salesforce  # noqa: E402, F401


def hubspot_settings(hs: fake_hs.FakeHubSpot, **kw: object) -> SyncSettings:
    base = {
        "target": "hubspot",
        "hubspot_base_url": hs.url,
        "hubspot_token": fake_hs.TOKEN,
        "create_fields": True,
    }
    base.update(kw)
    return SyncSettings(**base)  # type: ignore[arg-type]


def salesforce_settings(sf: fake_sf.FakeSalesforce, **kw: object) -> SyncSettings:
    base = {
        "target": "salesforce",
        "salesforce_instance_url": sf.url,
        "salesforce_token": fake_sf.TOKEN,
        "salesforce_api_version": fake_sf.API_VERSION.lstrip("v"),
    }
    base.update(kw)
    return SyncSettings(**base)  # type: ignore[arg-type]


def sync_hubspot(
    db: Path, hs: fake_hs.FakeHubSpot, clock: FakeClock, day: date = DAY, **kw: object
) -> SyncReport:
    settings_kw = {k: kw.pop(k) for k in list(kw) if k in SyncSettings.__dataclass_fields__}
    settings = hubspot_settings(hs, **settings_kw)
    mapping = kw.pop("mapping", None) or FieldMapping()
    target = HubSpotTarget(settings, mapping, sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    try:
        return run_sync(
            lambda: warehouse.connect(db),
            settings,
            day,
            target=target,
            partition_passed_checks=kw.pop("checks", True),
            mapping=mapping,  # type: ignore[arg-type]
            **kw,  # type: ignore[arg-type]
        )
    finally:
        target.close()


def sync_salesforce(
    db: Path, sf: fake_sf.FakeSalesforce, clock: FakeClock, day: date = DAY, **kw: object
) -> SyncReport:
    settings_kw = {k: kw.pop(k) for k in list(kw) if k in SyncSettings.__dataclass_fields__}
    settings = salesforce_settings(sf, **settings_kw)
    target = SalesforceTarget(settings, FieldMapping(), sleep=clock.sleep, clock=clock)
    try:
        return run_sync(
            lambda: warehouse.connect(db),
            settings,
            day,
            target=target,
            partition_passed_checks=kw.pop("checks", True),
            **kw,  # type: ignore[arg-type]
        )
    finally:
        target.close()


def add_companies(hs: fake_hs.FakeHubSpot, ids: list[str]) -> None:
    for rid in ids:
        hs.add_record(
            "companies", rid, {"name": f"Company {rid}", "description": "typed by a person"}
        )


def batch_updates(hs: fake_hs.FakeHubSpot) -> list:
    return [c for c in hs.calls_to(r"/batch/update$", "POST")]
