"""Expectation suites: what the raw tables, the signals and the scores must look like.

Plain data, no Great Expectations import: a suite is a list of ``Expectation``s, each naming the
GX expectation class it becomes, its arguments, the columns it needs and the Dagster check name
it reports under (``check``, also stored in the GX expectation's ``meta``). ``validate.py`` turns
them into a GX 1.x suite when a check runs, so loading the Dagster definitions never pays the
GX import (docs/traps.md, "Great Expectations import cost").

Every expectation validates one of three frames built from the warehouse:

``rows``    the table's rows (for a daily table: the partitions being checked)
``days``    one row per partition being checked: ``day``, ``row_count``, ``previous_row_count``
            (the comparable earlier partition: the day before, or for product events the same
            weekday a week before) and ``volume_ratio`` — freshness and volume
``schema``  one row per expected column: ``column_name``, ``expected_family``,
            ``actual_family`` (``missing`` when absent) — types

Arguments that depend on the moment of validation (now, the freshness horizon, the previous
load's row count, the volume band from the environment) are computed by ``kwargs_fn`` from a
``Context``; when it returns ``None`` the expectation is skipped and the check says why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from acct_pipeline.scoring.lifecycle import STATUSES
from acct_pipeline.scoring.tiers import model_tier_names
from acct_pipeline.settings import environ
from acct_pipeline.warehouse import (
    ACCOUNT_SCORES,
    ACCOUNT_SIGNALS,
    AS_OF_DATE,
    BILLING_CUSTOMERS,
    BILLING_INVOICES,
    BILLING_SUBSCRIPTIONS,
    CRM_ACTIVITIES,
    CRM_COMPANIES,
    CRM_CONTACTS,
    CRM_TICKETS,
    EVENT_DATE,
    LOADED_AT,
    PRODUCT_EVENTS,
    PRODUCT_GROUPS,
    RAW_TABLES,
    SOURCE,
    TableSpec,
)

Target = Literal["rows", "days", "schema"]
Severity = Literal["ERROR", "WARN"]

# ---------------------------------------------------------------------------------------------
# Check names. Contract-derived names are built by the helpers below (``<column>_not_null``);
# the fixed ones are constants so the Dagster checks, the sync guard and the tests agree.
# ---------------------------------------------------------------------------------------------

KEY_UNIQUE = "key_unique"
COLUMN_TYPES = "column_types_match_contract"
PARTITION_HAS_ROWS = "partition_has_rows"
VOLUME_VS_PREVIOUS_PARTITION = "volume_within_band_of_previous_partition"
VOLUME_VS_PREVIOUS_LOAD = "volume_within_band_of_previous_load"
DATA_IS_FRESH = "latest_record_is_recent"
OCCURRED_ON_PARTITION_DAY = "occurred_at_on_partition_day"

HEALTH_SCORE_IN_RANGE = "health_score_in_range"
ENGAGEMENT_SCORE_IN_RANGE = "engagement_score_in_range"
VALUE_SCORE_IN_RANGE = "value_score_in_range"
CHURN_PROBABILITY_IN_RANGE = "churn_probability_in_range"
TIER_ALLOWED = "tier_allowed_values"
PREVIOUS_TIER_ALLOWED = "previous_tier_allowed_values"
TREND_ALLOWED = "trend_allowed_values"
SCORE_DELTA_7D_IN_RANGE = "score_delta_7d_in_range"
SCORE_DELTA_30D_IN_RANGE = "score_delta_30d_in_range"
AS_OF_DATE_NOT_IN_FUTURE = "as_of_date_not_in_future"


def not_null(column: str) -> str:
    return f"{column}_not_null"


def not_negative(column: str) -> str:
    return f"{column}_not_negative"


def allowed_values(column: str) -> str:
    return f"{column}_allowed_values"


def not_in_future(column: str) -> str:
    return f"{column}_not_in_future"


def in_range(column: str) -> str:
    return f"{column}_in_range"


# ---------------------------------------------------------------------------------------------
# Settings read from the environment when a check runs (not at import).
# ---------------------------------------------------------------------------------------------

VOLUME_BAND_ENV = "ACCT_VOLUME_BAND"  # "0.5,2.0": a partition / load may be 50 %..200 % of the last
DEFAULT_VOLUME_BAND = (0.5, 2.0)
FUTURE_TOLERANCE = timedelta(minutes=10)  # clock skew between a source system and us

TRENDS: tuple[str, ...] = ("improving", "stable", "declining")


def volume_band(env: Mapping[str, str] | None = None) -> tuple[float, float]:
    """The allowed ratio of a partition's (or load's) row count to the previous one."""
    env = environ(env)
    raw = (env.get(VOLUME_BAND_ENV) or "").strip()
    if not raw:
        return DEFAULT_VOLUME_BAND
    try:
        low, high = (float(x) for x in raw.split(","))
    except ValueError as exc:
        raise ValueError(
            f"{VOLUME_BAND_ENV}={raw!r}: expected two ratios 'low,high', e.g. '0.5,2.0'"
        ) from exc
    if not 0 <= low <= 1 <= high:
        raise ValueError(f"{VOLUME_BAND_ENV}={raw!r}: need 0 <= low <= 1 <= high")
    return low, high


@dataclass(frozen=True)
class Context:
    """What a validation knows about its moment: used by the dynamic expectations."""

    now: datetime  # naive UTC
    horizon: date | None = None  # the newest day of data in the warehouse (freshness reference)
    previous_row_count: int | None = None  # the previous load of a snapshot table
    band: tuple[float, float] = DEFAULT_VOLUME_BAND


KwargsFn = Callable[[Context], "dict[str, Any] | None"]


@dataclass(frozen=True)
class Expectation:
    """One GX expectation, reported as one Dagster asset check."""

    check: str
    gx_type: str  # class name in ``great_expectations.expectations``
    description: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    kwargs_fn: KwargsFn | None = None
    columns: tuple[str, ...] = ()  # needed in the ``rows`` frame; absent -> skipped
    target: Target = "rows"
    blocking: bool = False
    severity: Severity = "ERROR"

    def resolve_kwargs(self, ctx: Context) -> dict[str, Any] | None:
        """The arguments for this validation, or ``None`` when it cannot apply now."""
        dynamic = self.kwargs_fn(ctx) if self.kwargs_fn else {}
        if dynamic is None:
            return None
        return {**self.kwargs, **dynamic}


@dataclass(frozen=True)
class Suite:
    """The expectations of one table, and how to read that table."""

    name: str
    table: str  # fully qualified
    expectations: tuple[Expectation, ...]
    partition_column: str | None = None  # daily tables: the DATE column of the partition
    # column -> family for the schema frame; optional ones are checked only when present
    schema: Mapping[str, str] = field(default_factory=dict)
    optional_columns: frozenset[str] = frozenset()
    # The partition a day's volume is compared with: 1 = the day before; 7 = the same weekday a
    # week before, for data with a weekly rhythm (B2B product usage drops ~70 % at weekends).
    volume_lag_days: int = 1

    @property
    def checks(self) -> list[str]:
        return [e.check for e in self.expectations]

    def __post_init__(self) -> None:
        names = self.checks
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"suite {self.name}: check names {dupes} are used twice")

    def rows_columns(self) -> list[str]:
        """The columns the ``rows`` frame needs (in suite order, without repeats)."""
        cols: list[str] = []
        for e in self.expectations:
            for c in e.columns:
                if c not in cols:
                    cols.append(c)
        return cols

    def expectation(self, check: str) -> Expectation:
        for e in self.expectations:
            if e.check == check:
                return e
        raise KeyError(f"suite {self.name} has no check {check!r}")


# ---------------------------------------------------------------------------------------------
# Building blocks.
# ---------------------------------------------------------------------------------------------

TYPE_FAMILY = {
    "VARCHAR": "text",
    "BIGINT": "integer",
    "INTEGER": "integer",
    "DOUBLE": "number",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp",
    "DATE": "date",
}


def _not_null(column: str, blocking: bool = False, what: str = "") -> Expectation:
    return Expectation(
        check=not_null(column),
        gx_type="ExpectColumnValuesToNotBeNull",
        kwargs={"column": column},
        columns=(column,),
        blocking=blocking,
        description=f"Every row has a {column}{what}.",
    )


def _not_null_unless_churned(column: str) -> Expectation:
    """Blocking not-null on a score column, except for churned accounts, which have none."""
    derived = f"_{column}_unless_churned"
    return Expectation(
        check=not_null(column),
        gx_type="ExpectColumnValuesToNotBeNull",
        kwargs={"column": derived},
        columns=(derived,),
        blocking=True,
        description=f"Every row has a {column}, except accounts whose lifecycle status is "
        "Churned (they have left the book).",
    )


def _unique(columns: tuple[str, ...], blocking: bool = False) -> Expectation:
    if len(columns) == 1:
        return Expectation(
            check=KEY_UNIQUE,
            gx_type="ExpectColumnValuesToBeUnique",
            kwargs={"column": columns[0]},
            columns=columns,
            blocking=blocking,
            description=f"The key {columns[0]} identifies one row (no duplicates).",
        )
    return Expectation(
        check=KEY_UNIQUE,
        gx_type="ExpectCompoundColumnsToBeUnique",
        kwargs={"column_list": list(columns)},
        columns=columns,
        blocking=blocking,
        description=f"The key ({', '.join(columns)}) identifies one row (no duplicates).",
    )


def _between(
    check: str,
    column: str,
    low: float | None,
    high: float | None,
    blocking: bool = False,
    unit: str = "",
) -> Expectation:
    bounds = {k: v for k, v in {"min_value": low, "max_value": high}.items() if v is not None}
    if low is not None and high is not None:
        text = f"within {low:g}..{high:g}{unit}"
    elif low is not None:
        text = f"at least {low:g}{unit}"
    else:
        text = f"at most {high:g}{unit}"
    return Expectation(
        check=check,
        gx_type="ExpectColumnValuesToBeBetween",
        kwargs={"column": column, **bounds},
        columns=(column,),
        blocking=blocking,
        description=f"{column} is {text} (empty values are allowed).",
    )


def _in_set(
    column: str, values: tuple[str, ...], blocking: bool = False, severity: Severity = "WARN"
) -> Expectation:
    return Expectation(
        check=allowed_values(column),
        gx_type="ExpectColumnValuesToBeInSet",
        kwargs={"column": column, "value_set": list(values)},
        columns=(column,),
        blocking=blocking,
        severity=severity,
        description=f"{column} is one of {', '.join(values)} (empty values are allowed).",
    )


def _in_model_tiers(column: str) -> Expectation:
    """Blocking: the tier is one of the scoring model's tier names (read when the check runs,
    so a model that renames its tiers is followed)."""
    return Expectation(
        check=allowed_values(column),
        gx_type="ExpectColumnValuesToBeInSet",
        kwargs={"column": column},
        kwargs_fn=lambda ctx: {"value_set": list(model_tier_names())},
        columns=(column,),
        blocking=True,
        severity="ERROR",
        description=f"{column} is one of the scoring model's tier names (empty values are "
        "allowed).",
    )


def _not_in_future(column: str, check: str | None = None, blocking: bool = False) -> Expectation:
    return Expectation(
        check=check or not_in_future(column),
        gx_type="ExpectColumnValuesToBeBetween",
        kwargs={"column": column},
        kwargs_fn=lambda ctx: {"max_value": ctx.now + FUTURE_TOLERANCE},
        columns=(column,),
        blocking=blocking,
        description=f"No {column} lies in the future (beyond now + {FUTURE_TOLERANCE}).",
    )


def _column_types(blocking: bool = False) -> Expectation:
    return Expectation(
        check=COLUMN_TYPES,
        gx_type="ExpectColumnPairValuesToBeEqual",
        kwargs={"column_A": "actual_family", "column_B": "expected_family"},
        target="schema",
        blocking=blocking,
        description="Every expected column exists with the expected type (text, integer, number, "
        "timestamp, date, boolean, list).",
    )


def _partition_has_rows() -> Expectation:
    return Expectation(
        check=PARTITION_HAS_ROWS,
        gx_type="ExpectColumnValuesToBeBetween",
        kwargs={"column": "row_count", "min_value": 1},
        target="days",
        severity="WARN",
        description="Freshness: every checked day actually has data (an empty day is reported, "
        "not silently scored).",
    )


def _volume_vs_previous_partition(lag_days: int = 1) -> Expectation:
    previous = "the day before" if lag_days == 1 else f"the same weekday {lag_days} days before"
    return Expectation(
        check=VOLUME_VS_PREVIOUS_PARTITION,
        gx_type="ExpectColumnValuesToBeBetween",
        kwargs={"column": "volume_ratio"},
        kwargs_fn=lambda ctx: {"min_value": ctx.band[0], "max_value": ctx.band[1]},
        target="days",
        severity="WARN",
        description=f"Volume: a day's row count is within the band ({VOLUME_BAND_ENV}, default "
        f"{DEFAULT_VOLUME_BAND[0]:g}x..{DEFAULT_VOLUME_BAND[1]:g}x) of {previous}.",
    )


def _volume_vs_previous_load() -> Expectation:
    def bounds(ctx: Context) -> dict[str, Any] | None:
        if ctx.previous_row_count is None:
            return None
        return {
            "min_value": int(ctx.previous_row_count * ctx.band[0]),
            "max_value": int(ctx.previous_row_count * ctx.band[1]) + 1,
        }

    return Expectation(
        check=VOLUME_VS_PREVIOUS_LOAD,
        gx_type="ExpectTableRowCountToBeBetween",
        kwargs_fn=bounds,
        severity="WARN",
        description="Volume: the snapshot's row count is within the band "
        f"({VOLUME_BAND_ENV}, default "
        f"{DEFAULT_VOLUME_BAND[0]:g}x..{DEFAULT_VOLUME_BAND[1]:g}x) of the previous load.",
    )


def _fresh(column: str, max_age_days: int) -> Expectation:
    def bounds(ctx: Context) -> dict[str, Any] | None:
        reference = ctx.horizon or ctx.now.date()
        return {
            "min_value": datetime.combine(
                reference - timedelta(days=max_age_days), datetime.min.time()
            )
        }

    return Expectation(
        check=DATA_IS_FRESH,
        gx_type="ExpectColumnMaxToBeBetween",
        kwargs={"column": column},
        kwargs_fn=bounds,
        columns=(column,),
        severity="WARN",
        description=f"Freshness: the newest {column} is at most {max_age_days} days older than the "
        "newest day of product events loaded (the data horizon), so a stalled export is noticed.",
    )


# ---------------------------------------------------------------------------------------------
# Raw tables: derived from the landing contract, plus what the contract cannot say.
# ---------------------------------------------------------------------------------------------

# Timestamps that record something that already happened (term_end, due_date, period_end may
# legitimately lie ahead).
HISTORICAL_TIMESTAMPS: dict[str, tuple[str, ...]] = {
    CRM_COMPANIES.name: ("created_at", "updated_at"),
    CRM_CONTACTS.name: ("created_at", "left_company_at", "updated_at"),
    CRM_ACTIVITIES.name: ("occurred_at",),
    CRM_TICKETS.name: ("created_at", "closed_at"),
    BILLING_CUSTOMERS.name: ("created_at",),
    BILLING_SUBSCRIPTIONS.name: ("started_at", "canceled_at"),
    BILLING_INVOICES.name: ("created_at", "paid_at"),
    PRODUCT_GROUPS.name: ("created_at",),
    PRODUCT_EVENTS.name: ("occurred_at",),
}

ALLOWED_VALUES: dict[str, dict[str, tuple[str, ...]]] = {
    CRM_ACTIVITIES.name: {
        "activity_type": ("email_sent", "email_reply", "meeting", "call", "nps_response")
    },
    CRM_TICKETS.name: {
        "severity": ("low", "medium", "high", "urgent"),
        "status": ("open", "pending", "closed"),
    },
    # plan names are each company's own (the sample's starter / growth / enterprise, another
    # book's team / business / scale): no fixed list; statuses are the billing system's vocabulary
    BILLING_SUBSCRIPTIONS.name: {
        "status": ("active", "past_due", "unpaid", "canceled", "trialing"),
    },
    BILLING_INVOICES.name: {"status": ("draft", "open", "paid", "uncollectible", "void")},
}

RANGES: dict[str, dict[str, tuple[float, float]]] = {
    CRM_ACTIVITIES.name: {"value": (0, 10)},  # NPS answers
    CRM_TICKETS.name: {"csat_score": (1, 5)},
}

# Product usage has a weekly rhythm: compare a day with the same weekday a week before.
EVENTS_VOLUME_LAG_DAYS = 7

# (column, max age in days relative to the data horizon) for tables that grow every few days.
FRESHNESS: dict[str, tuple[str, int]] = {
    CRM_ACTIVITIES.name: ("occurred_at", 3),
    CRM_TICKETS.name: ("created_at", 14),
    BILLING_INVOICES.name: ("created_at", 35),
}


def raw_suite(spec: TableSpec) -> Suite:
    """The suite of one raw table: keys, required values, types, ranges, allowed values,
    timestamps not in the future, freshness and volume."""
    exps: list[Expectation] = []
    exps += [_not_null(k, what=" (the key)") for k in spec.key]
    exps.append(_unique(spec.key))
    exps += [_not_null(c) for c in spec.required_columns if c not in spec.key]
    exps.append(_column_types())
    exps += [_between(not_negative(c.name), c.name, 0, None) for c in spec.columns if c.nonnegative]
    exps += [
        _between(in_range(col), col, lo, hi) for col, (lo, hi) in RANGES.get(spec.name, {}).items()
    ]
    exps += [_in_set(col, values) for col, values in ALLOWED_VALUES.get(spec.name, {}).items()]
    exps += [_not_in_future(c) for c in HISTORICAL_TIMESTAMPS.get(spec.name, ())]
    if spec.partitioned:
        exps.append(
            Expectation(
                check=OCCURRED_ON_PARTITION_DAY,
                gx_type="ExpectColumnPairValuesToBeEqual",
                kwargs={"column_A": "_occurred_day", "column_B": EVENT_DATE},
                columns=("_occurred_day", EVENT_DATE),
                severity="WARN",
                description="Every event of a day's file happened on that UTC day (a wrong "
                "day file would shift usage between partitions).",
            )
        )
        exps += [_partition_has_rows(), _volume_vs_previous_partition(EVENTS_VOLUME_LAG_DAYS)]
    else:
        if spec.name in FRESHNESS:
            exps.append(_fresh(*FRESHNESS[spec.name]))
        exps.append(_volume_vs_previous_load())
    schema = {c.name: TYPE_FAMILY[c.type] for c in spec.columns}
    schema[SOURCE] = "text"
    schema[LOADED_AT] = "timestamp"
    if spec.partitioned:
        schema[EVENT_DATE] = "date"
    return Suite(
        name=f"ingest.{spec.name}",
        table=spec.qualified,
        expectations=tuple(exps),
        partition_column=spec.partition_column,
        schema=schema,
        volume_lag_days=EVENTS_VOLUME_LAG_DAYS if spec.partitioned else 1,
    )


RAW_SUITES: dict[str, Suite] = {spec.name: raw_suite(spec) for spec in RAW_TABLES}

# ---------------------------------------------------------------------------------------------
# Signals and scores. The scoring engine may not produce every column yet: expectations on an
# absent column are skipped (and say so), never failed; ``schema`` lists optional columns too.
# ---------------------------------------------------------------------------------------------

# Names as in acct_pipeline/scoring/sql/signals.py; a signal the engine does not produce is
# skipped by its check, not failed.
SIGNAL_COUNTS = (
    "active_users_7d",
    "active_users_30d",
    "active_days_30d",
    "events_30d",
    "key_features_used_30d",
    "emails_replied_30d",
    "meetings_30d",
    "engaged_contacts_30d",
    "engagement_decayed",
    "days_since_last_touch",
    "open_tickets",
    "open_high_severity_tickets",
    "escalations_90d",
    "median_resolution_hours_90d",
    "failed_payments_30d",
    "overdue_invoices",
    "overdue_amount",
    "seats",
    "employees",
)
SIGNAL_REQUIRED = ("account_id", AS_OF_DATE)


def signals_suite() -> Suite:
    exps: list[Expectation] = [
        _not_null("account_id", what=" (the key)"),
        _not_null(AS_OF_DATE, what=" (the partition)"),
        _unique(("account_id", AS_OF_DATE)),
        _column_types(),
        _between(not_negative("mrr"), "mrr", 0, None),
        *(_between(not_negative(c), c, 0, None) for c in SIGNAL_COUNTS),
        _between(not_negative("seat_utilisation"), "seat_utilisation", 0, None),
        _between(in_range("nps_latest"), "nps_latest", 0, 10),
        _between(in_range("csat_latest"), "csat_latest", 1, 5),
        _not_in_future(AS_OF_DATE, check=AS_OF_DATE_NOT_IN_FUTURE),
        _partition_has_rows(),
        _volume_vs_previous_partition(),
    ]
    schema = {"account_id": "text", AS_OF_DATE: "date", "mrr": "number"}
    schema |= {c: "number" for c in SIGNAL_COUNTS}
    schema |= {"seat_utilisation": "number", "nps_latest": "number", "csat_latest": "number"}
    return Suite(
        name="features.account_signals",
        table=ACCOUNT_SIGNALS,
        expectations=tuple(exps),
        partition_column=AS_OF_DATE,
        schema=schema,
        optional_columns=frozenset(schema) - set(SIGNAL_REQUIRED),
    )


SCORE_REQUIRED = ("account_id", AS_OF_DATE, "health_score", "tier", "model_version")


def scores_suite() -> Suite:
    """Scores: everything the CRM would show is blocking (ranges, nulls, allowed values, key)."""
    exps: list[Expectation] = [
        _not_null("account_id", blocking=True, what=" (the CRM record id)"),
        _not_null(AS_OF_DATE, blocking=True, what=" (the partition)"),
        _unique(("account_id", AS_OF_DATE), blocking=True),
        _not_null_unless_churned("health_score"),
        _not_null_unless_churned("tier"),
        _in_set("lifecycle_status", STATUSES, blocking=True, severity="ERROR"),
        _not_null("model_version", blocking=True),
        _column_types(blocking=True),
        _between(HEALTH_SCORE_IN_RANGE, "health_score", 0, 100, blocking=True),
        _between(ENGAGEMENT_SCORE_IN_RANGE, "engagement_score", 0, 100, blocking=True),
        _between(VALUE_SCORE_IN_RANGE, "value_score", 0, 100, blocking=True),
        _between(CHURN_PROBABILITY_IN_RANGE, "churn_probability", 0, 1, blocking=True),
        _between(SCORE_DELTA_7D_IN_RANGE, "score_delta_7d", -100, 100, blocking=True),
        _between(SCORE_DELTA_30D_IN_RANGE, "score_delta_30d", -100, 100, blocking=True),
        _in_model_tiers("tier"),
        _in_model_tiers("previous_tier"),
        _in_set("trend", TRENDS, blocking=True, severity="ERROR"),
        _not_in_future(AS_OF_DATE, check=AS_OF_DATE_NOT_IN_FUTURE),
        _partition_has_rows(),
        _volume_vs_previous_partition(),
    ]
    schema = {
        "account_id": "text",
        AS_OF_DATE: "date",
        "health_score": "number",
        "engagement_score": "number",
        "value_score": "number",
        "churn_probability": "number",
        "tier": "text",
        "previous_tier": "text",
        "score_delta_7d": "number",
        "score_delta_30d": "number",
        "trend": "text",
        "reason_codes": "list",
        "recommended_playbook": "text",
        "model_version": "text",
        "lifecycle_status": "text",
        "data_coverage": "number",
        "churn_model_version": "text",
        "churn_note": "text",
    }
    return Suite(
        name="scores.account_scores",
        table=ACCOUNT_SCORES,
        expectations=tuple(exps),
        partition_column=AS_OF_DATE,
        schema=schema,
        optional_columns=frozenset(schema) - set(SCORE_REQUIRED),
    )


SIGNALS_SUITE = signals_suite()
SCORES_SUITE = scores_suite()

# The checks that protect the CRM: a partition failing any of them must never be synced.
BLOCKING_SCORE_CHECKS: tuple[str, ...] = tuple(
    e.check for e in SCORES_SUITE.expectations if e.blocking
)
