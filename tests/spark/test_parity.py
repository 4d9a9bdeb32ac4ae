"""DuckDB and Spark give identical answers: every report, a spread of parameters, same data.

The SQL comes from one definition (the reports' builders, DuckDB dialect); the Spark side runs
it transpiled by sqlglot with literal-bound parameters. Answers are compared with their Python
types, so an int that comes back as a float (or a date as a datetime) fails the test.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from buildcensus.engines.spark import SparkConnection, run_report_spark
from buildcensus.explain import RegressionQuery, find_regressions
from buildcensus.reports import make_params, run_report

from .conftest import SINCE, UNTIL

pytestmark = pytest.mark.spark

WINDOW = {"since": SINCE, "until": UNTIL}
LAST_WEEK = {"last": "7d", "now": "2026-11-30T12:00:00Z"}
SECOND_HALF = {"since": "2026-11-16T06:30:00Z", "until": UNTIL}

CASES: list[tuple[str, dict[str, Any]]] = [
    ("versions", {"ecosystem": "pip", "package": "sphinx"}),
    ("versions", {"ecosystem": "pip", "package": "Sphinx", "include_failed": True, **LAST_WEEK}),
    ("top", {"ecosystem": "pip", "limit": 0}),
    ("top", {"ecosystem": "pip", "scope": "user", "include_failed": True, **SECOND_HALF}),
    ("adoption", {"ecosystem": "pip", "package": "sphinx", "by": "week"}),
    ("adoption", {"ecosystem": "pip", "package": "sphinx", "by": "month", "include_failed": True}),
    ("extensions", {"include_failed": True}),
    ("themes", {**LAST_WEEK}),
    ("breakdown", {"by": "python"}),
    ("breakdown", {"by": "os", "include_failed": True}),
    ("breakdown", {"by": "tool:python"}),
    ("breakdown", {"by": "config:build.os", **SECOND_HALF}),
    ("config-keys", {"limit": 0}),
    ("impact", {"where": ["pip:sphinx>=7", "python>=3.11"]}),
    ("impact", {"where": ["config:build", "os=ubuntu-24.04"], "include_failed": True}),
    (
        "impact",
        {"where": ["apt:*", "tool:python<3.12", "config:build.os=ubuntu-22.04"], "limit": 5},
    ),
    ("impact", {"where": ["pip:sphinx<1"]}),
    ("build-time", {"limit": 0}),
    ("build-time", {"include_failed": True, **LAST_WEEK}),
]
#: Cases whose answer is legitimately empty on this history (still compared).
MAY_BE_EMPTY = {("impact", ("pip:sphinx<1",))}


def typed(value: Any) -> Any:
    """`value` with the Python type of every leaf made part of it (1 != 1.0 here)."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [typed(v) for v in value]
    return (type(value).__name__, value)


def _size(result: Any) -> int:
    return result["projects"] if isinstance(result, dict) else len(result)


@pytest.mark.parametrize(("name", "kw"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_same_answer_on_duckdb_and_spark(name, kw, duck, spark_wh):
    params = make_params(**kw) if {"last", "since"} & set(kw) else make_params(**WINDOW, **kw)
    expected = run_report(name, params, duck)
    got = run_report_spark(name, params, spark_wh)
    if (name, tuple(kw.get("where", ()))) not in MAY_BE_EMPTY:
        assert _size(expected) > 0, "the case should exercise some data"
    assert typed(got) == typed(expected)


def test_max_rows_cuts_the_same_leading_rows(duck, spark_wh):
    params = make_params(**WINDOW, ecosystem="pip", limit=0)
    assert run_report_spark("top", params, spark_wh, max_rows=7) == run_report(
        "top", params, duck, max_rows=7
    )


def test_regressions_same_on_both_engines(duck, spark_wh):
    query = RegressionQuery(since=datetime(2026, 11, 1), min_builds=1, alpha=0.05)
    expected = find_regressions(duck, query)
    got = find_regressions(SparkConnection(spark_wh), query)
    assert expected, "the history should have candidate releases"
    assert typed(got) == typed(expected)


def test_build_time_rounds_ties_alike(spark_wh):
    """Lengths with 3 decimals make p50 end in 5 at the 4th decimal: ties must round alike."""
    import random

    import duckdb

    rng = random.Random(11)
    from buildcensus.warehouse._keys import key_of

    rows = [
        (
            f"p{p:03d}",
            key_of(f"p{p:03d}"),
            rng.randint(1_000, 900_000) / 1000,
            datetime(2026, 11, 2, 0, b),
            True,
            2026,
            11,
        )
        for p in range(300)
        for b in range(rng.randint(2, 6))
    ]
    ddl = (
        "project STRING, project_key BIGINT, length DOUBLE, start TIMESTAMP_NTZ, "
        "success BOOLEAN, year INT, month INT"
    )
    spark_wh.createDataFrame(rows, ddl).createOrReplaceTempView("builds")
    projects = sorted({(r[0], r[1]) for r in rows})
    spark_wh.createDataFrame(
        projects, "project STRING, project_key BIGINT"
    ).createOrReplaceTempView("projects")
    con = duckdb.connect()
    con.execute(f"CREATE TABLE builds ({ddl.replace('STRING', 'VARCHAR').replace('_NTZ', '')})")
    con.executemany("INSERT INTO builds VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute("CREATE TABLE projects (project VARCHAR, project_key BIGINT)")
    con.executemany("INSERT INTO projects VALUES (?, ?)", projects)
    params = make_params(**WINDOW, limit=0)
    expected = run_report("build-time", params, con)
    by_project: dict[str, list[int]] = {}
    for project, _, length, *_ in rows:
        by_project.setdefault(project, []).append(round(length * 1000))
    mids = [sorted(v)[len(v) // 2 - 1 : len(v) // 2 + 1] for v in by_project.values()]
    ties = [m for m, v in zip(mids, by_project.values(), strict=True) if len(v) % 2 == 0]
    assert sum(1 for a, b in ties if (a + b) % 2) > 50  # p50 exactly halfway at 0.0005
    assert len(expected) == 300
    assert typed(run_report_spark("build-time", params, spark_wh)) == typed(expected)
