"""Every named report on 1,000,000 builds: the warehouse (DuckDB over Parquet) vs one
PostgreSQL 15 table with a JSONB column per build, the way the original platform stored it.

Same data, same run, same questions; the answers are checked to agree before timing.
Starts a throwaway PostgreSQL cluster from Debian's package (needs root) and removes it after.

    python bench/bench_reports.py [--builds 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from buildcensus.reports import make_params, run_report
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


def write_warehouse(data: dict[str, Any], root: Path) -> None:
    """The tables of docs/warehouse.md (the columns the reports read), as Parquet."""
    b = data["builds"]
    cols = {
        "build_id": [x["build_id"] for x in b], "project": [x["project"] for x in b],
        "start": [x["start"] for x in b], "length": [x["length"] for x in b],
        "success": [x["success"] for x in b], "trigger": [x["trigger"] for x in b],
        "python": [x["python"] for x in b], "os": [x["os"] for x in b],
        "doctool": ["sphinx"] * len(b), "theme": [data["doctools"][x["doctool"]][1] for x in b],
        "builder": ["html"] * len(b), "config_id": [f"c{x['config']}" for x in b],
        "config_version": ["2"] * len(b), "pip_user_set": [None] * len(b),
        "pip_top_level_set": [None] * len(b), "pip_all_set": [f"pip.all:{x['pip']}" for x in b],
        "conda_user_set": [None] * len(b), "conda_all_set": [None] * len(b),
        "apt_user_set": [None] * len(b), "apt_all_set": [None] * len(b),
        "doctool_set": [f"d{x['doctool']}" for x in b], "tools_set": [None] * len(b),
        "year": [x["start"].year for x in b], "month": [x["start"].month for x in b],
    }  # fmt: skip
    table = pa.table(cols).cast(pa.schema([
        (k, pa.timestamp("us") if k == "start" else pa.float64() if k == "length"
         else pa.bool_() if k == "success" else pa.int32() if k in ("year", "month")
         else pa.string()) for k in cols
    ]))  # fmt: skip
    pq.write_to_dataset(table, root / "builds", partition_cols=["year", "month"])
    ps = [
        (f"pip.all:{i}", "pip", "all", n, n, v)
        for i, s in enumerate(data["pip_sets"])
        for n, v in s
    ]
    _write(
        root, "package_sets", ["set_id", "ecosystem", "scope", "name", "normalized", "version"], ps
    )
    ds = [(f"d{i}", "extension", e) for i, (exts, _) in enumerate(data["doctools"]) for e in exts]
    ds += [(f"d{i}", "theme", t) for i, (_, t) in enumerate(data["doctools"])]
    _write(root, "doctool_sets", ["set_id", "kind", "name"], ds)
    _write(root, "tools_sets", ["set_id", "name", "version"], [("t", "python", "3")])
    ck = [(f"c{i}", k) for i, c in enumerate(data["configs"]) for k in _keys(c)]
    _write(root, "config_keys", ["config_id", "key"], ck)
    cv = [
        (f"c{i}", "build.os", c["build"]["os"], True, "final")
        for i, c in enumerate(data["configs"])
    ]
    _write(root, "config_values", ["config_id", "key", "value", "user_set", "source"], cv)
    vs = sorted(
        {("pip", v) for s in data["pip_sets"] for _, v in s} | {("python", p) for p in PYTHONS}
    )
    _write(
        root,
        "versions",
        ["ecosystem", "version", "sort_key", "is_prerelease", "valid"],
        [(e, v, sort_key(e, v), is_prerelease(e, v), is_valid(e, v)) for e, v in vs],
    )


def _write(root: Path, table: str, names: list[str], rows: list[tuple]) -> None:
    (root / table).mkdir(parents=True, exist_ok=True)
    arrays = [pa.array([r[i] for r in rows]) for i in range(len(names))]
    pq.write_table(pa.table(arrays, names=names), root / table / "part-bench.parquet")


def connect_duckdb(root: Path) -> duckdb.DuckDBPyConnection:
    """One view per table, as `open_warehouse(url).connect()` gives."""
    con = duckdb.connect(config={"threads": "2"})
    con.execute(
        f"CREATE VIEW builds AS SELECT * FROM read_parquet('{root}/builds/*/*/*.parquet', "
        "hive_partitioning=true, hive_types={'year': INTEGER, 'month': INTEGER})"
    )
    for t in (
        "package_sets",
        "doctool_sets",
        "tools_sets",
        "config_keys",
        "config_values",
        "versions",
    ):
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{root}/{t}/*.parquet')")
    return con


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
    """One row per build: columns of the Build model, the collected data as JSONB."""
    pip_json = [json.dumps([{"name": n, "normalized": n, "version": v} for n, v in s])
                for s in data["pip_sets"]]  # fmt: skip
    cfg_json = [json.dumps(c) for c in data["configs"]]
    dt_json = [json.dumps({"name": "sphinx", "extensions": e, "theme": t})
               for e, t in data["doctools"]]  # fmt: skip
    with pg.connect() as conn:
        conn.execute(
            "CREATE TABLE builds (build_id text, project text, start timestamp, success boolean, "
            "length float8, data jsonb)"
        )
        with conn.cursor().copy(
            "COPY builds (build_id, project, start, success, length, data) FROM STDIN"
        ) as copy:
            for x in data["builds"]:
                doc = (
                    f'{{"python": "{x["python"]}", "os": "{x["os"]}", "trigger": "{x["trigger"]}", '
                    f'"config": {{"user": {cfg_json[x["config"]]}}}, '
                    f'"packages": {{"pip": {{"all": {pip_json[x["pip"]]}}}}}, '
                    f'"doctool": {dt_json[x["doctool"]]}}}'
                )
                copy.write_row((x["build_id"], x["project"], x["start"], x["success"],
                                x["length"], doc))  # fmt: skip
        conn.execute("CREATE INDEX builds_start ON builds (start)")
        conn.execute("VACUUM ANALYZE builds")


STATE = ("ROW_NUMBER() OVER (PARTITION BY project ORDER BY start DESC, LENGTH(build_id) DESC, "
         "build_id DESC) AS rn")  # fmt: skip
WIN = "start >= %(since)s AND start < %(until)s AND success"
PIP = "jsonb_array_elements(r.data->'packages'->'pip'->'all')"

PG_QUERIES: dict[str, str] = {
    "versions": f"""WITH r AS (SELECT data, {STATE} FROM builds WHERE {WIN})
        SELECT p->>'version', SUM(CASE WHEN rn = 1 THEN 1 ELSE 0 END), COUNT(*)
        FROM r, {PIP} p WHERE p->>'normalized' = 'sphinx' GROUP BY 1""",
    "top": f"""WITH r AS (SELECT data, {STATE} FROM builds WHERE {WIN})
        SELECT p->>'normalized' AS package, SUM(CASE WHEN rn = 1 THEN 1 ELSE 0 END) AS projects,
               COUNT(*) AS builds
        FROM r, {PIP} p GROUP BY 1 ORDER BY projects DESC, builds DESC, package LIMIT 50""",
    "adoption": f"""WITH r AS (SELECT data, ROW_NUMBER() OVER (PARTITION BY project,
               date_trunc('week', start) ORDER BY start DESC, LENGTH(build_id) DESC,
               build_id DESC) AS rn, to_char(date_trunc('week', start), 'YYYY-MM-DD') AS period
             FROM builds WHERE {WIN})
        SELECT period, p->>'version', COUNT(*) FROM r, {PIP} p
        WHERE rn = 1 AND p->>'normalized' = 'sphinx' GROUP BY 1, 2""",
    "extensions": f"""WITH r AS (SELECT data, {STATE} FROM builds WHERE {WIN})
        SELECT e, COUNT(*) FROM r, jsonb_array_elements_text(r.data->'doctool'->'extensions') e
        WHERE rn = 1 GROUP BY 1""",
    "themes": f"""WITH r AS (SELECT data, {STATE} FROM builds WHERE {WIN})
        SELECT data->'doctool'->>'theme', COUNT(*) FROM r WHERE rn = 1 GROUP BY 1""",
    "breakdown": f"""WITH r AS (SELECT data, {STATE} FROM builds WHERE {WIN})
        SELECT data->>'python', SUM(CASE WHEN rn = 1 THEN 1 ELSE 0 END), COUNT(*)
        FROM r GROUP BY 1""",
    "config-keys": f"""WITH r AS (SELECT data->'config'->'user' AS u, {STATE} FROM builds
             WHERE {WIN}), s AS (SELECT u FROM r WHERE rn = 1)
        SELECT k, COUNT(*) FROM (
          SELECT a.key AS k FROM s, jsonb_each(s.u) a
          UNION ALL
          SELECT a.key || '.' || b.key FROM s, jsonb_each(s.u) a, jsonb_each(a.value) b
          WHERE jsonb_typeof(a.value) = 'object') x GROUP BY 1""",
    "impact": f"""WITH r AS (SELECT project, build_id, data, {STATE} FROM builds WHERE {WIN}),
        m AS (SELECT project, build_id, rn, (data->>'python' = ANY(%(py)s) AND EXISTS (
                SELECT 1 FROM jsonb_array_elements(data->'packages'->'pip'->'all') p
                WHERE p->>'normalized' = 'sphinx' AND p->>'version' = ANY(%(sphinx)s))) AS hit
              FROM r)
        SELECT (SELECT COUNT(*) FROM m WHERE hit), project, build_id FROM m
        WHERE hit AND rn = 1 ORDER BY project""",
    "build-time": f"""SELECT project, COUNT(*),
          ROUND(percentile_cont(0.5) WITHIN GROUP (ORDER BY length)::numeric, 3),
          ROUND(percentile_cont(0.95) WITHIN GROUP (ORDER BY length)::numeric, 3),
          ROUND(MAX(length)::numeric, 3) AS mx
        FROM builds WHERE {WIN} GROUP BY project
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
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--builds", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (to run initdb as the postgres user)")
    t0 = time.perf_counter()
    data = generate(args.builds)
    print(f"generated {len(data['builds']):,} builds in {time.perf_counter() - t0:.1f} s")
    work = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    pg = Postgres()
    try:
        t0 = time.perf_counter()
        write_warehouse(data, work / "wh")
        print(f"warehouse written in {time.perf_counter() - t0:.1f} s")
        pg.start()
        t0 = time.perf_counter()
        load_postgres(pg, data)
        print(f"PostgreSQL loaded in {time.perf_counter() - t0:.1f} s")
        con = connect_duckdb(work / "wh")
        window = {"since": (NOW - timedelta(days=90)).isoformat(), "until": NOW.isoformat()}
        pg_args = {
            "since": NOW - timedelta(days=90), "until": NOW,
            "py": [p for p in PYTHONS if matches("python", p, "<3.9")],
            "sphinx": [v for v in SPHINX if matches("pip", v, "<5")],
        }  # fmt: skip
        print(f"\n{'report':<12} {'warehouse':>10} {'pg jsonb':>10} {'ratio':>8}  rows")
        with pg.connect() as conn:
            for name, kw in REPORT_ARGS.items():
                params = make_params(**window, **kw)
                dt, ours = timed(lambda n=name, p=params: run_report(n, p, con), args.repeat)
                pt, theirs = timed(
                    lambda n=name: conn.execute(PG_QUERIES[n], pg_args).fetchall(), args.repeat
                )
                same = _same(name, ours, theirs)
                if not same and os.environ.get("BENCH_DEBUG"):
                    a, b = _canon(name, ours), _canon(name, theirs)
                    print([(x, y) for x, y in zip(a, b, strict=False) if x != y][:3])
                rows = len(ours["affected"]) if isinstance(ours, dict) else len(ours)
                print(f"{name:<12} {dt * 1000:>8.0f}ms {pt * 1000:>8.0f}ms {pt / dt:>7.0f}x  "
                      f"{rows}{'' if same else '  ANSWERS DIFFER'}")  # fmt: skip
        con.close()
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
