"""Check results of daily-partitioned checks, recorded against every day a run covered.

Dagster (1.13) attaches an ``AssetCheckResult`` to a partition only when the step runs one
partition. A run over a range of days (``acct-pipeline demo`` / ``run --from --to``, a single-run
backfill) plans the check for each day of the range, but records the result against no day: the
days stay planned and, once the run has ended, read "Skipped". The UI's asset card counts a
partitioned check as passed only when none of its days is skipped or failed, so after the demo
the scores card read "0/20 Passed" while each check's own page said it passed.

``per_partition`` turns a range run's results into one ``AssetCheckEvaluation`` per day of the
range (each with the verdict the check reached over the range, and the range in its
description), plus the check's output, so steps that wait for a blocking check still run. A
single-day run keeps Dagster's own handling. Only the newest day's evaluation carries the
``blocking`` flag: a failed blocking check then stops the step once, naming the check once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import dagster as dg


def _check_key(
    context: dg.AssetCheckExecutionContext, result: dg.AssetCheckResult
) -> dg.AssetCheckKey:
    if result.asset_key is not None and result.check_name is not None:
        return dg.AssetCheckKey(result.asset_key, result.check_name)
    keys = list(context.selected_asset_check_keys)
    if len(keys) != 1:
        raise ValueError(
            "a check result without asset_key and check_name needs exactly one selected check"
        )
    return keys[0]


def per_partition(
    context: dg.AssetCheckExecutionContext, results: Iterable[dg.AssetCheckResult]
) -> Iterator[dg.AssetCheckResult | dg.AssetCheckEvaluation | dg.Output]:
    """``results`` as they are for a single-day run; for a run over several days, each result as
    one evaluation per day (see the module docstring) and the check's output."""
    days = list(context.partition_keys) if context.has_partition_key_range else []
    if context.has_partition_key or len(days) < 2:
        yield from results
        return
    assets_def = context.op_execution_context.assets_def
    span = f"evaluated over the run's {len(days)} days, {days[0]} .. {days[-1]}"
    for result in results:
        key = _check_key(context, result)
        spec = assets_def.get_spec_for_check_key(key)
        if spec.partitions_def is None:
            yield result
            continue
        for day in days:
            yield dg.AssetCheckEvaluation(
                asset_key=key.asset_key,
                check_name=key.name,
                passed=result.passed,
                metadata=result.metadata,
                severity=result.severity,
                description=f"{result.description} ({span})" if result.description else span,
                blocking=spec.blocking and day == days[-1],
                partition=day,
            )
        yield dg.Output(None, output_name=assets_def.get_output_name_for_asset_check_key(key))
