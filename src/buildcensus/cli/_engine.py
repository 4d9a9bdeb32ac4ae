"""`--engine duckdb|spark` and `--spark-master URL`, shared by every report command."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer


class Engine(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


EngineOpt = Annotated[
    Engine,
    typer.Option(
        "--engine",
        envvar="BUILDCENSUS_ENGINE",
        help="Query engine: duckdb (in-process) or spark (needs the 'spark' extra and Java).",
    ),
]
SparkMasterOpt = Annotated[
    str | None,
    typer.Option(
        "--spark-master",
        envvar="BUILDCENSUS_SPARK_MASTER",
        help="Spark master URL with --engine spark: local[N], spark://HOST:7077, yarn "
        "(default local[2]).",
        show_default=False,
    ),
]
