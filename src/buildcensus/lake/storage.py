"""Object storage behind one small interface: a local directory now, S3 in `s3.py`."""

from __future__ import annotations

import asyncio
import ctypes
import itertools
import os
import subprocess
import sys
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from buildcensus.errors import LakeError, NotFoundError


def check_key(key: str) -> str:
    """Reject keys that could escape the store root (absolute, `..`, NUL, backslash)."""
    # Empty, absolute, a trailing or doubled `/`, a `.` or `..` segment: with a `/` added at
    # both ends, each shows as `//`, `/./` or `/../` (one scan each, no list of segments).
    bounded = f"/{key}/"
    if "//" in bounded or "/./" in bounded or "/../" in bounded or "\x00" in key or "\\" in key:
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
    same sync, which turns N fsync pairs into one call under load.

    The syncs of coroutine writers run in a small child process that the event loop talks to
    through a pipe (`_SyncProcess`), so no writer needs a thread of its own to wait and the
    event loop's thread shares the interpreter lock with no sync thread. Where that process
    cannot run (or for a second event loop), they run on one helper thread instead.
    """

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self._root = root
        self._fd = os.open(root, os.O_RDONLY)
        # Coroutine writers of one event loop: syncs in a child process (`_SyncProcess`).
        self._syncer: _SyncProcess | None = None
        self._syncer_failed = False
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
        syncer = self._syncer
        if syncer is None and not self._syncer_failed:
            syncer = self._syncer = _SyncProcess.start(self._root, loop, self.wait)
            self._syncer_failed = syncer is None
        if syncer is not None and syncer.loop is loop and syncer.alive:
            await syncer.wait()
            return
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


# The child of `_SyncProcess`: one syncfs of the directory's file system per read from the
# pipe, then one byte back ("." done, "!" failed); it exits when the pipe closes (its parent
# exited or was killed).
_SYNC_CHILD = """
import ctypes, os, sys
syncfs = ctypes.CDLL(None, use_errno=True).syncfs
fd = os.open(sys.argv[1], os.O_RDONLY)
while os.read(0, 4096):
    os.write(1, b"." if syncfs(fd) == 0 else b"!")
