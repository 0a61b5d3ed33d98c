"""Which accounts dropped on a day: SQL over the scores history, one row per drop event.

A drop event for account A on day D is either

- **points**: the health score fell by at least ``drop_points_7d`` over 7 days, on the first day
  it does so (D-1 was not already such a drop), so a slide that lasts a week pages the owner
  once, not seven times; or
- **tier**: A's tier on D is worse than on D-1. Tiers already carry the scoring model's
  hysteresis, so a score wobbling around a band boundary does not raise alerts.

Both on the same day make one event (``drop_kind = 'points+tier'``). A third kind,
``override``, is an account with a manual override (``scoring/overrides.py``) whose computed score
keeps falling below its value when the override was entered (``_override_falls``). The event key
``score_drop:<account>:<day>`` identifies it everywhere: the alerts table, the delivery ledger,
the webhook header and the CRM task.

The 7-day delta is the scoring engine's ``score_delta_7d`` when the scores table has it, otherwise
it is computed here from the history (score on D minus score on D-7).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from acct_pipeline.alerts.config import AlertThresholds, load_thresholds
from acct_pipeline.scoring.overrides import active_overrides_sql
from acct_pipeline.scoring.tiers import tier_rank_sql
from acct_pipeline.warehouse import (
    ACCOUNT_SCORES,
    ACCOUNTS,
    SCORE_DROP_ALERTS,
    SCORE_OVERRIDES,
    column_types,
    replace_partition,
    table_exists,
)

ALERT_COLUMNS = (
    "event_key",
    "as_of_date",
    "account_id",
    "account_name",
    "owner_id",
    "owner_email",
    "score_before",
    "score_after",
    "score_delta_7d",
    "previous_tier",
    "tier",
    "drop_kind",
    "headline",
    "reason_codes",
    "recommended_playbook",
    "model_version",
    "detected_at",
)


def _tier_rank_sql(expr: str) -> str:
    """Worse tiers (of the scoring model in use) have higher ranks. Unknown tier names rank
    NULL and never raise a tier alert."""
    return tier_rank_sql(expr, unknown="NULL")


def drops_sql(con: duckdb.DuckDBPyConnection) -> str:
    """The drop-event query for the scores table as it is (thin slice or full engine).

    Parameters, in order: as-of date, points threshold, tier-alerts flag (BOOLEAN).
    """
    cols = column_types(con, ACCOUNT_SCORES)
    has_delta = "score_delta_7d" in cols
    reasons_type = cols.get("reason_codes", "")
    if reasons_type.endswith("[]"):
        reasons = "CAST(coalesce(t.reason_codes, []) AS VARCHAR[])"
    elif reasons_type:
        reasons = (
            "CASE WHEN t.reason_codes IS NULL THEN CAST([] AS VARCHAR[]) "
            "ELSE [CAST(t.reason_codes AS VARCHAR)] END"
        )
    else:
        reasons = "CAST([] AS VARCHAR[])"
    playbook = (
        "CAST(t.recommended_playbook AS VARCHAR)"
        if "recommended_playbook" in cols
        else "CAST(NULL AS VARCHAR)"
    )
    version = (
        "CAST(t.model_version AS VARCHAR)" if "model_version" in cols else "CAST(NULL AS VARCHAR)"
    )
    if has_delta:
        delta_today = "CAST(t.score_delta_7d AS DOUBLE)"
        delta_yesterday = "CAST(y.score_delta_7d AS DOUBLE)"
        extra_joins = ""
    else:
        delta_today = "CAST(t.health_score - w.health_score AS DOUBLE)"
        delta_yesterday = "CAST(y.health_score - w8.health_score AS DOUBLE)"
        extra_joins = f"""
    LEFT JOIN {ACCOUNT_SCORES} w  ON w.account_id  = t.account_id AND w.as_of_date  = p.d - 7
    LEFT JOIN {ACCOUNT_SCORES} w8 ON w8.account_id = t.account_id AND w8.as_of_date = p.d - 8"""
    have_accounts = table_exists(con, ACCOUNTS)
    owner_join = f"LEFT JOIN {ACCOUNTS} a ON a.account_id = c.account_id" if have_accounts else ""
    owner = {
        out: f"CAST({'a.' + col if have_accounts else 'NULL'} AS VARCHAR) AS {out}"
        for out, col in (
            ("account_name", "name"),
            ("owner_id", "owner_id"),
            ("owner_email", "owner_email"),
        )
    }
    return f"""
