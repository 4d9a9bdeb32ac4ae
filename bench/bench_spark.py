"""The same reports on DuckDB and on Spark (local mode) over the same Parquet warehouse, at
100,000 and 1,000,000 builds: time per report and cost growth per 10x data.

Data: `bench/bench_reports.py`'s generator writes the warehouse rows directly in the layout
`buildcensus import` writes (manifests included), because simulating 1,000,000 full records
and importing them takes hours on this machine. Both engines open it the way the CLI does
(`connect_warehouse`, `register_warehouse`) and every answer is checked to be identical.

    python bench/bench_spark.py [--sizes 100000 1000000] [--repeat 3] [--keep /tmp/DIR]
        [--only NAME ...] [--master local[2]] [--warmup 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_reports import NOW, REPORT_ARGS, generate, write_warehouse  # noqa: E402
from buildcensus.engines.spark import register_warehouse, run_report_spark, spark_session  # noqa: E402
from buildcensus.reports import connect_warehouse, make_params, run_report  # noqa: E402


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """(first run, median of the next `repeat` runs, result) in seconds."""
    t0 = time.perf_counter()
    result = fn()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return first, statistics.median(times), result


def typed(value: Any) -> Any:
    """A result with each leaf's Python type, so 1 and 1.0 differ."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [typed(v) for v in value]
    return (type(value).__name__, value)


def ensure_warehouse(root: Path, builds: int) -> None:
    """Generate and write the warehouse once; reuse it when it is already there."""
    if (root / "_manifest").is_dir():
        print(f"reusing {root}")
        return
    t0 = time.perf_counter()
    data = generate(builds)
    write_warehouse(data, root)
    print(f"{builds:,} builds generated and written to {root} in {time.perf_counter() - t0:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="keep the warehouses here and reuse them")
    ap.add_argument("--only", nargs="*", help="report names (default: all)")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument(
        "--warmup", type=int, default=1, help="untimed passes over all reports before timing"
    )
    args = ap.parse_args()
    names = args.only or list(REPORT_ARGS)
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-spark-"))
    window = {"since": (NOW - timedelta(days=90)).isoformat(), "until": NOW.isoformat()}
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"cores: {os.cpu_count()}, load average before: {load}")
    t0 = time.perf_counter()
    spark = spark_session(args.master)
    print(f"Spark session ({args.master}) started in {time.perf_counter() - t0:.1f} s")
    results: dict[int, dict[str, tuple[float, float, float]]] = {}
    try:
        for size in args.sizes:
            root = work / f"wh-{size}"
            ensure_warehouse(root, size)
            duck = connect_warehouse(str(root), threads=2)
            register_warehouse(spark, str(root))
            results[size] = {}
            if size == args.sizes[0] and args.warmup:
                # The JVM compiles Spark's hot paths during the first queries; without a
                # warm-up the first size would look slower and the growth factor smaller.
                t0 = time.perf_counter()
                for _ in range(args.warmup):
                    for name in names:
                        run_report_spark(name, make_params(**window, **REPORT_ARGS[name]), spark)
                print(f"Spark warm-up: {time.perf_counter() - t0:.0f} s")
            print(f"\n{size:,} builds  {'duckdb':>9} {'spark 1st':>10} {'spark':>9} {'ratio':>6}")
            for name in names:
                params = make_params(**window, **REPORT_ARGS[name])
                _, dt, ours = timed(
                    lambda n=name, p=params, c=duck: run_report(n, p, c), args.repeat
                )
                first, st, theirs = timed(
                    lambda n=name, p=params: run_report_spark(n, p, spark), args.repeat
                )
                same = typed(ours) == typed(theirs)
                results[size][name] = (dt, first, st)
                print(
                    f"{name:<13} {dt * 1000:>7.0f}ms {first * 1000:>8.0f}ms {st * 1000:>7.0f}ms "
                    f"{st / dt:>5.0f}x{'' if same else '  ANSWERS DIFFER'}",
                    flush=True,
                )
            duck.close()
    finally:
        spark.stop()
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    if len(args.sizes) >= 2:
        small, big = min(args.sizes), max(args.sizes)
        factor = big / small
        print(f"\ncost growth {small:,} -> {big:,} builds ({factor:.0f}x data)")
        print(f"{'report':<13} {'duckdb':>7} {'spark':>7}")
        for name in names:
            d0, _, s0 = results[small][name]
            d1, _, s1 = results[big][name]
            print(f"{name:<13} {d1 / d0:>6.1f}x {s1 / s0:>6.1f}x")
        d0, d1 = (sum(v[0] for v in results[s].values()) for s in (small, big))
        s0, s1 = (sum(v[2] for v in results[s].values()) for s in (small, big))
        print(f"{'all reports':<13} {d1 / d0:>6.1f}x {s1 / s0:>6.1f}x")
        print(f"totals: duckdb {d0:.2f} s -> {d1:.2f} s, spark {s0:.2f} s -> {s1:.2f} s")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
