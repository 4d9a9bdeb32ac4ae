"""Every report on the hand-built warehouse of sample.py, answers worked out by hand."""

from __future__ import annotations

import pytest

from buildcensus.errors import QueryError
from buildcensus.reports import make_params, run_report

from .sample import WINDOW, sample


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    from .wh import connect

    c = connect(sample().write(tmp_path_factory.mktemp("sample")))
    yield c
    c.close()


def run(con, name, **kw):
    return run_report(name, make_params(**{**WINDOW, **kw}), con)


def triples(rows, *keys):
    return [tuple(r[k] for k in keys) for r in rows]


def test_versions_newest_first_with_prerelease_and_duplicates(con):
    rows = run(con, "versions", ecosystem="pip", package="Sphinx")
    assert [list(r) for r in rows] == [["version", "projects", "builds"]] * 3
    # 7.1.0rc1: only gamma's non-state build; 1.8.5: beta's build and its stored duplicate + alpha's
    assert triples(rows, "version", "projects", "builds") == [
        ("7.1.0rc1", 0, 1),
        ("7.0.0", 3, 3),
        ("1.8.5", 1, 3),
    ]


def test_versions_include_failed_epoch_sorts_newest(con):
    rows = run(con, "versions", ecosystem="pip", package="sphinx", include_failed=True)
    assert triples(rows, "version", "projects", "builds") == [
        ("1!0.5", 1, 1),
        ("7.1.0rc1", 0, 1),
        ("7.0.0", 2, 3),
        ("1.8.5", 2, 4),
    ]


def test_versions_user_scope(con):
    rows = run(con, "versions", ecosystem="pip", package="sphinx", scope="user")
    assert triples(rows, "version", "projects", "builds") == [("1.8.5", 1, 3)]


def test_top_ties_by_name(con):
    rows = run(con, "top", ecosystem="pip")
    assert triples(rows, "package", "projects", "builds") == [
        ("docutils", 4, 7),
        ("sphinx", 4, 7),
        ("sphinx-rtd-theme", 1, 1),
    ]
    assert triples(run(con, "top", ecosystem="pip", limit=1), "package") == [("docutils",)]
    assert triples(run(con, "top", ecosystem="apt"), "package", "projects", "builds") == [
        ("libc6", 1, 3),
        ("libgraphviz-dev", 1, 3),
    ]
    assert triples(run(con, "top", ecosystem="conda"), "package", "projects", "builds") == [
        ("numpy", 1, 2),
        ("python", 1, 2),
    ]


def test_adoption_by_month_and_week(con):
    rows = run(con, "adoption", ecosystem="pip", package="sphinx", by="month")
    assert [list(r) for r in rows][0] == ["period", "version", "projects"]
    assert triples(rows, "period", "version", "projects") == [
        ("2026-11-01", "7.0.0", 3),
        ("2026-11-01", "1.8.5", 1),
    ]
    rows = run(con, "adoption", ecosystem="pip", package="sphinx", by="week")
    # Weeks start on Monday; 2026-11-01 is a Sunday, so delta's build is in the week of Oct 26.
    assert triples(rows, "period", "version", "projects") == [
        ("2026-10-26", "7.0.0", 1),
        ("2026-11-02", "1.8.5", 1),
        ("2026-11-09", "7.0.0", 1),
        ("2026-11-09", "1.8.5", 1),
        ("2026-11-16", "7.0.0", 1),
    ]


def test_extensions_and_themes(con):
    assert run(con, "extensions") == [
        {"extension": "sphinx.ext.autodoc", "projects": 3},
        {"extension": "sphinx.ext.napoleon", "projects": 1},
    ]
    assert run(con, "extensions", kind="plugin") == [{"extension": "search", "projects": 1}]
    assert run(con, "themes") == [
        {"theme": "furo", "projects": 2},
        {"theme": "material", "projects": 1},
        {"theme": "sphinx_rtd_theme", "projects": 1},
    ]


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        # equal projects: more builds first (3.7.9 has 3, 3.12.1 has 1)
        ("python", [("3.11.4", 2, 3), ("3.7.9", 1, 3), ("3.12.1", 1, 1)]),
        ("os", [("ubuntu-22.04", 2, 3), ("ubuntu-20.04", 1, 3), ("ubuntu-24.04", 1, 1)]),
        ("trigger", [("webhook", 3, 6), ("manual", 1, 1)]),
        ("doctool", [("sphinx", 3, 6), ("mkdocs", 1, 1)]),
        ("config_version", [("2", 3, 6), (None, 1, 1)]),
        ("config:build.os", [("ubuntu-22.04", 2, 3), ("ubuntu-20.04", 1, 3), (None, 1, 1)]),
        ("tool:python", [("3.11.4", 2, 3), ("3.7.9", 1, 3), (None, 1, 1)]),
        ("tool:nodejs", [(None, 2, 4), ("20.1.0", 2, 3)]),  # no nodejs: a value like others
    ],
)
def test_breakdown(con, by, expected):
    rows = run(con, "breakdown", by=by)
    assert all(list(r) == ["value", "projects", "builds"] for r in rows)
    assert triples(rows, "value", "projects", "builds") == expected


