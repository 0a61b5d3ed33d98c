"""The dead-signal check: measures that score on nothing, key features and activity types that
never occur. Hand-made signals (every model signal varying) and the tiny warehouse."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from acct_pipeline.defs.quality.checks import SIGNALS_KEY
from acct_pipeline.defs.quality.dead_signal_checks import dead_signals_check
from acct_pipeline.defs.resources import EngineResource, WarehouseResource
from acct_pipeline.quality.dead_signals import CHECK_DEAD_SIGNALS, DEAD_SHARE, find_dead_signals
from acct_pipeline.scoring.model import load_model
from acct_pipeline.scoring.signals import NUMERIC_SIGNALS, compute_signals
from acct_pipeline.warehouse import ACCOUNT_SIGNALS, ensure_core_tables
from acct_pipeline_tests.conftest import sample_period
from acct_pipeline_tests.scoring.tiny import AS_OF, build_tiny, insert, ts

MODEL = load_model()
ACCOUNTS = 40
RENAMED = ["Logged In", "Report Generated", "Dashboard Opened"]


def _signals(day: date, seed: int = 1, **columns: object) -> pd.DataFrame:
    """One day of signals where every numeric signal varies across the accounts."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"account_id": [f"A{i:03d}" for i in range(ACCOUNTS)]})
    df["as_of_date"] = pd.Timestamp(day).date()
    for name in NUMERIC_SIGNALS:
        df[name] = rng.integers(0, 4, ACCOUNTS).astype(float)
    for name, value in columns.items():
        df[name] = value
    return df


def _write_signals(con: duckdb.DuckDBPyConnection, *frames: pd.DataFrame) -> None:
    con.register("_frames", pd.concat(frames, ignore_index=True))
    con.execute(f"CREATE OR REPLACE TABLE {ACCOUNT_SIGNALS} AS SELECT * FROM _frames")
    con.unregister("_frames")


def _events(con: duckdb.DuckDBPyConnection, names: list[str], day: date = AS_OF) -> None:
    insert(
        con,
        "product_events",
        [
            {
                "event_id": f"ev{i}",
                "event_name": name,
                "occurred_at": ts(str(day - timedelta(days=i % 20))),
                "user_id": f"u{i}",
                "group_id": "g",
            }
            # the first name is the most frequent, the last the least
            for i, name in enumerate(n for k, n in enumerate(names) for _ in range(len(names) - k))
        ],
    )


def _activities(con: duckdb.DuckDBPyConnection, types: list[str], day: date = AS_OF) -> None:
    insert(
        con,
        "crm_activities",
        [
            {
                "activity_id": f"a{i}",
                "company_id": "A000",
                "activity_type": t,
                "occurred_at": ts(str(day - timedelta(days=i))),
            }
            for i, t in enumerate(types)
        ],
    )


CONFIGURED_TYPES = list(
    dict.fromkeys([*MODEL.signals.activity_weights, *MODEL.signals.touch_types])
)


@pytest.fixture
def healthy(tmp_path: Path) -> Path:
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        ensure_core_tables(con)
        con.execute("CREATE SCHEMA IF NOT EXISTS features")
        _write_signals(con, _signals(AS_OF))
        _events(con, [*MODEL.signals.key_features, "page_view"])
        _activities(con, CONFIGURED_TYPES)
    return db


def test_healthy_data_passes(healthy: Path) -> None:
    with duckdb.connect(str(healthy)) as con:
        report = find_dead_signals(con, MODEL, AS_OF)
    assert report.accounts == ACCOUNTS
    assert report.passed, report.problems
    assert report.dead == []
    assert report.key_features is not None and report.key_features.missing == ()
    assert report.activity_types is not None and report.activity_types.missing == ()
    assert "page_view" in report.key_features.top


def test_nps_absent_everywhere_names_nps_latest(healthy: Path) -> None:
    with duckdb.connect(str(healthy)) as con:
        _write_signals(con, _signals(AS_OF, nps_latest=None))
        report = find_dead_signals(con, MODEL, AS_OF)
    assert not report.passed
    dead = {s.signal: s for s in report.dead}
    assert list(dead) == ["nps_latest"]
    assert dead["nps_latest"].null_share == 1.0
    assert set(dead["nps_latest"].used_by) == {"health.engagement"}
    assert "nps_latest: NULL for 100% of 40 accounts" in report.summary()


