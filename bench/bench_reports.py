"""Every named report on 1,000,000 builds: the warehouse (DuckDB over Parquet) vs one
PostgreSQL 15 table with a JSONB column per build, the way the original platform stored it.

Same data, same run, same questions; the answers are checked to agree before timing.
Starts a throwaway PostgreSQL cluster from Debian's package (needs root) and removes it after.

    python bench/bench_reports.py [--builds 1000000] [--repeat 3] [--repeat-warehouse 7]
                                  [--only NAME ...]
        [--no-pg] [--warehouse /tmp/DIR]   # profiling: warehouse side only, kept and reused
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs

from buildcensus.reports import connect_warehouse, make_params, run_report
from buildcensus.versions import is_prerelease, is_valid, matches, sort_key

PG_BIN = Path("/usr/lib/postgresql/15/bin")
NOW = datetime(2026, 12, 1)
SPAN_DAYS = 120
PYTHONS = ["3.6.15", "3.7.17", "3.8.18", "3.9.19", "3.10.14", "3.11.9", "3.12.4", "3.13.0"]
OSES = ["ubuntu-20.04", "ubuntu-22.04", "ubuntu-24.04"]
TRIGGERS = ["webhook", "webhook", "webhook", "api", "manual", "pull_request"]
SPHINX = ["1.8.5", "2.4.4", "3.5.4", "4.5.0", "5.3.0", "6.2.1", "7.0.1", "7.2.6", "7.4.7",
          "8.0.0rc1", "8.0.2", "8.1.3"]  # fmt: skip
THEMES = ["sphinx_rtd_theme", "furo", "alabaster", "pydata_sphinx_theme", "sphinx_book_theme"]
EXTS = [f"sphinx.ext.{n}" for n in ("autodoc", "napoleon", "viewcode", "intersphinx", "mathjax",
        "todo", "autosummary", "doctest")]  # fmt: skip
EXTS += ["myst_parser", "sphinx_copybutton", "nbsphinx"]
POOL = [f"pkg-{i:03d}" for i in range(300)]


# ------------------------------------------------------------------------------ data


def generate(n_builds: int, seed: int = 7) -> dict[str, Any]:
    """Profiles (package sets, configs, doctool sets) and builds referring to them."""
    rng = random.Random(seed)
    n_sets = 3000
    pip_sets = []
    for _ in range(n_sets):
        sphinx = SPHINX[min(len(SPHINX) - 1, int(rng.betavariate(4, 1.6) * len(SPHINX)))]
        pkgs = [
            ("sphinx", sphinx),
            ("docutils", rng.choice(["0.16", "0.18.1", "0.20.1", "0.21.2"])),
        ]
        pkgs += [
            (p, f"{rng.randint(0, 5)}.{rng.randint(0, 20)}")
            for p in rng.sample(POOL, rng.randint(6, 14))
        ]
        pip_sets.append(pkgs)
    configs = []
    for _ in range(200):
        cfg: dict[str, Any] = {"version": 2, "build": {"os": rng.choice(OSES)}}
        if rng.random() < 0.3:
            cfg["python"] = {"system_packages": True}
        if rng.random() < 0.5:
            cfg["sphinx"] = {"configuration": "docs/conf.py"}
        if rng.random() < 0.2:
            cfg["formats"] = "all"
        configs.append(cfg)
    doctools = []
    for _ in range(300):
        doctools.append((rng.sample(EXTS, rng.randint(1, 6)), rng.choice(THEMES)))
    n_projects = 30_000
    weights = [1.0 / (i + 1) ** 0.8 for i in range(n_projects)]
    projects = rng.choices(range(n_projects), weights=weights, k=n_builds)
    profile = {}
    for p in set(projects):
        profile[p] = (
            rng.randrange(n_sets),
            rng.randrange(n_sets),
            rng.uniform(0, SPAN_DAYS),
            rng.randrange(len(PYTHONS)),
            rng.randrange(len(configs)),
            rng.randrange(len(doctools)),
        )
    start0 = NOW - timedelta(days=SPAN_DAYS)
    builds = []
    for i, p in enumerate(projects):
        a, b, switch, py, cfg, dt = profile[p]
        day = rng.uniform(0, SPAN_DAYS)
        builds.append({
            "build_id": str(i + 1), "project": f"project-{p}",
            "start": start0 + timedelta(days=day), "success": rng.random() > 0.08,
            "length": round(rng.lognormvariate(4.0, 0.8), 3),
            "pip": a if day < switch else b,
            "python": PYTHONS[min(len(PYTHONS) - 1, py + (1 if day >= switch else 0))],
            "os": configs[cfg]["build"]["os"], "trigger": rng.choice(TRIGGERS),
            "config": cfg, "doctool": dt,
        })  # fmt: skip
    return {"pip_sets": pip_sets, "configs": configs, "doctools": doctools, "builds": builds}


def _keys(cfg: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k, v in cfg.items():
        out.append(prefix + k)
        if isinstance(v, dict):
            out += _keys(v, prefix + k + ".")
    return out


def _sid(prefix: str, i: int) -> str:
    """A content-hash-like id, as the importer makes them (sha256 hex)."""
    return prefix + hashlib.sha256(f"{prefix}{i}".encode()).hexdigest()


def write_warehouse(data: dict[str, Any], root: Path, batch: int = 50_000) -> None:
    """The tables of docs/warehouse.md, laid out as `buildcensus import` writes them.

    Lake keys sort by date, so each import run of `batch` documents covers a few days: one
    builds part per (run, month), rows sorted by (start, key), zstd, committed by a manifest —
    `open_warehouse(root).connect()` then reads it like any imported warehouse.
    """
    from buildcensus.warehouse._keys import add_keys
    from buildcensus.warehouse._schema import BASE_SCHEMAS
    from buildcensus.warehouse._store import Store, commit_run, new_run_id

    store = Store(pafs.LocalFileSystem(), str(root))
    pip_ids = [_sid("pip.all:", i) for i in range(len(data["pip_sets"]))]
    cfg_ids = [_sid("", 10_000_000 + i) for i in range(len(data["configs"]))]
    dt_ids = [_sid("", 20_000_000 + i) for i in range(len(data["doctools"]))]
    b = sorted(data["builds"], key=lambda x: (x["start"], x["build_id"]))
    n = len(b)
    for lo in range(0, max(n, 1), batch):
        chunk = b[lo : lo + batch]
        run_id = new_run_id()
        by_month: dict[tuple[int, int], list[dict[str, Any]]] = {}
        for x in chunk:
            by_month.setdefault((x["start"].year, x["start"].month), []).append(x)
        added: dict[str, list[str]] = {}
        for (y, m), rows in sorted(by_month.items()):
            keys = [f"telemetry/builds/{x['start']:%Y/%m/%Y-%m-%d}-{x['build_id']}.json"
                    for x in rows]  # fmt: skip
            k = len(rows)
            cols: dict[str, list[Any]] = {
                "build_id": [x["build_id"] for x in rows], "key": keys, "duplicate_of": [None] * k,
                "project": [x["project"] for x in rows],
                "project_id": [int(x["project"][8:]) for x in rows], "version": ["latest"] * k,
                "version_id": [int(x["project"][8:]) * 10 for x in rows],
                "organization": [None] * k, "start": [x["start"] for x in rows],
                "day": [x["start"].date() for x in rows], "length": [x["length"] for x in rows],
                "success": [x["success"] for x in rows], "commit": [None] * k,
                "trigger": [x["trigger"] for x in rows], "python": [x["python"] for x in rows],
                "os": [x["os"] for x in rows], "doctool": ["sphinx"] * k,
                "theme": [data["doctools"][x["doctool"]][1] for x in rows],
                "builder": ["html"] * k, "config_id": [cfg_ids[x["config"]] for x in rows],
                "config_version": ["2"] * k, "pip_all_set": [pip_ids[x["pip"]] for x in rows],
                "doctool_set": [dt_ids[x["doctool"]] for x in rows],
                "n_errors": [0] * k, "redactions": [0] * k,
                "collector_seconds": [0.5] * k,
            }  # fmt: skip
            schema = BASE_SCHEMAS["builds"]
            table = pa.Table.from_arrays(
                [pa.array(cols.get(f.name, [None] * k), type=f.type) for f in schema],
                schema=schema,
            )
            table = add_keys("builds", table)
            rel = f"builds/year={y:04d}/month={m:02d}/part-{run_id}.parquet"
            store.write_table(rel, table)
            added.setdefault("builds", []).append(rel)
        if lo == 0:
            for name, rows in _dimension_rows(data, pip_ids, cfg_ids, dt_ids).items():
                schema = BASE_SCHEMAS[name]
                table = pa.Table.from_pylist(
                    [dict(zip(schema.names, r, strict=False)) for r in rows], schema=schema
                )
                table = add_keys(name, table)
                rel = f"{name}/part-{run_id}.parquet"
                store.write_table(rel, table)
                added.setdefault(name, []).append(rel)
        now = datetime.now().isoformat()
        run = {"run_id": run_id, "kind": "import", "started": now, "finished": now, "keys": [],
               "quarantined": [], "added": added}  # fmt: skip
        commit_run(store, run)


def _dimension_rows(
    data: dict[str, Any], pip_ids: list[str], cfg_ids: list[str], dt_ids: list[str]
) -> dict[str, list[tuple]]:
    ps = [
        (pip_ids[i], "pip", "all", n, n, v, None, None)
        for i, s in enumerate(data["pip_sets"])
        for n, v in s
    ]
    ds = [(dt_ids[i], "extension", e) for i, (exts, _) in enumerate(data["doctools"]) for e in exts]
    ds += [(dt_ids[i], "theme", t) for i, (_, t) in enumerate(data["doctools"])]
    ck = [(cfg_ids[i], k) for i, c in enumerate(data["configs"]) for k in _keys(c)]
    cv = [
        (cfg_ids[i], "build.os", c["build"]["os"], True, "final")
        for i, c in enumerate(data["configs"])
    ]
    cf = [
        (cfg_ids[i], "2", json.dumps(c), json.dumps(c), True) for i, c in enumerate(data["configs"])
    ]
    vs = sorted(
        {("pip", v) for s in data["pip_sets"] for _, v in s} | {("python", p) for p in PYTHONS}
    )
    return {
        "package_sets": ps,
        "doctool_sets": ds,
        "tools_sets": [(_sid("", 30_000_000), "python", "3")],
        "configs": cf,
        "config_keys": ck,
        "config_values": cv,
        "versions": [(e, v, sort_key(e, v), is_prerelease(e, v), is_valid(e, v)) for e, v in vs],
        "projects": [(p,) for p in sorted({x["project"] for x in data["builds"]})],
    }


def connect_duckdb(root: Path) -> duckdb.DuckDBPyConnection:
    """The connection `buildcensus report` uses: `open_warehouse(root).connect()`."""
    return connect_warehouse(str(root))


# ------------------------------------------------------------------------------ PostgreSQL


class Postgres:
    """A throwaway cluster on 127.0.0.1 (initdb as the postgres user, removed on stop)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        shutil.chown(self.dir, "postgres")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.data = self.dir / "data"

    def _su(self, cmd: str) -> None:
        done = subprocess.run(["su", "postgres", "-c", cmd], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{cmd.split()[0]} failed: {done.stderr.strip()[-500:]}")

    def start(self) -> None:
        self._su(f"{PG_BIN}/initdb -D {self.data} -U postgres --auth=trust")
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} "
                "-c shared_buffers=2GB -c work_mem=256MB -c max_parallel_workers_per_gather=2 "
                "-c fsync=off -c synchronous_commit=off")  # fmt: skip
        self._su(f'{PG_BIN}/pg_ctl -D {self.data} -l {self.dir}/log -w -o "{opts}" start')

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._su(f"{PG_BIN}/pg_ctl -D {self.data} -m fast -w stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def connect(self):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", autocommit=True)


