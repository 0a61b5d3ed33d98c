"""Audiences: entries, exits, the cool-down that caps an account out, and the control group."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb

from acct_pipeline.alerts.audiences import (
    CAPPED,
    ENTERED,
    EXITED,
    MEMBER,
    membership,
    update_membership,
)
from acct_pipeline.alerts.experiment import CONTROL, arm_for
from acct_pipeline.defs.alerts.audiences import audience_membership
from acct_pipeline.defs.resources import EngineResource, WarehouseResource
from acct_pipeline.scoring.actions import Actions, AudienceDef, CapRule, Caps, Experiment
from acct_pipeline.scoring.model import load_model
from acct_pipeline.scoring.tiers import model_tier_names

BEST, SECOND, *_, WORST = model_tier_names()
DAY = date(2026, 10, 1)
AUDIENCES = [
    AudienceDef(name="suppress", tiers=[WORST], trends=["declining"]),
    AudienceDef(name="expansion_sequence", tiers=[BEST], trends=["improving", "stable"]),
    AudienceDef(name="adoption_education", tiers=[SECOND]),
]


def rules(cooldown: int = 14, per_owner: int = 0, share: float = 0.0) -> Actions:
    return Actions(
        experiment=Experiment(control_share=share, seed=5),
        audiences=AUDIENCES,
        caps=Caps(audiences=CapRule(account_cooldown_days=cooldown, per_owner_per_day=per_owner)),
    )


def scores(con: duckdb.DuckDBPyConnection, day: date, rows: dict[str, tuple[str, str]]) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS scores")
    con.execute(
        "CREATE TABLE IF NOT EXISTS scores.account_scores (account_id VARCHAR, as_of_date DATE, "
        "tier VARCHAR, trend VARCHAR, recommended_playbook VARCHAR, lifecycle_status VARCHAR)"
    )
    con.executemany(
        "INSERT INTO scores.account_scores VALUES (?, ?, ?, ?, 'p', 'Active')",
        [(a, day, t, tr) for a, (t, tr) in rows.items()],
    )


def status(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for r in membership(con, day).itertuples(index=False):
        out.setdefault(r.account_id, []).append((r.audience, r.status))
    return out


def test_the_default_model_defines_the_four_audiences() -> None:
    names = [a.name for a in load_model().audiences]
    assert names == ["suppress", "win_back", "adoption_education", "expansion_sequence"]


def test_entries_stays_and_exits() -> None:
    with duckdb.connect() as con:
        scores(con, DAY, {"a": (BEST, "stable"), "b": (SECOND, "declining")})
        first = update_membership(con, DAY, rules())
        d2 = DAY + timedelta(days=1)
        scores(con, d2, {"a": (BEST, "improving"), "b": (WORST, "declining")})
        update_membership(con, d2, rules())
        day1, day2 = status(con, DAY), status(con, d2)
    assert first.entered == {"expansion_sequence": 1, "adoption_education": 1}
    assert day1 == {"a": [("expansion_sequence", ENTERED)], "b": [("adoption_education", ENTERED)]}
    assert day2["a"] == [("expansion_sequence", MEMBER)]
    assert sorted(day2["b"]) == [("adoption_education", EXITED), ("suppress", ENTERED)]


def test_an_account_is_capped_out_of_an_audience_it_just_left() -> None:
    days = [DAY + timedelta(days=i) for i in range(20)]
    # in the expansion audience, out of it (declining) for two days, then qualifying again
    path = ["stable", "declining", "declining"] + ["stable"] * 17
    with duckdb.connect() as con:
        for day, trend in zip(days, path, strict=True):
            scores(con, day, {"a": (BEST, trend)})
            update_membership(con, day, rules(cooldown=14))
        seen = [status(con, d).get("a", []) for d in days]
    assert seen[0] == [("expansion_sequence", ENTERED)]
    assert seen[1] == [("expansion_sequence", EXITED)]
    assert seen[3] == [("expansion_sequence", CAPPED)]  # left 2 days ago: cooling down
    assert seen[14] == [("expansion_sequence", CAPPED)]
    assert seen[15] == [("expansion_sequence", ENTERED)]  # 14 days after it left
    assert seen[16] == [("expansion_sequence", MEMBER)]


def test_owner_cap_and_a_rerun_of_the_day() -> None:
    with duckdb.connect() as con:
        scores(con, DAY, {f"a{i}": (SECOND, "stable") for i in range(3)})
        update_membership(con, DAY, rules(per_owner=2))
        again = update_membership(con, DAY, rules(per_owner=2))  # replaces the day
        rows = membership(con, DAY)
    assert len(rows) == 3
    assert sorted(rows.status) == [CAPPED, ENTERED, ENTERED]
    assert again.entered == {"adoption_education": 2}


def test_control_members_are_recorded_but_not_sent_to_the_crm() -> None:
    accounts = {f"acc-{i}": (SECOND, "stable") for i in range(60)}
    with duckdb.connect() as con:
        scores(con, DAY, accounts)
        summary = update_membership(con, DAY, rules(share=0.3))
        rows = membership(con, DAY)
    control = {a for a in accounts if arm_for(a, rules(share=0.3).experiment) == CONTROL}
    assert 5 < len(control) < 35 and summary.control == len(control)
    assert set(rows[rows.arm == CONTROL].account_id) == control
    assert rows[rows.arm == CONTROL].crm_audience.isna().all()
    assert (rows[rows.arm != CONTROL].crm_audience == "adoption_education").all()


def test_the_asset_runs_each_day_of_a_range_in_order(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    days = [DAY + timedelta(days=i) for i in range(3)]
    with duckdb.connect(str(db)) as con:
        for day, tier in zip(days, [SECOND, SECOND, BEST], strict=True):
            scores(con, day, {"a": (tier, "stable")})
    result = dg.materialize(
        [audience_membership],
        tags={
            "dagster/asset_partition_range_start": days[0].isoformat(),
            "dagster/asset_partition_range_end": days[-1].isoformat(),
        },
        resources={"warehouse": WarehouseResource(path=str(db)), "engine": EngineResource()},
        instance=dg.DagsterInstance.ephemeral(),
    )
    meta = result.asset_materializations_for_node("alerts__audience_membership")[0].metadata
    assert meta["entered"].value == {"expansion_sequence": 1}
    assert meta["exited"].value == {"adoption_education": 1}
    with duckdb.connect(str(db)) as con:
        assert status(con, days[1]) == {"a": [("adoption_education", MEMBER)]}
