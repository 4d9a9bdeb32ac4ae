"""Release-regression detection over the warehouse: which new package version breaks builds?

For each build, its previous build of the same project and version (window `LAG` over `start`)
gives a before/after pair of installed package sets (pip: `all`, else `top_level`; conda and
apt: `all`). For each (ecosystem, package, Y) with version Y first seen in the window:

* **moved**: builds in the window whose previous build had an older version X of the package
  and that have Y (upgrades by the ecosystem's rules; reaching a first-seen old version by
  downgrading is not a new release); `from` is the most common X (all in `from_versions`);
* **stayed**: builds in the same period (from Y's first appearance to the end of the window)
  that use the package and kept their previous build's version of it (X == X', X != Y).

By default both groups only count builds whose previous build succeeded: a project that was
already failing says nothing about a release. The counting is one SQL query, written once in
DuckDB's dialect with portable constructs only (CTEs, `LAG`/`ROW_NUMBER`, `UNION ALL`, named
`$parameters`), which sqlglot transpiles to Spark SQL. The significance test runs on the
aggregated rows in Python (see `_stats`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from buildcensus import versions
from buildcensus.errors import QueryError
from buildcensus.explain._diff import version_change
from buildcensus.explain._stats import fisher_greater, holm, score_of

ECOSYSTEM_SETS: dict[str, str] = {
    "pip": "COALESCE(pip_all_set, pip_top_level_set)",
    "conda": "conda_all_set",
    "apt": "apt_all_set",
}
COLUMNS = (
    "ecosystem",
    "package",
    "from",
    "to",
    "moved_builds",
    "moved_failure_rate",
    "stayed_builds",
    "stayed_failure_rate",
    "score",
)
EXTRA_COLUMNS = (
    "change",
    "first_seen",
    "from_versions",
    "moved_failures",
    "moved_projects",
    "stayed_failures",
    "p_value",
    "p_adjusted",
    "significant",
    "excluding",
)
DEFAULT_ALPHA = 0.01
DEFAULT_MIN_BUILDS = 5


@dataclass(frozen=True)
class RegressionQuery:
    """What to look for: window [since, until), minimum moved builds, and the test level."""

    since: datetime | None = None
    until: datetime | None = None
    min_builds: int = DEFAULT_MIN_BUILDS
    alpha: float = DEFAULT_ALPHA
    require_previous_success: bool = True

    def __post_init__(self) -> None:
        if self.min_builds < 1:
            raise QueryError("--min-builds must be at least 1")
        if not 0 < self.alpha < 1:
            raise QueryError("--alpha must be between 0 and 1")
        if self.since and self.until and _naive_utc(self.since) >= _naive_utc(self.until):
            raise QueryError("--since must be before --until")


def _naive_utc(value: datetime) -> datetime:
    """Warehouse times are UTC TIMESTAMP without zone."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _over() -> str:
    return "OVER (PARTITION BY project, version ORDER BY start, build_id)"


Release = tuple[str, str, str]  # (ecosystem, package, version)


