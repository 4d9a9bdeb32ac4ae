"""Ingest throughput: `buildcensus serve` vs a FastAPI endpoint that discards the same body.

    python bench/bench_ingest.py [--seconds 8] [--clients 16] [--batch 50] [--rounds 2]
                                 [--workers 1] [--new-packages 0] [--no-writer-process]

Both servers run as uvicorn processes on 127.0.0.1 with the same settings (h11, no access
log, `--workers` processes each). Each ingest server process has its lake writer process
(`lake.writer`: the file-system checks, writes and syncs of its records) beside it; server CPU
includes every descendant process (workers, writer and sync processes). The load
generator is a lean asyncio HTTP/1.1 keep-alive client (so the client's own CPU cost stays
small next to the servers'), with `--clients` concurrent connections posting realistic
records: 40-160 pip packages from a pool of 400, ~250 apt packages of one of three images, a
user config, doctool data; 8-20 KB of JSON each. Every request carries a new build id and
commit, so each one is a new record (not a same-day duplicate); package sets repeat across
records as they do across builds of one project, so most blobs are already stored (and the
service's memo of package lists hits); `--new-packages 0.1` sends a never-seen package list in
one record of ten, `1` in every record. Rounds alternate baseline and ingest so machine noise
hits both. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response

PATH, BATCH_PATH = "/api/v1/builds", "/api/v1/builds/batch"
ID_MARK = b"987654321012345"  # replaced per request by a unique build id (same length)


def realistic_templates(n: int, seed: int = 7, unique_packages: bool = False) -> list[bytes]:
    """`n` record bodies (JSON bytes) with ID_MARK where the build id and commit go (and,
    `unique_packages`, a package version: no two requests then send the same packages)."""
    rng = random.Random(seed)
    pool = [f"pkg-{i}" for i in range(400)] + ["Sphinx", "docutils", "furo", "myst-parser"]
    images = [
        [{"name": f"lib{j}-{img}", "version": f"{img}.{j}-1ubuntu1"} for j in range(250)]
        for img in ("22.04", "24.04", "20.04")
    ]
    out = []
    for t in range(n):
        project = f"project-{t % 150}"
        pips = sorted(rng.sample(pool, rng.randint(40, 160)))
        rec: dict[str, Any] = {
            "schema_version": 1,
            "project": {"id": t % 150, "slug": project},
            "version": {"slug": rng.choice(["latest", "stable", "v1.2", "main"])},
            "build": {
                "id": int(ID_MARK),
                "start": f"2026-11-{1 + t % 28:02d}T{t % 24:02d}:15:00Z",
                "length": rng.uniform(20, 600),
                "success": rng.random() > 0.1,
                "commit": ID_MARK.decode(),
                "trigger": rng.choice(["webhook", "manual", "pull_request"]),
                "steps": [{"name": s, "seconds": rng.uniform(1, 90)} for s in ("clone", "build")],
            },
            "config": {
                "user": {
                    "version": 2,
                    "build": {"os": "ubuntu-24.04", "tools": {"python": "3.12"}},
                    "sphinx": {"configuration": "docs/conf.py"},
                    "python": {"install": [{"requirements": "docs/requirements.txt"}]},
                },
                "user_raw": f"version: 2\n# {project}\nbuild:\n  os: ubuntu-24.04\n",
            },
            "python": rng.choice(["3.10.15", "3.11.10", "3.12.7", "3.13.0"]),
            "os": "ubuntu-24.04",
            "tools": {"python": "3.12.7"},
            "packages": {
                "pip": {
                    "user": [{"name": p, "specifier": ">=1"} for p in pips[:5]],
                    "all": [{"name": p, "version": f"{rng.randint(0, 9)}.{t % 3}"} for p in pips]
                    + ([{"name": "bench-unique", "version": ID_MARK.decode()}] * unique_packages),
                },
                "apt": {"all": images[t % 3]},
            },
            "doctool": {
                "name": "sphinx",
                "extensions": ["sphinx.ext.autodoc", "myst_parser"],
                "theme": rng.choice(["furo", "sphinx_rtd_theme", "alabaster"]),
            },
            "collector": {"version": "0.1.0", "seconds": 0.4},
        }
        out.append(json.dumps(rec, separators=(",", ":")).encode())
    return out


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


baseline_app = FastAPI()


@baseline_app.post("/api/v1/builds")
@baseline_app.post("/api/v1/builds/batch")
async def discard(request: Request) -> Response:
    """The baseline: read the body, discard it and answer 201."""
    await request.body()
    return Response(b'{"status":"discarded"}', 201, media_type="application/json")


def serve_baseline(port: int, workers: int = 1) -> None:
    """A minimal FastAPI app that reads the body, discards it and answers 201."""
    import uvicorn

    uvicorn.run(
        "bench_ingest:baseline_app" if workers > 1 else baseline_app,
        app_dir=str(Path(__file__).parent),
        workers=workers,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )


def start(args: list[str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"server did not start: {args}")


def _stat(pid: int | str) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its descendants, e.g. uvicorn workers and
    the ingest service's sync processes (Linux /proc; children that exited are counted in
    their parent's cutime/cstime)."""
    stats: dict[str, list[str]] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stats[proc.name] = _stat(proc.name)
            except OSError:
                continue
    family, grew = {str(pid)}, True
    while grew:
        grew = False
        for name, fields in stats.items():
            if name not in family and fields[1] in family:
                family.add(name)
                grew = True
    ticks = sum(int(stats[n][11]) + int(stats[n][12]) for n in family if n in stats)
    return ticks / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- load


