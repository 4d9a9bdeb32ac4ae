"""The ingest service's writer process: a local lake's checks, writes and syncs, off the core
that runs the event loop.

Storing a prepared build document (`Lake.commit`) is a handful of file-system calls (the
blobs of new parts, the duplicate checks, the marker lookup, the document and its marker),
and the sync after them: about a third of what a record costs the server process, nearly
all of it in the kernel. `WriterProcess` hands them to a child process (`python -m
buildcensus.lake.writer ROOT [LOCK_FILE]`), so they run beside the event loop on another
core instead of in turn with it:

- The event loop's coroutines hand each `Prepared` document over as soon as it is ready
  (`WriterProcess.submit`), and go on with other requests.
- The child commits what it is handed, in order, each document under its build id's lock
  (the same lock file as the service's other processes). When no more documents are
  waiting in the pipe, one `syncfs` makes all it committed since the last one durable, and
  it answers each: stored or duplicate (with the key), refused (a `LakeError`: the caller
  answers as for any refused store), or failed. Documents that come in during a sync are
  committed together after it, so syncs are shared more as the load grows.
- The blobs of parts new to the lake (a new package list) go with their document and are
  written by the child before it; the service counts them as stored once the child answered.
- When the child dies (killed, out of memory), the documents it had not answered are
  committed by `fallback` in the service (idempotent by build id: a document the child had
  stored is found, and answered as a duplicate), and the service stops using it.

Pipes carry frames: a 4-byte big-endian length, then that many bytes of JSON (a document, or
an answer). The child's first frame says it is ready; until then, and after it died, the
service commits itself.
"""

from __future__ import annotations

import asyncio
import ctypes
import fcntl
import logging
import os
import select
import signal
import struct
import subprocess
import sys
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from buildcensus.errors import LakeError
from buildcensus.lake import Lake, LocalStorage, Prepared, StoreResult
from buildcensus.lake.storage import PipeChild, _write_all, spawn_pipe_child

log = logging.getLogger("buildcensus.service")

_FRAME = struct.Struct(">I")
_READY = b'"ready"'
_MAX_FRAME = 1 << 30


class WriterFailed(RuntimeError):
    """The writer process could not store a document (an internal error: a 500)."""


def _wire(p: Prepared) -> list[Any]:
    blobs = [[digest, data.decode()] for digest, data in p.blobs]
    return [p.key, p.duplicate_key, p.marker, p.data.decode(), p.fingerprint, p.build_id,
            blobs]  # fmt: skip


def _unwire(item: list[Any]) -> Prepared:
    key, dkey, marker, data, fp, bid, blobs = item
    return Prepared(key, dkey, marker, data.encode(), fp, bid,
                    tuple((digest, blob.encode()) for digest, blob in blobs))  # fmt: skip


def _frame(value: Any) -> bytes:
    payload = value if isinstance(value, bytes) else orjson.dumps(value)
    return _FRAME.pack(len(payload)) + payload


# --------------------------------------------------------------------------- the child


