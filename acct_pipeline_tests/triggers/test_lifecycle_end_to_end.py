"""Issue #21, event triggers end to end: a payment failure planted on a scored warehouse reaches
the lifecycle-event sensor through the read copy, its run request runs `lifecycle_trigger_job`
through Dagster, the account is rescored (its failed-payments signal counts the invoice) and its
owner alerted once, with the account id, the reasons and a link to the CRM record; the next tick
launches nothing."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import datetime, time, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from acct_pipeline import read_copy
from acct_pipeline.alerts.config import model_path
from acct_pipeline.alerts.events import PAYMENT_FAILED, PLAYBOOKS
from acct_pipeline.alerts.experiment import TREATED, arm_for
from acct_pipeline.definitions import defs
from acct_pipeline.defs.keys import (
    LIFECYCLE_ALERTS_KEY,
    READ_COPY_KEY,
    SCORES_KEY,
    TRIGGER_ACCOUNTS_TAG,
    TRIGGER_EVENTS_TAG,
    TRIGGER_TAG,
)
from acct_pipeline.defs.triggers import TRIGGER_JOB_NAME, lifecycle_event_sensor
from acct_pipeline.scoring.actions import load_actions
from acct_pipeline.warehouse import (
    ACCOUNT_SCORES,
    ACCOUNT_SIGNALS,
    ACCOUNTS,
    ALERT_DELIVERIES,
    BILLING_INVOICES,
    IDENTITY_MAP,
)

PORTAL = "4242"
INVOICE = "in_9999999"


def _published(instance: dg.DagsterInstance) -> None:
    """Publish the read copy and record it, as the daily run's last asset does."""
    read_copy.publish_warehouse()

    @dg.asset(key=READ_COPY_KEY)
    def read_copy_published() -> None:
        return None

    assert dg.materialize([read_copy_published], instance=instance).success


