"""The metric families: discrimination, renewal cases, churn by tier, calibration, distribution,
tier shares, stability, coverage and fairness, each as SQL over the scored rows."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import duckdb
import pandas as pd

from acct_pipeline.scoring.lifecycle import CHURNED
from acct_pipeline.scoring.outcomes import (
    CHURN_HORIZON_DAYS,
    CONTRACT_ENDS,
    create_outcome_tables,
)
from acct_pipeline.scoring.signals import SIGNAL_WARMUP_DAYS
from acct_pipeline.scoring.tiers import model_tier_names, ordered_tiers
from acct_pipeline.scoring.validation.data import (
    _prepare_scores,
)
from acct_pipeline.scoring.validation.result import (
    CONTRACT_END_WINDOWS,
    FAIRNESS_TYPES,
    FAIRNESS_WINDOW,
    FLAP_REAL_MOVE_POINTS,
    FLAP_WINDOW_DAYS,
    LIFECYCLE_STATUS,
    MIN_SEGMENT_CHURNED,
    MIN_SEGMENT_ROWS,
    MIN_TIER_ROWS,
    NON_INPUT_COLUMNS,
    PSI_BINS,
    PSI_WARMUP_WINDOW,
    PSI_WINDOW,
    SEGMENT_AUC_GAP,
    SEGMENT_MISSING_MAX,
    SEGMENT_PREFIX,
    SEGMENT_TYPES,
    SIZE_BANDS,
    TIER_SHARE_DAYS,
    VALIDATION_COLUMNS,
    TierShares,
    ValidationResult,
    day_text,
    empty_result,
    psi_summary,
    rows_frame,
)
from acct_pipeline.scoring.validation.revenue import revenue_records, revenue_view
from acct_pipeline.warehouse import (
    ACCOUNT_SCORES,
    ACCOUNT_SIGNALS,
    ACCOUNTS,
    BILLING_SUBSCRIPTIONS,
    IDENTITY_MAP,
    PRODUCT_EVENTS,
    table_columns,
    table_exists,
)


def _auc_sql(score_expr: str, relation: str = "_v_labeled") -> str:
    """ROC-AUC by the Mann-Whitney rank sum (ties get their average rank) over ``relation``."""
    return f"""
    WITH s AS (SELECT {score_expr} AS risk, churned FROM {relation} WHERE {score_expr} IS NOT NULL),
    r AS (
        SELECT churned,
               rank() OVER (ORDER BY risk) + (count(*) OVER (PARTITION BY risk) - 1) / 2.0 AS
                   avg_rank
        FROM s
    ),
    t AS (SELECT sum(churned) AS n1, count(*) - sum(churned) AS n0,
                 sum(CASE WHEN churned = 1 THEN avg_rank ELSE 0 END) AS pos_ranks FROM r)
    SELECT CASE WHEN n1 > 0 AND n0 > 0 THEN (pos_ranks - n1 * (n1 + 1) / 2.0) / (n1 * n0) END AS
        auc,
           n1 + n0 AS n, n1
    FROM t
    """


def _decile_sql(score_expr: str) -> str:
    """Churn rate per risk decile, deciles drawn within each day (the daily top-10% list)."""
    return f"""
    WITH d AS (
        SELECT churned,
               ntile(10) OVER (PARTITION BY as_of_date ORDER BY {score_expr} DESC,
                   hash(account_id)) AS decile
        FROM _v_labeled WHERE {score_expr} IS NOT NULL
    ),
    base AS (SELECT avg(churned) AS rate FROM d)
    SELECT decile, count(*) AS n, avg(churned) AS churn_rate,
           CASE WHEN (SELECT rate FROM base) > 0 THEN avg(churned) / (SELECT rate FROM base) END
               AS lift
    FROM d GROUP BY decile ORDER BY decile
    """


def _rec(metric: str, value: Any, n: Any = None, **kw: Any) -> dict[str, Any]:
    out = {c: None for c in VALIDATION_COLUMNS}
    out.update(
        metric=metric, value=None if value is None or _isnan(value) else float(value), n=n, **kw
    )
    return out


def _isnan(x: Any) -> bool:
    try:
        return math.isnan(float(x))
    except (TypeError, ValueError):
        return False


def _discrimination(
    con: duckdb.DuckDBPyConnection, has_prob: bool, recs: list, summary: dict
) -> None:
    scores = {"health_score": "(100 - health_score)"}
    if has_prob:
        scores["churn_probability"] = "churn_probability"
    for name, expr in scores.items():
        auc, n, n1 = con.execute(_auc_sql(expr)).fetchone()
        recs.append(
            _rec("auc", auc, n, score=name, segment_type="all", segment="all", window="90d_after")
        )
        summary[f"auc_{name}"] = None if auc is None else round(float(auc), 4)
        first, last = con.execute(
            f"SELECT min(as_of_date), max(as_of_date) FROM _v_labeled WHERE {expr} IS NOT NULL"
        ).fetchone()
        summary[f"auc_{name}_basis"] = {
            "n": int(n or 0),
            "churned": int(n1 or 0),
            "from": day_text(first),
            "to": day_text(last),
        }
        for decile, dn, rate, lift in con.execute(_decile_sql(expr)).fetchall():
            seg = dict(score=name, segment_type="decile", segment=str(decile), window="90d_after")
            recs.append(_rec("decile_churn_rate", rate, dn, **seg))
            recs.append(_rec("decile_lift", lift, dn, **seg))
            if decile == 1:
                recs.append(
                    _rec(
                        "top_decile_lift",
                        lift,
                        dn,
                        score=name,
                        segment_type="all",
                        segment="all",
                        window="90d_after",
                    )
                )
                summary[f"lift_{name}"] = None if lift is None else round(float(lift), 3)
    if has_prob:
        # the health score judged on exactly the rows that have an out-of-time probability
        auc, n, _ = con.execute(
            _auc_sql("CASE WHEN churn_probability IS NOT NULL THEN 100 - health_score END")
        ).fetchone()
        summary["auc_health_score_on_churn_rows"] = None if auc is None else round(float(auc), 4)
    if not has_prob:
        summary["auc_churn_probability"] = None
        summary["lift_churn_probability"] = None


def _renewal_cases(
    con: duckdb.DuckDBPyConnection, signals_table: str, horizon_days: int, recs: list, summary: dict
) -> None:
    """AUCs on the hard cases only: accounts whose renewal falls inside the horizon and that have
    not given notice. Knowing who renews soon and who gave notice already separates most
    churners (only they can churn within the window); this tells how much the scores add."""
    cols = set(table_columns(con, signals_table))
    if not {"days_to_renewal", "cancellation_notice"} <= cols:
        return
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _v_renewing AS
        SELECT l.* FROM _v_labeled l
        JOIN {signals_table} g USING (account_id, as_of_date)
        WHERE g.days_to_renewal BETWEEN 0 AND {int(horizon_days)}
          AND coalesce(g.cancellation_notice, 0) = 0
        """
    )
    for name, expr in (
        ("health_score", "(100 - health_score)"),
        ("churn_probability", "churn_probability"),
    ):
        auc, n, n1 = con.execute(_auc_sql(expr, "_v_renewing")).fetchone()
        recs.append(
            _rec(
                "auc",
                auc,
                n,
                score=name,
                segment_type="renewing_without_notice",
                segment="all",
                window="90d_after",
            )
        )
        summary[f"auc_{name}_renewing_without_notice"] = (
            None if auc is None else round(float(auc), 4)
        )
        summary[f"auc_{name}_renewing_without_notice_n"] = int(n or 0)


