"""The demo's override step (issue #21: the demo shows the override section): one override,
labelled as demo data with a reason and an expiry, entered through the `override` command, visible
in `explain` and in the rebuilt report. On the small scored warehouse, not the whole demo."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from acct_pipeline import cli
from acct_pipeline.scoring import overrides as ov
from acct_pipeline.scoring.tiers import model_tier_names
from acct_pipeline.warehouse import ACCOUNT_SCORES


def test_the_demo_override_shows_in_explain_and_the_report(
    scored_warehouse_copy: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tiers = model_tier_names()
    monkeypatch.setenv("ACCT_WAREHOUSE", str(scored_warehouse_copy))
    monkeypatch.setenv("ACCT_READ_COPY", str(tmp_path / "read.duckdb"))
    monkeypatch.setenv("ACCT_REPORTS_DIR", str(tmp_path / "reports"))
    cli._demo_override_and_report()
    out = capsys.readouterr().out
    assert "demo data: one override" in out and "report rebuilt with the override" in out

    with duckdb.connect(str(scored_warehouse_copy), read_only=True) as con:
        (row,) = ov.list_overrides(con)
        day, computed, effective = con.execute(
            f"SELECT as_of_date, tier, override_tier FROM {ACCOUNT_SCORES} "
            f"WHERE account_id = ? AND as_of_date = (SELECT max(as_of_date) FROM {ACCOUNT_SCORES})",
            [row.account_id],
        ).fetchone()
    assert row.reason == cli.DEMO_OVERRIDE_REASON and row.reason.startswith("DEMO DATA")
    assert (row.tier, computed, effective) == (tiers[-2], tiers[-1], tiers[-2])
    assert row.starts_on == day and row.expires_on > max(date.today(), day)
    assert "@" in row.created_by
    assert f"{row.override_id}: {row.account_id} tier {tiers[-2]} until {row.expires_on}" in out

    # explain reads the read copy the demo published after the override
    assert cli.main(["explain", row.account_id]) == 0
    explained = capsys.readouterr().out
    assert f"EFFECTIVE tier {tiers[-2]}" in explained and "DEMO DATA" in explained

    (report,) = (tmp_path / "reports").glob("score_report_*.html")
    html = report.read_text()
    section = html[html.index('<section id="overrides">') :]
    section = section[: section.index("</section>")]
    assert row.account_id in section and "DEMO DATA" in section
    assert f"tier {tiers[-2]}" in section and str(row.expires_on) in section

    # the demo run again: its override is still active, no second one
    assert cli.demo_override() == 0
    assert "still set" in capsys.readouterr().out
    with duckdb.connect(str(scored_warehouse_copy), read_only=True) as con:
        assert [o.override_id for o in ov.list_overrides(con)] == [row.override_id]
