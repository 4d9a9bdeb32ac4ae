"""s3_lock: one import or prune at a time on an S3 warehouse (conditional PUT/DELETE)."""

from __future__ import annotations

import concurrent.futures
import threading
import time

import orjson
import pytest

from buildcensus.errors import WarehouseError
from buildcensus.lake.s3 import S3Storage
from buildcensus.storage_fs import s3_lock

pytestmark = pytest.mark.s3


def test_lock_is_exclusive_and_released(s3_url):
    storage = S3Storage(s3_url)
    with s3_lock(s3_url):
        assert storage.exists("_lock")
        with pytest.raises(WarehouseError, match=r"another import or prune is running on s3://"):
            with s3_lock(s3_url):
                pass
    assert not storage.exists("_lock")
    with s3_lock(s3_url):  # free again
        assert storage.exists("_lock")


def test_exactly_one_of_racing_jobs_gets_the_lock(s3_url):
    barrier = threading.Barrier(6)
    release = threading.Event()

    def job() -> bool:
        barrier.wait()
        try:
            with s3_lock(s3_url):
                release.wait(20)  # hold the lock until every loser has answered
                return True
        except WarehouseError:
            return False

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(job) for _ in range(6)]
        deadline = time.monotonic() + 20
        while sum(f.done() for f in futures) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        release.set()
        results = [f.result() for f in futures]
    assert results.count(True) == 1


def test_stale_lock_is_broken_and_old_holder_does_not_release_new_one(s3_url):
    storage = S3Storage(s3_url)
    old = s3_lock(s3_url, clock=lambda: 0.0)  # taken at the epoch: long stale
    old.__enter__()
    try:
        with s3_lock(s3_url):  # breaks the stale lock
            mine = orjson.loads(storage.get("_lock"))
            assert mine["since"] > 0
            old.__exit__(None, None, None)  # the killed job "comes back" and releases
            assert orjson.loads(storage.get("_lock")) == mine  # ... not ours
    finally:
        old.__exit__(None, None, None)
    assert not storage.exists("_lock")
