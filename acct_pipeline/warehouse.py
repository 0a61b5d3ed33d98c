"""The DuckDB warehouse: the one module that knows table names, columns and how to open the file.

Layers above this one (connectors, quality, scoring, sync, defs) refer to tables through the
constants and ``TableSpec`` objects defined here, never through string literals of their own.

Schemas mirror the Dagster asset key prefixes: ``ingest`` (raw copies), ``staging`` (cleaned,
matched), ``features``, ``scores``, ``sync`` and ``alerts``. Daily partitioned tables store their
partition column as DATE (a VARCHAR partition column makes re-runs double rows: docs/traps.md,
"DuckDB partition column type").
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from acct_pipeline.settings import CoreSettings, environ, get

DEFAULT_WAREHOUSE = "data/warehouse.duckdb"
WAREHOUSE_ENV = "ACCT_WAREHOUSE"
MEMORY_LIMIT_ENV = "ACCT_DUCKDB_MEMORY_LIMIT"
CHECKPOINT_ENV = "ACCT_DUCKDB_CHECKPOINT_THRESHOLD"
DEFAULT_CHECKPOINT_THRESHOLD = "1GB"
WRITER_WAIT_ENV = "ACCT_WRITER_WAIT_SECONDS"
DEFAULT_WRITER_WAIT_SECONDS = 300.0
LOCK_POLL_SECONDS = 0.5

_log = logging.getLogger(__name__)


def checkpoint_threshold() -> str:
    """WAL size at which DuckDB checkpoints (``ACCT_DUCKDB_CHECKPOINT_THRESHOLD``, default 1GB)."""
    return str(get(CoreSettings, "checkpoint_threshold"))


def quote_ident(name: str) -> str:
    """``name`` as a SQL identifier, whatever it contains (column names come from files)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """``value`` as a SQL string literal (for the few places that cannot take a parameter)."""
    return "'" + value.replace("'", "''") + "'"


SCHEMAS = ("ingest", "staging", "features", "scores", "sync", "alerts")


class WarehouseMissing(FileNotFoundError):
    """The warehouse file to read does not exist."""


class WarehouseBusy(RuntimeError):
    """Another process held the warehouse's lock for longer than the writer wait allows."""


class WarehouseSettingError(ValueError):
    """A warehouse setting (environment variable) has a value that cannot be used."""


def writer_wait_seconds() -> float:
    """How long to wait for another process's lock (``ACCT_WRITER_WAIT_SECONDS``, default 300)."""
    raw = environ().get(WRITER_WAIT_ENV)
    if not raw:
        return DEFAULT_WRITER_WAIT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        raise WarehouseSettingError(
            f"{WRITER_WAIT_ENV}={raw!r} is not a number of seconds"
        ) from None
    return max(value, 0.0)


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")


def lock_conflict(exc: BaseException) -> str | None:
    """``PID n (command)`` of the process holding a DuckDB file lock, if ``exc`` is that error.

    DuckDB's message names the PID and the executable; the command line (when this machine can
    see it) says which program it is, e.g. ``acct-pipeline run`` or ``dagster api execute_run``.
    """
    if not isinstance(exc, duckdb.IOException) or "Could not set lock" not in str(exc):
        return None
    match = _LOCK_HOLDER.search(str(exc))
    if match is None:
        return "another process"
    pid = int(match.group(2))
    return f"PID {pid} ({_process_command(pid) or match.group(1)})"


