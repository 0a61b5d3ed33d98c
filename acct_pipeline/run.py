"""Run the pipeline's daily job for a date range through Dagster, outside ``dagster dev``.

The run is recorded in a persistent Dagster instance (``$DAGSTER_HOME``, default
``data/dagster_home``), so ``make dev`` shows every materialized partition afterwards. A range of
days runs as one single-run backfill (DuckDB has one writer; scores need the days in order).

When a daemon serves the instance's run queue (a production deployment), the run is submitted to
that queue instead of executing here: otherwise it would race a queued run for the DuckDB lock
(``max_concurrent_runs: 1`` only orders the runs the queue knows about).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg

from acct_pipeline.settings import environ, export

DEFAULT_DAGSTER_HOME = "data/dagster_home"

# A run tagged so records history (the demo's 180 days, a first load): its scores never alert,
# however new its days are (defs/sensors.py). A plain `acct-pipeline run` catching up does alert.
HISTORY_TAG = "acct/history"

# Runs launched from the UI or by sensors queue behind each other: one writer on the DuckDB file.
DAGSTER_YAML = """\
# Written by acct-pipeline. One run at a time: DuckDB allows one writing process per file.
concurrency:
  runs:
    max_concurrent_runs: 1
telemetry:
  enabled: false
"""


def ensure_dagster_home() -> Path:
    """Point ``DAGSTER_HOME`` at a persistent folder (created with a dagster.yaml if needed)."""
    home = Path(environ().get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text(DAGSTER_YAML)
    # Skip the UI's first-visit "join the community" dialog.
    nux = home / ".nux" / "nux.yaml"
    if not nux.exists():
        nux.parent.mkdir(exist_ok=True)
        nux.write_text("seen: 1\n")
    export({"DAGSTER_HOME": str(home)})
    return home


LOCATION_NAME = "acct_pipeline"  # as in workspace.yaml and [tool.dagster]: the daemon's name
QUEUE_DAEMON = "QUEUED_RUN_COORDINATOR"
DAEMON_FRESH_SECONDS = 120.0  # daemons heartbeat every 30 s
QUEUE_POLL_SECONDS = 2.0


def queue_daemon_alive(instance: dg.DagsterInstance, now: float | None = None) -> bool:
    """Whether a daemon is dequeuing this instance's runs (a recent heartbeat of its queue loop)."""
    if not isinstance(instance.run_coordinator, dg.QueuedRunCoordinator):
        return False
    beat = instance.get_daemon_heartbeats().get(QUEUE_DAEMON)
    now = time.time() if now is None else now
    return beat is not None and now - beat.timestamp < DAEMON_FRESH_SECONDS


def _submit_to_queue(
    instance: dg.DagsterInstance,
    job_name: str,
    tags: dict[str, str],
    run_config: dict,
    say: Callable[[str], None],
) -> str:
    """``dagster job launch`` into the instance's queue; waits for the daemon to run it."""
    run_id = str(uuid.uuid4())
    with tempfile.TemporaryDirectory(prefix="acct_submit_") as tmp:
        workspace = Path(tmp) / "workspace.yaml"
        workspace.write_text(
            "load_from:\n  - python_module:\n      module_name: acct_pipeline.definitions\n"
            f"      location_name: {LOCATION_NAME}\n"
        )
        launch = subprocess.run(
            [str(Path(sys.executable).parent / "dagster"), "job", "launch"]
            + ["-w", str(workspace), "-j", job_name, "--run-id", run_id]
            + ["--tags", json.dumps(tags), "--config-json", json.dumps(run_config)],
            capture_output=True,
            text=True,
            check=False,
        )
    if launch.returncode != 0:
        raise RuntimeError(f"dagster job launch failed: {launch.stderr.strip()[-2000:]}")
    say(f"run {run_id} queued on the instance's run queue (a daemon is running); waiting ...")
    while True:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.is_finished:
            return run_id
        time.sleep(QUEUE_POLL_SECONDS)


