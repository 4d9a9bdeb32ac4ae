"""Crash safety: kill -9 at random points, or fail at every write step, then re-run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from buildcensus.warehouse import _store as store_mod
from buildcensus.warehouse import open_warehouse
from conftest import fill, new_lake, snapshot

IMPORT = [sys.executable, "-m", "buildcensus", "import", "--batch-size", "6", "--no-progress"]


def _run(lake_dir, wh_dir) -> subprocess.Popen:
    env = {**os.environ, "BUILDCENSUS_LAKE": str(lake_dir), "BUILDCENSUS_WAREHOUSE": str(wh_dir)}
    return subprocess.Popen(IMPORT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for_lock(wh_dir, proc, timeout: float = 60.0) -> float:
    """Wait until the import holds the warehouse lock (interpreter start-up is over)."""
    t0 = time.monotonic()
    while not (wh_dir / "_lock").exists() and proc.poll() is None:
        if time.monotonic() - t0 > timeout:
            raise TimeoutError
        time.sleep(0.002)
    return time.monotonic()


def _count(manifests) -> int:
    return len(list(manifests.glob("*.json"))) if manifests.exists() else 0


def test_kill_9_at_random_points_then_rerun_gives_identical_tables(tmp_path, lake):
    clean = open_warehouse(str(tmp_path / "clean"))
    proc = _run(tmp_path / "lake", tmp_path / "clean")
    started = _wait_for_lock(tmp_path / "clean", proc)
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    proc.stderr.close()
    duration = time.monotonic() - started
    expected = snapshot(clean)
    rng = random.Random(1234)
    wh_dir = tmp_path / "wh"
    killed = 0
    total = len(list(lake.iter_keys()))
    for _ in range(8):  # until three kills landed mid-import
        done = len(open_warehouse(str(wh_dir)).state().imported) if wh_dir.exists() else 0
        left = 1 - done / total
        if killed == 3 or left == 0:
            break
        (wh_dir / "_lock").unlink(missing_ok=True)
        proc = _run(tmp_path / "lake", wh_dir)
        _wait_for_lock(wh_dir, proc)
        # A random point: after 0-2 more commits, then a random few milliseconds.
        manifests = wh_dir / "_manifest"
        target = _count(manifests) + rng.randint(0, 2)
        while _count(manifests) < target and proc.poll() is None:
            time.sleep(0.0005)
        time.sleep(rng.uniform(0, min(0.05, duration * left / 4)))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait(timeout=60)
        proc.stderr.close()
        if (wh_dir / "_manifest").exists():
            # Between crashes the committed tables are always consistent: no duplicate build.
            con = open_warehouse(str(wh_dir)).connect()
            dupes = con.execute("SELECT count(*) - count(DISTINCT key) FROM builds").fetchall()
            assert dupes == [(0,)]
    assert killed >= 2
    proc = _run(tmp_path / "lake", wh_dir)
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    proc.stderr.close()
    assert snapshot(open_warehouse(str(wh_dir))) == expected


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs."""


def _patch_writes(monkeypatch, on_call) -> None:
    for name in ("write_table", "write_bytes", "delete"):
        original = getattr(store_mod.Store, name)

        def wrapped(self, *args, _original=original, **kwargs):
            on_call()
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(store_mod.Store, name, wrapped)


def test_failure_at_every_write_step_then_rerun(tmp_path, records, monkeypatch):
    lake = new_lake(tmp_path / "small-lake")
    fill(lake, records[:50])
    clean = open_warehouse(str(tmp_path / "clean"))
    calls = {"n": 0}

    def count() -> None:
        calls["n"] += 1

    _patch_writes(monkeypatch, count)
    clean.import_lake(lake, batch_size=50)
    monkeypatch.undo()
    steps = calls["n"]
    assert steps > 10
    expected = snapshot(clean)
    for step in range(steps):
        wh = open_warehouse(str(tmp_path / f"wh{step}"))
        calls["n"] = 0

        def crash(step=step) -> None:
            calls["n"] += 1
            if calls["n"] == step + 1:
                raise Crash

        _patch_writes(monkeypatch, crash)
        with pytest.raises(Crash):
            wh.import_lake(lake, batch_size=50)
        monkeypatch.undo()
        wh.import_lake(lake, batch_size=50)
        assert snapshot(wh) == expected, step
