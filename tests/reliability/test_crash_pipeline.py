"""Crash safety across the pipeline: SIGKILL `serve`, `store` and `import` at random points in
repeated trials, then check: no acknowledged record lost, no duplicate, no torn file, and a
warehouse equal to a clean rebuild from the same lake."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from buildcensus.lake import open_lake
from buildcensus.lake.keys import build_id_from_key
from buildcensus.warehouse import open_warehouse
from buildcensus.warehouse._schema import TABLES

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "buildcensus"]


def _records(tmp: Path, n: int) -> list[dict]:
    out = tmp / "sim.ndjson"
    subprocess.run(
        [
            *CLI,
            "simulate",
            "--projects",
            "40",
            "--days",
            "20",
            "--seed",
            "9",
            "--end",
            "2026-11-30",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    return [json.loads(line) for line in out.read_text().splitlines()[:n]]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(lake: Path, tokens: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            *CLI,
            "serve",
            "--port",
            str(port),
            "--lake",
            str(lake),
            "--tokens",
            str(tokens),
            "--log-level",
            "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise TimeoutError("server did not start")


def _snapshot(url: str) -> dict[str, list]:
    con = open_warehouse(url).connect()
    try:
        return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}
    finally:
        con.close()


def test_sigkill_serve_store_import(tmp_path):
    rng = random.Random(20261204)
    records = _records(tmp_path, 240)
    lake_dir, wh_dir = tmp_path / "lake", tmp_path / "wh"
    tokens = tmp_path / "tokens.json"
    token = subprocess.run(
        [*CLI, "token", "create", "--tokens", str(tokens), "--scope", "write", "crash"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    acked: set[str] = set()
    scenarios = 0

    # 1. serve: post while the server is SIGKILLed and restarted.
    via_http, via_cli = records[:120], records[120:]
    port = _port()
    pending = list(via_http)
    for _trial in range(3):
        server = _serve(lake_dir, tokens, port)
        stop = threading.Event()

        def post(batch: list[dict], stop: threading.Event = stop) -> None:
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                timeout=5,
                headers={"Authorization": f"Bearer {token}"},
            ) as c:
                for rec in batch:
                    if stop.is_set():
                        return
                    try:
                        r = c.post("/api/v1/builds", json=rec)
                    except httpx.HTTPError:
                        return
                    if r.status_code in (200, 201):
                        acked.add(str(rec["build"]["id"]))

        t = threading.Thread(target=post, args=(pending,))
        t.start()
        time.sleep(rng.uniform(0.2, 1.0))
        server.send_signal(signal.SIGKILL)
        server.wait()
        stop.set()
        t.join()
        scenarios += 1
        pending = [r for r in via_http if str(r["build"]["id"]) not in acked]
    server = _serve(lake_dir, tokens, port)  # the client retries what was not acknowledged
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            timeout=30,
            headers={"Authorization": f"Bearer {token}"},
        ) as c:
            for rec in pending:
                assert c.post("/api/v1/builds", json=rec).status_code in (200, 201)
                acked.add(str(rec["build"]["id"]))
    finally:
        server.terminate()
        server.wait()

    # 2. store: SIGKILL the CLI mid-way; lines it printed are its acknowledgements.
    nd = tmp_path / "cli.ndjson"
    nd.write_text("".join(json.dumps(r) + "\n" for r in via_cli))
    for _trial in range(2):
        proc = subprocess.Popen(
            [*CLI, "store", str(nd), "--lake", str(lake_dir)], stdout=subprocess.PIPE, text=True
        )
        time.sleep(rng.uniform(0.5, 2.0))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        for line in out.splitlines():
            if line.startswith(("stored ", "duplicate ")):
                acked.add(build_id_from_key(line.split()[1]))
        scenarios += 1
    done = subprocess.run(
        [*CLI, "store", str(nd), "--lake", str(lake_dir)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-2000:]
    acked |= {build_id_from_key(ln.split()[1]) for ln in done.stdout.splitlines()}

    # 3. import: SIGKILL at random points, then finish.
    env = {**os.environ, "BUILDCENSUS_LAKE": str(lake_dir), "BUILDCENSUS_WAREHOUSE": str(wh_dir)}
    for _trial in range(3):
        proc = subprocess.Popen(
            [*CLI, "import", "--batch-size", "20", "--no-progress"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.8, 3.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        scenarios += 1
    assert (
        subprocess.run([*CLI, "import", "--no-progress"], env=env, capture_output=True).returncode
        == 0
    )

    # Checks.
    lake = open_lake(str(lake_dir))
    keys = list(lake.iter_keys())
    ids = [build_id_from_key(k) for k in keys]
    assert len(ids) == len(set(ids)), "a build is in the lake twice"
    assert acked <= set(ids), f"acknowledged but lost: {sorted(acked - set(ids))[:5]}"
    assert len(acked) == len(records)
    for k in keys:
        lake.load(k)  # no torn document
    assert not [k for k in lake.storage.list() if ".tmp-" in k], "temp file visible"
    clean = tmp_path / "clean"
    subprocess.run(
        [*CLI, "import", "--no-progress", "--lake", str(lake_dir), "--warehouse", str(clean)],
        check=True,
        capture_output=True,
    )
    assert _snapshot(str(wh_dir)) == _snapshot(str(clean))
    assert scenarios == 8
