"""Shared CLI options and output helpers. Only the CLI layer imports typer."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any

import typer

DEFAULT_LAKE = "./census-data/lake"
DEFAULT_WAREHOUSE = "./census-data/warehouse"


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


LakeOpt = Annotated[
    str,
    typer.Option(
        "--lake",
        envvar="BUILDCENSUS_LAKE",
        help="Lake (raw store): a directory or s3://bucket/prefix.",
        show_default=True,
    ),
]
WarehouseOpt = Annotated[
    str,
    typer.Option(
        "--warehouse",
        envvar="BUILDCENSUS_WAREHOUSE",
        help="Warehouse (Parquet tables): a directory or s3://bucket/prefix.",
        show_default=True,
    ),
]
FormatOpt = Annotated[
    Format, typer.Option("--format", help="Output format for rows.", show_default=True)
]


def lake_url(value: str | None) -> str:
    return value or os.environ.get("BUILDCENSUS_LAKE") or DEFAULT_LAKE


def json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def dumps(value: Any, indent: int | None = 2) -> str:
    return json.dumps(value, indent=indent, ensure_ascii=False, default=json_default)


def emit_rows(rows: Sequence[dict[str, Any]], fmt: Format, columns: Sequence[str] | None = None):
    """Print rows as a rich table, JSON (a list of objects) or CSV."""
    cols = list(columns) if columns is not None else (list(rows[0]) if rows else [])
    if fmt == Format.json:
        typer.echo(dumps(list(rows)))
    elif fmt == Format.csv:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: _cell(r.get(k)) for k in cols})
        sys.stdout.write(buf.getvalue())
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(show_lines=False)
        for c in cols:
            table.add_column(c)
        for r in rows:
            table.add_row(*(_cell(r.get(c)) for c in cols))
        Console(width=max(100, len(cols) * 18)).print(table)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (list, dict)):
        return json.dumps(v, default=json_default)
    return str(v)


def err(message: str) -> None:
    """One line on stderr."""
    typer.echo(message, err=True)
