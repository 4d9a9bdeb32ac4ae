"""`buildcensus publish`: public package statistics as static JSON files."""

from __future__ import annotations

from typing import Annotated

import typer

from buildcensus.cli._common import DEFAULT_LAKE, DEFAULT_WAREHOUSE, LakeOpt, WarehouseOpt


def register(app: typer.Typer) -> None:
    app.command("publish")(publish)


def publish(
    out: Annotated[str, typer.Option("--out", help="Directory to write the JSON files into.")],
    warehouse: WarehouseOpt = DEFAULT_WAREHOUSE,
    lake: LakeOpt = DEFAULT_LAKE,
    min_projects: Annotated[
        int,
        typer.Option("--min-projects", help="Publish only values used by at least K projects."),
    ] = 10,
    now: Annotated[
        str | None,
        typer.Option("--now", help="End of the windows (ISO time; default: the current time)."),
    ] = None,
) -> None:
    """Write public package statistics (index.json, ECOSYSTEM/PACKAGE.json) under --out.

    Per package: projects and builds per version over the last 30/90/365 days and the monthly
    trend; values used by fewer than --min-projects projects are left out. --lake is accepted
    for symmetry with the other commands; only the warehouse is read.
    """
    from buildcensus.publish import publish as run
    from buildcensus.reports import parse_time

    when = parse_time(now, "--now") if now is not None else None
    summary = run(warehouse, out, min_projects=min_projects, now=when)
    typer.echo(f"published {summary.packages} packages ({summary.files} files) to {summary.out}")
    if summary.removed:
        typer.echo(f"removed {len(summary.removed)} package files no longer published")
