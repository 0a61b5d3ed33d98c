"""Deliver a day's drop events to every configured channel, each (event, channel) at most once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date

import duckdb

from acct_pipeline.alerts import ledger
from acct_pipeline.alerts.channels import Channel, ChannelError
from acct_pipeline.alerts.detect import load_alerts

Connect = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]


@dataclass
class DeliveryReport:
    """What one delivery pass did, per channel (for run metadata)."""

    alerts: int = 0
    sent: dict[str, int] = field(default_factory=dict)
    already_sent: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_metadata(self) -> dict[str, object]:
        return {
            "alerts": self.alerts,
            "sent": dict(self.sent),
            "already_sent": dict(self.already_sent),
            "failed": dict(self.failed),
            "errors": self.errors[:10],
        }


def deliver_alerts(
    connect: Connect,
    as_of: date,
    channels: Sequence[Channel],
    run_id: str | None = None,
) -> DeliveryReport:
    """Send ``as_of``'s alerts from ``alerts.score_drop_alerts`` to ``channels``.

    The ledger is read first and written around every send, with a short connection each time:
    no warehouse connection is held while a channel talks to the network. A channel error is
    recorded (``failed``) and the pass goes on; the next run retries only what failed.
    """
    with connect() as con:
        ledger.ensure_ledger(con)
        alerts = load_alerts(con, as_of)
        done = ledger.delivered(con, [a.event_key for a in alerts])
    report = DeliveryReport(alerts=len(alerts))
    for channel in channels:
        report.sent.setdefault(channel.name, 0)
        report.already_sent.setdefault(channel.name, 0)
    for alert in alerts:
        todo = [c for c in channels if (alert.event_key, c.name) not in done]
        for c in channels:
            if (alert.event_key, c.name) in done:
                report.already_sent[c.name] += 1
        if not todo:
            continue
        with connect() as con:
            for c in todo:
                ledger.begin(
                    con, alert.event_key, c.name, alert.as_of_date, alert.account_id, run_id
                )
        outcomes: list[tuple[str, bool, str | None, str | None]] = []
        for c in todo:
            try:
                external_id = c.send(alert)
            except ChannelError as exc:
                outcomes.append((c.name, False, None, str(exc)))
                report.failed[c.name] = report.failed.get(c.name, 0) + 1
                report.errors.append(str(exc))
            else:
                outcomes.append((c.name, True, external_id, None))
                report.sent[c.name] += 1
        with connect() as con:
            for name, ok, external_id, message in outcomes:
                ledger.finish(con, alert.event_key, name, ok, external_id, message)
    return report