def test_a_measure_constant_for_95_percent_is_dead_and_below_is_not(healthy: Path) -> None:
    almost = np.zeros(ACCOUNTS)
    almost[:1] = 3.0  # 39 of 40 accounts (97.5 %) at 0 key features
    with duckdb.connect(str(healthy)) as con:
        _write_signals(con, _signals(AS_OF, key_features_used_30d=almost))
        dead = {s.signal: s for s in find_dead_signals(con, MODEL, AS_OF).dead}
        almost[:3] = 3.0  # 37 of 40 (92.5 %): below DEAD_SHARE
        _write_signals(con, _signals(AS_OF, key_features_used_30d=almost))
        alive = find_dead_signals(con, MODEL, AS_OF)
    assert dead["key_features_used_30d"].constant_value == 0.0
    assert dead["key_features_used_30d"].constant_share == pytest.approx(39 / 40)
    assert DEAD_SHARE == 0.95
    assert alive.passed, alive.problems


def test_constant_plus_null_counts_together(healthy: Path) -> None:
    # untracked accounts NULL, tracked ones all at 0: nothing varies
    values = np.where(np.arange(ACCOUNTS) < 8, np.nan, 0.0)
    with duckdb.connect(str(healthy)) as con:
        _write_signals(con, _signals(AS_OF, key_features_used_30d=values))
        report = find_dead_signals(con, MODEL, AS_OF)
    (dead,) = report.dead
    assert (dead.signal, dead.null_share, dead.constant_share) == (
        "key_features_used_30d",
        0.2,
        0.8,
    )
    assert "0 for 80% and NULL for 20%" in report.summary()


def test_rare_events_at_their_all_clear_value_are_quiet_unless_they_never_vary(
    healthy: Path,
) -> None:
    one_notice = np.zeros(ACCOUNTS)
    one_notice[5] = 1.0
    with duckdb.connect(str(healthy)) as con:
        _write_signals(
            con, _signals(AS_OF, cancellation_notice=one_notice, failed_payments_30d=0.0)
        )
        report = find_dead_signals(con, MODEL, AS_OF)
        quiet = {s.signal for s in report.quiet}
        dead = {s.signal for s in report.dead}
        # an earlier day with one failed payment: the signal is recorded, just rare today
        earlier = _signals(AS_OF - timedelta(days=10), failed_payments_30d=0.0)
        earlier.loc[3, "failed_payments_30d"] = 1.0
        _write_signals(con, earlier, _signals(AS_OF, failed_payments_30d=0.0))
        later = find_dead_signals(con, MODEL, AS_OF)
    assert "cancellation_notice" in quiet  # 39 of 40 without notice, and one with
    assert "failed_payments_30d" in dead  # nobody, ever: is the attempt count recorded?
    assert "failed_payments_30d" in {s.signal for s in later.quiet}
    assert later.passed, later.problems


def test_renamed_events_in_the_real_signals_fire_and_list_the_names_that_occur(
    tmp_path: Path,
) -> None:
    with duckdb.connect(str(tmp_path / "tiny.duckdb")) as con:
        build_tiny(con)
        names = [RENAMED[i % 3] for i in range(6)]
        con.execute(
            "UPDATE ingest.product_events SET event_name = "
            "list_extract(?, CAST(regexp_extract(event_id, '[0-9]+') AS INTEGER) + 1)",
            [names],
        )
        compute_signals(con, AS_OF, MODEL)
        report = find_dead_signals(con, MODEL, AS_OF)
    assert not report.passed
    assert "key_features_used_30d" in {s.signal for s in report.dead}
    assert report.key_features is not None
    assert report.key_features.missing == tuple(MODEL.signals.key_features)
    assert set(report.key_features.top) == set(RENAMED)
    text = report.summary()
    assert "never occur in ingest.product_events" in text
    assert "Logged In" in text and "Report Generated" in text
    assert report.metadata()["missing_key_features"] == list(MODEL.signals.key_features)


def test_an_activity_type_that_never_occurs_is_named_with_the_types_that_do(
    healthy: Path,
) -> None:
    with duckdb.connect(str(healthy)) as con:
        con.execute("DELETE FROM ingest.crm_activities WHERE activity_type = 'call'")
        _activities(con, ["Phone Call", "Phone Call"], day=AS_OF - timedelta(days=40))
        report = find_dead_signals(con, MODEL, AS_OF)
    assert report.activity_types is not None
    assert report.activity_types.missing == ("call",)
    assert not report.passed
    assert report.activity_types.top["Phone Call"] == 2
    assert report.metadata()["missing_activity_types"] == ["call"]
    assert "call" in report.summary() and "Phone Call (2)" in report.summary()


