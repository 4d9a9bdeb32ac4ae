"""Read-only SQL over the warehouse views, with a row cap and a time limit."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb

from buildcensus.errors import QueryError

if TYPE_CHECKING:
    from buildcensus.warehouse import Warehouse

_ALLOWED = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


@dataclass
class QueryResult:
    """Rows of a query (at most the row cap), their columns, and whether more were cut."""

    columns: list[str]
    rows: list[dict[str, Any]]
    truncated: bool
    seconds: float


def check_read_only(sql: str) -> None:
    """Accept exactly one SELECT (or EXPLAIN) statement; raise QueryError otherwise."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(str(exc).splitlines()[0]) from None
    if len(statements) != 1:
        raise QueryError(f"expected exactly one SQL statement, got {len(statements)}")
    if statements[0].type not in _ALLOWED:
        kind = statements[0].type.name
        raise QueryError(f"read-only: only SELECT queries are allowed, not {kind}")


def run_query(wh: Warehouse, sql: str, limit: int = 10_000, timeout: float = 30.0) -> QueryResult:
    """Run one read-only query in a sandboxed connection; interrupt it after `timeout` s."""
    check_read_only(sql)
    if limit < 1:
        raise QueryError("the row cap must be at least 1")
    con = wh.connect(sandbox=True)
    timer = threading.Timer(timeout, con.interrupt)
    t0 = time.perf_counter()
    timer.start()
    try:
        cur = con.execute(sql)
        columns = [d[0] for d in cur.description or []]
        rows = cur.fetchmany(limit + 1)
    except duckdb.InterruptException:
        raise QueryError(f"query stopped after the time limit of {timeout:g} s") from None
    except duckdb.Error as exc:
        if time.perf_counter() - t0 >= timeout:
            raise QueryError(f"query stopped after the time limit of {timeout:g} s") from None
        raise QueryError(str(exc).splitlines()[0]) from None
    finally:
        timer.cancel()
        con.close()
    truncated = len(rows) > limit
    out = [dict(zip(columns, r, strict=True)) for r in rows[:limit]]
    return QueryResult(columns, out, truncated, time.perf_counter() - t0)
