"""The diff, in DuckDB: today's mapped values per record against what the CRM last accepted.

``build_plan`` writes two temporary tables (nothing in the warehouse file changes):

- ``sync_desired``: one row per scored record with every mapped field as canonical text, the
  payload JSON (non-NULL fields, plus NULLs of ``nulls: clear`` fields, plus stamps) and the hash of
  the diffed fields;
- ``sync_plan``: ``sync_desired`` joined to the ledger, with the list of fields whose value differs
  from the accepted one and a ``kind``: ``unchanged``, ``exported`` (unchanged, in an outbox file
  whose import nobody confirmed yet — not written again), ``stale`` (the CRM holds values of a later
  score day), ``retry`` (the same values are still pending / were rejected), ``new`` (never
  accepted) or ``changed``; ``to_send`` marks the records the run writes.

The ``audience`` field's source is not a scores column: it is the ``crm_audience`` of the day's
``alerts.audience_membership`` (NULL for an account in no audience, capped or in the control
group). Without membership rows for the day (no audiences yet, or not computed for it) the field
is left out of the plan, so the CRM keeps what it holds rather than being emptied.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

import duckdb

from acct_pipeline.sync.mapping import AUDIENCE_SOURCE, FieldMapping, FieldSpec
from acct_pipeline.warehouse import (
    ACCOUNT_SCORES,
    AS_OF_DATE,
    AUDIENCE_MEMBERSHIP,
    column_types,
    table_exists,
)

DESIRED = "sync_desired"
PLAN = "sync_plan"
SEND_KINDS = ("new", "changed", "retry")


@dataclass
class Plan:
    """What the diff found (counts over the scored records of one day)."""

    scored: int = 0
    duplicates: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    baseline: int = 0  # records with an accepted value in the ledger
    # changed records whose every changed field is one the CRM never accepted for them (a field
    # mapped since their last sync, e.g. a new audience field): a first fill, not a mass change
    first_fill: int = 0
    field_changes: dict[str, int] = field(default_factory=dict)
    missing_sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return self.kinds.get(kind, 0)

    @property
    def to_send(self) -> int:
        return sum(self.count(k) for k in SEND_KINDS)

    @property
    def change_share(self) -> float:
        """Share of already-synced records whose values would change (0 on a first sync).

        A record that only gains a field the CRM never held for it (newly mapped) is not
        counted: filling a new field says nothing about a broken score."""
        changed = self.count("changed") - self.first_fill
        return changed / self.baseline if self.baseline else 0.0


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _col(spec: FieldSpec) -> str:
    return _q("v_" + spec.name)


def _json_of(specs: tuple[FieldSpec, ...]) -> str:
    """SQL building a JSON object of the fields to send: non-NULL values, plus the NULLs of
    ``nulls: clear`` fields (``concat_ws`` skips the NULL entries of skipped fields)."""
    if not specs:
        return "'{}'"
    parts = []
    for f in specs:
        key = json.dumps(f.name)
        value = f"'{key}:' || CAST(to_json({_col(f)}) AS VARCHAR)"
        if f.nulls == "clear":
            parts.append(f"CASE WHEN {_col(f)} IS NULL THEN '{key}:null' ELSE {value} END")
        else:
            parts.append(f"CASE WHEN {_col(f)} IS NOT NULL THEN {value} END")
    return "'{' || concat_ws(',', " + ", ".join(parts) + ") || '}'"


def _all(spec: FieldSpec, fulls: dict[str, str | None]) -> str | None:
    return f"d.{_q('all_' + spec.name)}" if fulls.get(spec.name) else None


def _accepted(spec: FieldSpec) -> str:
    return f"json_extract_string(l.accepted_json, '$.\"{spec.name}\"')"


def _differs(spec: FieldSpec, new: str, old: str, full: str | None = None) -> str:
    """SQL: is ``new`` a material change from ``old`` (both canonical text, NULL = no value)?

    Numbers compare as numbers at the field's precision (``decimals``), and must move by at least
    ``tolerance``. A list shown as its top items (the reasons; ``full``: today's whole list) is
    unchanged while what the CRM shows is still true: every shown item is still, word for word,
    among today's items, and today's first item is among the shown ones — a reason moving from
    third to fourth place, or two reasons swapping places, says nothing new. Other text compares
    exactly.
    """
    if spec.type != "number":
        if full is None:
            return f"{new} IS DISTINCT FROM {old}"
        sep = spec.separator.replace("'", "''")
        shown = f"string_split({old}, '{sep}')"
        still_true = f"list_has_all({full}, {shown}) AND list_contains({shown}, {full}[1])"
        return f"({new} IS DISTINCT FROM {old} AND NOT coalesce({still_true}, false))"
    a, b = f"TRY_CAST({new} AS DOUBLE)", f"TRY_CAST({old} AS DOUBLE)"
    if spec.decimals is not None:
        a, b = f"round({a}, {int(spec.decimals)})", f"round({b}, {int(spec.decimals)})"
    if not spec.tolerance:
        return f"{a} IS DISTINCT FROM {b}"
    # a hair under the tolerance, so 0.30 - 0.25 (0.04999…) still counts as a 0.05 move
    tol = float(spec.tolerance) * (1 - 1e-9)
    return f"(({a} IS NULL) <> ({b} IS NULL) OR abs({a} - {b}) >= {tol!r})"


def _full_list(spec: FieldSpec, columns: dict[str, str]) -> str | None:
    """SQL for every item of a list column shown as its top ``top`` items, else None."""
    if spec.type != "text" or not spec.top:
        return None
    if not columns.get(spec.source.lower(), "").endswith("[]"):
        return None
    col = '"' + spec.source.replace('"', '""') + '"'
    return f"list_filter({col}, lambda s: s IS NOT NULL AND s <> '')"


def scores_columns(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The scores table's columns, lower-case name -> DuckDB type."""
    return {name.lower(): dtype for name, dtype in column_types(con, ACCOUNT_SCORES).items()}


def _audience_join(
    con: duckdb.DuckDBPyConnection, as_of: date, columns: dict[str, str]
) -> tuple[str, str] | None:
    """(select item, join clause) adding ``crm_audience`` of ``as_of`` to the scored rows, or None
    when the warehouse has no membership for that day (the clause takes one ``as_of`` parameter).
    An account may have two rows on a day (it left one audience and entered another): at most one
    of them has a ``crm_audience``."""
    if AUDIENCE_SOURCE in columns or not table_exists(con, AUDIENCE_MEMBERSHIP):
        return None
    have = con.execute(
        f"SELECT count(*) FROM {AUDIENCE_MEMBERSHIP} WHERE as_of_date = CAST(? AS DATE)", [as_of]
    ).fetchone()[0]
    if not have:
        return None
    join = f"""LEFT JOIN (SELECT trim(CAST(account_id AS VARCHAR)) AS _audience_account,
                                 max({AUDIENCE_SOURCE}) AS {AUDIENCE_SOURCE}
                          FROM {AUDIENCE_MEMBERSHIP}
                          WHERE as_of_date = CAST(? AS DATE)
                          GROUP BY 1) m
                   ON m._audience_account = trim(CAST(s.account_id AS VARCHAR))"""
    return f", m.{AUDIENCE_SOURCE}", join


def build_plan(
    con: duckdb.DuckDBPyConnection,
    mapping: FieldMapping,
    target: str,
    as_of: date,
    ledger_table: str,
    *,
    allow_stale: bool = False,
    fields_for: str | None = None,
    identity: str = "",
) -> Plan:
    """Diff the scores of ``as_of`` against the ledger of ``target`` at ``identity`` (the portal /
    org / folder: ``sync/identity.py``) — temp table ``sync_plan``.

    ``fields_for``: the CRM whose mapped fields are diffed (default ``target``; the outbox
    writes import files for one CRM)."""
    columns = scores_columns(con)
    specs = mapping.for_target(fields_for or target)
    plan = Plan()
    audience, join, params = "", "", [as_of, as_of]
    if any(f.source.lower() == AUDIENCE_SOURCE for f in mapping.fields):
        joined = _audience_join(con, as_of, columns)
        if joined:
            (audience, join), params = joined, [as_of, as_of, as_of]
            columns = {**columns, AUDIENCE_SOURCE: "VARCHAR"}
        elif AUDIENCE_SOURCE not in columns:
            # no membership for the day: leave the CRM's audience as it is (not emptied)
            specs = tuple(f for f in specs if f.source.lower() != AUDIENCE_SOURCE)
            if table_exists(con, AUDIENCE_MEMBERSHIP):
                plan.notes.append(
                    f"no audience membership for {as_of} in {AUDIENCE_MEMBERSHIP}: audience "
                    "fields not sent (materialize alerts/audience_membership for the day first)"
                )
    diff_specs = tuple(f for f in specs if f.diff)
    stamp_specs = tuple(f for f in specs if not f.diff)
    plan.missing_sources = [
        m for m in mapping.missing_sources(columns) if m.split(" <- ")[-1] != AUDIENCE_SOURCE
    ]

    values = ",\n       ".join(f"{mapping.value_sql(f, columns)} AS {_col(f)}" for f in specs)
    fulls = {f.name: _full_list(f, columns) for f in diff_specs}
    for f in diff_specs:
        if fulls[f.name]:
            values += f",\n       {fulls[f.name]} AS {_q('all_' + f.name)}"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {DESIRED} AS
        WITH src AS (
            SELECT trim(CAST(s.account_id AS VARCHAR)) AS record_id, s.*{audience},
                   count(*) OVER (PARTITION BY trim(CAST(s.account_id AS VARCHAR))) AS _copies
            FROM {ACCOUNT_SCORES} s {join}
            WHERE s.{AS_OF_DATE} = CAST(? AS DATE)
              AND s.account_id IS NOT NULL AND trim(CAST(s.account_id AS VARCHAR)) <> ''
            QUALIFY row_number() OVER (PARTITION BY trim(CAST(s.account_id AS VARCHAR))
                                       ORDER BY s.health_score DESC NULLS LAST) = 1
        ), vals AS (
            SELECT record_id, CAST(? AS DATE) AS as_of_date, _copies,
                   {values}
            FROM src
        )
        SELECT *,
               {_json_of(diff_specs)} AS diff_json,
               {_json_of(diff_specs + stamp_specs)} AS payload_json
        FROM vals
        """,
        params,
    )
    plan.scored, plan.duplicates = con.execute(
        f"SELECT count(*), coalesce(sum(_copies - 1), 0) FROM {DESIRED}"
    ).fetchone()

    changed_items = ", ".join(
        f"""CASE WHEN ({"true" if f.nulls == "clear" else f"d.{_col(f)} IS NOT NULL"})
                  AND {_differs(f, f"d.{_col(f)}", _accepted(f), _all(f, fulls))}
                 THEN '{f.name}' END"""
        for f in diff_specs
    )
    stale = "false" if allow_stale else "l.accepted_as_of > d.as_of_date"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {PLAN} AS
        WITH j AS (
            SELECT d.*, md5(d.diff_json) AS values_hash,
                   l.status AS ledger_status, l.values_hash AS ledger_values_hash,
                   l.accepted_json, l.accepted_as_of, l.message AS ledger_message,
                   coalesce(l.attempts, 0) AS ledger_attempts,
                   list_filter([{changed_items}], lambda x: x IS NOT NULL) AS changed_fields,
                   {stale} AS is_stale
            FROM {DESIRED} d
            LEFT JOIN {ledger_table} l
                   ON l.target = ? AND l.target_id = ? AND l.record_id = d.record_id
        )
        SELECT *,
               CASE WHEN len(changed_fields) = 0 AND ledger_status = 'exported' THEN 'exported'
                    WHEN len(changed_fields) = 0 THEN 'unchanged'
                    WHEN is_stale THEN 'stale'
                    WHEN ledger_status IN ('pending', 'rejected', 'in_flight')
                         AND ledger_values_hash = values_hash THEN 'retry'
                    WHEN accepted_json IS NULL THEN 'new'
                    ELSE 'changed' END AS kind,
               kind IN ('new', 'changed', 'retry') AS to_send
        FROM j
        ORDER BY record_id
        """,
        [target, identity],
    )
    plan.kinds = dict(con.execute(f"SELECT kind, count(*) FROM {PLAN} GROUP BY 1").fetchall())
    plan.baseline = con.execute(
        f"SELECT count(*) FROM {PLAN} WHERE accepted_json IS NOT NULL"
    ).fetchone()[0]
    plan.first_fill = con.execute(
        f"""SELECT count(*) FROM {PLAN}
            WHERE kind = 'changed'
              AND list_bool_and(list_transform(
                    changed_fields,
                    lambda f: json_extract(accepted_json, '$."' || f || '"') IS NULL))"""
    ).fetchone()[0]
    if plan.first_fill:
        plan.notes.append(
            f"{plan.first_fill:,} synced record(s) change only by a field the CRM never held for "
            "them (newly mapped): a first fill, left out of the change-share guard"
        )
    plan.field_changes = dict(
        con.execute(
            f"""SELECT f, count(*)
                FROM (SELECT unnest(changed_fields) AS f FROM {PLAN} WHERE to_send)
                GROUP BY 1 ORDER BY 2 DESC, 1"""
        ).fetchall()
    )
    return plan


def samples(con: duckdb.DuckDBPyConnection, limit: int) -> list[dict[str, str | None]]:
    """Before -> after of the changing fields, for the first ``limit`` records to send."""
    if limit <= 0:
        return []
    rows = con.execute(
        f"""SELECT record_id, kind, f AS field,
                   json_extract_string(accepted_json, '$."' || f || '"') AS before,
                   json_extract_string(payload_json, '$."' || f || '"') AS after
            FROM (SELECT * FROM {PLAN} WHERE to_send ORDER BY record_id LIMIT ?),
                 unnest(changed_fields) AS t(f)
            ORDER BY record_id, f""",
        [limit],
    ).fetchall()
    return [
        {"record_id": r[0], "kind": r[1], "field": r[2], "before": r[3], "after": r[4]}
        for r in rows
    ]


def records_to_send(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """(record_id, payload_json, values_hash) of every record to write, in record id order."""
    return con.execute(
        f"SELECT record_id, payload_json, values_hash FROM {PLAN} WHERE to_send ORDER BY record_id"
    ).fetchall()
