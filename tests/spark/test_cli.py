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


@pytest.mark.spark
@pytest.mark.parametrize(
    "args",
    [
        ["report", "impact", "--where", "pip:sphinx>=7", "--where", "os=ubuntu-24.04", *WINDOW],
        ["report", "regressions", "--since", SINCE, "--until", UNTIL, "--min-builds", "2"],
    ],
    ids=["impact", "regressions"],
)
def test_cli_spark_equals_duckdb(args, capsys, warehouse, spark):
    common = [*args, "--warehouse", warehouse, "--format", "json"]
    code, duck_out, err = run(capsys, *common)
    assert code == 0, err
    code, spark_out, err = run(capsys, *common, "--engine", "spark", "--spark-master", "local[2]")
    assert code == 0, err
    assert json.loads(duck_out)
    assert json.loads(spark_out) == json.loads(duck_out)
    # The CLI reused the running session and left it running.
    assert spark.sparkContext._jsc is not None


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