def load_postgres(pg, data: dict[str, Any]) -> None:
    """The original platform's table: Read the Docs' `telemetry.BuildData` model is a
    django-extensions `TimeStampedModel` (`created`, `modified`) with one `data` JSONField that
    holds everything, build and project included (`BuildDataManager.collect`). `created` is set
    to the build's start so that both sides select the same builds; it gets a B-tree index
    (the model has none: generous to PostgreSQL)."""
    pip_json = [json.dumps([{"name": n, "normalized": n, "version": v} for n, v in s])
                for s in data["pip_sets"]]  # fmt: skip
    cfg_json = [json.dumps(c) for c in data["configs"]]
    dt_json = [json.dumps({"name": "sphinx", "extensions": e, "theme": t})
               for e, t in data["doctools"]]  # fmt: skip
    with pg.connect() as conn:
        conn.execute(
            "CREATE TABLE builddata (id bigserial PRIMARY KEY, created timestamp NOT NULL, "
            "modified timestamp NOT NULL, data jsonb NOT NULL)"
        )
        with conn.cursor().copy("COPY builddata (created, modified, data) FROM STDIN") as copy:
            for x in data["builds"]:
                start = x["start"].isoformat()
                doc = (
                    f'{{"build": {{"id": "{x["build_id"]}", "start": "{start}", '
                    f'"length": {x["length"]}, "success": {json.dumps(x["success"])}}}, '
                    f'"project": {{"slug": "{x["project"]}"}}, '
                    f'"python": "{x["python"]}", "os": "{x["os"]}", "trigger": "{x["trigger"]}", '
                    f'"config": {{"user": {cfg_json[x["config"]]}}}, '
                    f'"packages": {{"pip": {{"all": {pip_json[x["pip"]]}}}}}, '
                    f'"doctool": {dt_json[x["doctool"]]}}}'
                )
                copy.write_row((x["start"], x["start"], doc))
        conn.execute("CREATE INDEX builddata_created ON builddata (created)")
        conn.execute("VACUUM ANALYZE builddata")


