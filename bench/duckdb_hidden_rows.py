"""Minimal reproduction of the DuckDB 2.0.0 bug behind the 1M "missing signals" finding.

In one transaction, ``CREATE TABLE t AS <query> LIMIT 0`` followed by an order-preserving
``INSERT`` of at least one row group (122,880 rows) commits, and ``count(*)`` counts the rows,
but every scan of the table returns nothing until the database is reopened. DuckDB 1.5.6 reads
the rows back. ``acct_pipeline.warehouse.replace_partition`` creates new tables before its
transaction for this reason (test: ``acct_pipeline_tests/foundation/test_warehouse_writes.py``).

    .venv/bin/python bench/duckdb_hidden_rows.py

Prints, for each variant, what ``count(*)`` and a scan (``sum(i)``) see; exits 1 when this
DuckDB hides the rows.
"""

from __future__ import annotations

import sys

import duckdb

CREATE_EMPTY = "CREATE TABLE t AS SELECT range AS i FROM range(1) LIMIT 0"
ORDERED_INSERT = "INSERT INTO t SELECT range FROM range({n}) ORDER BY range"
VARIANTS = {
    "empty CTAS and ordered insert in one transaction": [
        "BEGIN",
        CREATE_EMPTY,
        ORDERED_INSERT,
        "COMMIT",
    ],
    "empty CTAS committed first (the workaround)": [
        CREATE_EMPTY,
        "BEGIN",
        ORDERED_INSERT,
        "COMMIT",
    ],
    "same, 100,000 rows (less than a row group)": [
        "BEGIN",
        CREATE_EMPTY,
        ORDERED_INSERT.replace("{n}", "100000"),
        "COMMIT",
    ],
}


def main() -> int:
    n = 300_000
    hidden = False
    print(f"duckdb {duckdb.__version__}")
    for label, statements in VARIANTS.items():
        con = duckdb.connect(":memory:")
        for sql in statements:
            con.execute(sql.replace("{n}", str(n)))
        counted = con.execute("SELECT count(*) FROM t").fetchone()[0]
        scanned = con.execute("SELECT count(i), sum(i) FROM t").fetchone()
        ok = counted == scanned[0]
        hidden |= not ok
        print(f"{'ok    ' if ok else 'HIDDEN'} {label}: count(*) {counted:,}, scan {scanned}")
        con.close()
    return 1 if hidden else 0


if __name__ == "__main__":
    sys.exit(main())