def _read_exactly(fd: int, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _commit(lake: Lake, locks: Any, item: list[Any]) -> list[Any]:
    """Commit one handed-over document under its build id's lock; the answer."""
    try:
        p = _unwire(item)
        with locks.hold(p.build_id):
            r = lake.commit(p)
        return ["ok", r.status, r.key, r.duplicate_of]
    except LakeError as exc:
        return ["refused", str(exc)]
    except Exception as exc:  # noqa: BLE001 - answered, so the service answers 500
        return ["failed", f"{type(exc).__name__}: {exc}"]


def child_main(root: str, lock_file: str | None) -> int:
    """The writer process: documents in on stdin, answers out on stdout, until stdin closes
    (a Ctrl-C meant for the service is left to it: this process ends with its pipe)."""
    from buildcensus.lake.locks import BuildIdLocks

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lake = Lake(LocalStorage(root, durable=False))
    locks = BuildIdLocks(Path(lock_file) if lock_file else None)
    syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    try:
        return _serve(lake, locks, syncfs, os.open(root, os.O_RDONLY))
    except BrokenPipeError:  # the service is gone: so are the answers' readers
        return 0


def _serve(lake: Lake, locks: Any, syncfs: Any, root_fd: int) -> int:
    _write_all(1, _frame(_READY))
    while True:
        # Every document that came in while the last sync ran is committed, then one sync
        # makes them all durable, then they are answered.
        answers: list[list[Any]] = []
        while not answers or select.select([0], [], [], 0)[0]:
            head = _read_exactly(0, _FRAME.size)
            if head is None:
                break  # the service closed the pipe (or exited)
            (size,) = _FRAME.unpack(head)
            payload = _read_exactly(0, size) if size <= _MAX_FRAME else None
            if payload is None:
                return 1
            answers.append(_commit(lake, locks, orjson.loads(payload)))
        if not answers:
            return 0
        if syncfs(root_fd) != 0:
            error = f"syncfs of the lake failed: {os.strerror(ctypes.get_errno())}"
            answers = [a if a[0] == "refused" else ["failed", error] for a in answers]
        _write_all(1, b"".join(_frame(a) for a in answers))
        if head is None:
            return 0


# --------------------------------------------------------------------------- the service


_Waiter = tuple[Prepared, "asyncio.Future[StoreResult]"]


class WriterProcess(PipeChild):
    """The service's side of a writer process (see the module), for one event loop."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        loop: asyncio.AbstractEventLoop,
        fallback: Callable[[Prepared], Awaitable[StoreResult]],
    ) -> None:
        self._fallback = fallback
        self.ready = False  # the child said it is ready
        self.answers = 0  # documents answered
        self._buffer = bytearray()
        self._inflight: deque[_Waiter] = deque()  # documents handed over, in order
        super().__init__(proc, loop)
        try:  # room for the documents handed over while the child syncs
            fcntl.fcntl(self._wfd, fcntl.F_SETPIPE_SZ, 1 << 20)
        except OSError:  # pragma: no cover - above /proc/sys/fs/pipe-max-size
            pass

    @classmethod
    def start(
        cls,
        root: Path,
        lock_file: Path | None,
        loop: asyncio.AbstractEventLoop,
        fallback: Callable[[Prepared], Awaitable[StoreResult]],
    ) -> WriterProcess | None:
        """A writer process for the lake at `root` (not ready yet), or None where none can
        run."""
        args = ["-m", "buildcensus.lake.writer", str(root)]
        proc = spawn_pipe_child(args + ([str(lock_file)] if lock_file is not None else []))
        return None if proc is None else cls(proc, loop, fallback)

    @property
    def usable(self) -> bool:
        """True when documents of the running event loop can be handed over."""
        return self.ready and self.alive and asyncio.get_running_loop() is self.loop

    def submit(self, prepared: Prepared) -> asyncio.Future[StoreResult]:
        """`Lake.commit(prepared)`, made durable, by the writer process (or, if it dies
        meanwhile, by `fallback`): a future of its result, which raises LakeError when the
        lake refused it and WriterFailed when it failed."""
        fut: asyncio.Future[StoreResult] = self.loop.create_future()
        self._send(prepared, fut)
        return fut

    def _send(self, prepared: Prepared, fut: asyncio.Future[StoreResult]) -> None:
        """Hand one document over at once: the child commits it while this process goes on
        with other requests (those that come in while it syncs are committed together, and
        made durable by its next sync)."""
        if not self.alive:
            self._fall_back(prepared, fut)
            return
        self._inflight.append((prepared, fut))
        try:  # the pipe holds far more than the child can be behind
            _write_all(self._wfd, _frame(_wire(prepared)))
        except OSError:
            self._died()

    def _readable(self) -> None:
        data = self._read(1 << 16)
        if data is None:
            return
        self._buffer += data
        while len(self._buffer) >= _FRAME.size:
            (size,) = _FRAME.unpack_from(self._buffer)
            if len(self._buffer) < _FRAME.size + size:
                break
            payload = bytes(self._buffer[_FRAME.size : _FRAME.size + size])
            del self._buffer[: _FRAME.size + size]
            if payload == _READY:
                self.ready = True
            else:
                self._answered(orjson.loads(payload))

    def _answered(self, answer: list[Any]) -> None:
        _, fut = self._inflight.popleft()
        self.answers += 1
        if not fut.done():  # else its request went away
            if answer[0] == "ok":
                fut.set_result(StoreResult(answer[1], answer[2], answer[3]))
            elif answer[0] == "refused":
                fut.set_exception(LakeError(answer[1]))
            else:
                fut.set_exception(WriterFailed(answer[1]))

    def _died(self) -> None:
        """The child is gone: what it had not answered is committed by `fallback`."""
        if not self.alive:
            return
        self.alive = False
        self.loop.remove_reader(self._rfd)
        self._finalizer()  # reaps it (its pipe's end said it is gone)
        waiting = list(self._inflight)
        self._inflight.clear()
        log.error("the lake's writer process exited; the service stores records itself")
        for prepared, fut in waiting:
            self._fall_back(prepared, fut)

    def _fall_back(self, prepared: Prepared, fut: asyncio.Future[StoreResult]) -> None:
        """Have `fallback` commit `prepared`, its result (or error) going to `fut`."""
        task = self.loop.create_task(self._fallback(prepared))
        task.add_done_callback(lambda t: _transfer(t, fut))


def _transfer(task: asyncio.Task[StoreResult], fut: asyncio.Future[StoreResult]) -> None:
    if fut.done():
        return
    if task.cancelled():
        fut.cancel()
    elif (exc := task.exception()) is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(task.result())


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
