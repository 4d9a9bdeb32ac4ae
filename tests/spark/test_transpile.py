"""Parameters become literal expressions before sqlglot renders Spark SQL (never string pasting)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlglot
from sqlglot import exp

from buildcensus.engines import literal, to_spark_sql
from buildcensus.engines.spark import SparkConnection, session_conf, spark_ddl
from buildcensus.errors import QueryError
from buildcensus.reports import REPORTS, build_sql, make_params, resolve_impact
from buildcensus.warehouse import duck_columns

NASTY = [
    "it's",
    "a\\b",
    "\\'; DROP VIEW builds; --",
    "' OR '1'='1",
    'double "quotes"',
    "line\nbreak\ttab\r",
    "\\u0041 is not A",
    "ü€ 😀",
    "$since :name ${x} ?",
    "${spark.app.name} ${hivevar:x} ${system:user.name}",
    "",
]


@pytest.mark.parametrize(
    ("value", "spark"),
    [
        (None, "NULL"),
        (True, "TRUE"),
        (False, "FALSE"),
        (42, "42"),
        (-7, "-7"),
        (0.5, "CAST(0.5 AS DOUBLE)"),
        (Decimal("1.25"), "1.25"),
        ("it's", "'it\\'s'"),
        ("a\\b", "'a\\\\b'"),
        (datetime(2026, 11, 1, 6, 30), "CAST('2026-11-01 06:30:00.000000' AS TIMESTAMP_NTZ)"),
        (date(2026, 11, 1), "CAST('2026-11-01' AS DATE)"),
    ],
)
def test_literal(value, spark):
    assert literal(value).sql(dialect="spark") == spark


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (datetime(2026, 11, 1, tzinfo=UTC), "timestamps must be naive UTC"),
        (float("nan"), "has no SQL literal"),
        ([1, 2], "unsupported parameter type list"),
    ],
)
def test_literal_rejects(value, message):
    with pytest.raises(QueryError, match=message):
        literal(value)


def test_parameters_are_bound_as_single_literals():
    sql = to_spark_sql(
        "SELECT a FROM t WHERE b = $x AND c IN ($y, $z)", {"x": "'; x", "y": 1, "z": None}
    )
    tree = sqlglot.parse_one(sql, read="spark")
    assert [lit.this for lit in tree.find_all(exp.Literal) if lit.is_string] == ["'; x"]
    assert not list(tree.find_all(exp.Placeholder))
    assert "IN (1, NULL)" in sql


def test_missing_parameter_is_a_query_error():
    with pytest.raises(QueryError, match="no value for SQL parameter"):
        to_spark_sql("SELECT $a, $b", {"a": 1})


#: Options of each report for the transpile check (impact needs resolved lists: below).
OPTIONS = {
    "versions": {"ecosystem": "pip", "package": "sphinx"},
    "top": {"ecosystem": "pip"},
    "adoption": {"ecosystem": "pip", "package": "sphinx", "by": "week"},
    "extensions": {"kind": "plugin"},
    "themes": {},
    "breakdown": {"by": "config:build.os"},
    "config-keys": {},
    "build-time": {"include_failed": True},
}


def test_every_report_is_covered():
    assert set(REPORTS) - {"impact", "regressions"} == set(OPTIONS)


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_every_report_transpiles_with_bound_parameters(name):
    params = make_params(since="2026-11-01", until="2026-12-01", **OPTIONS[name])
    sql = to_spark_sql(*build_sql(name, params))
    tree = sqlglot.parse_one(sql, read="spark")
    assert not list(tree.find_all(exp.Placeholder))
    assert "$" not in sql
    assert "CAST('2026-11-01 00:00:00.000000' AS TIMESTAMP_NTZ)" in sql


def test_impact_in_lists_are_literals():
    class Versions:
        def execute(self, sql, params):
            return self

        description = [("i",), ("version",)]

        def fetchall(self):
            return [(0, "1.8.5"), (0, "7.0.0"), (0, "7.4.7")]

    params = make_params(since="2026-11-01", until="2026-12-01", where=["pip:sphinx>=7"])
    sql = to_spark_sql(*build_sql("impact", resolve_impact(params, Versions())))
    assert "IN ('7.0.0', '7.4.7')" in sql


def test_spark_schema_matches_the_duckdb_columns():
    names = {"VARCHAR": "STRING", "INTEGER": "INT", "TIMESTAMP": "TIMESTAMP_NTZ"}
    for table in ("builds", "package_sets", "versions", "monthly_packages"):
        want = ", ".join(f"`{c}` {names.get(t, t)}" for c, t in duck_columns(table))
        assert spark_ddl(table) == want


def test_session_conf_is_local_and_quiet_only_where_it_should_be():
    local, cluster = session_conf("local[2]"), session_conf("spark://head:7077")
    for conf in (local, cluster):
        assert conf["spark.sql.session.timeZone"] == "UTC"
        assert conf["spark.ui.enabled"] == "false"
        assert "log4j2.properties" in conf["spark.driver.extraJavaOptions"]
        assert conf["spark.sql.variable.substitute"] == "false"
    assert local["spark.driver.host"] == "127.0.0.1"
    assert "spark.driver.host" not in cluster


@pytest.mark.spark
def test_nasty_strings_round_trip_through_spark(spark):
    spark.conf.set("spark.sql.variable.substitute", "true")  # as a session made elsewhere
    con = SparkConnection(spark)
    for text in NASTY:
        got = con.execute("SELECT $s AS s, $n AS n, $t AS t", {"s": text, "n": -3, "t": None})
        assert got.fetchall() == [(text, -3, None)], text
    rows = con.execute(
        "SELECT $at AS at, $d AS d, $f AS f",
        {"at": datetime(2026, 11, 1, 6, 30, 0, 5), "d": date(2026, 2, 28), "f": 0.1},
    ).fetchall()
    assert rows == [(datetime(2026, 11, 1, 6, 30, 0, 5), date(2026, 2, 28), 0.1)]
