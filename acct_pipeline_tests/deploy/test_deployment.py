"""The production deployment of README, "Running it every morning on a Dagster deployment", run
for real: a private Postgres on loopback holds the Dagster instance (deploy/dagster.yaml), the
webserver and the daemon run as two processes sharing DAGSTER_HOME, a backfill goes in through
the GraphQL API, the schedule fires, the daemon restarts. Everything the test starts is stopped
by it, also when it fails.

Marked ``deploy``: it needs the PostgreSQL server binaries (Debian's ``postgresql``; ``.ci/run``
installs them) and skips without them, except under CI=true, where a skip would hide a broken
deployment.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from acct_pipeline.defs.alerts.keys import ALERTS_JOB_NAME, SCORES_KEY
from acct_pipeline.defs.jobs import DAILY_JOB_NAME
from acct_pipeline.defs.schedules import SCHEDULE_NAME
from acct_pipeline.defs.sensors import FRESHNESS_SENSOR, SCORE_DROP_SENSOR
from acct_pipeline.run import queue_daemon_alive
from acct_pipeline_tests.deploy import postgres
from acct_pipeline_tests.deploy.services import Service, graphql, responds, wait_for

pytestmark = [pytest.mark.deploy, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# What the README tells an operator to run (asserted below, so the two cannot drift apart).
README_STEPS = (
    "pip install -e '.[deploy]'",
    "cp deploy/dagster.yaml $DAGSTER_HOME/dagster.yaml",
    "dagster-webserver -w workspace.yaml -h 0.0.0.0 -p 3000",
    "dagster-daemon run -w workspace.yaml",
)
REPO_SELECTOR = {"repositoryName": "__repository__", "repositoryLocationName": "acct_pipeline"}
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
STEP_TIMEOUT = 420  # seconds for one stage on a loaded 2-core CI machine; a bound, not a target


@pytest.fixture(scope="module")
def cluster() -> Iterator[postgres.PostgresCluster]:
    reason = postgres.missing_reason()
    try:
        import dagster_postgres  # noqa: F401
        import psycopg2  # noqa: F401
    except ImportError:
        reason = reason or "dagster-postgres is not installed: pip install -e '.[deploy]'"
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the deployment test: {reason}")
        pytest.skip(reason)
    running = postgres.start_cluster()
    try:
        yield running
    finally:
        running.stop()


def sql(cluster: postgres.PostgresCluster, query: str, *args: Any) -> list[tuple]:
    import psycopg2

    with (
        psycopg2.connect(
            host=cluster.host,
            port=cluster.port,
            dbname=cluster.db_name,
            user=cluster.user,
            password=cluster.password,
        ) as con,
        con.cursor() as cur,
    ):
        cur.execute(query, args)
        return cur.fetchall()


def test_the_readme_names_the_steps_this_test_runs() -> None:
    readme = (REPO / "README.md").read_text()
    for step in README_STEPS:
        assert step in readme, f"README.md no longer says {step!r}"
    config = (REPO / "deploy" / "dagster.yaml").read_text()
    assert "scheme: postgresql+psycopg2" in config
    assert "port: {env: DAGSTER_PG_PORT}" in config


def test_webserver_and_daemon_on_postgres(
    cluster: postgres.PostgresCluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from acct_pipeline.sample.generator import generate_sample

    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    backfill_days = [yesterday - timedelta(days=2), yesterday - timedelta(days=1)]
    landing = tmp_path / "landing"
    generate_sample(landing, accounts=25, days=6, seed=5, end_date=yesterday)

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")  # README step 2
    # The schedule fires at the first whole minute at least 75 s from now (the daemon is up by
    # then), so the test sees a real tick without waiting for 06:00.
    fire = (datetime.now(UTC) + timedelta(seconds=135)).replace(second=0, microsecond=0)
    env = {
        **os.environ,
        **cluster.env(),
        "DAGSTER_HOME": str(home),
        "ACCT_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
        "ACCT_LANDING_DIR": str(landing),
        "ACCT_SYNC_OUTBOX_DIR": str(tmp_path / "outbox"),
        "ACCT_ALERT_LOG": str(tmp_path / "alerts.jsonl"),
        "ACCT_SCHEDULE_TZ": "UTC",
        "ACCT_SCHEDULE_HOUR": str(fire.hour),
        "ACCT_SCHEDULE_MINUTE": str(fire.minute),
        "ACCT_ALERT_SENSOR_INTERVAL": "5",
        "ACCT_FRESHNESS_SENSOR_INTERVAL": "5",
    }
    for key in cluster.env():
        monkeypatch.setenv(key, env[key])
    port = postgres.free_port()
    url = f"http://127.0.0.1:{port}"
    logs = tmp_path / "logs"
    logs.mkdir()

    def daemon() -> Service:
        return Service(
            "daemon",
            [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            REPO,
            env,
            logs,
        )

    services: list[Service] = []
    try:
        services.append(
            Service(
                "webserver",
                [str(BIN / "dagster-webserver"), "-w", "workspace.yaml"]
                + ["-h", "127.0.0.1", "-p", str(port)],
                REPO,
                env,
                logs,
            )
        )
        services.append(daemon())
        with dg.DagsterInstance.from_config(str(home)) as instance:
            wait_for("the webserver", lambda: responds(url), STEP_TIMEOUT, services)
            wait_for("daemon heartbeats", instance.get_daemon_heartbeats, STEP_TIMEOUT, services)

            # A backfill through the API, as the UI's "Materialize" on a range of partitions.
            launched = graphql(
                url,
                """mutation($params: LaunchBackfillParams!) {
                  launchPartitionBackfill(backfillParams: $params) {
                    __typename
                    ... on LaunchBackfillSuccess { backfillId }
                    ... on PythonError { message }
                  }
                }""",
                {
                    "params": {
                        "selector": {
                            "partitionSetName": f"{DAILY_JOB_NAME}_partition_set",
                            "repositorySelector": REPO_SELECTOR,
                        },
                        "partitionNames": [d.isoformat() for d in backfill_days],
                    }
                },
            )["launchPartitionBackfill"]
            assert launched["__typename"] == "LaunchBackfillSuccess", launched
            backfill_id = launched["backfillId"]

            def backfill_runs() -> list[dg.DagsterRun]:
                return list(
                    instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
                )

            def schedule_runs() -> list[dg.DagsterRun]:
                return list(
                    instance.get_runs(dg.RunsFilter(tags={"dagster/schedule_name": SCHEDULE_NAME}))
                )

            def backfill_done() -> bool:
                runs = backfill_runs()
                # The scheduled run would score yesterday in full; its tick is what this test
                # checks, so it is cancelled (queued behind the backfill: max_concurrent_runs 1).
                for run in schedule_runs():
                    if run.status.value not in FINISHED:
                        graphql(
                            url,
                            "mutation($id: String!) { terminateRun(runId: $id) { __typename } }",
                            {"id": run.run_id},
                        )
                return bool(runs) and all(r.status.value in FINISHED for r in runs)

            wait_for("the backfill's runs to finish", backfill_done, STEP_TIMEOUT, services)
            runs = backfill_runs()
            assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * len(runs)
            scored = instance.fetch_materializations(SCORES_KEY, limit=100).records
            assert sorted({r.partition_key for r in scored}) == [
                d.isoformat() for d in backfill_days
            ]
            last_scores_id = max(r.storage_id for r in scored)

            def sensor_state(name: str) -> Any:
                states = [s for s in instance.all_instigator_state() if s.name == name]
                return states[0] if states else None

            def ticks(name: str) -> list[Any]:
                state = sensor_state(name)
                if state is None:
                    return []
                return list(
                    instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=500)
                )

            def drop_cursor() -> int | None:
                state = sensor_state(SCORE_DROP_SENSOR)
                cursor = state and state.instigator_data and state.instigator_data.cursor
                return int(cursor) if cursor else None

            # The score-drop sensor decided the backfill's days once the run had finished.
            wait_for(
                "the score-drop sensor to pass the backfill",
                lambda: (drop_cursor() or 0) >= last_scores_id,
                STEP_TIMEOUT,
                services,
            )

            # The schedule's tick asked for yesterday, the UTC day that ended before the tick.
            def schedule_tick() -> Any:
                done = [t for t in ticks(SCHEDULE_NAME) if t.status.value == "SUCCESS"]
                return done[0] if done else None

            tick = wait_for("the schedule's tick", schedule_tick, STEP_TIMEOUT, services)
            assert list(tick.run_keys) == [yesterday.isoformat()]
            [scheduled] = schedule_runs()
            assert scheduled.tags["dagster/partition"] == yesterday.isoformat()

            # Runs, ticks and cursors are rows in Postgres; there is no SQLite beside them.
            pg_runs = dict(sql(cluster, "SELECT run_id, status FROM runs"))
            assert {r.run_id for r in runs} | {scheduled.run_id} <= set(pg_runs)
            assert all(pg_runs[r.run_id] == "SUCCESS" for r in runs)
            tick_rows = sql(cluster, "SELECT count(*) FROM job_ticks")[0][0]
            assert tick_rows >= 3
            assert not list(home.rglob("*.db")), list(home.rglob("*.db"))
            # The freshness sensor's ticks say what they recorded.
            reasons = [t.skip_reason or "" for t in ticks(FRESHNESS_SENSOR)]
            assert any(r.startswith("recorded scores_fresh") for r in reasons), reasons

            # Restart the daemon: the cursors live on in Postgres.
            alert_runs = len(instance.get_runs(dg.RunsFilter(job_name=ALERTS_JOB_NAME)))
            daemon_proc = services.pop()
            daemon_proc.stop()
            cursor_before = drop_cursor()
            restarted = time.time()
            services.append(daemon())

            def tick_after_restart() -> Any:
                fresh = [
                    t
                    for t in ticks(SCORE_DROP_SENSOR)
                    if t.timestamp > restarted and t.status.value != "STARTED"
                ]
                return fresh[-1] if fresh else None

            after = wait_for(
                "a score-drop tick after the restart", tick_after_restart, STEP_TIMEOUT, services
            )
            assert drop_cursor() == cursor_before
            assert "examined 0 scores materialization(s)" in (after.skip_reason or "")
            assert len(instance.get_runs(dg.RunsFilter(job_name=ALERTS_JOB_NAME))) == alert_runs
            assert len(schedule_runs()) == 1  # the schedule did not fire the same day again
            # What `acct-pipeline run` looks at to submit to the queue instead of racing it.
            assert queue_daemon_alive(instance)
    finally:
        for service in reversed(services):
            service.stop()
    assert all(not s.alive() for s in services)
