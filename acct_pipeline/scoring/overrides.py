"""Manual overrides: "I know, we're handling it" — a person sets an account's tier or score for a
while, with a reason, and the computed score stays visible beside it.

Stored in ``scores.score_overrides``, one row per override (never deleted: removing one stamps it)::

    override_id        short id (``ov_...``), shown by ``acct-pipeline override --list``
    account_id         the CRM account
    tier | score       the effective tier, or the effective score (its tier is the score's band)
    reason, created_by why, and who (an e-mail)
    created_at         when it was entered (UTC)
    starts_on          the first score day it applies to: the newest scored day when it was
                       entered, so the scores of today carry it at once (older days never change)
    expires_on         the last score day it applies to (``--until``): it expires by itself
    score_at_override  the computed health score on ``starts_on`` (the alert baseline)
    removed_on, removed_by   ``--remove``: it no longer applies from that score day on

An override is **active** on score day D when ``starts_on <= D <= expires_on`` and it was not
removed on or before D; with several active overrides for an account the newest wins.

How the effective values reach the score rows (a choice: columns, not a view): the scored row
keeps its computed ``health_score`` and ``tier``; the active override's values are written beside
them, in ``override_tier`` (a score override's band included), ``override_score``,
``override_reason``, ``override_by`` and ``override_until`` (``OVERRIDE_COLUMNS``) of
``scores.account_scores``. ``apply_overrides`` fills them for a day: the scoring step calls it
for every day it scores, and the ``override`` command for the newest scored day right after an
override is entered or removed, so the next sync sends it. The columns appear in the scores
table with the first override (a warehouse that never used one keeps its shape).
``effective_tier_sql`` / ``effective_score_sql``: "the override if any, else the computed value".
"""

from __future__ import annotations

import csv
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from acct_pipeline.scoring.model import load_model
from acct_pipeline.scoring.tiers import model_tier_names
from acct_pipeline.warehouse import (
    ACCOUNT_SCORES,
    AS_OF_DATE,
    SCORE_OVERRIDES,
    table_columns,
    table_exists,
    transaction,
)

OVERRIDE_COLUMNS: dict[str, str] = {
    "override_tier": "VARCHAR",
    "override_score": "DOUBLE",
    "override_reason": "VARCHAR",
    "override_by": "VARCHAR",
    "override_until": "DATE",
}
CSV_COLUMNS = ("account_id", "tier", "score", "reason", "by", "until")

SCORE_OVERRIDES_DDL = f"""
CREATE TABLE IF NOT EXISTS {SCORE_OVERRIDES} (
    override_id       VARCHAR NOT NULL,
    account_id        VARCHAR NOT NULL,
    tier              VARCHAR,
    score             DOUBLE,
    reason            VARCHAR NOT NULL,
    created_by        VARCHAR NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    starts_on         DATE NOT NULL,
    expires_on        DATE NOT NULL,
    score_at_override DOUBLE,
    removed_on        DATE,
    removed_by        VARCHAR
)
"""


class OverrideError(ValueError):
    """An override cannot be entered as given; the message says what to fix."""


@dataclass(frozen=True)
class OverrideRequest:
    """One override to enter (``account`` is an id; the CLI resolves names first)."""

    account_id: str
    reason: str
    by: str
    until: date
    tier: str | None = None
    score: float | None = None


def validate_request(req: OverrideRequest, today: date, where: str = "override") -> None:
    """Raise ``OverrideError`` unless exactly one of tier / score is given and the rest fits."""
    if (req.tier is None) == (req.score is None):
        raise OverrideError(f"{where}: give exactly one of --tier or --score")
    if req.tier is not None and req.tier not in model_tier_names():
        raise OverrideError(
            f"{where}: tier {req.tier!r} is not one of the model's tiers "
            f"({', '.join(model_tier_names())})"
        )
    if req.score is not None and not 0 <= req.score <= 100:
        raise OverrideError(f"{where}: score {req.score:g} is not between 0 and 100")
    if not req.reason.strip():
        raise OverrideError(f"{where}: a reason is required (--reason)")
    if "@" not in req.by:
        raise OverrideError(f"{where}: --by must be the e-mail of who sets it, got {req.by!r}")
    if req.until < today:
        raise OverrideError(f"{where}: --until {req.until} is in the past")


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCORE_OVERRIDES.split('.')[0]}")
    con.execute(SCORE_OVERRIDES_DDL)


def _newest_day(con: duckdb.DuckDBPyConnection) -> date | None:
    if not table_exists(con, ACCOUNT_SCORES):
        return None
    return con.execute(f"SELECT max({AS_OF_DATE}) FROM {ACCOUNT_SCORES}").fetchone()[0]


