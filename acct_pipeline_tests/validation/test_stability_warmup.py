"""The stability check judges the days after the signal warm-up.

While the usage windows fill (``SIGNAL_WARMUP_DAYS`` after the first product event) the score
distribution moves because the windows grow, not because the scores are unstable: on the sample
the largest day-over-day PSI of 180 days is on the second day. Those days are stored and reported
with their own window, not judged; a history that ends inside the warm-up is judged whole and
says so.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb

from acct_pipeline.scoring.signals import SIGNAL_WARMUP_DAYS
from acct_pipeline.scoring.validation import evaluate_checks, validate_warehouse
from acct_pipeline.scoring.validation.checks import summary_from_table
from acct_pipeline.scoring.validation.result import (
    CHECK_PSI,
    PSI_WARMUP_WINDOW,
    PSI_WINDOW,
    psi_summary,
)

D0 = date(2026, 5, 1)


def _days(values: list[float], warm: int) -> list[tuple[date, float, bool]]:
    return [(D0 + timedelta(days=i), v, i < warm) for i, v in enumerate(values)]


def test_the_warm_up_is_reported_not_judged() -> None:
    s = psi_summary(_days([0.4, 0.2, 0.01, 0.03, 0.02], warm=2))
    assert (s["psi_max"], s["psi_max_day"]) == (0.03, "2026-05-04")
    assert s["psi_mean"] == 0.02
    assert s["psi_judged_from"] == "2026-05-03"
    assert (s["psi_warmup_days"], s["psi_warmup_max"], s["psi_within_warmup"]) == (2, 0.4, False)


def test_a_history_inside_the_warm_up_is_judged_whole() -> None:
    s = psi_summary(_days([0.4, 0.2], warm=2))
    assert (s["psi_max"], s["psi_judged_from"], s["psi_within_warmup"]) == (0.4, "2026-05-01", True)
    assert s["psi_warmup_days"] == 0
    assert psi_summary([])["psi_max"] is None


def test_the_message_says_what_was_left_out() -> None:
    base = {"auc_health_score": 0.8, "churn_monotonic": True, "tier_flap_share": 0.0}
    after = psi_summary(_days([0.4, 0.01, 0.02], warm=1))
    [psi] = [c for c in evaluate_checks({**base, **after}) if c.name == CHECK_PSI]
    assert psi.passed
    assert "from 2026-05-02" in psi.description and "1 day(s) before" in psi.description
    assert "0.4" in psi.description
    inside = psi_summary(_days([0.4, 0.01], warm=2))
    [psi] = [c for c in evaluate_checks({**base, **inside}) if c.name == CHECK_PSI]
    assert not psi.passed and "judged anyway" in psi.description


def test_the_demo_sized_sample_judges_after_the_first_events(scored_warehouse_copy: Path) -> None:
    """On the shared test warehouse (events from the first day) the stored PSI rows before
    first event + SIGNAL_WARMUP_DAYS carry the warm-up window, the summary read back from the
    table equals the computed one, and the judged max is the max over the later days only."""
    with duckdb.connect(str(scored_warehouse_copy)) as con:
        result = validate_warehouse(con)
        back = summary_from_table(con)
        first_event = con.execute("SELECT min(event_date) FROM ingest.product_events").fetchone()[0]
        rows = con.execute(
            'SELECT as_of_date, value, "window" FROM scores.score_validation '
            "WHERE metric = 'psi' AND value IS NOT NULL ORDER BY as_of_date"
        ).fetchall()
    warm_until = first_event + timedelta(days=SIGNAL_WARMUP_DAYS)
    assert rows and {w for _, _, w in rows} == {PSI_WARMUP_WINDOW, PSI_WINDOW}
    assert all((w == PSI_WARMUP_WINDOW) == (d < warm_until) for d, _, w in rows)
    later = [v for d, v, _ in rows if d >= warm_until]
    assert result.summary["psi_max"] == round(max(later), 4)
    for key in ("psi_max", "psi_judged_from", "psi_warmup_days", "psi_warmup_max"):
        assert back[key] == result.summary[key], key
