"""`buildcensus report ...` through the real CLI entry point."""

from __future__ import annotations

import copy
import csv
import io
import json

import pytest

import buildcensus.cli._reports as cli_reports
from buildcensus.cli import main

from .sample import sample
from .wh import connect

WINDOW = ["--since", "2026-11-01", "--until", "2026-12-01"]


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


@pytest.fixture
def wh(tmp_path, monkeypatch):
    """The hand-built sample warehouse, opened by the CLI in place of open_warehouse()."""
    root = sample().write(tmp_path / "wh")
    monkeypatch.setattr(cli_reports, "connect_warehouse", lambda url, threads=None: connect(root))
    return str(root)


def test_versions_json(capsys, wh):
    code, out, err = run(
        capsys,
        "report",
        "versions",
        "--ecosystem",
        "pip",
        "--package",
        "sphinx",
        *WINDOW,
        "--format",
        "json",
        "--warehouse",
        wh,
    )
    assert code == 0, err
    assert json.loads(out) == [
        {"version": "7.1.0rc1", "projects": 0, "builds": 1},
        {"version": "7.0.0", "projects": 3, "builds": 3},
        {"version": "1.8.5", "projects": 1, "builds": 3},
    ]


def test_last_and_now_pin_the_window(capsys, wh):
    args = ["report", "breakdown", "--by", "python", "--format", "json", "--warehouse", wh]
    code, out, _ = run(capsys, *args, "--now", "2026-12-01T00:00:00Z", "--last", "30d")
    code2, out2, _ = run(capsys, *args, *WINDOW)
    assert code == code2 == 0
    assert json.loads(out) == json.loads(out2) != []


def test_csv_and_table(capsys, wh):
    code, out, _ = run(capsys, "report", "themes", *WINDOW, "--format", "csv", "--warehouse", wh)
    assert code == 0
    assert list(csv.DictReader(io.StringIO(out))) == [
        {"theme": "furo", "projects": "2"},
        {"theme": "material", "projects": "1"},
        {"theme": "sphinx_rtd_theme", "projects": "1"},
    ]
    code, out, _ = run(capsys, "report", "top", "--ecosystem", "pip", *WINDOW, "--warehouse", wh)
    assert code == 0
    assert "docutils" in out and "sphinx-rtd-theme" in out and "package" in out


def test_impact_formats(capsys, wh):
    base = [
        "report",
        "impact",
        "--where",
        "pip:sphinx>=7",
        "--where",
        "python>=3.11",
        *WINDOW,
        "--include-failed",
        "--warehouse",
        wh,
    ]
    code, out, _ = run(capsys, *base, "--format", "json")
    assert code == 0
    result = json.loads(out)
    # alpha's failed state has 1!0.5, newer than 7 by its epoch
    assert (result["projects"], result["builds"]) == (3, 5)
    assert result["affected"] == [
        {"project": "alpha", "last_build": "7", "matched": ["pip:sphinx==1!0.5", "python==3.11.4"]},
        {"project": "delta", "last_build": "4", "matched": ["pip:sphinx==7.0.0", "python==3.12.1"]},
        {
            "project": "gamma",
            "last_build": "10",
            "matched": ["pip:sphinx==7.0.0", "python==3.11.4"],
        },
    ]
    code, out, _ = run(capsys, *base, "--format", "csv")
    assert list(csv.DictReader(io.StringIO(out)))[1] == {
        "project": "delta",
        "last_build": "4",
        "matched": "pip:sphinx==7.0.0, python==3.12.1",
    }
    code, out, _ = run(capsys, *base)
    assert out.splitlines()[0] == "3 projects, 5 builds"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["report", "impact", "--where", "pip:sphinx<<2"],
            "error: --where 'pip:sphinx<<2': invalid version specifier: '<<2'",
        ),
        (["report", "breakdown", "--by", "colour"], "error: --by: expected one of python, os"),
        (["report", "themes", "--since", "nope"], "error: --since: not a date or ISO time"),
        (
            ["report", "themes", "--last", "3d", "--since", "2026-01-01"],
            "error: --last and --since cannot be used together",
        ),
    ],
)
def test_bad_input_one_line_exit_2(capsys, wh, args, message):
    code, _, err = run(capsys, *args, "--warehouse", wh)
    assert code == 2
    assert err.startswith(message) and len(err.strip().splitlines()) == 1


