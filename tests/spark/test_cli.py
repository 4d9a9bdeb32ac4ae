"""`buildcensus report ... --engine spark [--spark-master URL]` through the real CLI."""

from __future__ import annotations

import json
import sys

import pytest

from buildcensus.cli import main

from .conftest import SINCE, UNTIL

WINDOW = ["--since", SINCE, "--until", UNTIL]


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def both_engines(capsys, *args: str) -> tuple[str, str]:
    """JSON output of the same command on DuckDB and on Spark (local[2])."""
    code, duck_out, err = run(capsys, *args, "--format", "json")
    assert code == 0, err
    spark_args = ["--engine", "spark", "--spark-master", "local[2]"]
    code, spark_out, err = run(capsys, *args, "--format", "json", *spark_args)
    assert code == 0, err
    return json.loads(duck_out), json.loads(spark_out)


@pytest.mark.spark
def test_cli_report_on_spark_equals_duckdb(capsys, warehouse, spark):
    args = ["report", "impact", "--where", "pip:sphinx>=7", "--where", "os=ubuntu-24.04"]
    duck, got = both_engines(capsys, *args, *WINDOW, "--warehouse", warehouse)
    assert duck["affected"]
    assert got == duck
    # The CLI reused the running session and left it running.
    assert spark.sparkContext._jsc is not None


@pytest.mark.spark
def test_cli_regressions_on_spark_over_empty_tables(capsys, tmp_path, spark):
    """An imported-nothing warehouse: typed empty views; the data cases are in test_parity."""
    (tmp_path / "wh").mkdir()
    args = ["report", "regressions", "--since", SINCE, "--min-builds", "1"]
    duck, got = both_engines(capsys, *args, "--warehouse", str(tmp_path / "wh"))
    assert got == duck == []
    types = {f.name: f.dataType.simpleString() for f in spark.table("builds").schema.fields}
    assert (types["start"], types["length"], types["year"]) == ("timestamp_ntz", "double", "int")


@pytest.mark.spark
def test_cli_spark_without_warehouse_is_one_line(capsys, tmp_path, spark):
    code, out, err = run(
        capsys, "report", "themes", "--engine", "spark", "--warehouse", str(tmp_path / "none")
    )
    assert code == 1
    assert err.strip().splitlines() == [
        f"error: no warehouse at {tmp_path / 'none'} (run `buildcensus import` first)"
    ]


def test_missing_pyspark_is_a_one_line_hint(capsys, monkeypatch, tmp_path):
    for mod in [m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "pyspark", None)
    code, out, err = run(
        capsys, "report", "themes", "--engine", "spark", "--warehouse", str(tmp_path)
    )
    assert code == 2
    assert err.strip().splitlines() == [
        "error: this needs the optional 'spark' extra (pyspark is not installed): "
        "pip install 'buildcensus[spark]'"
    ]
    assert out == ""