@dataclass
class Run:
    requests: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu: float = 0.0


async def _client(
    port: int, path: str, token: str, bodies: Any, deadline: float, run: Run, warmup_end: float
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nContent-Length: "
    ).encode()
    try:
        while (now := time.perf_counter()) < deadline:
            body = next(bodies)
            writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
            headers = await reader.readuntil(b"\r\n\r\n")
            status = int(headers[9:12])
            length = 0
            for line in headers.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            if now >= warmup_end:
                run.latencies.append(time.perf_counter() - now)
                run.requests += 1
                run.errors += status >= 300
    finally:
        writer.close()


def bodies_for(
    templates: list[bytes],
    batch: int,
    counter: list[int],
    fresh: tuple[list[bytes], int] = ([], 0),
    array: bool = False,
) -> Any:
    """An endless iterator of request bodies (`batch` records in a JSON array, or one record),
    each with fresh build ids; with `fresh` (templates with a package version set by the id,
    n), every n-th record from those: a package list no request sent before."""
    unique, every = fresh
    while True:
        items = []
        for _ in range(batch):
            counter[0] += 1
            pick = unique if every and counter[0] % every == 0 else templates
            tpl = pick[counter[0] % len(pick)]
            items.append(tpl.replace(ID_MARK, str(10**14 + counter[0]).encode()))
        yield b"[" + b",".join(items) + b"]" if array else items[0]


def load(
    port: int, pid: int, path: str, token: str, bodies: Any, clients: int, a: argparse.Namespace
) -> Run:
    """`clients` connections posting for warm-up + measured seconds; the measured part."""
    run = Run()

    async def main() -> None:
        start_t = time.perf_counter()
        warm, deadline = start_t + a.warmup, start_t + a.warmup + a.seconds
        await asyncio.gather(
            *(_client(port, path, token, bodies, deadline, run, warm) for _ in range(clients))
        )

    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    asyncio.run(main())
    run.seconds = time.perf_counter() - t0 - a.warmup
    # The measured seconds' share of the CPU of the whole run (the same load throughout).
    run.cpu = (cpu_seconds(pid) - cpu0) * run.seconds / (run.seconds + a.warmup)
    return run


