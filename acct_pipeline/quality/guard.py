"""The CRM sync guard: may the scores of a day be written to the CRM?

The blocking Dagster checks stop ``sync.crm_score_sync`` inside a Dagster run; the command-line
sync (and anything else that writes scores out) calls ``scores_partition_problems`` first and
refuses a day for which it returns anything. Both run the same expectations
(``expectations.BLOCKING_SCORE_CHECKS``), so the two paths cannot disagree.
"""

from __future__ import annotations

from datetime import date

import duckdb

from acct_pipeline.quality.expectations import BLOCKING_SCORE_CHECKS, SCORES_SUITE
from acct_pipeline.quality.validate import prepare_suite
from acct_pipeline.warehouse import table_exists


def scores_partition_problems(con: duckdb.DuckDBPyConnection, as_of: date) -> list[str]:
    """Why the scores of ``as_of`` must not be synced to the CRM; an empty list means they may.

    Runs the blocking rules of the scores suite (the same ones the blocking Dagster checks run:
    key present and unique, scores 0-100, churn probability 0-1, tier / trend allowed values,
    no NULL tier or score, column types) on that partition only, plus "the partition has rows".
    Skipped rules (columns the scoring engine does not produce) are not problems. Imports GX:
    call it once per sync, not per record.
    """
    if not table_exists(con, SCORES_SUITE.table):
        return [f"{SCORES_SUITE.table} does not exist: nothing has been scored yet"]
    n = con.execute(
        f"SELECT count(*) FROM {SCORES_SUITE.table} WHERE {SCORES_SUITE.partition_column} = ?",
        [as_of],
    ).fetchone()[0]
    if not n:
        return [f"{SCORES_SUITE.table} has no rows for {as_of}: score that day before syncing it"]
    prepared = prepare_suite(con, SCORES_SUITE, [as_of], only=set(BLOCKING_SCORE_CHECKS))
    return [o.message for o in prepared.run().values() if not o.passed]