def regressions_sql(
    query: RegressionQuery, exclude: Sequence[Release] = ()
) -> tuple[str, dict[str, Any]]:
    """The counting query and its parameters (pure; DuckDB dialect, Spark-transpilable).

    `exclude` lists releases already found bad: builds that installed one of them are left out
    of every other candidate's groups, so a package that merely moved together with a bad
    release is not blamed for its failures.
    """
    params: dict[str, Any] = {"min_builds": query.min_builds}
    seq_where = ["success IS NOT NULL"]
    step_where = ["prev_set_id IS NOT NULL", "set_id IS NOT NULL"]
    seen_where = []
    if query.until is not None:
        params["until"] = _naive_utc(query.until)
        seq_where.append("start < $until")
    if query.since is not None:
        params["since"] = _naive_utc(query.since)
        step_where.append("start >= $since")
        seen_where.append("f.first_seen >= $since")
    if query.require_previous_success:
        step_where.append("prev_success")
    lags = ",\n    ".join(
        f"{expr} AS {eco}_set,\n    LAG({expr}) {_over()} AS prev_{eco}_set"
        for eco, expr in ECOSYSTEM_SETS.items()
    )
    unpivot = "\n  UNION ALL\n  ".join(
        "SELECT build_id, project, start, success, prev_success, "
        f"'{eco}' AS ecosystem, {eco}_set AS set_id, prev_{eco}_set AS prev_set_id FROM seq"
        for eco in ECOSYSTEM_SETS
    )
    seen_filter = f"\n  WHERE {' AND '.join(seen_where)}" if seen_where else ""
    excluded = ""
    if exclude:
        terms = []
        for i, (eco, pkg, ver) in enumerate(exclude):
            params.update({f"x{i}_eco": eco, f"x{i}_pkg": pkg, f"x{i}_ver": ver})
            terms.append(
                f"(p.ecosystem = $x{i}_eco AND p.package = $x{i}_pkg AND p.version = $x{i}_ver)"
            )
        excluded = f"""
excluded AS (
  SELECT DISTINCT s.build_id
  FROM sets s
  JOIN pkg p ON p.set_id = s.set_id AND p.ecosystem = s.ecosystem
  WHERE {" OR ".join(terms)}
),"""
        step_where.append("build_id NOT IN (SELECT build_id FROM excluded)")
    sql = f"""WITH seq AS (
  SELECT build_id, project, version, start, success,
    LAG(success) {_over()} AS prev_success,
    {lags}
  FROM builds
  WHERE {" AND ".join(seq_where)}
),
sets AS (
  {unpivot}
),
pkg AS (
  SELECT DISTINCT set_id, ecosystem, normalized AS package, version
  FROM package_sets
  WHERE version IS NOT NULL AND version <> ''
),
set_first AS (
  SELECT ecosystem, set_id, MIN(start) AS first_start
  FROM sets WHERE set_id IS NOT NULL
  GROUP BY ecosystem, set_id
),
first_seen AS (
  SELECT f.ecosystem, p.package, p.version, MIN(f.first_start) AS first_seen
  FROM set_first f
  JOIN pkg p ON p.set_id = f.set_id AND p.ecosystem = f.ecosystem
  GROUP BY f.ecosystem, p.package, p.version
),{excluded}
steps AS (
  SELECT build_id, project, start, success, ecosystem, set_id, prev_set_id
  FROM sets
  WHERE {" AND ".join(step_where)}
),
moved AS (
  SELECT s.ecosystem, c.package, p.version AS from_version, c.version AS to_version,
    s.build_id, s.project, s.success
  FROM steps s
  JOIN pkg c ON c.set_id = s.set_id AND c.ecosystem = s.ecosystem
  JOIN pkg p ON p.set_id = s.prev_set_id AND p.ecosystem = s.ecosystem AND p.package = c.package
  WHERE s.set_id <> s.prev_set_id AND p.version <> c.version
),
candidates AS (
  SELECT m.ecosystem, m.package, m.to_version, f.first_seen
  FROM moved m
  JOIN first_seen f
    ON f.ecosystem = m.ecosystem AND f.package = m.package AND f.version = m.to_version{seen_filter}
  GROUP BY m.ecosystem, m.package, m.to_version, f.first_seen
  HAVING COUNT(*) >= $min_builds
),
moved_from AS (
  SELECT ecosystem, package, to_version, from_version,
    COUNT(*) AS from_builds,
    SUM(CASE WHEN success THEN 0 ELSE 1 END) AS from_failures,
    COUNT(DISTINCT project) AS from_projects
  FROM moved
  GROUP BY ecosystem, package, to_version, from_version
),
stayed AS (
  SELECT c.ecosystem, c.package, c.to_version,
    COUNT(*) AS stayed_builds,
    SUM(CASE WHEN s.success THEN 0 ELSE 1 END) AS stayed_failures
  FROM candidates c
  JOIN pkg cp ON cp.ecosystem = c.ecosystem AND cp.package = c.package
    AND cp.version <> c.to_version
  JOIN steps s ON s.ecosystem = c.ecosystem AND s.set_id = cp.set_id AND s.start >= c.first_seen
  JOIN pkg pp ON pp.set_id = s.prev_set_id AND pp.ecosystem = c.ecosystem
    AND pp.package = c.package AND pp.version = cp.version
  GROUP BY c.ecosystem, c.package, c.to_version
)
SELECT c.ecosystem, c.package, c.to_version, c.first_seen,
  COALESCE(st.stayed_builds, 0) AS stayed_builds,
  COALESCE(st.stayed_failures, 0) AS stayed_failures,
  mf.from_version, mf.from_builds, mf.from_failures, mf.from_projects
FROM candidates c
JOIN moved_from mf
  ON mf.ecosystem = c.ecosystem AND mf.package = c.package AND mf.to_version = c.to_version
LEFT JOIN stayed st
  ON st.ecosystem = c.ecosystem AND st.package = c.package AND st.to_version = c.to_version
ORDER BY c.ecosystem, c.package, c.to_version, mf.from_builds DESC, mf.from_version"""
    return sql, params


def _rate(failures: int, builds: int) -> float | None:
    return round(failures / builds, 4) if builds else None


def _group(rows: Sequence[Sequence[Any]], min_builds: int) -> list[dict[str, Any]]:
    """One candidate per (ecosystem, package, to), counting only moves that are upgrades.

    A version seen for the first time that builds reach by *downgrading* (an old release a
    project pins back to) is not a new release; those moves are left out, and candidates with
    fewer than `min_builds` upgrades are dropped.
    """
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for eco, pkg, new, first_seen, stayed, stayed_f, old, n, n_f, n_p in rows:
        if version_change(eco, old, new) != "upgraded":
            continue
        cand = out.get((eco, pkg, new))
        if cand is None:
            cand = out[(eco, pkg, new)] = {
                "ecosystem": eco,
                "package": pkg,
                "to": new,
                "first_seen": first_seen,
                "moved": 0,
                "moved_f": 0,
                "moved_p": 0,
                "stayed": int(stayed),
                "stayed_f": int(stayed_f),
                "from_versions": {},
            }
        cand["moved"] += int(n)
        cand["moved_f"] += int(n_f)
        cand["moved_p"] += int(n_p)  # a project moving from two versions counts twice: rare
        cand["from_versions"][old] = int(n)
    return [c for c in out.values() if c["moved"] >= min_builds]


