"""The sync ledger (``sync.crm_sync_ledger``): per target identity and CRM record, what was sent and
what the CRM last *accepted*.

One row per (target, target_id, record_id). ``target_id`` is the identity of the CRM instance the
values went to (``identity.py``): the HubSpot portal id, the Salesforce instance URL, the outbox
folder's absolute path — so a sync pointed at another portal / org / folder finds no accepted
values there and sends every record, and the rows of the first one stay as they are (pointing back
sends nothing). Rows written before identities existed carry ``target_id = ''``; the first run of
their target after the upgrade assigns them to the identity it is configured with
(``claim_legacy``: the ledger is assumed to describe the configured CRM).

``values_json`` / ``values_hash`` hold the values last queued or
sent; ``accepted_json`` the values the CRM confirmed (merged over runs, so a field skipped because
it was NULL keeps its last accepted value). Status life cycle of a row::

    pending ──(journal)──> in_flight ──CRM said yes──> accepted
                                    │      ──CRM said no───> rejected  (retried next run)
                                    └── process died / outcome unknown: stays in_flight; the next
                                        run reads the record back from the CRM before anything else

The outbox target writes files, not CRM records: a record in a written file is ``exported``
(its values count as sent for the next diff, so a file is not written again every day), and becomes
``accepted`` when someone confirms the import (``acct-pipeline sync --confirm-import FILE``)::

    pending ──> in_flight ──file written──> exported ──import confirmed──> accepted

A record is ``accepted`` only after the CRM confirmed it (a 200/207 result, or a read-back that
shows the values). Every status change is committed before the next network call, so a ``kill -9``
at any point leaves the ledger consistent with what may have reached the CRM.

While a run sends, status changes go to an append-only journal (``sync.crm_sync_ledger_journal``)
— an INSERT per step costs the same however large the ledger is, where an UPDATE of the ledger per
batch would slow the run down as the CRM grows. ``fold_journal`` applies the journal to the ledger
in one set-based UPDATE at the end of the run and, after a crash, at the start of the next one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from acct_pipeline.warehouse import (
    CRM_SYNC_FIELDS,
    CRM_SYNC_JOURNAL,
    CRM_SYNC_LEDGER,
    column_types,
    table_exists,
    transaction,
)

PENDING = "pending"
IN_FLIGHT = "in_flight"
ACCEPTED = "accepted"
REJECTED = "rejected"
EXPORTED = "exported"  # outbox: in an import file nobody has confirmed yet
STATUSES = (PENDING, IN_FLIGHT, ACCEPTED, REJECTED, EXPORTED)

LEDGER_COLUMNS_SQL = """
    target         VARCHAR NOT NULL,   -- outbox | hubspot | salesforce
    record_id      VARCHAR NOT NULL,   -- the CRM's own record id (= account_id)
    status         VARCHAR NOT NULL,   -- pending | in_flight | accepted | rejected | exported
    as_of_date     DATE,               -- score day of values_json
    values_hash    VARCHAR,            -- md5 of the diffed fields of values_json
    values_json    VARCHAR,            -- values last queued / sent: mapping name -> text
    accepted_hash  VARCHAR,            -- md5 of accepted_json
    accepted_json  VARCHAR,            -- values the CRM last accepted (merged over runs)
    accepted_as_of DATE,               -- score day of the last accepted values
    accepted_at    TIMESTAMP,
    message        VARCHAR,            -- the CRM's message for the last rejection / problem
    attempts       INTEGER NOT NULL,   -- sends of the current values
    run_id         VARCHAR,            -- run that last changed the row
    batch_id       VARCHAR,            -- write request (or outbox file) the values were last in
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    target_id      VARCHAR NOT NULL    -- portal id | instance URL | outbox folder ('' = legacy row)
"""

LEDGER_DDL = f"""
CREATE TABLE IF NOT EXISTS {CRM_SYNC_LEDGER} ({LEDGER_COLUMNS_SQL},
    PRIMARY KEY (target, target_id, record_id)
)
"""
LEGACY = ""  # target_id of rows written before the ledger was keyed by target identity


@dataclass(frozen=True)
class TargetKey:
    """Which CRM instance a ledger row is about: the target kind and its identity."""

    target: str  # outbox | hubspot | salesforce
    identity: str  # HubSpot portal id, Salesforce instance URL, outbox folder (absolute path)


# A temporary stand-in for dry runs on a warehouse that has never synced (a dry run writes nothing).
EMPTY_LEDGER = "temp.sync_ledger_empty"
EMPTY_LEDGER_DDL = f"CREATE OR REPLACE TEMP TABLE sync_ledger_empty ({LEDGER_COLUMNS_SQL})"

NOW = "CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP)"


JOURNAL = CRM_SYNC_JOURNAL
JOURNAL_DDL = f"""
CREATE TABLE IF NOT EXISTS {JOURNAL} (
    step      BIGINT NOT NULL,    -- increasing per commit step (ns clock)
    target    VARCHAR NOT NULL,
    record_id VARCHAR NOT NULL,
    event     VARCHAR NOT NULL,   -- in_flight|accepted|confirmed|rejected|pending|exported
    batch_id  VARCHAR,
    message   VARCHAR,
    run_id    VARCHAR,
    logged_at TIMESTAMP NOT NULL,
    target_id VARCHAR NOT NULL DEFAULT ''
)
"""
EVENTS = ("in_flight", "accepted", "confirmed", "rejected", "pending", "exported")


def _has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    return column in column_types(con, table)


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> str:
    """Create the ledger and journal, or bring a ledger from before target identities up to date:
    its rows are kept with ``target_id = ''`` (``claim_legacy`` assigns them)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS sync")
    if table_exists(con, CRM_SYNC_LEDGER) and not _has_column(con, CRM_SYNC_LEDGER, "target_id"):
        # the primary key changes, so the table is rebuilt (one transaction)
        _, name = CRM_SYNC_LEDGER.split(".", 1)
        with transaction(con):
            con.execute(f"ALTER TABLE {CRM_SYNC_LEDGER} RENAME TO {name}_before_identity")
            con.execute(LEDGER_DDL)
            con.execute(
                f"INSERT INTO {CRM_SYNC_LEDGER} SELECT *, '{LEGACY}' "
                f"FROM sync.{name}_before_identity"
            )
            con.execute(f"DROP TABLE sync.{name}_before_identity")
    con.execute(LEDGER_DDL)
    if table_exists(con, JOURNAL) and not _has_column(con, JOURNAL, "target_id"):
        con.execute(f"ALTER TABLE {JOURNAL} ADD COLUMN target_id VARCHAR DEFAULT '{LEGACY}'")
    con.execute(JOURNAL_DDL)
    return CRM_SYNC_LEDGER


