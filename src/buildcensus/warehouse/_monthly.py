"""The `monthly_packages` aggregate: recomputed for the months a run touches, kept by prune."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from buildcensus.warehouse._schema import BUILD_SET_COLUMNS, SCHEMAS
from buildcensus.warehouse._sql import create_views, new_connection
from buildcensus.warehouse._store import State, Store, commit_run, month_of_path, new_run_id


def monthly_sql(year: int, month: int) -> str:
    """Package/version counts of one month: distinct projects and builds (duplicates incl.)."""
    unions = " UNION ALL ".join(
        f"SELECT project, success, {c} AS set_id FROM builds "
        f"WHERE year = {year} AND month = {month} AND {c} IS NOT NULL"
        for c in BUILD_SET_COLUMNS
    )
    return f"""
    WITH b AS ({unions}),
    x AS (
        SELECT set_id, project, count(*) AS n, count(*) FILTER (WHERE success) AS ns
        FROM b GROUP BY set_id, project
    ),
    pk AS (
        SELECT DISTINCT set_id, ecosystem, scope, normalized, version FROM package_sets
        WHERE set_id IN (SELECT set_id FROM x)
    )
    SELECT pk.ecosystem, pk.scope, pk.normalized, pk.version,
           count(DISTINCT x.project) AS projects,
           sum(x.n)::BIGINT AS builds,
           count(DISTINCT x.project) FILTER (WHERE x.ns > 0) AS success_projects,
           sum(x.ns)::BIGINT AS success_builds
    FROM x JOIN pk USING (set_id)
    GROUP BY ALL
    ORDER BY ALL
    """


def _frozen_sql(year: int, month: int) -> str:
    """A pruned month: keep its counts and add the counts of builds that arrived since."""
    new = monthly_sql(year, month)
    names = ", ".join(SCHEMAS["monthly_packages"].names[:4])
    return f"""
    SELECT {names}, sum(projects)::BIGINT AS projects, sum(builds)::BIGINT AS builds,
           sum(success_projects)::BIGINT AS success_projects,
           sum(success_builds)::BIGINT AS success_builds
    FROM (
        SELECT {names}, projects, builds, success_projects, success_builds
        FROM monthly_packages WHERE year = {year} AND month = {month}
        UNION ALL ({new})
    ) GROUP BY ALL ORDER BY ALL
    """


def aggregate(store: Store, state: State) -> dict[str, Any] | None:
    """Recount `monthly_packages` for months with uncounted builds; commit that as one run."""
    months = sorted(state.pending)
    if not months:
        return None
    from buildcensus.warehouse._import import month_dir

    run_id = new_run_id()
    started = datetime.now(UTC)
    con = new_connection(threads=2)
    store.prepare(con)
    try:
        files = {"package_sets": [store.os_path(r) for r in state.files("package_sets")]}
        create_views(con, files, ("package_sets",))
        added, removed = [], []
        for y, m in months:
            prefix = month_dir("monthly_packages", y, m) + "/"
            old = [r for r in state.files("monthly_packages") if r.startswith(prefix)]
            frozen = (y, m) in state.frozen_months
            live = state.parts.get("builds", {})
            if frozen:  # pruned: keep the counts, add those of builds that arrived since
                builds = [r for r in state.pending[(y, m)] if r in live]
            else:
                builds = [r for r in live if month_of_path(r) == (y, m)]
            month_files = {
                "builds": [store.os_path(r) for r in builds],
                "monthly_packages": [store.os_path(r) for r in old],
            }
            create_views(con, month_files, ("builds", "monthly_packages"))
            sql = _frozen_sql(y, m) if frozen else monthly_sql(y, m)
            table = con.sql(sql).to_arrow_table().cast(SCHEMAS["monthly_packages"])
            removed += old
            if table.num_rows:
                rel = f"{prefix}part-{run_id}.parquet"
                store.write_table(rel, table)
                added.append(rel)
    finally:
        con.close()
    run = {
        "run_id": run_id,
        "kind": "aggregate",
        "started": started.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
        "aggregated": months,
        "added": {"monthly_packages": added} if added else {},
        "removed": removed,
    }
    commit_run(store, run)
    state.apply(run)
    for rel in removed:
        store.delete(rel)
    return run
