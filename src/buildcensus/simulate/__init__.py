"""Sample history: a realistic synthetic build history, deterministic for a seed.

`simulate(opts)` yields validated `BuildRecord`s in build-id (= time) order; `write_ndjson`
writes them as NDJSON; `write_lake` stores them through `Lake.store`, optionally in several
worker processes (each owns a disjoint set of projects, so the result does not depend on the
number of workers). See docs/simulate.md for what the figures are based on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import BinaryIO

import orjson

from buildcensus.record import BuildRecord
from buildcensus.simulate._data import last_release_day
from buildcensus.simulate._engine import (
    DEFAULT_PROJECTS,
    SimulateOptions,
    Simulator,
    check_options,
    parse_regression,
)

__all__ = [
    "DEFAULT_PROJECTS",
    "SimulateOptions",
    "SimulateSummary",
    "last_release_day",
    "parse_regression",
    "simulate",
    "write_lake",
    "write_ndjson",
]


@dataclass
class SimulateSummary:
    """What a run produced."""

    records: int = 0
    stored: int = 0
    duplicates: int = 0
    failed: int = 0
    seconds: float = 0.0

    def add(self, other: SimulateSummary) -> None:
        """Accumulate another worker's counts."""
        self.records += other.records
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.failed += other.failed


def simulate(opts: SimulateOptions, worker: int = 0, workers: int = 1) -> Iterator[BuildRecord]:
    """Every record of the run (or of one worker's share of the projects), in id order."""
    return Simulator(opts).records(worker, workers)


def write_ndjson(opts: SimulateOptions, out: BinaryIO) -> SimulateSummary:
    """Write the run as NDJSON (one record per line, JSON types)."""
    t0 = time.perf_counter()
    summary = SimulateSummary()
    for rec in simulate(opts):
        out.write(orjson.dumps(rec.to_json_dict()) + b"\n")
        summary.records += 1
        summary.failed += rec.build.success is False
    summary.seconds = time.perf_counter() - t0
    return summary


def _lake_worker(
    opts: SimulateOptions, url: str, worker: int, workers: int, durable: bool
) -> SimulateSummary:
    from buildcensus.lake import open_lake

    lake = open_lake(url, durable=durable)
    summary = SimulateSummary()
    for rec in simulate(opts, worker, workers):
        # The simulator reuses one config / package-lists object for every build that has
        # them and never changes it: the lake may remember their stored form by identity.
        result = lake.store(rec, shared_parts=True)
        summary.records += 1
        summary.failed += rec.build.success is False
        if result.status == "stored":
            summary.stored += 1
        else:
            summary.duplicates += 1
    return summary


def write_lake(
    opts: SimulateOptions, url: str, workers: int = 1, durable: bool = True
) -> SimulateSummary:
    """Store the run in the lake at `url`; with `durable=False`, skip per-file fsync and sync
    the file system once at the end (for bulk loads)."""
    check_options(opts)
    t0 = time.perf_counter()
    summary = SimulateSummary()
    if workers <= 1:
        summary.add(_lake_worker(opts, url, 0, 1, durable))
    else:
        ctx = get_context("fork") if hasattr(os, "fork") else get_context()
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = [
                pool.submit(_lake_worker, opts, url, w, workers, durable) for w in range(workers)
            ]
            for f in futures:
                summary.add(f.result())
    if not durable:
        os.sync()
    summary.seconds = time.perf_counter() - t0
    return summary
