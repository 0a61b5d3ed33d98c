"""The score-drop sensor: each scores partition examined once, only recent days alert."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta

import dagster as dg
import pytest

from acct_pipeline.definitions import defs
from acct_pipeline.defs.alerts.keys import DROPPED_ACCOUNTS, DROPPED_ACCOUNTS_BY_DAY, SCORES_KEY
from acct_pipeline.defs.sensors import score_drop_sensor

NEWEST = date(2026, 10, 31)


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    return defs()


@pytest.fixture
def instance(
    monkeypatch: pytest.MonkeyPatch, definitions: dg.Definitions
) -> Iterator[dg.DagsterInstance]:
    monkeypatch.delenv("ACCT_ALERT_WINDOW_DAYS", raising=False)
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst


Tick = Callable[[str | None], tuple[list[dg.RunRequest], str | None]]


@pytest.fixture
def tick(instance: dg.DagsterInstance, definitions: dg.Definitions) -> Tick:
    """Evaluate the sensor once from ``cursor``: (run requests, new cursor)."""

    def _tick(cursor: str | None) -> tuple[list[dg.RunRequest], str | None]:
        context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=definitions)
        result = score_drop_sensor(context)
        assert isinstance(result, dg.SensorResult)
        return list(result.run_requests or []), result.cursor

    return _tick


def materialize_scores(
    instance: dg.DagsterInstance, day: date, metadata: dict | None = None
) -> None:
    """What the scores asset leaves in the event log for one day (no warehouse needed)."""
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=SCORES_KEY, partition=day.isoformat(), metadata=metadata or {}
        )
    )


def test_three_partitions_between_ticks_launch_three_runs_then_none(
    instance: dg.DagsterInstance, tick: Tick
) -> None:
    days = [NEWEST - timedelta(days=i) for i in (2, 1, 0)]
    for d in days:
        materialize_scores(instance, d, {DROPPED_ACCOUNTS: 4})
    requests, cursor = tick(None)
    assert [r.partition_key for r in requests] == [d.isoformat() for d in days]
    assert all(r.job_name in (None, "score_drop_alerts_job") for r in requests)
    assert len({r.run_key for r in requests}) == 3
    again, cursor2 = tick(cursor)
    assert again == [] and cursor2 == cursor


def test_days_without_drops_launch_nothing(instance: dg.DagsterInstance, tick: Tick) -> None:
    materialize_scores(instance, NEWEST - timedelta(days=1), {DROPPED_ACCOUNTS: 0})
    materialize_scores(instance, NEWEST, {DROPPED_ACCOUNTS: 2})
    requests, _ = tick(None)
    assert [r.partition_key for r in requests] == [NEWEST.isoformat()]


def test_a_backfill_of_60_old_days_raises_no_alert(
    instance: dg.DagsterInstance, tick: Tick
) -> None:
    materialize_scores(instance, NEWEST, {DROPPED_ACCOUNTS: 1})
    first, cursor = tick(None)
    assert [r.partition_key for r in first] == [NEWEST.isoformat()]
    # Backfill two months of history that ends well before the window, every day with drops.
    for i in range(60):
        materialize_scores(instance, NEWEST - timedelta(days=70 - i), {DROPPED_ACCOUNTS: 5})
    backfill, cursor = tick(cursor)
    assert backfill == []
    # ... and those materializations were consumed: nothing left over for later ticks.
    assert tick(cursor)[0] == []


def test_a_rerun_of_a_recent_day_is_examined_again(
    instance: dg.DagsterInstance, tick: Tick
) -> None:
    materialize_scores(instance, NEWEST, {DROPPED_ACCOUNTS: 1})
    first, cursor = tick(None)
    materialize_scores(instance, NEWEST, {DROPPED_ACCOUNTS: 1})  # the day was rerun
    second, _ = tick(cursor)
    assert [r.partition_key for r in first + second] == [NEWEST.isoformat()] * 2
    assert first[0].run_key != second[0].run_key  # a new run; the delivery ledger stops duplicates


def test_the_window_is_configurable(
    instance: dg.DagsterInstance, tick: Tick, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCT_ALERT_WINDOW_DAYS", "1")
    for i in (2, 1, 0):
        materialize_scores(instance, NEWEST - timedelta(days=i), {DROPPED_ACCOUNTS: 3})
    requests, _ = tick(None)
    assert [r.partition_key for r in requests] == [NEWEST.isoformat()]


def test_multi_day_runs_are_judged_per_day(instance: dg.DagsterInstance, tick: Tick) -> None:
    by_day = {(NEWEST - timedelta(days=1)).isoformat(): 0, NEWEST.isoformat(): 2}
    for d in by_day:
        materialize_scores(
            instance, date.fromisoformat(d), {DROPPED_ACCOUNTS: 2, DROPPED_ACCOUNTS_BY_DAY: by_day}
        )
    requests, _ = tick(None)
    assert [r.partition_key for r in requests] == [NEWEST.isoformat()]


def test_without_drop_metadata_recent_days_are_checked_anyway(
    instance: dg.DagsterInstance, tick: Tick
) -> None:
    """A scores asset that does not report drops yet: the alert run decides (cheaply)."""
    materialize_scores(instance, NEWEST)
    requests, _ = tick(None)
    assert [r.partition_key for r in requests] == [NEWEST.isoformat()]
    assert requests[0].tags["acct/dropped_accounts"] == "unknown"


def test_paging_covers_more_than_one_page(
    instance: dg.DagsterInstance, tick: Tick, monkeypatch: pytest.MonkeyPatch
) -> None:
    import acct_pipeline.defs.sensors as sensors

    monkeypatch.setattr(sensors, "PAGE_SIZE", 2)
    for i in (4, 3, 2, 1, 0):
        materialize_scores(instance, NEWEST - timedelta(days=i), {DROPPED_ACCOUNTS: 1})
    requests, _ = tick(None)
    assert [r.partition_key for r in requests] == [
        (NEWEST - timedelta(days=i)).isoformat() for i in (2, 1, 0)
    ]
