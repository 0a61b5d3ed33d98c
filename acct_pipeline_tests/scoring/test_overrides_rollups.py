"""Overrides (expiry, bulk CSV, explain, the falling-score alert), the hierarchy roll-up and the
revenue view, on hand-made warehouses."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from acct_pipeline import cli
from acct_pipeline.alerts.config import AlertThresholds
from acct_pipeline.alerts.detect import preview_alerts
from acct_pipeline.scoring import overrides as ov
from acct_pipeline.scoring.model import Rollup, load_model
from acct_pipeline.scoring.rollup import compute_rollups
from acct_pipeline.scoring.tiers import model_tier_names
from acct_pipeline.scoring.validation.revenue import revenue_records, revenue_view
from acct_pipeline.warehouse import (
    ACCOUNT_ROLLUPS,
    ACCOUNT_SCORES,
    ACCOUNT_SIGNALS,
    ACCOUNTS,
    CRM_COMPANIES,
    ensure_core_tables,
)

D0 = date(2026, 6, 1)
TIERS = model_tier_names()


def _base(con: duckdb.DuckDBPyConnection, accounts: list[tuple[str, str]]) -> None:
    ensure_core_tables(con)
    con.execute(
        f"CREATE OR REPLACE TABLE {ACCOUNTS} (account_id VARCHAR, name VARCHAR, "
        "owner_id VARCHAR, owner_email VARCHAR)"
    )
    for acc, name in accounts:
        con.execute(
            f"INSERT INTO {ACCOUNTS} VALUES (?, ?, 'own_1', 'csm@example.com')", [acc, name]
        )
    con.execute(
        f"""CREATE TABLE IF NOT EXISTS {ACCOUNT_SCORES} (
            account_id VARCHAR, as_of_date DATE, health_score DOUBLE, tier VARCHAR,
            previous_tier VARCHAR, score_delta_7d DOUBLE, reason_codes VARCHAR[],
            recommended_playbook VARCHAR, model_version VARCHAR, lifecycle_status VARCHAR)"""
    )
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {ACCOUNT_SIGNALS} "
        "(account_id VARCHAR, as_of_date DATE, mrr DOUBLE)"
    )


def _score(
    con: duckdb.DuckDBPyConnection,
    acc: str,
    day: date,
    score: float | None,
    tier: str | None,
    mrr: float | None = None,
) -> None:
    con.execute(
        f"INSERT INTO {ACCOUNT_SCORES} (account_id, as_of_date, health_score, tier, "
        "previous_tier, score_delta_7d, reason_codes, recommended_playbook, model_version, "
        "lifecycle_status) VALUES (?, ?, ?, ?, ?, 0, ['usage down 40%'], "
        "'call them', 't-1', 'Active')",
        [acc, day, score, tier, tier],
    )
    if mrr is not None:
        con.execute(
            f"INSERT INTO {ACCOUNT_SIGNALS} (account_id, as_of_date, mrr) VALUES (?, ?, ?)",
            [acc, day, mrr],
        )


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    c = duckdb.connect(str(tmp_path / "wh.duckdb"))
    yield c
    c.close()


def _override_cols(con: duckdb.DuckDBPyConnection, acc: str) -> dict[date, tuple]:
    rows = con.execute(
        f"SELECT as_of_date, override_tier, override_score, override_reason FROM {ACCOUNT_SCORES} "
        "WHERE account_id = ? ORDER BY 1",
        [acc],
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_an_override_applies_until_its_day_and_not_after(con: duckdb.DuckDBPyConnection) -> None:
    _base(con, [("A", "Acme"), ("B", "Beta")])
    _score(con, "A", D0, 85.0, TIERS[0])
    _score(con, "B", D0, 85.0, TIERS[0])
    until = D0 + timedelta(days=2)
    req = ov.OverrideRequest(
        "A", "renewal signed, usage dip is a migration", "csm@x.com", until, TIERS[-1]
    )
    ov.validate_request(req, D0)
    (oid,) = ov.add_overrides(con, [req], now=datetime(2026, 6, 2, 8))
    assert oid.startswith("ov_")
    # the newest scored day carries it at once; the computed values stay as they were
    assert _override_cols(con, "A")[D0][0] == TIERS[-1]
    assert con.execute(
        f"SELECT health_score, tier FROM {ACCOUNT_SCORES} WHERE account_id = 'A'"
    ).fetchone() == (85.0, TIERS[0])
    assert _override_cols(con, "B")[D0] == (None, None, None)
    for k in range(1, 5):  # the following mornings' scoring runs
        day = D0 + timedelta(days=k)
        _score(con, "A", day, 80.0, TIERS[0])
        ov.apply_overrides(con, day)
    cols = _override_cols(con, "A")
    assert [cols[D0 + timedelta(days=k)][0] for k in range(5)] == [TIERS[-1]] * 3 + [None] * 2
    assert cols[until][2] == "renewal signed, usage dip is a migration"
    # a score override's tier is the score's band; it starts on the newest scored day
    newest = D0 + timedelta(days=4)
    _score(con, "B", newest, 85.0, TIERS[0])
    later = newest + timedelta(days=5)
    ov.add_overrides(con, [ov.OverrideRequest("B", "exec sponsor", "a@x.com", later, score=10.0)])
    assert _override_cols(con, "B")[newest][:2] == (TIERS[-1], 10.0)
    assert _override_cols(con, "B")[D0] == (None, None, None)  # older days never change
    assert ov.remove_override(con, "A") == 0  # A's had expired by the newest day
    assert ov.remove_override(con, "B", "lead@x.com") == 1
    assert _override_cols(con, "B")[newest] == (None, None, None)
    with pytest.raises(ov.OverrideError, match="exactly one"):
        ov.validate_request(ov.OverrideRequest("A", "x", "a@x.com", until), D0)
    with pytest.raises(ov.OverrideError, match="not one of the model's tiers"):
        ov.validate_request(ov.OverrideRequest("A", "x", "a@x.com", until, "Purple"), D0)


def test_bulk_csv_and_the_cli(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    _base(con, [("A", "Acme"), ("B", "Beta Corp")])
    _score(con, "A", D0, 70.0, TIERS[1])
    _score(con, "B", D0, 40.0, TIERS[-1])
    con.close()
    db = tmp_path / "wh.duckdb"
    monkeypatch.setenv("ACCT_WAREHOUSE", str(db))
    monkeypatch.setenv("ACCT_READ_COPY", str(tmp_path / "read.duckdb"))
    until = (date.today() + timedelta(days=30)).isoformat()
    path = tmp_path / "overrides.csv"
    path.write_text(
        "account_id,tier,score,reason,by,until\n"
        f"A,{TIERS[0]},,QBR went well,a@x.com,{until}\n"
        f"Beta Corp,,95,new champion,b@x.com,{until}\n"
    )
    assert cli.main(["override", "--csv", str(path)]) == 0
    assert cli.main(["override", "--list"]) == 0
    out = capsys.readouterr().out
    assert f"tier {TIERS[0]}" in out and "score 95" in out and "new champion" in out
    with duckdb.connect(str(db)) as c:
        got = dict(
            c.execute(
                f"SELECT account_id, override_tier FROM {ACCOUNT_SCORES} ORDER BY 1"
            ).fetchall()
        )
        rows = ov.list_overrides(c)
    assert got == {"A": TIERS[0], "B": TIERS[0]}  # 95 is in the best band
    assert {r.account_id: r.score_at_override for r in rows} == {"A": 70.0, "B": 40.0}
    bad = tmp_path / "bad.csv"
    bad.write_text("account_id,tier,reason,by\nA,x,y,z\n")
    with pytest.raises(ov.OverrideError, match="until"):
        ov.read_csv_requests(bad)
    assert cli.main(["override", "--remove", "B", "--by", "lead@x.com"]) == 0
    with duckdb.connect(str(db)) as c:
        assert c.execute(
            f"SELECT override_tier FROM {ACCOUNT_SCORES} WHERE account_id = 'B'"
        ).fetchone() == (None,)


def test_an_overridden_account_whose_computed_score_keeps_falling_alerts(
    con: duckdb.DuckDBPyConnection,
) -> None:
    _base(con, [("A", "Acme")])
    _score(con, "A", D0, 60.0, TIERS[2])
    ov.add_overrides(
        con, [ov.OverrideRequest("A", "handled", "csm@x.com", D0 + timedelta(days=30), TIERS[0])]
    )
    fired = {}
    for k, score in enumerate([55.0, 49.0, 48.0, 39.0], start=1):
        day = D0 + timedelta(days=k)
        _score(con, "A", day, score, TIERS[2])
        ov.apply_overrides(con, day)
        alerts = preview_alerts(con, day, AlertThresholds(drop_points_7d=10.0, tier_worsened=True))
        fired[k] = [a for a in alerts if a.drop_kind == "override"]
    assert [len(fired[k]) for k in range(1, 5)] == [0, 1, 0, 1]  # at -10, again at -20
    alert = fired[2][0]
    assert alert.event_key == f"override_falling:A:{D0 + timedelta(days=2)}"
    assert (alert.score_before, alert.score_after) == (60.0, 49.0)
    assert "since the override" in alert.headline and "csm@x.com" in alert.headline


def test_explain_shows_the_override_beside_the_computed_score(scored_warehouse_copy: Path) -> None:
    from acct_pipeline.scoring.explain import explain

    with duckdb.connect(str(scored_warehouse_copy)) as c:
        acc, score = c.execute(
            f"SELECT account_id, health_score FROM {ACCOUNT_SCORES} "
            f"WHERE as_of_date = (SELECT max(as_of_date) FROM {ACCOUNT_SCORES}) "
            "AND health_score IS NOT NULL ORDER BY account_id LIMIT 1"
        ).fetchone()
        until = date.today() + timedelta(days=60)
        ov.add_overrides(
            c, [ov.OverrideRequest(acc, "on a save plan", "vp@x.com", until, TIERS[-1])]
        )
        text = explain(c, acc)
    assert f"health {score:.1f}" in text  # the computed score, as before
    assert f"EFFECTIVE tier {TIERS[-1]}" in text and "on a save plan" in text
    assert f"computed  health {score:.1f}" in text


def test_a_parent_with_three_children_rolls_up_by_both_methods(
    con: duckdb.DuckDBPyConnection,
) -> None:
    _base(con, [("P", "Parent"), ("C1", "c1"), ("C2", "c2"), ("C3", "c3"), ("X", "alone")])
    con.execute(
        f"""INSERT INTO {CRM_COMPANIES.qualified} (company_id, name, created_at, parent_account_id,
                _source, _loaded_at)
            VALUES ('P', 'Parent', now()::TIMESTAMP, NULL, 't', now()::TIMESTAMP),
                   ('C1', 'c1', now()::TIMESTAMP, 'P', 't', now()::TIMESTAMP),
                   ('C2', 'c2', now()::TIMESTAMP, 'P', 't', now()::TIMESTAMP),
                   ('C3', 'c3', now()::TIMESTAMP, 'P', 't', now()::TIMESTAMP),
                   ('X', 'alone', now()::TIMESTAMP, '', 't', now()::TIMESTAMP)"""
    )
    _score(con, "P", D0, 90.0, TIERS[0], 0.0)
    _score(con, "C1", D0, 80.0, TIERS[1], 100.0)
    _score(con, "C2", D0, 60.0, TIERS[2], 300.0)
    _score(con, "C3", D0, 30.0, TIERS[3], 600.0)
    _score(con, "X", D0, 50.0, TIERS[2], 50.0)
    model = load_model()
    assert compute_rollups(con, D0, model) == 1
    row = con.execute(
        f"SELECT method, children, rollup_score, rollup_tier, arr, worst_child_id, "
        f"parent_health_score, arr_share_by_tier FROM {ACCOUNT_ROLLUPS}"
    ).fetchone()
    assert row[:7] == ("arr_weighted_mean", 3, 44.0, TIERS[3], 12_000.0, "C3", 90.0)
    import json

    shares = json.loads(row[7])
    assert shares == {TIERS[0]: 0.0, TIERS[1]: 0.1, TIERS[2]: 0.3, TIERS[3]: 0.6}
    # onto the parent's own score row, for the sync
    assert con.execute(
        f"SELECT rollup_score, rollup_children FROM {ACCOUNT_SCORES} WHERE account_id = 'P'"
    ).fetchone() == (44.0, 3)
    worst = model.model_copy(update={"rollup": Rollup(method="worst_child")})
    assert compute_rollups(con, D0, worst) == 1  # a rerun replaces the day
    assert con.execute(
        f"SELECT count(*), max(rollup_score), max(method) FROM {ACCOUNT_ROLLUPS}"
    ).fetchone() == (1, 30.0, "worst_child")


def test_revenue_by_tier_on_a_tiny_warehouse(con: duckdb.DuckDBPyConnection) -> None:
    _base(con, [("A", "a"), ("B", "b"), ("C", "c")])
    end = D0 + timedelta(days=10)
    _score(con, "A", D0, 95.0, TIERS[0], 100.0)
    _score(con, "B", D0, 92.0, TIERS[0], 200.0)
    _score(con, "C", D0, 20.0, TIERS[-1], 50.0)
    _score(con, "A", end, 95.0, TIERS[0], 150.0)  # expanded
    _score(con, "B", end, None, None, 0.0)  # churned
    _score(con, "C", end, 20.0, TIERS[-1], 50.0)
    view = revenue_view(con)
    assert view is not None and (view.start, view.day) == (D0, end)
    t = view.by_tier()
    assert t[TIERS[0]].arr == 1800.0 and t[TIERS[-1]].arr == 600.0
    assert view.arr_at_risk == 600.0  # the model's two worst tiers
    assert t[TIERS[0]].nrr == pytest.approx(1800 / 3600)
    assert t[TIERS[0]].expansion_arr == 600.0 and t[TIERS[-1]].nrr == 1.0
    assert view.nrr == pytest.approx(2400 / 4200)
    recs, summary = revenue_records(view)
    metrics = {(r["metric"], r["segment"]) for r in recs}
    assert {("arr", TIERS[0]), ("nrr", TIERS[0]), ("expansion_arr", TIERS[0])} <= metrics
    assert ("arr_at_risk", "all") in metrics and summary["arr_at_risk"] == 600.0


def test_the_report_sections_show_overrides_and_parents(con: duckdb.DuckDBPyConnection) -> None:
    from acct_pipeline.scoring.report.actions import render_actions

    _base(con, [("P", "Parent Co"), ("C1", "c1"), ("C2", "c2")])
    con.execute(
        f"""INSERT INTO {CRM_COMPANIES.qualified} (company_id, created_at, parent_account_id,
                _source, _loaded_at)
            VALUES ('C1', now()::TIMESTAMP, 'P', 't', now()::TIMESTAMP),
                   ('C2', now()::TIMESTAMP, 'P', 't', now()::TIMESTAMP)"""
    )
    for acc, score in (("P", 70.0), ("C1", 80.0), ("C2", 40.0)):
        _score(con, acc, D0, score, TIERS[1], 100.0)
    ov.add_overrides(con, [ov.OverrideRequest("C2", "pilot in progress", "a@x.com", D0, TIERS[0])])
    compute_rollups(con, D0, load_model())
    html = render_actions(con, D0)
    assert 'id="overrides"' in html and "pilot in progress" in html and f"tier {TIERS[0]}" in html
    assert 'id="rollups"' in html and "Parent Co" in html and "60" in html