def _process_command(pid: int) -> str | None:
    """The first words of a process's command line (never its whole argument list)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    words = [
        Path(w.decode(errors="replace")).name if i < 2 else w.decode(errors="replace")
        for i, w in enumerate(argv[:5])
        if w
    ]
    text = " ".join(" ".join(words).split())  # one line, whatever the arguments hold
    return (text[:77] + "...") if len(text) > 80 else text or None


def open_waiting_for_lock(
    opener: Callable[[], duckdb.DuckDBPyConnection],
    target: str | Path,
    *,
    wait_seconds: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> duckdb.DuckDBPyConnection:
    """``opener()``, retried while another process holds ``target``'s lock.

    DuckDB lets one process write a file (and no process read it meanwhile): a writer waits here
    for the one before it instead of failing. ``on_wait`` gets one message when the wait starts
    (default: a log warning). Raises ``WarehouseBusy`` with a one-line message naming the process
    holding the lock after ``wait_seconds`` (default ``ACCT_WRITER_WAIT_SECONDS``).
    """
    limit = writer_wait_seconds() if wait_seconds is None else wait_seconds
    deadline = time.monotonic() + limit
    told = False
    while True:
        try:
            return opener()
        except duckdb.IOException as exc:
            holder = lock_conflict(exc)
            if holder is None:
                raise
            if time.monotonic() >= deadline:
                raise WarehouseBusy(
                    f"{target} is locked by {holder}: gave up after {limit:g} s "
                    f"({WRITER_WAIT_ENV}); wait for it to finish and retry"
                ) from None
            if not told:
                (on_wait or _log.warning)(
                    f"waiting for {holder} to release {target} "
                    f"(up to {limit:g} s, {WRITER_WAIT_ENV}) ..."
                )
                told = True
            time.sleep(LOCK_POLL_SECONDS)


def wait_for_writer(
    path: str | Path | None = None,
    *,
    wait_seconds: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> None:
    """Return once this process could open the warehouse for writing (nothing if it does not
    exist yet); ``WarehouseBusy`` after the wait. For commands that are about to write."""
    target = Path(path) if path is not None else warehouse_path()
    if not target.exists():
        return
    con = open_waiting_for_lock(
        lambda: duckdb.connect(str(target)), target, wait_seconds=wait_seconds, on_wait=on_wait
    )
    con.close()


def warehouse_path() -> Path:
    """The warehouse file: ``$ACCT_WAREHOUSE`` or ``data/warehouse.duckdb``."""
    return Path(get(CoreSettings, "warehouse"))


@contextmanager
def connect(
    path: str | Path | None = None, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse, create the schemas, and close the connection when done.

    DuckDB allows one writing process per file: keep the connection for the SQL only, never
    across long Python work. While another process holds the file, this waits for it (up to
    ``ACCT_WRITER_WAIT_SECONDS``, then ``WarehouseBusy``). Readers that must not wait use the
    published read copy instead (``acct_pipeline.read_copy``).
    """
    target = Path(path) if path is not None else warehouse_path()
    if read_only and not target.exists():
        raise WarehouseMissing(
            f"no warehouse at {target}: run `make demo` (or the pipeline) first, "
            f"or point {WAREHOUSE_ENV} at yours"
        )
    if not read_only:
        target.parent.mkdir(parents=True, exist_ok=True)
    con = open_waiting_for_lock(lambda: duckdb.connect(str(target), read_only=read_only), target)
    try:
        # Timestamps are stored as naive UTC; offsets in the sources are converted on load.
        con.execute("SET TimeZone = 'UTC'")
        # Optional cap on DuckDB's memory (it spills to disk beyond it), e.g. "1GB".
        memory_limit = get(CoreSettings, "duckdb_memory_limit")
        if memory_limit:
            con.execute("SET memory_limit = ?", [memory_limit])
        if not read_only:
            # DuckDB folds its write-ahead log into the file every 16 MB by default, so a
            # backfill that replaces day after day rewrites the same row groups many times. A
            # step holds the connection for its SQL only and the log is folded in when it
            # closes: a larger threshold costs no durability and made scoring a day ~40 %
            # faster in the demo.
            con.execute("SET checkpoint_threshold = ?", [checkpoint_threshold()])
            for schema in SCHEMAS:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        yield con
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------
# Raw (ingest) tables: the landing contract. docs/landing-format.md documents the same thing for
# people; every source (files, HubSpot, Salesforce, Stripe, Mixpanel, ...) fills these columns.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of a raw table.

    ``required``: a file without the column is rejected; a row with a NULL here is quarantined.
    ``nonnegative``: a negative value breaks the rule ``negative_amount``.
    ``allowed``: the only values a row may hold (``unknown_value:<col>`` otherwise; case counts).
    Malformed values of typed columns (a timestamp that does not parse) break
    ``malformed_<type>``; ``acct_pipeline.quality.rules`` lists every value rule. A broken value
    of a required (or key) column quarantines its row; one of an optional column is set NULL and
    noted in the quarantine, and the row is kept.
    """

    name: str
    type: str  # DuckDB type: VARCHAR, BIGINT, DOUBLE, BOOLEAN, TIMESTAMP, DATE
    required: bool = False
    nonnegative: bool = False
    description: str = ""
    allowed: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    """A raw table: where it comes from in the landing zone and what it holds."""

    name: str  # table name inside the ``ingest`` schema, equal to the asset name
    landing_path: str  # path relative to the landing folder; ``{date}`` for daily files
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    partitioned: bool = False
    description: str = ""
    partition_column: str | None = None
    # a company may simply not have this source (no ticketing, no product tracking): a missing
    # landing file is then a notice, not an error, and the table keeps what it had (or stays empty)
    optional_file: bool = False
    # columns of which at least one must hold a value (``missing_one_of:<a>,<b>``), e.g. a touch
    # names its account, its contact or both
    one_of_required: tuple[str, ...] = ()

    @property
    def qualified(self) -> str:
        return f"ingest.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


# Columns added by the loader to every raw table.
LOADED_AT = "_loaded_at"
SOURCE = "_source"
EVENT_DATE = "event_date"

C = Column

CRM_COMPANIES = TableSpec(
    name="crm_companies",
    landing_path="crm/companies.csv",
    key=("company_id",),
    description="CRM companies (accounts): one row per company record.",
    columns=(
        C(
            "company_id",
            "VARCHAR",
            required=True,
            description="CRM record id (HubSpot id, Salesforce Account Id)",
        ),
        C("name", "VARCHAR"),
        C("domain", "VARCHAR", description="website domain; may be missing or malformed"),
        C("industry", "VARCHAR"),
        C("region", "VARCHAR"),
        C("employees", "BIGINT", nonnegative=True),
        C("lifecycle_stage", "VARCHAR", description="customer, onboarding, ..."),
        C("owner_id", "VARCHAR", description="CRM user id of the account owner"),
        C("owner_email", "VARCHAR"),
        C("created_at", "TIMESTAMP", required=True),
        C("updated_at", "TIMESTAMP"),
        C(
            "parent_account_id",
            "VARCHAR",
            description="company_id of the parent company (subsidiaries roll up to it); optional",
        ),
    ),
)

CRM_CONTACTS = TableSpec(
    name="crm_contacts",
    landing_path="crm/contacts.csv",
    key=("contact_id",),
    description="CRM contacts, with the company they belong to.",
    columns=(
        C("contact_id", "VARCHAR", required=True),
        C("company_id", "VARCHAR"),
        C("email", "VARCHAR"),
        C("first_name", "VARCHAR"),
        C("last_name", "VARCHAR"),
        C("job_title", "VARCHAR"),
        C("is_champion", "BOOLEAN", description="the account's main sponsor"),
        C("created_at", "TIMESTAMP", required=True),
        C("left_company_at", "TIMESTAMP", description="when the contact left the company"),
        C("updated_at", "TIMESTAMP"),
    ),
    optional_file=True,
)

CRM_ACTIVITIES = TableSpec(
    name="crm_activities",
    landing_path="crm/activities.csv",
    key=("activity_id",),
    description="CRM engagements: emails sent and replied, meetings, calls, NPS responses.",
    columns=(
        C("activity_id", "VARCHAR", required=True),
        C("company_id", "VARCHAR", required=True),
        C("contact_id", "VARCHAR"),
        C(
            "activity_type",
            "VARCHAR",
            required=True,
            description="email_sent, email_reply, meeting, call, nps_response",
        ),
        C("occurred_at", "TIMESTAMP", required=True),
        C("value", "DOUBLE", description="NPS score 0-10 for nps_response, else empty"),
    ),
    optional_file=True,
)

CRM_TICKETS = TableSpec(
    name="crm_tickets",
    landing_path="crm/tickets.csv",
    key=("ticket_id",),
    description="Support tickets with severity, escalation and CSAT.",
    columns=(
        C("ticket_id", "VARCHAR", required=True),
        C("company_id", "VARCHAR", required=True),
        C("created_at", "TIMESTAMP", required=True),
        C("closed_at", "TIMESTAMP"),
        C("severity", "VARCHAR", description="low, medium, high, urgent"),
        C("status", "VARCHAR", description="open, pending, closed"),
        C("escalated", "BOOLEAN"),
        C("csat_score", "DOUBLE", description="1-5 after close, else empty"),
    ),
    optional_file=True,
)

BILLING_CUSTOMERS = TableSpec(
    name="billing_customers",
    landing_path="billing/customers.csv",
    key=("customer_id",),
    description="Billing customers (Stripe customers).",
    columns=(
        C("customer_id", "VARCHAR", required=True),
        C(
            "crm_company_id",
            "VARCHAR",
            description="explicit link to the CRM company (metadata), often empty",
        ),
        C("email", "VARCHAR", description="billing email; its domain is used for matching"),
        C("name", "VARCHAR"),
        C("currency", "VARCHAR"),
        C("delinquent", "BOOLEAN"),
        C("created_at", "TIMESTAMP", required=True),
    ),
    optional_file=True,
)

BILLING_SUBSCRIPTIONS = TableSpec(
    name="billing_subscriptions",
    landing_path="billing/subscriptions.csv",
    key=("subscription_id",),
    description="Subscriptions (current state) with contract term and cancellation.",
    columns=(
        C("subscription_id", "VARCHAR", required=True),
        C("customer_id", "VARCHAR", required=True),
        C(
            "plan",
            "VARCHAR",
            required=True,
            description="the company's plan name (sample: starter, growth, enterprise)",
        ),
        C(
            "status",
            "VARCHAR",
            required=True,
            description="active, past_due, unpaid, canceled, trialing",
        ),
        C("seats", "BIGINT", nonnegative=True),
        C(
            "mrr",
            "DOUBLE",
            nonnegative=True,
            description="monthly recurring revenue, major currency units",
        ),
        C("currency", "VARCHAR"),
        C("started_at", "TIMESTAMP", required=True),
        C(
            "term_start",
            "TIMESTAMP",
            description="start of the current contract term (a renewal starts a new term)",
        ),
        C("term_end", "TIMESTAMP", description="end of the current contract term (renewal date)"),
        C("canceled_at", "TIMESTAMP", description="when the customer gave notice"),
        C("ended_at", "TIMESTAMP", description="when the subscription ended (churn)"),
    ),
    optional_file=True,
)

BILLING_INVOICES = TableSpec(
    name="billing_invoices",
    landing_path="billing/invoices.csv",
    key=("invoice_id",),
    description="Invoices: the history of amounts, seats, plan and payment health.",
    columns=(
        C("invoice_id", "VARCHAR", required=True),
        C("customer_id", "VARCHAR", required=True),
        C("subscription_id", "VARCHAR"),
        C("created_at", "TIMESTAMP", required=True),
        C("period_start", "TIMESTAMP"),
        C("period_end", "TIMESTAMP"),
        C("due_date", "TIMESTAMP"),
        C("amount_due", "DOUBLE", nonnegative=True),
        C("amount_paid", "DOUBLE", nonnegative=True),
        C("status", "VARCHAR", description="draft, open, paid, uncollectible, void"),
        C(
            "attempt_count",
            "BIGINT",
            nonnegative=True,
            description="payment attempts; > 1 means a failed payment",
        ),
        C("paid_at", "TIMESTAMP"),
        C("plan", "VARCHAR"),
        C("seats", "BIGINT", nonnegative=True),
        C("mrr", "DOUBLE", nonnegative=True, description="the subscription's MRR for this period"),
    ),
    optional_file=True,
)

PRODUCT_GROUPS = TableSpec(
    name="product_groups",
    landing_path="product/groups.csv",
    key=("group_id",),
    description="Product workspaces / groups (the account as the product analytics tool knows it).",
    columns=(
        C("group_id", "VARCHAR", required=True),
        C("name", "VARCHAR"),
        C("domain", "VARCHAR"),
        C("crm_company_id", "VARCHAR", description="explicit link to the CRM company, often empty"),
        C("created_at", "TIMESTAMP", required=True),
    ),
    optional_file=True,
)

PRODUCT_EVENTS = TableSpec(
    name="product_events",
    landing_path="events/events_{date}.csv",
    key=("event_id",),
    description="Product usage events, one file per day (UTC).",
    partitioned=True,
    partition_column=EVENT_DATE,
    columns=(
        C("event_id", "VARCHAR", required=True),
        C("event_name", "VARCHAR", required=True),
        C("occurred_at", "TIMESTAMP", required=True),
        C("user_id", "VARCHAR", required=True),
        C("group_id", "VARCHAR", required=True, description="product group / workspace id"),
        C("properties", "VARCHAR", description="JSON object, optional"),
    ),
)

# The engagement categories of a touch (acct_pipeline.scoring.engagement scores each of them).
TOUCH_CATEGORIES: tuple[str, ...] = ("web", "email", "product", "sales_support", "social")

MARKETING_TOUCHES = TableSpec(
    name="marketing_touches",
    landing_path="marketing/touches.csv",
    key=("touch_id",),
    description=(
        "Marketing and engagement touches (web visits, content, webinars, email opens / clicks, "
        "social): one row per touch, on an account, a contact or both."
    ),
    columns=(
        C(
            "touch_id",
            "VARCHAR",
            required=True,
            description="source-prefixed id, e.g. hs-email-123, sf-cm-00v..., seg-...",
        ),
        C("account_id", "VARCHAR", description="CRM company / account id"),
        C("contact_id", "VARCHAR", description="CRM contact id (reaches the account through it)"),
        C(
            "category",
            "VARCHAR",
            required=True,
            allowed=TOUCH_CATEGORIES,
            description="web, email, product, sales_support, social",
        ),
        C(
            "activity_type",
            "VARCHAR",
            required=True,
            description="page_view, content_download, form_submission, webinar_registered, "
            "webinar_attended, email_open, email_click, email_reply, email_bounce, "
            "social_mention, social_share, social_comment, event_attended, ...",
        ),
        C("occurred_at", "TIMESTAMP", required=True, description="when it happened (UTC)"),
        C(
            "value",
            "DOUBLE",
            nonnegative=True,
            description="duration in seconds or a count; empty = one touch",
        ),
        C("source", "VARCHAR", required=True, description="hubspot, salesforce, segment, files"),
    ),
    optional_file=True,
    one_of_required=("account_id", "contact_id"),
)

del C

RAW_TABLES: tuple[TableSpec, ...] = (
    CRM_COMPANIES,
    CRM_CONTACTS,
    CRM_ACTIVITIES,
    CRM_TICKETS,
    BILLING_CUSTOMERS,
    BILLING_SUBSCRIPTIONS,
    BILLING_INVOICES,
    PRODUCT_GROUPS,
    PRODUCT_EVENTS,
    MARKETING_TOUCHES,
)
RAW_BY_NAME: dict[str, TableSpec] = {t.name: t for t in RAW_TABLES}
SNAPSHOT_TABLES: tuple[TableSpec, ...] = tuple(t for t in RAW_TABLES if not t.partitioned)

# ---------------------------------------------------------------------------------------------
# Derived tables (fully qualified names).
# ---------------------------------------------------------------------------------------------

QUARANTINE = "staging.quarantine"
LOAD_AUDIT = "staging.load_audit"
ACCOUNTS = "staging.accounts"
IDENTITY_MAP = "staging.identity_map"
UNMATCHED_RECORDS = "staging.unmatched_records"
# Marketing touches with the account each one reaches (or why it reaches none)
STAGED_TOUCHES = "staging.marketing_touches"
ACCOUNT_SIGNALS = "features.account_signals"
# Daily usage rollups of product events (a cache the signals read; acct_pipeline.scoring.usage)
PRODUCT_USAGE_DAILY = "features.product_usage_daily"
PRODUCT_FEATURES_DAILY = "features.product_features_daily"
USAGE_ROLLUP_STATE = "features.usage_rollup_state"
ACCOUNT_SCORES = "scores.account_scores"
CHURN_DRIVERS = "scores.churn_drivers"  # top churn drivers per account and day (explain reads)
SCORE_VALIDATION = "scores.score_validation"
SCORE_VALIDATION_SUMMARY = "scores.score_validation_summary"
MODEL_REGISTRY = "scores.model_registry"
SCORE_OVERRIDES = "scores.score_overrides"  # manual tier / score overrides (scoring/overrides.py)
ACCOUNT_ROLLUPS = "scores.account_rollups"  # parent scores from children (scoring/rollup.py)
CRM_SYNC_LEDGER = "sync.crm_sync_ledger"
CRM_SYNC_JOURNAL = "sync.crm_sync_ledger_journal"
CRM_SYNC_FIELDS = "sync.crm_sync_fields"
CRM_SYNC_TARGETS = "sync.crm_sync_targets"  # HubSpot portal id per (base URL, token fingerprint)
SCORE_DROP_ALERTS = "alerts.score_drop_alerts"
ALERT_DELIVERIES = "alerts.alert_deliveries"

AS_OF_DATE = "as_of_date"

# Acting on scores (alerts/experiment.py, audiences.py, suppression.py)
EXPERIMENT_ASSIGNMENTS = "alerts.experiment_assignments"  # account -> arm, once per experiment
AUDIENCE_MEMBERSHIP = "alerts.audience_membership"  # per day: account, audience, entered / exited
ALERT_SNOOZES = "alerts.alert_snoozes"  # "we're handling it": no alerts until a date
ALERT_DECISIONS = "alerts.alert_decisions"  # per alert: sent, control, snoozed or capped (why)

QUARANTINE_DDL = f"""
CREATE TABLE IF NOT EXISTS {QUARANTINE} (
    source_table   VARCHAR NOT NULL,   -- raw table the row was meant for
    partition_date DATE,               -- the day for partitioned tables, else NULL
    source         VARCHAR NOT NULL,   -- files, hubspot, stripe, ...
    source_file    VARCHAR,            -- landing file or API endpoint
    row_number     BIGINT,             -- 1-based position in the file / stream
    rule           VARCHAR NOT NULL,   -- e.g. malformed_timestamp:occurred_at; a note about a
                                       -- kept row whose bad optional value was set NULL ends
                                       -- in " (nulled)": malformed_integer:employees (nulled)
    record         VARCHAR NOT NULL,   -- the raw record as JSON
    loaded_at      TIMESTAMP NOT NULL
)
"""

LOAD_AUDIT_DDL = f"""
CREATE TABLE IF NOT EXISTS {LOAD_AUDIT} (
    source_table     VARCHAR NOT NULL,
    partition_date   DATE,
    source           VARCHAR NOT NULL,
    rows_in          BIGINT NOT NULL,
    rows_kept        BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    loaded_at        TIMESTAMP NOT NULL,
    values_nulled    BIGINT DEFAULT 0   -- bad optional values set NULL in kept rows
)
"""
# Warehouses created before ``values_nulled`` existed get the column on their next load.
LOAD_AUDIT_MIGRATION = (
    f"ALTER TABLE {LOAD_AUDIT} ADD COLUMN IF NOT EXISTS values_nulled BIGINT DEFAULT 0"
)


def raw_table_ddl(spec: TableSpec) -> str:
    """CREATE TABLE for a raw table: the contract's columns, then the loader's own."""
    cols = [f"{c.name} {c.type}" for c in spec.columns]
    if spec.partitioned:
        cols.append(f"{EVENT_DATE} DATE NOT NULL")
    cols += [f"{SOURCE} VARCHAR NOT NULL", f"{LOADED_AT} TIMESTAMP NOT NULL"]
    return f"CREATE TABLE IF NOT EXISTS {spec.qualified} (\n    " + ",\n    ".join(cols) + "\n)"


def ensure_core_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw tables, quarantine and load audit if they do not exist yet."""
    for schema in SCHEMAS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for spec in RAW_TABLES:
        con.execute(raw_table_ddl(spec))
        # a column added to the contract later (e.g. parent_account_id) reaches older warehouses
        have = set(table_columns(con, spec.qualified))
        for c in spec.columns:
            if c.name not in have:
                con.execute(f"ALTER TABLE {spec.qualified} ADD COLUMN {c.name} {c.type}")
    con.execute(QUARANTINE_DDL)
    con.execute(LOAD_AUDIT_DDL)
    con.execute(LOAD_AUDIT_MIGRATION)


