"""Backtest / what-if: re-score the stored history under a candidate model, side by side.

``acct-pipeline backtest --model candidate.yaml [--from D1 --to D2] [--out FILE]``

The production warehouse is never written: a temporary DuckDB file ATTACHes it READ_ONLY, copies
the inputs the scoring engine reads (ingest, staging and features tables, and the stored scores
before the window so hysteresis and deltas have their past), DETACHes it, and then calls the
engine's ``score_day`` for each day in order inside the copy. With enough history the
candidate's churn model is trained there too (artefact in the temporary folder). The current
model's side is the scores already stored for the same days. Both sides go through the same
validation code (``validation.compute_validation``), so the numbers are comparable with the
``scores.score_validation`` table.

Because features are point-in-time correct (docs/architecture.md, "Point-in-time features"),
re-scoring day D from the stored signals of D is what the candidate would have said on that day.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Collection
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from acct_pipeline.scoring.tiers import model_tier_names, ordered_tiers, tier_rank_sql
from acct_pipeline.scoring.validation import compute_validation
from acct_pipeline.warehouse import (
    ACCOUNT_SCORES,
    ACCOUNT_SIGNALS,
    ACCOUNTS,
    base_tables,
    table_columns,
    table_exists,
    warehouse_path,
)

# Schemas holding outputs (never inputs of scoring): not copied, except the scores before the
# window.
OUTPUT_SCHEMAS = ("scores", "sync", "alerts")
CURRENT_SCORES = "backtest.current_scores"
NO_TIER_LABEL = "no tier"
TOP_MOVERS = 20

LoadModel = Callable[[str | Path], Any]
ScoreDay = Callable[[duckdb.DuckDBPyConnection, date, Any], Any]


class BacktestError(RuntimeError):
    """A backtest that cannot run, with what to do about it."""


def scoring_engine() -> tuple[LoadModel, ScoreDay]:
    """The scoring engine's ``load_model(path)`` and ``score_day(con, as_of, model)``."""
    from acct_pipeline.scoring.model import load_model
    from acct_pipeline.scoring.scores import score_day

    return load_model, score_day


def _copy_inputs(con: duckdb.DuckDBPyConnection, date_from: date, date_to: date) -> dict[str, int]:
    """Copy what scoring reads from ``prod`` into the temporary database. Returns rows per table."""
    copied: dict[str, int] = {}
    for schema, name in base_tables(con, "prod"):
        qualified = f"{schema}.{name}"
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        if schema in OUTPUT_SCHEMAS and qualified != ACCOUNT_SCORES:
            continue
        if qualified == ACCOUNT_SCORES:
            # The current model's answer for the window, and the past the candidate builds on.
            con.execute("CREATE SCHEMA IF NOT EXISTS backtest")
            con.execute(
                f"CREATE TABLE {CURRENT_SCORES} AS SELECT * FROM prod.{qualified} "
                "WHERE as_of_date BETWEEN ? AND ?",
                [date_from, date_to],
            )
            before = con.execute(
                f"SELECT count(*) FROM prod.{qualified} WHERE as_of_date < ?", [date_from]
            ).fetchone()[0]
            if before:
                con.execute(
                    f"CREATE TABLE {qualified} AS SELECT * FROM prod.{qualified} "
                    "WHERE as_of_date < ?",
                    [date_from],
                )
            copied[CURRENT_SCORES] = con.execute(
                f"SELECT count(*) FROM {CURRENT_SCORES}"
            ).fetchone()[0]
            continue
        # Everything else is copied whole: signal windows, the churn model's labelled days and
        # its warm-up read the full history.
        con.execute(f"CREATE TABLE {qualified} AS SELECT * FROM prod.{qualified}")
        copied[qualified] = con.execute(f"SELECT count(*) FROM {qualified}").fetchone()[0]
    return copied


def _model_signals(model: Any) -> set[str]:
    """The signals a scoring model's measures and knock-outs read (empty if it is not one)."""
    scores = getattr(model, "scores", None)
    if not isinstance(scores, dict):
        return set()
    found: set[str] = set()
    for score in scores.values():
        for comp in getattr(score, "components", {}).values():
            found |= {m.signal for m in getattr(comp, "measures", [])}
        found |= {k.signal for k in getattr(score, "knockouts", [])}
    return found