WITH p AS (SELECT CAST(? AS DATE) AS d, CAST(? AS DOUBLE) AS points, CAST(? AS BOOLEAN) AS tiers),
candidates AS (
    SELECT
        t.account_id,
        p.d AS as_of_date,
        CAST(t.health_score AS DOUBLE)               AS score_after,
        {delta_today}                                AS delta,
        {delta_yesterday}                            AS delta_yesterday,
        CAST(y.tier AS VARCHAR)                      AS previous_tier,
        CAST(t.tier AS VARCHAR)                      AS tier,
        {_tier_rank_sql("t.tier")} > {_tier_rank_sql("y.tier")} AS tier_worse,
        {reasons}                                    AS reason_codes,
        {playbook}                                   AS recommended_playbook,
        {version}                                    AS model_version,
        p.points,
        p.tiers
    FROM p
    JOIN {ACCOUNT_SCORES} t ON t.as_of_date = p.d
    LEFT JOIN {ACCOUNT_SCORES} y
           ON y.account_id = t.account_id AND y.as_of_date = p.d - 1{extra_joins}
),
events AS (
    SELECT *,
        coalesce(delta <= -points, false)
            AND NOT coalesce(delta_yesterday <= -points, false) AS points_drop,
        coalesce(tiers AND tier_worse, false)                   AS tier_drop
    FROM candidates
)
SELECT
    'score_drop:' || c.account_id || ':' || strftime(c.as_of_date, '%Y-%m-%d') AS event_key,
    c.as_of_date,
    CAST(c.account_id AS VARCHAR) AS account_id,
    {owner["account_name"]},
    {owner["owner_id"]},
    {owner["owner_email"]},
    round(c.score_after - c.delta, 1)  AS score_before,
    round(c.score_after, 1)            AS score_after,
    round(c.delta, 1)                  AS score_delta_7d,
    c.previous_tier,
    c.tier,
    CASE WHEN c.points_drop AND c.tier_drop THEN 'points+tier'
         WHEN c.points_drop THEN 'points' ELSE 'tier' END AS drop_kind,
    concat_ws('; ',
        CASE WHEN c.points_drop
             THEN printf('health score down %.0f points in 7 days (%.0f -> %.0f)',
                                            -c.delta, c.score_after - c.delta, c.score_after) END,
        CASE WHEN c.tier_drop THEN 'tier ' || c.previous_tier || ' -> ' || c.tier END) AS headline,
    c.reason_codes,
    c.recommended_playbook,
    c.model_version,
    CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP) AS detected_at
FROM events c
{owner_join}
WHERE c.points_drop OR c.tier_drop
{_override_falls(con, cols, reasons, playbook, version, owner, owner_join)}
"""


OVERRIDE_KIND = "override"


def _override_falls(
    con: duckdb.DuckDBPyConnection,
    cols: dict[str, str],
    reasons: str,
    playbook: str,
    version: str,
    owner: dict[str, str],
    owner_join: str,
) -> str:
    """``UNION ALL`` of the override alerts, then the ORDER BY of the whole query.

    An overridden account whose *computed* score keeps falling: on D its score is at least one
    more ``drop_points_7d`` below its score when the override was entered than it was on D-1
    (so it fires at -10, again at -20, ...). Event key ``override_falling:<account>:<day>``.
    """
    if "override_tier" not in cols or not table_exists(con, SCORE_OVERRIDES):
        return "ORDER BY c.delta NULLS LAST, c.account_id"
    return f"""
UNION ALL
SELECT
    'override_falling:' || c.account_id || ':' || strftime(c.as_of_date, '%Y-%m-%d'),
    c.as_of_date,
    CAST(c.account_id AS VARCHAR),
    {owner["account_name"]},
    {owner["owner_id"]},
    {owner["owner_email"]},
    round(c.base, 1),
    round(c.score_after, 1),
    round(c.score_after - c.base, 1),
    c.previous_tier,
    c.tier,
    '{OVERRIDE_KIND}',
    printf('computed health score down %.0f points since the override (%.0f on %s -> %.0f); '
           'overridden to %s by %s until %s: %s',
           c.base - c.score_after, c.base, strftime(c.starts_on, '%Y-%m-%d'), c.score_after,
           c.value, c.created_by, strftime(c.expires_on, '%Y-%m-%d'), c.reason),
    c.reason_codes,
    c.recommended_playbook,
    c.model_version,
    CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP)
