"""Object storage behind one small interface: a local directory now, S3 in `s3.py`."""

from __future__ import annotations

import ctypes
import os
import tempfile
import threading
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


class _GroupSync:
    """Group commit: many writers share one `syncfs` of the lake's file system.

    A writer calls `wait()` after its (unsynced) writes; it returns once a sync that started
    after the call has finished, so everything the writer wrote is on disk. Concurrent writers
    ride on the same sync, which turns N fsync pairs into one call under load.
    """

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(root, os.O_RDONLY)
        self._cond = threading.Condition()
        self._requested = 0
        self._done = 0
        self._syncing = False
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            self._syncfs = libc.syncfs
        except (OSError, AttributeError):  # pragma: no cover - non-Linux
            self._syncfs = None

    def _sync(self) -> None:
        if self._syncfs is None or self._syncfs(self._fd) != 0:  # pragma: no cover
            os.sync()

    def wait(self) -> None:
        with self._cond:
            self._requested += 1
            ticket = self._requested
            while self._done < ticket:
                if self._syncing:
                    self._cond.wait()
                    continue
                self._syncing = True
                target = self._requested
                self._cond.release()
                try:
                    self._sync()
                finally:
                    self._cond.acquire()
                    self._syncing = False
                    self._done = max(self._done, target)
                    self._cond.notify_all()


class LocalStorage:
    """A directory tree. Atomic writes by temp file + fsync + os.replace.

    `durable=False` skips every fsync (bulk loads sync once at the end). `group_commit=True`
    skips the per-file fsyncs and makes `sync()` share one file-system sync among concurrent
    writers (the ingest service acknowledges a record only after `sync()` returned).
    """

    def __init__(
        self, root: str | os.PathLike[str], durable: bool = True, group_commit: bool = False
    ) -> None:
        self.root = Path(root)
        self.url = str(self.root)
        self.durable = durable and not group_commit
        self._dirs: set[str] = set()
        self._group = _GroupSync(self.root) if group_commit else None

    def sync(self) -> None:
        """Make every write made so far by this process durable (group commit)."""
        if self._group is not None:
            self._group.wait()

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _write_temp(self, path: Path, data: bytes) -> str:
        parent = str(path.parent)
        if parent not in self._dirs:  # one mkdir per directory and process, not per write
            path.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(parent)
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


def open_storage(
    url: str | os.PathLike[str], durable: bool = True, group_commit: bool = False
) -> Storage:
    """Open a store from a path or URL (`s3://bucket/prefix` needs the s3 extra).

    `durable=False` skips the per-file fsync of local writes (bulk loads sync once at the end).
    """
    text = str(url)
    if text.startswith("s3://"):
        from buildcensus.lake.s3 import S3Storage  # optional extra

        return S3Storage(text)
    if text.startswith("file://"):
        text = text[len("file://") :]
    return LocalStorage(text, durable=durable, group_commit=group_commit)
