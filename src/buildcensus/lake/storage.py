"""Object storage behind one small interface: a local directory now, S3 in `s3.py`."""

from __future__ import annotations

import asyncio
import ctypes
import itertools
import os
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from buildcensus.errors import LakeError, NotFoundError


def check_key(key: str) -> str:
    """Reject keys that could escape the store root (absolute, `..`, NUL, backslash)."""
    if not key or key[0] == "/" or "\x00" in key or "\\" in key:
        raise LakeError(f"invalid storage key: {key!r}")
    parts = key.split("/")
    if "" in parts or "." in parts or ".." in parts:
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

    A writer calls `wait()` (a thread) or awaits `wait_async()` (a coroutine, e.g. a request
    handler) after its (unsynced) writes; it returns once a sync that started after the call
    has finished, so everything the writer wrote is on disk. Concurrent writers ride on the
    same sync, which turns N fsync pairs into one call under load. The syncs of coroutine
    writers run on one helper thread, so no writer needs a thread of its own to wait.
    """

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(root, os.O_RDONLY)
        self._cond = threading.Condition()
        self._requested = 0
        self._done = 0
        self._syncing = False
        self.syncs = 0  # syncs made (each covers every writer that asked before it started)
        # Coroutine writers: (ticket, future) in ticket order; the helper thread's state.
        self._futures: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._helper: ThreadPoolExecutor | None = None
        self._helping = False
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            self._syncfs = libc.syncfs
        except (OSError, AttributeError):  # pragma: no cover - non-Linux
            self._syncfs = None

    def _sync(self) -> None:
        if self._syncfs is None or self._syncfs(self._fd) != 0:  # pragma: no cover
            os.sync()

    def _sync_round(self) -> BaseException | None:
        """One sync covering every ticket taken so far (called with the lock held, released
        while syncing); wakes the writers it covers. Returns what the sync raised, if any."""
        self._syncing = True
        target = self._requested
        self._cond.release()
        error: BaseException | None = None
        try:
            self._sync()
        except BaseException as exc:  # pragma: no cover - syncfs reports errors by return code
            error = exc
        finally:
            self._cond.acquire()
            self._syncing = False
            self.syncs += 1
            self._done = max(self._done, target)
            self._cond.notify_all()
            self._wake_futures(error)
        return error

    def _wake_futures(self, error: BaseException | None) -> None:
        """Complete the futures of the coroutine writers the last sync covered (lock held)."""
        woken: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        while self._futures and self._futures[0][0] <= self._done:
            fut = self._futures.popleft()[1]
            woken.setdefault(fut.get_loop(), []).append(fut)
        for loop, futures in woken.items():
            try:
                loop.call_soon_threadsafe(_complete, futures, error)
            except RuntimeError:  # pragma: no cover - that loop is closed: nobody waits
                pass

    def wait(self) -> None:
        with self._cond:
            self._requested += 1
            ticket = self._requested
            while self._done < ticket:
                if self._syncing:
                    self._cond.wait()
                    continue
                error = self._sync_round()
                if error is not None:  # pragma: no cover
                    raise error

    async def wait_async(self) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._cond:
            self._requested += 1
            self._futures.append((self._requested, fut))
            start = not self._helping
            self._helping = True
        if start:
            # Start the helper once the callbacks ready now have run: the other requests the
            # event loop is about to handle then share this sync instead of waiting for the
            # next one (each sync costs CPU; this costs no wait: the loop is busy meanwhile).
            loop.call_soon(self._start_helper)
        await fut

    def _start_helper(self) -> None:
        with self._cond:
            if self._helper is None:
                self._helper = ThreadPoolExecutor(1, thread_name_prefix="group-sync")
            helper = self._helper
        helper.submit(self._help)

    def _help(self) -> None:
        """The helper thread: sync until no coroutine writer waits."""
        with self._cond:
            try:
                while self._futures:
                    if self._syncing:  # a thread's sync; it wakes the futures it covers
                        self._cond.wait()
                    else:
                        self._sync_round()  # an error goes to the futures it covers
            finally:
                self._helping = False


def _complete(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for fut in futures:
        if not fut.done():  # a cancelled waiter's future is done already
            if error is None:
                fut.set_result(None)
            else:  # pragma: no cover
                fut.set_exception(error)


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
        self._root = str(self.root)
        self.durable = durable and not group_commit
        self._dirs: set[str] = set()
        self._group = _GroupSync(self.root) if group_commit else None

    @property
    def group_commit(self) -> bool:
        """True when writes are made durable by `sync()` (shared), not one by one."""
        return self._group is not None

    def sync(self) -> None:
        """Make every write made so far by this process durable (group commit)."""
        if self._group is not None:
            self._group.wait()

    async def sync_async(self) -> None:
        """`sync` for a coroutine: waits without holding a thread."""
        if self._group is not None:
            await self._group.wait_async()

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _file(self, key: str) -> str:
        # `_path` as a plain string, not pathlib: this runs several times for every build.
        return f"{self._root}/{check_key(key)}"

    def _mkdir(self, parent: str) -> None:
        if parent not in self._dirs:  # one mkdir per directory and process, not per write
            os.makedirs(parent, exist_ok=True)
            self._dirs.add(parent)

    def _write_temp(self, path: str, data: bytes) -> str:
        parent = os.path.dirname(path)
        self._mkdir(parent)
        while True:
            # A name unique to this process and call (what mkstemp does, without drawing a
            # random name every time); a leftover of a crashed process is stepped over.
            tmp = f"{parent}/.tmp-{os.getpid()}-{next(_counter)}"
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            except FileExistsError:
                continue
            break
        try:
            _write_all(fd, data)
            if self.durable:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
        os.close(fd)
        return tmp

    def _sync_dir(self, parent: str) -> None:
        if self.durable:
            fd = os.open(parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def put(self, key: str, data: bytes) -> None:
        path = self._file(key)
        tmp = self._write_temp(path, data)
        os.replace(tmp, path)
        self._sync_dir(os.path.dirname(path))

    def put_if_absent(self, key: str, data: bytes) -> bool:
        # No existence check first: callers ask for objects that are almost always new.
        path = self._file(key)
        tmp = self._write_temp(path, data)
        try:
            os.link(tmp, path)  # atomic create-if-absent: link fails when the name exists
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)
        self._sync_dir(os.path.dirname(path))
        return True

    def get(self, key: str) -> bytes:
        try:
            with open(self._file(key), "rb", buffering=0) as f:
                return f.readall()
        except FileNotFoundError:
            raise NotFoundError(f"not in the lake: {key}") from None
        except IsADirectoryError:
            raise NotFoundError(f"not an object: {key}") from None

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._file(key))

    def delete(self, key: str) -> None:
        try:
            os.unlink(self._file(key))
        except FileNotFoundError:
            pass

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


_counter = itertools.count()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


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
