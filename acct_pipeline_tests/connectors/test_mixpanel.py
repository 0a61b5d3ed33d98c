"""Mixpanel connector against the fake project: same events as files, de-duplication, limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from acct_pipeline.connectors.http import AuthFailed, RateLimited
from acct_pipeline.connectors.mixpanel import MixpanelSource
from acct_pipeline.warehouse import PRODUCT_EVENTS, PRODUCT_GROUPS
from acct_pipeline_tests.connectors.conftest import assert_same_table, load, sample_days, table
from acct_pipeline_tests.fakes.base import FakeClock
from acct_pipeline_tests.fakes.mixpanel import PROJECT_ID, SECRET, USERNAME, FakeMixpanel


def source(
    fake: FakeMixpanel, clock: FakeClock, secret: str = SECRET, **env: str
) -> MixpanelSource:
    return MixpanelSource.from_env(
        {
            "MIXPANEL_PROJECT_ID": PROJECT_ID,
            "MIXPANEL_SERVICE_ACCOUNT_USERNAME": USERNAME,
            "MIXPANEL_SERVICE_ACCOUNT_SECRET": secret,
            "MIXPANEL_EXPORT_URL": fake.url,
            **env,
        },
        sleep=clock.sleep,
        clock=clock,
    )


def test_same_events_as_files_with_duplicates_removed(
    sample: Path, files_warehouse: Path, tmp_path: Path
) -> None:
    clock = FakeClock()
    days = sample_days(sample)[-6:]
    with FakeMixpanel(clock=clock, duplicate_every=20, engage_page_size=40).load_landing(
        sample
    ) as mp:
        src = source(mp, clock)
        results = load(tmp_path / "api.duckdb", src, (PRODUCT_GROUPS, PRODUCT_EVENTS), days)
        assert mp.duplicates_sent > 50
        engage_pages = len(mp.calls_to("/engage"))
    assert engage_pages >= 3
    events = assert_same_table(files_warehouse, tmp_path / "api.duckdb", PRODUCT_EVENTS, days=days)
    assert_same_table(files_warehouse, tmp_path / "api.duckdb", PRODUCT_GROUPS)
    # every re-sent event and every exact duplicate row of the export was dropped before the load
    assert src.stats.duplicates >= mp.duplicates_sent
    assert "duplicate_key:event_id" not in results[PRODUCT_EVENTS.name].rules
    assert events["event_id"].is_unique
    assert len(events) == src.stats.events - results[PRODUCT_EVENTS.name].rows_quarantined


def test_hourly_and_per_second_limits_are_paced(sample: Path, tmp_path: Path) -> None:
    clock = FakeClock()
    days = sample_days(sample)[:8]
    with FakeMixpanel(clock=clock, hourly_limit=5, per_second=3).load_landing(sample) as mp:
        src = source(mp, clock, MIXPANEL_RATE_LIMIT="3/1,5/3600")
        load(tmp_path / "api.duckdb", src, (PRODUCT_EVENTS,), days)
        assert {c.status for c in mp.calls} == {200}
    assert clock.slept >= 3600  # the 6th query waited for the hour window
    assert src.client.stats.throttle_waits >= 1


def test_broken_stream_429_and_5xx_recovered_without_duplicates(
    sample: Path, files_warehouse: Path, tmp_path: Path
) -> None:
    clock = FakeClock()
    days = sample_days(sample)[:4]
    with FakeMixpanel(clock=clock).load_landing(sample) as mp:
        mp.inject("truncate", 2, path="/export")
        mp.inject("status", 2, status=429)
        mp.inject("status", 1, status=502)
        load(tmp_path / "api.duckdb", source(mp, clock), (PRODUCT_EVENTS,), days)
        assert sum(1 for c in mp.calls if c.fault) == 5
    got = table(tmp_path / "api.duckdb", PRODUCT_EVENTS)
    want = table(files_warehouse, PRODUCT_EVENTS)
    want = want[want["event_date"].isin(got["event_date"].unique())].reset_index(drop=True)
    assert len(got) == len(want) and got["event_id"].is_unique
    assert list(got["event_id"]) == list(want["event_id"])


def test_bad_secret_fails_fast_naming_the_variables(sample: Path, tmp_path: Path) -> None:
    wrong = "mpsa-Wrong-Secret-9999999999999999"
    clock = FakeClock()
    with FakeMixpanel(clock=clock).load_landing(sample) as mp:
        with pytest.raises(AuthFailed) as err:
            load(
                tmp_path / "api.duckdb",
                source(mp, clock, secret=wrong),
                (PRODUCT_EVENTS,),
                sample_days(sample)[:1],
            )
        assert len(mp.calls) == 1
    assert "MIXPANEL_SERVICE_ACCOUNT_SECRET" in str(err.value)
    assert wrong not in f"{err.value} {err.value.body} {err.value.url}"


def test_a_day_that_cannot_be_read_leaves_earlier_partitions_intact(
    sample: Path, tmp_path: Path
) -> None:
    clock = FakeClock()
    days = sample_days(sample)[:3]
    db = tmp_path / "api.duckdb"
    with FakeMixpanel(clock=clock).load_landing(sample) as mp:
        src = source(mp, clock)
        load(db, src, (PRODUCT_EVENTS,), days[:2])
        before = table(db, PRODUCT_EVENTS)
        mp.inject("status", 100, status=429)  # the project's query budget is gone
        with pytest.raises(RateLimited, match="429"):
            load(db, src, (PRODUCT_EVENTS,), days[2:])
    after = table(db, PRODUCT_EVENTS)
    assert len(before) > 0 and after.equals(before)