# The window's builds, the way a PostgreSQL user asks the BuildData table (ids are text here,
# as in the warehouse; numeric ids compare by length first).
B = """b AS (SELECT data, data->'project'->>'slug' AS project, data->'build'->>'id' AS build_id,
        created AS start FROM builddata WHERE created >= %(since)s AND created < %(until)s
        AND (data->'build'->>'success')::boolean)"""
STATE = ("ROW_NUMBER() OVER (PARTITION BY project ORDER BY start DESC, LENGTH(build_id) DESC, "
         "build_id DESC) AS rn")  # fmt: skip
PIP = "jsonb_array_elements(r.data->'packages'->'pip'->'all')"

PG_QUERIES: dict[str, str] = {
    "versions": f"""WITH {B}, r AS (SELECT data, {STATE} FROM b)
        SELECT p->>'version', SUM(CASE WHEN rn = 1 THEN 1 ELSE 0 END), COUNT(*)
        FROM r, {PIP} p WHERE p->>'normalized' = 'sphinx' GROUP BY 1""",
    "top": f"""WITH {B}, r AS (SELECT data, {STATE} FROM b)
        SELECT p->>'normalized' AS package, SUM(CASE WHEN rn = 1 THEN 1 ELSE 0 END) AS projects,
               COUNT(*) AS builds
        FROM r, {PIP} p GROUP BY 1 ORDER BY projects DESC, builds DESC, package LIMIT 50""",
    "adoption": f"""WITH {B}, r AS (SELECT data, ROW_NUMBER() OVER (PARTITION BY project,
               date_trunc('week', start) ORDER BY start DESC, LENGTH(build_id) DESC,
               build_id DESC) AS rn, to_char(date_trunc('week', start), 'YYYY-MM-DD') AS period
             FROM b)
        SELECT period, p->>'version', COUNT(*) FROM r, {PIP} p
        WHERE rn = 1 AND p->>'normalized' = 'sphinx' GROUP BY 1, 2""",
    "extensions": f"""WITH {B}, r AS (SELECT data, {STATE} FROM b)
        SELECT e, COUNT(*) FROM r, jsonb_array_elements_text(r.data->'doctool'->'extensions') e
        WHERE rn = 1 GROUP BY 1""",
    "themes": f"""WITH {B}, r AS (SELECT data, {STATE} FROM b)
        SELECT data->'doctool'->>'theme', COUNT(*) FROM r WHERE rn = 1 GROUP BY 1""",
    "breakdown": f"""WITH {B}, r AS (SELECT data, {STATE} FROM b)
        SELECT data->>'python', SUM(CASE WHEN rn = 1 THEN 1 ELSE 0 END), COUNT(*)
        FROM r GROUP BY 1""",
    "config-keys": f"""WITH {B}, r AS (SELECT data->'config'->'user' AS u, {STATE} FROM b),
        s AS (SELECT u FROM r WHERE rn = 1)
        SELECT k, COUNT(*) FROM (
          SELECT a.key AS k FROM s, jsonb_each(s.u) a
          UNION ALL
          SELECT a.key || '.' || b.key FROM s, jsonb_each(s.u) a, jsonb_each(a.value) b
          WHERE jsonb_typeof(a.value) = 'object') x GROUP BY 1""",
    "impact": f"""WITH {B}, r AS (SELECT project, build_id, data, {STATE} FROM b),
        m AS (SELECT project, build_id, rn, (data->>'python' = ANY(%(py)s) AND EXISTS (
                SELECT 1 FROM jsonb_array_elements(data->'packages'->'pip'->'all') p
                WHERE p->>'normalized' = 'sphinx' AND p->>'version' = ANY(%(sphinx)s))) AS hit
              FROM r)
        SELECT (SELECT COUNT(*) FROM m WHERE hit), project, build_id FROM m
        WHERE hit AND rn = 1 ORDER BY project""",
    "build-time": f"""WITH {B}, l AS (SELECT project, (data->'build'->>'length')::float8 AS length
             FROM b)
        SELECT project, COUNT(*),
          ROUND(percentile_cont(0.5) WITHIN GROUP (ORDER BY length)::numeric, 3),
          ROUND(percentile_cont(0.95) WITHIN GROUP (ORDER BY length)::numeric, 3),
          ROUND(MAX(length)::numeric, 3) AS mx
        FROM l GROUP BY project
        ORDER BY 4 DESC, project LIMIT 50""",
}