FROM (
    SELECT t.account_id, p.d AS as_of_date, o.score_at_override AS base,
           CAST(t.health_score AS DOUBLE) AS score_after,
           CAST(y.tier AS VARCHAR) AS previous_tier, CAST(t.tier AS VARCHAR) AS tier,
           {reasons} AS reason_codes, {playbook} AS recommended_playbook,
           {version} AS model_version, o.starts_on, o.expires_on, o.created_by, o.reason,
           coalesce(o.tier, printf('score %.0f', o.score)) AS value,
           floor((o.score_at_override - t.health_score) / p.points) AS k_today,
           CASE WHEN y.as_of_date > o.starts_on
                THEN floor((o.score_at_override - y.health_score) / p.points) END AS k_yesterday
    FROM p
    JOIN {ACCOUNT_SCORES} t ON t.as_of_date = p.d
    JOIN ({active_overrides_sql("p.d")}) o ON o.account_id = t.account_id
    LEFT JOIN {ACCOUNT_SCORES} y ON y.account_id = t.account_id AND y.as_of_date = p.d - 1
    WHERE o.score_at_override IS NOT NULL
) c
{owner_join}
WHERE c.k_today >= 1 AND c.k_today > coalesce(c.k_yesterday, 0)
ORDER BY score_delta_7d NULLS LAST, account_id
"""


def _params(as_of: date, thresholds: AlertThresholds) -> list:
    return [as_of, thresholds.drop_points_7d, thresholds.tier_worsened]


def count_drops(
    con: duckdb.DuckDBPyConnection, as_of: date, thresholds: AlertThresholds | None = None
) -> int:
    """How many accounts have a drop event on ``as_of`` (for the scores asset's metadata).

    The score-drop sensor reads this number from the materialization instead of opening the
    warehouse; 0 means no alert run is launched for the day.
    """
    if not table_exists(con, ACCOUNT_SCORES):
        return 0
    thresholds = thresholds or load_thresholds()
    sql = f"SELECT count(*) FROM ({drops_sql(con)})"
    return int(con.execute(sql, _params(as_of, thresholds)).fetchone()[0])


def drop_counts(
    con: duckdb.DuckDBPyConnection,
    days: Iterable[date],
    thresholds: AlertThresholds | None = None,
) -> dict[str, int]:
    """``{"YYYY-MM-DD": drop events}`` for each day, for the scores asset's metadata.

    Put it in the materialization as ``dropped_accounts_by_day`` (JSON) with the total as
    ``dropped_accounts`` (int): the score-drop sensor then judges every day of a multi-day run.
    """
    thresholds = thresholds or load_thresholds()
    return {d.isoformat(): count_drops(con, d, thresholds) for d in sorted(set(days))}


def write_alerts(
    con: duckdb.DuckDBPyConnection, as_of: date, thresholds: AlertThresholds | None = None
) -> int:
    """Replace ``alerts.score_drop_alerts`` for ``as_of`` with that day's drop events.

    Idempotent: a rerun replaces exactly its day. Returns the number of events.
    """
    if not table_exists(con, ACCOUNT_SCORES):
        return 0
    thresholds = thresholds or load_thresholds()
    return replace_partition(
        con, SCORE_DROP_ALERTS, drops_sql(con), "as_of_date", [as_of], _params(as_of, thresholds)
    )


@dataclass(frozen=True)
class Alert:
    """One drop event, as the channels deliver it."""

    event_key: str
    as_of_date: date
    account_id: str
    account_name: str | None
    owner_id: str | None
    owner_email: str | None
    score_before: float | None
    score_after: float | None
    score_delta_7d: float | None
    previous_tier: str | None
    tier: str | None
    drop_kind: str
    headline: str
    reason_codes: tuple[str, ...]
    recommended_playbook: str | None
    model_version: str | None
    detected_at: datetime | None

    def as_json(self) -> dict[str, object]:
        """A JSON-ready dict (dates as ISO strings)."""
        out: dict[str, object] = {}
        for name in ALERT_COLUMNS:
            value = getattr(self, name)
            if isinstance(value, date | datetime):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            out[name] = value
        return out


def _alerts(rows: list[tuple]) -> list[Alert]:
    out = []
    for row in rows:
        values = dict(zip(ALERT_COLUMNS, row, strict=True))
        values["reason_codes"] = tuple(values["reason_codes"] or ())
        out.append(Alert(**values))
    return out


def load_alerts(con: duckdb.DuckDBPyConnection, as_of: date) -> list[Alert]:
    """The drop events stored for ``as_of``, biggest drop first."""
    if not table_exists(con, SCORE_DROP_ALERTS):
        return []
    return _alerts(
        con.execute(
            f"SELECT {', '.join(ALERT_COLUMNS)} FROM {SCORE_DROP_ALERTS} WHERE as_of_date = ? "
            "ORDER BY score_delta_7d NULLS LAST, account_id",
            [as_of],
        ).fetchall()
    )


def preview_alerts(
    con: duckdb.DuckDBPyConnection, as_of: date, thresholds: AlertThresholds | None = None
) -> list[Alert]:
    """The drop events ``as_of`` would have, computed without writing anything."""
    if not table_exists(con, ACCOUNT_SCORES):
        return []
    thresholds = thresholds or load_thresholds()
    sql = f"SELECT {', '.join(ALERT_COLUMNS)} FROM ({drops_sql(con)})"
    return _alerts(con.execute(sql, _params(as_of, thresholds)).fetchall())


def newest_scores_day(con: duckdb.DuckDBPyConnection) -> date | None:
    """The newest as-of date in ``scores.account_scores`` (None before the first scoring)."""
    if not table_exists(con, ACCOUNT_SCORES):
        return None
    return con.execute(f"SELECT max(as_of_date) FROM {ACCOUNT_SCORES}").fetchone()[0]