def _side(summary: dict[str, Any], evaluation: dict[str, Any] | None = None) -> dict[str, Any]:
    """One side's figures: the issue-17 headline keys (``health_auc``, ``top_decile_lift``,
    ``churn_rate_by_tier``, ``tier_share``, ``basis``: how they were obtained) and the rest."""
    by_tier = summary.get("account_days_by_tier") or {}
    total = sum(by_tier.values())
    basis = dict(summary.get("auc_health_score_basis") or {})
    basis.update(
        {
            "rows": "account-days of customers (churned accounts leave after their churn date), "
            f"label = churned within {summary.get('horizon_days', 90)} days; days whose horizon "
            "runs past the history count what was seen so far",
            "censored_share": summary.get("censored_share"),
            "tiers": "as scored day by day (with hysteresis)",
        }
    )
    if evaluation:
        basis.update(evaluation)
    else:
        basis["out_of_time"] = False
        basis["how"] = (
            "the stored history re-scored; the candidate was not fitted by fit-model, so "
            "these are not out-of-time figures of a fit"
        )
    out = {
        "health_auc": summary.get("auc_health_score"),
        "top_decile_lift": summary.get("lift_health_score"),
        "churn_rate_by_tier": summary.get("churn_rate_by_tier"),
        "tier_share": {t: round(n / total, 4) for t, n in by_tier.items()} if total else {},
        "basis": basis,
    }
    keys = (
        "auc_health_score",
        "auc_churn_probability",
        "lift_health_score",
        "lift_churn_probability",
        "brier",
        "churn_rate_by_tier",
        "account_days_by_tier",
        "churn_monotonic",
        "tier_share_latest",
        "tier_change_share_mean",
        "tier_flap_share",
        "psi_max",
        "model_versions",
        "account_days",
        "accounts",
    )
    return out | {k: summary.get(k) for k in keys}


