"""Soak the ingest service: concurrent posts from several processes, bounded in time.

    python bench/soak.py --seconds 60 --clients 4

Starts `buildcensus serve` on 127.0.0.1 with a fresh lake and a write token, runs client
processes that post realistic records for the given time, samples the server's RSS, then
checks the lake: every 2xx record is there exactly once. Prints one JSON summary line.
Exit code 1 when any 5xx happened or a record was lost or duplicated.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

BASE = {
    "schema_version": 1,
    "project": {"slug": "soak"},
    "version": {"slug": "latest"},
    "build": {
        "id": 0,
        "start": "2026-11-20T10:00:00Z",
        "length": 60,
        "success": True,
        "trigger": "webhook",
    },
    "config": {
        "user": {"version": 2, "build": {"os": "ubuntu-24.04", "tools": {"python": "3.12"}}}
    },
    "python": "3.12.13",
    "packages": {
        "pip": {"all": [{"name": f"pkg{i}", "version": f"1.{i}"} for i in range(60)]},
        "apt": {"all": [{"name": f"lib{i}", "version": f"2.{i}-1"} for i in range(300)]},
    },
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client(url: str, token: str, worker: int, deadline: float, out: mp.Queue) -> None:
    acked: list[int] = []
    statuses: dict[str, int] = {}
    latencies: list[float] = []
    n = 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        while time.time() < deadline:
            bid = worker * 10_000_000 + n
            rec = json.loads(json.dumps(BASE))
            rec["build"]["id"] = bid
            rec["project"]["slug"] = f"soak-{bid % 997}"
            rec["python"] = f"3.{bid % 13}.{bid % 7}"
            t0 = time.perf_counter()
            try:
                r = c.post("/api/v1/builds", json=rec)
                code = str(r.status_code)
            except httpx.HTTPError as exc:
                code = type(exc).__name__
            latencies.append(time.perf_counter() - t0)
            statuses[code] = statuses.get(code, 0) + 1
            if code in ("200", "201"):
                acked.append(bid)
            n += 1
    out.put({"acked": acked, "statuses": statuses, "latencies": latencies})


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--clients", type=int, default=4)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    tokens = tmp / "tokens.json"
    token = subprocess.run(
        [
            sys.executable,
            "-m",
            "buildcensus",
            "token",
            "create",
            "--tokens",
            str(tokens),
            "--scope",
            "write",
            "soak",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "buildcensus",
            "serve",
            "--port",
            str(port),
            "--lake",
            str(tmp / "lake"),
            "--tokens",
            str(tokens),
            "--log-level",
            "warning",
        ],
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{url}/api/v1/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        q: mp.Queue = mp.Queue()
        deadline = time.time() + args.seconds
        procs = [
            mp.Process(target=client, args=(url, token, w, deadline, q))
            for w in range(args.clients)
        ]
        for p in procs:
            p.start()
        samples = []
        while time.time() < deadline:
            samples.append(rss_kb(server.pid))
            time.sleep(1)
        results = [q.get(timeout=120) for _ in procs]
        for p in procs:
            p.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
    from buildcensus.lake import open_lake
    from buildcensus.lake.keys import build_id_from_key

    lake = open_lake(str(tmp / "lake"))
    stored = [int(build_id_from_key(k)) for k in lake.iter_keys()]
    acked = [b for r in results for b in r["acked"]]
    statuses: dict[str, int] = {}
    for r in results:
        for k, v in r["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
    lat = sorted(x for r in results for x in r["latencies"])
    third = max(len(samples) // 3, 1)
    summary = {
        "seconds": args.seconds,
        "clients": args.clients,
        "requests": len(lat),
        "records_per_s": round(len(acked) / args.seconds, 1),
        "p50_ms": round(lat[len(lat) // 2] * 1000, 1) if lat else None,
        "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 1) if lat else None,
        "statuses": statuses,
        "server_5xx": sum(v for k, v in statuses.items() if k.startswith("5")),
        "lost": len(set(acked) - set(stored)),
        "duplicates": len(stored) - len(set(stored)),
        "rss_mb_first_third": round(sum(samples[:third]) / third / 1024, 1),
        "rss_mb_last_third": round(sum(samples[-third:]) / third / 1024, 1),
    }
    print(json.dumps(summary))
    ok = summary["server_5xx"] == 0 and summary["lost"] == 0 and summary["duplicates"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
