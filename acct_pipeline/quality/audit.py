"""Nothing is silently dropped: every load's rows in = rows kept + rows quarantined.

``staging.load_audit`` records what each load counted; ``reconcile_load`` checks those counts
against the rows actually present in ``ingest.<table>`` and ``staging.quarantine``, so a bug that
loses rows between the split and the write is caught too, not only an arithmetic slip.

A kept row whose bad optional value was set NULL counts as kept; its note in the quarantine (rule
ending in `` (nulled)``) is not a quarantined row. The audit counts those notes separately
(``values_nulled``) and the reconciliation checks them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import duckdb

from acct_pipeline.quality.rules import NULLED_LIKE
from acct_pipeline.warehouse import LOAD_AUDIT, QUARANTINE, TableSpec, table_exists


@dataclass(frozen=True)
class LoadCounts:
    """One load (a snapshot, or one day of a daily table) as audited and as found."""

    table: str
    partition: date | None
    rows_in: int
    rows_kept: int
    rows_quarantined: int
    kept_found: int
    quarantined_found: int
    values_nulled: int = 0
    nulled_found: int = 0

    def problems(self) -> list[str]:
        where = f"{self.table}" + (f" {self.partition}" if self.partition else "")
        out = []
        if self.rows_in != self.rows_kept + self.rows_quarantined:
            out.append(
                f"{where}: rows in {self.rows_in} != kept {self.rows_kept} "
                f"+ quarantined {self.rows_quarantined}"
            )
        if self.kept_found != self.rows_kept:
            out.append(
                f"{where}: load audit says {self.rows_kept} rows kept, "
                f"ingest table holds {self.kept_found}"
            )
        if self.quarantined_found != self.rows_quarantined:
            out.append(
                f"{where}: load audit says {self.rows_quarantined} rows quarantined, "
                f"{QUARANTINE} holds {self.quarantined_found}"
            )
        if self.nulled_found != self.values_nulled:
            out.append(
                f"{where}: load audit says {self.values_nulled} values set NULL, "
                f"{QUARANTINE} holds {self.nulled_found} notes about them"
            )
        return out


@dataclass
class Reconciliation:
    """Every checked load of one raw table, and what does not add up."""

    table: str
    loads: list[LoadCounts] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    @property
    def totals(self) -> dict[str, int]:
        return {
            "rows_in": sum(x.rows_in for x in self.loads),
            "rows_kept": sum(x.rows_kept for x in self.loads),
            "rows_quarantined": sum(x.rows_quarantined for x in self.loads),
        }


def reconcile_load(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    days: Sequence[date] | None = None,
    rows_table: str | None = None,
) -> Reconciliation:
    """Check rows in = kept + quarantined for a snapshot table, or for each of ``days``.
    ``rows_table``: where the kept rows are, if not ``ingest.<table>`` (the Spark engine's
    events: a view over the lake)."""
    result = Reconciliation(table=spec.name)
    rows_table = rows_table or spec.qualified
    if not table_exists(con, LOAD_AUDIT) or not table_exists(con, rows_table):
        result.problems.append(
            f"{spec.name}: no load recorded yet (materialize ingest.{spec.name})"
        )
        return result
    if spec.partitioned:
        if not days:
            raise ValueError(f"{spec.name} is partitioned by day: pass days=")
        parts: list[date | None] = sorted(set(days))
    else:
        parts = [None]
    for part in parts:
        if part is None:
            audit_filter, rows_filter, params = "partition_date IS NULL", "", []
        else:
            audit_filter, rows_filter, params = (
                "partition_date = ?",
                f"WHERE {spec.partition_column} = ?",
                [part],
            )
        audit = con.execute(
            f"SELECT rows_in, rows_kept, rows_quarantined, coalesce(values_nulled, 0) "
            f"FROM {LOAD_AUDIT} "
            f"WHERE source_table = ? AND {audit_filter}",
            [spec.name, *params],
        ).fetchall()
        kept = con.execute(f"SELECT count(*) FROM {rows_table} {rows_filter}", params).fetchone()[0]
        quarantined, nulled = con.execute(
            f"SELECT count(*) FILTER (WHERE rule NOT LIKE ?), count(*) FILTER (WHERE rule LIKE ?) "
            f"FROM {QUARANTINE} WHERE source_table = ? AND {audit_filter}",
            [NULLED_LIKE, NULLED_LIKE, spec.name, *params],
        ).fetchone()
        where = spec.name + (f" {part}" if part else "")
        if len(audit) != 1:
            result.problems.append(f"{where}: expected one load audit row, found {len(audit)}")
            continue
        rows_in, rows_kept, rows_quarantined, values_nulled = (int(v) for v in audit[0])
        counts = LoadCounts(
            spec.name,
            part,
            rows_in,
            rows_kept,
            rows_quarantined,
            int(kept),
            int(quarantined),
            values_nulled,
            int(nulled),
        )
        result.loads.append(counts)
        result.problems += counts.problems()
    return result
