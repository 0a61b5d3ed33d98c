"""Raw copies of the source systems (``ingest.*``), one asset per raw table."""

from datetime import date

import dagster as dg

from acct_pipeline.connectors.catalogue import DOMAIN_OF_TABLE
from acct_pipeline.connectors.ingest import ingest_days, ingest_snapshot
from acct_pipeline.connectors.registry import source_name_for
from acct_pipeline.defs.keys import INGEST_PREFIX, ROWS_KEPT
from acct_pipeline.defs.partitions import daily_partitions, single_run
from acct_pipeline.defs.resources import WarehouseResource
from acct_pipeline.engine.lake import is_local
from acct_pipeline.engine.resource import EngineResource
from acct_pipeline.warehouse import PRODUCT_EVENTS, SNAPSHOT_TABLES, LoadResult, TableSpec


def load_metadata(result: LoadResult) -> dict[str, dg.MetadataValue]:
    return {
        "source": dg.MetadataValue.text(result.source),
        "rows_in": dg.MetadataValue.int(result.rows_in),
        ROWS_KEPT: dg.MetadataValue.int(result.rows_kept),
        "rows_quarantined": dg.MetadataValue.int(result.rows_quarantined),
        "values_nulled": dg.MetadataValue.int(result.values_nulled),
        "quarantine_rules": dg.MetadataValue.json(result.rules),
        **({"notes": dg.MetadataValue.json(result.notes)} if result.notes else {}),
    }


def _snapshot_asset(spec: TableSpec) -> dg.AssetsDefinition:
    @dg.asset(
        name=spec.name,
        key_prefix=INGEST_PREFIX,
        group_name="ingest",
        kinds={"duckdb"},
        description=(
            f"{spec.description} A full snapshot from the configured {DOMAIN_OF_TABLE[spec.name]} "
            "source, refreshed every run. Rows that break a row rule go to staging.quarantine."
        ),
    )
    def _asset(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            result = ingest_snapshot(con, spec)
        context.log.info(
            f"{spec.name}: {result.rows_kept} rows kept, {result.rows_quarantined} quarantined "
            f"from {result.source}"
        )
        for note in result.notes:
            context.log.warning(note)
        return dg.MaterializeResult(metadata=load_metadata(result))

    return _asset


snapshot_assets = [_snapshot_asset(spec) for spec in SNAPSHOT_TABLES]


@dg.asset(
    name=PRODUCT_EVENTS.name,
    key_prefix=INGEST_PREFIX,
    group_name="ingest",
    kinds={"duckdb"},
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    description=(
        "Product usage events, one UTC day per partition, from the configured product analytics "
        "source. A rerun replaces exactly its day. With the Spark engine (ACCT_ENGINE=spark) "
        "the events live in the lake (<lake>/ingest/product_events/event_date=<day>/), not in "
        "DuckDB: a day the lake already holds (written by the product's event pipeline) is "
        "counted, not read; otherwise the day is loaded from the source and written there."
    ),
)
def product_events(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, engine: EngineResource
) -> dg.MaterializeResult:
    days = [date.fromisoformat(k) for k in context.partition_keys]
    lake = engine.lake(warehouse.resolved_path()) if engine.is_spark else None
    context.log.info(
        f"loading {len(days)} day(s) of events from {source_name_for(PRODUCT_EVENTS.name)}"
        + (f" into the lake {lake}" if lake else "")
    )
    spark = None
    if lake is not None and not is_local(lake):  # an object store is read through Spark
        spark = engine.spark_engine(warehouse.resolved_path()).spark
    with warehouse.connect() as con:
        result = ingest_days(
            con, PRODUCT_EVENTS, days, progress=context.log.debug, lake=lake, spark=spark
        )
    for note in result.notes:
        context.log.info(note)
    extra = {"lake": dg.MetadataValue.path(lake)} if lake else {}
    return dg.MaterializeResult(
        metadata={**load_metadata(result), "days": dg.MetadataValue.int(len(days)), **extra}
    )
