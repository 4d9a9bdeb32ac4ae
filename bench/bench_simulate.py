"""How fast `buildcensus simulate` fills a local lake.

    python bench/bench_simulate.py              # 1,000,000 builds: 20,000 projects x 100 days
    python bench/bench_simulate.py --projects 2000 --days 10 --gen-only

Each run generates the history (deterministic, seed 1) and stores every record through
`Lake.store` (redaction, content-addressed blobs, same-day duplicate detection) in a fresh
temporary lake, with `--workers` processes and per-file fsync off (one `os.sync()` at the end),
exactly as the CLI does. `--gen-only` measures generation + validation alone (no lake). A
breakdown of the per-record cost (generate / redact / rest of `Lake.store`) is measured on a
sample in one process.
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


def breakdown(sample_projects: int) -> dict[str, float]:
    """Milliseconds per record for each stage, measured on one process."""
    opts = SimulateOptions(projects=sample_projects, days=10, seed=2, end=END)
    t0 = time.perf_counter()
    recs = list(simulate(opts))
    gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    for r in recs:
        redact_record(r)
    red = time.perf_counter() - t0
    root = tempfile.mkdtemp(prefix="bench-sim-")
    try:
        lake = open_lake(root, durable=False)
        t0 = time.perf_counter()
        for r in recs:
            lake.store(r)
        store = time.perf_counter() - t0
    finally:
        shutil.rmtree(root, ignore_errors=True)
    n = len(recs)
    return {
        "records": n,
        "generate_ms": gen / n * 1e3,
        "redact_ms": red / n * 1e3,
        "store_ms": store / n * 1e3,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--projects", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--gen-only", action="store_true", help="no lake: generation only")
    ap.add_argument("--sample", type=int, default=300, help="projects in the breakdown sample")
    ap.add_argument("--dir", default=None, help="where to create the lake (default: a temp dir)")
    args = ap.parse_args()

    b = breakdown(args.sample)
    print(
        f"breakdown ({b['records']} records, 1 process): generate+validate "
        f"{b['generate_ms']:.2f} ms, redact_record {b['redact_ms']:.2f} ms, "
        f"Lake.store total {b['store_ms']:.2f} ms per record"
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
    try:
        summary = write_lake(opts, str(root), workers=args.workers, durable=False)
        print(
            f"lake: {summary.records} records ({summary.stored} stored, {summary.duplicates} "
            f"duplicates, {summary.failed} failed) in {summary.seconds:.1f} s = "
            f"{summary.records / summary.seconds:.0f} records/s with {args.workers} workers; "
            f"load average before {load:.1f}, after {os.getloadavg()[0]:.1f}"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
