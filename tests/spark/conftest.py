"""One local Spark session and one simulated warehouse for every Spark test.

The warehouse is made the way users make one: `buildcensus simulate` into a lake, then
`buildcensus import` (through the CLI entry point, in-process). Spark tests are skipped, with
the reason, only when pyspark or Java is missing.
"""

from __future__ import annotations

import shutil

import pytest

from buildcensus.cli import main

#: The simulated history's window: 30 days ending 2026-11-30 (UTC).
SINCE, UNTIL = "2026-11-01", "2026-12-01"


def cli(*args: str) -> None:
    """Run a CLI command in-process; fail the test on a non-zero exit."""
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    assert exc.value.code == 0, args


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory) -> str:
    """A small but rich warehouse: 60 projects, 30 days, failures and duplicates included."""
    root = tmp_path_factory.mktemp("spark-data")
    lake, wh = str(root / "lake"), str(root / "wh")
    cli("simulate", "--projects", "60", "--days", "30", "--seed", "3", "--end", "2026-11-30",
        "--lake", lake, "--workers", "1")  # fmt: skip
    cli("import", "--lake", lake, "--warehouse", wh, "--no-progress")
    return wh


@pytest.fixture(scope="session")
def spark():
    """The session-wide local[2] SparkSession (started once, stopped at the end)."""
    pytest.importorskip("pyspark", reason="pyspark is not installed (extra 'spark')")
    if shutil.which("java") is None:
        pytest.skip("no Java on PATH: the Spark engine needs a JVM")
    from buildcensus.engines.spark import spark_session

    session = spark_session("local[2]")
    yield session
    session.stop()


@pytest.fixture
def spark_wh(spark, warehouse):
    """The Spark session with the simulated warehouse's views (re-registered per test)."""
    from buildcensus.engines.spark import register_warehouse

    register_warehouse(spark, warehouse)
    return spark


@pytest.fixture(scope="session")
def duck(warehouse):
    """A DuckDB connection on the simulated warehouse (the reference engine)."""
    from buildcensus.reports import connect_warehouse

    con = connect_warehouse(warehouse)
    yield con
    con.close()
