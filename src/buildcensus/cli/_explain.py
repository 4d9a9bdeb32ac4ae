"""`buildcensus diff` and `buildcensus report regressions`: what changed, which release broke."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer

from buildcensus.cli._common import (
    DEFAULT_LAKE,
    DEFAULT_WAREHOUSE,
    Format,
    FormatOpt,
    LakeOpt,
    WarehouseOpt,
    dumps,
    emit_rows,
)
from buildcensus.cli._engine import Engine, EngineOpt, SparkMasterOpt
from buildcensus.errors import UsageError
from buildcensus.explain import (
    COLUMNS,
    EXTRA_COLUMNS,
    RegressionQuery,
    diff_builds,
    find_regressions,
    iter_changes,
    last_good_diff,
    parse_when,
)
from buildcensus.explain._sources import require_warehouse, warehouse_connection
from buildcensus.lake import open_lake


class DiffFormat(StrEnum):
    table = "table"
    json = "json"


def register(app: typer.Typer) -> None:
    """Add `diff` to the app and `regressions` to the `report` group."""
    app.command("diff")(diff)
    report_app(app).command("regressions")(regressions)


def report_app(app: typer.Typer) -> typer.Typer:
    """The `report` sub-app the reports stage owns (or, without it, a group of our own)."""
    try:
        from buildcensus.cli._reports import report_app as owned
    except ImportError:
        owned = None
    if owned is not None:
        return owned
    for group in app.registered_groups:
        if group.name == "report" and group.typer_instance is not None:
            return group.typer_instance
    group_app = typer.Typer(help="Reports over the warehouse.", no_args_is_help=True)
    app.add_typer(group_app, name="report")
    return group_app


def diff(
    build_a: Annotated[
        str | None, typer.Argument(help="The earlier build (id or lake key).", show_default=False)
    ] = None,
    build_b: Annotated[
        str | None, typer.Argument(help="The later build (id or lake key).", show_default=False)
    ] = None,
    project: Annotated[
        str | None, typer.Option("--project", help="Project slug (with --last-good).")
    ] = None,
    version: Annotated[
        str | None,
        typer.Option("--version", help="Only this version slug (default: across versions)."),
    ] = None,
    last_good: Annotated[
        bool,
        typer.Option(
            "--last-good",
            help="Diff the project's latest failed build against the last good build before it.",
        ),
    ] = False,
    scan_lake: Annotated[
        bool,
        typer.Option(
            "--scan-lake",
            help="Find builds by scanning the lake even when the warehouse knows them.",
        ),
    ] = False,
    fmt: Annotated[DiffFormat, typer.Option("--format", help="table or json.")] = (
        DiffFormat.table
    ),
    lake: LakeOpt = DEFAULT_LAKE,
    warehouse: WarehouseOpt = DEFAULT_WAREHOUSE,
) -> None:
    """What changed between two builds: packages, config keys, Python, OS, tools, doctool."""
    if last_good and (project is None or build_a is not None):
        raise UsageError("--last-good takes --project SLUG [--version SLUG] and no build ids")
    if not last_good and (build_a is None or build_b is None or project or version):
        raise UsageError("give two builds (BUILD_A BUILD_B), or --project SLUG --last-good")
    lk = open_lake(lake)
    con = None if scan_lake else warehouse_connection(warehouse)
    try:
        if last_good:
            assert project is not None
            result = last_good_diff(lk, project, version, con)
        else:
            assert build_a is not None and build_b is not None
            result = diff_builds(lk, build_a, build_b, con)
    finally:
        if con is not None:
            con.close()
    if fmt == DiffFormat.json:
        typer.echo(dumps(result))
    else:
        _print_diff(result)


def _show(value: Any) -> str:
    if value is None:
        return "-"
    return value if isinstance(value, str) else dumps(value, indent=None)


def _print_diff(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    a, b = result["build"]["from"], result["build"]["to"]

    def who(s: dict[str, Any]) -> str:
        ok = {True: "passed", False: "failed", None: "unknown"}[s["success"]]
        return f"build {s['id']} ({s['project']}/{s['version']}, {s['start']}, {ok})"

    console = Console(width=120)
    console.print(f"from {who(a)}\n  to {who(b)}", highlight=False)
    rows = list(iter_changes(result))
    if not rows:
        console.print("no changes in packages, config, Python, OS, tools or doctool")
        return
    table = Table()
    for col in ("section", "what", "change", "from", "to"):
        table.add_column(col)
    for section, what, change, old, new in rows:
        table.add_row(section, what, change, _show(old), _show(new))
    console.print(table)


def regressions(
    since: Annotated[
        str | None,
        typer.Option("--since", help="Window start: YYYY-MM-DD, ISO time, or 7d/36h/2w ago."),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Window end (exclusive); default: no end.")
    ] = None,
    min_builds: Annotated[
        int, typer.Option("--min-builds", help="Only versions at least N builds moved to.")
    ] = 5,
    alpha: Annotated[
        float,
        typer.Option("--alpha", help="Significance level (Holm-adjusted; rows below are flagged)."),
    ] = 0.01,
    significant: Annotated[
        bool, typer.Option("--significant", help="Only rows above the significance threshold.")
    ] = False,
    limit: Annotated[int | None, typer.Option("--limit", help="At most N rows.")] = None,
    all_columns: Annotated[
        bool, typer.Option("--all-columns", help="Also p-values, failures and first-seen time.")
    ] = False,
    fmt: FormatOpt = Format.table,
    warehouse: WarehouseOpt = DEFAULT_WAREHOUSE,
    lake: LakeOpt = DEFAULT_LAKE,
    engine: EngineOpt = Engine.duckdb,
    spark_master: SparkMasterOpt = None,
) -> None:
    """Package releases after which builds that moved to them fail more than builds that stayed."""
    now = datetime.now(UTC)
    query = RegressionQuery(
        since=parse_when(since, now) if since else None,
        until=parse_when(until, now) if until else None,
        min_builds=min_builds,
        alpha=alpha,
    )
    if engine is Engine.spark:
        from buildcensus.engines.spark import connect_spark

        con = connect_spark(warehouse, spark_master)
    else:
        con = require_warehouse(warehouse, ("builds", "package_sets"))
    try:
        rows = find_regressions(con, query)
    finally:
        con.close()
    if significant:
        rows = [r for r in rows if r["significant"]]
    rows = rows[:limit] if limit is not None else rows
    columns = COLUMNS + EXTRA_COLUMNS if (all_columns or fmt == Format.json) else COLUMNS
    if fmt == Format.json:
        rows = [{k: r[k] for k in columns} for r in rows]
    emit_rows(rows, fmt, columns)
