"""Public package statistics: static JSON files for package maintainers.

`build_public(conn, now, min_projects)` computes every document, keyed by its relative path:

* `index.json`: every published package with its projects and builds per window;
* `<ecosystem>/<package>.json`: projects and builds per installed version over the last
  30/90/365 days, and the monthly trend (projects per version per month).

The counting rules are the reports' (docs/reports.md): the SQL below is `versions`, `adoption`
and `top` grouped by package as well, so one query serves every package of an ecosystem and
each count equals what `GET /api/v1/reports/versions` (etc.) answers for that package.

Privacy: a value (package, version, month) is published only when at least `min_projects`
projects used it; rows below the threshold are dropped, never merged into an "other" row.
`write_public` writes the documents atomically; the service serves the same documents at
`/api/v1/public/...`.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from buildcensus.errors import UsageError
from buildcensus.reports import make_params, run_report
from buildcensus.reports._builders import IS_STATE, STATE_ORDER, period_expr, ranked
from buildcensus.reports._params import ReportParams, set_column
from buildcensus.reports._runner import _fetch

WINDOWS = (30, 90, 365)
ECOSYSTEMS = ("pip", "conda", "apt")
DEFAULT_MIN_PROJECTS = 10
INDEX = "index.json"

# A package name that is safe as a file name and a URL path segment (normalized names are
# lowercase); anything else is left out rather than escaped.
_SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9._+-]{0,199}$")


def is_safe_name(name: str) -> bool:
    """True when `name` can be a published file name (no slashes, no `..`)."""
    return bool(_SAFE_NAME.match(name)) and ".." not in name


def window_key(days: int) -> str:
    """`30` -> `"30d"`."""
    return f"{days}d"


def package_path(ecosystem: str, package: str) -> str:
    """Relative path of a package's document, e.g. `pip/sphinx.json`."""
    return f"{ecosystem}/{package}.json"


def _vk() -> str:
    return (
        "vk AS (SELECT version, MAX(sort_key) AS sort_key FROM versions "
        "WHERE ecosystem = $ecosystem GROUP BY version)"
    )


def versions_all_sql(p: ReportParams) -> tuple[str, dict[str, Any]]:
    """The `versions` report for every package of `p.ecosystem` at once (newest first)."""
    col = set_column(p.ecosystem or "", p.scope or "all")
    r, params = ranked(p, f"{col} AS set_id, project, start, build_id")
    sql = f"""WITH {r},
g AS (SELECT set_id, COUNT(*) AS builds, SUM({IS_STATE}) AS projects
      FROM r WHERE set_id IS NOT NULL GROUP BY set_id),
pk AS (SELECT DISTINCT set_id, normalized, version FROM package_sets WHERE ecosystem = $ecosystem),
agg AS (SELECT pk.normalized AS package, pk.version AS version, SUM(g.projects) AS projects,
          SUM(g.builds) AS builds
        FROM g JOIN pk ON pk.set_id = g.set_id GROUP BY pk.normalized, pk.version),
{_vk()}
SELECT agg.package AS package, agg.version AS version, agg.projects AS projects,
  agg.builds AS builds
FROM agg LEFT JOIN vk ON vk.version = agg.version
ORDER BY agg.package ASC, vk.sort_key DESC NULLS LAST, agg.version DESC"""
    return sql, {**params, "ecosystem": p.ecosystem}


def adoption_all_sql(p: ReportParams) -> tuple[str, dict[str, Any]]:
    """The `adoption` report (per month unless `p.by`) for every package of an ecosystem."""
    from buildcensus.reports._builders import window_filter

    col = set_column(p.ecosystem or "", p.scope or "all")
    where, params = window_filter(p)
    sql = f"""WITH w AS (SELECT {period_expr(p.by or "month")} AS period, {col} AS set_id,
             project, start, build_id FROM builds WHERE {where}),
r AS (SELECT period, set_id, ROW_NUMBER() OVER (PARTITION BY project, period
      ORDER BY {STATE_ORDER}) AS rn FROM w),
g AS (SELECT period, set_id, COUNT(*) AS projects FROM r
      WHERE rn = 1 AND set_id IS NOT NULL GROUP BY period, set_id),
pk AS (SELECT DISTINCT set_id, normalized, version FROM package_sets WHERE ecosystem = $ecosystem),
agg AS (SELECT pk.normalized AS package, g.period AS period, pk.version AS version,
          SUM(g.projects) AS projects
        FROM g JOIN pk ON pk.set_id = g.set_id GROUP BY pk.normalized, g.period, pk.version),
{_vk()}
SELECT agg.package AS package, agg.period AS period, agg.version AS version,
  agg.projects AS projects
FROM agg LEFT JOIN vk ON vk.version = agg.version
ORDER BY agg.package ASC, agg.period ASC, vk.sort_key DESC NULLS LAST, agg.version DESC"""
    return sql, {**params, "ecosystem": p.ecosystem}


