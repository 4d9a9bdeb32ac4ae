"""`buildcensus config resolve`: the config file as written and the final config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from buildcensus.cli._common import dumps

config_app = typer.Typer(
    help="Read build config files (.readthedocs.yaml) as the platform does.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")


@config_app.command("resolve")
def resolve(
    path: Annotated[Path, typer.Argument(help="A config file or a checkout directory.")],
    checkout: Annotated[
        Path | None,
        typer.Option("--checkout", help="The checkout root (PATH is then a custom config path)."),
    ] = None,
    platform: Annotated[
        Path | None,
        typer.Option("--platform", help="Platform profile YAML (OS images, tool versions)."),
    ] = None,
    brownout: Annotated[
        bool,
        typer.Option(
            "--brownout/--no-brownout",
            help="Require sphinx.configuration / mkdocs.configuration (the brownout rule).",
        ),
    ] = False,
) -> None:
    """Print the user config, raw text, final config, keys set and warnings as JSON."""
    from buildcensus.config import resolve_config

    result = resolve_config(path, checkout=checkout, platform=platform, brownout=brownout)
    typer.echo(dumps(result.to_dict()))
