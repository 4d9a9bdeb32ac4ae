"""The `buildcensus` command line. Each stage registers its commands from its own module."""

from __future__ import annotations

import importlib
import os
import sys

import typer

try:  # typer >= 0.20 vendors click
    from typer._click import exceptions as cx
except ImportError:  # pragma: no cover
    from click import exceptions as cx

from buildcensus import __version__
from buildcensus.errors import BuildcensusError, ConfigError

# Command modules, in registration order; each exposes `register(app)`.
MODULES = (
    "_foundation",
    "_privacy",
    "_config",
    "_service",
    "_warehouse",
    "_web",
    "_collect",
    "_reports",
    "_explain",
    "_simulate",
)
# Commands that run inside builds load only their own module: start-up time is build time.
FAST_COMMANDS = {"collect": ("_collect",), "schema": ("_foundation",)}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"buildcensus {__version__}")
        raise typer.Exit()


def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """buildcensus: build telemetry, from collection to answers."""


def build_app(modules: tuple[str, ...] = MODULES) -> typer.Typer:
    """A Typer app with the commands of the given modules."""
    new = typer.Typer(
        name="buildcensus",
        help="Record what every documentation/CI build used, and turn the records into answers.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    new.callback()(_root)
    for name in modules:
        importlib.import_module(f"buildcensus.cli.{name}").register(new)
    return new


_full_app: typer.Typer | None = None


def get_app() -> typer.Typer:
    """The full app (built once: some modules add commands to shared sub-apps)."""
    global _full_app
    if _full_app is None:
        _full_app = build_app()
    return _full_app


def __getattr__(name: str) -> typer.Typer:
    if name == "app":
        return get_app()
    raise AttributeError(name)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, mapping errors to one-line messages and exit codes."""
    args = sys.argv[1:] if argv is None else argv
    fast = FAST_COMMANDS.get(args[0]) if args else None
    command = typer.main.get_command(build_app(fast) if fast else get_app())
    try:
        rv = command.main(args=args, prog_name="buildcensus", standalone_mode=False)
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
