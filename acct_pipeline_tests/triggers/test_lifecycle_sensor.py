"""Lifecycle-event triggers: a new failed invoice launches one rescore run for its day, once."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from acct_pipeline.alerts.events import PAYMENT_FAILED, detect_events, event_alerts
from acct_pipeline.defs.keys import READ_COPY_KEY, TRIGGER_ACCOUNTS_TAG, TRIGGER_TAG
from acct_pipeline.defs.triggers import TRIGGER_JOB_NAME, lifecycle_event_sensor
from acct_pipeline.run import HISTORY_TAG
from acct_pipeline.warehouse import BILLING_INVOICES, raw_table_ddl

DAY = date(2026, 6, 10)


def _copy(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        for schema in ("ingest", "staging", "features"):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.execute(raw_table_ddl(BILLING_INVOICES))
        con.execute(
            "CREATE TABLE staging.identity_map AS SELECT 'billing' AS source_system, "
            "'cus_1' AS source_id, 'acc_1' AS account_id, 'explicit' AS match_method, "
            "NULL AS domain"
        )
        con.execute(
            "CREATE TABLE staging.accounts AS SELECT 'acc_1' AS account_id, 'Acme' AS name, "
            "'o1' AS owner_id, 'owner@example.com' AS owner_email"
        )
        con.execute(
            "CREATE TABLE features.account_signals AS SELECT 'acc_1' AS account_id, "
            "DATE '2026-06-10' AS as_of_date, 10.0 AS active_users_7d"
        )
        _invoice(con, "in_paid", "paid", 1)


def _invoice(con: duckdb.DuckDBPyConnection, invoice_id: str, status: str, attempts: int) -> None:
    con.execute(
        f"INSERT INTO {BILLING_INVOICES.qualified} (invoice_id, customer_id, created_at, "
        "due_date, amount_due, status, attempt_count, _source, _loaded_at) "
        "VALUES (?, 'cus_1', ?, ?, 100, ?, ?, 'test', now())",
        [invoice_id, datetime(2026, 6, 1), datetime(2026, 6, 10), status, attempts],
    )


def _published(instance: dg.DagsterInstance, history: bool = False) -> None:
    @dg.asset(key=READ_COPY_KEY)
    def read_copy() -> None:
        return None

    tags = {HISTORY_TAG: "true"} if history else {}
    assert dg.materialize([read_copy], instance=instance, tags=tags).success


@pytest.fixture
def copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "warehouse.read.duckdb"
    _copy(path)
    monkeypatch.setenv("ACCT_READ_COPY", str(path))
    return path


def _tick(instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    return lifecycle_event_sensor(dg.build_sensor_context(instance=instance, cursor=cursor))


def test_failed_invoice_triggers_once(copy: Path) -> None:
    with dg.instance_for_test() as instance:
        _published(instance)
        first = _tick(instance, None)
        assert first.run_requests == []  # a paid invoice is no event
        with duckdb.connect(str(copy)) as con:
            _invoice(con, "in_failed", "open", 3)
        _published(instance)
        result = _tick(instance, first.cursor)
        assert len(result.run_requests) == 1
        req = result.run_requests[0]
        assert req.partition_key == DAY.isoformat()
        assert req.job_name == TRIGGER_JOB_NAME
        assert req.tags[TRIGGER_ACCOUNTS_TAG] == "acc_1"
        assert req.tags[TRIGGER_TAG] == PAYMENT_FAILED
        assert f"{PAYMENT_FAILED}:in_failed" in json.loads(result.cursor)["seen"]
        # evaluated again (even after a newer read copy): the event is not new any more
        assert _tick(instance, result.cursor).run_requests == []
        _published(instance)
        again = _tick(instance, result.cursor)
        assert again.run_requests == []
        # nothing new published: not even a read of the copy
        idle = _tick(instance, again.cursor).skip_reason
        assert idle is not None and idle.skip_message == "no new read copy since the last tick"


def test_history_load_never_triggers(copy: Path) -> None:
    with duckdb.connect(str(copy)) as con:
        _invoice(con, "in_failed", "uncollectible", 4)
    with dg.instance_for_test() as instance:
        _published(instance, history=True)
        result = _tick(instance, None)
        assert result.run_requests == []
        assert result.skip_reason is not None
        assert "history" in (result.skip_reason.skip_message or "")
        _published(instance)  # the next ordinary run: the event was already seen
        assert _tick(instance, result.cursor).run_requests == []


def test_events_and_alerts(copy: Path) -> None:
    with duckdb.connect(str(copy)) as con:
        _invoice(con, "in_failed", "uncollectible", 1)
        events = detect_events(con, lookback_days=7)
        alerts = event_alerts(con, events, DAY)
    assert [(e.kind, e.account_id, e.day) for e in events] == [(PAYMENT_FAILED, "acc_1", DAY)]
    assert alerts[0].event_key == f"lifecycle:{PAYMENT_FAILED}:in_failed"
    assert alerts[0].owner_email == "owner@example.com"
    assert "payment failed" in alerts[0].headline
    with duckdb.connect(str(copy)) as con:  # older than the look-back: never an event
        assert detect_events(con, lookback_days=7, reference=date(2026, 7, 30)) == []