REPORT_ARGS: dict[str, dict[str, Any]] = {
    "versions": {"ecosystem": "pip", "package": "sphinx"},
    "top": {"ecosystem": "pip"},
    "adoption": {"ecosystem": "pip", "package": "sphinx", "by": "week"},
    "extensions": {"limit": 0},
    "themes": {"limit": 0},
    "breakdown": {"by": "python"},
    "config-keys": {},
    "impact": {"where": ["pip:sphinx<5", "python<3.9"], "limit": 0},
    "build-time": {},
}


def _canon(name: str, rows: Any) -> Any:
    """Comparable form of a result from either engine."""
    if name == "impact":
        if isinstance(rows, dict):
            return (rows["builds"], [(a["project"], a["last_build"]) for a in rows["affected"]])
        return (rows[0][0] if rows else 0, [(r[1], r[2]) for r in rows])
    out = [tuple(float(v) if hasattr(v, "as_tuple") else v for v in
                 (r.values() if isinstance(r, dict) else r)) for r in rows]  # fmt: skip
    return out if name in ("top", "build-time") else sorted(out, key=repr)


def _same(name: str, ours: Any, theirs: Any) -> bool:
    a, b = _canon(name, ours), _canon(name, theirs)
    if name != "build-time":
        return a == b
    # float ROUND vs PostgreSQL numeric rounding may differ in the last (millisecond) digit
    return len(a) == len(b) and all(
        x[:2] == y[:2] and all(abs(u - v) < 0.0015 for u, v in zip(x[2:], y[2:], strict=True))
        for x, y in zip(a, b, strict=True)
    )


