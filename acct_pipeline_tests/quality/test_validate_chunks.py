"""A long range is validated one chunk at a time: same outcomes, one chunk in memory, no litter."""

from __future__ import annotations

import weakref
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from acct_pipeline.quality import validate
from acct_pipeline.quality.expectations import RAW_SUITES
from acct_pipeline.quality.validate import SpilledChunk, prepare_suite, validate_suite
from acct_pipeline.warehouse import connect, ensure_core_tables

DAYS = [date(2026, 6, 1) + timedelta(days=i) for i in range(6)]
NOW = datetime(2026, 6, 30)


@pytest.fixture
def con(tmp_path: Path):
    with connect(tmp_path / "w.duckdb") as c:
        ensure_core_tables(c)
        # 40 good events a day, plus planted faults on different days (so in different chunks)
        c.execute(
            """
            INSERT INTO ingest.product_events
            SELECT 'e-' || d.day || '-' || i, 'login',
                   d.day + INTERVAL 9 HOUR + i * INTERVAL 1 MINUTE, 'u' || (i % 7), 'g' || (i % 3),
                   NULL, d.day, 'files', now()::TIMESTAMP
            FROM (SELECT unnest(?::DATE[]) AS day) d, range(40) t(i)
            """,
            [DAYS],
        )
        faults = [
            ("late", DAYS[1], "2026-06-03 10:00:00"),  # filed under day 2, stamped day 3
            ("future", DAYS[3], "2026-07-15 10:00:00"),  # after NOW
            ("late2", DAYS[5], "2026-06-08 01:00:00"),
        ]
        for event_id, day, occurred in faults:
            c.execute(
                "INSERT INTO ingest.product_events VALUES (?, 'login', CAST(? AS TIMESTAMP), "
                "'u1', 'g1', NULL, ?, 'files', now()::TIMESTAMP)",
                [event_id, occurred, day],
            )
        yield c


def _comparable(outcomes: dict) -> dict:
    return {k: (o.passed, o.message, o.metadata) for k, o in outcomes.items()}


def test_several_chunks_give_the_outcomes_of_one(con, monkeypatch) -> None:
    suite = RAW_SUITES["product_events"]
    monkeypatch.setattr(validate, "ROW_BUDGET", 10_000_000)
    whole = validate_suite(con, suite, DAYS, now=NOW)
    monkeypatch.setattr(validate, "ROW_BUDGET", 60)  # a chunk per day or so
    prepared = prepare_suite(con, suite, DAYS, now=NOW)
    spilled = prepared.frames["rows"]
    assert len(spilled) >= 5 and all(isinstance(s, SpilledChunk) for s in spilled)
    assert prepared.spill_dir is not None and prepared.spill_dir.exists()
    chunked = prepared.run()

    assert _comparable(chunked) == _comparable(whole)
    failed = {k for k, o in chunked.items() if not o.passed}
    assert failed  # the planted faults are found across chunks, not lost between them
    assert not prepared.spill_dir.exists()  # removed when run() ended


def test_run_holds_one_chunk_at_a_time(con, monkeypatch) -> None:
    monkeypatch.setattr(validate, "ROW_BUDGET", 60)
    alive: list[int] = []
    loaded: list[pd.DataFrame] = []
    real = validate.load_chunk

    def counting(chunk: SpilledChunk) -> pd.DataFrame:
        # count the frames of earlier chunks still alive when this one is loaded
        frame = real(chunk)
        refs.append(weakref.ref(frame))
        alive.append(sum(r() is not None for r in refs))
        loaded.append(len(frame))
        return frame

    refs: list = []
    monkeypatch.setattr(validate, "load_chunk", counting)
    validate_suite(con, RAW_SUITES["product_events"], DAYS, now=NOW)
    assert len(loaded) >= 5 and sum(loaded) == 6 * 40 + 3
    assert max(alive) == 1, alive  # each chunk was freed before the next was read


def test_close_without_run_removes_the_spilled_chunks(con, monkeypatch) -> None:
    monkeypatch.setattr(validate, "ROW_BUDGET", 60)
    with prepare_suite(con, RAW_SUITES["product_events"], DAYS, now=NOW) as prepared:
        folder = prepared.spill_dir
        assert folder is not None and any(folder.iterdir())
    assert not folder.exists()
    with pytest.raises(RuntimeError, match="prepare the suite again"):
        prepared.run()
