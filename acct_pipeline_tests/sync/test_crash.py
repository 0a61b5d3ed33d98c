"""A real ``kill -9`` of a syncing subprocess, then a rerun: nothing lost, nothing written twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from acct_pipeline import warehouse
from acct_pipeline.sync.engine import run_sync
from acct_pipeline.sync.mapping import FieldMapping
from acct_pipeline.sync.targets.hubspot import HubSpotTarget
from acct_pipeline_tests.fakes.hubspot import TOKEN, FakeHubSpot
from acct_pipeline_tests.sync.conftest import (
    DAY,
    account_ids,
    add_companies,
    hubspot_settings,
    ledger_rows,
    write_scores,
)

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import sys
from datetime import date
from acct_pipeline import warehouse
from acct_pipeline.sync import SyncSettings, run_sync
run_sync(lambda: warehouse.connect(sys.argv[1]), SyncSettings.from_env(),
         date.fromisoformat(sys.argv[2]), partition_passed_checks=True)
"""
N = 1000


def _wait(cond, proc: subprocess.Popen, timeout: float = 60.0, what: str = "") -> None:
    end = time.monotonic() + timeout
    while not cond():
        if proc.poll() is not None:
            raise AssertionError(f"the sync subprocess exited ({proc.returncode}) before {what}")
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.mark.slow
def test_kill_minus_9_mid_run_then_rerun_sends_nothing_twice(db: Path) -> None:
    ids = account_ids(N)
    write_scores(db, DAY, ids)
    with FakeHubSpot(rate_limit=None, daily_limit=None) as hs:
        add_companies(hs, ids)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "ACCT_SYNC_TARGET": "hubspot",
            "HUBSPOT_BASE_URL": hs.url,
            "HUBSPOT_ACCESS_TOKEN": TOKEN,
            "ACCT_SYNC_CREATE_FIELDS": "true",
            "ACCT_SYNC_RATE_LIMIT": "5/1",  # slow enough to kill it mid-run
            "ACCT_SYNC_CONCURRENCY": "2",
        }
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(db), DAY.isoformat()], env=env, cwd=ROOT
        )
        try:
            _wait(lambda: len(hs.writes_to("companies")) >= 300, proc, what="three batches written")
            # Hold the next write in the CRM: it is applied *after* the client is gone, so the
            # ledger says in_flight while HubSpot has the values — the hardest case.
            fault = hs.inject("slow", 1, delay=1.5, path="batch/update")
            _wait(lambda: fault.count == 0, proc, what="a held write")
            time.sleep(0.1)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == -signal.SIGKILL
        time.sleep(1.8)  # the held write completes on the fake's side

        rows = ledger_rows(db, "hubspot")
        in_flight = [r for r, row in rows.items() if row["status"] == "in_flight"]
        assert in_flight, "the kill should leave a batch in flight"
        applied = {w.record_id for w in hs.writes_to("companies")}
        assert set(in_flight) & applied, "the held batch reached the CRM after the kill"
        assert len(applied) < N

        settings = hubspot_settings(hs, rate_limit=None)
        target = HubSpotTarget(settings, FieldMapping())
        try:
            report = run_sync(
                lambda: warehouse.connect(db),
                settings,
                DAY,
                partition_passed_checks=True,
                target=target,
            )
        finally:
            target.close()
        assert report.recovered_in_flight == len(in_flight)
        assert report.confirmed_by_read_back >= len(set(in_flight) & applied)
        assert report.pending == 0 and report.complete
        per_record = Counter(w.record_id for w in hs.writes_to("companies"))
        assert per_record == Counter({i: 1 for i in ids}), "a record was lost or written twice"
        assert {r["status"] for r in ledger_rows(db, "hubspot").values()} == {"accepted"}