def breakdown(templates: list[bytes], tmp: Path, n: int = 150) -> list[tuple[str, float]]:
    """CPU-side cost per record of each step of the ingest path, in-process (ms/record)."""
    from buildcensus.lake import Lake, LocalStorage
    from buildcensus.record import parse_record
    from buildcensus.redact import redact_record
    from buildcensus.service.app import tune_gc
    from buildcensus.service.limits import check_shape
    from buildcensus.service.settings import Limits

    tune_gc()  # as `buildcensus serve` does
    bodies = [t.replace(ID_MARK, str(2 * 10**14 + i).encode()) for i, t in enumerate(templates)]
    bodies = bodies[:n]
    size = max(map(len, bodies))  # the service passes each body's own size
    steps: list[tuple[str, Any]] = [
        ("JSON decode (orjson)", json_loads),
        ("service limits (depth, lengths)", lambda v: (check_shape(v, Limits(), size), v)[1]),
        # The service's limits walk bounded the depth, so parse_record skips its own walk.
        ("validation (parse_record)", lambda v: parse_record(v, check_depth=False)),
        ("redaction (redact_record)", redact_record),
    ]
    out, values = [], bodies
    for name, fn in steps:
        t = time.perf_counter()
        values = [fn(v) for v in values]
        out.append((name, (time.perf_counter() - t) / n * 1000))
    records = [parse_record(json_loads(b)) for b in bodies]
    for durable in (False, True):
        lake = Lake(LocalStorage(tmp / f"breakdown-{durable}", durable=durable))
        t = time.perf_counter()
        for r in records:
            lake.store(r)
        label = "Lake.store, fsync on (one writer)" if durable else "Lake.store, no fsync"
        out.append((label, (time.perf_counter() - t) / n * 1000))
    # What the service runs instead: the limits and validation into the record's JSON
    # document (no models), then storing that document (redaction included).
    from buildcensus.service.ingest import Ingestor, OptOutList
    from buildcensus.service.metrics import Metrics

    lake = Lake(LocalStorage(tmp / "breakdown-document", durable=False))
    ingestor = Ingestor(lake, Limits(), OptOutList(None), Metrics())
    values = [json_loads(b) for b in bodies]
    t = time.perf_counter()
    docs = [ingestor.validate_document(v, len(b)) for v, b in zip(values, bodies, strict=True)]
    label = "service: limits + validation (Ingestor.validate_document)"
    out.append((label, (time.perf_counter() - t) / n * 1000))
    t = time.perf_counter()
    for d in docs:
        lake.store_document(d)
    label = "service: Lake.store_document, no fsync (redaction included)"
    out.append((label, (time.perf_counter() - t) / n * 1000))
    # The fast path of POST /api/v1/builds (`Ingestor.ingest_fast` less its sync): package
    # lists new to the lake (the first round), then the same lists again (a second round).
    for base, label in ((4, "new"), (5, "known")):
        batch = [
            t.replace(ID_MARK, str(base * 10**14 + i).encode()) for i, t in enumerate(templates)
        ]
        batch = batch[:n]
        t = time.perf_counter()
        for body in batch:
            value, memo = ingestor._parse_fast(body)
            found = ingestor._valid_within_limits(value, len(body), memo)
            assert found is not None
            ingestor._store_unsynced(*found)
        label = f"service fast path: parse + validate + store, no fsync ({label} package lists)"
        out.append((label, (time.perf_counter() - t) / n * 1000))
    return out


