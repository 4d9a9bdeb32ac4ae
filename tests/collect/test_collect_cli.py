"""`buildcensus collect` through the real entry point: options, outputs, exit codes."""

from __future__ import annotations

import json

import pytest

from buildcensus.cli import main

BASE = ["collect", "--project", "demo", "--version", "latest", "--build", "42", "--timeout", "10"]


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--project", "Not A Slug"], "invalid project slug"),
        (["--trigger", "cron"], "--trigger"),
        (["--step", "install"], "NAME=SECONDS"),
        (["--build-start", "yesterday"], "ISO 8601"),
        (["--build", "../etc"], "invalid build id"),
        (["--length", "-1"], "--length"),
    ],
)
def test_usage_errors_exit_2(tmp_path, capsys, extra, message):
    code, out, err = run(capsys, *BASE, "--checkout", str(tmp_path), *extra)
    assert code == 2
    assert out == ""
    assert message in err


def test_missing_required_option(capsys):
    code, _, err = run(capsys, "collect", "--project", "demo")
    assert code == 2 and "--checkout" in err


def test_out_file_lake_and_verbose(tmp_path, capsys):
    out_file = tmp_path / "out" / "record.json"
    out_file.parent.mkdir()
    lake = tmp_path / "lake"
    code, out, err = run(
        capsys,
        *BASE,
        "--checkout",
        str(tmp_path),
        "--build-start",
        "2026-12-01T10:00:00Z",
        "--out",
        str(out_file),
        "--lake",
        str(lake),
        "--verbose",
    )
    assert code == 0
    assert out == ""  # nothing on the build's stdout unless --out -
    assert "collect: stored telemetry/builds/2026/12/2026-12-01-42.json" in err
    assert "collect: config: no config file" in err
    record = json.loads(out_file.read_text())
    assert record["build"]["id"] == 42
    assert [p.name for p in out_file.parent.iterdir()] == ["record.json"]  # no temp leftovers
    code, out, _ = run(capsys, "show", "42", "--lake", str(lake))
    assert code == 0 and json.loads(out)["project"]["slug"] == "demo"


def test_default_output_is_stdout_and_quiet(tmp_path, capsys):
    code, out, err = run(capsys, *BASE, "--checkout", str(tmp_path))
    assert code == 0 and err == ""
    assert json.loads(out)["version"]["slug"] == "latest"


def test_unwritable_out_still_exit_0(tmp_path, capsys):
    code, out, err = run(
        capsys, *BASE, "--checkout", str(tmp_path), "--out", str(tmp_path / "no" / "dir" / "r.json")
    )
    assert code == 0 and out == "" and err == ""
