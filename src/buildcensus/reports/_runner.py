"""The report registry and the runner that executes a report against a DuckDB connection."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from buildcensus.errors import QueryError, WarehouseError
from buildcensus.reports import _builders as b
from buildcensus.reports._params import InList, ReportParams
from buildcensus.reports._where import describe_match, rules

Sql = tuple[str, dict[str, Any]]
Result = list[dict[str, Any]] | dict[str, Any]


@dataclass(frozen=True)
class Report:
    """A named report: its pure SQL builder, output columns and optional data-dependent steps."""

    name: str
    build: Callable[[ReportParams], Sql]
    columns: tuple[str, ...]
    summary: str
    #: Fills `params.resolved` from the warehouse before `build` (impact's specifiers).
    resolve: Callable[[ReportParams, Any], ReportParams] | None = None
    #: Turns the fetched rows into the JSON result (default: the rows as they are).
    shape: Callable[[list[dict[str, Any]], ReportParams], Result] | None = None
    #: Built on `state_counts`: its rows carry `ties_`, so it can run without the tie rescan
    #: first (`ReportParams.tie_rescan`).
    ties: bool = False


REPORTS: dict[str, Report] = {}


def register(report: Report) -> None:
    """Add (or replace) a named report, e.g. `regressions` from the explain stage."""
    REPORTS[report.name] = report


def get_report(name: str) -> Report:
    """The report called `name`; QueryError listing the known names otherwise."""
    try:
        return REPORTS[name]
    except KeyError:
        raise QueryError(f"unknown report {name!r}; known: {', '.join(sorted(REPORTS))}") from None


def _fetch(conn: Any, sql: str, params: dict[str, Any], max_rows: int | None = None) -> list[dict]:
    import duckdb

    try:
        cur = conn.execute(sql, params)
        cols = [d[0] for d in cur.description]
        raw = cur.fetchall() if max_rows is None else cur.fetchmany(max_rows)
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "does not exist" in first or "No files found" in first:
            raise WarehouseError(
                f"warehouse not readable ({first}); run `buildcensus import`"
            ) from None
        raise WarehouseError(f"report query failed: {first}") from exc
    return [dict(zip(cols, row, strict=True)) for row in raw]


def resolve_impact(params: ReportParams, conn: Any) -> ReportParams:
    """Resolve each `--where` specifier to the IN list of warehouse versions that satisfy it."""
    from buildcensus.versions import matches

    conds = b.impact_conditions(params)
    queries = b.resolve_queries(conds)
    q = b.resolve_all_sql(queries)
    found: dict[int, list[str]] = {}
    for r in _fetch(conn, *q) if q is not None else []:
        found.setdefault(r["i"], []).append(r["version"])
    resolved: list[InList | None] = []
    for i, (cond, query) in enumerate(zip(conds, queries, strict=True)):
        if query is None:
            resolved.append(None)
            continue
        candidates = found.get(i, [])
        try:
            hits = tuple(v for v in candidates if matches(rules(cond), v, cond.spec))
        except ValueError as exc:
            raise QueryError(f"--where {cond.text!r}: {exc}") from None
        resolved.append(InList(hits))
    return params.with_resolved(tuple(resolved))


def shape_impact(rows: list[dict[str, Any]], params: ReportParams) -> dict[str, Any]:
    """{"projects", "builds", "affected": [{"project", "last_build", "matched"}]}."""
    conds = b.impact_conditions(params)
    first = rows[0] if rows else {"projects": 0, "builds": 0}
    affected = [
        {
            "project": r["project"],
            "last_build": r["last_build"],
            "matched": [describe_match(c, r[f"m{i}"]) for i, c in enumerate(conds)],
        }
        for r in rows
        if r.get("project") is not None
    ]
    return {
        "projects": int(first["projects"]),
        "builds": int(first["builds"]),
        "affected": affected,
    }


def build_sql(name: str, params: ReportParams) -> Sql:
    """The (sql, params) of a report; impact needs `params.resolved` (see `resolve_impact`)."""
    return get_report(name).build(params)


def run_report(
    name: str, params: ReportParams, conn: Any, *, max_rows: int | None = None
) -> Result:
    """Run a named report on a connection holding the warehouse views.

    DuckDB's, or anything with its `execute(sql, params)` -> cursor (`description`, `fetchall`,
    `fetchmany`), e.g. `buildcensus.engines.spark.SparkConnection`: one path for every engine.
    """
    report = get_report(name)
    if report.resolve is not None:
        params = report.resolve(params, conn)
    rows = None
    if params.tie_rescan and report.ties:
        # Without the tie rescan first; every row says how many ties there were (and an empty
        # answer cannot say, so it is asked again exactly).
        rows = _fetch(conn, *report.build(replace(params, tie_rescan=False)), max_rows)
        if not rows or any(r["ties_"] for r in rows):
            rows = None
    if rows is None:
        rows = _fetch(conn, *report.build(params), max_rows)
    if report.shape is not None:
        return report.shape(rows, params)
    return [{c: r[c] for c in report.columns} for r in rows]


for _report in (
    Report(
        "versions",
        b.build_versions,
        ("version", "projects", "builds"),
        "Installed versions of one package, newest first.",
        ties=True,
    ),
    Report(
        "top",
        b.build_top,
        ("package", "projects", "builds"),
        "Most used packages of an ecosystem.",
        ties=True,
    ),
    Report(
        "adoption",
        b.build_adoption,
        ("period", "version", "projects"),
        "Projects per version of one package, per week or month.",
        ties=True,
    ),
    Report(
        "extensions",
        b.build_extensions,
        ("extension", "projects"),
        "Doctool extensions by projects.",
        ties=True,
    ),
    Report(
        "themes", b.build_themes, ("theme", "projects"), "Doctool themes by projects.", ties=True
    ),
    Report(
        "breakdown",
        b.build_breakdown,
        ("value", "projects", "builds"),
        "Projects and builds per value of a column, tool or config key.",
        ties=True,
    ),
    Report(
        "config-keys",
        b.build_config_keys,
        ("key", "projects"),
        "Config keys users set, by projects.",
        ties=True,
    ),
    Report(
        "impact",
        b.build_impact,
        ("projects", "builds", "affected"),
        "Who breaks if something is dropped: projects whose state matches every --where.",
        resolve=resolve_impact,
        shape=shape_impact,
    ),
    Report(
        "build-time",
        b.build_build_time,
        ("project", "builds", "p50", "p95", "max"),
        "Build length per project: p50, p95 and max seconds.",
    ),
):
    register(_report)


def connect_warehouse(url: str, threads: int | None = None) -> Any:
    """A DuckDB connection on the warehouse at `url` (WarehouseError when there is none)."""
    import os

    from buildcensus.warehouse import open_warehouse

    local = "://" not in url or url.startswith("file://")
    path = url[len("file://") :] if url.startswith("file://") else url
    if local and not os.path.isdir(path):
        raise WarehouseError(f"no warehouse at {url} (run `buildcensus import` first)")
    return open_warehouse(url).connect(threads=threads)