def _restrict(con: duckdb.DuckDBPyConnection, accounts: Collection[str]) -> tuple[str, str]:
    """Views of both sides' scores limited to ``accounts`` (in the temporary database)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS backtest")
    con.execute("CREATE OR REPLACE TABLE backtest.accounts (account_id VARCHAR)")
    con.execute(
        "INSERT INTO backtest.accounts SELECT unnest(CAST(? AS VARCHAR[]))",
        [[str(a) for a in accounts]],
    )
    for view, table in (("current_judged", CURRENT_SCORES), ("candidate_judged", ACCOUNT_SCORES)):
        con.execute(
            f"CREATE OR REPLACE VIEW backtest.{view} AS SELECT * FROM {table} "
            "WHERE account_id IN (SELECT account_id FROM backtest.accounts)"
        )
    return "backtest.current_judged", "backtest.candidate_judged"


def _tier_changes(con: duckdb.DuckDBPyConnection, candidate: str, last_day: date) -> dict[str, Any]:
    unknown = str(len(model_tier_names()))  # a tier the model does not know ranks last
    cur_rank, cand_rank = (
        tier_rank_sql("c.tier", unknown=unknown),
        tier_rank_sql("n.tier", unknown=unknown),
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _bt_pairs AS
        SELECT c.account_id, c.as_of_date,
               CAST(c.health_score AS DOUBLE) AS current_score,
               coalesce(c.tier, '{NO_TIER_LABEL}') AS current_tier,
               CAST(n.health_score AS DOUBLE) AS candidate_score,
               coalesce(n.tier, '{NO_TIER_LABEL}') AS candidate_tier,
               {cand_rank} - {cur_rank} AS tier_steps
        FROM {CURRENT_SCORES} c JOIN {candidate} n USING (account_id, as_of_date)
        -- churned accounts have no tier on either side (scoring/lifecycle.py)
        WHERE c.tier IS NOT NULL OR n.tier IS NOT NULL
        """
    )
    days_total, days_changed = con.execute(
        "SELECT count(*), coalesce(sum(CAST(tier_steps <> 0 AS INTEGER)), 0) FROM _bt_pairs"
    ).fetchone()
    n, worse, better, same = con.execute(
        """
        SELECT count(*), coalesce(sum(CAST(tier_steps > 0 AS INTEGER)), 0),
               coalesce(sum(CAST(tier_steps < 0 AS INTEGER)), 0),
                   coalesce(sum(CAST(tier_steps = 0 AS INTEGER)), 0)
        FROM _bt_pairs WHERE as_of_date = ?
        """,
        [last_day],
    ).fetchone()
    matrix_rows = con.execute(
        "SELECT current_tier, candidate_tier, count(*) FROM _bt_pairs "
        "WHERE as_of_date = ? GROUP BY 1, 2",
        [last_day],
    ).fetchall()
    tiers = ordered_tiers(
        list({r[0] for r in matrix_rows} | {r[1] for r in matrix_rows} | set(model_tier_names()))
    )
    matrix = {a: {b: 0 for b in tiers} for a in tiers}
    for a, b, k in matrix_rows:
        matrix[a][b] = int(k)
    names = f"LEFT JOIN {ACCOUNTS} a USING (account_id)" if table_exists(con, ACCOUNTS) else ""
    name_col = "a.name" if names else "NULL"
    movers = con.execute(
        f"""
        WITH days AS (SELECT account_id, sum(CAST(tier_steps <> 0 AS INTEGER)) AS days_changed
                      FROM _bt_pairs GROUP BY 1)
        SELECT p.account_id, {name_col} AS name, p.current_score, p.current_tier, p.candidate_score,
               p.candidate_tier, p.tier_steps,
                   p.candidate_score - p.current_score AS score_change, d.days_changed
        FROM _bt_pairs p JOIN days d USING (account_id) {names}
        WHERE p.as_of_date = ? AND p.tier_steps <> 0
        ORDER BY abs(p.tier_steps) DESC, abs(p.candidate_score - p.current_score) DESC, p.account_id
        LIMIT {TOP_MOVERS}
        """,
        [last_day],
    ).fetchall()
    cols = (
        "account_id",
        "name",
        "current_score",
        "current_tier",
        "candidate_score",
        "candidate_tier",
        "tier_steps",
        "score_change",
        "days_changed",
    )
    return {
        "compared_on": str(last_day),
        "accounts_compared": int(n),
        "accounts_changing_tier": int(worse + better),
        "share_changing_tier": round((worse + better) / n, 4) if n else None,
        "to_worse_tier": int(worse),
        "to_better_tier": int(better),
        "unchanged": int(same),
        "account_days_compared": int(days_total),
        "account_days_changing_tier": int(days_changed),
        "share_account_days_changing_tier": round(days_changed / days_total, 4)
        if days_total
        else None,
        "migration_matrix": matrix,
        "top_movers": [
            {
                c: (round(v, 2) if isinstance(v, float) else v)
                for c, v in zip(cols, row, strict=True)
            }
            for row in movers
        ],
    }


def _tell(progress: Callable[[str], None] | None, i: int, n: int, day: date) -> None:
    """Progress every 10 days scored (and the last one)."""
    if progress is not None and (i % 10 == 0 or i == n):
        progress(f"backtest: scored {i}/{n} days under the candidate (up to {day})")


