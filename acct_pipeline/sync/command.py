"""The ``acct-pipeline sync`` command body, without argparse or Dagster: the CLI parses its flags
and calls ``sync_command``; what it prints and the exit code are decided here.

    acct-pipeline sync [--dry-run] [--force] [--reconcile] [--date YYYY-MM-DD]
    acct-pipeline sync --confirm-import data/outbox/account_scores_....csv
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from acct_pipeline import warehouse
from acct_pipeline.connectors.http import ApiError
from acct_pipeline.sync import ledger
from acct_pipeline.sync.engine import (
    ChecksGuard,
    ConnectionFactory,
    SyncRefused,
    latest_scored_date,
    run_sync,
)
from acct_pipeline.sync.mapping import MappingError
from acct_pipeline.sync.report import SyncReport
from acct_pipeline.sync.settings import SyncConfigError, SyncSettings

EXIT_OK = 0
EXIT_INCOMPLETE = 1  # stopped by a quota / rate limit, or records still pending: rerun later
EXIT_REFUSED = 2  # a guard or the configuration refused the run


def sync_command(
    as_of: date | None,
    *,
    dry_run: bool,
    force: bool,
    partition_passed_checks: ChecksGuard,
    settings: SyncSettings | None = None,
    say: Callable[[str], None] = print,
    reconcile: bool = False,
    connect: ConnectionFactory | None = None,
) -> int:
    """Run one sync from the command line; returns the process exit code.

    ``as_of`` defaults to the newest scored day. ``partition_passed_checks``: what the caller knows
    about the day's blocking checks (see ``run_sync``). ``connect``: where the scores and ledger
    are read (default the warehouse; a dry run may read the published read copy).
    """
    connect = connect or warehouse.connect
    try:
        settings = settings or SyncSettings.from_env()
        if as_of is None:
            with connect() as con:
                as_of = latest_scored_date(con)
            if as_of is None:
                say(f"sync: no scores in {warehouse.warehouse_path()} — run the pipeline first")
                return EXIT_REFUSED
        report = run_sync(
            connect,
            settings,
            as_of,
            partition_passed_checks=partition_passed_checks,
            dry_run=dry_run,
            force=force,
            reconcile=reconcile,
        )
    except SyncRefused as exc:
        if exc.report is not None:
            say(exc.report.summary_text())
        say(f"sync refused: {exc}")
        return EXIT_REFUSED
    except (SyncConfigError, MappingError) as exc:
        say(f"sync configuration: {exc}")
        return EXIT_REFUSED
    except ApiError as exc:  # messages are redacted by the HTTP layer
        say(f"sync failed: {exc}")
        return EXIT_INCOMPLETE
    say(report.summary_text())
    return exit_code(report)


def exit_code(report: SyncReport) -> int:
    """0 when every record to send landed (transient refusals retried within the run count as
    landed once accepted), 1 when something is left for the next run."""
    if report.dry_run:
        return EXIT_OK
    return EXIT_OK if report.complete and not report.rejected else EXIT_INCOMPLETE


def confirm_import_command(path: str | Path, *, say: Callable[[str], None] = print) -> int:
    """Mark the records of an outbox file as imported into the CRM (``exported`` → accepted)."""
    file = Path(path)
    with warehouse.connect() as con:
        n = ledger.confirm_import(con, "outbox", file.stem)
    if not n:
        say(
            f"confirm-import {file.name}: no records of this file await an import confirmation "
            "(already confirmed, superseded by a later file, or not a file of this warehouse's "
            "outbox)"
        )
        return EXIT_REFUSED
    say(f"confirm-import {file.name}: {n:,} records marked as imported into the CRM")
    return EXIT_OK
