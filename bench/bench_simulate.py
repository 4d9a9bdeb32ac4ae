"""How fast `buildcensus simulate` fills a local lake.

    python bench/bench_simulate.py              # 1,000,000 builds: 20,000 projects x 100 days
    python bench/bench_simulate.py --projects 2000 --days 10 --gen-only

Each run generates the history (deterministic, seed 1) and stores every record through
`Lake.store` (redaction, content-addressed blobs, same-day duplicate detection) in a fresh
temporary lake, with `--workers` processes and per-file fsync off (one `os.sync()` at the end),
exactly as the CLI does. `--gen-only` measures generation + validation alone (no lake). A
breakdown of the per-record CPU (user + system) is measured on a sample in one process:
generate + validate, `redact_record` on its own (a full record, as the collector does), and
`Lake.store` as the simulator calls it (`shared_parts=True`: config and package lists the
simulator reuses are serialized, redacted and hashed once) and as the CLI `store` and the ingest
service call it (each record's parts serialized, then looked up by content).

The sample lakes are deleted only after the main run: ext4 skips recently deleted inodes when
it allocates new ones, so deleting thousands of files just before a run slows its file creation.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

from buildcensus.lake import open_lake
from buildcensus.redact import redact_record
from buildcensus.simulate import SimulateOptions, simulate, write_lake

END = date(2026, 11, 30)


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def breakdown(sample_projects: int, days: int, scratch: list[str]) -> dict[str, float]:
    """CPU milliseconds (user + system) per record for each stage, in one process."""
    opts = SimulateOptions(projects=sample_projects, days=days, seed=2, end=END)
    t0 = _cpu()
    recs = list(simulate(opts))
    gen = _cpu() - t0
    t0 = _cpu()
    for r in recs:
        redact_record(r)
    red = _cpu() - t0
    stores = {}
    for label, shared in (("store_ms", True), ("store_plain_ms", False)):
        root = tempfile.mkdtemp(prefix="bench-sim-")
        scratch.append(root)
        lake = open_lake(root, durable=False)
        t0 = _cpu()
        for r in recs:
            lake.store(r, shared_parts=shared)
        stores[label] = (_cpu() - t0) / len(recs) * 1e3
    n = len(recs)
    return {
        "records": n,
        "generate_ms": gen / n * 1e3,
        "redact_ms": red / n * 1e3,
        **stores,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--projects", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--gen-only", action="store_true", help="no lake: generation only")
    ap.add_argument("--sample", type=int, default=300, help="projects in the breakdown sample")
    ap.add_argument("--sample-days", type=int, default=30, help="days in the breakdown sample")
    ap.add_argument("--dir", default=None, help="where to create the lake (default: a temp dir)")
    args = ap.parse_args()

    scratch: list[str] = []
    try:
        _run(args, scratch)
    finally:
        for root in scratch:
            shutil.rmtree(root, ignore_errors=True)


def _run(args: argparse.Namespace, scratch: list[str]) -> None:
    b = breakdown(args.sample, args.sample_days, scratch)
    print(
        f"breakdown ({b['records']} records, 1 process, CPU user+system): generate+validate "
        f"{b['generate_ms']:.3f} ms, redact_record {b['redact_ms']:.3f} ms, "
        f"Lake.store {b['store_ms']:.3f} ms per record "
        f"({b['store_plain_ms']:.3f} ms with parts not shared, as `store` and ingest)"
    )
    opts = SimulateOptions(projects=args.projects, days=args.days, seed=1, end=END)
    load = os.getloadavg()[0]
    if args.gen_only:
        t0 = time.perf_counter()
        n = sum(1 for _ in simulate(opts))
        secs = time.perf_counter() - t0
        print(f"generate only: {n} records in {secs:.1f} s ({n / secs:.0f}/s, 1 process)")
        return
    root = Path(tempfile.mkdtemp(prefix="bench-sim-", dir=args.dir))
    scratch.append(str(root))
    summary = write_lake(opts, str(root), workers=args.workers, durable=False)
    print(
        f"lake: {summary.records} records ({summary.stored} stored, {summary.duplicates} "
        f"duplicates, {summary.failed} failed) in {summary.seconds:.1f} s = "
        f"{summary.records / summary.seconds:.0f} records/s with {args.workers} workers; "
        f"load average before {load:.1f}, after {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