def _churn_by_tier(con: duckdb.DuckDBPyConnection, recs: list, summary: dict) -> None:
    rows = con.execute(
        "SELECT tier, count(*) AS n, sum(churned) AS churned, avg(churned) AS rate "
        "FROM _v_labeled GROUP BY tier"
    ).fetchall()
    by_tier = {t: (int(n), int(c), float(r)) for t, n, c, r in rows}
    for tier in ordered_tiers(list(by_tier)):
        n, _, rate = by_tier[tier]
        recs.append(
            _rec("churn_rate", rate, n, segment_type="tier", segment=tier, window="90d_after")
        )
    summary["churn_rate_by_tier"] = {
        t: round(by_tier[t][2], 4) for t in ordered_tiers(list(by_tier))
    }
    summary["account_days_by_tier"] = {t: by_tier[t][0] for t in ordered_tiers(list(by_tier))}
    judged = [
        t
        for t in ordered_tiers(list(by_tier))
        if t in model_tier_names() and by_tier[t][0] >= MIN_TIER_ROWS
    ]
    rates = [by_tier[t][2] for t in judged]
    summary["tiers_judged_for_monotonicity"] = judged
    summary["churn_monotonic"] = bool(
        len(rates) >= 2 and all(a <= b for a, b in zip(rates, rates[1:], strict=False))
    )

    # At N days before a contract end, what tier was the account in, and did it renew or churn?
    for window in CONTRACT_END_WINDOWS:
        res = con.execute(
            f"""
            SELECT s.tier, count(*) AS n,
                   avg(CAST(e.outcome = 'churned' AS INTEGER)) AS churn_rate,
                   avg(CAST(e.outcome = 'renewed' AS INTEGER)) AS renewal_rate
            FROM {CONTRACT_ENDS} e
            JOIN _v_scores s ON s.account_id = e.account_id AND s.as_of_date = e.end_date - {window}
            GROUP BY s.tier
            """
        ).fetchall()
        got = {t: (n, c, r) for t, n, c, r in res}
        for tier in ordered_tiers(list(got)):
            n, c, r = got[tier]
            seg = dict(segment_type="tier", segment=tier, window=f"{window}d_before_end")
            recs.append(_rec("churn_rate", c, n, **seg))
            recs.append(_rec("renewal_rate", r, n, **seg))
        summary[f"contract_ends_scored_{window}d_before"] = int(sum(v[0] for v in got.values()))


