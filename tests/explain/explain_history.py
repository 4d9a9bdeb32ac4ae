"""A small, honest generator of build histories for the regression detector.

Synthetic, but with the features that make real detection hard: projects differ in how often
they fail (Beta-distributed propensity), failures persist (a broken project stays broken until
fixed), some projects pin a package and never move, packages release new versions at random
times, and builds arrive at random (Poisson per day). A planted regression makes builds that
install one package version fail with an extra probability.

Run it as a script to measure the false-alarm rate over many seeds:
`python tests/explain/explain_history.py --seeds 1000`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

T0 = datetime(2026, 10, 1, tzinfo=UTC)

PIP_PACKAGES = ("sphinx", "docutils", "jinja2", "pygments", "furo", "myst-parser", "requests")
APT_PACKAGES = ("libc6", "graphviz", "pandoc")


@dataclass(frozen=True)
class Plant:
    """A bad release of `package`: builds installing it fail with extra probability `harm`."""

    ecosystem: str
    package: str
    harm: float = 0.5


@dataclass
class History:
    """A generated history: warehouse rows (builds, package_sets) and full records."""

    builds: list[dict[str, Any]] = field(default_factory=list)
    package_sets: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    planted: str | None = None  # the bad version, when a regression was planted


def _pip_version(i: int) -> str:
    return f"{1 + i // 3}.{i % 3}.0"


def _apt_version(i: int) -> str:
    return f"1:2.{i}-1"


def _releases(rng: random.Random, days: int) -> list[tuple[datetime, int]]:
    """Release times of one package: version 0 before the history, then 0-3 more."""
    out = [(T0 - timedelta(days=30), 0)]
    for i in range(1, rng.randint(0, 3) + 1):
        out.append((T0 + timedelta(days=rng.uniform(0, days - 1)), i))
    out.sort()
    return [(t, i) for i, (t, _) in enumerate(out)]


def _set_id(eco: str, items: list[tuple[str, str]]) -> str:
    return hashlib.sha256(json.dumps([eco, items]).encode()).hexdigest()


def generate(
    seed: int,
    projects: int = 150,
    days: int = 28,
    rate: float = 0.8,
    plant: Plant | None = None,
    records: bool = False,
) -> History:
    """A history of `projects` projects building about `rate` times a day for `days` days."""
    rng = random.Random(seed)
    versions = {("pip", p): (_releases(rng, days), _pip_version) for p in PIP_PACKAGES} | {
        ("apt", p): (_releases(rng, days), _apt_version) for p in APT_PACKAGES
    }
    hist = History()
    if plant is not None:  # the bad release comes early enough for many builds to pick it up
        rel, fmt = versions[(plant.ecosystem, plant.package)]
        when = T0 + timedelta(days=rng.uniform(2, days / 3))
        rel = sorted([*rel, (when, -1)])
        hist.planted = fmt(next(i for i, (t, _) in enumerate(rel) if t == when))
        versions[(plant.ecosystem, plant.package)] = ([(t, i) for i, (t, _) in enumerate(rel)], fmt)
    seen_sets: set[str] = set()
    build_id = 1000
    for j in range(projects):
        slug = f"p{j:04d}"
        propensity = rng.betavariate(1.2, 18)  # mean ~6 %, a long tail of flaky projects
        uses = {k: rng.random() < 0.7 for k in versions}
        uses[("pip", "sphinx")] = True
        pinned = {k: rng.random() < 0.3 for k in versions}
        broken = False
        t = T0
        while True:
            t += timedelta(days=rng.expovariate(rate))
            if t >= T0 + timedelta(days=days):
                break
            installed: dict[tuple[str, str], str] = {}
            for k, (rel, fmt) in versions.items():
                if not uses[k]:
                    continue
                idx = 0 if pinned[k] else max(i for rt, i in rel if rt <= t)
                installed[k] = fmt(idx)
            p_fail = propensity
            if plant is not None and installed.get((plant.ecosystem, plant.package)) == (
                hist.planted
            ):
                p_fail = 1 - (1 - p_fail) * (1 - plant.harm)
            if broken:  # persistent breakage: fixed with probability 1/2 per build
                broken = rng.random() < 0.5
            else:
                broken = rng.random() < p_fail
            success = not broken
            build_id += 1
            row: dict[str, Any] = {
                "build_id": str(build_id),
                "key": f"k/{build_id}",
                "project": slug,
                "version": "latest",
                "start": t.replace(tzinfo=None),
                "success": success,
                "pip_all_set": None,
                "pip_top_level_set": None,
                "conda_all_set": None,
                "apt_all_set": None,
            }
            for eco in ("pip", "apt"):
                items = sorted((n, v) for (e, n), v in installed.items() if e == eco)
                if not items:
                    continue
                sid = _set_id(eco, items)
                row[f"{eco}_all_set"] = sid
                if sid not in seen_sets:
                    seen_sets.add(sid)
                    hist.package_sets.extend(
                        {
                            "set_id": sid,
                            "ecosystem": eco,
                            "scope": "all",
                            "name": n,
                            "normalized": n,
                            "version": v,
                        }
                        for n, v in items
                    )
            hist.builds.append(row)
            if records:
                hist.records.append(_record(row, installed))
    return hist


def _record(row: dict[str, Any], installed: dict[tuple[str, str], str]) -> dict[str, Any]:
    """The full build record of a generated build (for the lake and the CLI)."""
    pkgs = {
        eco: [{"name": n, "version": v} for (e, n), v in sorted(installed.items()) if e == eco]
        for eco in ("pip", "apt")
    }
    return {
        "schema_version": 1,
        "project": {"slug": row["project"]},
        "version": {"slug": row["version"]},
        "build": {
            "id": int(row["build_id"]),
            "start": row["start"].isoformat() + "Z",
            "length": 60.0,
            "success": row["success"],
        },
        "python": "3.12.7",
        "os": "ubuntu-24.04",
        "packages": {"pip": {"all": pkgs["pip"]}, "apt": {"all": pkgs["apt"]}},
        "doctool": {"name": "sphinx"},
    }


def warehouse(hist: History) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with `builds` and `package_sets` tables of the documented types."""
    con = duckdb.connect()
    builds = pa.Table.from_pylist(
        hist.builds,
        schema=pa.schema(
            [
                ("build_id", pa.string()),
                ("key", pa.string()),
                ("project", pa.string()),
                ("version", pa.string()),
                ("start", pa.timestamp("us")),
                ("success", pa.bool_()),
                ("pip_all_set", pa.string()),
                ("pip_top_level_set", pa.string()),
                ("conda_all_set", pa.string()),
                ("apt_all_set", pa.string()),
            ]
        ),
    )
    sets = pa.Table.from_pylist(
        hist.package_sets,
        schema=pa.schema(
            [(c, pa.string()) for c in ("set_id", "ecosystem", "scope", "name")]
            + [("normalized", pa.string()), ("version", pa.string())]
        ),
    )
    con.register("builds_arrow", builds)
    con.register("sets_arrow", sets)
    con.execute("CREATE TABLE builds AS SELECT * FROM builds_arrow")
    con.execute("CREATE TABLE package_sets AS SELECT * FROM sets_arrow")
    con.unregister("builds_arrow")
    con.unregister("sets_arrow")
    return con