def test_missing_warehouse_exit_1(capsys, tmp_path):
    code, _, err = run(capsys, "report", "themes", "--warehouse", str(tmp_path / "none"))
    assert code == 1
    assert (
        err.strip()
        == f"error: no warehouse at {tmp_path / 'none'} (run `buildcensus import` first)"
    )


def _record(base, pid, project, start, python, sphinx, success=True):
    r = copy.deepcopy(base)
    r["project"] = {"id": hash(project) % 1000, "slug": project}
    r["build"].update(id=pid, start=start, success=success)
    r["python"] = python
    r["tools"] = {"python": python}
    for scope in ("top_level", "all"):
        r["packages"]["pip"][scope][0]["version"] = sphinx
    r["packages"]["pip"]["user"][0]["installed"] = sphinx
    return r


def test_end_to_end_through_store_and_import(capsys, tmp_path, record_dict):
    """Lake -> `buildcensus import` -> `buildcensus report`, no hand-made tables."""
    records = [
        _record(record_dict, 1, "p1", "2026-11-02T10:00:00Z", "3.7.9", "1.8.5"),
        _record(record_dict, 2, "p1", "2026-11-20T10:00:00Z", "3.12.13", "7.4.7"),
        _record(record_dict, 3, "p2", "2026-11-10T09:00:00Z", "3.7.9", "1.8.5"),
        _record(record_dict, 4, "p2", "2026-11-10T11:00:00Z", "3.7.9", "1.8.5"),  # duplicate of 3
        _record(record_dict, 5, "p3", "2026-11-12T09:00:00Z", "3.7.9", "1.8.5", success=False),
        _record(record_dict, 6, "p1", "2026-10-01T09:00:00Z", "3.6.15", "1.8.5"),  # outside
    ]
    f = tmp_path / "records.json"
    f.write_text(json.dumps(records))
    lake, wh = str(tmp_path / "lake"), str(tmp_path / "wh")
    code, out, err = run(capsys, "store", str(f), "--lake", lake)
    assert code == 0, out + err
    assert sum(line.startswith("duplicate") for line in out.splitlines()) == 1
    code, out, err = run(capsys, "import", "--lake", lake, "--warehouse", wh, "--no-progress")
    assert code == 0, out + err
    common = [*WINDOW, "--format", "json", "--warehouse", wh]
    code, out, err = run(
        capsys, "report", "versions", "--ecosystem", "pip", "--package", "Sphinx", *common
    )
    assert code == 0, err
    assert json.loads(out) == [
        {"version": "7.4.7", "projects": 1, "builds": 1},
        {"version": "1.8.5", "projects": 1, "builds": 3},  # p1's old build, p2 + its duplicate
    ]
    code, out, err = run(
        capsys, "report", "impact", "--where", "pip:sphinx<2", "--where", "python<3.8", *common
    )
    assert code == 0, err
    assert json.loads(out) == {
        "projects": 1,
        "builds": 3,
        "affected": [
            {"project": "p2", "last_build": "4", "matched": ["pip:sphinx==1.8.5", "python==3.7.9"]}
        ],
    }
    code, out, err = run(
        capsys, "report", "breakdown", "--by", "config:build.os", "--include-failed", *common
    )
    assert code == 0, err
    assert json.loads(out) == [{"value": "ubuntu-24.04", "projects": 3, "builds": 5}]
    code, out, err = run(capsys, "report", "config-keys", *common)
    assert code == 0, err
    assert {r["key"]: r["projects"] for r in json.loads(out)} == {
        "build": 2,  # the importer lists the parents of the keys set, too
        "build.tools": 2,
        "version": 2,
        "build.os": 2,
        "build.tools.python": 2,
    }