def _by_package(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r.pop("package"), []).append(r)
    return out


def _iso(value: datetime) -> str:
    return value.replace(microsecond=0).isoformat() + "Z"


def _naive_utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now


def build_public(
    conn: Any, now: datetime | None = None, min_projects: int = DEFAULT_MIN_PROJECTS
) -> dict[str, dict[str, Any]]:
    """Every public document by relative path (`index.json`, `pip/sphinx.json`, ...)."""
    if min_projects < 1:
        raise UsageError("--min-projects must be at least 1")
    now_dt = _naive_utc(now)
    k = min_projects
    docs: dict[str, dict[str, Any]] = {}
    index: list[dict[str, Any]] = []
    for eco in ECOSYSTEMS:
        totals: dict[int, dict[str, dict[str, Any]]] = {}
        versions: dict[int, dict[str, list[dict[str, Any]]]] = {}
        bounds: dict[int, tuple[datetime, datetime]] = {}
        for days in WINDOWS:
            p = make_params(last=f"{days}d", now=now_dt, ecosystem=eco, limit=0)
            bounds[days] = (p.since, p.until)
            top = run_report("top", p, conn)
            assert isinstance(top, list)
            totals[days] = {r["package"]: r for r in top}
            versions[days] = _by_package(_fetch(conn, *versions_all_sql(p)))
        longest = max(WINDOWS)
        p = make_params(last=f"{longest}d", now=now_dt, ecosystem=eco, by="month")
        monthly = _by_package(_fetch(conn, *adoption_all_sql(p)))
        for package, row in totals[longest].items():
            if row["projects"] < k or not is_safe_name(package):
                continue
            path = package_path(eco, package)
            windows: dict[str, dict[str, Any]] = {}
            summary: dict[str, dict[str, int]] = {}
            for days in WINDOWS:
                since, until = bounds[days]
                entry: dict[str, Any] = {"since": _iso(since), "until": _iso(until)}
                t = totals[days].get(package)
                if t is not None and t["projects"] >= k:
                    entry["projects"] = int(t["projects"])
                    entry["builds"] = int(t["builds"])
                    summary[window_key(days)] = {
                        "projects": entry["projects"],
                        "builds": entry["builds"],
                    }
                entry["versions"] = [
                    {
                        "version": v["version"],
                        "projects": int(v["projects"]),
                        "builds": int(v["builds"]),
                    }
                    for v in versions[days].get(package, [])
                    if v["projects"] >= k
                ]
                windows[window_key(days)] = entry
            trend = [
                {"month": m["period"][:7], "version": m["version"], "projects": int(m["projects"])}
                for m in monthly.get(package, [])
                if m["projects"] >= k
            ]
            docs[path] = {
                "ecosystem": eco,
                "package": package,
                "generated_at": _iso(now_dt),
                "min_projects": k,
                "windows": windows,
                "monthly": trend,
            }
            index.append({"ecosystem": eco, "package": package, "path": path, "windows": summary})
    docs[INDEX] = {
        "generated_at": _iso(now_dt),
        "min_projects": k,
        "windows": [window_key(d) for d in WINDOWS],
        "packages": index,
    }
    return docs


@dataclass
class PublishSummary:
    """What `write_public` did."""

    out: str
    files: int = 0
    packages: int = 0
    removed: list[str] = field(default_factory=list)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dumps(doc: dict[str, Any]) -> str:
    """The published JSON text of a document."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_public(docs: dict[str, dict[str, Any]], out: str | Path) -> PublishSummary:
    """Write the documents under `out` (each atomically) and remove package files no longer
    published, so a package that fell under the threshold disappears from the host."""
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise UsageError(f"--out is not a directory: {out}")
    summary = PublishSummary(str(root))
    for rel, doc in docs.items():
        _write_atomic(root / rel, dumps(doc))
        summary.files += 1
    summary.packages = len(docs) - (1 if INDEX in docs else 0)
    for eco in ECOSYSTEMS:
        d = root / eco
        if not d.is_dir():
            continue
        for f in sorted(d.glob("*.json")):
            rel = f"{eco}/{f.name}"
            if rel not in docs:
                f.unlink()
                summary.removed.append(rel)
    return summary


def publish(
    warehouse_url: str,
    out: str | Path,
    min_projects: int = DEFAULT_MIN_PROJECTS,
    now: datetime | None = None,
) -> PublishSummary:
    """Compute the public documents from a warehouse and write them under `out`."""
    from buildcensus.warehouse import open_warehouse

    con = open_warehouse(warehouse_url).connect()
    try:
        docs = build_public(con, now, min_projects)
    finally:
        con.close()
    return write_public(docs, out)
