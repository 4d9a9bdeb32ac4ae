"""DuckDB-dialect report SQL with named `$parameters` -> one Spark SQL statement (pure).

The reports' builders write their SQL once, in DuckDB's dialect; sqlglot transpiles it. The
parameters are bound while the statement is still a syntax tree: each `$name` placeholder is
replaced by a literal *expression* (string, number, boolean, NULL, typed timestamp/date), and
sqlglot's Spark generator renders and escapes it. No value is ever pasted into SQL text.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError

from buildcensus.errors import QueryError


def literal(value: Any) -> exp.Expression:
    """The SQL literal expression of one parameter value (types as DuckDB would bind them)."""
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, int):
        return exp.convert(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise QueryError(f"parameter value {value!r} has no SQL literal")
        # A plain `0.5` is a DECIMAL in Spark; DuckDB binds a Python float as DOUBLE.
        return exp.cast(exp.Literal.number(repr(value)), exp.DataType.build("DOUBLE"))
    if isinstance(value, Decimal):
        return exp.Literal.number(str(value))
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise QueryError("timestamps must be naive UTC (the warehouse has no zones)")
        text = value.isoformat(sep=" ", timespec="microseconds")
        # Warehouse times are TIMESTAMP without zone: compare them with the same type.
        return exp.cast(exp.Literal.string(text), exp.DataType.build("TIMESTAMPNTZ"))
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("DATE"))
    raise QueryError(f"unsupported parameter type {type(value).__name__} for the Spark engine")


@lru_cache(maxsize=256)
def _parse(sql: str) -> exp.Expression:
    try:
        return sqlglot.parse_one(sql, read="duckdb")
    except SqlglotError as exc:
        raise QueryError(f"cannot parse report SQL: {str(exc).splitlines()[0]}") from None


def to_spark_sql(sql: str, params: dict[str, Any] | None = None) -> str:
    """Transpile DuckDB SQL to Spark SQL with every `$name` bound to `params[name]`."""
    values = params or {}
    missing: list[str] = []

    def bind(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.name:
            if node.name not in values:
                missing.append(node.name)
                return node
            return literal(values[node.name])
        return node

    tree = _parse(sql).copy().transform(bind)
    if missing:
        raise QueryError(f"no value for SQL parameter(s): {', '.join(sorted(set(missing)))}")
    if any(True for _ in tree.find_all(exp.Placeholder)):
        raise QueryError("positional SQL parameters are not supported; use $name")
    try:
        return tree.sql(dialect="spark", unsupported_level=ErrorLevel.RAISE)
    except SqlglotError as exc:
        raise QueryError(f"cannot transpile report SQL to Spark: {exc}") from None
