"""`buildcensus report <name>`: thin commands over `buildcensus.reports`."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from enum import Enum, StrEnum
from typing import Annotated, Any

import typer

from buildcensus.cli._common import (
    DEFAULT_LAKE,
    DEFAULT_WAREHOUSE,
    Format,
    FormatOpt,
    LakeOpt,
    WarehouseOpt,
    dumps,
)
from buildcensus.cli._common import emit_rows as _emit_rows
from buildcensus.cli._engine import Engine, EngineOpt, SparkMasterOpt
from buildcensus.reports import REPORTS, connect_warehouse, make_params, run_report

report_app = typer.Typer(
    help="Named reports over the warehouse (counting rules: docs/reports.md).",
    no_args_is_help=True,
)


class Ecosystem(StrEnum):
    pip = "pip"
    conda = "conda"
    apt = "apt"


class Scope(StrEnum):
    all = "all"
    top_level = "top_level"
    user = "user"


class Period(StrEnum):
    week = "week"
    month = "month"


class Kind(StrEnum):
    extension = "extension"
    plugin = "plugin"
    markdown_extension = "markdown_extension"


Since = Annotated[
    str | None,
    typer.Option(
        "--since", help="Window start, inclusive (UTC date or ISO time).", show_default=False
    ),
]
Until = Annotated[
    str | None,
    typer.Option("--until", help="Window end, exclusive (default: now).", show_default=False),
]
Last = Annotated[
    str | None,
    typer.Option(
        "--last",
        help="Window length before --until/now: 90d, 12w, 36h (default 90d).",
        show_default=False,
    ),
]
Now = Annotated[
    str | None,
    typer.Option("--now", help="Pin 'now' (ISO time) for reproducible runs.", show_default=False),
]
IncludeFailed = Annotated[
    bool, typer.Option("--include-failed", help="Count failed builds; state = latest build.")
]
EcoReq = Annotated[Ecosystem, typer.Option("--ecosystem", help="Package ecosystem.")]
Package = Annotated[str, typer.Option("--package", help="Package name (normalized for you).")]
ScopeOpt = Annotated[
    Scope,
    typer.Option("--scope", help="Which package list: all installed, top_level or user-requested."),
]
Limit = Annotated[
    int | None, typer.Option("--limit", help="At most N rows (0: no limit).", show_default=False)
]


#: The options every report takes after its own: window, output, warehouse and engine.
COMMON_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("since", Since, None),
    ("until", Until, None),
    ("last", Last, None),
    ("now", Now, None),
    ("include_failed", IncludeFailed, False),
    ("warehouse", WarehouseOpt, DEFAULT_WAREHOUSE),
    ("lake", LakeOpt, DEFAULT_LAKE),  # accepted so scripts can pass both (reports read no lake)
    ("fmt", FormatOpt, Format.table),
    ("engine", EngineOpt, Engine.duckdb),
    ("spark_master", SparkMasterOpt, None),
)


def report_command(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Declare `buildcensus report <name>` by a function whose signature is the report's own
    options (and whose docstring is its help): the command takes those, then COMMON_OPTIONS,
    and runs the named report with all of them. typer reads the command's `__signature__`.
    """

    def declare(fn: Callable[..., None]) -> Callable[..., None]:
        own = inspect.signature(fn, eval_str=True)
        common = [
            inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d, annotation=a)
            for n, a, d in COMMON_OPTIONS
        ]

        def command(**options: Any) -> None:
            _run(name, **options)

        command.__signature__ = own.replace(  # type: ignore[attr-defined]
            parameters=[*own.parameters.values(), *common]
        )
        command.__name__ = fn.__name__
        command.__doc__ = fn.__doc__
        report_app.command(name)(command)
        return command

    return declare


def register(app: typer.Typer) -> None:
    """Add the `report` group (other stages add their reports to `report_app`)."""
    app.add_typer(report_app, name="report")


def _run(
    name: str,
    warehouse: str,
    fmt: Format,
    engine: Engine = Engine.duckdb,
    spark_master: str | None = None,
    lake: str | None = None,
    **options: Any,
) -> None:
    """Run a report with a command's own parameters (`**locals()`): choices become values."""
    del lake  # accepted by every data command; reports read only the warehouse
    params = make_params(**{k: v.value if isinstance(v, Enum) else v for k, v in options.items()})
    if engine is Engine.spark:
        from buildcensus.engines.spark import connect_spark

        con = connect_spark(warehouse, spark_master)
    else:
        con = connect_warehouse(warehouse)
    try:
        result = run_report(name, params, con)
    finally:
        con.close()
    if isinstance(result, dict):  # impact
        if fmt == Format.json:
            typer.echo(dumps(result))
            return
        rows = [{**a, "matched": ", ".join(a["matched"])} for a in result["affected"]]
        if fmt == Format.table:
            typer.echo(f"{result['projects']} projects, {result['builds']} builds")
        _emit_rows(rows, fmt, ("project", "last_build", "matched"))
        return
    _emit_rows(result, fmt, REPORTS[name].columns)


@report_command("versions")
def versions(
    ecosystem: EcoReq,
    package: Package,
    scope: ScopeOpt = Scope.all,
) -> None:
    """Installed versions of one package, newest first: projects and builds per version."""


@report_command("top")
def top(
    ecosystem: EcoReq,
    scope: ScopeOpt = Scope.all,
    limit: Limit = None,
) -> None:
    """Most used packages of an ecosystem (normalized names; default limit 50)."""


@report_command("adoption")
def adoption(
    ecosystem: EcoReq,
    package: Package,
    by: Annotated[Period, typer.Option("--by", help="Period: week (from Monday) or month.")] = (
        Period.month
    ),
    scope: ScopeOpt = Scope.all,
) -> None:
    """How fast releases are taken up: projects per version in each week or month."""


@report_command("extensions")
def extensions(
    kind: Annotated[
        Kind, typer.Option("--kind", help="Sphinx extension, MkDocs plugin or markdown_extension.")
    ] = Kind.extension,
    limit: Limit = None,
) -> None:
    """Doctool extensions by projects."""


@report_command("themes")
def themes(
    limit: Limit = None,
) -> None:
    """Doctool themes by projects."""


@report_command("breakdown")
def breakdown(
    by: Annotated[
        str,
        typer.Option(
            "--by",
            help="python|os|trigger|doctool|config_version|"
            "theme|builder|tool:NAME|config:DOTTED.KEY",
        ),
    ],
    limit: Limit = None,
) -> None:
    """Projects and builds per value of a build column, a build tool or a config key."""


@report_command("config-keys")
def config_keys(
    limit: Limit = None,
) -> None:
    """Config keys users really set (dotted paths), by projects."""


@report_command("impact")
def impact(
    where: Annotated[
        list[str],
        typer.Option(
            "--where",
            help="Condition, repeatable (AND): "
            "pip:sphinx<2, python<3.8, apt:NAME, conda:*, tool:NAME>=1, "
            "config:KEY[=VALUE], os=VALUE.",
        ),
    ],
    scope: ScopeOpt = Scope.all,
    limit: Limit = None,
) -> None:
    """Who breaks if we drop something: projects whose latest build matches every --where."""


@report_command("build-time")
def build_time(
    limit: Limit = None,
) -> None:
    """Build length per project (seconds): p50, p95, max; slowest p95 first (default limit 50)."""
