"""The shared SQL helpers of warehouse.py: columns, tables, one transaction block."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from acct_pipeline.warehouse import (
    base_tables,
    column_types,
    table_columns,
    table_exists,
    transaction,
)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA s")
    con.execute("CREATE TABLE s.t (b INTEGER, a VARCHAR, c DATE[])")
    con.execute("CREATE VIEW s.v AS SELECT 1 AS x")
    return con


def test_column_types_in_table_order(con: duckdb.DuckDBPyConnection) -> None:
    assert column_types(con, "s.t") == {"b": "INTEGER", "a": "VARCHAR", "c": "DATE[]"}
    assert table_columns(con, "s.t") == ["b", "a", "c"]
    assert column_types(con, "s.missing") == {}


def test_columns_are_those_of_the_current_database(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    con.execute(f"ATTACH '{tmp_path / 'other.duckdb'}' AS other")
    con.execute("CREATE SCHEMA other.s")
    con.execute("CREATE TABLE other.s.t (z BIGINT)")
    assert list(column_types(con, "s.t")) == ["b", "a", "c"]
    assert base_tables(con, "other") == [("s", "t")]


def test_table_exists_and_base_tables(con: duckdb.DuckDBPyConnection) -> None:
    assert table_exists(con, "s.t") and table_exists(con, "s.v")
    assert not table_exists(con, "s.missing")
    con.execute("CREATE TABLE s.a (x INTEGER)")
    assert base_tables(con) == [("s", "a"), ("s", "t")]  # sorted, no views


def test_transaction_commits_at_the_end(con: duckdb.DuckDBPyConnection) -> None:
    with transaction(con):
        con.execute("INSERT INTO s.t (b) VALUES (1)")
    assert con.execute("SELECT count(*) FROM s.t").fetchone()[0] == 1


@pytest.mark.parametrize("error", [ValueError("boom"), KeyboardInterrupt()])
def test_transaction_rolls_back_and_reraises(
    con: duckdb.DuckDBPyConnection, error: BaseException
) -> None:
    with pytest.raises(type(error)), transaction(con):
        con.execute("INSERT INTO s.t (b) VALUES (1)")
        raise error
    assert con.execute("SELECT count(*) FROM s.t").fetchone()[0] == 0
    with transaction(con):  # no transaction left open
        con.execute("INSERT INTO s.t (b) VALUES (2)")
    assert con.execute("SELECT b FROM s.t").fetchall() == [(2,)]
