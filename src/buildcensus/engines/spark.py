"""The Apache Spark engine: the same reports, as Spark SQL over the same Parquet warehouse.

`spark_session()` starts (or reuses) a session; `register_warehouse()` defines one temp view per
warehouse table over its committed parts (docs/warehouse.md); `SparkConnection` gives a session
the `execute(sql, params)` interface of a DuckDB connection, so `buildcensus.reports.run_report`
and `buildcensus.explain.find_regressions` run unchanged: each statement is the DuckDB SQL of
the reports' builders, transpiled by sqlglot with its parameters bound as literals
(`_transpile.to_spark_sql`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from buildcensus.engines._transpile import to_spark_sql
from buildcensus.errors import MissingExtraError, WarehouseError

DEFAULT_MASTER = "local[2]"

#: Settings for every session (a 2-core, 24 GB machine in local mode; sane on a cluster).
SESSION_CONF: dict[str, str] = {
    "spark.driver.memory": "2g",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    # Warehouse times are TIMESTAMP without zone; keep them so in SQL and in Python.
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.adaptive.enabled": "true",
    # Spark expands `${name}` anywhere in SQL text, string literals included: a bound value
    # such as '${spark.hadoop.fs.s3a.secret.key}' would read the session's settings.
    "spark.sql.variable.substitute": "false",
}
#: Runtime settings each query depends on, applied to sessions made elsewhere too.
QUERY_CONF = (
    "spark.sql.session.timeZone",
    "spark.sql.timestampType",
    "spark.sql.variable.substitute",
)
#: Extra settings for local masters: few shuffle partitions, loopback only.
LOCAL_CONF: dict[str, str] = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}
_LOG_CONFIG = Path(__file__).with_name("log4j2.properties")


def _pyspark() -> Any:
    try:
        import pyspark.sql
    except ImportError:
        raise MissingExtraError("spark", "pyspark") from None
    return pyspark.sql


def session_conf(master: str) -> dict[str, str]:
    """The Spark settings a session for `master` gets (pure)."""
    conf = dict(SESSION_CONF)
    if master.startswith("local"):
        conf.update(LOCAL_CONF)
    conf["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile={_LOG_CONFIG.as_uri()}"
    return conf


def spark_session(master: str | None = None, app_name: str = "buildcensus") -> Any:
    """A SparkSession on `master` (default `local[2]`), quiet and set up for the warehouse."""
    sql = _pyspark()
    url = master or DEFAULT_MASTER
    if url.startswith("local") and not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise WarehouseError("the Spark engine needs Java (none on PATH and no JAVA_HOME)")
    builder = sql.SparkSession.builder.master(url).appName(app_name)
    for key, value in session_conf(url).items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # JVM start failures come as several exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WarehouseError(f"could not start Spark on {url}: {first}") from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


_SPARK_TYPES = {
    "string": "STRING",
    "int64": "BIGINT",
    "int32": "INT",
    "double": "DOUBLE",
    "bool": "BOOLEAN",
    "timestamp[us]": "TIMESTAMP_NTZ",
    "date32[day]": "DATE",
}


def spark_ddl(table: str) -> str:
    """The Spark DDL schema of a warehouse table, partition columns included (pure)."""
    from buildcensus.warehouse._schema import PARTITIONED, SCHEMAS

    cols = [f"`{f.name}` {_SPARK_TYPES[str(f.type)]}" for f in SCHEMAS[table]]
    if table in PARTITIONED:
        cols += ["`year` INT", "`month` INT"]
    return ", ".join(cols)


def warehouse_files(url: str) -> tuple[str, dict[str, list[str]]]:
    """(root, committed part paths per table) of the warehouse at `url`, as Spark opens them.

    Local roots are absolute paths; `s3://bucket/prefix` becomes `s3a://bucket/prefix` (Hadoop's
    S3 connector, which needs the hadoop-aws jars on the cluster).
    """
    from buildcensus.warehouse import TABLES, open_warehouse

    wh = open_warehouse(url)
    store = wh.store
    if store.local:
        if not os.path.isdir(store.os_path("")):
            raise WarehouseError(f"no warehouse at {url} (run `buildcensus import` first)")
        root = store.os_path("").rstrip(os.sep)
    else:
        root = "s3a://" + store.base.strip("/")
    parts = wh.state().parts
    return root, {t: [f"{root}/{rel}" for rel in parts.get(t, [])] for t in TABLES}


def register_tables(spark: Any, root: str, files: dict[str, Sequence[str]]) -> None:
    """One temp view per warehouse table over `files` (typed and empty when a table has none)."""
    from buildcensus.warehouse._schema import PARTITIONED, TABLES

    for table in TABLES:
        paths = list(files.get(table, ()))
        ddl = spark_ddl(table)
        if not paths:
            frame = spark.createDataFrame([], ddl)
        else:
            reader = spark.read.schema(ddl)
            if table in PARTITIONED:
                # year/month come from the hive path below the table directory.
                reader = reader.option("basePath", f"{root}/{table}")
            frame = reader.parquet(*paths)
        frame.createOrReplaceTempView(table)


def register_warehouse(spark: Any, url: str) -> None:
    """Define the warehouse tables at `url` as temp views of `spark` (committed parts only)."""
    root, files = warehouse_files(url)
    register_tables(spark, root, files)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class SparkCursor:
    """The rows of one Spark SQL statement, fetched like a DuckDB result."""

    def __init__(self, frame: Any) -> None:
        self._frame = frame
        self.description = [(f.name, f.dataType.simpleString()) for f in frame.schema.fields]

    def _run(self, fn: Any) -> list[tuple[Any, ...]]:
        try:
            return [tuple(row) for row in fn()]
        except Exception as exc:  # Py4J and PySpark errors: one line, no JVM stack
            raise WarehouseError(f"report query failed on Spark: {_first_line(exc)}") from None

    def fetchall(self) -> list[tuple[Any, ...]]:
        """Every row, in the statement's order."""
        return self._run(self._frame.collect)

    def fetchmany(self, size: int) -> list[tuple[Any, ...]]:
        """The first `size` rows, in the statement's order."""
        return self._run(lambda: self._frame.take(size))