def _failed_checks(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    failed = []
    for record in records:
        event = record.event_log_entry.dagster_event
        evaluation = event.event_specific_data if event else None
        if isinstance(evaluation, dg.AssetCheckEvaluation) and not evaluation.passed:
            failed.append(f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}")
    return list(dict.fromkeys(failed))  # a range run records a check once per day


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    partitions: int
    failed_checks: list[str]
    failure: str | None = None  # the first failed step and its error, for people


def first_failure(result: dg.ExecuteInProcessResult) -> str | None:
    """``step <key> failed: <error>`` for the run's first failed step (None if none failed).

    The error is the innermost cause (the pipeline's own message, naming the file / row /
    column where known), not Dagster's wrapper, and without the traceback.
    """
    for event in result.all_events:
        if event.event_type_value != "STEP_FAILURE" or event.step_failure_data is None:
            continue
        error = event.step_failure_data.error
        if error is None:
            return f"step {event.step_key} failed"
        while error.cause is not None:
            error = error.cause
        return f"step {event.step_key} failed: {error.message.strip()}"
    return None


def run_days(
    start: date,
    end: date,
    instance: dg.DagsterInstance | None = None,
    job_name: str | None = None,
    log_level: str = "INFO",
    say: Callable[[str], None] = print,
    history: bool = False,
) -> RunOutcome:
    """Materialize the daily job for every day from ``start`` to ``end`` (inclusive) in one run.

    Without an ``instance`` argument: on ``$DAGSTER_HOME``'s instance, through its run queue when
    a daemon serves it (see the module docstring), else in this process. ``history``: the run
    records past days (``HISTORY_TAG``): the score-drop sensor does not alert on it.
    """
    from acct_pipeline.definitions import defs
    from acct_pipeline.defs.jobs import DAILY_JOB_NAME

    queue = False
    if instance is None:
        ensure_dagster_home()
        instance = dg.DagsterInstance.get()
        queue = queue_daemon_alive(instance)
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    if queue:
        tags = (
            {"dagster/partition": start.isoformat()}
            if start == end
            else {
                "dagster/asset_partition_range_start": start.isoformat(),
                "dagster/asset_partition_range_end": end.isoformat(),
            }
        )
        tags["acct/launched_by"] = "acct-pipeline run"
        if history:
            tags[HISTORY_TAG] = "true"
        run_id = _submit_to_queue(instance, job_name or DAILY_JOB_NAME, tags, run_config, say)
        run = instance.get_run_by_id(run_id)
        return RunOutcome(
            run_id=run_id,
            success=run is not None and run.is_success,
            partitions=(end - start).days + 1,
            failed_checks=_failed_checks(instance, run_id),
        )
    job = defs().resolve_job_def(job_name or DAILY_JOB_NAME)
    # No "dagster/backfill" tag: the UI hides runs of backfills it has no record of, and its
    # breadcrumb then reads "Backfill ... could not be found".
    tags = {
        "dagster/asset_partition_range_start": start.isoformat(),
        "dagster/asset_partition_range_end": end.isoformat(),
        "acct/launched_by": "acct-pipeline",
    }
    if history:
        tags[HISTORY_TAG] = "true"
    if start == end:
        result = job.execute_in_process(
            run_config=run_config,
            instance=instance,
            partition_key=start.isoformat(),
            tags={k: v for k, v in tags.items() if not k.startswith("dagster/")},
            raise_on_error=False,
        )
    else:
        result = job.execute_in_process(
            run_config=run_config, instance=instance, tags=tags, raise_on_error=False
        )
    # a run over several days records each partitioned check once per day (check_results.py)
    failed = list(
        dict.fromkeys(
            f"{ev.asset_key.to_user_string()}:{ev.check_name}"
            for ev in result.get_asset_check_evaluations()
            if not ev.passed
        )
    )
    return RunOutcome(
        run_id=result.run_id,
        success=result.success,
        partitions=(end - start).days + 1,
        failed_checks=failed,
        failure=None if result.success else first_failure(result),
    )
