"""Fixtures for the dashboard tests: a small simulated history, imported into a warehouse,
tokens, the app in-process, and `buildcensus serve` as a real process on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from buildcensus.lake import open_lake
from buildcensus.service import ServiceSettings, create_app
from buildcensus.service.auth import create_token
from buildcensus.simulate import SimulateOptions, write_lake
from buildcensus.warehouse import open_warehouse

#: Public-mode threshold in the tests: small enough that some values pass with 24 projects.
K = 5
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"


@dataclass
class Data:
    lake: Path
    warehouse: Path
    tokens: Path
    read: str
    write: str
    #: The simulated history ends the day before; every window of the tests reaches it.
    now: datetime


@pytest.fixture(scope="session")
def data(tmp_path_factory: pytest.TempPathFactory) -> Data:
    """24 projects over 45 days ending yesterday, stored in a lake and imported."""
    root = tmp_path_factory.mktemp("web")
    end = datetime.now(UTC).date() - timedelta(days=1)
    opts = SimulateOptions(projects=24, days=45, seed=11, end=end)
    write_lake(opts, str(root / "lake"), durable=False)
    open_warehouse(str(root / "warehouse")).import_lake(open_lake(str(root / "lake")))
    tokens = root / "tokens.json"
    read = create_token(tokens, "analyst", ["read"])
    write = create_token(tokens, "builder", ["write"])
    now = datetime.combine(date.today(), datetime.min.time())
    return Data(root / "lake", root / "warehouse", tokens, read, write, now)


def make_app(data: Data, public: bool = False, min_projects: int = K, clock: bool = True):
    """The service in-process; its clock is pinned to `data.now` unless clock=False."""
    app = create_app(
        ServiceSettings(
            lake_url=str(data.lake),
            warehouse_url=str(data.warehouse),
            tokens_file=data.tokens,
            public=public,
            min_projects=min_projects,
        )
    )
    if clock:
        app.state.clock = lambda: data.now
    return app


@pytest.fixture
def client(data: Data) -> Iterator[Asgi]:
    """A client of the private-mode app (not logged in)."""
    with asgi(make_app(data)) as c:
        yield c


class Asgi:
    """A synchronous face on `httpx.AsyncClient` over the app in-process (no redirects)."""

    def __init__(self, app) -> None:
        self.loop = asyncio.new_event_loop()
        transport = httpx.ASGITransport(app=app)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        self.cookies = self.client.cookies

    def get(self, url: str, **kw) -> httpx.Response:
        return self.loop.run_until_complete(self.client.get(url, **kw))

    def post(self, url: str, **kw) -> httpx.Response:
        return self.loop.run_until_complete(self.client.post(url, **kw))

    def __enter__(self) -> Asgi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


def asgi(app) -> Asgi:
    """An in-process client of `app`."""
    return Asgi(app)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    proc: subprocess.Popen


@pytest.fixture(scope="session")
def server(data: Data) -> Iterator[Server]:
    """`buildcensus serve` on a random free port of 127.0.0.1, stopped after the session."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "buildcensus", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--lake", str(data.lake), "--warehouse", str(data.warehouse),
        "--tokens", str(data.tokens), "--log-level", "warning",
    ]  # fmt: skip
    log = data.lake.parent / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + "/login", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"server did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)
    yield Server(url, proc)
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
