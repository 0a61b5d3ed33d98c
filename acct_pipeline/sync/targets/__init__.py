"""Where the sync writes: ``outbox`` (CSV files for a CRM import, the default), ``hubspot``,
``salesforce``. ``build_target`` picks one from the settings."""

from __future__ import annotations

import time
from collections.abc import Callable

from acct_pipeline.sync.mapping import FieldMapping
from acct_pipeline.sync.settings import SyncSettings
from acct_pipeline.sync.targets.base import BatchOutcome, OutRecord, SyncTarget


def build_target(
    settings: SyncSettings,
    mapping: FieldMapping,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> SyncTarget:
    if settings.target == "hubspot":
        from acct_pipeline.sync.targets.hubspot import HubSpotTarget

        return HubSpotTarget(settings, mapping, sleep=sleep, clock=clock)
    if settings.target == "salesforce":
        from acct_pipeline.sync.targets.salesforce import SalesforceTarget

        return SalesforceTarget(settings, mapping, sleep=sleep, clock=clock)
    from acct_pipeline.sync.targets.outbox import OutboxTarget

    return OutboxTarget(settings, mapping)


__all__ = ["BatchOutcome", "OutRecord", "SyncTarget", "build_target"]