def add_overrides(
    con: duckdb.DuckDBPyConnection,
    requests: list[OverrideRequest],
    now: datetime | None = None,
) -> list[str]:
    """Store ``requests`` (all or none) and apply them to the newest scored day; their ids."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    ensure_table(con)
    newest = _newest_day(con)
    starts = newest or now.date()
    ids = []
    with transaction(con):
        for req in requests:
            baseline = None
            if newest is not None:
                row = con.execute(
                    f"SELECT health_score FROM {ACCOUNT_SCORES} "
                    f"WHERE account_id = ? AND {AS_OF_DATE} = ?",
                    [req.account_id, newest],
                ).fetchone()
                baseline = row[0] if row else None
            oid = f"ov_{uuid.uuid4().hex[:10]}"
            con.execute(
                f"INSERT INTO {SCORE_OVERRIDES} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                [
                    oid,
                    req.account_id,
                    req.tier,
                    req.score,
                    req.reason.strip(),
                    req.by.strip(),
                    now,
                    starts,
                    req.until,
                    baseline,
                ],
            )
            ids.append(oid)
    if newest is not None:
        apply_overrides(con, newest)
    return ids


def remove_override(con: duckdb.DuckDBPyConnection, key: str, by: str | None = None) -> int:
    """End the override with id ``key`` — or every active one of account ``key`` — from the
    newest scored day on; returns how many were ended."""
    if not table_exists(con, SCORE_OVERRIDES):
        return 0
    newest = _newest_day(con) or datetime.now(UTC).date()
    n = con.execute(
        f"""UPDATE {SCORE_OVERRIDES} SET removed_on = ?, removed_by = ?
            WHERE (override_id = ? OR account_id = ?) AND removed_on IS NULL
              AND expires_on >= ?
            RETURNING override_id""",
        [newest, by, key, key, newest],
    ).fetchall()
    if n and table_exists(con, ACCOUNT_SCORES):
        apply_overrides(con, newest)
    return len(n)


def active_overrides_sql(day_expr: str = "?") -> str:
    """SELECT of the override active on the day ``day_expr`` per account (newest wins)."""
    return f"""
SELECT o.*
FROM {SCORE_OVERRIDES} o
WHERE o.starts_on <= {day_expr} AND o.expires_on >= {day_expr}
  AND (o.removed_on IS NULL OR o.removed_on > {day_expr})
QUALIFY row_number() OVER (PARTITION BY o.account_id ORDER BY o.created_at DESC) = 1
"""


def ensure_override_columns(con: duckdb.DuckDBPyConnection) -> None:
    have = set(table_columns(con, ACCOUNT_SCORES))
    for col, typ in OVERRIDE_COLUMNS.items():
        if col not in have:
            con.execute(f"ALTER TABLE {ACCOUNT_SCORES} ADD COLUMN {col} {typ}")


def apply_overrides(con: duckdb.DuckDBPyConnection, day: date) -> int:
    """Fill the ``override_*`` columns of ``day``'s score rows from the overrides active that
    day (and clear them elsewhere); returns the rows that carry one. Nothing happens (0) in a
    warehouse that never had an override. The scoring hook calls this for every scored day."""
    if not table_exists(con, SCORE_OVERRIDES) or not table_exists(con, ACCOUNT_SCORES):
        return 0
    ensure_override_columns(con)
    sets = ", ".join(f"{c} = NULL" for c in OVERRIDE_COLUMNS)
    with transaction(con):
        con.execute(f"UPDATE {ACCOUNT_SCORES} SET {sets} WHERE {AS_OF_DATE} = ?", [day])
        rows = con.execute(
            f"""UPDATE {ACCOUNT_SCORES} s SET
                    override_tier = coalesce(o.tier, {_band_sql("o.score")}),
                    override_score = o.score,
                    override_reason = o.reason,
                    override_by = o.created_by,
                    override_until = o.expires_on
                FROM ({active_overrides_sql("CAST($1 AS DATE)")}) o
                WHERE s.account_id = o.account_id AND s.{AS_OF_DATE} = CAST($1 AS DATE)
                RETURNING s.account_id""",
            [day],
        ).fetchall()
    return len(rows)


def _band_sql(expr: str) -> str:
    """SQL: the model's tier (band) of the score ``expr`` (NULL for NULL)."""
    bands = load_model().tiers.bands

    def lit(name: str) -> str:
        return "'" + name.replace("'", "''") + "'"

    whens = " ".join(f"WHEN {expr} >= {b.min:g} THEN {lit(b.name)}" for b in bands)
    return f"(CASE WHEN {expr} IS NULL THEN NULL {whens} ELSE {lit(bands[-1].name)} END)"


def effective_tier_sql(columns: set[str] | list[str], alias: str = "") -> str:
    """SQL: the override's tier (a score override's band included), else the computed tier."""
    p = f"{alias}." if alias else ""
    if "override_tier" not in set(columns):
        return f"{p}tier"
    return f"coalesce({p}override_tier, {p}tier)"


def effective_score_sql(columns: set[str] | list[str], alias: str = "") -> str:
    p = f"{alias}." if alias else ""
    if "override_score" not in set(columns):
        return f"{p}health_score"
    return f"coalesce({p}override_score, {p}health_score)"


