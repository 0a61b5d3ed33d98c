"""Reverse ETL that works every day: 30 consecutive days of the sample, no ``--force``."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pytest

from acct_pipeline import warehouse
from acct_pipeline.definitions import defs
from acct_pipeline.defs.schedules import RECONCILE_SCHEDULE_NAME, build_reconcile_schedule
from acct_pipeline.sync import FieldMapping, SyncReport, SyncSettings, run_sync
from acct_pipeline.sync.settings import SyncConfigError, reconcile_cron
from acct_pipeline_tests.sync.conftest import DAY, account_ids, ledger_rows, write_scores

# what a person reads as the account's state; the two numbers below count when they move enough
MEANING = (
    "health_score",
    "health_tier",
    "health_trend",
    "recommended_playbook",
    "health_reasons",
    "audience",
)


def _days(db: Path, n: int) -> list[date]:
    with warehouse.connect(db) as con:
        rows = con.execute(
            f"SELECT DISTINCT as_of_date FROM {warehouse.ACCOUNT_SCORES} ORDER BY 1"
        ).fetchall()
    return [r[0] for r in rows][-n:]


def test_thirty_days_of_the_sample_sync_without_force(
    scored_warehouse_copy: Path, tmp_path: Path
) -> None:
    db = scored_warehouse_copy
    days = _days(db, 30)
    assert len(days) == 30
    with warehouse.connect(db) as con:  # forget the pipeline's own sync of the newest day
        con.execute(f"DROP TABLE IF EXISTS {warehouse.CRM_SYNC_LEDGER}")
        texts = [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT unnest(reason_codes) FROM {warehouse.ACCOUNT_SCORES}"
            ).fetchall()
        ]
    # nothing that moves by itself every day: "... 23 days ago", "renewal in 41 days"
    assert texts and not [
        t for t in texts if re.search(r"call \d+ days ago|renewal in \d+ days|payment \d+ days", t)
    ]

    settings = SyncSettings(target="outbox", outbox_dir=tmp_path / "outbox")
    mapping = FieldMapping()
    tol = {f.name: f.tolerance for f in mapping.fields if f.tolerance}
    written: list[int] = []
    before: dict[str, dict] = {}
    for day in days:
        report = run_sync(
            lambda: warehouse.connect(db), settings, day, partition_passed_checks=True
        )  # raises SyncRefused on a refusal
        assert not report.refusals and report.complete
        after = {
            rid: json.loads(r["accepted_json"]) for rid, r in ledger_rows(db, "outbox").items()
        }
        changed = [rid for rid in after if after[rid] != before.get(rid)]
        assert len(changed) == report.exported == report.sent
        if before:
            written.append(report.sent)
            for rid in changed:
                old, new = before.get(rid, {}), after[rid]
                real = any(old.get(k) != new.get(k) for k in MEANING) or any(
                    abs(float(new[k]) - float(old[k])) >= t - 1e-9
                    for k, t in tol.items()
                    if new.get(k) is not None and old.get(k) is not None
                )
                assert real, f"{rid} written on {day} without a material change: {old} -> {new}"
        before = after
    scored = report.scored
    # a normal day changes a minority of the accounts, never the majority
    assert max(written) <= 0.5 * scored
    assert sum(written) / len(written) < 0.4 * scored, written


def test_only_material_changes_are_sent(db: Path, tmp_path: Path) -> None:
    """Small moves of numbers and reasons trading places are not changes; the drift adds up."""
    ids = account_ids(6)
    write_scores(db, DAY, ids)
    settings = SyncSettings(target="outbox", outbox_dir=tmp_path / "outbox")

    def run() -> SyncReport:
        return run_sync(lambda: warehouse.connect(db), settings, DAY, partition_passed_checks=True)

    assert run().sent == 6
    with warehouse.connect(db) as con:
        t = warehouse.ACCOUNT_SCORES
        # 1001: score +2 (under the tolerance of 5); 1002: reasons 1 and 2 swap places;
        # 1003: churn probability +0.01; 1004: a reason's wording changes (its bucket moved)
        con.execute(f"UPDATE {t} SET health_score = health_score + 2 WHERE account_id = '1001'")
        con.execute(
            f"UPDATE {t} SET reason_codes = [reason_codes[2], reason_codes[1], reason_codes[3]] "
            "WHERE account_id = '1002'"
        )
        con.execute(
            f"UPDATE {t} SET churn_probability = churn_probability + 0.01 WHERE account_id = '1003'"
        )
        con.execute(
            f"UPDATE {t} SET reason_codes = [reason_codes[1], reason_codes[2], "
            "'renewal within 30 days'] "
            "WHERE account_id = '1004'"
        )
    second = run()
    assert second.sent == 1 and second.field_changes == {"health_reasons": 1}
    assert json.loads(ledger_rows(db, "outbox")["1004"]["accepted_json"])[
        "health_reasons"
    ].endswith("renewal within 30 days")
    with warehouse.connect(db) as con:  # another +4: 6 points from what the CRM holds
        con.execute(f"UPDATE {t} SET health_score = health_score + 4 WHERE account_id = '1001'")
    third = run()
    assert third.sent == 1 and third.field_changes == {"health_score": 1}


def test_weekly_reconcile_schedule_is_configurable() -> None:
    loaded = defs().resolve_schedule_def(RECONCILE_SCHEDULE_NAME)
    assert loaded.job_name == "crm_reconcile" and loaded.cron_schedule == "0 7 * * 0"
    job = defs().resolve_job_def("crm_reconcile")
    assert job.partitions_def is not None  # partitioned like the sync asset
    schedule = build_reconcile_schedule("UTC", "30 5 * * 1")
    request = schedule(
        dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 2, 5, 30, tzinfo=UTC))
    )
    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == "2026-11-01" and request.run_key == "reconcile-2026-11-01"
    assert reconcile_cron({"ACCT_SYNC_RECONCILE_CRON": "off"}) is None
    assert reconcile_cron({"ACCT_SYNC_RECONCILE_CRON": "0 3 * * 6"}) == "0 3 * * 6"
    with pytest.raises(SyncConfigError, match="ACCT_SYNC_RECONCILE_CRON"):
        reconcile_cron({"ACCT_SYNC_RECONCILE_CRON": "weekly"})
