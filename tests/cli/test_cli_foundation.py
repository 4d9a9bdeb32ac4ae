from __future__ import annotations

import json
import subprocess
import sys

import pytest

from buildcensus.cli import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_store_and_show(tmp_path, capsys, record_dict):
    f = tmp_path / "r.json"
    f.write_text(json.dumps(record_dict))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    lake = str(tmp_path / "lake")
    code, out, _ = run(capsys, "store", str(f), str(bad), "--lake", lake)
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "stored telemetry/builds/2026/12/2026-12-01-42.json"
    assert lines[1].startswith(f"rejected {bad}: malformed JSON")
    code, out, _ = run(capsys, "show", "42", "--lake", lake)
    assert code == 0
    assert json.loads(out)["packages"]["pip"]["all"][0]["normalized"] == "sphinx"


def test_store_ndjson_stdin(tmp_path, record_dict, monkeypatch):
    lines = []
    for i in range(3):
        record_dict["build"]["id"] = i
        record_dict["python"] = f"3.{i}"
        lines.append(json.dumps(record_dict))
    proc = subprocess.run(
        [sys.executable, "-m", "buildcensus", "store", "-", "--lake", str(tmp_path / "l")],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert [ln.split()[0] for ln in proc.stdout.splitlines()] == ["stored"] * 3


def test_env_var_lake(tmp_path, capsys, record_dict, monkeypatch):
    monkeypatch.setenv("BUILDCENSUS_LAKE", str(tmp_path / "envlake"))
    f = tmp_path / "r.json"
    f.write_text(json.dumps(record_dict))
    code, _, _ = run(capsys, "store", str(f))
    assert code == 0
    assert (tmp_path / "envlake" / "telemetry" / "builds").is_dir()


def test_usage_error_exit_2(capsys):
    code, _, err = run(capsys, "store", "--no-such-option")
    assert code == 2
    assert "Traceback" not in err


def test_show_missing_one_line(tmp_path, capsys):
    code, _, err = run(capsys, "show", "123", "--lake", str(tmp_path))
    assert code == 1
    assert err.strip() == "error: no build with id 123 in the lake"


def test_schema_command(capsys):
    code, out, _ = run(capsys, "schema")
    assert code == 0
    assert json.loads(out)["title"] == "buildcensus build record"


def test_every_command_has_help():
    import typer.main

    from buildcensus.cli import app

    group = typer.main.get_command(app)
    for name, cmd in group.commands.items():
        assert cmd.help or cmd.short_help, f"command {name} has no help text"
        if hasattr(cmd, "commands"):
            for sub, c in cmd.commands.items():
                assert c.help or c.short_help, f"command {name} {sub} has no help text"


def test_readme_documents_every_command():
    from pathlib import Path

    import typer.main

    from buildcensus.cli import app

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for name in typer.main.get_command(app).commands:
        assert f"buildcensus {name}" in readme, f"README does not mention `buildcensus {name}`"


def test_data_commands_accept_both_lake_and_warehouse():
    """Scripts pass both options to every data command, even where one is unused."""
    import typer.main

    from buildcensus.cli import app

    def walk(group, prefix=""):
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):
                yield from walk(cmd, f"{prefix}{name} ")
            else:
                yield f"{prefix}{name}", cmd

    for name, cmd in walk(typer.main.get_command(app)):
        opts = {o for p in cmd.params for o in getattr(p, "opts", [])}
        if "--lake" in opts or "--warehouse" in opts:
            assert {"--lake", "--warehouse"} <= opts, f"`buildcensus {name}` lacks one of them"