def _calibration(con: duckdb.DuckDBPyConnection, has_prob: bool, recs: list, summary: dict) -> None:
    if not has_prob:
        summary["brier"] = None
        return
    brier, n = con.execute(
        "SELECT avg(power(churn_probability - churned, 2)), count(*) FROM _v_labeled "
        "WHERE churn_probability IS NOT NULL"
    ).fetchone()
    summary["brier"] = None if brier is None else round(float(brier), 5)
    recs.append(
        _rec(
            "brier",
            brier,
            n,
            score="churn_probability",
            segment_type="all",
            segment="all",
            window="90d_after",
        )
    )
    for b, bn, pred, obs in con.execute(
        """
        SELECT least(CAST(floor(churn_probability * 10) AS INTEGER), 9) AS bin, count(*),
               avg(churn_probability), avg(churned)
        FROM _v_labeled WHERE churn_probability IS NOT NULL GROUP BY bin ORDER BY bin
        """
    ).fetchall():
        seg = dict(
            score="churn_probability",
            segment_type="bin",
            segment=f"{b / 10:.1f}-{(b + 1) / 10:.1f}",
            window="90d_after",
        )
        recs.append(_rec("reliability_predicted", pred, bn, **seg))
        recs.append(_rec("reliability_observed", obs, bn, **seg))


def _distribution(
    con: duckdb.DuckDBPyConnection, recs: list, summary: dict, last_day: date
) -> None:
    for window, where in (
        ("latest_day", "as_of_date = CAST(? AS DATE)"),
        ("all_days", "? IS NOT NULL"),
    ):
        res = con.execute(
            f"""
            SELECT tier, count(*) AS n, count(*) / sum(count(*)) OVER () AS share,
                   avg(health_score), min(health_score), quantile_cont(health_score, 0.1),
                   median(health_score), quantile_cont(health_score, 0.9), max(health_score)
            FROM _v_scores WHERE {where} GROUP BY tier
            """,
            [last_day],
        ).fetchall()
        got = {r[0]: r[1:] for r in res}
        for tier in ordered_tiers(list(got)):
            n, share, mean, lo, p10, p50, p90, hi = got[tier]
            seg = dict(
                segment_type="tier",
                segment=tier,
                window=window,
                as_of_date=last_day if window == "latest_day" else None,
            )
            for metric, value in (
                ("tier_share", share),
                ("score_mean", mean),
                ("score_min", lo),
                ("score_p10", p10),
                ("score_p50", p50),
                ("score_p90", p90),
                ("score_max", hi),
            ):
                recs.append(
                    _rec(
                        metric,
                        value,
                        n,
                        score="health_score" if metric != "tier_share" else None,
                        **seg,
                    )
                )
        if window == "latest_day":
            summary["tier_share_latest"] = {
                t: round(float(got[t][1]), 4) for t in ordered_tiers(list(got))
            }
            summary["largest_tier_share_latest"] = round(
                max((float(v[1]) for v in got.values()), default=0.0), 4
            )


def recent_tier_shares(
    con: duckdb.DuckDBPyConnection,
    tier_names: list[str] | tuple[str, ...],
    scores_table: str = ACCOUNT_SCORES,
    days: int = TIER_SHARE_DAYS,
    date_from: date | None = None,
    date_to: date | None = None,
) -> TierShares:
    """Tier counts over the last ``days`` scored days (within ``date_from``..``date_to``).

    Rows with no tier, and rows whose ``lifecycle_status`` is Churned when the table has that
    column, are counted in ``excluded`` only.
    """
    empty = TierShares(None, None, 0, dict.fromkeys(tier_names, 0), 0, tuple(tier_names))
    if not table_exists(con, scores_table):
        return empty
    cols = table_columns(con, scores_table)
    churned = (
        f"coalesce(CAST({LIFECYCLE_STATUS} AS VARCHAR) = '{CHURNED}', false)"
        if LIFECYCLE_STATUS in cols
        else "false"
    )
    recent = f"""
        WITH s AS (
            SELECT CAST(as_of_date AS DATE) AS d, CAST(tier AS VARCHAR) AS tier,
                   tier IS NULL OR {churned} AS excluded
            FROM {scores_table}
            WHERE CAST(as_of_date AS DATE)
                  BETWEEN coalesce(CAST(? AS DATE), DATE '0001-01-01')
                      AND coalesce(CAST(? AS DATE), DATE '9999-12-31')
        ),
        recent AS (SELECT DISTINCT d FROM s ORDER BY d DESC LIMIT {int(days)})
    """
    first, last, n_days = con.execute(
        f"{recent} SELECT min(d), max(d), count(*) FROM recent", [date_from, date_to]
    ).fetchone()
    if not n_days:
        return empty
    counts = dict.fromkeys(tier_names, 0)
    excluded = 0
    for tier, is_excluded, n in con.execute(
        f"{recent} SELECT tier, excluded, count(*) FROM s SEMI JOIN recent USING (d) GROUP BY ALL",
        [date_from, date_to],
    ).fetchall():
        if is_excluded:
            excluded += int(n)
        else:
            counts[tier] = counts.get(tier, 0) + int(n)
    return TierShares(first, last, int(n_days), counts, excluded, tuple(tier_names))


