"""Row-level rules: which raw rows are quarantined, which values are set NULL, and why.

Every rule is derived from the landing contract (``acct_pipeline.warehouse.TableSpec``), so a
new column gets its rules by being declared. Rules are evaluated in SQL inside DuckDB over the
raw strings of a load.

Row rules (the row is quarantined for the first one it breaks; the other rows load):

``malformed_row``             the row has fewer or more fields than the header (a cut last row)
``missing_required:<col>``    a required column is empty
``missing_one_of:<a>,<b>``    none of the columns of which one must be given holds a value
                              (a marketing touch with neither ``account_id`` nor ``contact_id``)
``unknown_value:<col>``       a value outside the column's allowed list (a touch ``category``
                              that is not one of the engagement categories)

Value rules, checked in this order for each typed column:

``nonfinite_number:<col>``    ``NaN``, ``inf``, ``infinity`` in a number column
``malformed_<type>:<col>``    the value does not parse as the column's type
                              (``malformed_timestamp:occurred_at``; ``1e3`` is not an integer)
``special_timestamp:<col>``   a word DuckDB would turn into a timestamp (``infinity``,
                              ``-infinity``, ``epoch``): a timestamp must start with its year
``timestamp_too_early:<col>`` before ``ACCT_TIMESTAMP_FLOOR`` (default 1990-01-01)
``timestamp_too_late:<col>``  on or after ``ACCT_TIMESTAMP_CEILING`` (default 2100-01-01)
``negative_amount:<col>``     a non-negative column holds a negative number

A broken value of a required or key column quarantines the row. A broken value of an optional
column is set NULL, the row is kept, and a note ``<rule> (nulled)`` goes to the quarantine with
the file, row and raw record (``malformed_integer:employees (nulled)``): one bad optional field
never removes an account.

``duplicate_key:<key>``       a second row with the same key (the first good one is kept)
"""

from __future__ import annotations

from collections.abc import Mapping

from acct_pipeline.quality.settings import LandingRules
from acct_pipeline.warehouse import Column, TableSpec, quote_ident, quote_literal

RULE_MALFORMED_ROW = "malformed_row"
RULE_MISSING = "missing_required"
RULE_MISSING_ONE_OF = "missing_one_of"
RULE_UNKNOWN_VALUE = "unknown_value"
RULE_NEGATIVE = "negative_amount"
RULE_DUPLICATE = "duplicate_key"
RULE_NONFINITE = "nonfinite_number"
RULE_SPECIAL_TIMESTAMP = "special_timestamp"
RULE_TOO_EARLY = "timestamp_too_early"
RULE_TOO_LATE = "timestamp_too_late"

# A quarantine note about a value set NULL in a kept row ends with this.
NULLED_SUFFIX = " (nulled)"
NULLED_LIKE = "% (nulled)"  # SQL LIKE pattern matching those notes

_TYPE_RULE = {
    "TIMESTAMP": "malformed_timestamp",
    "DATE": "malformed_date",
    "BIGINT": "malformed_integer",
    "DOUBLE": "malformed_number",
    "BOOLEAN": "malformed_boolean",
}
_NUMBER_TYPES = ("BIGINT", "DOUBLE")
_TIME_TYPES = ("TIMESTAMP", "DATE")

# Every rule family, for the contract page (a test checks that each one is documented).
RULE_FAMILIES = (
    RULE_MALFORMED_ROW,
    RULE_MISSING,
    RULE_MISSING_ONE_OF,
    RULE_UNKNOWN_VALUE,
    RULE_NONFINITE,
    *_TYPE_RULE.values(),
    RULE_SPECIAL_TIMESTAMP,
    RULE_TOO_EARLY,
    RULE_TOO_LATE,
    RULE_NEGATIVE,
    RULE_DUPLICATE,
)


def cast_expr(col: Column, source: str | None = None) -> str:
    """SQL turning the raw string ``source`` (default: the column) into the column's type.

    Timestamps go through TIMESTAMPTZ so an explicit offset (``+02:00``, ``Z``) is honoured and
    stored as naive UTC (the connection's time zone is UTC).
    """
    src = source or quote_ident(col.name)
    if col.type == "VARCHAR":
        return src
    if col.type == "TIMESTAMP":
        return f"CAST(TRY_CAST({src} AS TIMESTAMPTZ) AS TIMESTAMP)"
    if col.type == "BIGINT":
        # Integers are written as digits: "12.5" seats and "1e3" employees are malformed, not
        # rounded or expanded ("12.0" is 12).
        return (
            f"CASE WHEN regexp_full_match({src}, '[+-]?[0-9]+(\\.0*)?') "
            f"THEN TRY_CAST({src} AS BIGINT) END"
        )
    return f"TRY_CAST({src} AS {col.type})"


def duplicate_rule(spec: TableSpec) -> str:
    return f"{RULE_DUPLICATE}:{','.join(spec.key)}"


def one_of_rule(spec: TableSpec) -> str:
    return f"{RULE_MISSING_ONE_OF}:{','.join(spec.one_of_required)}"


