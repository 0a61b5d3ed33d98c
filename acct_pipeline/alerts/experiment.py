"""The randomised control group: which alerted / audience accounts the automation leaves alone.

An account's arm is decided once per experiment, from the experiment's seed and the account id
alone (a hash, not a random draw): the same seed gives the same arms on every machine and rerun,
and an account keeps its arm however often it is alerted or enters an audience. The first exposure
is recorded in ``alerts.experiment_assignments`` (account, experiment, arm, the day, the seed, the
share and the tier on that day); ``scoring/lift.py`` compares the arms' outcomes later.

Control accounts are recorded like the others but get no alert delivery and no audience value in
the CRM: that is what makes the difference in outcomes measurable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date

import duckdb

from acct_pipeline.scoring.actions import Experiment
from acct_pipeline.warehouse import EXPERIMENT_ASSIGNMENTS

CONTROL = "control"
TREATED = "treated"

ASSIGNMENTS_DDL = f"""
CREATE TABLE IF NOT EXISTS {EXPERIMENT_ASSIGNMENTS} (
    account_id     VARCHAR NOT NULL,
    experiment     VARCHAR NOT NULL,
    arm            VARCHAR NOT NULL,  -- treated, control
    assigned_on    DATE    NOT NULL,  -- the day of the first alert / audience entry
    seed           BIGINT  NOT NULL,
    control_share  DOUBLE  NOT NULL,
    tier           VARCHAR,           -- the tier on that day (the lift is compared per tier)
    source         VARCHAR NOT NULL,  -- alert, audience
    PRIMARY KEY (experiment, account_id)
)
"""


def unit_draw(experiment: str, seed: int, account_id: str) -> float:
    """A number in [0, 1) fixed by the experiment, the seed and the account id."""
    digest = hashlib.sha256(f"{experiment}\x1f{seed}\x1f{account_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def arm_for(account_id: str, config: Experiment) -> str:
    """``control`` for a ``control_share`` of accounts, ``treated`` for the rest."""
    draw = unit_draw(config.name, config.seed, str(account_id))
    return CONTROL if draw < config.control_share else TREATED


def ensure_assignments(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS alerts")
    con.execute(ASSIGNMENTS_DDL)


def assign(
    con: duckdb.DuckDBPyConnection,
    accounts: Iterable[tuple[str, str | None]],
    as_of: date,
    source: str,
    config: Experiment,
) -> dict[str, str]:
    """Record the arm of each ``(account_id, tier)`` not yet in the experiment and return the arm
    of every given account (an earlier assignment keeps its arm, day and tier)."""
    ensure_assignments(con)
    rows = [
        (str(a), config.name, arm_for(str(a), config), as_of, config.seed, config.control_share, t)
        for a, t in accounts
    ]
    if not rows:
        return {}
    con.executemany(
        f"INSERT INTO {EXPERIMENT_ASSIGNMENTS} VALUES (?, ?, ?, ?, ?, ?, ?, '{source}') "
        "ON CONFLICT DO NOTHING",
        rows,
    )
    found = con.execute(
        f"SELECT account_id, arm FROM {EXPERIMENT_ASSIGNMENTS} "
        "WHERE experiment = ? AND account_id IN (SELECT unnest(?::VARCHAR[]))",
        [config.name, [r[0] for r in rows]],
    ).fetchall()
    return dict(found)