@dataclass(frozen=True)
class OverrideRow:
    override_id: str
    account_id: str
    tier: str | None
    score: float | None
    reason: str
    created_by: str
    created_at: datetime
    starts_on: date
    expires_on: date
    score_at_override: float | None
    removed_on: date | None
    removed_by: str | None

    def status(self, day: date) -> str:
        if self.removed_on is not None and self.removed_on <= day:
            return f"removed {self.removed_on}"
        if self.expires_on < day:
            return f"expired {self.expires_on}"
        return "active"

    @property
    def value(self) -> str:
        return f"tier {self.tier}" if self.tier is not None else f"score {self.score:g}"


def list_overrides(
    con: duckdb.DuckDBPyConnection, include_ended: bool = True, account_id: str | None = None
) -> list[OverrideRow]:
    """Every override (newest first), or only those of ``account_id``."""
    if not table_exists(con, SCORE_OVERRIDES):
        return []
    where = "WHERE account_id = ?" if account_id else ""
    rows = con.execute(
        f"SELECT * FROM {SCORE_OVERRIDES} {where} ORDER BY created_at DESC, override_id",
        [account_id] if account_id else [],
    ).fetchall()
    out = [OverrideRow(*r) for r in rows]
    if include_ended:
        return out
    day = _newest_day(con) or datetime.now(UTC).date()
    return [o for o in out if o.status(day) == "active"]


def format_overrides(rows: list[OverrideRow], day: date) -> list[str]:
    if not rows:
        return ["no overrides (acct-pipeline override ACCOUNT --tier T --reason ... to add one)"]
    lines = [
        f"{'id':<14} {'account':<12} {'override':<18} {'computed then':>13}  {'until':<10}  "
        f"{'status':<18} by / reason"
    ]
    for o in rows:
        then = "-" if o.score_at_override is None else f"{o.score_at_override:.0f}"
        lines.append(
            f"{o.override_id:<14} {o.account_id:<12} {o.value:<18} {then:>13}  "
            f"{o.expires_on!s:<10}  {o.status(day):<18} {o.created_by}: {o.reason}"
        )
    return lines


def read_csv_requests(path: str | Path) -> list[OverrideRequest]:
    """Bulk overrides from a CSV with columns ``account_id, tier|score, reason, by, until``
    (a header row; one of ``tier`` / ``score`` per row, the other empty or absent)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise OverrideError(f"override --csv {p}: {exc.strerror or exc}") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in ("account_id", "reason", "by", "until") if c not in header]
    if missing or not ({"tier", "score"} & set(header)):
        raise OverrideError(
            f"override --csv {p}: the header needs account_id, tier or score, reason, by, until "
            f"(missing: {', '.join(missing) or 'tier|score'})"
        )
    out = []
    for i, raw in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        where = f"override --csv {p} line {i}"
        try:
            until = date.fromisoformat(row["until"])
        except ValueError:
            raise OverrideError(f"{where}: until {row['until']!r} is not YYYY-MM-DD") from None
        score_text = row.get("score") or ""
        try:
            score = float(score_text) if score_text else None
        except ValueError:
            raise OverrideError(f"{where}: score {score_text!r} is not a number") from None
        out.append(
            OverrideRequest(
                account_id=row["account_id"],
                tier=row.get("tier") or None,
                score=score,
                reason=row["reason"],
                by=row["by"],
                until=until,
            )
        )
    if not out:
        raise OverrideError(f"override --csv {p}: no rows")
    return out


def override_section(con: duckdb.DuckDBPyConnection, account_id: str, day: date) -> list[str]:
    """``explain``'s overrides section: the override active on ``day`` (effective beside the
    computed values) and the account's other overrides, or nothing when it never had one."""
    rows = list_overrides(con, account_id=account_id)
    if not rows:
        return []
    lines = ["", "overrides:"]
    computed = con.execute(
        f"SELECT health_score, tier FROM {ACCOUNT_SCORES} "
        f"WHERE account_id = ? AND {AS_OF_DATE} = ?",
        [account_id, day],
    ).fetchone()
    active = [
        o
        for o in rows
        if o.starts_on <= day <= o.expires_on and (o.removed_on is None or o.removed_on > day)
    ]
    if active:
        o = active[0]
        score, tier = computed or (None, None)
        shown = "-" if score is None else f"{score:.1f}"
        lines.append(
            f"  EFFECTIVE {o.value} (override {o.override_id} by {o.created_by} until "
            f"{o.expires_on}: {o.reason})"
        )
        lines.append(f"  computed  health {shown}  tier {tier or '-'}")
        if o.score_at_override is not None and score is not None:
            lines.append(
                f"  computed score at the override ({o.starts_on}): {o.score_at_override:.1f} "
                f"({score - o.score_at_override:+.1f} since)"
            )
    else:
        lines.append(f"  none active on {day}")
    for o in rows:
        if o not in active:
            lines.append(
                f"  {o.override_id} {o.value} {o.starts_on}..{o.expires_on} "
                f"({o.status(day)}) by {o.created_by}: {o.reason}"
            )
    return lines
