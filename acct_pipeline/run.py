"""Run the pipeline's daily job for a date range through Dagster, outside ``dagster dev``.

The run is recorded in a persistent Dagster instance (``$DAGSTER_HOME``, default
``data/dagster_home``), so ``make dev`` shows every materialized partition afterwards. A range of
days runs as one single-run backfill (DuckDB has one writer; scores need the days in order).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg

DEFAULT_DAGSTER_HOME = "data/dagster_home"

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
    home = Path(os.environ.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text(DAGSTER_YAML)
    # Skip the UI's first-visit "join the community" dialog.
    nux = home / ".nux" / "nux.yaml"
    if not nux.exists():
        nux.parent.mkdir(exist_ok=True)
        nux.write_text("seen: 1\n")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


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
) -> RunOutcome:
    """Materialize the daily job for every day from ``start`` to ``end`` (inclusive) in one run."""
    from acct_pipeline.definitions import defs
    from acct_pipeline.defs.jobs import DAILY_JOB_NAME

    if instance is None:
        ensure_dagster_home()
        instance = dg.DagsterInstance.get()
    job = defs().resolve_job_def(job_name or DAILY_JOB_NAME)
    tags = {
        "dagster/asset_partition_range_start": start.isoformat(),
        "dagster/asset_partition_range_end": end.isoformat(),
        "dagster/backfill": "acct-pipeline-cli",
    }
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    if start == end:
        result = job.execute_in_process(
            run_config=run_config,
            instance=instance,
            partition_key=start.isoformat(),
            raise_on_error=False,
        )
    else:
        result = job.execute_in_process(
            run_config=run_config, instance=instance, tags=tags, raise_on_error=False
        )
    failed = [
        f"{ev.asset_key.to_user_string()}:{ev.check_name}"
        for ev in result.get_asset_check_evaluations()
        if not ev.passed
    ]
    return RunOutcome(
        run_id=result.run_id,
        success=result.success,
        partitions=(end - start).days + 1,
        failed_checks=failed,
        failure=None if result.success else first_failure(result),
    )
