"""Against a real `buildcensus serve` process on 127.0.0.1: the CLI commands end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from buildcensus.cli import main
from buildcensus.lake import open_lake

from .conftest import Server, Tokens, auth, writer_processes


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The CLI in-process (fast); `cli` below runs it as a real subprocess."""
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "buildcensus", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def records(base: dict[str, Any], n: int, start: int = 0) -> list[dict[str, Any]]:
    out = []
    for i in range(start, start + n):
        rec = json.loads(json.dumps(base))
        rec["build"]["id"] = i
        rec["build"]["commit"] = f"c{i}"
        out.append(rec)
    return out


def test_post_retry_and_errors_over_http(server: Server, tokens: Tokens, record_dict) -> None:
    url = server.url + "/api/v1/builds"
    h = {"content-type": "application/json", **auth(tokens.write)}
    body = json.dumps(record_dict)
    with httpx.Client(timeout=10) as c:
        assert c.post(url, content=body, headers=h).status_code == 201
        r = c.post(url, content=body, headers=h)
        assert (r.status_code, r.json()["status"]) == (200, "duplicate")
        assert c.post(url, content=body).json()["error"]["code"] == "unauthorized"
        assert c.post(url, content=body, headers={**h, **auth(tokens.read)}).status_code == 403
        r = c.post(url, content=body, headers={**h, "content-type": "text/plain"})
        assert r.status_code == 415
        assert c.post(url, content=b"{x", headers=h).status_code == 400
        r = c.post(url, content=b" " * (9 << 20), headers=h)
        assert (r.status_code, r.json()["error"]["code"]) == (413, "payload_too_large")
        r = c.get(server.url + "/api/v1/builds/42", headers=auth(tokens.read))
        assert r.json()["build"]["id"] == 42
        metrics = c.get(server.url + "/metrics").text
        assert "buildcensus_records_stored_total 1\n" in metrics
        assert "buildcensus_records_duplicates_total 1\n" in metrics


def test_submit_cli(server: Server, tokens: Tokens, record_dict, tmp_path: Path, capsys) -> None:
    good = records(record_dict, 3)
    bad = json.loads(json.dumps(record_dict))
    bad["project"]["slug"] = "../escape"
    f = tmp_path / "builds.ndjson"
    f.write_text("\n".join(json.dumps(r) for r in [*good, bad]) + "\n")
    args = ("--url", server.url, "--token", tokens.write)
    code, out, err = run(capsys, "submit", str(f), *args, "--batch-size", "2")
    assert code == 1, err
    lines = out.splitlines()
    assert [ln.split()[0] for ln in lines] == ["stored", "stored", "stored", "rejected"]
    assert lines[3].startswith(f"rejected {f}:4: project.slug: invalid slug")
    # Re-sending is safe: everything comes back as duplicate, exit 0.
    arr = tmp_path / "builds.json"
    arr.write_text(json.dumps(good))
    code, out, err = run(capsys, "submit", str(arr), *args)
    assert code == 0, err
    assert [ln.split()[0] for ln in out.splitlines()] == ["duplicate"] * 3
    # A real subprocess reading NDJSON on stdin.
    more = "\n".join(json.dumps(r) for r in records(record_dict, 2, start=10))
    proc = cli("submit", "-", *args, stdin=more)
    assert proc.returncode == 0, proc.stderr
    assert [ln.split()[0] for ln in proc.stdout.splitlines()] == ["stored"] * 2
    assert len(list(open_lake(str(tmp_path / "lake")).iter_keys())) == 5
    # A read token cannot post: a configuration error, exit 2.
    code, _, err = run(capsys, "submit", str(arr), "--url", server.url, "--token", tokens.read)
    assert code == 2
    assert "refused the token" in err


def test_submit_gives_up_when_nothing_listens(tokens, tmp_path, record_dict, capsys) -> None:
    f = tmp_path / "r.json"
    f.write_text(json.dumps(record_dict))
    url = "http://127.0.0.1:9"
    code, _, err = run(capsys, "submit", str(f), "--url", url, "--token", "t", "--attempts", "2")
    assert code == 1
    assert err.startswith("error: gave up after 2 attempts: ConnectError")


def test_token_create_cli(tmp_path: Path, capsys) -> None:
    f = tmp_path / "t.json"
    proc = cli("token", "create", "--tokens", str(f), "--scope", "write", "ci")
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.strip()
    assert token.startswith("bct_") and len(token) > 40 and "\n" not in token
    assert token not in f.read_text()
    assert (f.stat().st_mode & 0o777) == 0o600
    code, _, err = run(capsys, "token", "create", "--tokens", str(f), "--scope", "write", "ci")
    assert code == 2 and "already exists" in err
    code, _, _ = run(capsys, "token", "create", "--tokens", str(f), "--scope", "admin", "x")
    assert code == 2
    code, out, _ = run(capsys, "token", "list", "--tokens", str(f))
    assert out.split("\t")[:2] == ["ci", "write"]
    assert run(capsys, "token", "revoke", "--tokens", str(f), "ci")[0] == 0
    assert run(capsys, "token", "revoke", "--tokens", str(f), "ci")[0] == 2


def test_serve_with_exclude_projects(tmp_path: Path, tokens: Tokens, record_dict, capsys) -> None:
    optout = tmp_path / "optout.txt"
    optout.write_text("demo\n")
    srv = Server(tmp_path / "lake2", tokens.file, "--exclude-projects", str(optout), "--public")
    srv.start()
    try:
        h = {"content-type": "application/json", **auth(tokens.write)}
        r = httpx.post(srv.url + "/api/v1/builds", content=json.dumps(record_dict), headers=h)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "project_opted_out")
    finally:
        srv.stop()
    code, _, err = run(capsys, "serve", "--exclude-projects", str(tmp_path / "missing"))
    assert code == 2 and "not found" in err


@pytest.mark.parametrize("writer", [True, False], ids=["writer-process", "no-writer-process"])
def test_serve_with_and_without_the_writer_process(
    tmp_path: Path, tokens: Tokens, record_dict, writer: bool
) -> None:
    """`serve` starts one writer process with the server (none with `--no-writer-process`);
    either way posts are stored, and it ends with the server."""
    extra = () if writer else ("--no-writer-process",)
    server = Server(tmp_path / "lake", tokens.file, *extra)
    server.start()
    assert server.proc is not None
    try:
        children: list[int] = []
        for _ in range(300 if writer else 25):
            children = writer_processes(server.proc.pid)
            if children:
                break
            time.sleep(0.02)
        assert len(children) == (1 if writer else 0)
        url = server.url + "/api/v1/builds"
        h = {"content-type": "application/json", **auth(tokens.write)}
        with httpx.Client(timeout=10) as c:
            for rec in records(record_dict, 20, start=500):
                assert c.post(url, content=json.dumps(rec), headers=h).status_code == 201
            batch = json.dumps(records(record_dict, 1, start=600))
            r = c.post(url + "/batch", content=batch, headers=h)
            assert (r.status_code, r.json()["stored"]) == (200, 1)
    finally:
        server.stop()
    for pid in children:  # the writer process ended with the server
        for _ in range(500):
            if not Path(f"/proc/{pid}").exists() or b"writer" not in _cmdline(pid):
                break
            time.sleep(0.01)
        assert not Path(f"/proc/{pid}").exists() or b"writer" not in _cmdline(pid)
    assert len(list(open_lake(str(tmp_path / "lake")).iter_keys())) == 21


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