def claim_legacy(con: duckdb.DuckDBPyConnection, key: TargetKey) -> int:
    """Assign the rows of ``key.target`` written before identities (``target_id = ''``) to
    ``key.identity`` — the CRM the sync is configured with — unless that identity already has a
    row for the record. Call after ``fold_journal``. Returns the number of rows assigned."""
    row = con.execute(
        f"""UPDATE {CRM_SYNC_LEDGER} AS l SET target_id = ?
            WHERE l.target = ? AND l.target_id = '{LEGACY}'
              AND NOT EXISTS (SELECT 1 FROM {CRM_SYNC_LEDGER} o
                              WHERE o.target = l.target AND o.target_id = ?
                                AND o.record_id = l.record_id)""",
        [key.identity, key.target, key.identity],
    ).fetchone()
    return int(row[0]) if row else 0


def journal(
    con: duckdb.DuckDBPyConnection,
    key: TargetKey,
    events: Sequence[tuple[str, str, str | None, str | None]],
    run_id: str,
    step: int,
) -> None:
    """Append ``(record_id, event, batch_id, message)`` rows (one statement)."""
    if not events:
        return
    cols = list(zip(*events, strict=True))
    con.execute(
        f"""INSERT INTO {JOURNAL}
                (step, target, target_id, record_id, event, batch_id, message, run_id, logged_at)
            SELECT ?, ?, ?, unnest(CAST(? AS VARCHAR[])), unnest(CAST(? AS VARCHAR[])),
                   unnest(CAST(? AS VARCHAR[])), unnest(CAST(? AS VARCHAR[])), ?, {NOW}""",
        [
            step,
            key.target,
            key.identity,
            list(cols[0]),
            list(cols[1]),
            list(cols[2]),
            list(cols[3]),
            run_id,
        ],
    )