def test_config_keys(con):
    assert run(con, "config-keys") == [
        {"key": "build.os", "projects": 3},
        {"key": "version", "projects": 3},
        {"key": "build.tools.python", "projects": 2},
    ]


@pytest.mark.parametrize(
    ("where", "projects", "builds", "affected"),
    [
        (["pip:sphinx<2"], 1, 3, [("beta", "3", ["pip:sphinx==1.8.5"])]),
        (["python<3.8"], 1, 3, [("beta", "3", ["python==3.7.9"])]),
        (["apt:libgraphviz-dev"], 1, 3, [("beta", "3", ["apt:libgraphviz-dev==2.42.2-3build2"])]),
        (["config:build.os=ubuntu-20.04"], 1, 3, [("beta", "3", ["config:build.os=ubuntu-20.04"])]),
        # alpha set system_packages only in its first build: it no longer does, nobody breaks
        (["config:python.system_packages"], 0, 1, []),
        (
            ["config:build"],
            3,
            6,
            [
                ("alpha", "5", ["config:build"]),
                ("beta", "3", ["config:build"]),
                ("gamma", "10", ["config:build"]),
            ],
        ),
        (["conda:*"], 1, 2, [("gamma", "10", ["conda:*"])]),
        (["os=ubuntu-24.04"], 1, 1, [("delta", "4", ["os=ubuntu-24.04"])]),
        (["pip:sphinx<1"], 0, 0, []),
        (
            ["tool:nodejs>=20"],
            2,
            3,
            [("alpha", "5", ["tool:nodejs==20.1.0"]), ("gamma", "10", ["tool:nodejs==20.1.0"])],
        ),
        (
            ["pip:sphinx>=7", "python>=3.11"],  # AND; 7.1.0rc1 counts (pre-releases included)
            3,
            4,
            [
                ("alpha", "5", ["pip:sphinx==7.0.0", "python==3.11.4"]),
                ("delta", "4", ["pip:sphinx==7.0.0", "python==3.12.1"]),
                ("gamma", "10", ["pip:sphinx==7.0.0", "python==3.11.4"]),
            ],
        ),
    ],
)
def test_impact(con, where, projects, builds, affected):
    result = run(con, "impact", where=where)
    assert list(result) == ["projects", "builds", "affected"]
    assert (result["projects"], result["builds"]) == (projects, builds)
    assert all(list(a) == ["project", "last_build", "matched"] for a in result["affected"])
    assert [(a["project"], a["last_build"], a["matched"]) for a in result["affected"]] == affected


def test_impact_include_failed_and_limit(con):
    result = run(con, "impact", where=["pip:sphinx<2"], include_failed=True)
    # alpha's failed state has 1!0.5, which is newer than 2 (epoch); epsilon only failed
    assert (result["projects"], result["builds"]) == (2, 4)
    assert [a["project"] for a in result["affected"]] == ["beta", "epsilon"]
    limited = run(con, "impact", where=["pip:sphinx<2"], include_failed=True, limit=1)
    assert limited["projects"] == 2 and [a["project"] for a in limited["affected"]] == ["beta"]


def test_build_time(con):
    assert run(con, "build-time") == [
        {"project": "alpha", "builds": 2, "p50": 150.0, "p95": 195.0, "max": 200.0},
        {"project": "beta", "builds": 2, "p50": 50.0, "p95": 50.0, "max": 50.0},
        {"project": "gamma", "builds": 2, "p50": 20.0, "p95": 29.0, "max": 30.0},
        {"project": "delta", "builds": 1, "p50": 20.0, "p95": 20.0, "max": 20.0},
    ]
    rows = run(con, "build-time", include_failed=True, limit=2)
    assert rows == [
        {"project": "epsilon", "builds": 1, "p50": 1000.0, "p95": 1000.0, "max": 1000.0},
        {"project": "alpha", "builds": 3, "p50": 100.0, "p95": 190.0, "max": 200.0},
    ]


def test_percentiles_agree_with_duckdb_quantile_cont(con):
    expected = con.execute(
        "SELECT project, quantile_cont(length, 0.5), quantile_cont(length, 0.95) FROM builds "
        "WHERE start >= '2026-11-01' AND start < '2026-12-01' GROUP BY project ORDER BY project"
    ).fetchall()
    got = sorted(run(con, "build-time", include_failed=True), key=lambda r: r["project"])
    assert [(r["project"], r["p50"], r["p95"]) for r in got] == [
        (p, round(a, 3), round(b, 3)) for p, a, b in expected
    ]


def test_window_edges_and_outside_builds(con):
    # October only: beta's build "0"; the window end is exclusive (delta's "11" at Dec 1 is out)
    rows = run_report(
        "breakdown", make_params(since="2026-10-01", until="2026-11-01", by="python"), con
    )
    assert triples(rows, "value", "projects", "builds") == [("3.6.15", 1, 1)]
    rows = run_report(
        "breakdown", make_params(last="1h", now="2026-12-01T01:00:00Z", by="python"), con
    )
    assert triples(rows, "value", "projects", "builds") == [("3.7.9", 1, 1)]


def test_missing_option_is_a_query_error(con):
    with pytest.raises(QueryError, match="needs --package"):
        run(con, "versions", ecosystem="pip")
    with pytest.raises(QueryError, match="unknown report 'nope'"):
        run(con, "nope")
