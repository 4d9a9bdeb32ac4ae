"""What changed: build diffs, the last good build, and release-regression detection.

The core of `buildcensus diff` and `buildcensus report regressions`; the CLI and the service
are thin layers over the functions exported here. See docs/explain.md.
"""

from __future__ import annotations

from typing import Any

from buildcensus.explain._diff import diff_records, flatten, iter_changes, version_change
from buildcensus.explain._lastgood import (
    BuildRef,
    builds_from_warehouse,
    iter_lake_builds,
    pick_last_good,
)
from buildcensus.explain._regressions import (
    COLUMNS,
    EXTRA_COLUMNS,
    RegressionQuery,
    find_regressions,
    parse_when,
    regressions_sql,
    score_rows,
)
from buildcensus.explain._stats import fisher_greater, holm
from buildcensus.lake import Lake

__all__ = [
    "COLUMNS",
    "EXTRA_COLUMNS",
    "BuildRef",
    "RegressionQuery",
    "builds_from_warehouse",
    "diff_builds",
    "diff_records",
    "find_regressions",
    "fisher_greater",
    "flatten",
    "holm",
    "iter_changes",
    "iter_lake_builds",
    "last_good_diff",
    "parse_when",
    "pick_last_good",
    "regressions_sql",
    "score_rows",
    "version_change",
]


def _key(lake: Lake, ref: str, warehouse: Any) -> str:
    """The lake key of a build id: from the warehouse when it knows it (a lookup instead of a
    listing of the whole lake), else from the lake."""
    if warehouse is not None and "/" not in ref:
        rows = warehouse.execute("SELECT key FROM builds WHERE build_id = $id", {"id": ref})
        found = rows.fetchall()
        if found:
            return found[0][0]
    return lake.find(ref)


def diff_builds(lake: Lake, a: str, b: str, warehouse: Any = None) -> dict[str, Any]:
    """What changed from build `a` to build `b` (build ids or lake keys).

    `warehouse`, a connection with a `builds` table, only speeds up finding the builds; the
    records always come from the lake.
    """
    return diff_records(lake.load(_key(lake, a, warehouse)), lake.load(_key(lake, b, warehouse)))


def last_good_diff(
    lake: Lake, project: str, version: str | None = None, warehouse: Any = None
) -> dict[str, Any]:
    """The diff from a project's last good build to its latest failed build.

    `warehouse` is a connection with a `builds` table to search; without one, or when it holds
    no builds of the project (not imported yet), the lake is scanned. The result is a diff with
    a `last_good` section: which builds were compared, where they were found, and whether a
    later build has succeeded since (`recovered`).
    """
    builds = builds_from_warehouse(warehouse, project, version) if warehouse is not None else []
    source = "warehouse"
    if not builds:
        builds = list(iter_lake_builds(lake))
        source = "lake"
    good, failed = pick_last_good(builds, project, version)
    diff = diff_records(lake.load(good.key), lake.load(failed.key))
    later = [
        b
        for b in builds
        if b.project == project
        and (version is None or b.version == version)
        and b.order() > failed.order()
    ]
    diff["last_good"] = {
        "project": project,
        "version": version,
        "good": good.build_id,
        "failed": failed.build_id,
        "source": source,
        "recovered": any(b.success is True for b in later),
    }
    return diff
