"""`buildcensus store/show --lake s3://...` through the real CLI, against SeaweedFS."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from buildcensus.cli import main

pytestmark = pytest.mark.s3


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_store_and_show_on_s3(s3_url, tmp_path, capsys, record_dict):
    f = tmp_path / "r.json"
    f.write_text(json.dumps(record_dict))
    code, out, err = run(capsys, "store", str(f), "--lake", s3_url)
    assert (code, err) == (0, "")
    assert out == "stored telemetry/builds/2026/12/2026-12-01-42.json\n"
    code, out, _ = run(capsys, "store", str(f), "--lake", s3_url)
    assert code == 0
    assert out == "duplicate telemetry/builds/2026/12/2026-12-01-42.json\n"
    code, out, _ = run(capsys, "show", "42", "--lake", s3_url)
    assert code == 0
    shown = json.loads(out)
    assert shown["build"]["id"] == 42
    assert shown["packages"]["pip"]["all"][0]["normalized"] == "sphinx"
    code, out, err = run(capsys, "show", "99", "--lake", s3_url)
    assert (code, out) == (1, "")
    assert err == "error: no build with id 99 in the lake\n"


def test_store_ndjson_stdin_via_env_lake(s3_url, record_dict):
    """A separate process finds the server from the environment alone."""
    lines = []
    for i in range(3):
        record_dict["build"]["id"] = i
        record_dict["python"] = f"3.{i}"
        lines.append(json.dumps(record_dict))
    proc = subprocess.run(
        [sys.executable, "-m", "buildcensus", "store", "-"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "BUILDCENSUS_LAKE": s3_url},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert [ln.split()[0] for ln in proc.stdout.splitlines()] == ["stored"] * 3


def test_missing_bucket_is_one_line(s3_env, tmp_path, capsys, record_dict):
    f = tmp_path / "r.json"
    f.write_text(json.dumps(record_dict))
    code, out, err = run(capsys, "store", str(f), "--lake", "s3://bc-does-not-exist/lake")
    assert code == 2
    assert out == ""
    assert err == (f"error: S3 bucket 'bc-does-not-exist' does not exist at {s3_env.endpoint}\n")


def test_bad_s3_url_is_usage_error(s3_env, capsys):
    code, _, err = run(capsys, "show", "1", "--lake", "s3://UPPER/x")
    assert code == 2
    assert err == "error: invalid S3 bucket name in 's3://UPPER/x'\n"


def test_missing_extra_is_a_one_line_hint(tmp_path, record_dict):
    """Without boto3 installed, an s3:// lake says which extra to install (no traceback)."""
    f = tmp_path / "r.json"
    f.write_text(json.dumps(record_dict))
    code = (
        "import sys; sys.modules['boto3'] = None; sys.modules['botocore'] = None\n"
        "from buildcensus.cli import main\n"
        f"main(['store', {str(f)!r}, '--lake', 's3://some-bucket/lake'])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr == (
        "error: this needs the optional 's3' extra (boto3 is not installed): "
        "pip install 'buildcensus[s3]'\n"
    )
