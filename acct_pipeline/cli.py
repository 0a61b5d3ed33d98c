"""``acct-pipeline``: the command line.

acct-pipeline generate-sample [--accounts N --days D --seed S --out DIR --end YYYY-MM-DD]
                              [--scenario default|renewal]
acct-pipeline demo            generate the sample if needed, score every day, print a summary
acct-pipeline run --from D1 --to D2   run the daily job for a date range (one Dagster run)
acct-pipeline summary [--date D]      what the warehouse holds
acct-pipeline accounts [--tier T --owner O --trend declining --limit N --date D]
acct-pipeline explain ACCOUNT [--date D]   one account (id or unique name): why it scores so
acct-pipeline fit-model --out F       fit the health weights to outcomes, backtest the candidate
acct-pipeline models [approve F]      the model registry
acct-pipeline override ACCOUNT --tier T|--score S --reason R --by E --until D   (--csv, --list,
                              --remove ID): a manual override beside the computed score
acct-pipeline snooze ACCOUNT --until D --reason R   no alerts for an account up to D
acct-pipeline audiences [--date D]    the day's marketing audiences
acct-pipeline lift [--csv F]          treated vs control outcomes per tier
acct-pipeline followup [--days N --since D --csv F]   time from alert to first action
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import date, timedelta
from pathlib import Path

import duckdb
from dotenv import load_dotenv

from acct_pipeline import read_copy, warehouse
from acct_pipeline.connectors.catalogue import DEFAULT_LANDING_DIR, LANDING_DIR_ENV, landing_dir
from acct_pipeline.quality.settings import ACCEPT_SHRINK_ENV
from acct_pipeline.settings import export, set_default

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(
    name: str,
) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    def register(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = fn
        return fn

    return register


def _say(msg: str) -> None:
    print(msg, flush=True)


def _progress(msg: str) -> None:
    print(f"  {msg}", file=sys.stderr, flush=True)


@command("generate-sample")
def cmd_generate_sample(args: argparse.Namespace) -> int:
    from acct_pipeline.sample.scenarios import generate_sample

    t0 = time.perf_counter()
    manifest = generate_sample(
        args.out,
        accounts=args.accounts,
        days=args.days,
        seed=args.seed,
        end_date=args.end,
        progress=_progress,
        events_per_account_day=args.events_per_account_day,
        scenario=args.scenario,
    )
    counts = manifest["counts"]
    _say(
        f"sample written to {args.out}: {args.accounts:,} accounts, {args.days} days "
        f"({manifest['period']['start']} .. {manifest['period']['end']}), "
        f"{counts.get('product_events', 0):,} events in {time.perf_counter() - t0:.1f}s"
    )
    return 0


def _manifest(root: Path) -> dict | None:
    path = root / "_manifest.json"
    return json.loads(path.read_text()) if path.exists() else None


@command("demo")
def cmd_demo(args: argparse.Namespace) -> int:
    from acct_pipeline.run import run_days
    from acct_pipeline.sample.generator import generate_sample
    from acct_pipeline.sample.period import partition_env

    root = landing_dir()
    manifest = _manifest(root)
    wanted = {"accounts": args.accounts, "days": args.days, "seed": args.seed}
    if manifest is None or any(manifest["params"].get(k) != v for k, v in wanted.items()):
        _say(
            f"generating the sample company in {root} "
            f"({args.accounts:,} accounts, {args.days} days) ..."
        )
        manifest = generate_sample(root, progress=_progress, **wanted)
        # A new sample company replaces the old one's snapshots on purpose, however much smaller.
        set_default(ACCEPT_SHRINK_ENV, "all")
    else:
        _say(f"using the sample in {root} (delete it to regenerate)")
    start = date.fromisoformat(manifest["period"]["start"])
    end = date.fromisoformat(manifest["period"]["end"])
    # The partitions are the sample's days (before the definitions load): `make dev` does the same.
    export(partition_env(root))
    _say(
        f"running the pipeline for {start} .. {end} ({(end - start).days + 1} days) in one "
        "Dagster run, recorded as history (no alerts) ..."
    )
    t0 = time.perf_counter()
    outcome = run_days(start, end, history=True, log_level=args.log_level)
    _say(
        f"run {outcome.run_id} finished in {time.perf_counter() - t0:.0f}s: "
        f"{'success' if outcome.success else 'FAILED'}"
    )
    if outcome.failure:
        _say(f"  {outcome.failure}")
    if outcome.failed_checks:
        _say(
            f"failed checks ({len(outcome.failed_checks)}): "
            + ", ".join(outcome.failed_checks[:10])
        )
    if outcome.success:
        _demo_override_and_report()
    if not print_summary():
        return 1
    _demo_next_steps()
    return 0 if outcome.success and not outcome.failed_checks else 1


def _demo_next_steps() -> None:
    """Where to look next: the report, the UI, and one named account to explain."""
    from acct_pipeline.scoring.report import reports_dir
    from acct_pipeline.scoring.tiers import model_tier_names

    reports = sorted(reports_dir().glob("score_report_*.html"))
    worst = model_tier_names()[-1]
    with warehouse.connect(read_only=True) as con:
        row = con.execute(
            f"SELECT a.name FROM {warehouse.ACCOUNT_SCORES} s "
            f"JOIN {warehouse.ACCOUNTS} a USING (account_id) "
            f"WHERE s.as_of_date = (SELECT max(as_of_date) FROM {warehouse.ACCOUNT_SCORES}) "
            "AND s.tier = ? ORDER BY s.churn_probability DESC NULLS LAST, s.health_score "
            "LIMIT 1",
            [worst],
        ).fetchone()
    _say("")
    _say("next:")
    if reports:
        _say(f"  the report:      {reports[-1].resolve()}")
    _say("  the UI:          make dev   (http://127.0.0.1:3000; the demo's run is on Runs)")
    _say(f"  the riskiest:    acct-pipeline accounts --tier {worst}")
    _say("  the override:    acct-pipeline override --list   (demo data: set by the demo)")
    if row:
        _say(f'  one account:     acct-pipeline explain "{row[0]}"')


DEMO_OVERRIDE_REASON = (
    "DEMO DATA set by `acct-pipeline demo`: renewal agreed on the exec call, "
    "the usage dip is their planned SSO migration"
)
DEMO_OVERRIDE_DAYS = 30


def demo_override() -> int:
    """The demo's one override, entered exactly as ``acct-pipeline override`` would: the least
    bad account of the worst tier, set one tier up by its owner, with a reason that says it is
    demo data, for ``DEMO_OVERRIDE_DAYS`` days. The override command's exit code (1: nothing to
    override)."""
    from acct_pipeline.scoring.overrides import list_overrides
    from acct_pipeline.scoring.tiers import model_tier_names

    tiers = model_tier_names()
    with warehouse.connect(read_only=True) as con:
        earlier = [
            o for o in list_overrides(con, include_ended=False) if o.reason == DEMO_OVERRIDE_REASON
        ]
        row = con.execute(
            f"SELECT s.account_id, a.owner_email, s.as_of_date FROM {warehouse.ACCOUNT_SCORES} s "
            f"JOIN {warehouse.ACCOUNTS} a USING (account_id) "
            f"WHERE s.as_of_date = (SELECT max(as_of_date) FROM {warehouse.ACCOUNT_SCORES}) "
            "AND s.tier = ? ORDER BY s.health_score DESC NULLS LAST, s.account_id LIMIT 1",
            [tiers[-1]],
        ).fetchone()
    if earlier:  # the demo ran before: its override is still active (the run applied it)
        o = earlier[0]
        _say(f"demo data: the demo's override is still set: {o.override_id} on {o.account_id}")
        return 0
    if row is None or len(tiers) < 2:
        _say("demo data: no account to override")
        return 1
    account, owner, newest = row
    until = max(date.today(), newest) + timedelta(days=DEMO_OVERRIDE_DAYS)
    argv = ["override", account, "--tier", tiers[-2], "--reason", DEMO_OVERRIDE_REASON]
    argv += ["--by", owner if owner and "@" in owner else "csm@example.com"]
    argv += ["--until", until.isoformat()]
    _say(
        f"demo data: one override, as a CSM would enter it: acct-pipeline {' '.join(argv[:4])} ..."
    )
    return COMMANDS["override"](build_parser().parse_args(argv))


def _demo_override_and_report() -> None:
    """The override, then the report again (it shows the override) and a new read copy."""
    from acct_pipeline.scoring.report import build_report_for_warehouse

    if demo_override() != 0:
        return
    report = build_report_for_warehouse()
    _say(f"report rebuilt with the override: {report.path.resolve()}")
    read_copy.publish_warehouse(on_wait=_waiting)


@command("run")
def cmd_run(args: argparse.Namespace) -> int:
    from acct_pipeline.run import run_days

    _landing_notice()
    outcome = run_days(args.date_from, args.date_to or args.date_from)
    _say(
        f"run {outcome.run_id}: {'success' if outcome.success else 'FAILED'}, "
        f"{outcome.partitions} day(s)"
    )
    if outcome.failure:
        _say(f"  {outcome.failure}")
    for check in outcome.failed_checks:
        _say(f"  failed check: {check}")
    if not outcome.success:
        _say(
            f"  full log: run {outcome.run_id} in the Dagster UI (`make dev`, Runs) "
            "and the Dagster log on stderr above"
        )
    return 0 if outcome.success else 1


def _landing_notice() -> None:
    """List, once, the landing files no run will read (they would be ignored without a word)."""
    from acct_pipeline.connectors.files import unread_landing_files
    from acct_pipeline.defs.partitions import daily_partitions

    keys = daily_partitions.get_partition_keys()
    if not keys:
        return
    root = landing_dir()
    unread = unread_landing_files(root, date.fromisoformat(keys[0]), date.fromisoformat(keys[-1]))
    if unread:
        _say(f"notice: {len(unread)} file(s) in {root} are read by no run:")
        for line in unread:
            _say(f"  {line}")


@command("summary")
def cmd_summary(args: argparse.Namespace) -> int:
    return 0 if print_summary(args.date) else 1


def print_summary(as_of: date | None = None) -> bool:
    """Accounts, partitions scored, tier counts for the latest day, and where things are.

    False (and a line saying so) when there are no scores, or none on ``as_of``.
    """
    path = warehouse.warehouse_path()
    with _read() as con:
        published = read_copy.published_at(con)
        if not warehouse.table_exists(con, warehouse.ACCOUNT_SCORES):
            _say(f"no scores yet in {path}")
            return False
        accounts = con.execute(f"SELECT count(*) FROM {warehouse.ACCOUNTS}").fetchone()[0]
        days, first, last = con.execute(
            "SELECT count(DISTINCT as_of_date), min(as_of_date), max(as_of_date) "
            f"FROM {warehouse.ACCOUNT_SCORES}"
        ).fetchone()
        day = as_of or last
        if (
            as_of is not None
            and not con.execute(
                f"SELECT 1 FROM {warehouse.ACCOUNT_SCORES} WHERE as_of_date = ? LIMIT 1", [as_of]
            ).fetchone()
        ):
            _say(f"no scores on {as_of}: scored days are {first} .. {last} ({days} days)")
            return False
        # churned accounts have no tier (scoring/lifecycle.py): shown as their status
        status = (
            "lifecycle_status"
            if "lifecycle_status" in warehouse.table_columns(con, warehouse.ACCOUNT_SCORES)
            else "NULL"
        )
        tiers = con.execute(
            f"SELECT coalesce(tier, {status}, 'no tier'), count(*), "
            f"count(*) FILTER (WHERE {status} = 'Onboarding') "
            f"FROM {warehouse.ACCOUNT_SCORES} WHERE as_of_date = ? "
            "GROUP BY 1 ORDER BY min(health_score) DESC NULLS LAST",
            [day],
        ).fetchall()
        quarantined = con.execute(f"SELECT count(*) FROM {warehouse.QUARANTINE}").fetchone()[0]
        unmatched = (
            con.execute(f"SELECT count(*) FROM {warehouse.UNMATCHED_RECORDS}").fetchone()[0]
            if warehouse.table_exists(con, warehouse.UNMATCHED_RECORDS)
            else 0
        )
    _say("")
    _say("== acct_pipeline summary ==")
    _say(f"accounts:          {accounts:,}")
    _say(f"partitions scored: {days} ({first} .. {last})")
    _say(f"tiers on {day}:")
    for tier, n, onboarding in tiers:
        _say(f"  {tier:<12} {n:>7,}" + (f"   ({onboarding:,} onboarding)" if onboarding else ""))
    _say(f"quarantined rows:  {quarantined:,}    unmatched records: {unmatched:,}")
    _say(f"warehouse:         {path.resolve()}")
    if published:
        _say(
            f"read copy:         {read_copy.read_copy_path().resolve()} (published {published} UTC)"
        )
    _say("open the UI:       make dev   (then http://127.0.0.1:3000)")
    return True


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acct-pipeline", description="Account scoring pipeline on Dagster."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser(
        "generate-sample", help="write a deterministic synthetic SaaS company as landing files"
    )
    gen.add_argument("--accounts", type=int, default=2000)
    gen.add_argument("--days", type=int, default=180)
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument(
        "--end", type=_date, default=date(2026, 10, 31), help="last day of the sample (UTC)"
    )
    gen.add_argument("--out", default=DEFAULT_LANDING_DIR)
    gen.add_argument(
        "--events-per-account-day",
        type=float,
        default=6.0,
        help="product event volume knob (default 6)",
    )
    gen.add_argument(
        "--scenario",
        choices=("default", "renewal"),
        default="default",
        help="which synthetic company: default (churn follows hidden health) or renewal "
        "(churn at renewal from adoption trend and champion loss; no NPS, untracked accounts)",
    )

    demo = sub.add_parser(
        "demo", help=f"sample data (in ${LANDING_DIR_ENV}) + the whole pipeline + summary"
    )
    demo.add_argument("--accounts", type=int, default=2000)
    demo.add_argument("--days", type=int, default=180)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument(
        "--log-level",
        default="INFO",
        help="Dagster's console log level (default INFO; WARNING for warnings and errors only)",
    )

    run = sub.add_parser("run", help="run the daily job for one day or a range (one Dagster run)")
    run.add_argument("--from", dest="date_from", type=_date, required=True)
    run.add_argument("--to", dest="date_to", type=_date)

    summary = sub.add_parser("summary", help="what the warehouse holds")
    summary.add_argument("--date", type=_date)

    for extra in EXTRA_PARSERS:
        extra(sub)
    return parser


# Subcommands contributed by the other layers (explain, sync, backtest) register here.
EXTRA_PARSERS: list[Callable[[argparse._SubParsersAction], None]] = []


def _alerts_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "alerts", help="list a day's score drops; --send delivers them (never twice)"
    )
    p.add_argument("--date", type=_date, help="as-of date (default: the newest scored day)")
    p.add_argument("--send", action="store_true", help="deliver to the configured channels")


EXTRA_PARSERS.append(_alerts_parser)


@command("alerts")
def cmd_alerts(args: argparse.Namespace) -> int:
    from acct_pipeline.alerts.command import alerts_command

    return alerts_command(args.date, send=args.send, say=_say, read_connect=_read)


def _sync_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sync", help="write the day's changed scores to the CRM (or the outbox)")
    p.add_argument("--date", type=_date, help="as-of date (default: the newest scored day)")
    p.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    p.add_argument("--force", action="store_true", help="override the change-share guard")
    p.add_argument(
        "--reconcile",
        action="store_true",
        help="read the mapped fields back from the CRM first and rewrite records that drifted",
    )
    p.add_argument(
        "--confirm-import",
        metavar="FILE",
        help="an outbox file was imported into the CRM: mark its records accepted",
    )


EXTRA_PARSERS.append(_sync_parser)


@command("sync")
def cmd_sync(args: argparse.Namespace) -> int:
    from acct_pipeline.quality.guard import scores_partition_problems
    from acct_pipeline.sync import sync_command
    from acct_pipeline.sync.command import confirm_import_command
    from acct_pipeline.sync.guard import scores_guard

    if args.confirm_import:
        return confirm_import_command(args.confirm_import, say=_say)
    if not args.dry_run:
        return sync_command(
            args.date,
            dry_run=False,
            force=args.force,
            reconcile=args.reconcile,
            partition_passed_checks=scores_guard(),
            say=_say,
        )

    def published_day_problems(as_of: date) -> list[str]:
        with _read() as con:
            return scores_partition_problems(con, as_of)

    return sync_command(
        args.date,
        dry_run=True,
        force=args.force,
        reconcile=args.reconcile,
        partition_passed_checks=published_day_problems,
        say=_say,
        connect=_read,
    )


def _explain_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="one account's scores, component points and reasons")
    p.add_argument("account", help="account id (co_000126) or a unique part of its name")
    p.add_argument("--date", type=_date, help="as-of date (default: the newest scored day)")


EXTRA_PARSERS.append(_explain_parser)


@command("explain")
def cmd_explain(args: argparse.Namespace) -> int:
    from acct_pipeline.scoring.explain import ExplainError, explain

    try:
        with _read() as con:
            text = explain(con, args.account, args.date)
    except ExplainError as exc:
        print(f"explain: {exc}", file=sys.stderr)
        return 2
    _say(text)
    return 0


def _override_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "override",
        help="set an account's tier or score by hand for a while (with a reason); --list, --remove",
    )
    p.add_argument("account", nargs="?", help="account id or a unique part of its name")
    value = p.add_mutually_exclusive_group()
    value.add_argument("--tier", help="the effective tier (one of the model's tiers)")
    value.add_argument("--score", type=float, help="the effective health score (0-100)")
    p.add_argument("--reason", help="why (shown in explain, the report and the CRM)")
    p.add_argument("--by", help="e-mail of who sets it")
    p.add_argument("--until", type=_date, help="last score day it applies to (YYYY-MM-DD)")
    p.add_argument("--csv", metavar="FILE", help="bulk: account_id, tier|score, reason, by, until")
    p.add_argument("--list", action="store_true", help="list overrides (active and ended)")
    p.add_argument(
        "--remove",
        metavar="ID",
        help="end an override (its id, or every active one of an account id) from today's scores",
    )


EXTRA_PARSERS.append(_override_parser)


@command("override")
def cmd_override(args: argparse.Namespace) -> int:
    from acct_pipeline.scoring import overrides as ov
    from acct_pipeline.scoring.explain import ExplainError, resolve_account

    if args.list:
        with _read() as con:
            rows = ov.list_overrides(con)
            day = (
                con.execute(f"SELECT max(as_of_date) FROM {warehouse.ACCOUNT_SCORES}").fetchone()[0]
                if warehouse.table_exists(con, warehouse.ACCOUNT_SCORES)
                else None
            )
        for line in ov.format_overrides(rows, day or date.today()):
            _say(line)
        return 0
    try:
        with warehouse.connect() as con:
            if args.remove:
                n = ov.remove_override(con, args.remove, args.by)
                _say(f"ended {n} override(s) for {args.remove}" if n else "no such active override")
                return 0 if n else 1
            if args.csv:
                requests = ov.read_csv_requests(args.csv)
            else:
                if not (args.account and args.reason and args.by and args.until):
                    raise ov.OverrideError(
                        "override: give ACCOUNT, --tier or --score, --reason, --by and --until "
                        "(or --csv FILE, --list, --remove ID)"
                    )
                requests = [
                    ov.OverrideRequest(
                        resolve_account(con, args.account),
                        args.reason,
                        args.by,
                        args.until,
                        args.tier,
                        args.score,
                    )
                ]
            for i, req in enumerate(requests):
                if args.csv:
                    req = ov.OverrideRequest(
                        resolve_account(con, req.account_id),
                        req.reason,
                        req.by,
                        req.until,
                        req.tier,
                        req.score,
                    )
                    requests[i] = req
                ov.validate_request(req, date.today(), f"override {req.account_id}")
            ids = ov.add_overrides(con, requests)
    except (ov.OverrideError, ExplainError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    for oid, req in zip(ids, requests, strict=True):
        value = f"tier {req.tier}" if req.tier else f"score {req.score:g}"
        _say(f"{oid}: {req.account_id} {value} until {req.until} ({req.by}: {req.reason})")
    return 0


def _accounts_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "accounts",
        help="list accounts (id, name, owner, score, tier, Δ7d, top risk), riskiest first",
    )
    p.add_argument("--tier", help="only this tier (one of the scoring model's tier names)")
    p.add_argument("--owner", help="only accounts whose owner's e-mail contains this")
    p.add_argument("--trend", choices=("improving", "stable", "declining"))
    p.add_argument("--limit", type=int, default=20, help="at most this many rows (default 20)")
    p.add_argument("--date", type=_date, help="as-of date (default: the newest scored day)")


EXTRA_PARSERS.append(_accounts_parser)


@command("accounts")
def cmd_accounts(args: argparse.Namespace) -> int:
    from acct_pipeline.scoring.accounts import (
        AccountFilter,
        AccountsError,
        format_accounts,
        list_accounts,
    )

    filters = AccountFilter(tier=args.tier, owner=args.owner, trend=args.trend, limit=args.limit)
    try:
        with _read() as con:
            day, rows = list_accounts(con, filters, args.date)
    except AccountsError as exc:
        print(f"accounts: {exc}", file=sys.stderr)
        return 1
    for line in format_accounts(day, rows):
        _say(line)
    return 0


def _train_parser(sub: argparse._SubParsersAction) -> None:
    sub.add_parser(
        "train-churn",
        help="(re)train the churn model for the latest retraining day, with its hold-out "
        "evaluation; the next scored days use it",
    )


EXTRA_PARSERS.append(_train_parser)


@command("train-churn")
def cmd_train_churn(args: argparse.Namespace) -> int:
    from acct_pipeline.scoring.churn import ChurnModelError, train_churn_model
    from acct_pipeline.scoring.model import load_model

    model = load_model()
    try:
        with warehouse.connect() as con:
            artifact = train_churn_model(con, model, reuse=False)
    except ChurnModelError as exc:
        _say(f"train-churn: {exc}")
        return 2
    meta = artifact.metadata
    dropped = meta.get("dropped_features") or {}
    _say(
        f"churn model {artifact.version} ({model.label}): trained on labels known by "
        f"{meta.get('labels_known_by')}, {meta.get('rows', 0):,} rows, "
        f"{meta.get('churn_events', 0):,} churn events; hold-out AUC "
        f"{meta.get('holdout_churn_auc', 'n/a')} (health score "
        f"{meta.get('holdout_health_auc', 'n/a')}; later days of held-out accounts, "
        f"n={meta.get('n_eval', 'n/a')}); "
        + (f"dropped {', '.join(f'{k} ({v})' for k, v in dropped.items())}; " if dropped else "")
        + f"{artifact.path}"
    )
    return 0


def _models_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models",
        help="the model registry (scores.model_registry): versions, hashes, when they went live",
    )
    actions = p.add_subparsers(dest="models_action")
    actions.add_parser("list", help="list the registered model versions (the default)")
    ap = actions.add_parser(
        "approve", help="record a model version as approved, with the backtest it was judged on"
    )
    ap.add_argument("model", help="the model YAML to approve")
    ap.add_argument(
        "--backtest", help="backtest JSON of this file (acct-pipeline backtest / fit-model --out)"
    )


EXTRA_PARSERS.append(_models_parser)


@command("models")
def cmd_models(args: argparse.Namespace) -> int:
    from acct_pipeline.scoring import registry
    from acct_pipeline.scoring.model import ModelError, load_model

    if getattr(args, "models_action", None) == "approve":
        try:
            model = load_model(args.model)
            backtest = json.loads(Path(args.backtest).read_text()) if args.backtest else None
            with warehouse.connect() as con:
                entry = registry.approve(con, model, backtest)
        except (ModelError, OSError, registry.ApprovalError, registry.ModelChanged) as exc:
            _say(f"models approve: {exc}")
            return 2
        _say(
            f"approved {entry.model_version} (content hash {entry.file_hash}); it goes live on "
            f"its first scoring run (ACCT_MODEL={args.model})"
        )
        return 0
    with _read() as con:
        _say(registry.format_registry(registry.list_models(con)))
    return 0


def _fit_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fit-model",
        help="fit the health model's weights (and bands) to the warehouse's outcomes; write a "
        "candidate YAML and backtest it against the current model",
    )
    p.add_argument("--out", required=True, help="candidate model YAML to write")
    p.add_argument("--from", dest="date_from", type=_date, help="first as-of day to fit on")
    p.add_argument("--to", dest="date_to", type=_date, help="last as-of day to use")
    p.add_argument(
        "--fit-bands",
        action="store_true",
        help="also choose tier cut-offs (churn rising across tiers, no tier empty or most)",
    )
    p.add_argument("--version", help="the candidate's version (default: the next minor)")
    p.add_argument(
        "--no-backtest", action="store_true", help="skip the backtest of candidate vs current"
    )
    p.add_argument("--warehouse", help="warehouse file (default: $ACCT_WAREHOUSE)")


EXTRA_PARSERS.append(_fit_parser)


@command("fit-model")
def cmd_fit_model(args: argparse.Namespace) -> int:
    import yaml

    from acct_pipeline.scoring.backtest import (
        BacktestError,
        format_backtest,
        run_backtest,
        write_backtest,
    )
    from acct_pipeline.scoring.fit import FitError, fit_model, fit_rows, format_fit
    from acct_pipeline.scoring.model import load_model, model_path

    path = getattr(args, "warehouse", None) or warehouse.warehouse_path()
    model = load_model()
    base_doc = yaml.safe_load(model_path().read_text())
    try:
        with warehouse.connect(path, read_only=True) as con:
            rows = fit_rows(con, model, args.date_from, args.date_to)
        result = fit_model(model, base_doc, rows, fit_bands=args.fit_bands, version=args.version)
    except FitError as exc:
        _say(str(exc))
        return 2
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(result.text)
    _say(format_fit(result))
    _say(f"\ncandidate written to {out}")
    if args.no_backtest:
        return 0
    evaluation = {
        "out_of_time": True,
        "how": "out of time and by account: the candidate was fitted on as-of days "
        f"{rows.train_days[0]} .. {rows.train_days[-1]} of other accounts; judged here on the "
        f"days from {rows.eval_days[0]} of the {len(rows.holdout_accounts):,} accounts held out "
        "of the fit",
        "fitted_on": f"{rows.train_days[0]} .. {rows.train_days[-1]}",
        "accounts": f"{len(rows.holdout_accounts):,} held out of the fit",
    }
    _say(f"\nbacktest of {result.candidate.label} vs the stored scores ...")
    try:
        bt = run_backtest(
            path,
            out,
            date_from=rows.eval_days[0],
            date_to=args.date_to,
            train_churn=False,
            accounts=rows.holdout_accounts,
            evaluation=evaluation,
        )
    except BacktestError as exc:
        _say(str(exc))
        return 2
    bt["fit"] = {"current": result.current.as_dict(), "candidate": result.fitted.as_dict()}
    _say(format_backtest(bt))
    written = write_backtest(bt, out.with_suffix(".backtest.json"))
    _say(
        f"\nbacktest written to {written}\napprove it with: acct-pipeline models approve {out} "
        f"--backtest {written}"
    )
    return 0


def _register_backtest() -> None:
    from acct_pipeline.scoring.backtest import add_backtest_parser, cmd_backtest

    EXTRA_PARSERS.append(add_backtest_parser)
    COMMANDS["backtest"] = cmd_backtest


_register_backtest()


# -- Readers and writers (DuckDB: one process may open the file while it writes) ---------------
#
# Read-only commands open the published read copy (acct_pipeline.read_copy) and never wait for
# a run. Commands that write wait for the process holding the warehouse first (a message says
# which; ACCT_WRITER_WAIT_SECONDS), so a CLI write queues behind a Dagster run the way runs
# queue behind each other; then those that write outside a Dagster run publish the read copy
# (a run publishes it itself, as its last asset). `fit-model` and other writers register here.
WRITERS: dict[str, Callable[[argparse.Namespace], bool]] = {
    "run": lambda args: True,
    "demo": lambda args: True,
    "sync": lambda args: not args.dry_run,
    "alerts": lambda args: bool(args.send),
    "train-churn": lambda args: True,
    "models": lambda args: getattr(args, "models_action", None) == "approve",
    "override": lambda args: not args.list,
}
PUBLISH_AFTER = {"sync", "alerts", "train-churn", "models", "override"}
EXIT_WAREHOUSE_BUSY = 3  # another process held the warehouse past ACCT_WRITER_WAIT_SECONDS


# -- Acting on scores: snooze, audiences, lift, follow-up (issue #21) -------------------------


def _actions_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("snooze", help="no alerts for an account until a date (we're handling it)")
    p.add_argument("account", help="account id")
    p.add_argument("--until", type=_date, required=True, help="last day without alerts")
    p.add_argument("--reason", required=True, help="why: the next person will ask")
    p.add_argument("--by", help="who snoozed it (e-mail)")
    p = sub.add_parser("audiences", help="the day's marketing audiences: members, entries, exits")
    p.add_argument("--date", type=_date, help="as-of date (default: the newest audience day)")
    p = sub.add_parser(
        "lift", help="treated vs control outcomes per tier, with 95%% confidence intervals"
    )
    p.add_argument("--csv", help="also write the comparison to this CSV file")


EXTRA_PARSERS.append(_actions_parsers)
WRITERS["snooze"] = lambda args: True
PUBLISH_AFTER.add("snooze")


@command("snooze")
def cmd_snooze(args: argparse.Namespace) -> int:
    from acct_pipeline.alerts.suppression import snooze

    try:
        with warehouse.connect() as con:
            snooze(con, args.account, args.until, args.reason, args.by)
    except ValueError as exc:
        print(f"snooze: {exc}", file=sys.stderr)
        return 2
    _say(f"{args.account}: no alerts up to and including {args.until} ({args.reason.strip()})")
    return 0


@command("audiences")
def cmd_audiences(args: argparse.Namespace) -> int:
    from acct_pipeline.alerts.audiences import membership, newest_audience_day

    with _read() as con:
        day = args.date or newest_audience_day(con)
        if day is None:
            _say("audiences: none computed yet (the daily run computes them after the scores)")
            return 1
        rows = membership(con, day)
    _say(f"audiences on {day}:")
    counts = rows.groupby(["audience", "status"]).size().unstack(fill_value=0)
    for audience, r in counts.iterrows():
        parts = ", ".join(f"{status} {n}" for status, n in r.items() if n)
        _say(f"  {audience:<22} {parts}")
    return 0


@command("lift")
def cmd_lift(args: argparse.Namespace) -> int:
    from acct_pipeline.alerts.config import model_path
    from acct_pipeline.scoring.actions import load_actions
    from acct_pipeline.scoring.lift import measure_lift

    config = load_actions(model_path()).experiment
    with _read() as con:
        frame, lines = measure_lift(con, config)
    for line in lines:
        _say(line)
    if args.csv:
        frame.to_csv(args.csv, index=False)
        _say(f"written to {args.csv}")
    return 0


def _followup_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "followup", help="time from alert to first action (CRM task done, next touch), by owner"
    )
    p.add_argument(
        "--days", type=int, help="no action within N days = unanswered (default: model YAML)"
    )
    p.add_argument("--since", type=_date, help="alerts delivered from this day (default: all)")
    p.add_argument("--csv", help="also write one row per alert to this CSV file")


EXTRA_PARSERS.append(_followup_parser)
WRITERS["followup"] = lambda args: True  # stores alerts.alert_followups
PUBLISH_AFTER.add("followup")


@command("followup")
def cmd_followup(args: argparse.Namespace) -> int:
    from datetime import datetime

    from acct_pipeline.alerts.config import HUBSPOT_TASK, SALESFORCE_TASK, model_path
    from acct_pipeline.alerts.followup import (
        compute_followups,
        frame,
        hubspot_task_reader,
        salesforce_task_reader,
        store_followups,
        summarise,
    )
    from acct_pipeline.scoring.actions import load_actions
    from acct_pipeline.services import hubspot, salesforce
    from acct_pipeline.settings import AutomationSettings, environ, get

    days = args.days or load_actions(model_path()).followup.no_action_days
    reader, channel = None, HUBSPOT_TASK
    crm_tasks = get(AutomationSettings, "alert_crm_tasks")
    if crm_tasks == "hubspot":
        env = environ()
        reader = hubspot_task_reader(hubspot.client_from_env(env), hubspot.base_path(env))
    elif crm_tasks == "salesforce":
        env = environ()
        version = env.get(salesforce.VERSION_ENV) or salesforce.DEFAULT_VERSION
        reader = salesforce_task_reader(salesforce.client_from_env(env), version)
        channel = SALESFORCE_TASK
    since = datetime.combine(args.since or date(1970, 1, 1), datetime.min.time())
    with warehouse.connect() as con:
        followups = compute_followups(con, since, reader, channel)
        store_followups(con, followups)
    answered = sum(f.first_action_at is not None for f in followups)
    _say(f"{len(followups)} delivered alert(s), {answered} with an action since")
    for by in ("owner", "tier"):
        table = summarise(followups, days, by)
        if table.empty:
            continue
        _say(f"by {by} (hours to first action; share without action within {days} days):")
        for r in table.itertuples(index=False):
            med = "–" if r.median_hours != r.median_hours else f"{r.median_hours:.1f}"
            p90 = "–" if r.p90_hours is None or r.p90_hours != r.p90_hours else f"{r.p90_hours:.1f}"
            _say(f"  {r[0]:<28} {r.alerts:>4} alerts  median {med:>6}  p90 {p90:>6}  "
                 f"no action {r.no_action_share:.0%}")  # fmt: skip
    if args.csv:
        frame(followups).to_csv(args.csv, index=False)
        _say(f"written to {args.csv}")
    return 0


def _read() -> AbstractContextManager[duckdb.DuckDBPyConnection]:
    """The published read copy, read-only (see acct_pipeline.read_copy)."""
    return read_copy.connect_read(on_wait=_waiting)


def _waiting(msg: str) -> None:
    print(f"acct-pipeline: {msg}", file=sys.stderr, flush=True)


def _run_command(args: argparse.Namespace) -> int:
    writes = WRITERS.get(args.command, lambda _: False)(args)
    if writes:
        warehouse.wait_for_writer(on_wait=_waiting)
    code = COMMANDS[args.command](args)
    if writes and args.command in PUBLISH_AFTER and code != 2:
        done = read_copy.publish_warehouse(on_wait=_waiting)
        _progress(f"read copy published to {done.path} in {done.seconds:.1f}s")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    load_dotenv(override=False)
    parser = build_parser()
    args = parser.parse_args(argv)
    # A wait for the warehouse in the middle of a command (another writer got in between) shows.
    wait_log = logging.getLogger(warehouse.__name__)
    if not wait_log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("acct-pipeline: %(message)s"))
        wait_log.addHandler(handler)
        wait_log.propagate = False
    try:
        return _run_command(args)
    except warehouse.WarehouseMissing as exc:
        print(f"acct-pipeline {args.command}: {exc}", file=sys.stderr)
        return 2
    except warehouse.WarehouseSettingError as exc:
        print(f"acct-pipeline {args.command}: {exc}", file=sys.stderr)
        return 2
    except warehouse.WarehouseBusy as exc:
        print(f"acct-pipeline {args.command}: {exc}", file=sys.stderr)
        return EXIT_WAREHOUSE_BUSY
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `acct-pipeline explain X | head`: the reader left; not an error worth a traceback.
        # Point stdout at devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
