"""``SyncReport``: what one sync run did (a dry run: would do), for run metadata and people."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any


@dataclass
class SyncReport:
    """Counts are records unless named ``*_requests``.

    - ``scored``: records in the scores partition; ``unchanged``: nothing to send;
      ``new`` / ``changed`` / ``retried``: why the others are sent (``retried``: same values still
      pending or rejected by an earlier run); ``stale``: the CRM holds values of a later day.
    - ``sent``: records the CRM processed (accepted, confirmed by a read-back, or rejected on their
      merits) — not those refused before processing by a quota / rate limit, nor unknown outcomes;
      ``accepted`` / ``rejected``: the CRM's answer; ``rejection_categories``: rejected records
      by the CRM's category (``LOCKED``, ``VALIDATION_ERROR``); ``retried_in_run``: transient
      per-record refusals sent again within the run, by category;
      ``pending``: records of this target not accepted when the run ended (rejected, stopped by a
      quota, or with an unknown outcome), all sent again by the next run.
    - ``confirmed_by_read_back``: records found already written after an interrupted send.
    - reconcile: ``reconcile_checked`` records read back from the CRM, ``drifted`` of them held
      other values than the ledger's accepted ones and are sent again (counted as ``new``).
    - outbox: ``exported``: records written to an import file by this run (not "accepted": nobody
      knows whether the file was imported); ``exported_unchanged``: records whose values sit in an
      earlier, unconfirmed file (not written again); ``awaiting_import``: all records of the target
      exported and not yet confirmed (``acct-pipeline sync --confirm-import FILE``).
    """

    target: str
    as_of_date: date
    run_id: str
    target_identity: str | None = None  # the ledger key: portal id / instance URL / outbox folder
    dry_run: bool = False
    forced: bool = False
    reconciled: bool = False
    reconcile_checked: int = 0
    drifted: int = 0
    scored: int = 0
    duplicates: int = 0
    unchanged: int = 0
    new: int = 0
    changed: int = 0
    retried: int = 0
    stale: int = 0
    baseline: int = 0
    change_share: float = 0.0
    max_change_share: float = 0.5
    sent: int = 0
    accepted: int = 0
    exported: int = 0
    exported_unchanged: int = 0
    awaiting_import: int = 0
    rejected: int = 0
    pending: int = 0
    confirmed_by_read_back: int = 0
    recovered_in_flight: int = 0
    write_requests: int = 0
    http_requests: int = 0
    http_retries: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0
    throttle_waits: int = 0
    throttle_wait_seconds: float = 0.0
    duration_seconds: float = 0.0
    field_changes: dict[str, int] = field(default_factory=dict)
    rejection_messages: Counter[str] = field(default_factory=Counter)
    rejection_categories: Counter[str] = field(default_factory=Counter)
    retried_in_run: Counter[str] = field(default_factory=Counter)
    samples: list[dict[str, str | None]] = field(default_factory=list)
    outbox_files: list[str] = field(default_factory=list)
    stopped_reason: str | None = None
    refusals: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def to_send(self) -> int:
        return self.new + self.changed + self.retried

    @property
    def complete(self) -> bool:
        """Every record that had to be sent was accepted (or it was a dry run with no refusal)."""
        if self.dry_run:
            return not self.refusals
        return (
            self.stopped_reason is None
            and self.accepted + self.exported + self.confirmed_by_read_back >= self.to_send
        )

    def top_rejections(self, n: int = 5) -> list[tuple[str, int]]:
        return self.rejection_messages.most_common(n)

    def to_metadata(self) -> dict[str, Any]:
        """Plain JSON-able values for Dagster materialization metadata (no secrets in here)."""
        meta: dict[str, Any] = {
            "target": self.target,
            "target_identity": self.target_identity,
            "as_of_date": self.as_of_date.isoformat(),
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "forced": self.forced,
            "records_scored": self.scored,
            "records_to_send": self.to_send,
            "records_new": self.new,
            "records_changed": self.changed,
            "records_retried": self.retried,
            "records_unchanged": self.unchanged,
            "records_stale": self.stale,
            "records_sent": self.sent,
            "records_accepted": self.accepted,
            "records_exported": self.exported,
            "records_exported_unchanged": self.exported_unchanged,
            "records_awaiting_import": self.awaiting_import,
            "records_rejected": self.rejected,
            "reconciled": self.reconciled,
            "records_reconcile_checked": self.reconcile_checked,
            "records_drifted": self.drifted,
            "records_pending": self.pending,
            "records_confirmed_by_read_back": self.confirmed_by_read_back,
            "change_share": round(self.change_share, 4),
            "max_change_share": self.max_change_share,
            "write_requests": self.write_requests,
            "http_requests": self.http_requests,
            "http_retries": self.http_retries,
            "rate_limit_waits": self.rate_limit_waits,
            "rate_limit_wait_seconds": round(self.rate_limit_wait_seconds, 3),
            "throttle_waits": self.throttle_waits,
            "throttle_wait_seconds": round(self.throttle_wait_seconds, 3),
            "duration_seconds": round(self.duration_seconds, 3),
            "complete": self.complete,
            "field_changes": dict(self.field_changes),
            "top_rejections": [{"message": m, "records": n} for m, n in self.top_rejections()],
            "rejections_by_category": dict(self.rejection_categories),
            "retried_in_run_by_category": dict(self.retried_in_run),
        }
        if self.samples:
            meta["samples"] = self.samples
        if self.outbox_files:
            meta["outbox_files"] = list(self.outbox_files)
        if self.stopped_reason:
            meta["stopped_reason"] = self.stopped_reason
        for key in ("refusals", "notes", "warnings"):
            if getattr(self, key):
                meta[key] = list(getattr(self, key))
        return meta

    def summary_text(self) -> str:
        """A few lines for the CLI and the run log."""
        head = "DRY RUN — nothing written. " if self.dry_run else ""
        lines = [
            f"{head}sync {self.target} for {self.as_of_date}: {self.scored:,} scored records, "
            f"{self.to_send:,} to send ({self.new:,} new, {self.changed:,} changed, "
            f"{self.retried:,} retried), "
            f"{self.unchanged:,} unchanged"
            + (
                f", {self.exported_unchanged:,} unchanged in an outbox file not yet confirmed "
                "as imported"
                if self.exported_unchanged
                else ""
            )
            + (f", {self.stale:,} stale (CRM holds a later day)" if self.stale else ""),
        ]
        if self.baseline:
            lines.append(
                f"change share: {self.change_share:.1%} of {self.baseline:,} synced records "
                f"(limit {self.max_change_share:.0%}{', forced' if self.forced else ''})"
            )
        if self.field_changes:
            lines.append(
                "fields changing: " + ", ".join(f"{k} {v:,}" for k, v in self.field_changes.items())
            )
        if self.dry_run and self.samples:
            lines.append("sample (before → after):")
            for s in self.samples:
                lines.append(
                    f"  {s['record_id']:<20} {s['field']:<24} {s['before']!s:>14} → {s['after']}"
                )
        if not self.dry_run:
            lines.append(
                f"sent {self.sent:,}, accepted {self.accepted:,}, rejected {self.rejected:,}, "
                f"pending {self.pending:,}; {self.write_requests:,} write requests, "
                f"{self.http_requests:,} HTTP requests, {self.rate_limit_waits:,} rate-limit waits "
                f"({self.rate_limit_wait_seconds:.1f}s), {self.throttle_waits:,} throttle waits "
                f"({self.throttle_wait_seconds:.1f}s), {self.duration_seconds:.1f}s"
            )
        if self.reconciled:
            lines.append(
                f"reconcile: {self.reconcile_checked:,} records read back from the CRM, "
                f"{self.drifted:,} drifted and rewritten"
            )
        if self.exported or self.awaiting_import:
            lines.append(
                f"exported {self.exported:,} to import files; {self.awaiting_import:,} records "
                "await an import confirmation (acct-pipeline sync --confirm-import FILE)"
            )
        if self.confirmed_by_read_back:
            lines.append(f"{self.confirmed_by_read_back:,} records confirmed by reading them back")
        if self.retried_in_run:
            lines.append("retried within the run: " + _by_category(self.retried_in_run))
        if self.rejection_categories:
            lines.append("rejected: " + _by_category(self.rejection_categories))
        for msg, n in self.top_rejections():
            lines.append(f"  rejected ×{n}: {msg}")
        lines += [f"file: {f}" for f in self.outbox_files]
        if self.stopped_reason:
            lines.append(f"STOPPED: {self.stopped_reason}")
        lines += [f"REFUSED: {r}" for r in self.refusals]
        lines += [f"note: {n}" for n in self.notes]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["as_of_date"] = self.as_of_date.isoformat()
        d["rejection_messages"] = dict(self.rejection_messages)
        d["rejection_categories"] = dict(self.rejection_categories)
        d["retried_in_run"] = dict(self.retried_in_run)
        return d


def _by_category(counts: Counter[str]) -> str:
    return ", ".join(f"{k} ×{n:,}" for k, n in counts.most_common())
