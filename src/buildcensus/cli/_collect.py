"""`buildcensus collect`: write the record of the build that just ran (never breaks the build)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from buildcensus.names import is_build_id, is_project_slug, is_version_slug
from buildcensus.record import TRIGGERS


def register(app: typer.Typer) -> None:
    app.command("collect")(collect)


def _slug(value: str, check, what: str) -> str:  # type: ignore[no-untyped-def]
    if not check(value):
        raise typer.BadParameter(f"invalid {what} slug: {value!r}")
    return value


def _build_id(value: str) -> int | str:
    if value.isdigit():
        return int(value)
    if not is_build_id(value):
        raise typer.BadParameter(f"invalid build id: {value!r}", param_hint="--build")
    return value


def _start(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"not an ISO 8601 time: {value!r}", param_hint="--build-start"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _steps(values: list[str]) -> list[tuple[str, float]]:
    out = []
    for value in values:
        name, sep, seconds = value.rpartition("=")
        try:
            number = float(seconds)
        except ValueError:
            number = -1.0
        if not sep or not name or number < 0 or number != number:
            raise typer.BadParameter(f"expected NAME=SECONDS, got {value!r}", param_hint="--step")
        out.append((name, number))
    return out


def collect(
    checkout: Annotated[Path, typer.Option("--checkout", help="The build's checkout folder.")],
    project: Annotated[str, typer.Option("--project", help="Project slug.")],
    version: Annotated[str, typer.Option("--version", help="Version slug.")],
    build: Annotated[str, typer.Option("--build", help="Build id (integer or token).")],
    config: Annotated[
        Path | None, typer.Option("--config", help="Config file (default: found in checkout).")
    ] = None,
    python: Annotated[
        str | None, typer.Option("--python", help="The build's interpreter (default: python).")
    ] = None,
    conda_prefix: Annotated[
        str | None, typer.Option("--conda-prefix", help="The build's conda environment prefix.")
    ] = None,
    exec_prefix: Annotated[
        str | None,
        typer.Option("--exec", help='Run every probe through a prefix, e.g. "docker exec -i C".'),
    ] = None,
    build_start: Annotated[
        str | None, typer.Option("--build-start", help="Build start, ISO 8601 (default: now).")
    ] = None,
    length: Annotated[
        float | None, typer.Option("--length", min=0, help="Build length in seconds.")
    ] = None,
    success: Annotated[
        bool | None, typer.Option("--success/--failure", help="Whether the build succeeded.")
    ] = None,
    commit: Annotated[str | None, typer.Option("--commit", help="Commit SHA built.")] = None,
    trigger: Annotated[
        str, typer.Option("--trigger", help=f"What started the build: {', '.join(TRIGGERS)}.")
    ] = "other",
    step: Annotated[
        list[str] | None, typer.Option("--step", help="A build step's time, NAME=SECONDS.")
    ] = None,
    organization: Annotated[
        str | None, typer.Option("--organization", help="Organization slug.")
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.5, help="Seconds every probe may take at most.")
    ] = 20.0,
    max_output: Annotated[
        int, typer.Option("--max-output", min=1024, help="Bytes of output a probe may print.")
    ] = 32 * 1024 * 1024,
    out: Annotated[
        str | None,
        typer.Option("--out", help="Write the record to FILE (atomically) or - for stdout."),
    ] = None,
    lake: Annotated[
        str | None, typer.Option("--lake", help="Also store the record in this lake.")
    ] = None,
    warehouse: Annotated[
        str | None, typer.Option("--warehouse", help="Accepted for symmetry; not used.")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Diagnostics (probe times, errors) on stderr.")
    ] = False,
) -> None:
    """Collect what this build used (config, Python, pip/conda/apt, OS, doc tool) as a record.

    Every probe has a timeout and an output cap; failures become `errors` entries and the
    record is still written. Exit status 0 unless the command line itself is wrong.
    """
    from buildcensus.collect import CollectOptions
    from buildcensus.collect import collect as run_collect

    if trigger not in TRIGGERS:
        raise typer.BadParameter(f"one of {', '.join(TRIGGERS)}", param_hint="--trigger")
    opts = CollectOptions(
        checkout=checkout,
        project=_slug(project, is_project_slug, "project"),
        version=_slug(version, is_version_slug, "version"),
        build_id=_build_id(build),
        config=config,
        python=python,
        conda_prefix=conda_prefix,
        exec_prefix=exec_prefix,
        build_start=_start(build_start),
        length=length,
        success=success,
        commit=commit,
        trigger=trigger,
        steps=_steps(step or []),
        organization=_slug(organization, is_project_slug, "organization") if organization else None,
        timeout=timeout,
        max_output=max_output,
    )
    result = run_collect(opts)
    _deliver(result.record, out if out or lake else "-", lake, verbose)
    if verbose:
        for line in result.log:
            typer.echo(f"collect: ran {line}", err=True)
        for e in result.record.errors:
            typer.echo(f"collect: {e.probe}: {e.message}", err=True)
        typer.echo(f"collect: {result.record.collector.seconds}s", err=True)


def _deliver(record, out: str | None, lake: str | None, verbose: bool) -> None:  # type: ignore[no-untyped-def]
    """Write to stdout/file and/or the lake; a failed write is reported only with --verbose."""
    import orjson

    from buildcensus.collect import write_atomic

    data = orjson.dumps(record.to_json_dict()) + b"\n"
    if out == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    elif out:
        try:
            write_atomic(Path(out), data)
        except OSError as exc:
            if verbose:
                typer.echo(f"collect: cannot write {out}: {exc.strerror or exc}", err=True)
    if lake:
        try:
            from buildcensus.lake import open_lake

            result = open_lake(lake).store(record)
            if verbose:
                typer.echo(f"collect: {result.status} {result.key}", err=True)
        except Exception as exc:  # the build must not fail because the lake is down
            if verbose:
                typer.echo(f"collect: cannot store in {lake}: {exc}", err=True)


def lean_main(argv: list[str] | None = None) -> None:
    """`collect` on its own (`python -m buildcensus.collect`), without every other command's
    imports (pyarrow, DuckDB, FastAPI...), for builds where start-up time counts."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    register(app)  # a single command: typer makes it the program itself
    typer.main.get_command(app).main(args=argv, prog_name="python -m buildcensus.collect")
