"""The `buildcensus` command line. Each stage registers its commands from its own module."""

from __future__ import annotations

import os
import sys

import typer

try:  # typer >= 0.20 vendors click
    from typer._click import exceptions as cx
except ImportError:  # pragma: no cover
    from click import exceptions as cx

from buildcensus import __version__
from buildcensus.errors import BuildcensusError, ConfigError

app = typer.Typer(
    name="buildcensus",
    help="Record what every documentation/CI build used, and turn the records into answers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"buildcensus {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """buildcensus: build telemetry, from collection to answers."""


def _register() -> None:
    # One line per stage; each module owns its commands.
    from buildcensus.cli import _foundation

    _foundation.register(app)
    from buildcensus.cli import _privacy

    _privacy.register(app)
    from buildcensus.cli import _config

    _config.register(app)
    from buildcensus.cli import _service

    _service.register(app)
    from buildcensus.cli import _explain

    _explain.register(app)
    from buildcensus.cli import _warehouse

    _warehouse.register(app)
    from buildcensus.cli import _collect

    _collect.register(app)
    from buildcensus.cli import _reports

    _reports.register(app)
    from buildcensus.cli import _simulate

    _simulate.register(app)


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, mapping errors to one-line messages and exit codes."""
    command = typer.main.get_command(app)
    try:
        rv = command.main(args=argv, prog_name="buildcensus", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except cx.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, cx.UsageError) else exc.exit_code)
    except ConfigError as exc:
        typer.echo(f"ConfigError: {exc}", err=True)
        sys.exit(exc.exit_code)
    except BuildcensusError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # last resort: still no traceback for the user
        if os.environ.get("BUILDCENSUS_DEBUG"):
            raise
        typer.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)
