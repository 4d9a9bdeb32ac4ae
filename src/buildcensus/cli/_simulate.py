"""`buildcensus simulate`: a realistic synthetic build history, into the lake or NDJSON."""

from __future__ import annotations

import os
import sys
from datetime import UTC, date, datetime
from typing import Annotated

import typer

from buildcensus.cli._common import DEFAULT_LAKE, DEFAULT_WAREHOUSE, LakeOpt, WarehouseOpt, err
from buildcensus.errors import LakeError, UsageError


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)


def _day(text: str | None) -> date:
    if text is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--end must be a date like 2026-11-30, got {text!r}") from None


def simulate(
    days: Annotated[int, typer.Option("--days", help="Days of history to simulate.")],
    projects: Annotated[
        int, typer.Option("--projects", help="Active projects on the platform.")
    ] = 20_000,
    builds_per_day: Annotated[
        float | None,
        typer.Option(
            "--builds-per-day",
            help="Expected builds per day for the platform (default: 0.5 per project, "
            "i.e. 10,000 for 20,000 projects).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same history.")] = 0,
    end: Annotated[
        str | None,
        typer.Option("--end", help="Last simulated UTC day, YYYY-MM-DD (default: today)."),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option("--out", help="Write NDJSON to this file (- for stdout) instead of the lake."),
    ] = None,
    plant_regression: Annotated[
        str | None,
        typer.Option(
            "--plant-regression",
            help="PKG==VERSION: builds that install this release fail much more often.",
        ),
    ] = None,
    regression_fail_rate: Annotated[
        float,
        typer.Option(
            "--regression-fail-rate", help="Failure rate of builds on the planted release."
        ),
    ] = 0.6,
    workers: Annotated[
        int, typer.Option("--workers", help="Worker processes writing to the lake.")
    ] = min(2, os.cpu_count() or 1),
    fsync: Annotated[
        bool,
        typer.Option(
            "--fsync/--no-fsync",
            help="fsync every lake file (default: no; the file system is synced once at the end).",
        ),
    ] = False,
    lake: LakeOpt = DEFAULT_LAKE,
    warehouse: WarehouseOpt = DEFAULT_WAREHOUSE,
) -> None:
    """Generate a realistic synthetic build history (deterministic for a seed)."""
    from buildcensus.simulate import SimulateOptions, parse_regression, write_lake, write_ndjson

    opts = SimulateOptions(
        projects=projects,
        days=days,
        seed=seed,
        end=_day(end),
        builds_per_day=builds_per_day,
        plant_regression=parse_regression(plant_regression) if plant_regression else None,
        regression_fail=regression_fail_rate,
    )
    if out is not None:
        if out == "-":
            summary = write_ndjson(opts, sys.stdout.buffer)
            sys.stdout.flush()
        else:
            with open(out, "wb") as f:
                summary = write_ndjson(opts, f)
        target = "stdout" if out == "-" else out
    else:
        try:
            summary = write_lake(opts, lake, workers=max(1, workers), durable=fsync)
        except LakeError as exc:
            if "already stored with different content" not in str(exc):
                raise
            # Same seed and days, other records: this lake was written by another version of
            # the simulator (its release data or rules changed). Never overwrite: say so.
            raise LakeError(
                f"{exc}: {lake} holds a history simulated by another version of buildcensus "
                "(same seed, other records); simulate into a new --lake"
            ) from None
        target = f"{lake} ({summary.stored} stored, {summary.duplicates} duplicates)"
    err(
        f"simulated {summary.records} builds ({summary.failed} failed) of {projects} projects, "
        f"{opts.start}..{opts.end}, in {summary.seconds:.1f} s -> {target}"
    )
