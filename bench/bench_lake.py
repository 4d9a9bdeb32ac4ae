"""Bytes in the lake per build against the same records as plain JSON files.

    python bench/bench_lake.py --records 10000

Baseline ("the seed's naive layout"): one plain JSON file per build holding the full record.
Project: the lake (content-addressed blobs for configs and package lists, same-day duplicates
as references). Both are measured as the sum of file sizes and as disk blocks used (du), and
every lake record is read back and compared with its input (nothing lost).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

from buildcensus.lake import Lake, LocalStorage
from buildcensus.redact import redact_record
from buildcensus.simulate import SimulateOptions, simulate


def tree_bytes(root: Path) -> tuple[int, int, int]:
    """(files, apparent bytes, allocated bytes) under root."""
    files = size = blocks = 0
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            st = os.stat(os.path.join(dirpath, n))
            files += 1
            size += st.st_size
            blocks += st.st_blocks * 512
    return files, size, blocks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    # ~0.5 builds/project/day: 2,000 projects for 10 days gives ~10k builds.
    opts = SimulateOptions(
        projects=max(args.records // 5, 50), days=10, seed=args.seed, end=date(2026, 11, 30)
    )
    records = []
    for rec in simulate(opts):
        records.append(rec)
        if len(records) >= args.records:
            break
    tmp = Path(tempfile.mkdtemp(prefix="bench-lake-"))
    try:
        _measure(records, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _measure(records: list, tmp: Path) -> None:
    naive = tmp / "naive"
    naive.mkdir()
    t0 = time.perf_counter()
    for rec in records:
        (naive / f"{rec.build.id}.json").write_text(json.dumps(rec.to_json_dict()))
    t_naive = time.perf_counter() - t0
    lake = Lake(LocalStorage(tmp / "lake", durable=False))
    t0 = time.perf_counter()
    results = [lake.store(rec) for rec in records]
    t_lake = time.perf_counter() - t0
    dups = sum(r.status == "duplicate" for r in results)
    lost = 0
    for rec, res in zip(records, results, strict=True):
        if lake.load(res.key) != redact_record(rec).to_json_dict():
            lost += 1
    nf, ns, nb = tree_bytes(naive)
    lf, ls, lb = tree_bytes(tmp / "lake")
    n = len(records)
    print(f"records: {n} ({dups} same-day duplicates stored as references)")
    print(
        f"naive JSON files: {nf} files, {ns / n:,.0f} B/build apparent, "
        f"{nb / n:,.0f} B/build on disk, write {t_naive:.1f} s"
    )
    print(
        f"lake:             {lf} files, {ls / n:,.0f} B/build apparent, "
        f"{lb / n:,.0f} B/build on disk, store {t_lake:.1f} s"
    )
    print(f"ratio naive/lake: {ns / ls:.1f}x apparent bytes, {nb / lb:.1f}x disk bytes")
    print(f"records read back different from input: {lost}")


if __name__ == "__main__":
    main()