class SparkConnection:
    """A SparkSession with the warehouse views, behind DuckDB's `execute(sql, params)`."""

    def __init__(self, spark: Any, owned: bool = False) -> None:
        self.spark = spark
        self._owned = owned
        # Also for a session made elsewhere (getOrCreate may return one).
        for key in QUERY_CONF:
            spark.conf.set(key, SESSION_CONF[key])

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> SparkCursor:
        """Run DuckDB-dialect SQL with `$name` parameters as Spark SQL."""
        text = to_spark_sql(sql, params)
        try:
            frame = self.spark.sql(text)
        except Exception as exc:
            first = _first_line(exc)
            if "TABLE_OR_VIEW_NOT_FOUND" in first or "PATH_NOT_FOUND" in first:
                raise WarehouseError(
                    f"warehouse not readable ({first}); run `buildcensus import`"
                ) from None
            raise WarehouseError(f"report query failed on Spark: {first}") from None
        return SparkCursor(frame)

    def close(self) -> None:
        """Stop the session if this connection started it."""
        if self._owned:
            self.spark.stop()


def connect_spark(url: str, master: str | None = None) -> SparkConnection:
    """A Spark session on `master` with the warehouse at `url` registered.

    close() stops the session only if this call started it (not one the process already had).
    """
    running = _pyspark().SparkSession.getActiveSession()
    spark = spark_session(master)
    owned = running is None
    try:
        register_warehouse(spark, url)
    except BaseException:
        if owned:
            spark.stop()
        raise
    return SparkConnection(spark, owned=owned)


def run_report_spark(name: str, params: Any, session: Any, *, max_rows: int | None = None) -> Any:
    """`buildcensus.reports.run_report` on Spark: `session` must have the warehouse views."""
    from buildcensus.reports import run_report

    return run_report(name, params, SparkConnection(session), max_rows=max_rows)
