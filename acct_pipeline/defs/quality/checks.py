"""Data-quality asset checks: one check per expectation, so each has its own history in the UI.

The suites live in ``acct_pipeline.quality.expectations`` (plain data); this module only wires
them to assets. Great Expectations is imported when a check runs, never when this module loads.
Checks on daily assets carry the daily ``partitions_def`` and read only the partitions of the run;
a run of several days records each result against every one of its days (``check_results.py``).
The score checks that protect the CRM are ``blocking``: a failure stops ``sync.crm_score_sync``
(and anything else downstream of the scores) for that run.
"""

from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import replace
from datetime import date

import dagster as dg

from acct_pipeline.defs.check_results import per_partition
from acct_pipeline.defs.keys import ROWS_KEPT, SCORES_KEY, SIGNALS_KEY, ingest_key
from acct_pipeline.defs.partitions import daily_partitions
from acct_pipeline.defs.resources import WarehouseResource
from acct_pipeline.engine.lake import events_view
from acct_pipeline.engine.resource import EngineResource
from acct_pipeline.quality.audit import reconcile_load
from acct_pipeline.quality.expectations import (
    DATA_IS_FRESH,
    RAW_SUITES,
    SCORES_SUITE,
    SIGNALS_SUITE,
    Suite,
)
from acct_pipeline.quality.validate import CheckOutcome, prepare_suite
from acct_pipeline.warehouse import PRODUCT_EVENTS, RAW_BY_NAME, TableSpec

ROWS_RECONCILED = "rows_in_equal_kept_plus_quarantined"

EVENTS_KEY = ingest_key(PRODUCT_EVENTS.name)
EVENTS_TABLE = PRODUCT_EVENTS.qualified


def raw_key(spec: TableSpec) -> dg.AssetKey:
    return ingest_key(spec.name)


def _partition_days(context: dg.AssetCheckExecutionContext) -> list[date]:
    return [date.fromisoformat(k) for k in context.partition_keys]


def _previous_row_count(context: dg.AssetCheckExecutionContext, key: dg.AssetKey) -> int | None:
    """Rows kept by the load before the current one (from materialization metadata)."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key), limit=2
    ).records
    if len(records) < 2 or records[1].asset_materialization is None:
        return None
    value = records[1].asset_materialization.metadata.get(ROWS_KEPT)
    return int(value.value) if value is not None else None


def _result(
    key: dg.AssetKey, outcome: CheckOutcome, extra: dict[str, dg.MetadataValue] | None = None
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=outcome.check,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity(outcome.severity),
        description=outcome.message,
        metadata={
            k: dg.MetadataValue.json(v) if isinstance(v, dict | list) else v
            for k, v in outcome.metadata.items()
        }
        | (extra or {}),
    )


def suite_checks(
    key: dg.AssetKey, suite: Suite, spec: TableSpec | None = None
) -> dg.AssetChecksDefinition:
    """One multi-check per asset: a check per expectation, plus rows in = kept + quarantined for
    a raw table (``spec``)."""
    partitions_def = daily_partitions if suite.partition_column else None
    specs = [
        dg.AssetCheckSpec(
            e.check,
            asset=key,
            blocking=e.blocking,
            description=e.description,
            partitions_def=partitions_def,
            metadata={"expectation": e.gx_type, "suite": suite.name},
            # Snapshot freshness is measured against the newest day of events: run after them.
            additional_deps=[EVENTS_KEY] if e.check == DATA_IS_FRESH and key != EVENTS_KEY else [],
        )
        for e in suite.expectations
    ]
    if spec is not None:
        specs.append(
            dg.AssetCheckSpec(
                ROWS_RECONCILED,
                asset=key,
                partitions_def=partitions_def,
                description=(
                    "Nothing is silently dropped: rows in = rows kept + rows quarantined for every "
                    "load (staging.load_audit), and those counts match the rows actually in "
                    f"{spec.qualified} and staging.quarantine."
                ),
            )
        )

    @dg.multi_asset_check(
        name=f"{'_'.join(key.path)}_quality",
        specs=specs,
        can_subset=True,
        description=f"Expectation suite {suite.name} (Great Expectations).",
    )
    def _checks(
        context: dg.AssetCheckExecutionContext,
        warehouse: WarehouseResource,
        engine: EngineResource,
    ) -> Iterator[dg.AssetCheckResult | dg.AssetCheckEvaluation | dg.Output]:
        """Validates only the run's partitions (daily assets) and only the selected checks.
        With the Spark engine the product events are checked in the lake (a view over its day
        folders), and the freshness horizon is the lake's newest day."""
        selected = {k.name for k in context.selected_asset_check_keys}
        days = _partition_days(context) if partitions_def else None
        previous = None if partitions_def else _previous_row_count(context, key)
        lake = engine.lake(warehouse.resolved_path()) if engine.is_spark else None
        with (
            warehouse.connect() as con,
            events_view(con, lake) if lake else nullcontext(EVENTS_TABLE) as events,
        ):
            checked = replace(suite, table=events) if key == EVENTS_KEY else suite
            prepared = prepare_suite(
                con, checked, days, only=selected, previous_row_count=previous, events_table=events
            )
            rows_table = events if key == EVENTS_KEY else None
            reconciliation = (
                reconcile_load(con, spec, days, rows_table)
                if spec and ROWS_RECONCILED in selected
                else None
            )
        # The connection is closed before GX runs: DuckDB has one writer per file.
        # with the Spark engine, the events checked are the lake's: say where
        extra = (
            {"checked_in_lake": dg.MetadataValue.path(lake)} if lake and key == EVENTS_KEY else {}
        )
        results = [_result(key, outcome, extra) for outcome in prepared.run().values()]
        if reconciliation is not None:
            results.append(
                dg.AssetCheckResult(
                    asset_key=key,
                    check_name=ROWS_RECONCILED,
                    passed=reconciliation.passed,
                    description="; ".join(reconciliation.problems[:5])
                    or "every row is accounted for",
                    metadata={
                        **{k: dg.MetadataValue.int(v) for k, v in reconciliation.totals.items()},
                        "loads_checked": dg.MetadataValue.int(len(reconciliation.loads)),
                        "problems": dg.MetadataValue.json(reconciliation.problems[:50]),
                        **extra,
                    },
                )
            )
        # a run over several days records each result against every one of its days
        yield from per_partition(context, results)

    return _checks


raw_checks_by_table: dict[str, dg.AssetChecksDefinition] = {
    name: suite_checks(raw_key(spec), RAW_SUITES[name], spec) for name, spec in RAW_BY_NAME.items()
}
raw_checks = list(raw_checks_by_table.values())
signals_checks = suite_checks(SIGNALS_KEY, SIGNALS_SUITE)
scores_checks = suite_checks(SCORES_KEY, SCORES_SUITE)