def fold_journal(con: duckdb.DuckDBPyConnection) -> int:
    """Apply the journal's latest event per record to the ledger, then empty it (one transaction).

    ``accepted`` / ``confirmed`` make the sent values the accepted ones; ``rejected`` keeps the
    CRM's message; ``pending`` never downgrades an accepted row; every ``in_flight`` counts as an
    attempt. Returns the number of ledger rows changed.
    """
    if not table_exists(con, JOURNAL):
        return 0
    if not con.execute(f"SELECT count(*) FROM {JOURNAL}").fetchone()[0]:
        return 0
    if not _has_column(con, JOURNAL, "target_id"):
        ensure_ledger(con)  # a crashed run of the version before target identities
    merged = "CAST(json_merge_patch(coalesce(l.accepted_json, '{}'), l.values_json) AS VARCHAR)"
    ok = "j.event IN ('accepted', 'confirmed', 'exported')"
    with transaction(con):
        n = con.execute(
            f"""
            UPDATE {CRM_SYNC_LEDGER} AS l SET
                status = CASE WHEN j.event = 'exported' THEN '{EXPORTED}'
                              WHEN {ok} THEN '{ACCEPTED}'
                              WHEN j.event = 'pending' AND l.status IN ('{ACCEPTED}', '{EXPORTED}')
                                   THEN l.status
                              ELSE j.event END,
                batch_id = coalesce(j.batch_id, l.batch_id),
                attempts = l.attempts + j.sends,
                accepted_json = CASE WHEN {ok} THEN {merged} ELSE l.accepted_json END,
                accepted_hash = CASE WHEN {ok} THEN md5({merged}) ELSE l.accepted_hash END,
                accepted_as_of = CASE WHEN {ok} THEN l.as_of_date ELSE l.accepted_as_of END,
                accepted_at = CASE WHEN j.event = 'exported' THEN NULL
                                   WHEN {ok} THEN j.logged_at ELSE l.accepted_at END,
                message = CASE WHEN j.event IN ('pending', 'in_flight')
                               THEN coalesce(j.message, l.message)
                               ELSE j.message END,
                run_id = coalesce(j.run_id, l.run_id),
                updated_at = j.logged_at
            FROM (
                SELECT target, target_id, record_id, event, message, run_id, logged_at,
                       arg_max(batch_id, step) FILTER (WHERE batch_id IS NOT NULL)
                           OVER (PARTITION BY target, target_id, record_id) AS batch_id,
                       count(*) FILTER (WHERE event = 'in_flight')
                           OVER (PARTITION BY target, target_id, record_id) AS sends
                FROM {JOURNAL}
                QUALIFY row_number() OVER (PARTITION BY target, target_id, record_id
                                           ORDER BY step DESC, logged_at DESC) = 1
            ) j
            WHERE l.target = j.target AND l.target_id = j.target_id
              AND l.record_id = j.record_id
            """
        ).fetchone()[0]
        con.execute(f"DELETE FROM {JOURNAL}")
    return int(n)


LEDGER_VIEW = "sync_ledger_as_claimed"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def ledger_for_reading(con: duckdb.DuckDBPyConnection, key: TargetKey) -> str:
    """The ledger as a run of ``key`` would see it, without writing anything (dry runs): the
    table; an empty temporary one when it does not exist; a temporary view showing the rows from
    before identities as ``key``'s when there are any (what ``claim_legacy`` will do)."""
    if not table_exists(con, CRM_SYNC_LEDGER):
        con.execute(EMPTY_LEDGER_DDL)
        return EMPTY_LEDGER
    ident, tgt = _literal(key.identity), _literal(key.target)
    if not _has_column(con, CRM_SYNC_LEDGER, "target_id"):
        select = f"SELECT *, {ident} AS target_id FROM {CRM_SYNC_LEDGER}"
    else:
        legacy = con.execute(
            f"SELECT count(*) FROM {CRM_SYNC_LEDGER} WHERE target = ? AND target_id = ?",
            [key.target, LEGACY],
        ).fetchone()[0]
        if not legacy:
            return CRM_SYNC_LEDGER
        select = f"""SELECT * REPLACE (CASE WHEN target = {tgt} AND target_id = '{LEGACY}'
                                            THEN {ident} ELSE target_id END AS target_id)
                     FROM {CRM_SYNC_LEDGER} l
                     WHERE NOT (l.target = {tgt} AND l.target_id = '{LEGACY}' AND EXISTS (
                         SELECT 1 FROM {CRM_SYNC_LEDGER} o WHERE o.target = l.target
                           AND o.target_id = {ident} AND o.record_id = l.record_id))"""
    con.execute(f"CREATE OR REPLACE TEMP VIEW {LEDGER_VIEW} AS {select}")
    return "temp." + LEDGER_VIEW


