"""`acct-pipeline run` goes through the instance's run queue only when a daemon serves it.

The positive case (a live daemon's heartbeat in Postgres) is asserted by the deployment test.
"""

from __future__ import annotations

import time

import dagster as dg

from acct_pipeline.run import queue_daemon_alive


def test_without_a_daemon_the_cli_runs_in_process() -> None:
    with dg.instance_for_test(overrides={"concurrency": {"runs": {"max_concurrent_runs": 1}}}) as i:
        assert isinstance(i.run_coordinator, dg.QueuedRunCoordinator)
        assert i.get_daemon_heartbeats() == {}
        assert not queue_daemon_alive(i, now=time.time())
