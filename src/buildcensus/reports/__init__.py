"""Named reports over the warehouse: pure SQL builders, a registry and a runner.

Each report is `build_<name>(params) -> (sql, params)`, written once in SQL that sqlglot
transpiles from DuckDB to Spark. `run_report(name, params, conn)` executes one on a DuckDB
connection whose views are the warehouse tables (docs/warehouse.md). Counting rules and the
default window are in docs/reports.md.
"""

from buildcensus.reports._builders import (
    build_adoption,
    build_breakdown,
    build_build_time,
    build_config_keys,
    build_extensions,
    build_impact,
    build_themes,
    build_top,
    build_versions,
    window_filter,
)
from buildcensus.reports._params import (
    DEFAULT_WINDOW,
    InList,
    ReportParams,
    make_params,
    parse_duration,
    parse_time,
    resolve_window,
)
from buildcensus.reports._runner import (
    REPORTS,
    Report,
    build_sql,
    connect_warehouse,
    get_report,
    register,
    resolve_impact,
    run_report,
)
from buildcensus.reports._where import Condition, parse_where

__all__ = [
    "DEFAULT_WINDOW",
    "REPORTS",
    "Condition",
    "InList",
    "Report",
    "ReportParams",
    "build_adoption",
    "build_breakdown",
    "build_build_time",
    "build_config_keys",
    "build_extensions",
    "build_impact",
    "build_sql",
    "build_themes",
    "build_top",
    "build_versions",
    "connect_warehouse",
    "get_report",
    "make_params",
    "parse_duration",
    "parse_time",
    "parse_where",
    "register",
    "resolve_impact",
    "resolve_window",
    "run_report",
    "window_filter",
]
