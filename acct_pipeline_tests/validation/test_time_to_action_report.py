"""The report's "Time to action" section: the numbers of the follow-ups `acct-pipeline followup`
stored, and a pointer to that command when it never ran."""

from __future__ import annotations

import re
import statistics
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from acct_pipeline.alerts.followup import FOLLOWUPS_DDL
from acct_pipeline.scoring.model import load_model
from acct_pipeline.scoring.report import build_report

T0 = datetime(2026, 6, 1, 9, 0)
# event key -> (owner, tier index, hours to the first action or None: no action yet)
PLANTED = {
    "e1": ("ann@example.com", 0, 1.5),
    "e2": ("ann@example.com", 0, 6.0),
    "e3": ("ann@example.com", -1, 20.0),
    "e4": ("ann@example.com", -1, 200.0),  # after more than 7 days: late
    "e5": ("bob@example.com", -1, 3.0),
    "e6": ("bob@example.com", -1, None),  # never
    "e7": ("bob@example.com", 0, 48.0),
}


def _section(html: str) -> str:
    start = html.index('<section id="time-to-action">')
    return html[start : html.index("</section>", start)]


def _rows(section: str, by: str) -> dict[str, list[str]]:
    """The cells of the by-owner / by-tier table, keyed by the first cell."""
    table = section[section.index(f'data-by="by-{by}"') :]
    table = table[: table.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)[1:]  # without the header
    cells = [[c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, flags=re.S)] for r in rows]
    return {c[0]: c[1:] for c in cells}


def _expected(hours: list[float | None], days: int) -> list[str]:
    """alerts, median, p90 (linear between closest ranks) and share late, as the page shows them."""
    known = sorted(h for h in hours if h is not None)
    med = statistics.median(known)
    p90 = statistics.quantiles(known, n=10, method="inclusive")[-1] if len(known) > 1 else known[0]
    late = sum(h is None or h > days * 24 for h in hours) / len(hours)
    return [str(len(hours)), f"{med:,.1f}", f"{p90:,.1f}", f"{late:.0%}"]


def test_the_report_shows_time_to_action_from_stored_followups(
    synthetic_copy: Path, tmp_path: Path
) -> None:
    model = load_model()
    tiers = list(model.tiers.names)
    days = model.followup.no_action_days
    with duckdb.connect(str(synthetic_copy)) as con:
        before = build_report(con, tmp_path / "before").path.read_text()
        con.execute("CREATE SCHEMA IF NOT EXISTS alerts")
        con.execute(FOLLOWUPS_DDL)
        for key, (owner, tier, hours) in PLANTED.items():
            done = None if hours is None else T0 + timedelta(hours=hours)
            con.execute(
                "INSERT INTO alerts.alert_followups VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())",
                [key, f"acc_{key}", owner, tiers[tier], T0, done, "task_completed", hours],
            )
        html = build_report(con, tmp_path / "after").path.read_text()

    empty = _section(before)
    assert "No follow-ups have been read" in empty and "acct-pipeline followup" in empty
    assert "<table" not in empty

    section = _section(html)
    assert "No follow-ups have been read" not in section
    assert "7 delivered alert(s), 6 with an action so far" in section
    every = [h for _, _, h in PLANTED.values()]
    _, med, p90, late = _expected(every, days)
    assert f"median\n  <b>{med} h</b>, p90 <b>{p90} h</b>" in section
    assert f"<b>{late}</b> without an action within {days} days" in section
    for by in ("owner", "tier"):
        groups: dict[str, list[float | None]] = {}
        for owner, tier, hours in PLANTED.values():
            groups.setdefault(owner if by == "owner" else tiers[tier], []).append(hours)
        shown = _rows(section, by)
        assert shown == {g: _expected(h, days) for g, h in groups.items()}, by
    # tiers in the model's order, the owner with most alerts first
    assert list(_rows(section, "tier")) == [tiers[0], tiers[-1]]
    assert list(_rows(section, "owner")) == ["ann@example.com", "bob@example.com"]
