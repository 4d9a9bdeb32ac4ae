"""`serve --workers N`: several processes on one lake keep the per-build-id guarantees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from buildcensus.lake import open_lake
from buildcensus.lake.locks import BuildIdLocks
from buildcensus.service.app import settings_from_env, settings_to_env
from buildcensus.service.settings import Limits, ServiceSettings

from .conftest import Server, Tokens, auth, children_of

ROUNDS = 6
POSTERS = 12


def _post_all(url: str, token: str, bodies: list[bytes]) -> list[tuple[int, str]]:
    """Post every body at once, each on its own connection; (status, outcome) per body."""
    out: list[tuple[int, str]] = [(0, "")] * len(bodies)
    barrier = threading.Barrier(len(bodies))
    h = {"content-type": "application/json", **auth(token)}

    def post(i: int) -> None:
        with httpx.Client(timeout=30) as c:
            barrier.wait()
            r = c.post(url, content=bodies[i], headers=h)
            body = r.json()
            out[i] = (r.status_code, body.get("status") or body["error"]["code"])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_workers_serialize_each_build_id(
    tmp_path: Path, tokens: Tokens, record_dict: dict[str, Any]
) -> None:
    srv = Server(tmp_path / "lake", tokens.file, "--workers", "2")
    srv.start(timeout=40)
    try:
        url = srv.url + "/api/v1/builds"
        for r in range(ROUNDS):
            # Same id, different content from every poster: one wins, the others get 409.
            bodies = []
            for i in range(POSTERS):
                rec = json.loads(json.dumps(record_dict))
                rec["build"]["id"] = 1000 + r
                rec["build"]["commit"] = f"c{r}-{i}"
                bodies.append(json.dumps(rec).encode())
            got = Counter(_post_all(url, tokens.write, bodies))
            assert got == {(201, "stored"): 1, (409, "conflict"): POSTERS - 1}, got
            # Same id, same content (retries): one stored, the rest duplicates of it.
            rec = json.loads(json.dumps(record_dict))
            rec["build"]["id"] = 2000 + r
            rec["python"] = f"3.{r}"  # not a same-day duplicate of another round
            got = Counter(_post_all(url, tokens.write, [json.dumps(rec).encode()] * POSTERS))
            assert got == {(201, "stored"): 1, (200, "duplicate"): POSTERS - 1}, got
        assert srv.proc is not None
        assert len(children_of(srv.proc.pid, b"spawn_main")) == 2  # uvicorn's workers
    finally:
        srv.stop()
    lake = open_lake(str(tmp_path / "lake"))
    assert len(list(lake.iter_keys())) == 2 * ROUNDS


def test_workers_need_a_local_lake(tokens: Tokens) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "buildcensus", "serve", "--lake", "s3://bucket/lake",
         "--tokens", str(tokens.file), "--workers", "2"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"},
    )  # fmt: skip
    assert r.returncode != 0


def test_settings_survive_the_environment(tmp_path: Path) -> None:
    s = ServiceSettings(
        lake_url=str(tmp_path / "lake"),
        tokens_file=tmp_path / "t.json",
        limits=Limits(max_batch=7, max_depth=9),
        public=True,
    )
    assert settings_from_env(settings_to_env(s)) == s


def test_build_id_locks_exclude_other_processes(tmp_path: Path) -> None:
    lock_file = tmp_path / "locks"
    locks = BuildIdLocks(lock_file)
    probe = (
        "import fcntl, os, sys, zlib\n"
        "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "stripe = zlib.crc32(sys.argv[2].encode()) % 64\n"
        "try:\n"
        "    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, stripe)\n"
        "except OSError:\n"
        "    sys.exit(3)\n"
    )

    def other_process_can_lock(build_id: str) -> bool:
        r = subprocess.run([sys.executable, "-c", probe, str(lock_file), build_id], check=False)
        return r.returncode == 0

    with locks.hold(5):
        assert not other_process_can_lock("5")  # 5 and "5" name one key
    assert other_process_can_lock("5")


@pytest.mark.parametrize("build_id", [5, "abc"])
def test_build_id_locks_without_a_file(build_id: int | str) -> None:
    locks = BuildIdLocks()
    with locks.hold(build_id):
        pass
