"""Mutual exclusion of stores of one build id, within a process and across the processes
(the ingest service's workers and writer processes) that share a local lake."""

from __future__ import annotations

import fcntl
import os
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from buildcensus.lake import Lake, LocalStorage


def lock_file_for(lake: Lake) -> Path | None:
    """The file whose byte ranges serialize stores per build id across the service processes
    of one machine, or None when the lake is not a local directory.

    It sits at the lake's root, outside `telemetry/`, so no listing of documents sees it.
    """
    if not isinstance(lake.storage, LocalStorage):
        return None
    return lake.storage.root / ".ingest.lock"


class BuildIdLocks:
    """Mutual exclusion per build id (striped): thread locks, and with a lock file, POSIX
    byte-range locks on it, so service processes sharing a lake exclude each other too.

    Lake.store checks, then writes: two concurrent stores of one build id with different
    content would both succeed and the second would overwrite an acknowledged record.
    """

    def __init__(self, lock_file: Path | None = None, stripes: int = 64) -> None:
        self._locks = [threading.Lock() for _ in range(stripes)]
        self._file = lock_file
        self._fd: int | None = None
        self._open_lock = threading.Lock()

    def _descriptor(self) -> int | None:
        """The lock file, opened (and created) by the first store, not before: a service that
        refuses everything leaves nothing behind. Never closed while the process runs:
        closing any descriptor of the file drops every byte-range lock the process holds."""
        if self._fd is None and self._file is not None:
            with self._open_lock:
                if self._fd is None:
                    self._file.parent.mkdir(parents=True, exist_ok=True)
                    self._fd = os.open(self._file, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    @contextmanager
    def hold(self, build_id: int | str) -> Iterator[None]:
        """Hold the lock of `build_id` (ids 5 and "5" share one: they name one storage key)."""
        stripe = zlib.crc32(str(build_id).encode()) % len(self._locks)
        with self._locks[stripe]:
            fd = self._descriptor()
            if fd is None:
                yield
                return
            fcntl.lockf(fd, fcntl.LOCK_EX, 1, stripe)
            try:
                yield
            finally:
                fcntl.lockf(fd, fcntl.LOCK_UN, 1, stripe)