def false_alarms(seeds: range, alpha: float = 0.01) -> tuple[int, int]:
    """(histories with any significant row, rows tested) over clean histories."""
    from buildcensus.explain import RegressionQuery, find_regressions

    alarms = tested = 0
    for seed in seeds:
        con = warehouse(generate(seed))
        rows = find_regressions(con, RegressionQuery(alpha=alpha))
        con.close()
        tested += len(rows)
        alarms += any(r["significant"] for r in rows)
    return alarms, tested


def planted_outcomes(seeds: range, plant: Plant, alpha: float = 0.01) -> tuple[int, int, int]:
    """(planted release ranked first and significant, any other row significant, histories)."""
    from buildcensus.explain import RegressionQuery, find_regressions

    first = others = 0
    for seed in seeds:
        hist = generate(seed, plant=plant)
        con = warehouse(hist)
        rows = find_regressions(con, RegressionQuery(alpha=alpha))
        con.close()
        key = (plant.ecosystem, plant.package, hist.planted)
        first += (
            bool(rows)
            and rows[0]["significant"]
            and ((rows[0]["ecosystem"], rows[0]["package"], rows[0]["to"]) == key)
        )
        others += any(
            r["significant"] for r in rows if (r["ecosystem"], r["package"], r["to"]) != key
        )
    return first, others, len(seeds)


def main(argv: list[str] | None = None) -> int:
    """Print the false-alarm rate of the detector over clean generated histories."""
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--seeds", type=int, default=1000)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--alpha", type=float, default=0.01)
    ap.add_argument("--plant", help="ECOSYSTEM:PACKAGE:HARM, e.g. pip:sphinx:0.3 (power run)")
    args = ap.parse_args(argv)
    began = time.monotonic()
    seeds = range(args.start, args.start + args.seeds)
    if args.plant:
        eco, pkg, harm = args.plant.split(":")
        first, others, n = planted_outcomes(seeds, Plant(eco, pkg, float(harm)), args.alpha)
        print(
            f"planted {args.plant}: ranked first and significant in {first}/{n}; another "
            f"release also significant in {others}/{n}; {time.monotonic() - began:.0f} s"
        )
        return 0
    alarms, tested = false_alarms(seeds, args.alpha)
    rate = alarms / args.seeds
    half = 1.96 * math.sqrt(max(rate * (1 - rate), 1e-12) / args.seeds)
    print(
        f"{alarms}/{args.seeds} clean histories raised an alarm ({rate:.2%} ± {half:.2%}); "
        f"{tested} candidates tested; alpha {args.alpha}; {time.monotonic() - began:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
