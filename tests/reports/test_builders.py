"""The pure parts: window parsing, --where parsing and SQL builders, as tables of cases."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import sqlglot

from buildcensus.errors import QueryError
from buildcensus.reports import (
    DEFAULT_WINDOW,
    REPORTS,
    InList,
    build_sql,
    make_params,
    parse_time,
    parse_where,
    resolve_window,
)

NOW = datetime(2026, 12, 4, 12, 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-01", datetime(2026, 11, 1)),
        ("2026-11-01T10:00:00Z", datetime(2026, 11, 1, 10)),
        ("2026-11-01T10:00:00+02:00", datetime(2026, 11, 1, 8)),
        ("2026-11-01T10:00:00", datetime(2026, 11, 1, 10)),
        ("2026-11-01 23:30", datetime(2026, 11, 1, 23, 30)),
    ],
)
def test_parse_time(text, expected):
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({}, (NOW - DEFAULT_WINDOW, NOW)),
        ({"last": "7d"}, (NOW - timedelta(days=7), NOW)),
        ({"last": "2w"}, (NOW - timedelta(weeks=2), NOW)),
        ({"last": "36h"}, (NOW - timedelta(hours=36), NOW)),
        ({"since": "2026-11-01"}, (datetime(2026, 11, 1), NOW)),
        (
            {"since": "2026-11-01", "until": "2026-11-02"},
            (datetime(2026, 11, 1), datetime(2026, 11, 2)),
        ),
        ({"until": "2026-11-02", "last": "1d"}, (datetime(2026, 11, 1), datetime(2026, 11, 2))),
        ({"until": "2026-11-02"}, (datetime(2026, 11, 2) - DEFAULT_WINDOW, datetime(2026, 11, 2))),
    ],
)
def test_resolve_window(kw, expected):
    assert resolve_window(now=NOW, **kw) == expected
    assert resolve_window(now="2026-12-04T12:00:00Z", **kw) == expected


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"last": "90"}, "--last: expected a positive duration like 90d"),
        ({"last": "0d"}, "--last: expected a positive duration"),
        ({"last": "3d", "since": "2026-11-01"}, "--last and --since cannot be used together"),
        ({"since": "2026-12-05"}, "empty window: since 2026-12-05T00:00:00 is not before"),
        ({"since": "yesterday"}, "--since: not a date or ISO time: 'yesterday'"),
    ],
)
def test_resolve_window_errors(kw, message):
    with pytest.raises(QueryError) as exc:
        resolve_window(now=NOW, **kw)
    assert str(exc.value).startswith(message)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"ecosystem": "npm"}, "--ecosystem: expected one of pip, conda, apt, got 'npm'"),
        ({"scope": "some"}, "--scope: expected one of all, top_level, user, got 'some'"),
        ({"limit": -1}, "--limit must be >= 0 (0 means no limit)"),
    ],
)
def test_make_params_errors(kw, message):
    with pytest.raises(QueryError) as exc:
        make_params(now=NOW, **kw)
    assert str(exc.value) == message


def test_make_params_normalizes_package():
    assert make_params(now=NOW, ecosystem="pip", package="Sphinx_RTD.Theme").package == (
        "sphinx-rtd-theme"
    )


@pytest.mark.parametrize(
    ("text", "kind", "ecosystem", "name", "spec", "value"),
    [
        ("pip:sphinx<2", "package", "pip", "sphinx", "<2", None),
        ("pip:Sphinx_RTD.theme>=1,<2", "package", "pip", "sphinx-rtd-theme", ">=1,<2", None),
        ("apt:libgraphviz-dev", "package", "apt", "libgraphviz-dev", "", None),
        ("apt:libstdc++6>=10", "package", "apt", "libstdc++6", ">=10", None),
        ("conda:numpy 1.8.*", "package", "conda", "numpy", "1.8.*", None),
        ("conda:*", "any_package", "conda", None, "", None),
        ("python<3.8", "python", "python", "python", "<3.8", None),
        ("python=3.7.*", "python", "python", "python", "==3.7.*", None),
        ("tool:NodeJS>=18", "tool", "tool", "nodejs", ">=18", None),
        ("config:build.os=ubuntu-20.04", "config_value", None, "build.os", "", "ubuntu-20.04"),
        ("config:python.system_packages", "config_key", None, "python.system_packages", "", None),
        ("os=ubuntu-20.04", "column", None, "os", "", "ubuntu-20.04"),
        ("doctool=mkdocs", "column", None, "doctool", "", "mkdocs"),
    ],
)
def test_parse_where(text, kind, ecosystem, name, spec, value):
    c = parse_where(text)
    assert (c.kind, c.ecosystem, c.name, c.spec, c.value) == (kind, ecosystem, name, spec, value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pip:sphinx<<2", "--where 'pip:sphinx<<2': invalid version specifier: '<<2'"),
        ("conda:*>1", "--where 'conda:*>1': '*' takes no version specifier"),
        ("npm:left-pad", "--where 'npm:left-pad': expected ECOSYSTEM:PACKAGE[SPEC]"),
        ("os;drop table builds", "--where 'os;drop table builds': expected ECOSYSTEM:PACKAGE"),
    ],
)
def test_parse_where_errors(text, message):
    with pytest.raises(QueryError) as exc:
        parse_where(text)
    assert str(exc.value).startswith(message)


CASES = [
    ("versions", {"ecosystem": "pip", "package": "sphinx"}),
    ("versions", {"ecosystem": "conda", "package": "numpy", "scope": "user"}),
    ("top", {"ecosystem": "apt", "limit": 5}),
    ("top", {"ecosystem": "pip", "scope": "top_level", "limit": 0}),
    ("adoption", {"ecosystem": "pip", "package": "sphinx", "by": "week"}),
    ("extensions", {"kind": "plugin"}),
    ("themes", {"include_failed": True}),
    ("breakdown", {"by": "python"}),
    ("breakdown", {"by": "tool:nodejs"}),
    ("breakdown", {"by": "config:build.os"}),
    ("config-keys", {}),
    ("build-time", {"limit": 3}),
    (
        "impact",
        {
            "where": [
                "pip:sphinx<2",
                "python<3.8",
                "apt:libgraphviz-dev",
                "config:build.os=ubuntu-20.04",
                "config:python.system_packages",
                "conda:*",
                "tool:nodejs>=18",
                "os=ubuntu-20.04",
            ]
        },
    ),
]


def _resolved(name, p):
    if name != "impact":
        return p
    lists = tuple(InList(("1.0",)) if parse_where(w).spec else None for w in p.where)
    return p.with_resolved(lists)


@pytest.mark.parametrize(("name", "kw"), CASES)
def test_builders_are_pure_parameterized_and_transpile_to_spark(name, kw):
    p = _resolved(name, make_params(since="2026-11-01", until="2026-12-01", now=NOW, **kw))
    sql, params = build_sql(name, p)
    assert (sql, params) == build_sql(name, p)  # pure: same input, same output
    # every named parameter is used and every used one is given
    assert set(re.findall(r"\$(\w+)", sql)) == set(params)
    assert params["since"] == datetime(2026, 11, 1) and params["until"] == datetime(2026, 12, 1)
    for user_value in ("sphinx", "ubuntu-20.04", "build.os"):
        if user_value in str(kw):
            assert f"'{user_value}'" not in sql  # user input only travels as parameters
    for forbidden in ("QUALIFY", "->>", "LIST_", "UNNEST", "STRUCT_", "::"):
        assert forbidden not in sql.upper()
    spark = sqlglot.transpile(sql, read="duckdb", write="spark", unsupported_level="raise")[0]
    assert sqlglot.parse_one(spark, read="spark") is not None
    assert set(re.findall(r":(\w+)", spark)) >= set(params)
    assert "$" not in spark


def test_success_filter_only_without_include_failed():
    base = {"since": "2026-11-01", "until": "2026-12-01", "by": "python"}
    assert "success = TRUE" in build_sql("breakdown", make_params(**base))[0]
    assert "success" not in build_sql("breakdown", make_params(include_failed=True, **base))[0]


def test_partition_years_cover_the_window():
    p = make_params(since="2025-12-15", until="2027-01-01", by="os")
    _, params = build_sql("breakdown", p)
    assert (params["y0"], params["y1"]) == (2025, 2026)  # until is exclusive


@pytest.mark.parametrize(
    ("name", "kw", "message"),
    [
        ("versions", {"ecosystem": "pip"}, "this report needs --package"),
        ("top", {}, "this report needs --ecosystem"),
        ("top", {"ecosystem": "apt", "scope": "top_level"}, "scope 'top_level' is not recorded"),
        ("adoption", {"ecosystem": "pip", "package": "x", "by": "day"}, "--by: expected one of"),
        ("breakdown", {"by": "color"}, "--by: expected one of python, os"),
        ("breakdown", {}, "this report needs --by"),
        ("extensions", {"kind": "widget"}, "--kind: expected one of extension"),
        ("impact", {}, "impact needs at least one --where"),
        ("regressions-not-here", {}, "unknown report"),
    ],
)
def test_builder_errors(name, kw, message):
    with pytest.raises(QueryError) as exc:
        build_sql(name, make_params(now=NOW, **kw))
    assert message in str(exc.value)


def test_registry_names_and_columns():
    assert {n: r.columns for n, r in REPORTS.items()} == {
        "versions": ("version", "projects", "builds"),
        "top": ("package", "projects", "builds"),
        "adoption": ("period", "version", "projects"),
        "extensions": ("extension", "projects"),
        "themes": ("theme", "projects"),
        "breakdown": ("value", "projects", "builds"),
        "config-keys": ("key", "projects"),
        "impact": ("projects", "builds", "affected"),
        "build-time": ("project", "builds", "p50", "p95", "max"),
    } | {n: REPORTS[n].columns for n in REPORTS if n == "regressions"}
