"""Deliver a day's drop events to every configured channel, each (event, channel) at most once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date

import duckdb

from acct_pipeline.alerts import ledger
from acct_pipeline.alerts.channels import Channel, ChannelError
from acct_pipeline.alerts.detect import Alert, load_alerts
from acct_pipeline.alerts.suppression import SEND, decide
from acct_pipeline.scoring.actions import Actions

Connect = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]


@dataclass
class DeliveryReport:
    """What one delivery pass did, per channel (for run metadata)."""

    alerts: int = 0
    sent: dict[str, int] = field(default_factory=dict)
    already_sent: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    held_back: dict[str, int] = field(default_factory=dict)  # decision -> alerts not sent

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
            "held_back": dict(self.held_back),
        }


def deliver_alerts(
    connect: Connect,
    as_of: date,
    channels: Sequence[Channel],
    run_id: str | None = None,
    actions: Actions | None = None,
    alerts: Sequence[Alert] | None = None,
) -> DeliveryReport:
    """Send ``as_of``'s alerts from ``alerts.score_drop_alerts`` to ``channels``.

    The ledger is read first and written around every send, with a short connection each time:
    no warehouse connection is held while a channel talks to the network. A channel error is
    recorded (``failed``) and the pass goes on; the next run retries only what failed.

    ``actions`` (the model's experiment and caps): when given, each alert is first decided by
    ``alerts/suppression.py`` — the control group, snoozed accounts and capped alerts are recorded
    there and not sent (``held_back`` counts them per decision).

    ``alerts``: deliver these instead of the day's stored drop events (the lifecycle-event
    alerts of ``alerts/events.py``), through the same ledger, decisions and caps.
    """
    with connect() as con:
        ledger.ensure_ledger(con)
        alerts = list(alerts) if alerts is not None else load_alerts(con, as_of)
        done = ledger.delivered(con, [a.event_key for a in alerts])
        decisions = (
            decide(con, alerts, [c.name for c in channels], as_of, actions) if actions else {}
        )
    report = DeliveryReport(alerts=len(alerts))
    allowed: dict[str, set[str]] = {}
    for key, d in decisions.items():
        if d.decision != SEND:
            report.held_back[d.decision] = report.held_back.get(d.decision, 0) + 1
        allowed[key] = set(d.channels)
    if decisions:
        alerts = [a for a in alerts if allowed.get(a.event_key)]
        channels_of = {a.event_key: allowed[a.event_key] for a in alerts}
    else:
        channels_of = {a.event_key: {c.name for c in channels} for a in alerts}
    for channel in channels:
        report.sent.setdefault(channel.name, 0)
        report.already_sent.setdefault(channel.name, 0)
    for alert in alerts:
        todo = [
            c
            for c in channels
            if (alert.event_key, c.name) not in done and c.name in channels_of[alert.event_key]
        ]
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