def _recent_tier_share(
    con: duckdb.DuckDBPyConnection,
    scores_table: str,
    date_from: date | None,
    date_to: date | None,
    tier_names: list[str] | tuple[str, ...] | None,
    recs: list,
    summary: dict,
) -> None:
    names = tier_names or ordered_tiers(
        [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT tier FROM _v_scores WHERE tier IS NOT NULL"
            ).fetchall()
        ]
    )
    shares = recent_tier_shares(con, names, scores_table, date_from=date_from, date_to=date_to)
    for tier, share in shares.shares.items():
        recs.append(
            _rec(
                "tier_share",
                share,
                shares.counts[tier],
                segment_type="tier",
                segment=tier,
                window=f"last_{TIER_SHARE_DAYS}_days",
            )
        )
    summary["tier_share_30d"] = {t: round(v, 4) for t, v in shares.shares.items()}
    summary["tier_share_30d_days"] = shares.days


def _warmup_end(con: duckdb.DuckDBPyConnection) -> date | None:
    """The first day whose usage windows are full: ``SIGNAL_WARMUP_DAYS`` after the first
    product event in the warehouse, else after the first scored day (the churn model's rule)."""
    first_event = (
        con.execute(f"SELECT min(event_date) FROM {PRODUCT_EVENTS.qualified}").fetchone()[0]
        if table_exists(con, PRODUCT_EVENTS.qualified)
        else None
    )
    start = first_event or con.execute("SELECT min(as_of_date) FROM _v_scores").fetchone()[0]
    return start + timedelta(days=SIGNAL_WARMUP_DAYS) if start else None