# Shared SQL helpers: the one place that asks DuckDB's information_schema about tables and
# columns, and the one BEGIN / COMMIT / ROLLBACK block.


def table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    """Whether ``schema.table`` exists (a table or a view, in any attached database)."""
    schema, name = qualified.split(".", 1)
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchone()
    return bool(row and row[0])


def column_types(con: duckdb.DuckDBPyConnection, qualified: str) -> dict[str, str]:
    """Columns of ``schema.table`` in the current database, name -> DuckDB type, in table order
    ({} when the table does not exist)."""
    schema, name = qualified.split(".", 1)
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? AND table_catalog = current_database() "
        "ORDER BY ordinal_position",
        [schema, name],
    ).fetchall()
    return {str(c): str(t) for c, t in rows}


def table_columns(con: duckdb.DuckDBPyConnection, qualified: str) -> list[str]:
    """Column names of ``schema.table`` in table order ([] when the table does not exist)."""
    return list(column_types(con, qualified))


def base_tables(
    con: duckdb.DuckDBPyConnection, catalog: str | None = None
) -> list[tuple[str, str]]:
    """``(schema, table)`` of every base table (no views) of ``catalog`` (default: the current
    database), sorted."""
    rows = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_catalog = coalesce(?, current_database()) AND table_type = 'BASE TABLE' "
        "ORDER BY 1, 2",
        [catalog],
    ).fetchall()
    return [(str(s), str(t)) for s, t in rows]


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """``with transaction(con): ...`` runs the block in one transaction: COMMIT when it ends,
    ROLLBACK (then the exception goes on) when it raises, a KeyboardInterrupt included."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def add_missing_columns(
    con: duckdb.DuckDBPyConnection, table: str, select_sql: str, params: list | None = None
) -> list[str]:
    """Add to ``table`` every column of ``select_sql`` it lacks (a newer version of the code
    writes a column an older warehouse does not have yet). Returns the columns added."""
    have = set(table_columns(con, table))
    added = []
    for col, typ, *_ in con.execute(f"DESCRIBE {select_sql}", params or []).fetchall():
        if col not in have:
            con.execute(f'ALTER TABLE {table} ADD COLUMN "{col}" {typ}')
            added.append(col)
    return added


def replace_partition(
    con: duckdb.DuckDBPyConnection,
    table: str,
    select_sql: str,
    partition_column: str,
    partition_values: list,
    params: list | None = None,
) -> int:
    """Replace the rows of ``table`` for the given partition values with ``select_sql``'s rows.

    Idempotent: a rerun deletes exactly its partitions and inserts them again, in one
    transaction, so a failure leaves the previous rows in place. The table is created from the
    query's shape on first use. Returns the number of rows inserted.
    """
    if not table_exists(con, table):
        # Created empty in its own statement, never inside the transaction below: DuckDB 2.0.0
        # hides every row of an order-preserving insert of a row group or more (122,880 rows)
        # into a table that `CREATE TABLE AS ... LIMIT 0` made in the same transaction, from
        # scans of this database until it is reopened (`count(*)` still counts them). Found at
        # 1M accounts: the first day's 1M signal rows read back as none.
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM ({select_sql}) LIMIT 0",
            params or [],
        )
    else:
        add_missing_columns(con, table, select_sql, params)
    with transaction(con):
        con.execute(
            f"DELETE FROM {table} WHERE {partition_column} IN (SELECT unnest(?::DATE[]))",
            [partition_values],
        )
        before = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        con.execute(f"INSERT INTO {table} BY NAME {select_sql}", params or [])
        after = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return int(after - before)


def replace_table(
    con: duckdb.DuckDBPyConnection, table: str, select_sql: str, params: list | None = None
) -> int:
    """Replace a whole (unpartitioned) table with ``select_sql``'s rows, atomically."""
    with transaction(con):
        con.execute(f"CREATE OR REPLACE TABLE {table} AS {select_sql}", params or [])
        n = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return int(n)


@dataclass
class LoadResult:
    """What a load did, for asset metadata and the rows-in = kept + quarantined check."""

    table: str
    source: str
    rows_in: int = 0
    rows_kept: int = 0
    rows_quarantined: int = 0
    rules: dict[str, int] = field(default_factory=dict)
    partitions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    values_nulled: int = 0  # bad optional values set NULL in kept rows (one note each)

    def add(self, other: LoadResult) -> None:
        self.rows_in += other.rows_in
        self.rows_kept += other.rows_kept
        self.rows_quarantined += other.rows_quarantined
        self.values_nulled += other.values_nulled
        for rule, n in other.rules.items():
            self.rules[rule] = self.rules.get(rule, 0) + n
        self.partitions += other.partitions
