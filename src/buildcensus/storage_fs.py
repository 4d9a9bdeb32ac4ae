"""Where a lake or warehouse lives: local paths and `s3://bucket/prefix` URLs.

One place resolves S3 settings (endpoint, region, credentials) so that the lake
(`buildcensus.lake.s3`, boto3), the warehouse's Arrow datasets (`pyarrow.fs`) and DuckDB (an
fsspec filesystem, since DuckDB has no httpfs here) all talk to the same server the same way.

Settings, highest priority first:

* endpoint: `BUILDCENSUS_S3_ENDPOINT`, `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`; none means AWS.
* region: `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`; else `us-east-1`.
* credentials: boto3's usual chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/
  `AWS_SESSION_TOKEN`, `AWS_PROFILE` with `~/.aws/credentials` and `~/.aws/config`, ...).

A custom endpoint (SeaweedFS, MinIO, Ceph) is addressed path-style (`http://host/bucket/key`).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from buildcensus.errors import MissingExtraError, NotFoundError, UsageError, WarehouseError

if TYPE_CHECKING:
    import duckdb
    import fsspec
    import pyarrow.fs

__all__ = [
    "S3Settings",
    "fsspec_filesystem",
    "is_s3_url",
    "parse_s3_url",
    "register_duckdb_filesystem",
    "s3_lock",
    "s3_settings",
    "warehouse_filesystem",
]

ENDPOINT_ENV = ("BUILDCENSUS_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
DEFAULT_REGION = "us-east-1"
# S3 bucket naming rules (lowercase, digits, dots, hyphens; 3-63 chars).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def is_s3_url(url: str | os.PathLike[str]) -> bool:
    """True for `s3://...` (and Hadoop's `s3a://...`) URLs."""
    return str(url).startswith(("s3://", "s3a://"))


def parse_s3_url(url: str) -> tuple[str, str]:
    """Split `s3://bucket/prefix/` into `("bucket", "prefix")` (prefix without slashes)."""
    parts = urlsplit(url)
    if parts.scheme not in ("s3", "s3a") or parts.query or parts.fragment:
        raise UsageError(f"not an s3://bucket/prefix URL: {url!r}")
    bucket, prefix = parts.netloc, parts.path.strip("/")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise UsageError(f"invalid S3 bucket name in {url!r}")
    if prefix and any(p in ("", ".", "..") for p in prefix.split("/")):
        raise UsageError(f"invalid S3 prefix in {url!r}")
    return bucket, prefix


@dataclass(frozen=True)
class S3Settings:
    """Resolved connection settings for one S3-compatible service."""

    endpoint_url: str | None
    region: str
    access_key: str | None
    secret_key: str | None
    session_token: str | None
    profile: str | None = None
    # Temporary credentials (web identity, instance/container roles) expire: then each client
    # resolves its own (refreshing) chain instead of being handed a snapshot of the keys.
    refreshable: bool = False

    @property
    def path_style(self) -> bool:
        """Custom endpoints (SeaweedFS, MinIO) rarely have per-bucket DNS names."""
        return self.endpoint_url is not None

    @property
    def static_keys(self) -> bool:
        """True when clients should be given the access key and secret directly."""
        return bool(self.access_key and self.secret_key) and not self.refreshable

    def boto3_session(self) -> Any:
        """A boto3 Session carrying these settings."""
        boto3 = _import("boto3")
        if not self.static_keys:
            return boto3.Session(profile_name=self.profile, region_name=self.region)
        return boto3.Session(
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            aws_session_token=self.session_token,
            region_name=self.region,
        )


def _import(module: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise MissingExtraError("s3", module) from None


_sessions: dict[tuple[Any, ...], Any] = {}
_sessions_lock = threading.Lock()


def _resolver_session(profile: str | None) -> Any:
    """A boto3 Session for resolving settings, reused while the AWS_* environment is unchanged.

    Creating one costs ~0.2 s of CPU (botocore loads its data files); its credential provider
    chain depends only on the environment and the AWS config files, and refreshing credentials
    stay valid objects, so one per environment is enough.
    """
    boto3 = _import("boto3")
    key = (profile, *sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
    with _sessions_lock:  # boto3 Sessions are not thread-safe to create or share
        session = _sessions.get(key)
        if session is None:
            try:
                session = boto3.Session(profile_name=profile)
            except Exception as exc:  # botocore.exceptions.ProfileNotFound and friends
                raise UsageError(f"AWS configuration: {exc}") from None
            if len(_sessions) >= 8:
                _sessions.clear()
            _sessions[key] = session
        return session


def s3_settings(env: os._Environ[str] | dict[str, str] | None = None) -> S3Settings:
    """Resolve endpoint, region and credentials from `env` (default: the process env)."""
    env = os.environ if env is None else env
    endpoint = next((env[k] for k in ENDPOINT_ENV if env.get(k)), None)
    if endpoint is not None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(f"S3 endpoint must be an http(s) URL, got {endpoint!r}")
        endpoint = endpoint.rstrip("/")
    profile = env.get("AWS_PROFILE") or None
    session = _resolver_session(profile)
    region = env.get("AWS_REGION") or session.region_name or DEFAULT_REGION
    try:
        creds = session.get_credentials()
    except Exception as exc:  # a broken profile or credential_process
        raise UsageError(f"AWS credentials: {exc}") from None
    frozen = creds.get_frozen_credentials() if creds is not None else None
    refreshable = creds is not None and hasattr(creds, "refresh_needed")
    return S3Settings(
        endpoint_url=endpoint,
        region=region,
        access_key=frozen.access_key if frozen else None,
        secret_key=frozen.secret_key if frozen else None,
        session_token=frozen.token if frozen else None,
        profile=profile,
        refreshable=refreshable,
    )


@contextmanager
def s3_lock(
    url: str,
    name: str = "_lock",
    *,
    stale_after: float = 6 * 3600,
    clock: Callable[[], float] = time.time,
) -> Iterator[None]:
    """Hold the object `url/name` as an exclusive lock (one import or prune at a time).

    Taken with a conditional PUT, so of two processes racing exactly one gets it; the other
    raises WarehouseError naming the holder. A lock older than `stale_after` seconds (a job that
    was killed) is broken with a conditional DELETE on the ETag that was read, so two breakers
    cannot both win. Released with a conditional DELETE too: never removes someone else's lock.
    """
    from buildcensus.lake.s3 import S3Storage

    storage = S3Storage(url)
    body = orjson.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": clock()})
    etag = storage.put_if_absent_etag(name, body)
    if etag is None:
        try:
            data, held_etag = storage.get_with_etag(name)
            held = orjson.loads(data)
            since = float(held["since"])
        except NotFoundError:  # released meanwhile
            held, since, held_etag = {}, clock(), ""
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            held, since, held_etag = {}, 0.0, held_etag  # unreadable: treat as stale
        if held_etag and clock() - since > stale_after:
            storage.delete_if_match(name, held_etag)
        etag = storage.put_if_absent_etag(name, body)
        if etag is None:
            who = f"{held.get('host', '?')} pid {held.get('pid', '?')}" if held else "another job"
            raise WarehouseError(
                f"another import or prune is running on {url} (lock {name} held by {who}; "
                f"delete {url}/{name} if that job is gone)"
            )
    try:
        yield
    finally:
        storage.delete_if_match(name, etag)


def warehouse_filesystem(
    url: str | os.PathLike[str], settings: S3Settings | None = None
) -> tuple[pyarrow.fs.FileSystem, str]:
    """A pyarrow filesystem and the root path inside it, for a directory or `s3://` URL.

    Local: `(LocalFileSystem(), "/abs/dir")`. S3: `(S3FileSystem(...), "bucket/prefix")`, ready
    for `pyarrow.dataset.dataset(f"{root}/builds", filesystem=fs, partitioning="hive")` and
    `pyarrow.parquet.write_table(table, f"{root}/t/part-1.parquet", filesystem=fs)` (one PUT,
    so readers never see half a file).
    """
    import pyarrow.fs as pafs

    text = str(url)
    if not is_s3_url(text):
        if text.startswith("file://"):
            text = text[len("file://") :]
        return pafs.LocalFileSystem(), str(Path(text).resolve())
    bucket, prefix = parse_s3_url(text)
    s = settings or s3_settings()
    if not hasattr(pafs, "S3FileSystem"):
        raise MissingExtraError("s3", "pyarrow S3 support")
    kwargs: dict[str, Any] = {"region": s.region}
    if s.endpoint_url:
        parts = urlsplit(s.endpoint_url)
        kwargs.update(endpoint_override=parts.netloc, scheme=parts.scheme)
    if s.static_keys:
        kwargs.update(access_key=s.access_key, secret_key=s.secret_key)
        if s.session_token:
            kwargs["session_token"] = s.session_token
    fs = pafs.S3FileSystem(**kwargs)
    return fs, f"{bucket}/{prefix}" if prefix else bucket


def fsspec_filesystem(
    url: str | os.PathLike[str], settings: S3Settings | None = None
) -> tuple[fsspec.AbstractFileSystem, str]:
    """An fsspec filesystem and the root path in it (s3fs for `s3://`, else the local one)."""
    text = str(url)
    if not is_s3_url(text):
        from fsspec.implementations.local import LocalFileSystem

        if text.startswith("file://"):
            text = text[len("file://") :]
        return LocalFileSystem(), str(Path(text).resolve())
    bucket, prefix = parse_s3_url(text)
    s = settings or s3_settings()
    s3fs = _import("s3fs")
    kwargs: dict[str, Any] = {
        "client_kwargs": {"region_name": s.region},
        # Listings must see what was just written (import runs write, then read back).
        "use_listings_cache": False,
    }
    if s.endpoint_url:
        kwargs["endpoint_url"] = s.endpoint_url
        kwargs["config_kwargs"] = {"s3": {"addressing_style": "path"}}
    if s.static_keys:
        kwargs.update(key=s.access_key, secret=s.secret_key, token=s.session_token)
    elif s.profile:
        kwargs["profile"] = s.profile
    # fsspec's instance cache keys on these kwargs, so each distinct setting gets its own
    # filesystem, and the same settings reuse one for the whole process. Never make a fresh one
    # per call: a discarded s3fs filesystem closes its aiohttp session from a garbage-collection
    # finalizer, which schedules the close on whatever asyncio loop happens to be running then
    # (a web request's, a test's) and fails there with "attached to a different loop".
    fs = s3fs.S3FileSystem(**kwargs)
    return fs, f"{bucket}/{prefix}" if prefix else bucket


def register_duckdb_filesystem(
    con: duckdb.DuckDBPyConnection,
    url: str | os.PathLike[str],
    settings: S3Settings | None = None,
) -> str:
    """Make `url` readable and writable by DuckDB SQL on `con`; return the root to use in SQL.

    Local paths need nothing (returns the absolute directory). For `s3://bucket/prefix` an s3fs
    filesystem is registered on the connection (no httpfs needed) and `s3://bucket/prefix` is
    returned, so `read_parquet('{root}/builds/**/*.parquet', hive_partitioning=true)` and
    `COPY ... TO '{root}/t' (FORMAT parquet, PARTITION_BY (year, month), OVERWRITE_OR_IGNORE)`
    work unchanged.
    """
    text = str(url)
    if not is_s3_url(text):
        return fsspec_filesystem(text)[1]
    fs, root = fsspec_filesystem(text, settings)
    if con.filesystem_is_registered("s3"):  # replace: settings may have changed
        con.unregister_filesystem("s3")
    con.register_filesystem(fs)
    return f"s3://{root}"