def test_a_look_alike_name_is_suggested(healthy: Path) -> None:
    with duckdb.connect(str(healthy)) as con:
        con.execute(
            "UPDATE ingest.product_events SET event_name = 'Report Created' "
            "WHERE event_name = 'report_created'"
        )
        report = find_dead_signals(con, MODEL, AS_OF)
    assert report.key_features is not None
    assert report.key_features.missing == ("report_created",)
    assert report.metadata()["key_features_look_alikes"] == {"report_created": ["Report Created"]}


def test_missing_or_empty_inputs_are_findings_not_crashes(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "bare.duckdb")) as con:
        report = find_dead_signals(con, MODEL, AS_OF)
        assert not report.passed
        assert report.accounts == 0
        text = report.summary()
        assert "no product events loaded" in text
        assert "no CRM activities loaded" in text
        assert f"no signals for {AS_OF}" in text
        ensure_core_tables(con)  # tables exist, but are empty
        con.execute("CREATE SCHEMA IF NOT EXISTS features")
        _write_signals(con, _signals(AS_OF))
        empty = find_dead_signals(con, MODEL, AS_OF)
        _events(con, ["report_created"], day=AS_OF - timedelta(days=100))
        old_only = find_dead_signals(con, MODEL, AS_OF)
    assert "no product events loaded" in empty.summary()
    assert "no CRM activities loaded" in empty.summary()
    assert empty.metadata()["missing_key_features"] == []  # not judged without events
    assert "no product events in ingest.product_events" in old_only.summary()


def _materialize(db: Path, day: date) -> dg.ExecuteInProcessResult:
    @dg.asset(key=SIGNALS_KEY, partitions_def=dead_signals_check.partitions_def)
    def account_signals_standin() -> None:
        return None

    return dg.materialize(
        [account_signals_standin, dead_signals_check],
        partition_key=day.isoformat(),
        resources={"warehouse": WarehouseResource(path=str(db)), "engine": EngineResource()},
        instance=dg.DagsterInstance.ephemeral(),
    )


def test_the_dagster_check_warns_with_the_findings_in_metadata(healthy: Path) -> None:
    with duckdb.connect(str(healthy)) as con:
        _write_signals(con, _signals(AS_OF, nps_latest=None))
    result = _materialize(healthy, AS_OF)
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == CHECK_DEAD_SIGNALS
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert "nps_latest" in (evaluation.description or "")
    dead = evaluation.metadata["dead_measures"].value
    assert [d["signal"] for d in dead] == ["nps_latest"]
    assert evaluation.metadata["top_event_names"].value["page_view"] == 1


def test_the_dagster_check_passes_on_healthy_data(healthy: Path) -> None:
    (evaluation,) = _materialize(healthy, AS_OF).get_asset_check_evaluations()
    assert evaluation.passed
    assert evaluation.metadata["dead_measures"].value == []


@pytest.mark.slow
def test_the_sample_company_has_no_dead_signals(scored_warehouse: Path, small_sample: Path) -> None:
    _, end = sample_period(small_sample)
    with duckdb.connect(str(scored_warehouse), read_only=True) as con:
        report = find_dead_signals(con, MODEL, end)
    assert report.accounts > 100
    assert report.passed, report.problems
    # rare events (no open ticket, no notice) are quiet, not dead
    assert {s.signal for s in report.quiet} <= {
        "cancellation_notice",
        "champion_left_90d",
        "open_tickets",
        "open_high_severity_tickets",
        "has_active_subscription",
        "failed_payments_30d",
        "escalations_90d",
        "overdue_invoices",
        "max_days_overdue",
    }


@pytest.mark.slow
def test_the_renewal_scenario_with_its_own_event_names_and_no_nps_fires(tmp_path: Path) -> None:
    from acct_pipeline import warehouse
    from acct_pipeline.sample import generate_sample
    from acct_pipeline.sample.renewal import EVENT_NAMES
    from acct_pipeline_tests.scoring.build import load_landing

    landing = tmp_path / "renewal"
    generate_sample(landing, scenario="renewal", accounts=80, days=40, seed=5)
    db = tmp_path / "warehouse.duckdb"
    _, end = load_landing(landing, db)
    with warehouse.connect(db) as con:
        compute_signals(con, end, MODEL)
        report = find_dead_signals(con, MODEL, end)
    assert not report.passed
    dead = {s.signal for s in report.dead}
    assert {"key_features_used_30d", "nps_latest"} <= dead, report.problems
    assert report.key_features is not None
    assert report.key_features.missing == tuple(MODEL.signals.key_features)
    assert set(report.key_features.top) <= set(EVENT_NAMES)
    assert "Logged In" in report.key_features.top
    assert "nps_response" in report.activity_types.missing
