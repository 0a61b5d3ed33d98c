"""Partition writes read back what they wrote, whatever the size of the first write."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from acct_pipeline.warehouse import connect, replace_partition

DAY = date(2026, 9, 5)
# more than one DuckDB row group (122,880 rows): the size at which an ordered insert is written
# to storage before the commit
ROWS = 130_000
SELECT_DAY = f"""
SELECT 'acct-' || lpad(CAST(range AS VARCHAR), 7, '0') AS account_id,
       CAST(? AS DATE) AS as_of_date,
       CAST(range % 97 AS DOUBLE) AS value
FROM range({ROWS})
ORDER BY account_id
"""


def test_the_first_large_write_of_a_new_table_reads_back_on_the_same_connection(
    tmp_path: Path,
) -> None:
    with connect(tmp_path / "w.duckdb") as con:
        written = replace_partition(con, "features.probe", SELECT_DAY, "as_of_date", [DAY], [DAY])
        by_day = con.execute(
            "SELECT as_of_date, count(*), sum(value) FROM features.probe GROUP BY 1"
        ).fetchall()
    assert written == ROWS
    expected_sum = sum(i % 97 for i in range(ROWS))
    assert by_day == [(DAY, ROWS, expected_sum)]


def test_a_rerun_replaces_the_day_and_keeps_the_others(tmp_path: Path) -> None:
    other = date(2026, 9, 6)
    with connect(tmp_path / "w.duckdb") as con:
        replace_partition(con, "features.probe", SELECT_DAY, "as_of_date", [DAY], [DAY])
        replace_partition(con, "features.probe", SELECT_DAY, "as_of_date", [other], [other])
        again = replace_partition(con, "features.probe", SELECT_DAY, "as_of_date", [DAY], [DAY])
        counts = con.execute(
            "SELECT as_of_date, count(*) FROM features.probe GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert again == ROWS
    assert counts == [(DAY, ROWS), (other, ROWS)]
