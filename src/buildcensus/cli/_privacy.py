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
    typer.echo(
        f"forgot {project}: {summary.documents} documents, {summary.blobs} blobs, "
        f"{summary.markers} index entries removed from the lake"
    )