def candidate_rows(
    rows: Sequence[Sequence[Any]], min_builds: int = DEFAULT_MIN_BUILDS
) -> list[dict[str, Any]]:
    """Rows of `regressions_sql` → one report row per candidate, with rates and raw p-value."""
    out = []
    for c in _group(rows, min_builds):
        eco = c["ecosystem"]
        froms = sorted(c["from_versions"].items(), key=lambda kv: (-kv[1], kv[0]))
        # The most common previous version; among equals, the newest by the ecosystem's rules.
        froms.sort(key=lambda kv: versions.sort_key(eco, kv[0]), reverse=True)
        froms.sort(key=lambda kv: -kv[1])
        moved, moved_f, stayed, stayed_f = c["moved"], c["moved_f"], c["stayed"], c["stayed_f"]
        out.append(
            {
                "ecosystem": eco,
                "package": c["package"],
                "from": froms[0][0],
                "to": c["to"],
                "moved_builds": moved,
                "moved_failure_rate": _rate(moved_f, moved),
                "stayed_builds": stayed,
                "stayed_failure_rate": _rate(stayed_f, stayed),
                "change": version_change(eco, froms[0][0], c["to"]),
                "first_seen": c["first_seen"],
                "from_versions": dict(froms),
                "moved_failures": moved_f,
                "moved_projects": c["moved_p"],
                "stayed_failures": stayed_f,
                # Without builds that stayed there is nothing to compare with: no evidence.
                "p_value": fisher_greater(moved_f, moved, stayed_f, stayed) if stayed else 1.0,
                "excluding": [],
            }
        )
    return out


def finalize(rows: list[dict[str, Any]], alpha: float = DEFAULT_ALPHA) -> list[dict[str, Any]]:
    """Holm-adjust the p-values of all candidates, score them, strongest first (in place)."""
    for row, adjusted in zip(rows, holm([r["p_value"] for r in rows]), strict=True):
        row["p_adjusted"] = adjusted
        row["score"] = score_of(adjusted)
        row["significant"] = adjusted < alpha
    rows.sort(
        key=lambda r: (
            -r["score"],
            -((r["moved_failure_rate"] or 0) - (r["stayed_failure_rate"] or 0)),
            -r["moved_builds"],
            r["ecosystem"],
            r["package"],
            r["to"],
        )
    )
    return rows


def score_rows(
    rows: Sequence[Sequence[Any]],
    alpha: float = DEFAULT_ALPHA,
    min_builds: int = DEFAULT_MIN_BUILDS,
) -> list[dict[str, Any]]:
    """Rows of `regressions_sql` → scored report rows, strongest first (one pass, no exclusion)."""
    return finalize(candidate_rows(rows, min_builds), alpha)


def _key(row: dict[str, Any]) -> Release:
    return (row["ecosystem"], row["package"], row["to"])


def find_regressions(con: Any, query: RegressionQuery, max_rounds: int = 5) -> list[dict[str, Any]]:
    """Run the regression query on a warehouse connection and score the candidates.

    Explaining away: once the strongest significant release is accepted, the query runs again
    without the builds that installed it, and the remaining candidates are judged on the rest;
    repeated while a new release is significant (at most `max_rounds` times). Accepted rows
    keep the counts they had when accepted; the others list what was left out in `excluding`.
    """
    accepted: dict[Release, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    for _ in range(max_rounds):
        sql, params = regressions_sql(query, tuple(accepted))
        fresh = candidate_rows(con.execute(sql, params).fetchall(), query.min_builds)
        label = [" ".join(k) for k in accepted]
        for r in fresh:
            r["excluding"] = label
        rows = [*accepted.values(), *(r for r in fresh if _key(r) not in accepted)]
        finalize(rows, query.alpha)
        best = next((r for r in rows if r["significant"] and _key(r) not in accepted), None)
        if best is None:
            break
        accepted[_key(best)] = best
    return finalize(rows, query.alpha)


def parse_when(text: str, now: datetime) -> datetime:
    """A window bound: ISO date or datetime (UTC unless zoned), or `7d` / `36h` before `now`."""
    value = text.strip()
    units = {"d": "days", "h": "hours", "w": "weeks"}
    if value[-1:].lower() in units and value[:-1].isdigit():
        return now - timedelta(**{units[value[-1].lower()]: int(value[:-1])})
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(
            f"not a date: {text!r} (use YYYY-MM-DD, an ISO datetime, or 7d / 36h / 2w)"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
