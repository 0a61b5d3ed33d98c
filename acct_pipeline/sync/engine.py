"""``run_sync``: write one day's scores to the CRM — only what changed, batched, nothing lost.

Order of work (each ledger step is committed before the next network call):

1. guards: the partition passed its blocking checks; the scores partition exists and has rows;
   the target's identity (portal / org / folder, ``identity.py``) picks its rows of the ledger;
2. recover: records left ``in_flight`` by an interrupted run are read back from the CRM; those that
   hold the values are marked accepted without being sent again, the rest go back to ``pending``;
3. diff (SQL, ``plan.py``) against what the CRM last accepted; guard the share of changed records;
4. dry run: stop here with counts and before → after samples;
5. ``prepare`` the target (fields exist / are created), queue the records as ``pending``;
6. per batch: mark ``in_flight`` → send → mark ``accepted`` / ``rejected`` from the CRM's answer.
   After an unknown outcome (5xx, timeout, dropped connection) the batch is read back and only the
   records not found are sent again. A daily quota / persistent 429 / auth error stops the run
   cleanly: what was not sent stays ``pending`` and the next run resumes with it.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

import duckdb

from acct_pipeline.connectors.http import ApiError, AuthFailed, QuotaExhausted, RateLimited
from acct_pipeline.scoring.overrides import OVERRIDE_COLUMNS
from acct_pipeline.sync import identity, ledger
from acct_pipeline.sync.mapping import FieldMapping, load_mapping
from acct_pipeline.sync.plan import PLAN, build_plan, records_to_send, samples
from acct_pipeline.sync.report import SyncReport
from acct_pipeline.sync.settings import SyncConfigError, SyncSettings
from acct_pipeline.sync.targets import build_target
from acct_pipeline.sync.targets.base import (
    BatchOutcome,
    OutRecord,
    SyncTarget,
    is_config_error,
    is_transient,
    rejection_category,
)
from acct_pipeline.warehouse import ACCOUNT_SCORES, AS_OF_DATE, table_exists

_log = logging.getLogger(__name__)

ConnectionFactory = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]
# True/False, or called with the day: True / False, or the names of the failed blocking checks.
ChecksGuard = bool | Callable[[date], "bool | Sequence[str]"]


class Logger(Protocol):
    def info(self, msg: str, *args: Any) -> Any: ...
    def warning(self, msg: str, *args: Any) -> Any: ...


class SyncError(RuntimeError):
    """The sync could not run; the message says what to do."""


class SyncRefused(SyncError):
    """A guard refused the run. ``reason``: ``checks_failed``, ``no_scores`` or ``change_share``;
    ``report``: what the diff found (for ``change_share``)."""

    def __init__(self, reason: str, message: str, report: SyncReport | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.report = report


class UnknownField(SyncConfigError):
    """The CRM refused a write naming a field it does not have (deleted since it was checked)."""


class _Stop(Exception):
    """Stop sending: the run ends cleanly with this reason."""


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def latest_scored_date(con: duckdb.DuckDBPyConnection) -> date | None:
    """The newest ``as_of_date`` in the scores table (the CLI's default day)."""
    if not table_exists(con, ACCOUNT_SCORES):
        return None
    return con.execute(f"SELECT max({AS_OF_DATE}) FROM {ACCOUNT_SCORES}").fetchone()[0]


def failed_checks(guard: ChecksGuard, as_of: date) -> list[str] | None:
    """None when the partition passed, else the failed checks (``["blocking checks"]`` if
    unnamed)."""
    verdict = guard(as_of) if callable(guard) else guard
    if verdict is True:
        return None
    if verdict is False or verdict is None:
        return ["blocking checks"]
    names = [str(v) for v in verdict]
    return names or None


def run_sync(
    con_factory: ConnectionFactory,
    settings: SyncSettings,
    as_of_date: date,
    *,
    partition_passed_checks: ChecksGuard,
    dry_run: bool = False,
    force: bool = False,
    run_id: str | None = None,
    log: Logger | None = None,
    mapping: FieldMapping | None = None,
    target: SyncTarget | None = None,
    reconcile: bool = False,
) -> SyncReport:
    """Sync the scores of ``as_of_date`` to ``settings.target`` and return what happened.

    ``con_factory()``: a context manager yielding a DuckDB connection to the warehouse (e.g.
    ``lambda: warehouse.connect(path)`` or a Dagster resource's ``connect``).
    ``partition_passed_checks``: bool, or a callable ``(day) -> bool | list of failed check names``;
    a failed partition refuses the run (``SyncRefused('checks_failed')``; a dry run reports it).
    ``force``: send even when more than ``settings.max_change_share`` of the synced records would
    change, and even when the CRM holds values of a later day. ``target``: an already built target
    (tests, benchmarks); by default it is built from ``settings``. ``reconcile``: first read the
    mapped fields of every synced record back from the CRM and rewrite the records whose CRM values
    are not what the ledger says was accepted (edited by hand, an emptied or restored portal).

    Raises ``SyncRefused`` (guards), ``SyncConfigError`` (settings, mapping, missing CRM fields),
    ``AuthFailed``. A quota / rate-limit stop is not an exception: ``report.stopped_reason``.
    """
    if target is not None and target.name != settings.target:
        raise SyncConfigError(
            f"run_sync: target {target.name!r} does not match settings.target {settings.target!r}"
        )
    log = log or _log
    started = time.perf_counter()
    run_id = run_id or new_run_id()
    mapping = mapping or load_mapping(settings.field_mapping_path)
    report = SyncReport(
        target=settings.target,
        as_of_date=as_of_date,
        run_id=run_id,
        dry_run=dry_run,
        forced=force,
        max_change_share=settings.max_change_share,
        reconciled=reconcile,
    )
    if reconcile and settings.target == "outbox":
        raise SyncConfigError(
            "sync --reconcile reads the CRM back: it needs ACCT_SYNC_TARGET=hubspot or salesforce "
            "(outbox files are confirmed with --confirm-import FILE)"
        )
    failed = failed_checks(partition_passed_checks, as_of_date)
    if failed:
        msg = (
            f"scores partition {as_of_date} failed its blocking checks ({', '.join(failed)}): "
            "the sync does not write scores that failed their checks — fix the data and rerun the "
            "partition"
        )
        if not dry_run:
            raise SyncRefused("checks_failed", msg)
        report.refusals.append(msg)

    own_target = target is None
    tgt = target

    def get_target() -> SyncTarget:
        nonlocal tgt
        tgt = tgt or build_target(settings, mapping)
        return tgt

    try:
        with con_factory() as con:
            _require_scores(con, as_of_date)
            if not dry_run:
                ledger.ensure_ledger(con)
                ledger.fold_journal(con)  # a crashed run's last steps
            try:
                key, notes = identity.resolve(con, settings, get_target, store=not dry_run)
            except (QuotaExhausted, RateLimited) as exc:
                report.stopped_reason = get_target().redact(str(exc))
                return _finish(con, report, tgt, started, settings, None)
            report.target_identity = key.identity
            report.warnings += notes
            if dry_run:
                ledger_table = ledger.ledger_for_reading(con, key)
            else:
                ledger_table = ledger.CRM_SYNC_LEDGER
                claimed = ledger.claim_legacy(con, key)
                if claimed:
                    report.notes.append(
                        f"{claimed:,} ledger rows from before target identities assigned to "
                        f"{settings.target} {key.identity}"
                    )
                stuck = ledger.in_flight(con, key)
                if stuck:
                    try:
                        _recover(con, get_target(), settings, key, stuck, run_id, report, log)
                    except (QuotaExhausted, RateLimited) as exc:
                        report.stopped_reason = get_target().redact(str(exc))
                        return _finish(con, report, tgt, started, settings, key)

            if reconcile and not dry_run:
                _reconcile(con, get_target(), settings, key, run_id, report, log)

            plan = build_plan(
                con,
                mapping,
                settings.target,
                as_of_date,
                ledger_table,
                identity=key.identity,
                allow_stale=force,
                fields_for=settings.outbox_format if settings.target == "outbox" else None,
            )
            report.scored, report.duplicates = plan.scored, plan.duplicates
            report.unchanged, report.new = plan.count("unchanged"), plan.count("new")
            report.exported_unchanged = plan.count("exported")
            report.changed, report.retried = plan.count("changed"), plan.count("retry")
            report.stale, report.baseline = plan.count("stale"), plan.baseline
            report.change_share = plan.change_share
            report.field_changes = dict(plan.field_changes)
            report.notes += plan.notes
            # the override columns appear with the first override (scoring/overrides.py): their
            # absence is the normal state of a warehouse without overrides, not a mapping error
            missing = [
                m for m in plan.missing_sources if m.split(" <- ")[-1] not in OVERRIDE_COLUMNS
            ]
            if missing:
                report.warnings.append(
                    "scores table has no column for: " + ", ".join(missing) + " (not sent)"
                )
            if plan.duplicates:
                report.warnings.append(
                    f"{plan.duplicates} duplicate score rows ignored (one row per record)"
                )
            if plan.count("stale"):
                report.warnings.append(
                    f"{plan.count('stale')} records skipped: the CRM holds values of a later "
                    "score day (--force sends them anyway)"
                )
            report.samples = samples(
                con, settings.sample_size if dry_run else min(5, settings.sample_size)
            )

            if plan.baseline and plan.change_share > settings.max_change_share and not force:
                msg = (
                    f"{plan.count('changed') - plan.first_fill:,} of {plan.baseline:,} synced "
                    "records "
                    f"({plan.change_share:.1%}) would change, more than the limit of "
                    f"{settings.max_change_share:.0%} (ACCT_SYNC_MAX_CHANGE_SHARE): a broken "
                    "model or input would blanket the CRM — check with --dry-run, then rerun "
                    "with --force"
                )
                if not dry_run:
                    report.refusals.append(msg)
                    report.duration_seconds = time.perf_counter() - started
                    raise SyncRefused("change_share", msg, report)
                report.refusals.append(msg)

            if dry_run:
                report.duration_seconds = time.perf_counter() - started
                log.info("%s", report.summary_text())
                return report

            todo = records_to_send(con)
            if not todo:
                return _finish(con, report, tgt, started, settings, key)
            tgt = get_target()
            crm_names = [f.crm_name(settings.target) for f in mapping.fields]
            fingerprint = ledger.fields_fingerprint(key, crm_names)
            checked = settings.target == "outbox" or not ledger.fields_verified(
                con, settings.target, fingerprint
            )
            if checked:
                report.notes += tgt.prepare()
                ledger.mark_fields_verified(con, settings.target, fingerprint, crm_names)
            ledger.stage_pending(con, key, PLAN, run_id)
            log.info(
                "sync %s %s: sending %d records in batches of %d",
                settings.target,
                as_of_date,
                len(todo),
                tgt.batch_size,
            )
            try:
                try:
                    _send_all(con, tgt, settings, key, todo, as_of_date, run_id, report, log)
                except UnknownField:
                    if checked:
                        raise
                    # a field verified by an earlier run is gone: check (and, when allowed,
                    # create) the fields again, then send what is still pending
                    ledger.fold_journal(con)
                    ledger.forget_fields_verified(con, settings.target)
                    report.notes.append(
                        "the CRM refused a field verified earlier: fields checked again"
                    )
                    report.notes += tgt.prepare()
                    ledger.mark_fields_verified(con, settings.target, fingerprint, crm_names)
                    left = set(ledger.ids_with_status(con, key, ledger.PENDING))
                    todo = [t for t in todo if t[0] in left]
                    _send_all(con, tgt, settings, key, todo, as_of_date, run_id, report, log)
            finally:
                ledger.fold_journal(con)
            _finish(con, report, tgt, started, settings, key)
            log.info("%s", report.summary_text())
            return report
    finally:
        if own_target and tgt is not None:
            tgt.close()


def _require_scores(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    if not table_exists(con, ACCOUNT_SCORES):
        raise SyncRefused(
            "no_scores",
            f"no scores table {ACCOUNT_SCORES}: materialize scores.account_scores for "
            f"{as_of} first",
        )
    n = con.execute(
        f"SELECT count(*) FROM {ACCOUNT_SCORES} WHERE {AS_OF_DATE} = ?", [as_of]
    ).fetchone()[0]
    if not n:
        raise SyncRefused(
            "no_scores",
            f"scores partition {as_of} is missing or empty in {ACCOUNT_SCORES}: "
            "materialize it first (an empty partition is never synced — it would look like every "
            "score vanished)",
        )


def _finish(
    con: duckdb.DuckDBPyConnection,
    report: SyncReport,
    tgt: SyncTarget | None,
    started: float,
    settings: SyncSettings,
    key: ledger.TargetKey | None,
) -> SyncReport:
    if not report.dry_run:
        ledger.fold_journal(con)
    counts = ledger.status_counts(con, key) if key is not None else {}
    report.pending = sum(
        n for s, n in counts.items() if s not in (ledger.ACCEPTED, ledger.EXPORTED)
    )
    report.awaiting_import = counts.get(ledger.EXPORTED, 0)
    if tgt is not None:
        report.write_requests = tgt.write_requests
        stats = tgt.http_stats()
        if stats is not None:
            report.http_requests = stats.requests
            report.http_retries = stats.retries
            report.rate_limit_waits = stats.rate_limit_waits
            report.rate_limit_wait_seconds = stats.rate_limit_wait_seconds
            report.throttle_waits = stats.throttle_waits
            report.throttle_wait_seconds = stats.throttle_wait_seconds
        files = getattr(tgt, "files", None)
        if files:
            report.outbox_files = [str(f) for f in files]
    report.duration_seconds = time.perf_counter() - started
    return report


def _records(rows: Sequence[tuple[str, str]]) -> list[OutRecord]:
    return [OutRecord(rid, json.loads(payload)) for rid, payload in rows]


def _recover(
    con: duckdb.DuckDBPyConnection,
    tgt: SyncTarget,
    settings: SyncSettings,
    key: ledger.TargetKey,
    stuck: Sequence[ledger.InFlight],
    run_id: str,
    report: SyncReport,
    log: Logger,
) -> None:
    """Settle records an interrupted run left ``in_flight`` before diffing anything."""
    records = _records([(s.record_id, s.values_json) for s in stuck])
    report.recovered_in_flight = len(records)
    confirmed = tgt.read_back(records, [s.batch_id for s in stuck]) if settings.read_back else None
    ids = [r.record_id for r in records]
    if confirmed is None:
        # Without a read-back the batch is sent again: HubSpot batch/update and Salesforce PATCH by
        # id are idempotent for identical values, and none of these records was ever confirmed.
        ledger.mark_pending(con, key, ids, run_id, "outcome of an interrupted send unknown; resent")
        log.warning("sync: %d records of an interrupted run will be sent again", len(ids))
        return
    ledger.mark_accepted(
        con,
        key,
        [i for i in ids if i in confirmed],
        run_id,
        "confirmed by read-back after an interrupted run",
        status=ledger.EXPORTED if tgt.delivered_event == ledger.EXPORTED else ledger.ACCEPTED,
    )
    ledger.mark_pending(
        con,
        key,
        [i for i in ids if i not in confirmed],
        run_id,
        "not in the CRM after an interrupted run",
    )
    report.confirmed_by_read_back += len(confirmed)
    log.info(
        "sync: %d records of an interrupted run: %d already in the CRM, %d to send again",
        len(ids),
        len(confirmed),
        len(ids) - len(confirmed),
    )


def _reconcile(
    con: duckdb.DuckDBPyConnection,
    tgt: SyncTarget,
    settings: SyncSettings,
    key: ledger.TargetKey,
    run_id: str,
    report: SyncReport,
    log: Logger,
) -> None:
    """Read back every record the ledger says the CRM holds; those whose CRM values differ (a
    person edited them, the portal was emptied or restored) lose their accepted values, so the
    diff sends them again as new."""
    rows = ledger.accepted_values(con, key)
    records = _records(rows)
    confirmed = tgt.read_back(records, [None] * len(records))
    if confirmed is None:
        raise SyncConfigError(f"{settings.target}: this target cannot be read back to reconcile")
    drifted = [r.record_id for r in records if r.record_id not in confirmed]
    ledger.forget_accepted(
        con, key, drifted, run_id, "CRM values differed from the ledger (reconcile)"
    )
    report.reconcile_checked = len(records)
    report.drifted = len(drifted)
    log.info(
        "sync reconcile %s: %d records read back, %d drifted (rewritten)",
        settings.target,
        len(records),
        len(drifted),
    )


@dataclass
class _Delivery:
    """The network outcome of one batch, applied to the ledger by the main thread."""

    batch_id: str
    size: int
    accepted: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)
    confirmed: list[str] = field(default_factory=list)  # found written by a read-back
    unsent: list[str] = field(default_factory=list)  # known not applied: back to pending
    unknown: list[str] = field(default_factory=list)  # cannot tell: stays in_flight
    retried: Counter[str] = field(default_factory=Counter)  # category -> transient retries
    stop: str | None = None
    error: BaseException | None = None


def _send_all(
    con: duckdb.DuckDBPyConnection,
    tgt: SyncTarget,
    settings: SyncSettings,
    key: ledger.TargetKey,
    todo: Sequence[tuple[str, str, str]],
    as_of: date,
    run_id: str,
    report: SyncReport,
    log: Logger,
) -> None:
    """Send every batch, up to ``concurrency`` requests at a time (the rate limiter paces them).

    Only this thread touches DuckDB: a batch is marked ``in_flight`` (committed) before a worker
    sends it, and its outcome is recorded when the worker returns.
    """
    size = tgt.batch_size
    batches = (
        (
            _records([(rid, payload) for rid, payload, _ in todo[start : start + size]]),
            f"account_scores_{as_of.isoformat()}_{run_id}_{n:05d}",
        )
        for n, start in enumerate(range(0, len(todo), size))
    )
    workers = max(
        1, min(settings.concurrency, getattr(tgt, "max_concurrency", settings.concurrency))
    )
    stop: str | None = None
    error: BaseException | None = None
    running: set[Future[_Delivery]] = set()
    deliveries: list[_Delivery] = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sync") as pool:
        while True:
            for d in deliveries:
                stop = stop or d.stop
                error = error or d.error
            fresh: list[tuple[list[OutRecord], str]] = []
            while stop is None and error is None and len(running) + len(fresh) < workers:
                nxt = next(batches, None)
                if nxt is None:
                    break
                fresh.append(nxt)
            # One commit per step: outcomes of the finished batches, and the next batches marked
            # in flight — committed before any of them is sent.
            _commit_step(con, key, deliveries, fresh, run_id, report, tgt.delivered_event)
            for records, batch_id in fresh:
                running.add(pool.submit(_deliver, tgt, settings, records, batch_id, log))
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            running -= done
            deliveries = [fut.result() for fut in done]
    if stop:
        report.stopped_reason = stop
        log.warning("sync stopped: %s", stop)
    if error is not None:
        raise error


def _commit_step(
    con: duckdb.DuckDBPyConnection,
    key: ledger.TargetKey,
    deliveries: Sequence[_Delivery],
    fresh: Sequence[tuple[list[OutRecord], str]],
    run_id: str,
    report: SyncReport,
    delivered_event: str = "accepted",
) -> None:
    """Record finished batches and mark the next ones in flight, in one transaction."""
    accepted = [rid for d in deliveries for rid in d.accepted]
    confirmed = [rid for d in deliveries for rid in d.confirmed]
    rejected = {rid: msg for d in deliveries for rid, msg in d.rejected.items()}
    unsent = [rid for d in deliveries for rid in d.unsent]
    events: list[tuple[str, str, str | None, str | None]] = []
    events += [(rid, delivered_event, None, None) for rid in accepted]
    events += [(rid, "confirmed", None, "confirmed by read-back") for rid in confirmed]
    events += [(rid, "rejected", None, msg) for rid, msg in rejected.items()]
    events += [(rid, "pending", None, None) for rid in unsent]
    events += [(r.record_id, "in_flight", bid, None) for recs, bid in fresh for r in recs]
    ledger.journal(con, key, events, run_id, time.time_ns())  # one statement, one commit
    # sent = processed by the CRM (accepted or refused on its merits); records refused before
    # processing (quota, rate limit) or with an unknown outcome are not counted
    report.sent += len(accepted) + len(confirmed) + len(rejected)
    if delivered_event == ledger.EXPORTED:
        report.exported += len(accepted)
    else:
        report.accepted += len(accepted)
    report.confirmed_by_read_back += len(confirmed)
    report.rejected += len(rejected)
    report.rejection_messages.update(rejected.values())
    report.rejection_categories.update(rejection_category(m) for m in rejected.values())
    for d in deliveries:
        report.retried_in_run.update(d.retried)


def _deliver(
    tgt: SyncTarget, settings: SyncSettings, records: list[OutRecord], batch_id: str, log: Logger
) -> _Delivery:
    """Everything the network needs for one batch (runs in a worker thread, no DuckDB).

    - 429 / daily quota / auth: refused before processing — nothing applied, stop the run;
    - 4xx for the whole request: a config problem stops the run; otherwise the batch is split
      until the record(s) the CRM refuses are isolated and rejected with its message;
    - 5xx, timeout, dropped connection: unknown outcome — back off, read the records back, resend
      only those not found, up to ``max_write_attempts``;
    - a record refused for a transient reason (``LOCKED``, a per-record rate limit, …) is sent
      again after a back-off, up to ``max_record_attempts`` in all; a permanent refusal (or the
      last transient one) is recorded as ``rejected`` with the CRM's message.
    """
    d = _Delivery(batch_id, len(records))
    queue: deque[tuple[list[OutRecord], int]] = deque([(records, 0)])

    def rest() -> list[str]:
        return [r.record_id for part, _ in queue for r in part]

    while queue:
        part, attempt = queue.popleft()
        ids = [r.record_id for r in part]
        try:
            outcome = tgt.write(part, batch_id)
        except (QuotaExhausted, RateLimited) as exc:
            d.unsent += ids + rest()
            d.stop = tgt.redact(str(exc))
            return d
        except AuthFailed as exc:
            d.unsent += ids + rest()
            d.error = exc
            return d
        except ApiError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                msg = tgt.redact(f"{exc.status}: {exc.body or exc}")[:1000]
                if exc.status == 404 or is_config_error(exc):
                    d.unsent += ids + rest()
                    err = UnknownField if is_config_error(exc) else SyncConfigError
                    d.error = err(f"{settings.target}: the CRM refused the write request: {msg}")
                    return d
                if len(part) == 1:
                    d.rejected[part[0].record_id] = msg
                else:
                    half = len(part) // 2
                    queue.appendleft((part[half:], attempt))
                    queue.appendleft((part[:half], attempt))
                continue
            log.warning(
                "sync: batch %s: outcome unknown (%s), reading it back",
                batch_id,
                tgt.redact(str(exc))[:200],
            )
            outcome = BatchOutcome(unknown=ids)
        d.accepted += outcome.accepted
        transient = {rid: m for rid, m in outcome.rejected.items() if is_transient(m)}
        if transient and attempt + 1 < settings.max_record_attempts:
            # LOCKED, per-record rate limits …: the same values again after a pause, this run
            d.retried.update(rejection_category(m) for m in transient.values())
            d.rejected.update({k: v for k, v in outcome.rejected.items() if k not in transient})
            tgt.pause(attempt + 1)
            queue.append(([r for r in part if r.record_id in transient], attempt + 1))
        else:
            d.rejected.update(outcome.rejected)
        if not outcome.unknown:
            continue
        unknown_ids = set(outcome.unknown)
        unknown = [r for r in part if r.record_id in unknown_ids]
        tgt.pause(attempt + 1)
        confirmed: set[str] = set()
        if settings.read_back:
            try:
                confirmed = tgt.read_back(unknown, [batch_id] * len(unknown)) or set()
            except (
                ApiError
            ) as exc:  # cannot tell: they stay in_flight, the next run reads them back
                d.unknown += [r.record_id for r in unknown]
                d.unsent += rest()
                d.stop = (
                    f"outcome of {len(unknown)} records unknown, read-back failed: "
                    f"{tgt.redact(str(exc))}"
                )
                return d
        d.confirmed += [r.record_id for r in unknown if r.record_id in confirmed]
        left = [r for r in unknown if r.record_id not in confirmed]
        if not left:
            continue
        if attempt + 1 >= settings.max_write_attempts:
            (d.unsent if settings.read_back else d.unknown).extend(r.record_id for r in left)
            d.unsent += rest()
            d.stop = (
                f"{settings.target} kept failing for {len(left)} records after "
                f"{attempt + 1} attempts"
            )
            return d
        queue.append((left, attempt + 1))
    return d
