"""Run an expectation suite (``expectations.py``) against the warehouse with Great Expectations.

GX is imported inside ``_run_gx`` only: importing it costs seconds, and every code-location load
(UI, sensors, tests) would pay it if this module imported it at the top (docs/traps.md,
"Great Expectations import cost").

``validate_suite`` reads the table (only the partitions asked for, only the columns the suite
needs), builds the ``rows`` / ``days`` / ``schema`` frames, validates them in an ephemeral GX
context and returns one ``CheckOutcome`` per expectation, keyed by check name.

A partitioned table with more than ``ROW_BUDGET`` rows to check is read in chunks of whole days.
``prepare_suite`` then spills each chunk to a Parquet file in a temporary directory (DuckDB
``COPY``, no pandas) and ``PreparedValidation.run()`` loads, validates and drops one chunk at a
time, so memory holds one chunk whatever the length of the backfill. The directory is removed
when ``run()`` ends, on ``close()`` (or leaving ``with prepared:``), or when the prepared
validation is garbage collected.
``acct_pipeline.quality.guard`` runs the blocking score rules for callers outside Dagster.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import weakref
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import duckdb
import pandas as pd

from acct_pipeline.quality.expectations import (
    Context,
    Expectation,
    Suite,
    volume_band,
)
from acct_pipeline.warehouse import EVENT_DATE, PRODUCT_EVENTS, column_types, table_exists

# Derived columns of the ``rows`` frame: name -> (SQL over the table, the column it needs).
DERIVED_COLUMNS: dict[str, tuple[str, str]] = {
    "_occurred_day": ("CAST(occurred_at AS DATE)", "occurred_at"),
    # a churned account has no score or tier by design (scoring/lifecycle.py)
    "_health_score_unless_churned": (
        "CASE WHEN lifecycle_status = 'Churned' THEN 0 ELSE health_score END",
        "lifecycle_status",
    ),
    "_tier_unless_churned": (
        "CASE WHEN lifecycle_status = 'Churned' THEN 'Churned' ELSE tier END",
        "lifecycle_status",
    ),
}

# Above this many rows a partitioned table is validated in chunks of whole days, so a long
# backfill never holds every event in memory at once (uniqueness is then checked per chunk).
# Read when ``prepare_suite`` runs (tests monkeypatch it to force several chunks).
ROW_BUDGET = 500_000
_SAMPLE = 10  # unexpected values / days kept in check metadata


@dataclass
class CheckOutcome:
    """The result of one expectation, ready to become a Dagster ``AssetCheckResult``."""

    check: str
    passed: bool
    severity: str
    message: str
    skipped: str | None = None  # why the expectation did not apply (it then counts as passed)
    metadata: dict[str, Any] = field(default_factory=dict)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_json_safe(v) for v in value]
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def type_family(duckdb_type: str) -> str:
    """text, integer, number, boolean, timestamp, date, list or other."""
    t = duckdb_type.upper()
    if t.endswith("[]") or t.startswith(("LIST", "STRUCT", "MAP")):
        return "list"
    if t in ("VARCHAR", "TEXT", "STRING") or t.startswith("VARCHAR"):
        return "text"
    if t in (
        "BIGINT",
        "INTEGER",
        "SMALLINT",
        "TINYINT",
        "HUGEINT",
        "UBIGINT",
        "UINTEGER",
        "USMALLINT",
        "UTINYINT",
    ):
        return "integer"
    if t in ("DOUBLE", "FLOAT", "REAL") or t.startswith("DECIMAL"):
        return "number"
    if t == "BOOLEAN":
        return "boolean"
    if t.startswith("TIMESTAMP"):
        return "timestamp"
    if t == "DATE":
        return "date"
    return "other"


def _schema_frame(suite: Suite, actual: dict[str, str]) -> pd.DataFrame:
    rows = []
    for column, expected in suite.schema.items():
        if column not in actual:
            if column in suite.optional_columns:
                continue
            family = "missing"
        else:
            family = type_family(actual[column])
            if expected == "number" and family == "integer":
                family = "number"  # integers are numbers; the reverse is not true
        rows.append({"column_name": column, "expected_family": expected, "actual_family": family})
    return pd.DataFrame(rows, columns=["column_name", "expected_family", "actual_family"])


def _day_counts(
    con: duckdb.DuckDBPyConnection, suite: Suite, days: Sequence[date]
) -> tuple[pd.DataFrame, dict[date, int]]:
    """The ``days`` frame (row count per day, the comparable earlier day's, the ratio) and the
    counts by day."""
    col = suite.partition_column
    lag = timedelta(days=suite.volume_lag_days)
    days = sorted(set(days))
    wanted = sorted(set(days) | {d - lag for d in days})
    rows = con.execute(
        f"SELECT {col}, count(*) FROM {suite.table} "
        f"WHERE {col} IN (SELECT unnest(?::DATE[])) GROUP BY 1",
        [wanted],
    ).fetchall()
    counts = {(d.date() if isinstance(d, datetime) else d): int(n) for d, n in rows}
    records = []
    for d in days:
        n = counts.get(d, 0)
        prev = counts.get(d - lag)
        records.append(
            {
                "day": pd.Timestamp(d),
                "row_count": n,
                "previous_row_count": prev,
                # nothing to compare with (the first partitions, or an empty one): not judged
                "volume_ratio": (n / prev) if prev else None,
            }
        )
    columns = ["day", "row_count", "previous_row_count", "volume_ratio"]
    frame = pd.DataFrame(records, columns=columns)
    frame["volume_ratio"] = frame["volume_ratio"].astype("float64")
    return frame, counts


def _chunks(days: Sequence[date], counts: dict[date, int]) -> list[list[date]]:
    chunks: list[list[date]] = []
    current: list[date] = []
    size = 0
    for d in sorted(days):
        n = counts.get(d, 0)
        if current and size + n > ROW_BUDGET:
            chunks.append(current)
            current, size = [], 0
        current.append(d)
        size += n
    if current:
        chunks.append(current)
    return chunks


def _rows_query(suite: Suite, columns: list[str], days: list[date] | None) -> tuple[str, list[Any]]:
    """The SQL (and its parameters) that reads the ``rows`` frame of ``days``."""
    select = ", ".join(
        f'{DERIVED_COLUMNS[c][0]} AS "{c}"' if c in DERIVED_COLUMNS else f'"{c}"' for c in columns
    )
    if not select:
        select = "1 AS _row"
    sql = f"SELECT {select} FROM {suite.table}"
    if days is not None and suite.partition_column:
        sql += f" WHERE {suite.partition_column} IN (SELECT unnest(?::DATE[]))"
        return sql, [days]
    return sql, []


def _rows_frame(
    con: duckdb.DuckDBPyConnection, suite: Suite, columns: list[str], days: list[date] | None
) -> pd.DataFrame:
    sql, params = _rows_query(suite, columns, days)
    return con.execute(sql, params).df()


@dataclass(frozen=True)
class SpilledChunk:
    """One chunk of the ``rows`` frame written to Parquet; ``types`` are the DuckDB types the
    query produced, restored on load (Parquet has no HUGEINT, ENUM, ...)."""

    path: Path
    columns: tuple[str, ...]
    types: tuple[str, ...]


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _spill_rows(
    con: duckdb.DuckDBPyConnection,
    suite: Suite,
    columns: list[str],
    days: list[date],
    path: Path,
) -> SpilledChunk:
    """Write the ``rows`` of ``days`` to ``path`` inside DuckDB (never through pandas)."""
    sql, params = _rows_query(suite, columns, days)
    rel = con.sql(sql, params=params)
    con.execute(f"COPY ({sql}) TO {_sql_string(str(path))} (FORMAT parquet)", params)
    return SpilledChunk(path, tuple(rel.columns), tuple(str(t) for t in rel.types))


def load_chunk(chunk: SpilledChunk) -> pd.DataFrame:
    """Read a spilled chunk back into the frame ``_rows_frame`` would have returned.

    Uses its own in-memory DuckDB (the warehouse may be closed by now) and DuckDB's own
    conversion to pandas, with every column cast back to its original type, so dates,
    timestamps and numbers reach GX exactly as they do unspilled.
    """
    with duckdb.connect() as mem:
        mem.execute("SET TimeZone = 'UTC'")  # as the warehouse connection (warehouse.connect)
        rel = mem.sql(f"SELECT * FROM read_parquet({_sql_string(str(chunk.path))})")
        stored = [str(t) for t in rel.types]
        select = ", ".join(
            f'"{c}"' if now == orig else f'CAST("{c}" AS {orig}) AS "{c}"'
            for c, orig, now in zip(chunk.columns, chunk.types, stored, strict=True)
        )
        return rel.query("spilled", f"SELECT {select} FROM spilled").df()


RowsSource = pd.DataFrame | SpilledChunk


def _frames(sources: list[RowsSource]) -> Iterator[pd.DataFrame]:
    """The frames of ``sources``, loading a spilled chunk only when it is its turn."""
    for source in sources:
        yield load_chunk(source) if isinstance(source, SpilledChunk) else source


def _horizon(con: duckdb.DuckDBPyConnection, events: str = PRODUCT_EVENTS.qualified) -> date | None:
    if not table_exists(con, events):
        return None
    return con.execute(f"SELECT max({EVENT_DATE}) FROM {events}").fetchone()[0]


@dataclass
class PreparedValidation:
    """A suite with its frames read from the warehouse: ``run()`` needs no connection.

    ``frames`` holds DataFrames, except the ``rows`` of a multi-chunk validation: those are
    ``SpilledChunk``s in ``spill_dir``, loaded one at a time by ``run()``. ``run()`` removes
    ``spill_dir`` when it ends (it can then not run again); ``close()`` / ``with`` removes it
    without running, and so does garbage collection as a last resort.
    """

    suite: Suite
    runnable: list[tuple[Expectation, dict[str, Any]]]
    frames: dict[str, list[RowsSource]]
    outcomes: dict[str, CheckOutcome]  # decided without GX (skipped, missing table)
    order: list[str]
    checked_days: list[date]
    spill_dir: Path | None = None
    _cleanup: weakref.finalize | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.spill_dir is not None:
            self._cleanup = weakref.finalize(
                self, shutil.rmtree, str(self.spill_dir), ignore_errors=True
            )

    @property
    def closed(self) -> bool:
        """True once the spilled chunks (if any) have been removed."""
        return self._cleanup is not None and not self._cleanup.alive

    def close(self) -> None:
        """Remove the spilled chunks (idempotent; nothing to do without any)."""
        if self._cleanup is not None:
            self._cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def run(self) -> dict[str, CheckOutcome]:
        """Validate with GX and return an outcome per check name, in suite order."""
        if self.closed:
            raise RuntimeError(
                f"{self.suite.name}: the spilled chunks were removed (run() or close() was "
                "called): prepare the suite again"
            )
        try:
            outcomes = dict(self.outcomes)
            results = _run_gx(self.suite, self.runnable, self.frames)
            for e, kwargs in self.runnable:
                outcomes[e.check] = _outcome(
                    e, kwargs, results.get(e.check, []), self.suite, self.checked_days
                )
            return {check: outcomes[check] for check in self.order}
        finally:
            self.close()


def prepare_suite(
    con: duckdb.DuckDBPyConnection,
    suite: Suite,
    days: Sequence[date] | None = None,
    *,
    only: Collection[str] | None = None,
    previous_row_count: int | None = None,
    now: datetime | None = None,
    events_table: str = PRODUCT_EVENTS.qualified,
) -> PreparedValidation:
    """Read what ``suite`` needs from the warehouse (see ``validate_suite``). ``events_table``:
    where the product events are (the freshness horizon), a view over the lake with the Spark
    engine (``acct_pipeline.engine.lake.events_view``)."""
    selected = [e for e in suite.expectations if only is None or e.check in only]
    order = [e.check for e in selected]
    if suite.partition_column and days is None:
        raise ValueError(f"{suite.name} is partitioned by {suite.partition_column}: pass days=")
    if not table_exists(con, suite.table):
        missing_table = {
            e.check: CheckOutcome(
                e.check,
                passed=False,
                severity=e.severity,
                message=f"{e.check}: table {suite.table} does not exist (materialize it first)",
            )
            for e in selected
        }
        return PreparedValidation(suite, [], {}, missing_table, order, [])
    actual = column_types(con, suite.table)
    available = set(actual) | {c for c, (_, needs) in DERIVED_COLUMNS.items() if needs in actual}
    ctx = Context(
        now=now or _now(),
        horizon=_horizon(con, events_table),
        previous_row_count=previous_row_count,
        band=volume_band(),
    )

    outcomes: dict[str, CheckOutcome] = {}
    runnable: list[tuple[Expectation, dict[str, Any]]] = []
    for e in selected:
        missing = [c for c in e.columns if c not in available]
        kwargs = e.resolve_kwargs(ctx)
        if missing:
            reason = f"column(s) {', '.join(missing)} not in {suite.table}"
        elif kwargs is None:
            reason = "nothing to compare with yet (no previous load recorded)"
        else:
            runnable.append((e, kwargs))
            continue
        outcomes[e.check] = CheckOutcome(
            e.check,
            passed=True,
            severity=e.severity,
            message=f"{e.check}: skipped ({reason})",
            skipped=reason,
            metadata={"skipped": reason},
        )

    frames: dict[str, list[RowsSource]] = {"schema": [_schema_frame(suite, actual)]}
    checked_days: list[date] = []
    chunks: list[list[date] | None] = [None]
    if suite.partition_column:
        checked_days = sorted(set(days or []))
        day_frame, counts = _day_counts(con, suite, checked_days)
        frames["days"] = [day_frame]
        chunks = list(_chunks(checked_days, counts)) or [[]]
    # only the columns the runnable row expectations read: a day of events stays small
    wanted = {c for e, _ in runnable if e.target == "rows" for c in e.columns}
    needed = [c for c in suite.rows_columns() if c in wanted]
    if not any(e.target == "rows" for e, _ in runnable):
        return PreparedValidation(suite, runnable, frames, outcomes, order, checked_days)
    if len(chunks) == 1:  # the common case (a day or a short range): stays in memory
        frames["rows"] = [_rows_frame(con, suite, needed, chunks[0])]
        return PreparedValidation(suite, runnable, frames, outcomes, order, checked_days)
    spill_dir = Path(tempfile.mkdtemp(prefix=f"acct_validate_{suite.name}_"))
    try:
        frames["rows"] = [
            _spill_rows(con, suite, needed, chunk or [], spill_dir / f"rows_{i:05d}.parquet")
            for i, chunk in enumerate(chunks)
        ]
    except BaseException:
        shutil.rmtree(spill_dir, ignore_errors=True)
        raise
    return PreparedValidation(suite, runnable, frames, outcomes, order, checked_days, spill_dir)


def validate_suite(
    con: duckdb.DuckDBPyConnection,
    suite: Suite,
    days: Sequence[date] | None = None,
    *,
    only: Collection[str] | None = None,
    previous_row_count: int | None = None,
    now: datetime | None = None,
) -> dict[str, CheckOutcome]:
    """Validate ``suite`` on its table and return an outcome per check name.

    ``days``: the partitions to check (required for a daily table; ignored for a snapshot).
    ``only``: restrict to these check names. ``previous_row_count``: the previous load of a
    snapshot table (for the volume check; unknown -> that check is skipped). Expectations on
    columns the table does not have (a scoring engine that does not produce them yet) are
    skipped and say so. Keeps ``con`` open while GX runs: use ``prepare_suite`` + ``run()``
    to release the warehouse first.
    """
    with prepare_suite(
        con, suite, days, only=only, previous_row_count=previous_row_count, now=now
    ) as prepared:
        return prepared.run()


def _run_gx(
    suite: Suite,
    runnable: list[tuple[Expectation, dict[str, Any]]],
    frames: dict[str, list[RowsSource]],
) -> dict[str, list[Any]]:
    """Validate each frame with the expectations that target it; results keyed by check name.

    Spilled chunks are loaded one at a time, each dropped before the next is read."""
    if not runnable:
        return {}
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    # Ephemeral: nothing written to disk (no docs site), no progress bars on stderr, no analytics.
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    context = gx.get_context(project_config=config, mode="ephemeral")
    source = context.data_sources.add_pandas(f"{suite.name}_warehouse")
    results: dict[str, list[Any]] = {}
    for target in ("schema", "days", "rows"):
        mine = [(e, kw) for e, kw in runnable if e.target == target]
        if not mine:
            continue
        gx_suite = gx.ExpectationSuite(name=f"{suite.name}.{target}")
        for e, kwargs in mine:
            cls = getattr(gx.expectations, e.gx_type)
            gx_suite.add_expectation(
                cls(**kwargs, meta={"check_name": e.check, "description": e.description})
            )
        batch_def = source.add_dataframe_asset(target).add_batch_definition_whole_dataframe(target)
        result_format: dict[str, Any] = {
            "result_format": "SUMMARY",
            "partial_unexpected_count": _SAMPLE,
        }
        if target == "days":
            result_format = {"result_format": "COMPLETE", "unexpected_index_column_names": ["day"]}
        elif target == "schema":
            result_format = {
                "result_format": "COMPLETE",
                "unexpected_index_column_names": ["column_name"],
            }
        for frame in _frames(frames[target]):
            validation = batch_def.get_batch(batch_parameters={"dataframe": frame}).validate(
                gx_suite, result_format=result_format
            )
            for r in validation.results:
                results.setdefault(r.expectation_config.meta["check_name"], []).append(r)
            # the chunk is held by this loop and by the execution engine's batch cache: drop
            # both before the next chunk is loaded, so memory holds one chunk at a time
            del frame, validation
            manager = source.get_execution_engine().batch_manager
            manager.batch_data_cache.clear()
            manager.reset_batch_cache()
    return results


def _describe_bounds(kwargs: dict[str, Any]) -> str:
    parts = []
    if "min_value" in kwargs:
        parts.append(f">= {_json_safe(kwargs['min_value'])}")
    if "max_value" in kwargs:
        parts.append(f"<= {_json_safe(kwargs['max_value'])}")
    return " and ".join(parts)


def _outcome(
    e: Expectation,
    kwargs: dict[str, Any],
    results: list[Any],
    suite: Suite,
    checked_days: list[date],
) -> CheckOutcome:
    passed = bool(results) and all(r.success for r in results)
    meta: dict[str, Any] = {
        "expectation": e.gx_type,
        "kwargs": _json_safe(kwargs),
        "suite": suite.name,
    }
    if checked_days:
        meta["partitions"] = (
            f"{checked_days[0]}..{checked_days[-1]}"
            if len(checked_days) > 1
            else str(checked_days[0])
        )
    errors = []
    element_count = unexpected_count = 0
    sample: list[Any] = []
    failing: list[Any] = []
    observed = None
    for r in results:
        info = r.exception_info or {}
        if info.get("raised_exception"):
            errors.append(str(info.get("exception_message")))
        res = r.result or {}
        element_count += int(res.get("element_count") or 0)
        unexpected_count += int(res.get("unexpected_count") or 0)
        sample += list(res.get("partial_unexpected_list") or [])
        for item in res.get("unexpected_index_list") or []:
            failing.append({k: _json_safe(v) for k, v in item.items()})
        if "observed_value" in res:
            observed = res["observed_value"]
    if not results:
        errors.append("GX returned no result for this expectation")
    if e.target == "rows" and results and "element_count" in (results[0].result or {}):
        meta["rows_checked"] = element_count
        meta["unexpected_rows"] = unexpected_count
        if element_count:
            meta["unexpected_percent"] = round(100.0 * unexpected_count / element_count, 4)
    if sample:
        meta["unexpected_sample"] = _json_safe(sample[:_SAMPLE])
    if failing:
        meta["failing"] = failing[: 3 * _SAMPLE]
    if observed is not None:
        meta["observed_value"] = _json_safe(observed)
    if errors:
        meta["errors"] = errors

    column = kwargs.get("column")
    if passed:
        message = f"{e.check}: passed"
    elif errors:
        message = f"{e.check}: could not be evaluated on {suite.table}: {'; '.join(errors)[:300]}"
    elif failing:
        message = f"{e.check}: {len(failing)} failing: {_json_safe(failing[:5])}"
    elif e.target == "rows" and "element_count" in (results[0].result or {}):
        message = (
            f"{e.check}: {unexpected_count} of {element_count} rows of {suite.table} break it"
            f"{f' ({column} {_describe_bounds(kwargs)})' if _describe_bounds(kwargs) else ''}, "
            f"e.g. {_json_safe(sample[:5])}"
        )
    else:
        message = f"{e.check}: observed {_json_safe(observed)}, expected {_describe_bounds(kwargs)}"
    return CheckOutcome(e.check, passed=passed, severity=e.severity, message=message, metadata=meta)
