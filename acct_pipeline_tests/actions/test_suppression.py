"""Alert suppression: control group, snooze and frequency caps decide who is not alerted."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest

from acct_pipeline.alerts.detect import Alert
from acct_pipeline.alerts.experiment import CONTROL, arm_for
from acct_pipeline.alerts.suppression import (
    CAPPED_ACCOUNT,
    CAPPED_CHANNEL,
    CAPPED_OWNER,
    SEND,
    SNOOZED,
    decide,
    snooze,
)
from acct_pipeline.scoring.actions import Actions, CapRule, Caps, Experiment
from acct_pipeline.warehouse import ALERT_DECISIONS

DAY = date(2026, 10, 10)
NO_CONTROL = Experiment(control_share=0.0)


def alert(account: str, day: date = DAY, owner: str = "csm@example.com") -> Alert:
    return Alert(
        event_key=f"score_drop:{account}:{day}",
        as_of_date=day,
        account_id=account,
        account_name=account,
        owner_id=None,
        owner_email=owner,
        score_before=90.0,
        score_after=70.0,
        score_delta_7d=-20.0,
        previous_tier="T1",
        tier="T2",
        drop_kind="points",
        headline="down",
        reason_codes=(),
        recommended_playbook=None,
        model_version=None,
        detected_at=None,
    )


def actions(experiment: Experiment = NO_CONTROL, **alerts: object) -> Actions:
    return Actions(experiment=experiment, caps=Caps(alerts=CapRule(**alerts)))


def test_a_snoozed_account_gets_no_alert() -> None:
    with duckdb.connect() as con:
        snooze(con, "a1", DAY + timedelta(days=3), "renewal call booked", "csm@example.com")
        snooze(con, "a2", DAY - timedelta(days=1), "expired yesterday")
        out = decide(con, [alert("a1"), alert("a2")], ["log"], DAY, actions())
    assert out[alert("a1").event_key].decision == SNOOZED
    assert out[alert("a1").event_key].channels == ()
    assert out[alert("a2").event_key].decision == SEND


def test_a_snooze_needs_a_reason() -> None:
    with duckdb.connect() as con, pytest.raises(ValueError, match="reason"):
        snooze(con, "a1", DAY, "  ")


def test_the_control_group_is_held_out_and_recorded() -> None:
    config = Experiment(control_share=0.5, seed=3)
    accounts = [f"acc-{i}" for i in range(40)]
    with duckdb.connect() as con:
        out = decide(con, [alert(a) for a in accounts], ["log"], DAY, actions(config))
        n = con.execute(f"SELECT count(*) FROM {ALERT_DECISIONS}").fetchone()[0]
    held = {a for a in accounts if arm_for(a, config) == CONTROL}
    assert 5 < len(held) < 35
    assert {a for a in accounts if out[alert(a).event_key].decision == CONTROL} == held
    assert n == 40


def test_account_cooldown_caps_a_second_alert() -> None:
    rules = actions(account_cooldown_days=7)
    with duckdb.connect() as con:
        decide(con, [alert("a1", DAY - timedelta(days=3))], ["log"], DAY - timedelta(days=3), rules)
        out = decide(con, [alert("a1"), alert("a2")], ["log"], DAY, rules)
        later = decide(
            con, [alert("a1", DAY + timedelta(days=4))], ["log"], DAY + timedelta(4), rules
        )
    assert out[alert("a1").event_key].decision == CAPPED_ACCOUNT
    assert out[alert("a2").event_key].decision == SEND
    assert later[alert("a1", DAY + timedelta(days=4)).event_key].decision == SEND  # 7 days on


def test_owner_and_channel_caps_keep_the_first_alerts() -> None:
    with duckdb.connect() as con:
        by_owner = decide(
            con, [alert(f"o{i}") for i in range(3)], ["log"], DAY, actions(per_owner_per_day=2)
        )
    assert [by_owner[alert(f"o{i}").event_key].decision for i in range(3)] == [
        SEND,
        SEND,
        CAPPED_OWNER,
    ]
    rules = actions(per_channel_per_day={"webhook": 1, "log": 2})
    with duckdb.connect() as con:
        out = decide(
            con, [alert(f"c{i}", owner=f"o{i}") for i in range(3)], ["log", "webhook"], DAY, rules
        )
    got = [out[alert(f"c{i}").event_key] for i in range(3)]
    assert [d.channels for d in got] == [("log", "webhook"), ("log",), ()]
    assert got[2].decision == CAPPED_CHANNEL


def test_a_decision_is_made_once() -> None:
    rules = actions(per_owner_per_day=1)
    with duckdb.connect() as con:
        first = decide(con, [alert("a1")], ["log"], DAY, rules)
        again = decide(con, [alert("a1")], ["log"], DAY, rules)  # a rerun of the day
    assert first == again and again[alert("a1").event_key].decision == SEND