def json_loads(body: bytes) -> Any:
    import orjson

    return orjson.loads(body)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else float("nan")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=8.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--clients", type=int, default=16, help="concurrent connections")
    p.add_argument("--batch", type=int, default=50, help="records per batch request (0: skip)")
    p.add_argument("--batch-clients", type=int, default=4, help="connections in batch mode")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--workers", type=int, default=1, help="server processes (both servers)")
    p.add_argument(
        "--new-packages",
        type=float,
        default=0.0,
        help="share of records with a package list no request sent before (e.g. a dependency "
        "released; 1: every record, the ingest path's memo of package lists never hits)",
    )
    p.add_argument(
        "--no-writer-process",
        action="store_true",
        help="serve ingest with --no-writer-process (the server process stores records itself)",
    )
    p.add_argument("--serve-baseline", type=int, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.serve_baseline:
        serve_baseline(a.serve_baseline, a.workers)
        return

    from buildcensus.lake import open_lake
    from buildcensus.service.auth import create_token

    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    token = create_token(tmp / "tokens.json", "bench", ["write"])
    templates = realistic_templates(300)
    every = round(1 / a.new_packages) if a.new_packages > 0 else 0
    fresh = (realistic_templates(300, seed=8, unique_packages=True), every)
    sizes = sorted(len(t) for t in templates)
    bp, ip = free_port(), free_port()
    workers = ["--workers", str(a.workers)]
    baseline = start([sys.executable, __file__, "--serve-baseline", str(bp), *workers], bp)
    ingest = start(
        [sys.executable, "-m", "buildcensus", "serve", "--port", str(ip), "--lake",
         str(tmp / "lake"), "--tokens", str(tmp / "tokens.json"), "--log-level", "warning",
         *workers, *(["--no-writer-process"] if a.no_writer_process else [])],
        ip,
    )  # fmt: skip
    time.sleep(1.0 if a.workers > 1 else 0)  # every worker listening, not just the first
    counter = [0]
    modes = [("single", PATH, 1, a.clients)]
    if a.batch:
        modes.append((f"batch of {a.batch}", BATCH_PATH, a.batch, a.batch_clients))
    results: dict[tuple[str, str], list[Run]] = {}
    try:
        for _ in range(a.rounds):
            for mode, path, n, clients in modes:
                for name, port, proc in (("baseline", bp, baseline), ("ingest", ip, ingest)):
                    bodies = bodies_for(templates, n, counter, fresh, path == BATCH_PATH)
                    run = load(port, proc.pid, path, token, bodies, clients, a)
                    results.setdefault((mode, name), []).append(run)
    finally:
        for proc in (baseline, ingest):
            proc.terminate()
            proc.wait(10)
    stored = sum(1 for _ in open_lake(str(tmp / "lake")).iter_keys())

    median = sizes[len(sizes) // 2] // 1024
    print(
        f"records: {sizes[0] // 1024}-{sizes[-1] // 1024} KB JSON (median {median} KB); "
        f"{a.rounds} x {a.seconds:g} s per cell; {os.cpu_count()} CPUs; "
        f"{a.workers} server process{'es' if a.workers > 1 else ''} each (ingest: each "
        f"{'without' if a.no_writer_process else 'with'} its writer process); "
        f"new package lists in {1 / every if every else 0:.0%} of records; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print()
    print(
        "| mode (connections) | server | records/s | requests/s | p50 ms | p99 ms "
        "| server CPU ms/record | errors |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for mode, _path, n, clients in modes:
        rate = {}
        for name in ("baseline", "ingest"):
            runs = results[(mode, name)]
            reqs, secs = sum(r.requests for r in runs), sum(r.seconds for r in runs)
            lat = [x for r in runs for x in r.latencies]
            rate[name] = reqs * n / secs
            cpu = sum(r.cpu for r in runs) / max(1, reqs * n) * 1000
            print(
                f"| {mode} ({clients}) | {name} | {rate[name]:,.0f} | {reqs / secs:,.1f} | "
                f"{pct(lat, 50):.1f} | {pct(lat, 99):.1f} | {cpu:.2f} | "
                f"{sum(r.errors for r in runs)} |"
            )
        ratio = rate["ingest"] / rate["baseline"]
        print(f"| {mode} ({clients}) | **ingest / baseline** | **{ratio:.0%}** | | | | | |")
    print()
    print(f"lake after the runs: {stored} build documents")
    print()
    print("| step of the ingest path (in-process, one thread) | ms/record |")
    print("|---|---:|")
    for name, ms in breakdown(templates, tmp):
        print(f"| {name} | {ms:.2f} |")


if __name__ == "__main__":
    main()