def run_backtest(
    warehouse_path: str | Path,
    candidate_path: str | Path,
    date_from: date | None = None,
    date_to: date | None = None,
    *,
    load_model: LoadModel | None = None,
    score_day: ScoreDay | None = None,
    train_churn: bool = True,
    accounts: Collection[str] | None = None,
    evaluation: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Re-score the warehouse's history under ``candidate_path`` and compare with what is stored.

    The warehouse file is opened READ_ONLY (through ATTACH) and left byte-for-byte unchanged. The
    days scored are the stored score days in ``date_from``..``date_to`` (default: all). Returns a
    JSON-ready dict: ``current`` and ``candidate`` metrics, ``tier_changes``, ``window``.
    ``load_model`` / ``score_day`` default to the scoring engine's; with the engine and
    ``train_churn``, the candidate's churn model is trained inside the temporary copy (its
    time-split hold-out metrics are in ``candidate_churn_model``) and fills its churn probability.
    ``accounts``: judge both sides on these accounts only (``fit-model`` passes the accounts it
    held out of the fit); ``evaluation``: how the window and accounts were chosen, recorded in
    each side's ``basis``.
    """
    prod = Path(warehouse_path).resolve()
    if not prod.exists():
        raise BacktestError(
            f"backtest: no warehouse at {prod} (run `acct-pipeline demo` or set ACCT_WAREHOUSE)"
        )
    candidate_path = Path(candidate_path)
    if not candidate_path.exists():
        raise BacktestError(f"backtest: candidate model file {candidate_path} does not exist")
    engine = load_model is None and score_day is None
    if load_model is None or score_day is None:
        engine_load, engine_score = scoring_engine()
        load_model, score_day = load_model or engine_load, score_day or engine_score
    model = load_model(candidate_path)

    workdir = Path(tempfile.mkdtemp(prefix="acct_backtest_"))
    t0 = datetime.now()
    try:
        con = duckdb.connect(str(workdir / "candidate_scoring.duckdb"))
        try:
            con.execute("SET TimeZone = 'UTC'")
            try:
                con.execute(f"ATTACH '{prod}' AS prod (READ_ONLY)")
            except duckdb.Error as exc:
                raise BacktestError(
                    f"backtest: cannot open {prod} read-only ({exc}); "
                    "is a pipeline run writing to it?"
                ) from exc
            if not table_exists(con, ACCOUNT_SCORES):
                raise BacktestError(
                    f"backtest: {prod} holds no {ACCOUNT_SCORES}; score the history first"
                )
            days = [
                r[0]
                for r in con.execute(
                    f"SELECT DISTINCT as_of_date FROM prod.{ACCOUNT_SCORES} "
                    "WHERE as_of_date BETWEEN coalesce(CAST(? AS DATE), DATE '0001-01-01') "
                    "AND coalesce(CAST(? AS DATE), DATE '9999-12-31') ORDER BY 1",
                    [date_from, date_to],
                ).fetchall()
            ]
            if not days:
                raise BacktestError(
                    f"backtest: no stored scores between {date_from or 'the start'} "
                    f"and {date_to or 'the end'}"
                )
            first, last = days[0], days[-1]
            copied = _copy_inputs(con, first, last)
            stored_signals = set(table_columns(con, ACCOUNT_SIGNALS))
            missing_signals = (
                sorted(_model_signals(model) - stored_signals) if stored_signals else []
            )
            con.execute("DETACH prod")
            churn_model: dict[str, Any] = {"trained": False, "reason": "not requested"}
            if engine:
                # the candidate's churn probabilities walk-forward, as production makes them:
                # each day's from a model trained on labels matured by then; the artefacts go
                # to the temporary folder, never to the production models folder
                from acct_pipeline.scoring.churn import WalkForwardChurn

                churn = WalkForwardChurn(model, workdir / "churn_models") if train_churn else None
                for i, day in enumerate(days, 1):
                    score_day(con, day, model, churn=churn)
                    _tell(progress, i, len(days), day)
                if churn is not None:
                    summary = churn.summary()
                    churn_model = {
                        "trained": bool(summary["versions_used"]),
                        "method": "walk-forward: each day scored by a model trained on the "
                        "labels matured by then",
                        **summary,
                    }
                    if not churn_model["trained"]:
                        churn_model["reason"] = (
                            "no churn model for any scored day (churn horizon "
                            f"{model.churn_model.horizon_days} days): "
                            + ((summary.get("no_model") or ["no reason recorded"])[-1])
                        )
            else:
                for i, day in enumerate(days, 1):
                    score_day(con, day, model)
                    _tell(progress, i, len(days), day)
            current_table, candidate_table = CURRENT_SCORES, ACCOUNT_SCORES
            if accounts is not None:
                current_table, candidate_table = _restrict(con, accounts)
            current = compute_validation(con, current_table, date_from=first, date_to=last)
            candidate = compute_validation(con, candidate_table, date_from=first, date_to=last)
            changes = _tier_changes(con, ACCOUNT_SCORES, last)
        finally:
            con.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "kind": "acct_pipeline.backtest",
        "created_at": t0.replace(microsecond=0).isoformat(),
        "warehouse": str(prod),
        "candidate_model": str(candidate_path.resolve()),
        "candidate_label": getattr(model, "label", None),
        "candidate_hash": getattr(model, "content_hash", None),
        "evaluation": evaluation
        or {"accounts": "all", "out_of_time": False, "window": "the stored score days"},
        "window": {"from": str(first), "to": str(last), "days": len(days)},
        "rows_copied": copied,
        # signals the candidate reads that the stored history does not have (scored as missing)
        "signals_missing_from_history": missing_signals,
        "seconds": round((datetime.now() - t0).total_seconds(), 1),
        "current": _side(current.summary, evaluation),
        "candidate": _side(candidate.summary, evaluation),
        "tier_changes": changes,
        "candidate_churn_model": churn_model,
    }


def _f(x: Any, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def format_backtest(result: dict[str, Any]) -> str:
    """The backtest as text: current vs candidate, tier changes, top movers."""
    cur, cand, ch = result["current"], result["candidate"], result["tier_changes"]
    w = result["window"]
    cur_v = ", ".join(cur.get("model_versions") or ["?"])
    cand_v = ", ".join(cand.get("model_versions") or ["?"])
    lines = [
        f"Backtest {w['from']} .. {w['to']} ({w['days']} days, "
        f"{cur.get('accounts') or 0:,} accounts) "
        f"in {result.get('seconds', 0)}s",
        f"current:   {cur_v} (the stored scores)",
        f"candidate: {cand_v} ({result['candidate_model']})",
    ]
    if result.get("signals_missing_from_history"):
        lines.append(
            "WARNING: the stored signals lack "
            + ", ".join(result["signals_missing_from_history"])
            + ": the candidate scores them as missing (recompute the signals history first)"
        )
    lines += [
        "",
        f"{'':32}{'current':>18}{'candidate':>18}{'change':>12}",
    ]

    def row(label: str, a: Any, b: Any, digits: int = 3) -> str:
        diff = "" if a is None or b is None else f"{b - a:+.{digits}f}"
        return f"{label:32}{_f(a, digits):>18}{_f(b, digits):>18}{diff:>12}"

    lines += [
        row("ROC-AUC, health score", cur.get("auc_health_score"), cand.get("auc_health_score")),
        row(
            "ROC-AUC, churn probability",
            cur.get("auc_churn_probability"),
            cand.get("auc_churn_probability"),
        ),
        row(
            "top-decile lift, health score",
            cur.get("lift_health_score"),
            cand.get("lift_health_score"),
            2,
        ),
        row(
            "top-decile lift, churn prob.",
            cur.get("lift_churn_probability"),
            cand.get("lift_churn_probability"),
            2,
        ),
        row("Brier (churn probability)", cur.get("brier"), cand.get("brier"), 4),
        row(
            "tier changes per day (share)",
            cur.get("tier_change_share_mean"),
            cand.get("tier_change_share_mean"),
        ),
        "",
        "90-day churn rate by tier (account-days):",
    ]
    tiers = ordered_tiers(
        list((cur.get("churn_rate_by_tier") or {}) | (cand.get("churn_rate_by_tier") or {}))
    )
    for t in tiers:
        a = (cur.get("churn_rate_by_tier") or {}).get(t)
        b = (cand.get("churn_rate_by_tier") or {}).get(t)
        na = (cur.get("account_days_by_tier") or {}).get(t, 0)
        nb = (cand.get("account_days_by_tier") or {}).get(t, 0)
        lines.append(f"  {t:30}{_pct(a) + f' n={na:,}':>18}{_pct(b) + f' n={nb:,}':>18}")
    mono = {True: "monotonic", False: "NOT monotonic", None: "n/a"}
    lines.append(
        f"  {'':30}{mono[cur.get('churn_monotonic')]:>18}{mono[cand.get('churn_monotonic')]:>18}"
    )
    churn = result.get("candidate_churn_model") or {}
    if churn.get("trained"):
        lines.append(
            f"candidate churn model {churn.get('version')}: hold-out AUC "
            f"{_f(churn.get('holdout_churn_auc'))} (health score on the same rows "
            f"{_f(churn.get('holdout_health_auc'))}); probabilities above are in-sample"
        )
    elif churn:
        lines.append(f"candidate churn model not trained: {churn.get('reason')}")
    lines += [
        "",
        f"tier changes on {ch['compared_on']}: {ch['accounts_changing_tier']:,} "
        f"of {ch['accounts_compared']:,} "
        f"accounts ({_pct(ch['share_changing_tier'])}): {ch['to_worse_tier']:,} to a worse tier, "
        f"{ch['to_better_tier']:,} to a better one; over the window "
        f"{_pct(ch['share_account_days_changing_tier'])} "
        "of account-days differ",
        "",
        "  current \\ candidate" + "".join(f"{t:>12}" for t in ch["migration_matrix"]),
    ]
    for a, row_ in ch["migration_matrix"].items():
        lines.append(f"  {a:19}" + "".join(f"{v:>12,}" for v in row_.values()))
    if ch["top_movers"]:
        lines += ["", "accounts whose tier changes most:"]
        lines.append(
            f"  {'account':14}{'name':24}{'current':>18}{'candidate':>18}{'days differing':>16}"
        )
        for m in ch["top_movers"]:
            lines.append(
                f"  {str(m['account_id'])[:13]:14}{str(m['name'] or '')[:23]:24}"
                f"{_f(m['current_score'], 1) + ' ' + str(m['current_tier']):>18}"
                f"{_f(m['candidate_score'], 1) + ' ' + str(m['candidate_tier']):>18}"
                f"{m['days_changed']:>16}"
            )
    return "\n".join(lines)


def default_output_path(now: datetime | None = None, warehouse: str | Path | None = None) -> Path:
    """``<reports dir>/backtest_<timestamp>.json`` (reports dir: ``report.reports_dir``)."""
    from acct_pipeline.scoring.report import reports_dir

    stamp = (now or datetime.now()).strftime("%Y%m%dT%H%M%S")
    return reports_dir(warehouse) / f"backtest_{stamp}.json"


def write_backtest(result: dict[str, Any], out: str | Path | None = None) -> Path:
    """Write the result as JSON (``default_output_path()`` unless ``out``)."""
    path = Path(out) if out else default_output_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str))
    return path


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from exc


def add_backtest_parser(sub: argparse._SubParsersAction) -> None:
    """The ``backtest`` subcommand (for ``acct_pipeline.cli.EXTRA_PARSERS``)."""
    p = sub.add_parser(
        "backtest",
        help="re-score the stored history under a candidate model and compare with the current one",
    )
    p.add_argument("--model", dest="model", required=True, help="candidate scoring model YAML")
    p.add_argument(
        "--from", dest="date_from", type=_date, help="first as-of day (default: first stored)"
    )
    p.add_argument("--to", dest="date_to", type=_date, help="last as-of day (default: last stored)")
    p.add_argument(
        "--out",
        dest="out",
        help="JSON output file (default: data/reports/backtest_<timestamp>.json)",
    )
    p.add_argument(
        "--warehouse", dest="warehouse", help="warehouse file (default: $ACCT_WAREHOUSE)"
    )


def same_version_warning(candidate_path: str | Path) -> str | None:
    """A warning when the candidate carries production's ``name@version`` (``ACCT_MODEL``): the
    backtest then labels both sides alike, and a changed file would be refused at go-live."""
    from acct_pipeline.scoring.model import load_model

    try:
        production, candidate = load_model(), load_model(candidate_path)
    except Exception:  # noqa: BLE001 - the backtest itself reports an unloadable candidate
        return None
    if candidate.label != production.label:
        return None
    if candidate.content_hash == production.content_hash:
        return (
            f"warning: the candidate is production's own model ({production.label}): both sides "
            "will score the same"
        )
    return (
        f"warning: the candidate is labelled {candidate.label}, like production, but its content "
        "differs: bump its version before it goes live (a changed file with the same version is "
        "refused)"
    )


def cmd_backtest(args: argparse.Namespace) -> int:
    """``acct-pipeline backtest``: print the comparison, write the JSON (for ``cli.COMMANDS``)."""
    warehouse = getattr(args, "warehouse", None) or warehouse_path()
    warning = same_version_warning(args.model)
    if warning:
        print(warning, file=sys.stderr)
    try:
        result = run_backtest(
            warehouse,
            args.model,
            args.date_from,
            args.date_to,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
    except BacktestError as exc:
        print(str(exc))
        return 2
    print(format_backtest(result))
    path = write_backtest(result, args.out or default_output_path(warehouse=warehouse))
    print(f"\nwritten to {path}")
    return 0
