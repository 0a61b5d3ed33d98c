"""The score-drop sensor against runs in progress and partitions landing mid-tick (issue #27).

The sensor decides only from finished runs and reads the newest day after the records, so what it
launches does not depend on when a tick happens to fall.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import dagster as dg
import pytest

from acct_pipeline.definitions import defs
from acct_pipeline.defs.alerts.keys import DROPPED_ACCOUNTS, SCORES_KEY
from acct_pipeline.defs.sensors import score_drop_sensor

NEWEST = date(2026, 10, 26)
WAIT = 60.0  # seconds a test waits for its background run; a bound, not a timing assertion


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    return defs()


@pytest.fixture
def instance(monkeypatch: pytest.MonkeyPatch) -> Iterator[dg.DagsterInstance]:
    monkeypatch.delenv("ACCT_ALERT_WINDOW_DAYS", raising=False)  # the default: 3 days
    with dg.instance_for_test() as inst:  # sqlite on disk: a run may write from another thread
        yield inst


Tick = Callable[[str | None], tuple[list[str], str | None]]


@pytest.fixture
def tick(instance: dg.DagsterInstance, definitions: dg.Definitions) -> Tick:
    """One sensor evaluation from ``cursor``: (partition keys it launches, new cursor)."""

    def _tick(cursor: str | None) -> tuple[list[str], str | None]:
        context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=definitions)
        result = score_drop_sensor(context)
        assert isinstance(result, dg.SensorResult)
        return [r.partition_key or "" for r in result.run_requests or []], result.cursor

    return _tick


def scored(instance: dg.DagsterInstance, day: date) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            SCORES_KEY, partition=day.isoformat(), metadata={DROPPED_ACCOUNTS: 2}
        )
    )


def backfill_job(days: list[date], pause_after: int, gate: threading.Event) -> dg.JobDefinition:
    """A run that records the scores of ``days`` one by one, as a single-run backfill does, and
    stops after ``pause_after`` of them until ``gate`` opens."""

    @dg.op
    def score_range() -> Iterator[Any]:
        for i, day in enumerate(days):
            if i == pause_after and not gate.wait(WAIT):
                raise TimeoutError("the test never released the run")
            yield dg.AssetMaterialization(
                SCORES_KEY, partition=day.isoformat(), metadata={DROPPED_ACCOUNTS: 2}
            )
        yield dg.Output(None)

    @dg.job(name="backfill_in_progress")
    def _job() -> None:
        score_range()

    return _job


def test_a_tick_during_a_multi_day_run_launches_nothing_for_it(
    instance: dg.DagsterInstance, tick: Tick
) -> None:
    days = [NEWEST - timedelta(days=i) for i in range(9, -1, -1)]  # 10 days, oldest first
    gate = threading.Event()
    job = backfill_job(days, pause_after=4, gate=gate)
    outcome: dict[str, dg.ExecuteInProcessResult] = {}
    worker = threading.Thread(
        target=lambda: outcome.setdefault("run", job.execute_in_process(instance=instance))
    )
    worker.start()
    try:
        # Poll until the run has recorded its first 4 days and waits for the gate.
        def recorded() -> int:
            return len(instance.get_materialized_partitions(SCORES_KEY))

        for _ in range(int(WAIT * 10)):
            if recorded() >= 4:
                break
            time.sleep(0.1)
        assert recorded() == 4
        [run] = instance.get_runs(dg.RunsFilter(job_name="backfill_in_progress"))
        assert not run.is_finished

        # Mid-run: day 4 looks like the newest day, but the run is not done. Nothing launches and
        # the cursor stays before the run's first materialization.
        during, cursor = tick(None)
        assert during == []
        assert cursor is None
    finally:
        gate.set()
        worker.join(WAIT)
    assert outcome["run"].success

    # Once the run has finished its days are judged together: only its 3 newest alert.
    after, cursor = tick(cursor)
    assert after == [d.isoformat() for d in days[-3:]]
    assert tick(cursor)[0] == []


@pytest.mark.parametrize("arrives_after_read", [1, 2])
def test_a_day_landing_between_two_reads_is_alerted_once(
    instance: dg.DagsterInstance,
    tick: Tick,
    monkeypatch: pytest.MonkeyPatch,
    arrives_after_read: int,
) -> None:
    for i in (3, 2, 1):
        scored(instance, NEWEST - timedelta(days=i))
    first, cursor = tick(None)
    assert first == [(NEWEST - timedelta(days=i)).isoformat() for i in (3, 2, 1)]

    # The schedule's day (NEWEST) lands while the next tick is between two of its reads of the
    # instance (whichever they are: the newest day, a page of records).
    reads = {"n": 0}

    def landing_after_read(method: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            reads["n"] += 1
            if reads["n"] == arrives_after_read:
                scored(instance, NEWEST)
            return result

        return wrapped

    for name in ("fetch_materializations", "get_materialized_partitions"):
        monkeypatch.setattr(instance, name, landing_after_read(getattr(instance, name)))
    second, cursor = tick(cursor)
    monkeypatch.undo()
    third, cursor = tick(cursor)
    assert reads["n"] >= arrives_after_read, "the day never landed: the test proves nothing"
    assert second + third == [NEWEST.isoformat()]
    assert tick(cursor)[0] == []


def test_days_of_a_failed_run_do_not_alert_until_rerun(
    instance: dg.DagsterInstance, tick: Tick
) -> None:
    @dg.op
    def score_then_fail() -> Iterator[Any]:
        yield dg.AssetMaterialization(
            SCORES_KEY, partition=NEWEST.isoformat(), metadata={DROPPED_ACCOUNTS: 2}
        )
        raise RuntimeError("a later step of the daily run failed")

    @dg.job(name="failing_daily_run")
    def failing() -> None:
        score_then_fail()

    assert not failing.execute_in_process(instance=instance, raise_on_error=False).success
    launched, cursor = tick(None)
    assert launched == [] and cursor is not None  # decided (not waiting): the run is over
    scored(instance, NEWEST)  # the day rerun successfully
    assert tick(cursor)[0] == [NEWEST.isoformat()]
