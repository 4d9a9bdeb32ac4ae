"""Import throughput against a bare `json.loads` of the same lake files, and warehouse size.

    python bench/bench_import.py [--lake DIR] [--builds 100000] [--rounds 3] [--workdir DIR]

Without `--lake`, a lake of about `--builds` realistic builds is generated first with
`buildcensus simulate` (10,000 builds a day over 20,000 projects). Each round, alternating:

- baseline: list the lake and `json.loads` every file the import reads (build and duplicate
  documents and the content-addressed blobs), nothing else;
- import: `open_warehouse(fresh dir).import_lake(lake)` — parse, rows, Arrow, Parquet, the
  monthly aggregate, manifest commit.

Prints medians, the ratio (goal: import <= 3x baseline), a no-op re-import, and bytes per build:
warehouse Parquet vs the raw lake files vs the same records as self-contained JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from buildcensus.errors import BuildcensusError
from buildcensus.lake import Lake, LocalStorage
from buildcensus.warehouse import open_warehouse

DIRS = ("telemetry/builds", "telemetry/duplicates", "telemetry/blobs")


def lake_files(root: Path) -> list[str]:
    """Every document file the import may read."""
    out = []
    for d in DIRS:
        for dirpath, _dirs, files in os.walk(root / d):
            out.extend(os.path.join(dirpath, f) for f in files if f.endswith(".json"))
    return out


def baseline(root: Path) -> tuple[float, int, int]:
    """Seconds to list and json.loads every lake file; (seconds, files, bytes)."""
    t0 = time.perf_counter()
    files = lake_files(root)
    size = 0
    for f in files:
        with open(f, "rb") as fh:
            data = fh.read()
        size += len(data)
        json.loads(data)
    return time.perf_counter() - t0, len(files), size


def run_import(root: Path, target: Path) -> tuple[float, object]:
    """Seconds for a full import into an empty warehouse."""
    shutil.rmtree(target, ignore_errors=True)
    wh = open_warehouse(str(target))
    lake = Lake(LocalStorage(root, durable=False))
    t0 = time.perf_counter()
    summary = wh.import_lake(lake)
    return time.perf_counter() - t0, summary


def generate(root: Path, builds: int) -> None:
    days = max(1, round(builds / 10_000))
    cmd = [
        sys.executable, "-m", "buildcensus", "simulate", "--days", str(days),
        "--projects", "20000", "--builds-per-day", str(builds / days), "--seed", "1",
        "--end", "2026-11-30", "--lake", str(root),
    ]  # fmt: skip
    print("generating:", " ".join(cmd[2:]), file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def dir_bytes(path: Path, skip: str = "") -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        if skip and skip in dirpath:
            continue
        total += sum(os.path.getsize(os.path.join(dirpath, f)) for f in files)
    return total


def hydrated_bytes(root: Path, keys: list[str], sample: int = 3000) -> float:
    """Mean size of a self-contained record (references re-hydrated), over a sample."""
    lake = Lake(LocalStorage(root, durable=False))
    step = max(1, len(keys) // sample)
    picked = keys[::step]
    sizes = []
    for k in picked:
        try:
            sizes.append(len(orjson.dumps(lake.load(k))))
        except BuildcensusError:  # e.g. a lake copied while it was being written
            continue
    return sum(sizes) / max(1, len(sizes))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lake", help="An existing local lake (default: generate one).")
    ap.add_argument("--builds", type=int, default=100_000, help="Builds to generate.")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workdir", help="Where to generate the lake and warehouses.")
    ap.add_argument("--json", action="store_true", help="Print the results as JSON.")
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-import-"))
    root = Path(args.lake) if args.lake else work / "lake"
    if not args.lake and not (root / "telemetry").exists():
        generate(root, args.builds)
    baseline(root)  # warm the page cache so both sides read from memory
    base_t, imp_t = [], []
    summary = None
    for _ in range(args.rounds):
        t, n_files, raw = baseline(root)
        base_t.append(t)
        print(f"baseline {t:.2f} s ({n_files:,} files)", file=sys.stderr)
        t, summary = run_import(root, work / "wh")
        imp_t.append(t)
        print(f"import {t:.2f} s ({summary.documents:,} documents)", file=sys.stderr)
    wh = open_warehouse(str(work / "wh"))
    t0 = time.perf_counter()
    noop = wh.import_lake(Lake(LocalStorage(root, durable=False)))
    noop_s = time.perf_counter() - t0
    if noop.documents:
        print(f"note: {noop.documents} documents arrived during the run", file=sys.stderr)
    docs = summary.documents
    builds = summary.builds + summary.duplicates
    per_table = wh.table_bytes()
    wh_bytes = sum(per_table.values())
    keys = list(Lake(LocalStorage(root, durable=False)).iter_keys())
    full = hydrated_bytes(root, keys)
    b, i = statistics.median(base_t), statistics.median(imp_t)
    res = {
        "documents": docs,
        "builds": builds,
        "duplicates": summary.duplicates,
        "lake_files": n_files,
        "baseline_s": round(b, 2),
        "import_s": round(i, 2),
        "baseline_docs_per_s": round(docs / b),
        "import_docs_per_s": round(docs / i),
        "ratio": round(i / b, 2),
        "noop_import_s": round(noop_s, 3),
        "warehouse_bytes_per_build": round(wh_bytes / builds, 1),
        "lake_bytes_per_build": round(raw / builds, 1),
        "self_contained_json_bytes_per_build": round(full, 1),
        "table_bytes": per_table,
        "rounds": args.rounds,
    }
    if args.json:
        print(json.dumps(res, indent=2))
        return
    print(
        f"{docs:,} documents ({builds:,} builds, {summary.duplicates:,} duplicates), "
        f"{n_files:,} lake files, {args.rounds} rounds, medians"
    )
    print("| what | seconds | documents/s | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| baseline: list + json.loads | {b:.2f} | {docs / b:,.0f} | 1.00 |")
    print(f"| `import_lake` (full) | {i:.2f} | {docs / i:,.0f} | {i / b:.2f} |")
    print(f"| re-import, nothing new | {noop_s:.3f} | | |")
    print()
    print(
        f"bytes per build: warehouse {wh_bytes / builds:,.0f}, lake files "
        f"{raw / builds:,.0f}, self-contained JSON {full:,.0f}"
    )
    print("table bytes:", ", ".join(f"{t} {n:,}" for t, n in per_table.items()))


if __name__ == "__main__":
    main()
