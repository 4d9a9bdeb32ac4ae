"""Fixtures for the service tests: tokens, an in-process ASGI client, a real uvicorn server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from buildcensus.service import Limits, ServiceSettings, create_app
from buildcensus.service.auth import create_token


@dataclass
class Tokens:
    file: Path
    write: str
    read: str
    both: str


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def tokens(tmp_path: Path) -> Tokens:
    """A tokens file with a write, a read and a read+write token."""
    f = tmp_path / "tokens.json"
    return Tokens(
        f,
        write=create_token(f, "builders", ["write"]),
        read=create_token(f, "analysts", ["read"]),
        both=create_token(f, "admin", ["read", "write"]),
    )


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def make_settings(tmp_path: Path, tokens: Tokens, **limits: int) -> ServiceSettings:
    return ServiceSettings(
        lake_url=str(tmp_path / "lake"),
        warehouse_url=str(tmp_path / "warehouse"),
        tokens_file=tokens.file,
        limits=Limits(**limits),
    )


@pytest.fixture
async def client(tmp_path: Path, tokens: Tokens) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process (small limits so the limit tests stay cheap)."""
    app = create_app(make_settings(tmp_path, tokens, max_body_bytes=200_000, max_batch=5))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        c.app = app  # type: ignore[attr-defined]
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`buildcensus serve` in a subprocess on 127.0.0.1; restartable on the same port."""

    def __init__(self, lake: Path, tokens: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [
            sys.executable, "-m", "buildcensus", "serve", "--port", str(self.port),
            "--lake", str(lake), "--tokens", str(tokens), "--log-level", "warning", *extra,
        ]  # fmt: skip
        self.log = lake.parent / f"server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(self.args, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()}")
            try:
                if httpx.get(self.url + "/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # SIGKILL: no shutdown handler runs
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def server(tmp_path: Path, tokens: Tokens) -> Iterator[Server]:
    srv = Server(tmp_path / "lake", tokens.file, "--max-batch", "50")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def lake_files(root: Path) -> dict[str, bytes]:
    """Every file under a lake's `root` by path relative to it, the lock file aside (an empty
    file the first store creates)."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if name == ".ingest.lock":
                continue
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


def children_of(pid: int, marker: bytes) -> list[int]:
    """The pids of the live child processes of `pid` whose command line holds `marker`
    (Linux /proc; a zombie's command line is empty)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and marker in cmdline:
            found.append(int(proc.name))
    return found


def writer_processes(pid: int) -> list[int]:
    """The lake writer processes (`lake.writer`) of the server `pid`."""
    return children_of(pid, b"buildcensus.lake.writer")
