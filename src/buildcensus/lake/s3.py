"""The lake's Storage on any S3-compatible service (AWS S3, SeaweedFS, MinIO, Ceph), via boto3.

* `put` is one PUT: S3 makes a whole object visible at once, so readers see the old object,
  the new one, or nothing -- never a partial write.
* `put_if_absent` is a conditional PUT (`If-None-Match: *`); the server decides atomically, so
  two writers racing for a key get exactly one True. Servers that answer 501 Not Implemented get
  HEAD-then-PUT instead, which has a race: two writers can both see "absent" and both PUT, the
  last one winning. The lake tolerates that (both write equal content-addressed blobs, and a
  dedup marker only ever names a live document), but it is not create-once.
* `list` pages through ListObjectsV2 (`page_size` keys per request, 1000 at most on AWS).

Settings (endpoint, region, credentials) come from `buildcensus.storage_fs.s3_settings`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from buildcensus.errors import (
    BuildcensusError,
    LakeError,
    MissingExtraError,
    NotFoundError,
    UsageError,
)
from buildcensus.lake.storage import check_key
from buildcensus.storage_fs import S3Settings, parse_s3_url, s3_settings

try:
    import boto3  # noqa: F401  (fail early with a hint when the extra is missing)
    import botocore.config
    import botocore.exceptions
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    raise MissingExtraError("s3", _exc.name or "boto3") from None

__all__ = ["S3Storage"]

_MISSING = {"404", "NoSuchKey", "NotFound"}
_AUTH = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}


_clients: dict[tuple[S3Settings, int], Any] = {}
_clients_lock = threading.Lock()


def _client(settings: S3Settings, max_attempts: int) -> Any:
    """A boto3 S3 client per settings, shared (clients are thread-safe; creating one is slow)."""
    with _clients_lock:
        client = _clients.get((settings, max_attempts))
        if client is None:
            config = botocore.config.Config(
                connect_timeout=5,
                read_timeout=60,
                retries={"max_attempts": max_attempts, "mode": "standard"},
                max_pool_connections=32,
                s3={"addressing_style": "path" if settings.path_style else "auto"},
            )
            client = settings.boto3_session().client(
                "s3", endpoint_url=settings.endpoint_url, config=config
            )
            if len(_clients) >= 16:
                _clients.clear()
            _clients[(settings, max_attempts)] = client
        return client


class S3Storage:
    """A Storage on `s3://bucket/prefix`: keys become `prefix/key` objects in the bucket."""

    def __init__(
        self,
        url: str,
        *,
        settings: S3Settings | None = None,
        page_size: int = 1000,
        conditional_put: bool = True,
        check: bool = True,
        max_attempts: int = 4,
    ) -> None:
        """Open the store; with `check`, fail now (one line) if the bucket is not reachable."""
        self.bucket, self.prefix = parse_s3_url(url)
        self.url = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        if not 1 <= page_size <= 1000:
            raise UsageError(f"S3 list page size must be 1..1000, got {page_size}")
        self.page_size = page_size
        self.settings = settings or s3_settings()
        # False: use HEAD-then-PUT (racy; see the module docstring). Flips on a 501 answer.
        self.conditional_put = conditional_put
        self.client: Any = _client(self.settings, max_attempts)
        if check:
            self._check_bucket()

    def __repr__(self) -> str:
        return f"S3Storage({self.url!r}, endpoint={self.settings.endpoint_url!r})"

    # ------------------------------------------------------------------ helpers

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _where(self) -> str:
        return self.settings.endpoint_url or f"AWS S3 ({self.settings.region})"

    def _error(self, exc: Exception, op: str, key: str = "") -> BuildcensusError:
        """A one-line error for a boto error (never a traceback for the user)."""
        target = f"{self.url}/{key}" if key else self.url
        if isinstance(exc, botocore.exceptions.NoCredentialsError):
            return UsageError(
                "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                "(or AWS_PROFILE)"
            )
        if isinstance(exc, botocore.exceptions.ClientError):
            err = exc.response.get("Error", {})
            code = str(err.get("Code", "?"))
            if code == "NoSuchBucket":
                return LakeError(f"S3 bucket {self.bucket!r} does not exist at {self._where()}")
            if code in _AUTH:
                return LakeError(f"S3 refused {op} {target}: {code} (check the credentials)")
            message = err.get("Message") or exc.response.get("ResponseMetadata", {}).get(
                "HTTPStatusCode", ""
            )
            return LakeError(f"S3 {op} {target} failed: {code}: {message}")
        if isinstance(exc, botocore.exceptions.EndpointConnectionError | ConnectionError):
            return LakeError(f"cannot reach S3 at {self._where()}: {exc}")
        return LakeError(f"S3 {op} {target} failed: {exc}")

    def _check_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except botocore.exceptions.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise UsageError(
                    f"S3 bucket {self.bucket!r} does not exist at {self._where()}"
                ) from None
            raise self._error(exc, "open") from None
        except (botocore.exceptions.BotoCoreError, ConnectionError) as exc:
            raise self._error(exc, "open") from None

    @staticmethod
    def _code(exc: botocore.exceptions.ClientError) -> str:
        return str(exc.response.get("Error", {}).get("Code", ""))

    # ------------------------------------------------------------------ Storage

    def put(self, key: str, data: bytes) -> None:
        """Write the object in one PUT (atomic: all or nothing for readers)."""
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise self._error(exc, "put", key) from None

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Create the object unless it exists (conditional PUT); True when this call created it."""
        if not self.conditional_put:
            if self.exists(key):
                return False
            self.put(key, data)
            return True
        for attempt in range(5):
            try:
                self.client.put_object(
                    Bucket=self.bucket, Key=self._key(key), Body=data, IfNoneMatch="*"
                )
                return True
            except botocore.exceptions.ClientError as exc:
                code = self._code(exc)
                if code in ("PreconditionFailed", "412"):
                    return False
                if code in ("ConditionalRequestConflict", "409"):
                    # Another conditional write on this key is in flight: ask again shortly.
                    time.sleep(0.05 * (attempt + 1))
                    continue
                if code in ("NotImplemented", "501"):
                    self.conditional_put = False
                    return self.put_if_absent(key, data)
                raise self._error(exc, "put", key) from None
            except botocore.exceptions.BotoCoreError as exc:
                raise self._error(exc, "put", key) from None
        raise LakeError(f"S3 put {self.url}/{key} failed: conflicting concurrent writes")

    def get(self, key: str) -> bytes:
        """Read an object, raising NotFoundError when absent."""
        return self.get_with_etag(key)[0]

    def exists(self, key: str) -> bool:
        """True when the object exists (one HEAD)."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except botocore.exceptions.ClientError as exc:
            if self._code(exc) in _MISSING:
                return False
            raise self._error(exc, "head", key) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise self._error(exc, "head", key) from None

    def delete(self, key: str) -> None:
        """Delete an object; deleting a missing object is not an error (S3 semantics)."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise self._error(exc, "delete", key) from None

    # ------------------------------------------------------- S3-only (locks and leases)

    def put_if_absent_etag(self, key: str, data: bytes) -> str | None:
        """Like `put_if_absent`, returning the new object's ETag (None when it existed)."""
        try:
            response = self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, IfNoneMatch="*"
            )
        except botocore.exceptions.ClientError as exc:
            if self._code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                return None
            raise self._error(exc, "put", key) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise self._error(exc, "put", key) from None
        return str(response["ETag"])

    def get_with_etag(self, key: str) -> tuple[bytes, str]:
        """Read an object and its ETag (NotFoundError when absent)."""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            return response["Body"].read(), str(response["ETag"])
        except botocore.exceptions.ClientError as exc:
            if self._code(exc) in _MISSING:
                raise NotFoundError(f"not in the lake: {key}") from None
            raise self._error(exc, "get", key) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise self._error(exc, "get", key) from None

    def delete_if_match(self, key: str, etag: str) -> bool:
        """Delete the object only while its ETag is `etag` (conditional DELETE); True if deleted."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key), IfMatch=etag)
            return True
        except botocore.exceptions.ClientError as exc:
            if self._code(exc) in ("PreconditionFailed", "412", *_MISSING):
                return False
            raise self._error(exc, "delete", key) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise self._error(exc, "delete", key) from None

    def list(self, prefix: str = "") -> Iterator[str]:
        """Every key under the directory `prefix`, page by page (in S3's key order)."""
        prefix = prefix.strip("/")
        if prefix:
            check_key(prefix)
        full = "/".join(p for p in (self.prefix, prefix) if p)
        full = f"{full}/" if full else ""
        strip = len(self.prefix) + 1 if self.prefix else 0
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self.bucket, Prefix=full, PaginationConfig={"PageSize": self.page_size}
        )
        try:
            for page in pages:
                for obj in page.get("Contents", ()):
                    name: str = obj["Key"]
                    if not name.endswith("/"):  # skip "directory marker" objects
                        yield name[strip:]
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise self._error(exc, "list", prefix) from None
