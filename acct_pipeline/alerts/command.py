"""The ``acct-pipeline alerts`` command body, without argparse or Dagster.

    acct-pipeline alerts [--date YYYY-MM-DD] [--send]

Without ``--send`` it lists the day's drop events and writes nothing. With ``--send`` it records
them in ``alerts.score_drop_alerts`` and delivers them to the configured channels through the
ledger, exactly like the alerts asset (an alert already sent is not sent again), whatever the
day's age: running it is a deliberate act.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date

import duckdb

from acct_pipeline import warehouse
from acct_pipeline.alerts.channels import ChannelError, build_channels
from acct_pipeline.alerts.config import (
    AlertConfigError,
    AlertSettings,
    load_thresholds,
    model_path,
)
from acct_pipeline.alerts.deliver import deliver_alerts
from acct_pipeline.alerts.detect import newest_scores_day, preview_alerts, write_alerts
from acct_pipeline.scoring.actions import load_actions

EXIT_OK = 0
EXIT_FAILED = 1  # some deliveries failed: rerun to retry them
EXIT_REFUSED = 2  # configuration, no scores, or too many alerts


def alerts_command(
    as_of: date | None,
    *,
    send: bool,
    settings: AlertSettings | None = None,
    say: Callable[[str], None] = print,
    read_connect: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]] | None = None,
) -> int:
    """List (and with ``send`` record and deliver) a day's drop events; the exit code.

    ``read_connect``: where a listing without ``send`` reads (default the warehouse; the CLI
    passes the published read copy). ``send`` always reads and writes the warehouse.
    """
    try:
        settings = settings or AlertSettings.from_env()
        thresholds = load_thresholds()
        channels = build_channels(settings) if send else []
        actions = load_actions(model_path())
    except (AlertConfigError, ChannelError, ValueError) as exc:
        say(f"alerts configuration: {exc}")
        return EXIT_REFUSED
    with warehouse.connect() if send or read_connect is None else read_connect() as con:
        as_of = as_of or newest_scores_day(con)
        if as_of is None:
            say(f"alerts: no scores in {warehouse.warehouse_path()} — run the pipeline first")
            return EXIT_REFUSED
        events = preview_alerts(con, as_of, thresholds)
    say(
        f"{as_of}: {len(events)} drop event(s) (>= {thresholds.drop_points_7d:g} points in 7 days"
        + (" or a worse tier)" if thresholds.tier_worsened else ")")
    )
    for alert in events[:20]:
        owner = alert.owner_email or alert.owner_id or "no owner"
        say(f"  {alert.account_name or alert.account_id:<28} {owner:<28} {alert.headline}")
    if len(events) > 20:
        say(f"  ... and {len(events) - 20} more")
    if not send:
        say("nothing sent (add --send to deliver through: " + ", ".join(settings.channels) + ")")
        return EXIT_OK
    if len(events) > settings.max_per_day:
        say(f"refused: {len(events)} events exceed ACCT_ALERT_MAX_PER_DAY={settings.max_per_day}")
        return EXIT_REFUSED
    with warehouse.connect() as con:
        write_alerts(con, as_of, thresholds)
    report = deliver_alerts(warehouse.connect, as_of, channels, run_id="cli", actions=actions)
    say(f"sent {report.sent}, already sent {report.already_sent}, failed {report.failed}")
    if report.held_back:
        say(f"held back (control group, snoozed, capped): {report.held_back}")
    for error in report.errors[:5]:
        say(f"  {error}")
    return EXIT_OK if report.ok else EXIT_FAILED