def stage_pending(
    con: duckdb.DuckDBPyConnection, key: TargetKey, plan_table: str, run_id: str
) -> int:
    """Queue every record of the plan as ``pending`` with the values about to be sent."""
    n = con.execute(f"SELECT count(*) FROM {plan_table} WHERE to_send").fetchone()[0]
    con.execute(
        f"""
        INSERT INTO {CRM_SYNC_LEDGER} (target, target_id, record_id, status, as_of_date,
            values_hash, values_json, attempts, run_id, created_at, updated_at)
        SELECT ?, ?, record_id, '{PENDING}', as_of_date, values_hash, payload_json, 0, ?, {NOW},
               {NOW}
        FROM {plan_table} WHERE to_send
        ON CONFLICT (target, target_id, record_id) DO UPDATE SET
            status = '{PENDING}',
            attempts = CASE WHEN {CRM_SYNC_LEDGER}.values_hash = excluded.values_hash
                            THEN {CRM_SYNC_LEDGER}.attempts ELSE 0 END,
            as_of_date = excluded.as_of_date,
            values_hash = excluded.values_hash,
            values_json = excluded.values_json,
            run_id = excluded.run_id,
            updated_at = excluded.updated_at
        """,
        [key.target, key.identity, run_id],
    )
    return int(n)


def mark_accepted(
    con: duckdb.DuckDBPyConnection,
    key: TargetKey,
    ids: Sequence[str],
    run_id: str,
    note: str | None = None,
    status: str = ACCEPTED,
) -> None:
    """The CRM confirmed these records (``status`` exported: they are in an outbox file): their
    sent values become the accepted ones."""
    if not ids:
        return
    merged = "CAST(json_merge_patch(coalesce(l.accepted_json, '{}'), l.values_json) AS VARCHAR)"
    con.execute(
        f"""UPDATE {CRM_SYNC_LEDGER} AS l
            SET status = '{status}', accepted_json = {merged}, accepted_hash = md5({merged}),
                accepted_as_of = l.as_of_date, accepted_at = {NOW}, message = ?, run_id = ?,
                updated_at = {NOW}
            FROM (SELECT unnest(CAST(? AS VARCHAR[])) AS rid) u
            WHERE l.target = ? AND l.target_id = ? AND l.record_id = u.rid""",
        [note, run_id, list(ids), key.target, key.identity],
    )


def mark_pending(
    con: duckdb.DuckDBPyConnection,
    key: TargetKey,
    ids: Sequence[str],
    run_id: str,
    message: str | None,
) -> None:
    """Not sent, or known not to have arrived: back to ``pending`` (sent again next run)."""
    if not ids:
        return
    con.execute(
        f"""UPDATE {CRM_SYNC_LEDGER} AS l
            SET status = '{PENDING}', message = coalesce(?, l.message), run_id = ?,
                updated_at = {NOW}
            FROM (SELECT unnest(CAST(? AS VARCHAR[])) AS rid) u
            WHERE l.target = ? AND l.target_id = ? AND l.record_id = u.rid
              AND l.status NOT IN ('{ACCEPTED}', '{EXPORTED}')""",
        [message, run_id, list(ids), key.target, key.identity],
    )


def confirm_import(con: duckdb.DuckDBPyConnection, target: str, batch_id: str) -> int:
    """Records exported in ``batch_id`` (an outbox file) were imported: ``exported`` → accepted.

    Records exported again in a later file are not touched (their batch is the later one). A batch
    id names one run's file, so whichever outbox folder it was written to, it is unique.
    Returns the number of records confirmed.
    """
    if not table_exists(con, CRM_SYNC_LEDGER):
        return 0
    ensure_ledger(con)
    fold_journal(con)
    row = con.execute(
        f"""UPDATE {CRM_SYNC_LEDGER}
            SET status = '{ACCEPTED}', accepted_at = {NOW}, updated_at = {NOW},
                message = 'import confirmed'
            WHERE target = ? AND batch_id = ? AND status = '{EXPORTED}'""",
        [target, batch_id],
    ).fetchone()
    return int(row[0]) if row else 0


def accepted_values(con: duckdb.DuckDBPyConnection, key: TargetKey) -> list[tuple[str, str]]:
    """(record_id, accepted_json) of every record the CRM is believed to hold."""
    if not table_exists(con, CRM_SYNC_LEDGER):
        return []
    return con.execute(
        f"""SELECT record_id, accepted_json FROM {CRM_SYNC_LEDGER}
            WHERE target = ? AND target_id = ? AND accepted_json IS NOT NULL
            ORDER BY record_id""",
        [key.target, key.identity],
    ).fetchall()