"""


class PipeChild:
    """A child process an event loop talks to through pipes (`spawn_pipe_child`): what it
    writes back is read when it comes in (`_readable`); it exits when its pipe closes, at the
    latest when this object is collected."""

    def __init__(self, proc: subprocess.Popen[bytes], loop: asyncio.AbstractEventLoop) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self.proc = proc
        self.loop = loop
        self.alive = True
        self._wfd = proc.stdin.fileno()
        self._rfd = proc.stdout.fileno()
        os.set_blocking(self._rfd, False)
        loop.add_reader(self._rfd, self._readable)
        self._finalizer = weakref.finalize(self, _stop_child, proc)

    def _readable(self) -> None:  # pragma: no cover - each kind reads its own answers
        raise NotImplementedError

    def _died(self) -> None:  # pragma: no cover - each kind has its own fallback
        raise NotImplementedError

    def _read(self, size: int) -> bytes | None:
        """Up to `size` bytes the child wrote back, or None: nothing yet, or the child is gone
        (then `_died` has run)."""
        try:
            data = os.read(self._rfd, size)
        except BlockingIOError:  # pragma: no cover - a spurious wake-up
            return None
        except OSError:
            data = b""
        if not data:
            self._died()
            return None
        return data

    def close(self) -> None:
        """Stop the child (it exits when its pipe closes)."""
        if self.alive:
            self.alive = False
            if not self.loop.is_closed():
                self.loop.remove_reader(self._rfd)
        self._finalizer()


class _SyncProcess(PipeChild):
    """Group commit for the coroutines of one event loop, the syncs made by a child process.

    A writer's future joins `pending`; at most one sync is in flight, asked for by a byte
    down the pipe once the callbacks ready at the time have run (so the writers the loop is
    handling join the same sync). When the child answers, the futures of that sync are done
    and, if more writers wait, the next sync is asked for in the same way: they all wrote
    before it starts. If the child dies, the writers still waiting are synced on a thread by
    `fallback` (the `_GroupSync`'s own `wait`), and the `_GroupSync` stops using this object
    (`alive`).
    """

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        loop: asyncio.AbstractEventLoop,
        fallback: Callable[[], None],
    ) -> None:
        self._fallback = fallback
        self.requests = 0  # syncs asked for
        self.syncs = 0  # syncs done (each covers every writer waiting when it was asked for)
        self._pending: list[asyncio.Future[None]] = []
        self._inflight: list[asyncio.Future[None]] | None = None
        self._asked = False
        super().__init__(proc, loop)

    @classmethod
    def start(
        cls, root: Path, loop: asyncio.AbstractEventLoop, fallback: Callable[[], None]
    ) -> _SyncProcess | None:
        """A running sync process for `root`'s file system, or None where none can run."""
        proc = spawn_pipe_child(["-I", "-S", "-c", _SYNC_CHILD, str(root)], quiet=True)
        return None if proc is None else cls(proc, loop, fallback)

    async def wait(self) -> None:
        fut = self.loop.create_future()
        self._pending.append(fut)
        if not self._asked and self._inflight is None:
            self._asked = True
            self.loop.call_soon(self._ask)
        await fut

    def _ask(self) -> None:
        self._asked = False
        if self._inflight is not None or not self._pending or not self.alive:
            return
        self._inflight, self._pending = self._pending, []
        self.requests += 1
        try:
            os.write(self._wfd, b"s")
        except OSError:
            self._died()

    def _readable(self) -> None:
        answer = self._read(64)
        if answer is None:
            return
        futures, self._inflight = self._inflight or [], None
        self.syncs += 1
        error = None if answer[-1:] == b"." else OSError("syncfs of the lake failed")
        _complete(futures, error)
        if self._pending and not self._asked:
            # Not at once: the requests the loop is about to handle (their data came in with
            # this answer) then join the next sync instead of waiting for the one after.
            self._asked = True
            self.loop.call_soon(self._ask)

    def _died(self) -> None:
        """The child is gone: sync what waits on a thread; the caller goes back to threads."""
        self.alive = False
        self.loop.remove_reader(self._rfd)
        waiting = (self._inflight or []) + self._pending
        self._inflight, self._pending = None, []
        if waiting:
            done = self.loop.run_in_executor(None, self._fallback)
            done.add_done_callback(lambda f: _complete(waiting, f.exception()))


def spawn_pipe_child(args: list[str], quiet: bool = False) -> subprocess.Popen[bytes] | None:
    """A child Python process (`args` after the interpreter) that talks through pipes on its
    stdin and stdout (`quiet`: its stderr discarded), or None where none can run: the lake's
    sync and writer processes use `syncfs` (Linux)."""
    if sys.platform != "linux":  # pragma: no cover - syncfs
        return None
    try:
        return subprocess.Popen(
            [sys.executable, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL if quiet else None,
            close_fds=True,
        )
    except (OSError, NotImplementedError):  # pragma: no cover - e.g. out of processes
        return None


def _stop_child(proc: subprocess.Popen[bytes]) -> None:
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            stream.close()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:  # pragma: no cover - it exits on end of input
        proc.kill()


def _complete(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for fut in futures:
        if not fut.done():  # a cancelled waiter's future is done already
            if error is None:
                fut.set_result(None)
            else:  # pragma: no cover
                fut.set_exception(error)


class LocalStorage:
    """A directory tree. Atomic writes: by temp file + fsync + os.replace, and new objects
    (`put_if_absent`) by an unnamed file + fsync + link, so a reader never sees a partial one.

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
        # New objects are written as unnamed files and linked in place (Linux), until that
        # fails once (`_link_unnamed`).
        self._unnamed = hasattr(os, "O_TMPFILE")

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
        if self._unnamed:
            created = self._link_unnamed(path, data)
            if created is not None:
                return created
        tmp = self._write_temp(path, data)
        try:
            os.link(tmp, path)  # atomic create-if-absent: link fails when the name exists
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)
        self._sync_dir(os.path.dirname(path))
        return True

    def _link_unnamed(self, path: str, data: bytes) -> bool | None:
        """`put_if_absent` by an unnamed file (`O_TMPFILE`) given its name once written:
        nothing to unlink afterwards, and no temporary name in the directory. None (nothing
        done) where the file system or the system cannot; this storage then stops trying.
        """
        parent = os.path.dirname(path)
        self._mkdir(parent)
        try:
            fd = os.open(parent, os.O_WRONLY | os.O_TMPFILE | os.O_CLOEXEC, 0o600)
        except OSError:  # e.g. EOPNOTSUPP (NFS), EISDIR (a kernel without O_TMPFILE)
            self._unnamed = False
            return None
        try:
            _write_all(fd, data)
            if self.durable:
                os.fsync(fd)
            # linkat(AT_SYMLINK_FOLLOW) of /proc/self/fd/N names the unnamed file (no
            # privilege needed, unlike AT_EMPTY_PATH). os.link calls linkat, not link, when
            # given a directory descriptor, which an absolute path then ignores.
            if not path.startswith("/"):  # a lake given by a relative path
                path = os.path.abspath(path)
            try:
                os.link(f"/proc/self/fd/{fd}", path, dst_dir_fd=fd)
            except FileExistsError:
                return False
            except OSError:  # no /proc (some sandboxes): take named temporary files
                self._unnamed = False
                return None
        finally:
            os.close(fd)
        self._sync_dir(parent)
        return True

    def link_if_absent(self, key: str, name: str) -> bool:
        """Give the object at `key` a second name unless `name` exists (a hard link: the same
        file, nothing written); True when this call made it."""
        path = self._file(name)
        parent = os.path.dirname(path)
        self._mkdir(parent)
        try:
            os.link(self._file(key), path)
        except FileExistsError:
            return False
        self._sync_dir(parent)
        return True

    def get(self, key: str) -> bytes:
        # os.open, not open(): most gets of the ingest path look for a marker that is not
        # there, and a file object costs more than that lookup.
        try:
            fd = os.open(self._file(key), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise NotFoundError(f"not in the lake: {key}") from None
        try:
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
        except IsADirectoryError:
            raise NotFoundError(f"not an object: {key}") from None
        finally:
            os.close(fd)
        return b"".join(chunks)

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
