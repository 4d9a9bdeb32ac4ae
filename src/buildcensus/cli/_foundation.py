"""Foundation commands: schema, store, show."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import orjson
import typer

from buildcensus.cli._common import DEFAULT_LAKE, DEFAULT_WAREHOUSE, LakeOpt, WarehouseOpt, dumps
from buildcensus.errors import BuildcensusError
from buildcensus.lake import open_lake
from buildcensus.record import parse_record, record_json_schema


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)
    app.command("store")(store)
    app.command("show")(show)


def schema() -> None:
    """Print the JSON Schema of the build record."""
    typer.echo(dumps(record_json_schema()))


def _inputs(files: list[str]) -> Iterator[tuple[str, object]]:
    """Yield (label, parsed JSON or exception) for each record in each input."""
    for name in files:
        if name == "-":
            for n, line in enumerate(sys.stdin.buffer, 1):
                if line.strip():
                    yield from _parse_one(f"-:{n}", line)
            continue
        try:
            data = Path(name).read_bytes()
        except OSError as exc:
            yield name, BuildcensusError(f"cannot read: {exc.strerror or exc}")
            continue
        stripped = data.strip()
        if stripped.startswith(b"{") and b"\n{" in stripped:  # NDJSON file
            for n, line in enumerate(data.splitlines(), 1):
                if line.strip():
                    yield from _parse_one(f"{name}:{n}", line)
            continue
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            yield name, BuildcensusError(f"malformed JSON: {exc}")
            continue
        if isinstance(value, list):
            for i, item in enumerate(value):
                yield f"{name}[{i}]", item
        else:
            yield name, value


def _parse_one(label: str, line: bytes) -> Iterator[tuple[str, object]]:
    try:
        yield label, orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        yield label, BuildcensusError(f"malformed JSON: {exc}")


def store(
    files: Annotated[
        list[str],
        typer.Argument(help="Record files (JSON, JSON array, NDJSON); - for NDJSON on stdin."),
    ],
    lake: LakeOpt = DEFAULT_LAKE,
    warehouse: WarehouseOpt = DEFAULT_WAREHOUSE,
) -> None:
    """Validate build records and store them in the lake."""
    lk = open_lake(lake)
    rejected = 0
    for label, value in _inputs(files):
        try:
            if isinstance(value, Exception):
                raise value
            result = lk.store(parse_record(value))
        except BuildcensusError as exc:
            rejected += 1
            typer.echo(f"rejected {label}: {exc}")
            continue
        typer.echo(f"{result.status} {result.key}")
    raise typer.Exit(1 if rejected else 0)


def show(
    ref: Annotated[str, typer.Argument(help="A build id or a lake key.")],
    lake: LakeOpt = DEFAULT_LAKE,
    warehouse: WarehouseOpt = DEFAULT_WAREHOUSE,
) -> None:
    """Print the full re-hydrated record of one build as JSON."""
    typer.echo(dumps(open_lake(lake).get(ref)))