def forget_accepted(
    con: duckdb.DuckDBPyConnection,
    key: TargetKey,
    ids: Sequence[str],
    run_id: str,
    message: str,
) -> None:
    """The CRM does not hold what the ledger says it accepted: forget it (the diff resends)."""
    if not ids:
        return
    con.execute(
        f"""UPDATE {CRM_SYNC_LEDGER} AS l
            SET status = '{PENDING}', accepted_json = NULL, accepted_hash = NULL,
                values_hash = NULL, accepted_as_of = NULL, accepted_at = NULL, message = ?,
                run_id = ?,
                updated_at = {NOW}
            FROM (SELECT unnest(CAST(? AS VARCHAR[])) AS rid) u
            WHERE l.target = ? AND l.target_id = ? AND l.record_id = u.rid""",
        [message, run_id, list(ids), key.target, key.identity],
    )


def ids_with_status(con: duckdb.DuckDBPyConnection, key: TargetKey, status: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            f"SELECT record_id FROM {CRM_SYNC_LEDGER} "
            "WHERE target = ? AND target_id = ? AND status = ?",
            [key.target, key.identity, status],
        ).fetchall()
    ]


@dataclass(frozen=True)
class InFlight:
    """A record sent by an earlier run whose outcome was never recorded."""

    record_id: str
    values_json: str
    batch_id: str | None


def in_flight(con: duckdb.DuckDBPyConnection, key: TargetKey) -> list[InFlight]:
    if not table_exists(con, CRM_SYNC_LEDGER):
        return []
    rows = con.execute(
        f"""SELECT record_id, values_json, batch_id FROM {CRM_SYNC_LEDGER}
            WHERE target = ? AND target_id = ? AND status = '{IN_FLIGHT}'
            ORDER BY batch_id, record_id""",
        [key.target, key.identity],
    ).fetchall()
    return [InFlight(r[0], r[1], r[2]) for r in rows]


def status_counts(con: duckdb.DuckDBPyConnection, key: TargetKey) -> dict[str, int]:
    if not table_exists(con, CRM_SYNC_LEDGER) or not _has_column(con, CRM_SYNC_LEDGER, "target_id"):
        return {}
    rows = con.execute(
        f"SELECT status, count(*) FROM {CRM_SYNC_LEDGER} WHERE target = ? AND target_id = ? "
        "GROUP BY 1",
        [key.target, key.identity],
    ).fetchall()
    return {s: int(n) for s, n in rows}


# ---------------------------------------------------------------------------------------------
# Fields already verified in the CRM: the per-run field check (a GET of every company property,
# or a describe) costs a request under the rate limit on every run. Once a target accepted the
# mapped fields, later runs skip the check; should a field disappear from the CRM, the write is
# refused with its name (HubSpot 400 / Salesforce INVALID_FIELD) and the run stops clearly.
# ---------------------------------------------------------------------------------------------

_FIELDS_DDL = f"""
CREATE TABLE IF NOT EXISTS {CRM_SYNC_FIELDS} (
    target      VARCHAR NOT NULL,
    fields_hash VARCHAR NOT NULL,
    fields      VARCHAR NOT NULL,
    verified_at TIMESTAMP NOT NULL
)
"""


def fields_fingerprint(key: TargetKey, crm_names: list[str]) -> str:
    """Per target identity: a new portal / org is checked (and its fields created) on its first
    write."""
    import hashlib

    text = f"{key.target}:{key.identity}:{','.join(sorted(crm_names))}"
    return hashlib.md5(text.encode()).hexdigest()


def fields_verified(con: duckdb.DuckDBPyConnection, target: str, fingerprint: str) -> bool:
    if not table_exists(con, CRM_SYNC_FIELDS):
        return False
    row = con.execute(
        f"SELECT count(*) FROM {CRM_SYNC_FIELDS} WHERE target = ? AND fields_hash = ?",
        [target, fingerprint],
    ).fetchone()
    return bool(row and row[0])


def mark_fields_verified(
    con: duckdb.DuckDBPyConnection, target: str, fingerprint: str, crm_names: list[str]
) -> None:
    con.execute(_FIELDS_DDL)
    con.execute(f"DELETE FROM {CRM_SYNC_FIELDS} WHERE target = ?", [target])
    con.execute(
        f"INSERT INTO {CRM_SYNC_FIELDS} VALUES (?, ?, ?, now()::TIMESTAMP)",
        [target, fingerprint, ",".join(sorted(crm_names))],
    )


def forget_fields_verified(con: duckdb.DuckDBPyConnection, target: str) -> None:
    if table_exists(con, CRM_SYNC_FIELDS):
        con.execute(f"DELETE FROM {CRM_SYNC_FIELDS} WHERE target = ?", [target])
