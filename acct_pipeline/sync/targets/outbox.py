"""The default target: CSV files ready for a CRM import, in ``data/outbox/``.

One file per write batch (a run usually writes one), named
``account_scores_<as-of>_<run>_<n>.csv``, columns ``record_id`` and the mapped fields. A file is
written to a temporary name and renamed, so it is either complete or absent; the file name is the
batch id in the ledger, and "the CRM accepted it" means "the file exists". A run with no changes
writes no file. An empty cell means "no value" (CRM imports leave the field as it is).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from pathlib import Path

from acct_pipeline.sync.mapping import FieldMapping
from acct_pipeline.sync.settings import SyncSettings
from acct_pipeline.sync.targets.base import BatchOutcome, OutRecord, SyncTarget

RECORD_ID_COLUMN = "record_id"


class OutboxTarget(SyncTarget):
    name = "outbox"
    max_concurrency = 1

    def __init__(self, settings: SyncSettings, mapping: FieldMapping) -> None:
        super().__init__(mapping)
        self.dir = Path(settings.outbox_dir)
        self.batch_size = settings.effective_batch_size
        self.files: list[Path] = []

    def file_for(self, batch_id: str) -> Path:
        return self.dir / (re.sub(r"[^A-Za-z0-9_.-]+", "_", batch_id) + ".csv")

    def write(self, records: Sequence[OutRecord], batch_id: str) -> BatchOutcome:
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.file_for(batch_id)
        tmp = path.with_suffix(".csv.tmp")
        columns = [f.crm_name(self.name) for f in self.specs]
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow([RECORD_ID_COLUMN, *columns])
            for r in records:
                w.writerow([r.record_id, *[r.values.get(f.name) or "" for f in self.specs]])
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        self.write_requests += 1
        self.files.append(path)
        return BatchOutcome(accepted=[r.record_id for r in records])

    def read_back(self, records: Sequence[OutRecord], batch_ids: Sequence[str | None]) -> set[str]:
        """A record of an interrupted run is delivered when its batch's file exists (it is
        renamed into place only once complete)."""
        return {
            r.record_id
            for r, b in zip(records, batch_ids, strict=True)
            if b and self.file_for(b).exists()
        }
