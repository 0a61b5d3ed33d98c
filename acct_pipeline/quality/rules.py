"""Row-level rules: which raw rows are quarantined, and why.

Every rule is derived from the landing contract (``acct_pipeline.warehouse.TableSpec``), so a
new column gets its rules by being declared. Rules are evaluated in SQL inside DuckDB over the
raw strings of a load, in this order; a row is quarantined for the first rule it breaks:

``missing_required:<col>``   a required column is empty
``malformed_<type>:<col>``    a typed column does not parse (``malformed_timestamp:occurred_at``)
``negative_amount:<col>``     a non-negative column holds a negative number
``duplicate_key:<key>``       a second row with the same key (the first one is kept)
"""

from __future__ import annotations

from acct_pipeline.warehouse import Column, TableSpec

RULE_MISSING = "missing_required"
RULE_NEGATIVE = "negative_amount"
RULE_DUPLICATE = "duplicate_key"

_TYPE_RULE = {
    "TIMESTAMP": "malformed_timestamp",
    "DATE": "malformed_date",
    "BIGINT": "malformed_integer",
    "DOUBLE": "malformed_number",
    "BOOLEAN": "malformed_boolean",
}


def cast_expr(col: Column, source: str | None = None) -> str:
    """SQL turning the raw string ``source`` (default: the column) into the column's type.

    Timestamps go through TIMESTAMPTZ so an explicit offset (``+02:00``, ``Z``) is honoured and
    stored as naive UTC (the connection's time zone is UTC).
    """
    src = source or col.name
    if col.type == "VARCHAR":
        return src
    if col.type == "TIMESTAMP":
        return f"CAST(TRY_CAST({src} AS TIMESTAMPTZ) AS TIMESTAMP)"
    if col.type == "BIGINT":
        # Integers must be integral: "12.5" seats is malformed, not rounded.
        as_double = f"TRY_CAST({src} AS DOUBLE)"
        return f"CASE WHEN {as_double} = floor({as_double}) THEN TRY_CAST({src} AS BIGINT) END"
    return f"TRY_CAST({src} AS {col.type})"


def duplicate_rule(spec: TableSpec) -> str:
    return f"{RULE_DUPLICATE}:{','.join(spec.key)}"


def rule_expr(spec: TableSpec) -> str:
    """A SQL CASE giving the first value rule a row breaks (NULL when it breaks none).

    Expects the raw columns as trimmed VARCHAR (empty = NULL). Duplicates are ranked afterwards
    among the rows that pass these rules, so a broken first copy never costs the good one.
    """
    whens: list[str] = []
    for col in spec.columns:
        if col.required:
            whens.append(f"WHEN {col.name} IS NULL THEN '{RULE_MISSING}:{col.name}'")
    for col in spec.columns:
        if col.type in _TYPE_RULE:
            whens.append(
                f"WHEN {col.name} IS NOT NULL AND ({cast_expr(col)}) IS NULL "
                f"THEN '{_TYPE_RULE[col.type]}:{col.name}'"
            )
    for col in spec.columns:
        if col.nonnegative:
            whens.append(
                f"WHEN TRY_CAST({col.name} AS DOUBLE) < 0 THEN '{RULE_NEGATIVE}:{col.name}'"
            )
    if not whens:
        return "CAST(NULL AS VARCHAR)"
    return "CASE\n    " + "\n    ".join(whens) + "\nEND"


def rules_for(spec: TableSpec) -> list[str]:
    """Every rule name that can apply to a table (for documentation and check metadata)."""
    rules = [f"{RULE_MISSING}:{c.name}" for c in spec.columns if c.required]
    rules += [f"{_TYPE_RULE[c.type]}:{c.name}" for c in spec.columns if c.type in _TYPE_RULE]
    rules += [f"{RULE_NEGATIVE}:{c.name}" for c in spec.columns if c.nonnegative]
    rules.append(duplicate_rule(spec))
    return rules
