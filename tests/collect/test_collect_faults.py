"""Fault injection: shim executables on PATH that fail, hang, print garbage or flood output.

Each case must give a valid record with the right `errors` entry, within the timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from buildcensus.collect import CollectOptions, collect

TIMEOUT = 2.0
SLACK = 4.0  # thread scheduling, process start-up on a shared machine

SHIMS = {
    "fail": "#!/bin/sh\necho 'boom: something broke' >&2\nexit 3\n",
    # A child keeps the output pipe open: the whole process group must be killed.
    "hang": "#!/bin/sh\n/bin/sleep 60 &\n/bin/sleep 60\n",
    "garbage": "#!/bin/sh\nprintf '\\x00\\xff<<not json>>{[\\n'\n",
    "huge": "#!/bin/sh\nexec /usr/bin/yes " + "x" * 64 + "\n",
}
TOOLS = ("python", "python3", "pip", "conda", "dpkg-query", "lsb_release", "cat")


def _shim_dir(tmp_path: Path, mode: str) -> Path:
    bindir = tmp_path / f"shims-{mode}"
    bindir.mkdir()
    for tool in TOOLS:
        path = bindir / tool
        path.write_text(SHIMS[mode])
        path.chmod(0o755)
    return bindir


def _collect(tmp_path: Path, path_dir: Path, **kw) -> tuple[object, float]:
    opts = CollectOptions(
        checkout=tmp_path,
        project="demo",
        version="latest",
        build_id=5,
        conda_prefix=str(tmp_path / "no-such-prefix"),
        python="python",
        timeout=TIMEOUT,
        max_output=1024 * 1024,
        env={"PATH": str(path_dir)},
        **kw,
    )
    started = time.monotonic()
    rec = collect(opts).record
    return rec, time.monotonic() - started


def _messages(rec, probe: str) -> list[str]:
    return [e.message for e in rec.errors if e.probe == probe]


@pytest.mark.parametrize(
    ("mode", "expect"),
    [
        ("fail", "exit status 3: boom: something broke"),
        ("hang", "timed out after"),  # the limit is what is left of the shared deadline
        ("garbage", "unexpected probe output"),
        ("huge", "output larger than 1048576 bytes"),
    ],
)
def test_faulty_tools(tmp_path, mode, expect):
    rec, elapsed = _collect(tmp_path, _shim_dir(tmp_path, mode))
    assert elapsed < TIMEOUT + SLACK
    pip = _messages(rec, "pip")
    assert any(m.startswith("metadata probe: python -c <script>: ") for m in pip), pip
    assert any(expect in m for m in pip), pip
    assert _messages(rec, "apt"), rec.errors  # dpkg-query misbehaved too
    assert _messages(rec, "conda")  # conda-meta missing, then `conda list` misbehaved
    assert rec.packages.pip.all == [] and rec.packages.apt.all == []
    assert rec.packages.conda.all == []
    assert rec.collector.seconds is not None


def test_failing_tools_messages(tmp_path):
    rec, _ = _collect(tmp_path, _shim_dir(tmp_path, "fail"))
    assert any(
        "conda list --json --prefix" in m and "exit status 3" in m for m in _messages(rec, "conda")
    )
    assert any("dpkg-query" in m and "exit status 3" in m for m in _messages(rec, "apt"))
    # pip fallback ran too (`python -m pip list`), and failed the same way
    assert any(m.startswith("fallback: python -m pip list") for m in _messages(rec, "pip"))
    assert any("python --version" in m for m in _messages(rec, "python"))


def test_garbage_dpkg_and_conda(tmp_path):
    rec, _ = _collect(tmp_path, _shim_dir(tmp_path, "garbage"))
    assert any("not package records" in m for m in _messages(rec, "apt"))
    assert any("not JSON" in m for m in _messages(rec, "conda"))


def test_missing_tools(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    rec, elapsed = _collect(tmp_path, empty)
    assert elapsed < TIMEOUT + SLACK
    assert any("command not found" in m for m in _messages(rec, "pip"))
    assert any("dpkg-query: command not found" in m for m in _messages(rec, "apt"))
    assert any("conda: command not found" in m for m in _messages(rec, "conda"))
    assert any("no config file" in m for m in _messages(rec, "config"))


def test_hang_leaves_no_process_behind(tmp_path):
    bindir = _shim_dir(tmp_path, "hang")
    marker = tmp_path / "alive"
    (bindir / "python").write_text(f"#!/bin/sh\n(/bin/sleep 30; touch {marker}) &\n/bin/sleep 30\n")
    rec, elapsed = _collect(tmp_path, bindir)
    assert any("timed out" in m for m in _messages(rec, "pip"))
    assert elapsed < TIMEOUT + SLACK
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert f"touch {marker}" not in out  # the grandchild was killed with its group


def test_cli_never_breaks_the_build(tmp_path):
    """Through the real command line: hanging tools, exit 0, stdout only the record."""
    bindir = _shim_dir(tmp_path, "hang")
    env = {**os.environ, "PATH": str(bindir)}
    started = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "buildcensus",
            "collect",
            "--checkout",
            str(tmp_path),
            "--project",
            "demo",
            "--version",
            "latest",
            "--build",
            "9",
            "--timeout",
            str(TIMEOUT),
            "--out",
            "-",
        ],
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert time.monotonic() - started < TIMEOUT + SLACK + 5
    assert proc.returncode == 0
    assert proc.stderr == b""
    rec = json.loads(proc.stdout)
    probes = {e["probe"] for e in rec["errors"]}
    assert {"pip", "apt", "config"} <= probes


def test_permission_denied_conf(tmp_path):
    """An unreadable or special conf.py is reported, never blocks (a FIFO would)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    os.mkfifo(docs / "conf.py")
    (tmp_path / ".readthedocs.yaml").write_text(
        "version: 2\nbuild:\n  os: ubuntu-24.04\n  tools:\n    python: '3.12'\n"
        "sphinx:\n  configuration: docs/conf.py\n"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    rec, elapsed = _collect(tmp_path, empty)
    assert elapsed < TIMEOUT + SLACK
    assert any("not a regular file" in m for m in _messages(rec, "doctool"))
