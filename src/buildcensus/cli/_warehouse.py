"""Warehouse commands: import, quarantine, query, export, prune."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated

import typer

from buildcensus.cli._common import (
    DEFAULT_LAKE,
    DEFAULT_WAREHOUSE,
    Format,
    FormatOpt,
    LakeOpt,
    WarehouseOpt,
    emit_rows,
)
from buildcensus.lake import open_lake
from buildcensus.warehouse import open_warehouse


def register(app: typer.Typer) -> None:
    app.command("import")(import_)
    app.command("quarantine")(quarantine)
    app.command("query")(query)
    app.command("export")(export)
    app.command("prune")(prune)


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar with documents/s on stderr when it is a terminal; else nothing."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]} documents/s"),
        TimeRemainingColumn(),
    )
    tty = sys.stderr.isatty()
    console = Console(stderr=True, force_terminal=True)  # --progress on a pipe: still draw
    with Progress(*columns, console=console, transient=tty) as bar:
        task = bar.add_task("import", total=None, rate="-")

        def update(done: int, total: int) -> None:
            speed = bar.tasks[0].speed
            bar.update(task, completed=done, total=total, rate=f"{speed:,.0f}" if speed else "-")

        yield update


def import_(
    lake: LakeOpt = DEFAULT_LAKE,
    warehouse: WarehouseOpt = DEFAULT_WAREHOUSE,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Documents per committed run.", min=1)
    ] = 50_000,
    retry_quarantined: Annotated[
        bool, typer.Option("--retry-quarantined", help="Try quarantined documents again.")
    ] = False,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="Progress bar (default: on a terminal)."),
    ] = None,
) -> None:
    """Import new lake documents into the warehouse (incremental, idempotent, crash-safe)."""
    show = sys.stderr.isatty() if progress is None else progress
    wh = open_warehouse(warehouse)
    with _progress_bar(show) as bar:
        s = wh.import_lake(open_lake(lake), bar, batch_size, retry_quarantined)
    if not s.documents:
        typer.echo(f"nothing new to import ({s.skipped} documents already imported)")
        raise typer.Exit(0)
    typer.echo(
        f"imported {s.documents - len(s.quarantined)} documents ({s.builds} builds, "
        f"{s.duplicates} duplicates"
        + (f", {s.forgotten} of forgotten projects skipped" if s.forgotten else "")
        + f") in {s.seconds:.2f} s "
        f"({s.documents_per_second:,.0f} documents/s), {len(s.runs)} run(s)"
    )
    if s.quarantined:
        typer.echo(f"quarantined {len(s.quarantined)} documents (see `buildcensus quarantine`):")
        for q in s.quarantined[:20]:
            typer.echo(f"  {q.key}: {q.reason}")
        if len(s.quarantined) > 20:
            typer.echo(f"  ... and {len(s.quarantined) - 20} more")
    raise typer.Exit(1 if s.quarantined else 0)


def quarantine(
    warehouse: WarehouseOpt = DEFAULT_WAREHOUSE,
    fmt: FormatOpt = Format.table,
    lake: LakeOpt = DEFAULT_LAKE,
) -> None:
    """List the lake documents the import quarantined, with the reason."""
    rows = open_warehouse(warehouse).quarantine()
    emit_rows(rows, fmt, ["key", "reason", "run_id", "time"])


def query(
    sql: Annotated[str, typer.Argument(help="One read-only SQL SELECT over the table views.")],
    warehouse: WarehouseOpt = DEFAULT_WAREHOUSE,
    lake: LakeOpt = DEFAULT_LAKE,
    fmt: FormatOpt = Format.table,
    limit: Annotated[int, typer.Option("--limit", help="Row cap.", min=1)] = 10_000,
    timeout: Annotated[float, typer.Option("--timeout", help="Time limit in seconds.")] = 30.0,
) -> None:
    """Run read-only SQL over the warehouse views (docs/warehouse.md)."""
    from buildcensus.warehouse._query import run_query

    result = run_query(open_warehouse(warehouse), sql, limit=limit, timeout=timeout)
    emit_rows(result.rows, fmt, result.columns)
    if result.truncated:
        typer.echo(f"(stopped at the row cap of {limit} rows; use --limit)", err=True)


class ExportFormat(StrEnum):
    parquet = "parquet"
    csv = "csv"
    jsonl = "jsonl"


def export(
    out: Annotated[str, typer.Argument(help="Output directory (parquet/csv) or file (jsonl; -).")],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="Output format.")],
    since: Annotated[
        str | None, typer.Option("--since", help="First day (YYYY-MM-DD or ISO time), included.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="End day (YYYY-MM-DD or ISO time), excluded.")
    ] = None,
    lake: LakeOpt = DEFAULT_LAKE,
    warehouse: WarehouseOpt = DEFAULT_WAREHOUSE,
) -> None:
    """Bulk download: tables as Parquet/CSV, or self-contained JSON-lines records."""
    from buildcensus.warehouse._export import export_warehouse, parse_when

    n = export_warehouse(
        open_warehouse(warehouse),
        fmt.value,
        out,
        parse_when(since),
        parse_when(until),
        lake=open_lake(lake),
    )
    typer.echo(f"exported {n} builds to {out}", err=out == "-")


def prune(
    older_than: Annotated[
        str, typer.Option("--older-than", help="Age cut, e.g. 180d (days) or 26w (weeks).")
    ],
    now: Annotated[
        str | None, typer.Option("--now", help="The current time (ISO), default: now.")
    ] = None,
    lake: LakeOpt = DEFAULT_LAKE,
    warehouse: WarehouseOpt = DEFAULT_WAREHOUSE,
) -> None:
    """Remove raw documents and warehouse rows older than the cut (monthly aggregates stay)."""
    from buildcensus.warehouse._export import parse_when
    from buildcensus.warehouse._prune import parse_age, prune_all

    cut = parse_when(now, default_now=True) - parse_age(older_than)
    s = prune_all(open_lake(lake), open_warehouse(warehouse), cut)
    typer.echo(
        f"pruned before {cut.isoformat()}: {s.lake_documents} lake documents, "
        f"{s.blobs} blobs, {s.markers} dedup markers, {s.rows} warehouse rows "
        "(monthly aggregates kept)"
    )