def nulls_bad_values(spec: TableSpec, col: Column) -> bool:
    """Whether a broken value of ``col`` is set NULL (an optional column) instead of costing
    the row (a required or key column)."""
    return not col.required and col.name not in spec.key


def value_rule_expr(col: Column, settings: LandingRules, source: str | None = None) -> str | None:
    """A SQL CASE giving the first value rule ``col``'s raw value breaks (NULL when none).

    ``None`` for a column without value rules (plain text).
    """
    src = source or quote_ident(col.name)
    whens: list[str] = []
    if col.type in _NUMBER_TYPES:
        whens.append(f"WHEN NOT isfinite(TRY_CAST({src} AS DOUBLE)) THEN '{RULE_NONFINITE}'")
    if col.type in _TYPE_RULE:
        whens.append(f"WHEN ({cast_expr(col, src)}) IS NULL THEN '{_TYPE_RULE[col.type]}'")
    if col.type in _TIME_TYPES:
        typed = cast_expr(col, src)
        floor = quote_literal(settings.timestamp_floor.isoformat())
        ceiling = quote_literal(settings.timestamp_ceiling.isoformat())
        whens += [
            f"WHEN NOT regexp_matches({src}, '^[0-9]') THEN '{RULE_SPECIAL_TIMESTAMP}'",
            f"WHEN ({typed}) < TIMESTAMP {floor} THEN '{RULE_TOO_EARLY}'",
            f"WHEN ({typed}) >= TIMESTAMP {ceiling} THEN '{RULE_TOO_LATE}'",
        ]
    if col.nonnegative:
        whens.append(f"WHEN TRY_CAST({src} AS DOUBLE) < 0 THEN '{RULE_NEGATIVE}'")
    if not whens:
        return None
    suffix = quote_literal(":" + col.name)
    body = "\n    ".join(whens)
    return f"(CASE WHEN {src} IS NULL THEN NULL\n    {body}\nEND) || {suffix}"


def rule_expr(
    spec: TableSpec, settings: LandingRules, value_columns: Mapping[str, str] | None = None
) -> str:
    """A SQL CASE giving the first row rule a row breaks (NULL when it breaks none).

    Expects the raw columns as trimmed VARCHAR (empty = NULL). Only required and key columns'
    value rules cost the row; optional columns are handled by ``value_rule_expr`` (set NULL).
    ``value_columns`` maps a column name to a column already holding its ``value_rule_expr``
    (so the casts run once); columns not in it get the expression inline. Duplicates are ranked
    afterwards among the rows that pass these rules, so a broken first copy never costs the good
    one.
    """
    value_columns = value_columns or {}
    whens: list[str] = []
    for col in spec.columns:
        if col.required:
            whens.append(
                f"WHEN {quote_ident(col.name)} IS NULL "
                f"THEN {quote_literal(f'{RULE_MISSING}:{col.name}')}"
            )
    if spec.one_of_required:
        none = " AND ".join(f"{quote_ident(c)} IS NULL" for c in spec.one_of_required)
        whens.append(f"WHEN {none} THEN {quote_literal(one_of_rule(spec))}")
    for col in spec.columns:
        if col.allowed:
            listed = ", ".join(quote_literal(v) for v in col.allowed)
            whens.append(
                f"WHEN {quote_ident(col.name)} NOT IN ({listed}) "
                f"THEN {quote_literal(f'{RULE_UNKNOWN_VALUE}:{col.name}')}"
            )
    for col in spec.columns:
        value = value_columns.get(col.name) or value_rule_expr(col, settings)
        if value is not None and not nulls_bad_values(spec, col):
            whens.append(f"WHEN ({value}) IS NOT NULL THEN {value}")
    if not whens:
        return "CAST(NULL AS VARCHAR)"
    return "CASE\n    " + "\n    ".join(whens) + "\nEND"


def rules_for(spec: TableSpec) -> list[str]:
    """Every rule name that can apply to a table (for documentation and check metadata)."""
    rules = [RULE_MALFORMED_ROW]
    rules += [f"{RULE_MISSING}:{c.name}" for c in spec.columns if c.required]
    if spec.one_of_required:
        rules.append(one_of_rule(spec))
    rules += [f"{RULE_UNKNOWN_VALUE}:{c.name}" for c in spec.columns if c.allowed]
    for col in spec.columns:
        names = []
        if col.type in _NUMBER_TYPES:
            names.append(RULE_NONFINITE)
        if col.type in _TYPE_RULE:
            names.append(_TYPE_RULE[col.type])
        if col.type in _TIME_TYPES:
            names += [RULE_SPECIAL_TIMESTAMP, RULE_TOO_EARLY, RULE_TOO_LATE]
        if col.nonnegative:
            names.append(RULE_NEGATIVE)
        suffix = NULLED_SUFFIX if nulls_bad_values(spec, col) else ""
        rules += [f"{n}:{col.name}{suffix}" for n in names]
    rules.append(duplicate_rule(spec))
    return rules
