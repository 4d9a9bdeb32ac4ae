"""The `monthly_packages` aggregate: recomputed for the months a run touches, kept by prune."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from buildcensus.warehouse._schema import BUILD_SET_COLUMNS, SCHEMAS
from buildcensus.warehouse._sql import create_views, new_connection
from buildcensus.warehouse._store import (
    State,
    Store,
    commit_replacing,
    month_of_path,
    new_run_id,
)


def monthly_sql(year: int, month: int) -> str:
    """Package/version counts of one month: distinct projects and builds (duplicates incl.).

    Exact without joining every (build, package): builds are summed per set; a project that
    used a single set of a kind (e.g. one `apt.all` list, the common case) is counted per set;
    only projects with several sets of a kind are counted distinct per package.
    """
    unions = " UNION ALL ".join(
        f"SELECT project, success, {c} AS set_id FROM builds "
        f"WHERE year = {year} AND month = {month} AND {c} IS NOT NULL"
        for c in BUILD_SET_COLUMNS
    )
    return f"""
    WITH b AS ({unions}),
    x AS (
        SELECT set_id, split_part(set_id, ':', 1) AS kind, project,
               count(*) AS n, count(*) FILTER (WHERE success) AS ns
        FROM b GROUP BY ALL
    ),
    pc AS (
        SELECT kind, project, count(*) AS k, count(*) FILTER (WHERE ns > 0) AS ks
        FROM x GROUP BY ALL
    ),
    xs AS (SELECT x.*, pc.k, pc.ks FROM x JOIN pc USING (kind, project)),
    per_set AS (
        SELECT set_id, sum(n) AS n, sum(ns) AS ns,
               count(*) FILTER (WHERE k = 1) AS single,
               count(*) FILTER (WHERE ks = 1 AND ns > 0) AS single_ok
        FROM xs GROUP BY set_id
    ),
    pk AS (
        SELECT DISTINCT set_id, ecosystem, scope, normalized, version FROM package_sets
        WHERE set_id IN (SELECT set_id FROM per_set)
    ),
    by_set AS (
        SELECT ecosystem, scope, normalized, version, sum(n) AS builds, sum(ns) AS ok_builds,
               sum(single) AS single, sum(single_ok) AS single_ok
        FROM per_set JOIN pk USING (set_id) GROUP BY ALL
    ),
    multi AS (
        SELECT ecosystem, scope, normalized, version,
               count(DISTINCT project) FILTER (WHERE k > 1) AS multi,
               count(DISTINCT project) FILTER (WHERE ks > 1 AND ns > 0) AS multi_ok
        FROM (SELECT * FROM xs WHERE k > 1) JOIN pk USING (set_id) GROUP BY ALL
    )
    SELECT s.ecosystem, s.scope, s.normalized, s.version,
           (s.single + coalesce(m.multi, 0))::BIGINT AS projects,
           s.builds::BIGINT AS builds,
           (s.single_ok + coalesce(m.multi_ok, 0))::BIGINT AS success_projects,
           s.ok_builds::BIGINT AS success_builds
    FROM by_set s LEFT JOIN multi m
      ON s.ecosystem = m.ecosystem AND s.scope = m.scope AND s.normalized = m.normalized
     AND s.version IS NOT DISTINCT FROM m.version
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
    commit_replacing(store, state, run)
    return run


def compact(store: Store, state: State, max_parts: int = 16) -> dict[str, Any] | None:
    """Merge a table's (or a month's) parts into one once there are more than `max_parts`.

    Frequent small imports would otherwise leave thousands of small files for every query
    to open. Content is unchanged, so this is one more run with the same crash safety.
    """
    import pyarrow as pa

    groups: dict[tuple[str, tuple[int, int] | None], list[str]] = {}
    for table in SCHEMAS:
        for rel in state.files(table):
            month = month_of_path(rel) if "year=" in rel else None
            groups.setdefault((table, month), []).append(rel)
    todo = {g: parts for g, parts in groups.items() if len(parts) > max_parts}
    if not todo:
        return None
    from buildcensus.warehouse._import import month_dir

    run_id = new_run_id()
    added: dict[str, list[str]] = {}
    removed: list[str] = []
    for (table, month), parts in sorted(
        todo.items(), key=lambda kv: (kv[0][0], kv[0][1] or (0, 0))
    ):
        merged = pa.concat_tables([store.read_table(r).cast(SCHEMAS[table]) for r in parts])
        if table == "builds":
            merged = merged.sort_by([("start", "ascending"), ("key", "ascending")])
        head = month_dir(table, *month) if month else table
        rel = f"{head}/part-{run_id}.parquet"
        store.write_table(rel, merged)
        added.setdefault(table, []).append(rel)
        removed += parts
    run = {
        "run_id": run_id,
        "kind": "compact",
        "started": datetime.now(UTC).isoformat(),
        "finished": datetime.now(UTC).isoformat(),
        "added": added,
        "removed": removed,
    }
    commit_replacing(store, state, run)
    return run