def _stability(con: duckdb.DuckDBPyConnection, recs: list, summary: dict) -> None:
    psi = con.execute(
        f"""
        WITH days AS (SELECT as_of_date, dense_rank() OVER (ORDER BY as_of_date) AS idx
                      FROM (SELECT DISTINCT as_of_date FROM _v_scores)),
        h AS (SELECT as_of_date,
                     least(greatest(CAST(floor(health_score / (100.0 / {PSI_BINS})) AS INTEGER), 0),
                           {PSI_BINS - 1}) AS bin,
                     count(*) AS n
              FROM _v_scores WHERE health_score IS NOT NULL GROUP BY ALL),
        grid AS (SELECT d.as_of_date, d.idx,
            b.range AS bin FROM days d CROSS JOIN range({PSI_BINS}) b),
        dist AS (SELECT g.as_of_date, g.idx, g.bin,
                        greatest(coalesce(h.n, 0) / sum(coalesce(h.n,
                            0)) OVER (PARTITION BY g.as_of_date),
                                 1e-4) AS p
                 FROM grid g LEFT JOIN h ON h.as_of_date = g.as_of_date AND h.bin = g.bin)
        SELECT cur.as_of_date, sum((cur.p - prev.p) * ln(cur.p / prev.p)) AS psi
        FROM dist cur JOIN dist prev ON prev.idx = cur.idx - 1 AND prev.bin = cur.bin
        GROUP BY cur.as_of_date ORDER BY cur.as_of_date
        """
    ).fetchall()
    # judged: the days after the signal warm-up (_warmup_end); the warm-up's days are stored
    # with their own window and reported, not judged (result.psi_summary)
    warm_until = _warmup_end(con)
    marked = []
    for day, value in psi:
        warm = warm_until is not None and day < warm_until
        recs.append(
            _rec(
                "psi",
                value,
                None,
                score="health_score",
                segment_type="day",
                segment="all",
                window=PSI_WARMUP_WINDOW if warm else PSI_WINDOW,
                as_of_date=day,
            )
        )
        if value is not None:
            marked.append((day, float(value), warm))
    summary.update(psi_summary(marked))

    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _v_tier_changes AS
        WITH days AS (SELECT as_of_date, dense_rank() OVER (ORDER BY as_of_date) AS idx
                      FROM (SELECT DISTINCT as_of_date FROM _v_scores)),
        seq AS (SELECT s.account_id, s.as_of_date, d.idx, s.tier, s.health_score,
                       lag(s.tier) OVER w AS prev_tier, lag(d.idx) OVER w AS prev_idx
                FROM _v_scores s JOIN days d USING (as_of_date)
                WINDOW w AS (PARTITION BY s.account_id ORDER BY s.as_of_date))
        SELECT account_id, as_of_date, prev_tier, tier, health_score,
               tier IS DISTINCT FROM prev_tier AS changed
        FROM seq WHERE prev_idx = idx - 1
        """
    )
    per_day = con.execute(
        "SELECT as_of_date, count(*), avg(CAST(changed AS INTEGER)) "
        "FROM _v_tier_changes GROUP BY 1 ORDER BY 1"
    ).fetchall()
    for day, n, share in per_day:
        recs.append(
            _rec(
                "tier_change_share",
                share,
                n,
                segment_type="day",
                segment="all",
                window="consecutive_days",
                as_of_date=day,
            )
        )
    shares = [float(s) for _, _, s in per_day]
    summary["tier_change_share_mean"] = round(sum(shares) / len(shares), 4) if shares else None
    summary["tier_change_share_max"] = round(max(shares), 4) if shares else None

    flapped, accounts = con.execute(
        f"""
        WITH c AS (SELECT * FROM _v_tier_changes WHERE changed),
        flaps AS (
            SELECT DISTINCT a.account_id FROM c a JOIN c b
              ON b.account_id = a.account_id AND b.tier = a.prev_tier AND b.prev_tier = a.tier
             AND b.as_of_date > a.as_of_date AND b.as_of_date <= a.as_of_date + {FLAP_WINDOW_DAYS}
             AND NOT abs(b.health_score - a.health_score) >= {FLAP_REAL_MOVE_POINTS}
        )
        SELECT (SELECT count(*) FROM flaps), (SELECT count(DISTINCT account_id) FROM _v_scores)
        """
    ).fetchone()
    share = flapped / accounts if accounts else None
    recs.append(
        _rec(
            "tier_flap_share",
            share,
            accounts,
            segment_type="all",
            segment="all",
            window=f"reverted_within_{FLAP_WINDOW_DAYS}d",
        )
    )
    summary["tier_flap_share"] = None if share is None else round(float(share), 4)
    summary["tier_flap_accounts"] = int(flapped)


def _segment_sql(con: duckdb.DuckDBPyConnection, signals_table: str) -> tuple[str, list[str]]:
    """SQL with account_id, plan, region, industry, n_inputs, n_missing on the latest day."""
    sig_cols = table_columns(con, signals_table) if table_exists(con, signals_table) else []
    inputs = [c for c in sig_cols if c not in NON_INPUT_COLUMNS]
    if inputs:
        missing = " + ".join(f'CAST("{c}" IS NULL AS INTEGER)' for c in inputs)
        plan = "CAST(plan AS VARCHAR)" if "plan" in sig_cols else "NULL::VARCHAR"
        sig = f"""SELECT account_id, {len(inputs)} AS n_inputs, {missing} AS n_missing,
                         {plan} AS signal_plan
                  FROM {signals_table} WHERE as_of_date = CAST($day AS DATE)"""
    else:
        sig = (
            "SELECT NULL::VARCHAR AS account_id, 0 AS n_inputs, 0 AS n_missing, "
            "NULL::VARCHAR AS signal_plan WHERE false"
        )
    acc_cols = table_columns(con, ACCOUNTS) if table_exists(con, ACCOUNTS) else []
    region = "CAST(a.region AS VARCHAR)" if "region" in acc_cols else "NULL::VARCHAR"
    industry = "CAST(a.industry AS VARCHAR)" if "industry" in acc_cols else "NULL::VARCHAR"
    acc_join = f"LEFT JOIN {ACCOUNTS} a ON a.account_id = s.account_id" if acc_cols else ""
    if table_exists(con, BILLING_SUBSCRIPTIONS.qualified) and table_exists(con, IDENTITY_MAP):
        billing_plan = f"""
            SELECT m.account_id, arg_max(b.plan, b.started_at) AS billing_plan
            FROM {BILLING_SUBSCRIPTIONS.qualified} b
            JOIN {IDENTITY_MAP} m ON m.source_system = 'billing' AND m.source_id = b.customer_id
            WHERE CAST(b.started_at AS DATE) <= CAST($day AS DATE)
            GROUP BY m.account_id"""
    else:
        billing_plan = (
            "SELECT NULL::VARCHAR AS account_id, NULL::VARCHAR AS billing_plan WHERE false"
        )
    sql = f"""
    WITH sig AS ({sig}), bp AS ({billing_plan})
    SELECT s.account_id, s.health_score, s.tier,
           coalesce(sig.signal_plan, bp.billing_plan, '(none)') AS plan,
           coalesce({region}, '(none)') AS region,
           coalesce({industry}, '(none)') AS industry,
           sig.n_inputs, sig.n_missing
    FROM _v_scores s
    {acc_join}
    LEFT JOIN sig ON sig.account_id = s.account_id
    LEFT JOIN bp ON bp.account_id = s.account_id
    WHERE s.as_of_date = CAST($day AS DATE)
    """
    return sql, inputs


def _coverage(
    con: duckdb.DuckDBPyConnection, signals_table: str, recs: list, summary: dict, last_day: date
) -> None:
    sql, inputs = _segment_sql(con, signals_table)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _v_segments AS {sql}", {"day": last_day})
    summary["signal_inputs"] = len(inputs)
    worst: tuple[float, str] | None = None
    for seg_type in SEGMENT_TYPES:
        res = con.execute(
            f"""
            SELECT {seg_type} AS seg, count(*) AS n,
                   avg(CASE WHEN n_inputs IS NULL THEN 1.0 ELSE CAST(n_missing > 0 AS DOUBLE)
                       END) AS missing_any,
                   avg(CASE WHEN n_inputs IS NULL OR n_inputs = 0 THEN 1.0
                            ELSE n_missing / n_inputs END) AS missing_share,
                   avg(health_score), quantile_cont(health_score, 0.1), median(health_score),
                   quantile_cont(health_score, 0.9)
            FROM _v_segments GROUP BY 1 ORDER BY 1
            """
        ).fetchall()
        for seg, n, any_missing, share, mean, p10, p50, p90 in res:
            base = dict(
                segment_type=seg_type, segment=str(seg), window="latest_day", as_of_date=last_day
            )
            recs.append(_rec("accounts", n, n, **base))
            recs.append(_rec("missing_any_input_share", any_missing, n, **base))
            recs.append(_rec("missing_input_share", share, n, **base))
            for metric, value in (
                ("score_mean", mean),
                ("score_p10", p10),
                ("score_p50", p50),
                ("score_p90", p90),
            ):
                recs.append(_rec(metric, value, n, score="health_score", **base))
            if share is not None and (worst is None or share > worst[0]):
                worst = (float(share), f"{seg_type}={seg}")
        for seg, tier, share, n in con.execute(
            f"""SELECT {seg_type}, tier,
                       count(*) / sum(count(*)) OVER (PARTITION BY {seg_type}), count(*)
                FROM _v_segments GROUP BY 1, 2 ORDER BY 1, 2"""
        ).fetchall():
            recs.append(
                _rec(
                    f"tier_share:{tier}",
                    share,
                    n,
                    segment_type=seg_type,
                    segment=str(seg),
                    window="latest_day",
                    as_of_date=last_day,
                )
            )
    summary["most_missing_segment"] = (
        None if worst is None else {"segment": worst[1], "missing_input_share": round(worst[0], 4)}
    )


def _size_band_sql(expr: str) -> str:
    whens = " ".join(f"WHEN {expr} < {hi} THEN '{label}'" for hi, label in SIZE_BANDS)
    return f"(CASE WHEN {expr} IS NULL THEN '(unknown)' {whens} ELSE '{SIZE_BANDS[-1][0]}+' END)"


def _fairness(
    con: duckdb.DuckDBPyConnection,
    signals_table: str,
    has_prob: bool,
    recs: list,
    summary: dict,
) -> None:
    """Per segment (plan, region, size band, tracked / untracked product data), over every
    labelled account-day: health AUC, churn rate, calibration of the churn probability, tier
    shares and the share of the health weight that had no data (``1 - data_coverage``)."""
    sig_cols = set(table_columns(con, signals_table)) if table_exists(con, signals_table) else set()
    acc_cols = set(table_columns(con, ACCOUNTS)) if table_exists(con, ACCOUNTS) else set()
    plan = "CAST(g.plan AS VARCHAR)" if "plan" in sig_cols else "NULL::VARCHAR"
    sig_join = (
        f"LEFT JOIN {signals_table} g ON g.account_id = l.account_id "
        "AND g.as_of_date = l.as_of_date"
        if sig_cols
        else ""
    )
    region = "CAST(a.region AS VARCHAR)" if "region" in acc_cols else "NULL::VARCHAR"
    employees = "TRY_CAST(a.employees AS DOUBLE)" if "employees" in acc_cols else "NULL::DOUBLE"
    acc_join = f"LEFT JOIN {ACCOUNTS} a ON a.account_id = l.account_id" if acc_cols else ""
    if table_exists(con, IDENTITY_MAP):
        tracked = (
            f"(SELECT DISTINCT account_id FROM {IDENTITY_MAP} WHERE source_system = 'product')"
        )
    else:
        tracked = "(SELECT NULL::VARCHAR AS account_id WHERE false)"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _v_fair AS
        SELECT l.account_id, l.as_of_date, l.health_score, l.tier, l.churn_probability,
               l.churned, l.data_coverage,
               coalesce({plan}, '(none)') AS plan,
               coalesce({region}, '(none)') AS region,
               {_size_band_sql(employees)} AS size_band,
               CASE WHEN p.account_id IS NOT NULL THEN 'tracked' ELSE 'untracked' END
                   AS product_data
        FROM _v_labeled l
        {sig_join}
        {acc_join}
        LEFT JOIN {tracked} p ON p.account_id = l.account_id
        """
    )
    base = dict(score=None, window=FAIRNESS_WINDOW)
    for seg_type in FAIRNESS_TYPES:
        rows = con.execute(
            f"""
            WITH s AS (SELECT {seg_type} AS seg, 100 - health_score AS risk, churned
                       FROM _v_fair WHERE health_score IS NOT NULL),
            r AS (SELECT seg, churned,
                         rank() OVER (PARTITION BY seg ORDER BY risk)
                         + (count(*) OVER (PARTITION BY seg, risk) - 1) / 2.0 AS avg_rank
                  FROM s),
            t AS (SELECT seg, sum(churned) AS n1, count(*) - sum(churned) AS n0,
                         sum(CASE WHEN churned = 1 THEN avg_rank ELSE 0 END) AS pos
                  FROM r GROUP BY seg),
            f AS (SELECT {seg_type} AS seg, count(*) AS n, sum(churned) AS churned,
                         count(DISTINCT account_id) AS accounts,
                         count(DISTINCT CASE WHEN churned = 1 THEN account_id END)
                             AS churned_accounts,
                         avg(churned) AS churn_rate,
                         avg(1 - data_coverage) AS missing,
                         avg(power(churn_probability - churned, 2)) AS brier,
                         avg(churn_probability) - avg(CASE WHEN churn_probability IS NOT NULL
                                                          THEN churned END) AS gap
                  FROM _v_fair GROUP BY 1)
            SELECT f.seg, f.n, f.churned, f.accounts, f.churned_accounts, f.churn_rate,
                   f.missing, f.brier, f.gap,
                   CASE WHEN t.n1 > 0 AND t.n0 > 0
                        THEN (t.pos - t.n1 * (t.n1 + 1) / 2.0) / (t.n1 * t.n0) END AS auc
            FROM f LEFT JOIN t USING (seg) ORDER BY f.seg
            """
        ).fetchall()
        for seg, n, churned, accounts, churned_acc, rate, missing, brier, gap, auc in rows:
            where = dict(base, segment_type=seg_type, segment=str(seg))
            recs.append(_rec(f"{SEGMENT_PREFIX}account_days", n, n, **where))
            recs.append(_rec(f"{SEGMENT_PREFIX}churn_events", churned, n, **where))
            recs.append(_rec(f"{SEGMENT_PREFIX}accounts", accounts, n, **where))
            recs.append(_rec(f"{SEGMENT_PREFIX}churned_accounts", churned_acc, n, **where))
            recs.append(_rec(f"{SEGMENT_PREFIX}churn_rate", rate, n, **where))
            recs.append(_rec(f"{SEGMENT_PREFIX}auc", auc, n, **dict(where, score="health_score")))
            recs.append(_rec(f"{SEGMENT_PREFIX}missing_weight_share", missing, n, **where))
            if has_prob:
                recs.append(
                    _rec(
                        f"{SEGMENT_PREFIX}brier", brier, n, **dict(where, score="churn_probability")
                    )
                )
                recs.append(
                    _rec(
                        f"{SEGMENT_PREFIX}calibration_gap",
                        gap,
                        n,
                        **dict(where, score="churn_probability"),
                    )
                )
        for seg, tier, share, n in con.execute(
            f"""SELECT {seg_type}, coalesce(tier, 'no tier'),
                       count(*) / sum(count(*)) OVER (PARTITION BY {seg_type}), count(*)
                FROM _v_fair GROUP BY 1, 2 ORDER BY 1, 2"""
        ).fetchall():
            where = dict(base, segment_type=seg_type, segment=str(seg))
            recs.append(_rec(f"{SEGMENT_PREFIX}tier_share:{tier}", share, n, **where))
    table = segment_table(rows_frame([r for r in recs if r["window"] == FAIRNESS_WINDOW]))
    summary["segments"] = table.to_dict(orient="records")
    summary["segment_findings"] = fairness_findings(table, summary.get("auc_health_score"))


