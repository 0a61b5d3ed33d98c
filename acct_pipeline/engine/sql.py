"""SQL written once: the pipeline's DuckDB SQL, transpiled by SQLGlot for Spark.

The signal, usage and score-history SQL stays in DuckDB's dialect (``scoring/sql/*.sql``); this
module turns a statement and its ``$name`` parameters into one Spark SQL statement:

* parameters become literals (Spark's classic and Connect sessions both run a plain string);
* ``schema.table`` becomes the temporary view ``schema__table`` the Spark engine registers over
  the lake (``acct_pipeline.engine.spark``);
* the few functions whose meaning differs are mapped to Spark's equivalent: DuckDB's 64-bit
  ``hash`` to ``xxhash64`` (Spark's ``hash`` is 32-bit), ``to_days(n)`` to
  ``make_dt_interval(n)``, ``list_extract`` (1-based) to ``element_at`` (1-based);
* DuckDB divides as DOUBLE whatever the operands; Spark divides integers and decimal literals
  as DECIMAL, so every division's operands and every non-integer literal are cast to DOUBLE.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import sqlglot
from sqlglot import exp

VIEW_SEPARATOR = "__"


def view_name(schema: str, table: str) -> str:
    """The Spark temporary view that stands for the warehouse table ``schema.table``."""
    return f"{schema}{VIEW_SEPARATOR}{table}"


def _literal(value: Any) -> exp.Expression:
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, datetime):
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP")
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot inline the non-finite number {value!r}")
        return exp.cast(exp.Literal.number(repr(value)), "DOUBLE")
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, list | tuple):
        return exp.Array(expressions=[_literal(v) for v in value])
    raise TypeError(f"cannot inline a parameter of type {type(value).__name__}")


def _inline(node: exp.Expression, params: Mapping[str, Any]) -> exp.Expression:
    if isinstance(node, exp.Placeholder | exp.Parameter):
        name = node.name
        if name not in params:
            raise KeyError(f"no value for the SQL parameter ${name}")
        return _literal(params[name])
    return node


def _unnested_list(query: exp.Expression | None) -> list[exp.Expression] | None:
    """The items of ``(SELECT unnest(<array literal>))``, else None."""
    select = query.this if isinstance(query, exp.Subquery) else query
    if (
        not isinstance(select, exp.Select)
        or len(select.expressions) != 1
        or select.args.get("from_")
    ):
        return None
    inner = select.expressions[0]
    if isinstance(inner, exp.Alias):
        inner = inner.this
    if isinstance(inner, exp.Explode):
        inner = inner.this
    elif isinstance(inner, exp.Unnest) and len(inner.expressions) == 1:
        inner = inner.expressions[0]
    else:
        return None
    while isinstance(inner, exp.Cast):
        inner = inner.this
    return list(inner.expressions) if isinstance(inner, exp.Array) else None


def _to_spark(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.In) and node.args.get("query") is not None:
        # x IN (SELECT unnest([a, b])) -> x IN (a, b): Spark prunes partitions on a plain list
        items = _unnested_list(node.args["query"])
        if items is not None:
            return exp.In(this=node.this, expressions=items)
    if (
        isinstance(node, exp.Table)
        and node.args.get("db")
        and isinstance(node.this, exp.Identifier)
    ):
        alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(node.name))
        return exp.Table(this=exp.to_identifier(view_name(node.db, node.name)), alias=alias)
    if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
        node.set("materialized", None)  # Spark has no (NOT) MATERIALIZED hint
        return node
    if type(node).__name__ == "ToDays":
        return exp.Anonymous(this="make_dt_interval", expressions=[node.this])
    if isinstance(node, exp.Anonymous):
        fn = node.name.lower()
        if fn == "hash":
            return exp.Anonymous(this="xxhash64", expressions=node.expressions)
        if fn == "list_extract":
            return exp.Anonymous(this="element_at", expressions=node.expressions)
    return node


def _as_double(tree: exp.Expression) -> None:
    """DuckDB's arithmetic in Spark: every division in DOUBLE, every decimal literal a DOUBLE."""
    for node in list(tree.walk()):
        if isinstance(node, exp.Div):
            for arg in ("this", "expression"):
                node.set(arg, exp.cast(node.args[arg], "DOUBLE", copy=False))
    for node in list(tree.walk()):
        if isinstance(node, exp.Literal) and not node.is_string and not node.is_int:
            parent = node.parent
            if not (isinstance(parent, exp.Cast) and parent.to.is_type("DOUBLE")):
                node.replace(exp.cast(node.copy(), "DOUBLE"))


def to_spark_sql(sql: str, params: Mapping[str, Any] | None = None) -> str:
    """One DuckDB statement with ``$name`` parameters as one Spark SQL statement."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    tree = tree.transform(lambda n: _inline(n, params or {}), copy=True)
    tree = tree.transform(_to_spark, copy=False)
    _as_double(tree)
    return tree.sql(dialect="spark", comments=False)
