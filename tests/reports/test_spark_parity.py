"""The SQL written once for DuckDB, transpiled by sqlglot, gives the same rows on Spark."""

from __future__ import annotations

import os
import shutil

import pytest
import sqlglot

from buildcensus.reports import get_report, make_params

from .sample import WINDOW, sample
from .wh import TABLES, connect

# ~100 s on a busy 2-core machine (JVM start, one stage per query): opt in with
# BUILDCENSUS_TEST_SPARK=1 (the Spark engine's own tests cover the default run).
pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("BUILDCENSUS_TEST_SPARK"), reason="set BUILDCENSUS_TEST_SPARK=1"
    ),
]

CASES = [
    ("versions", {"ecosystem": "pip", "package": "sphinx", "include_failed": True}),
    ("top", {"ecosystem": "pip"}),
    ("adoption", {"ecosystem": "pip", "package": "sphinx", "by": "week"}),
    ("extensions", {}),
    ("themes", {}),
    ("breakdown", {"by": "python"}),
    ("breakdown", {"by": "tool:python"}),
    ("breakdown", {"by": "config:build.os"}),
    ("config-keys", {}),
    ("impact", {"where": ["pip:sphinx>=7", "python>=3.11", "conda:*"]}),
    ("impact", {"where": ["config:build", "os=ubuntu-24.04", "pip:sphinx<1"]}),
    ("build-time", {"include_failed": True}),
]


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    pyspark_sql = pytest.importorskip("pyspark.sql")
    if shutil.which("java") is None:
        pytest.skip("no Java")
    root = sample().write(tmp_path_factory.mktemp("spark") / "wh")
    spark = (
        pyspark_sql.SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    for t in TABLES:
        spark.read.parquet(str(root / t)).createOrReplaceTempView(t)
    con = connect(root)
    yield con, spark
    con.close()
    spark.stop()


def test_every_report_same_rows_on_spark(engines):
    con, spark = engines
    for name, kw in CASES:
        report = get_report(name)
        params = make_params(**WINDOW, **kw)
        if report.resolve is not None:
            params = report.resolve(params, con)
        sql, args = report.build(params)
        duck = [tuple(r) for r in con.execute(sql, args).fetchall()]
        spark_sql = sqlglot.transpile(sql, read="duckdb", write="spark")[0]
        rows = [tuple(r) for r in spark.sql(spark_sql, args=args).collect()]
        assert duck, (name, kw)
        assert rows == duck, (name, kw)
