"""The dead-signal check on ``features/account_signals`` (WARN: a dead measure is news, the
scores are still written). The logic is ``acct_pipeline.quality.dead_signals``.

Daily partitioned like the signals. A run of several days (a backfill) is judged on its newest
day: that is the day the scores of the run end on, and the one the sync writes to the CRM.
"""

from collections.abc import Iterator
from contextlib import nullcontext
from datetime import date

import dagster as dg

from acct_pipeline.defs.check_results import per_partition
from acct_pipeline.defs.partitions import daily_partitions
from acct_pipeline.defs.quality.checks import SIGNALS_KEY
from acct_pipeline.defs.resources import WarehouseResource
from acct_pipeline.engine.lake import events_view
from acct_pipeline.engine.resource import EngineResource
from acct_pipeline.quality.dead_signals import (
    CHECK_DEAD_SIGNALS,
    CHECK_DEAD_SIGNALS_DESCRIPTION,
    find_dead_signals,
)
from acct_pipeline.scoring.model import load_model


def _metadata_value(value: object) -> object:
    return dg.MetadataValue.json(value) if isinstance(value, dict | list) else value


@dg.asset_check(
    asset=SIGNALS_KEY,
    name=CHECK_DEAD_SIGNALS,
    blocking=False,
    partitions_def=daily_partitions,
    description=CHECK_DEAD_SIGNALS_DESCRIPTION,
)
def dead_signals_check(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, engine: EngineResource
) -> Iterator[dg.AssetCheckResult | dg.AssetCheckEvaluation | dg.Output]:
    """Model measures that are NULL or constant for nearly every account, and configured key
    features / activity types that never occur, on the newest day of the run (recorded against
    every day of the run, ``check_results.per_partition``)."""
    day = max(date.fromisoformat(k) for k in context.partition_keys)
    model = load_model()
    lake = engine.lake(warehouse.resolved_path()) if engine.is_spark else None
    with (
        warehouse.connect() as con,
        events_view(con, lake) if lake else nullcontext() as events,  # Spark: the lake's events
    ):
        report = find_dead_signals(con, model, day, **({"events_table": events} if lake else {}))
    meta = {k: _metadata_value(v) for k, v in report.metadata().items()}
    meta["model_version"] = model.label
    result = dg.AssetCheckResult(
        passed=report.passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=report.summary(),
        metadata=meta,
    )
    yield from per_partition(context, [result])
