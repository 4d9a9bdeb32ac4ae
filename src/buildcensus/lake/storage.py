"""Object storage behind one small interface: a local directory now, S3 in `s3.py`."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from buildcensus.errors import LakeError, NotFoundError


def check_key(key: str) -> str:
    """Reject keys that could escape the store root (absolute, `..`, NUL, backslash)."""
    if (
        not key
        or key.startswith("/")
        or "\x00" in key
        or "\\" in key
        or any(part in ("", ".", "..") for part in key.split("/"))
    ):
        raise LakeError(f"invalid storage key: {key!r}")
    return key


class Storage(Protocol):
    """What the lake needs from an object store. Keys are '/'-separated relative paths."""

    url: str

    def put(self, key: str, data: bytes) -> None:
        """Write atomically: readers see the old object, the new one, or nothing."""

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Create the object unless it exists; True when this call created it."""

    def get(self, key: str) -> bytes:
        """Read an object, raising NotFoundError when absent."""

    def exists(self, key: str) -> bool:
        """True when the object exists."""

    def delete(self, key: str) -> None:
        """Delete an object; deleting a missing object is not an error."""

    def list(self, prefix: str = "") -> Iterator[str]:
        """Every key under `prefix`, in no particular order."""


class LocalStorage:
    """A directory tree. Atomic writes by temp file + fsync + os.replace."""

    def __init__(self, root: str | os.PathLike[str], durable: bool = True) -> None:
        self.root = Path(root)
        self.url = str(self.root)
        self.durable = durable

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _write_temp(self, path: Path, data: bytes) -> str:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                if self.durable:
                    f.flush()
                    os.fsync(f.fileno())
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return tmp

    def _sync_dir(self, path: Path) -> None:
        if self.durable:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        tmp = self._write_temp(path, data)
        os.replace(tmp, path)
        self._sync_dir(path.parent)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        if path.exists():
            return False
        tmp = self._write_temp(path, data)
        try:
            os.link(tmp, path)  # atomic create-if-absent: link fails when the name exists
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)
        self._sync_dir(path.parent)
        return True

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"not in the lake: {key}") from None
        except IsADirectoryError:
            raise NotFoundError(f"not an object: {key}") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> Iterator[str]:
        base = self.root / prefix if prefix else self.root
        if not base.exists():
            return
        root_len = len(str(self.root)) + 1
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                if name.startswith(".tmp-"):
                    continue
                yield (os.path.join(dirpath, name)[root_len:]).replace(os.sep, "/")


def open_storage(url: str | os.PathLike[str], durable: bool = True) -> Storage:
    """Open a store from a path or URL (`s3://bucket/prefix` needs the s3 extra).

    `durable=False` skips the per-file fsync of local writes (bulk loads sync once at the end).
    """
    text = str(url)
    if text.startswith("s3://"):
        from buildcensus.lake.s3 import S3Storage  # optional extra

        return S3Storage(text)
    if text.startswith("file://"):
        text = text[len("file://") :]
    return LocalStorage(text, durable=durable)