def _tick(instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    return lifecycle_event_sensor(dg.build_sensor_context(instance=instance, cursor=cursor))


def _account(con: duckdb.DuckDBPyConnection) -> tuple[str, str, str, object]:
    """A live account with an owner and a billing customer that the control group leaves alone."""
    experiment = load_actions(model_path()).experiment
    rows = con.execute(
        f"""SELECT s.account_id, a.owner_email, m.source_id, s.as_of_date
            FROM {ACCOUNT_SCORES} s JOIN {ACCOUNTS} a USING (account_id)
            JOIN {IDENTITY_MAP} m ON m.account_id = s.account_id AND m.source_system = 'billing'
            WHERE s.as_of_date = (SELECT max(as_of_date) FROM {ACCOUNT_SCORES})
              AND s.tier IS NOT NULL AND a.owner_email LIKE '%@%'
            ORDER BY s.account_id"""
    ).fetchall()
    return next(r for r in rows if arm_for(r[0], experiment) == TREATED)


def _failed_payments(con: duckdb.DuckDBPyConnection, account: str, day: object) -> float:
    return con.execute(
        f"SELECT failed_payments_30d FROM {ACCOUNT_SIGNALS} WHERE account_id = ? "
        "AND as_of_date = ?",
        [account, day],
    ).fetchone()[0]


@pytest.mark.slow
def test_a_payment_failure_rescores_and_alerts_the_owner_once(
    scored_warehouse_copy: Path,
    small_sample: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(small_sample, landing)
    alert_log = tmp_path / "alerts.jsonl"
    for name, value in {
        "ACCT_LANDING_DIR": str(landing),
        "ACCT_WAREHOUSE": str(scored_warehouse_copy),
        "ACCT_READ_COPY": str(tmp_path / "read.duckdb"),
        "ACCT_ALERT_LOG": str(alert_log),
        "ACCT_ALERT_CHANNELS": "log",
        "ACCT_ALERT_CRM_TASKS": "hubspot",  # the account ids are HubSpot company ids
        "HUBSPOT_PORTAL_ID": PORTAL,
    }.items():
        monkeypatch.setenv(name, value)
    with duckdb.connect(str(scored_warehouse_copy), read_only=True) as con:
        account, owner, customer, day = _account(con)
        before = _failed_payments(con, account, day)

    with dg.instance_for_test() as instance:
        _published(instance)
        baseline = _tick(instance, None)  # what the history already holds is marked seen

        # A billing refresh brings an uncollectible invoice due on the newest day: in the
        # landing files (the trigger run reloads them) and in the warehouse (the read copy).
        due = datetime.combine(day, time(6, 0))
        invoice = {
            "invoice_id": INVOICE,
            "customer_id": customer,
            "created_at": (due - timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "due_date": due.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "amount_due": "1200.00",
            "amount_paid": "0.00",
            "status": "uncollectible",
            "attempt_count": "4",
        }
        path = landing / "billing" / "invoices.csv"
        with path.open(newline="") as fh:
            header = next(csv.reader(fh))
        with path.open("a", newline="") as fh:
            csv.DictWriter(fh, header).writerow({k: invoice.get(k, "") for k in header})
        with duckdb.connect(str(scored_warehouse_copy)) as con:
            con.execute(
                f"INSERT INTO {BILLING_INVOICES.qualified} (invoice_id, customer_id, created_at, "
                "due_date, amount_due, status, attempt_count, _source, _loaded_at) "
                "VALUES (?, ?, ?, ?, 1200, 'uncollectible', 4, 'files', now())",
                [INVOICE, customer, due - timedelta(days=20), due],
            )
        _published(instance)
        ticked = _tick(instance, baseline.cursor)
        (request,) = ticked.run_requests
        key = f"{PAYMENT_FAILED}:{INVOICE}"
        assert request.job_name == TRIGGER_JOB_NAME and request.partition_key == day.isoformat()
        assert request.tags[TRIGGER_ACCOUNTS_TAG] == account
        assert request.tags[TRIGGER_EVENTS_TAG] == key
        assert request.tags[TRIGGER_TAG] == PAYMENT_FAILED

        job = defs().resolve_job_def(TRIGGER_JOB_NAME)
        result = job.execute_in_process(
            instance=instance,
            partition_key=request.partition_key,
            tags=request.tags,
            raise_on_error=False,
        )
        assert result.success
        for asset in (SCORES_KEY, LIFECYCLE_ALERTS_KEY, READ_COPY_KEY):
            (event,) = [
                e for e in result.get_asset_materialization_events() if e.asset_key == asset
            ]
            assert event.partition in (day.isoformat(), None), asset

        with duckdb.connect(str(scored_warehouse_copy), read_only=True) as con:
            # rescored: the day's signals and score now count the failed invoice
            assert _failed_payments(con, account, day) == before + 1
            assert con.execute(
                f"SELECT count(*) FROM {ACCOUNT_SCORES} WHERE account_id = ? AND as_of_date = ?",
                [account, day],
            ).fetchone() == (1,)
            deliveries = con.execute(
                f"SELECT event_key, account_id, channel, status FROM {ALERT_DELIVERIES}"
            ).fetchall()
        assert deliveries == [(f"lifecycle:{key}", account, "log", "delivered")]
        (line,) = alert_log.read_text().splitlines()
        alert = json.loads(line)
        assert alert["account_id"] == account and alert["owner_email"] == owner
        assert alert["reason_codes"] == [PAYMENT_FAILED]
        assert alert["recommended_playbook"] == PLAYBOOKS[PAYMENT_FAILED]
        assert "payment failed" in alert["headline"] and INVOICE in alert["headline"]
        assert alert["link"] == f"https://app.hubspot.com/contacts/{PORTAL}/company/{account}"

        # the trigger run published a new read copy: the next tick knows the event already
        again = _tick(instance, ticked.cursor)
        assert again.run_requests == []
        assert again.skip_reason is not None
        assert again.skip_reason.skip_message == "no new lifecycle events"
        assert len(alert_log.read_text().splitlines()) == 1
