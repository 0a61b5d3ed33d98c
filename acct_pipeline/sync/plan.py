"""The diff, in DuckDB: today's mapped values per record against what the CRM last accepted.

``build_plan`` writes two temporary tables (nothing in the warehouse file changes):

- ``sync_desired``: one row per scored record with every mapped field as canonical text, the
  payload JSON (non-NULL fields, plus NULLs of ``nulls: clear`` fields, plus stamps) and the hash of
  the diffed fields;
- ``sync_plan``: ``sync_desired`` joined to the ledger, with the list of fields whose value differs
  from the accepted one and a ``kind``: ``unchanged``, ``stale`` (the CRM holds values of a later
  score day), ``retry`` (the same values are still pending / were rejected), ``new`` (never
  accepted) or ``changed``; ``to_send`` marks the records the run writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

import duckdb

from acct_pipeline.sync.mapping import FieldMapping, FieldSpec
from acct_pipeline.warehouse import ACCOUNT_SCORES, AS_OF_DATE

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
    field_changes: dict[str, int] = field(default_factory=dict)
    missing_sources: list[str] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return self.kinds.get(kind, 0)

    @property
    def to_send(self) -> int:
        return sum(self.count(k) for k in SEND_KINDS)

    @property
    def change_share(self) -> float:
        """Share of already-synced records whose values would change (0 on a first sync)."""
        return self.count("changed") / self.baseline if self.baseline else 0.0


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


def scores_columns(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    schema, table = ACCOUNT_SCORES.split(".", 1)
    rows = con.execute(
        "SELECT lower(column_name), data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ?",
        [schema, table],
    ).fetchall()
    return {name: dtype for name, dtype in rows}


def build_plan(
    con: duckdb.DuckDBPyConnection,
    mapping: FieldMapping,
    target: str,
    as_of: date,
    ledger_table: str,
    *,
    allow_stale: bool = False,
) -> Plan:
    """Diff the scores of ``as_of`` against the ledger of ``target`` (temp table ``sync_plan``)."""
    columns = scores_columns(con)
    specs = mapping.for_target(target)
    diff_specs = tuple(f for f in specs if f.diff)
    stamp_specs = tuple(f for f in specs if not f.diff)
    plan = Plan(missing_sources=mapping.missing_sources(columns))

    values = ",\n       ".join(f"{mapping.value_sql(f, columns)} AS {_col(f)}" for f in specs)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {DESIRED} AS
        WITH src AS (
            SELECT trim(CAST(account_id AS VARCHAR)) AS record_id, *,
                   count(*) OVER (PARTITION BY trim(CAST(account_id AS VARCHAR))) AS _copies
            FROM {ACCOUNT_SCORES}
            WHERE {AS_OF_DATE} = CAST(? AS DATE)
              AND account_id IS NOT NULL AND trim(CAST(account_id AS VARCHAR)) <> ''
            QUALIFY row_number() OVER (PARTITION BY trim(CAST(account_id AS VARCHAR))
                                       ORDER BY health_score DESC NULLS LAST) = 1
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
        [as_of, as_of],
    )
    plan.scored, plan.duplicates = con.execute(
        f"SELECT count(*), coalesce(sum(_copies - 1), 0) FROM {DESIRED}"
    ).fetchone()

    changed_items = ", ".join(
        f"""CASE WHEN ({"true" if f.nulls == "clear" else f"d.{_col(f)} IS NOT NULL"})
                  AND d.{_col(f)} IS DISTINCT FROM
                      json_extract_string(l.accepted_json, '$."{f.name}"')
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
            LEFT JOIN {ledger_table} l ON l.target = ? AND l.record_id = d.record_id
        )
        SELECT *,
               CASE WHEN len(changed_fields) = 0 THEN 'unchanged'
                    WHEN is_stale THEN 'stale'
                    WHEN ledger_status IN ('pending', 'rejected', 'in_flight')
                         AND ledger_values_hash = values_hash THEN 'retry'
                    WHEN accepted_json IS NULL THEN 'new'
                    ELSE 'changed' END AS kind,
               kind IN ('new', 'changed', 'retry') AS to_send
        FROM j
        ORDER BY record_id
        """,
        [target],
    )
    plan.kinds = dict(con.execute(f"SELECT kind, count(*) FROM {PLAN} GROUP BY 1").fetchall())
    plan.baseline = con.execute(
        f"SELECT count(*) FROM {PLAN} WHERE accepted_json IS NOT NULL"
    ).fetchone()[0]
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
