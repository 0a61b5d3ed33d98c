"""The default target: CSV files ready for a CRM import, in ``data/outbox/``.

One file per write batch (a run usually writes one), named
``account_scores_<as-of>_<run>_<n>.csv``. The file is an import file for the CRM named by
``ACCT_SYNC_OUTBOX_FORMAT`` (``hubspot``, the default, or ``salesforce``): the first column is the
id the CRM's import matches existing records on (HubSpot "Record ID", Salesforce "Id"), the others
are the CRM's property / field names from the field mapping, values as the CRM expects them
(numbers plain, dates ``YYYY-MM-DD``, picklist values as defined). Text that a spreadsheet would
run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) is prefixed
with ``'``.

A file is written to a temporary name and renamed, so it is either complete or absent; the file
name is the batch id in the ledger. Its records are ``exported`` — not accepted: whether anybody
imported the file is confirmed with ``acct-pipeline sync --confirm-import FILE``. A run with no
changes writes no file. An empty cell means "no value" (CRM imports leave the field as it is).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from pathlib import Path

from acct_pipeline.sync.mapping import FieldMapping, FieldSpec
from acct_pipeline.sync.settings import SyncSettings
from acct_pipeline.sync.targets.base import BatchOutcome, OutRecord, SyncTarget

# The column each CRM's import matches existing records on.
ID_COLUMNS = {"hubspot": "Record ID", "salesforce": "Id"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    """Text a spreadsheet would evaluate (``=HYPERLINK(...)``, ``+1``, ``@SUM``) is prefixed with
    ``'`` so it stays text (OWASP "CSV injection")."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def cell(spec: FieldSpec, value: str | None) -> str:
    if value is None:
        return ""
    return value if spec.type in ("number", "date") else neutralise(value)


class OutboxTarget(SyncTarget):
    name = "outbox"
    max_concurrency = 1
    delivered_event = "exported"

    def __init__(self, settings: SyncSettings, mapping: FieldMapping) -> None:
        super().__init__(mapping)
        self.format = settings.outbox_format
        self.id_column = ID_COLUMNS[self.format]
        self.specs = mapping.for_target(self.format)  # fields that CRM has a name for
        self.dir = Path(settings.outbox_dir)
        self.batch_size = settings.effective_batch_size
        self.files: list[Path] = []

    def file_for(self, batch_id: str) -> Path:
        return self.dir / (re.sub(r"[^A-Za-z0-9_.-]+", "_", batch_id) + ".csv")

    def write(self, records: Sequence[OutRecord], batch_id: str) -> BatchOutcome:
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.file_for(batch_id)
        tmp = path.with_suffix(".csv.tmp")
        columns = [f.crm_name(self.format) for f in self.specs]
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow([self.id_column, *columns])
            for r in records:
                w.writerow([r.record_id, *[cell(f, r.values.get(f.name)) for f in self.specs]])
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
