"""Service commands: serve (the HTTP API), token (create/list/revoke), submit (the client)."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from buildcensus.cli._common import DEFAULT_LAKE, DEFAULT_WAREHOUSE, LakeOpt, WarehouseOpt, err


class Scope(StrEnum):
    read = "read"
    write = "write"


TokensOpt = Annotated[
    Path,
    typer.Option("--tokens", envvar="BUILDCENSUS_TOKENS", help="File of token hashes (JSON)."),
]

token_app = typer.Typer(
    help="Manage API tokens (only their hashes are stored).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("submit")(submit)
    token_app.command("create")(token_create)
    token_app.command("list")(token_list)
    token_app.command("revoke")(token_revoke)
    app.add_typer(token_app, name="token")


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    lake: LakeOpt = DEFAULT_LAKE,
    warehouse: WarehouseOpt = DEFAULT_WAREHOUSE,
    tokens: Annotated[
        Path | None,
        typer.Option(
            "--tokens", envvar="BUILDCENSUS_TOKENS", help="File of token hashes; none: all 401."
        ),
    ] = None,
    exclude_projects: Annotated[
        Path | None,
        typer.Option(help="Opted-out project slugs, one per line: their posts get 422."),
    ] = None,
    public: Annotated[bool, typer.Option(help="Public mode: aggregates only, no token.")] = False,
    min_projects: Annotated[
        int, typer.Option(help="Public mode: hide values used by fewer projects.")
    ] = 10,
    max_body_bytes: Annotated[int, typer.Option(help="Largest single-record body.")] = 8 << 20,
    max_batch: Annotated[int, typer.Option(help="Most records per batch request.")] = 1000,
    max_batch_bytes: Annotated[int, typer.Option(help="Largest batch body.")] = 64 << 20,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes (local lake only; each has its own /metrics counters).",
        ),
    ] = 1,
    writer_process: Annotated[
        bool,
        typer.Option(
            help="Local lake: each server process writes records through a writer process "
            "(file-system work beside the event loop); off: in the server process."
        ),
    ] = True,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Serve the ingest API (and the reports API and dashboard when installed)."""
    import uvicorn

    from buildcensus.errors import UsageError
    from buildcensus.lake.locks import lock_file_for
    from buildcensus.service import Limits, ServiceSettings, create_app
    from buildcensus.service.app import SETTINGS_ENV, settings_to_env, tune_gc

    if tokens is None:
        err("warning: no --tokens file: every protected route answers 401")
    settings = ServiceSettings(
        lake_url=lake,
        warehouse_url=warehouse,
        tokens_file=tokens,
        exclude_projects_file=exclude_projects,
        limits=Limits(
            max_body_bytes=max_body_bytes, max_batch=max_batch, max_batch_bytes=max_batch_bytes
        ),
        public=public,
        min_projects=min_projects,
        writer_process=writer_process,
    )
    app = create_app(settings)  # also checks the settings before any worker starts
    if workers == 1:
        tune_gc()
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=access_log)
        return
    if lock_file_for(app.state.ingestor.lake) is None:
        raise UsageError("--workers above 1 needs a local lake directory")
    del app
    os.environ[SETTINGS_ENV] = settings_to_env(settings)
    uvicorn.run(
        "buildcensus.service.app:app_from_env",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level=log_level,
        access_log=access_log,
    )


def token_create(
    name: Annotated[str, typer.Argument(help="Who or what uses the token, e.g. builders-eu.")],
    tokens: TokensOpt,
    scope: Annotated[
        list[Scope], typer.Option(help="write: post records; read: reports and raw data.")
    ],
) -> None:
    """Create a token, print it once on stdout, and store only its hash in the tokens file."""
    from buildcensus.service.auth import create_token

    typer.echo(create_token(tokens, name, [s.value for s in scope]))


def token_list(tokens: TokensOpt) -> None:
    """List token names, scopes and creation times (never the tokens)."""
    from buildcensus.service.auth import list_tokens

    for t in list_tokens(tokens):
        typer.echo(f"{t['name']}\t{','.join(t['scopes'])}\t{t['created']}")


def token_revoke(
    name: Annotated[str, typer.Argument(help="Name of the token to revoke.")],
    tokens: TokensOpt,
) -> None:
    """Remove a token; the running service stops accepting it at once."""
    from buildcensus.errors import UsageError
    from buildcensus.service.auth import revoke_token

    if not revoke_token(tokens, name):
        raise UsageError(f"no token named {name!r} in {tokens}")
    typer.echo(f"revoked {name}")


def submit(
    file: Annotated[str, typer.Argument(help="Records: JSON, JSON array or NDJSON; - for stdin.")],
    url: Annotated[str, typer.Option(envvar="BUILDCENSUS_URL", help="Service root URL.")],
    token: Annotated[str, typer.Option(envvar="BUILDCENSUS_TOKEN", help="A write token.")],
    batch_size: Annotated[int, typer.Option(help="Records per request.")] = 100,
    attempts: Annotated[int, typer.Option(help="Tries per request before giving up.")] = 8,
    timeout: Annotated[float, typer.Option(help="Seconds per request.")] = 60.0,
) -> None:
    """Post records to the service, retrying with backoff; exit 1 if any was rejected."""
    from buildcensus.errors import UsageError
    from buildcensus.submit import Submitter, read_records

    try:
        stream = sys.stdin.buffer if file == "-" else open(file, "rb")  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror or exc}") from None
    with (
        stream,
        Submitter(
            url, token, batch_size=batch_size, max_attempts=attempts, timeout=timeout
        ) as client,
    ):
        items = read_records(stream, file)
        rejected = 0
        for result in client.submit(items):
            rejected += result.status == "rejected"
            typer.echo(result.line())
    raise typer.Exit(1 if rejected else 0)