def segment_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The per-segment fairness figures, one row per (segment_type, segment), from the tidy
    validation rows (``compute_validation``'s or the stored ``scores.score_validation``)."""
    part = rows[
        (rows["window"] == FAIRNESS_WINDOW)
        & rows["segment_type"].isin(FAIRNESS_TYPES)
        & rows["metric"].str.startswith(SEGMENT_PREFIX)
    ]
    if part.empty:
        return pd.DataFrame(columns=["segment_type", "segment"])
    part = part.assign(metric=part["metric"].str.removeprefix(SEGMENT_PREFIX))
    wide = part.pivot_table(
        index=["segment_type", "segment"], columns="metric", values="value", aggfunc="first"
    ).reset_index()
    wide.columns.name = None
    order = {t: i for i, t in enumerate(FAIRNESS_TYPES)}
    wide = wide.sort_values(
        ["segment_type", "segment"], key=lambda c: c.map(order) if c.name == "segment_type" else c
    )
    tiers = [c for c in wide.columns if c.startswith("tier_share:")]
    ranked = sorted(
        tiers,
        key=lambda c: ordered_tiers([x.split(":", 1)[1] for x in tiers]).index(c.split(":", 1)[1]),
    )
    first = [
        c
        for c in (
            "segment_type",
            "segment",
            "account_days",
            "accounts",
            "churn_events",
            "churned_accounts",
            "churn_rate",
            "auc",
            "missing_weight_share",
            "brier",
            "calibration_gap",
        )
        if c in wide.columns
    ]
    return wide[first + ranked].reset_index(drop=True)


def auc_standard_error(auc: float, positives: float, negatives: float) -> float:
    """Hanley & McNeil's (1982) standard error of an AUC from ``positives`` churned and
    ``negatives`` retained units. The fairness check counts accounts, not account-days: the days
    of one account are not independent draws, so counting them would shrink the error."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (
        auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)
    ) / (positives * negatives)
    return math.sqrt(max(var, 0.0))


def fairness_findings(table: pd.DataFrame, whole_auc: float | None) -> list[str]:
    """Warnings for segments scored far worse than the whole book or on too little data.

    A segment's AUC warns when the gap is both material and beyond sampling noise: it is more
    than ``SEGMENT_AUC_GAP`` below the whole book's, even the upper end of its 95% interval
    (Hanley & McNeil, accounts as the unit) is below the whole book's, and at least
    ``MIN_SEGMENT_CHURNED`` of its accounts churned. A small segment is listed in the table, not
    judged: a few churned accounts give an AUC anywhere between 0.3 and 0.9 by chance."""
    out: list[str] = []
    for r in table.to_dict(orient="records"):
        n = r.get("account_days")
        if n is None or pd.isna(n) or n < MIN_SEGMENT_ROWS:
            continue
        name = f"{r['segment_type']}={r['segment']}"
        missing = r.get("missing_weight_share")
        if missing is not None and not pd.isna(missing) and missing > SEGMENT_MISSING_MAX:
            out.append(
                f"{name}: {missing:.0%} of the health weight had no data "
                f"(more than {SEGMENT_MISSING_MAX:.0%}; {int(n):,} account-days)"
            )
        auc = r.get("auc")
        churned, accounts = r.get("churned_accounts"), r.get("accounts")
        if (
            whole_auc is None
            or auc is None
            or pd.isna(auc)
            or churned is None
            or pd.isna(churned)
            or accounts is None
            or pd.isna(accounts)
            or churned < MIN_SEGMENT_CHURNED
            or accounts - churned < 1
        ):
            continue
        upper = auc + 1.96 * auc_standard_error(auc, churned, accounts - churned)
        if auc < whole_auc - SEGMENT_AUC_GAP and upper < whole_auc:
            out.append(
                f"{name}: health-score AUC {auc:.3f} (95% interval up to {min(upper, 1):.3f}) "
                f"vs {whole_auc:.3f} for the whole book (more than {SEGMENT_AUC_GAP} below; "
                f"{int(accounts):,} accounts, {int(churned):,} churned, {int(n):,} account-days)"
            )
    return out


def compute_validation(
    con: duckdb.DuckDBPyConnection,
    scores_table: str = ACCOUNT_SCORES,
    signals_table: str = ACCOUNT_SIGNALS,
    date_from: date | None = None,
    date_to: date | None = None,
    horizon_days: int = CHURN_HORIZON_DAYS,
    tier_names: list[str] | tuple[str, ...] | None = None,
) -> ValidationResult:
    """Validate ``scores_table`` (whole history, or ``date_from``..``date_to``) against outcomes.

    ``tier_names`` (the model's, best first) lists empty tiers in the 30-day tier shares too;
    without it only the tiers that occur are listed.

    Reads only; creates TEMP tables on ``con``. Tolerates missing columns (no
    ``churn_probability`` → its AUC, lift and Brier are None) and missing tables.
    """
    if not table_exists(con, scores_table):
        return empty_result(f"no table {scores_table}")
    outcome_counts = create_outcome_tables(con)
    avail = _prepare_scores(con, scores_table, date_from, date_to, horizon_days)
    first, last, days, account_days, accounts = con.execute(
        "SELECT min(as_of_date), max(as_of_date), count(DISTINCT as_of_date), count(*), "
        "count(DISTINCT account_id) "
        "FROM _v_scores"
    ).fetchone()
    if not account_days:
        return empty_result("no scores in the requested range")
    labeled, positives, censored, churned_accounts = con.execute(
        "SELECT count(*), coalesce(sum(churned), 0), coalesce(avg(CAST(censored AS DOUBLE)), 0), "
        "count(DISTINCT CASE WHEN churned = 1 THEN account_id END) FROM _v_labeled"
    ).fetchone()
    versions = [
        r[0]
        for r in con.execute(
            "SELECT model_version FROM _v_scores GROUP BY 1 ORDER BY min(as_of_date), model_version"
        ).fetchall()
    ]
    summary: dict[str, Any] = {
        "status": "ok",
        "date_from": str(first),
        "date_to": str(last),
        "days": int(days),
        "accounts": int(accounts),
        "account_days": int(account_days),
        "labeled_account_days": int(labeled),
        "positive_account_days": int(positives),
        "churned_accounts_in_horizon": int(churned_accounts),
        "censored_share": round(float(censored), 4),
        "horizon_days": horizon_days,
        "outcome_events": outcome_counts,
        "model_versions": versions,
        **avail,
    }
    recs: list[dict[str, Any]] = []
    recs.append(
        _rec(
            "account_days", labeled, labeled, segment_type="all", segment="all", window="90d_after"
        )
    )
    recs.append(
        _rec(
            "churn_rate",
            positives / labeled if labeled else None,
            labeled,
            segment_type="all",
            segment="all",
            window="90d_after",
        )
    )
    _discrimination(con, avail["has_churn_probability"], recs, summary)
    _renewal_cases(con, signals_table, horizon_days, recs, summary)
    _churn_by_tier(con, recs, summary)
    _calibration(con, avail["has_churn_probability"], recs, summary)
    _distribution(con, recs, summary, last)
    _recent_tier_share(con, scores_table, date_from, date_to, tier_names, recs, summary)
    _stability(con, recs, summary)
    _coverage(con, signals_table, recs, summary, last)
    _fairness(con, signals_table, avail["has_churn_probability"], recs, summary)
    revenue = revenue_view(
        con, last, tier_names=tier_names, scores_table=scores_table, signals_table=signals_table
    )
    rev_recs, summary["revenue"] = revenue_records(revenue)
    recs += rev_recs
    return ValidationResult(rows=rows_frame(recs), summary=summary)
