"""Query engines for the reports: DuckDB (default, in-process) and Apache Spark (optional).

Both run the SQL the reports' builders write once (DuckDB dialect; sqlglot transpiles it for
Spark) over the same Parquet warehouse. `connect(url, engine)` returns a connection with
`execute(sql, params)` and `close()`, which `buildcensus.reports.run_report` and
`buildcensus.explain.find_regressions` take. Spark needs `pip install 'buildcensus[spark]'`
and Java.
"""

from __future__ import annotations

from typing import Any

from buildcensus.engines._transpile import literal, to_spark_sql
from buildcensus.errors import UsageError

ENGINES = ("duckdb", "spark")

__all__ = ["ENGINES", "connect", "literal", "to_spark_sql"]


def connect(url: str, engine: str = "duckdb", spark_master: str | None = None) -> Any:
    """A connection on the warehouse at `url` for `engine` (`spark_master` is Spark's only)."""
    if engine == "duckdb":
        from buildcensus.reports import connect_warehouse

        return connect_warehouse(url)
    if engine == "spark":
        from buildcensus.engines.spark import connect_spark

        return connect_spark(url, spark_master)
    raise UsageError(f"--engine: expected one of {', '.join(ENGINES)}, got {engine!r}")
