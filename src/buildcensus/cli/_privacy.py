"""Privacy commands: forget a project everywhere."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from buildcensus.cli._common import DEFAULT_LAKE, DEFAULT_WAREHOUSE, LakeOpt, WarehouseOpt
from buildcensus.lake import forget_project, open_lake


def register(app: typer.Typer) -> None:
    app.command("forget")(forget)


def forget(
    project: Annotated[str, typer.Option("--project", help="Slug of the project to forget.")],
    lake: LakeOpt = DEFAULT_LAKE,
    warehouse: WarehouseOpt = DEFAULT_WAREHOUSE,
) -> None:
    """Delete every raw document, orphaned blob and warehouse row of a project, for good."""
    summary = forget_project(open_lake(lake), project, datetime.now(UTC))
    rows = forget_warehouse_rows(warehouse, project)
    typer.echo(
        f"forgot {project}: {summary.documents} documents, {summary.blobs} blobs, "
        f"{summary.markers} index entries removed from the lake; {rows} warehouse rows removed"
    )


def forget_warehouse_rows(url: str, project: str) -> int:
    """Remove the project's warehouse rows (none when there is no warehouse yet)."""
    from buildcensus.warehouse import open_warehouse

    wh = open_warehouse(url)
    if wh.last_import_time() is None:
        return 0
    return wh.forget_project(project)