def timed(fn, repeat: int) -> tuple[float, Any]:
    """Median wall time of `repeat` runs (the machine is shared: medians, not minima)."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--builds", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs per PostgreSQL query (median)")
    ap.add_argument(
        "--repeat-warehouse",
        type=int,
        default=7,
        help="runs per warehouse report (median; they are cheap, so more runs steady the median)",
    )
    ap.add_argument("--only", nargs="*", help="report names to run (default: all)")
    ap.add_argument("--no-pg", action="store_true", help="warehouse side only (profiling)")
    ap.add_argument(
        "--warehouse",
        type=Path,
        help="keep the generated warehouse in this directory and reuse it when present",
    )
    args = ap.parse_args()
    if os.geteuid() != 0 and not args.no_pg:
        raise SystemExit("needs root (to run initdb as the postgres user)")
    names = args.only or list(REPORT_ARGS)
    reuse = args.warehouse is not None and (args.warehouse / "_manifest").is_dir()
    data: dict[str, Any] | None = None
    if not (reuse and args.no_pg):
        t0 = time.perf_counter()
        data = generate(args.builds)
        print(f"generated {len(data['builds']):,} builds in {time.perf_counter() - t0:.1f} s")
    work = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    wh = args.warehouse or work / "wh"
    pg = None if args.no_pg else Postgres()
    try:
        if not reuse:
            assert data is not None
            t0 = time.perf_counter()
            write_warehouse(data, wh)
            print(f"warehouse written in {time.perf_counter() - t0:.1f} s")
        if pg is not None:
            assert data is not None
            pg.start()
            t0 = time.perf_counter()
            load_postgres(pg, data)
            print(f"PostgreSQL loaded in {time.perf_counter() - t0:.1f} s")
        con = connect_duckdb(wh)
        window = {"since": (NOW - timedelta(days=90)).isoformat(), "until": NOW.isoformat()}
        pg_args = {
            "since": NOW - timedelta(days=90), "until": NOW,
            "py": [p for p in PYTHONS if matches("python", p, "<3.9")],
            "sphinx": [v for v in SPHINX if matches("pip", v, "<5")],
        }  # fmt: skip
        print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print(f"\n{'report':<12} {'warehouse':>10} {'pg jsonb':>10} {'ratio':>8}  rows")
        conn = pg.connect() if pg is not None else None
        try:
            for name in names:
                params = make_params(**window, **REPORT_ARGS[name])
                dt, ours = timed(
                    lambda n=name, p=params: run_report(n, p, con), args.repeat_warehouse
                )
                rows = len(ours["affected"]) if isinstance(ours, dict) else len(ours)
                if conn is None:
                    print(f"{name:<12} {dt * 1000:>8.0f}ms {'-':>10} {'-':>8}  {rows}")
                    continue
                pt, theirs = timed(
                    lambda n=name: conn.execute(PG_QUERIES[n], pg_args).fetchall(), args.repeat
                )
                same = _same(name, ours, theirs)
                if not same and os.environ.get("BENCH_DEBUG"):
                    a, b = _canon(name, ours), _canon(name, theirs)
                    print([(x, y) for x, y in zip(a, b, strict=False) if x != y][:3])
                print(f"{name:<12} {dt * 1000:>8.0f}ms {pt * 1000:>8.0f}ms {pt / dt:>7.0f}x  "
                      f"{rows}{'' if same else '  ANSWERS DIFFER'}")  # fmt: skip
        finally:
            if conn is not None:
                conn.close()
        print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        con.close()
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
