"""Against a real `buildcensus serve` process on 127.0.0.1: the CLI commands end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from buildcensus.lake import open_lake

from .conftest import Server, Tokens, auth


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


def test_submit_cli(server: Server, tokens: Tokens, record_dict, tmp_path: Path) -> None:
    good = records(record_dict, 3)
    bad = json.loads(json.dumps(record_dict))
    bad["project"]["slug"] = "../escape"
    f = tmp_path / "builds.ndjson"
    f.write_text("\n".join(json.dumps(r) for r in [*good, bad]) + "\n")
    proc = cli("submit", str(f), "--url", server.url, "--token", tokens.write, "--batch-size", "2")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert [ln.split()[0] for ln in lines] == ["stored", "stored", "stored", "rejected"]
    assert lines[3] == f"rejected {f}:4: project.slug: " + lines[3].split(": ", 2)[2]
    # Re-sending is safe: everything comes back as duplicate, exit 0.
    arr = tmp_path / "builds.json"
    arr.write_text(json.dumps(good))
    proc = cli("submit", str(arr), "--url", server.url, "--token", tokens.write)
    assert proc.returncode == 0, proc.stderr
    assert [ln.split()[0] for ln in proc.stdout.splitlines()] == ["duplicate"] * 3
    # stdin, NDJSON
    more = "\n".join(json.dumps(r) for r in records(record_dict, 2, start=10))
    proc = cli("submit", "-", "--url", server.url, "--token", tokens.write, stdin=more)
    assert proc.returncode == 0, proc.stderr
    assert len(list(open_lake(str(tmp_path / "lake")).iter_keys())) == 5
    # a read token cannot post: a configuration error, exit 2
    proc = cli("submit", str(arr), "--url", server.url, "--token", tokens.read)
    assert proc.returncode == 2
    assert "refused the token" in proc.stderr


def test_submit_gives_up_when_nothing_listens(tokens: Tokens, tmp_path: Path, record_dict) -> None:
    f = tmp_path / "r.json"
    f.write_text(json.dumps(record_dict))
    proc = cli(
        "submit", str(f), "--url", "http://127.0.0.1:9", "--token", tokens.write,
        "--attempts", "2",
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: gave up after 2 attempts: ConnectError")


def test_token_create_cli(tmp_path: Path) -> None:
    f = tmp_path / "t.json"
    proc = cli("token", "create", "--tokens", str(f), "--scope", "write", "ci")
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.strip()
    assert token.startswith("bct_") and len(token) > 40 and "\n" not in token
    assert token not in f.read_text()
    assert (f.stat().st_mode & 0o777) == 0o600
    proc = cli("token", "create", "--tokens", str(f), "--scope", "write", "ci")
    assert proc.returncode == 2 and "already exists" in proc.stderr
    proc = cli("token", "create", "--tokens", str(f), "--scope", "admin", "x")
    assert proc.returncode == 2
    proc = cli("token", "list", "--tokens", str(f))
    assert proc.stdout.split("\t")[:2] == ["ci", "write"]
    assert cli("token", "revoke", "--tokens", str(f), "ci").returncode == 0
    assert cli("token", "revoke", "--tokens", str(f), "ci").returncode == 2


def test_serve_with_exclude_projects(tmp_path: Path, tokens: Tokens, record_dict) -> None:
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
    assert cli("serve", "--exclude-projects", str(tmp_path / "missing")).returncode == 2
