"""The `monthly_packages` aggregate: recomputed for the months a run touches, kept by prune."""

from __future__ import annotations

from collections.abc import Sequence

from buildcensus.warehouse._schema import BUILD_SET_COLUMNS, SCHEMAS
from buildcensus.warehouse._sql import create_views, new_connection
from buildcensus.warehouse._store import State, Store


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


def monthly_parts(
    store: Store,
    state: State,
    added: dict[str, list[str]],
    months: Sequence[tuple[int, int]],
    run_id: str,
) -> tuple[list[str], list[str]]:
    """Write fresh aggregate parts for `months`; returns (new parts, parts they replace)."""
    if not months:
        return [], []
    from buildcensus.warehouse._import import month_dir

    files: dict[str, list[str]] = {}
    for table in ("builds", "package_sets", "monthly_packages"):
        rels = list(state.parts.get(table, []))
        if table == "builds":
            # Frozen (pruned) months only aggregate the builds this run adds.
            frozen_new = set(added.get("builds", []))
            rels = [r for r in rels if _month_of(r) not in state.frozen_months] + [
                r for r in frozen_new if r not in rels
            ]
        else:
            rels += added.get(table, [])
        files[table] = [store.os_path(r) for r in rels]
    con = new_connection(threads=2)
    store.prepare(con)
    try:
        create_views(con, files, ("builds", "package_sets", "monthly_packages"))
        new_parts, removed = [], []
        for y, m in months:
            frozen = (y, m) in state.frozen_months
            sql = _frozen_sql(y, m) if frozen else monthly_sql(y, m)
            table = con.sql(sql).to_arrow_table()
            table = table.cast(SCHEMAS["monthly_packages"])
            prefix = month_dir("monthly_packages", y, m) + "/"
            removed += [r for r in state.parts.get("monthly_packages", []) if r.startswith(prefix)]
            if table.num_rows:
                rel = f"{prefix}part-{run_id}.parquet"
                store.write_table(rel, table)
                new_parts.append(rel)
        return new_parts, removed
    finally:
        con.close()


def _month_of(rel: str) -> tuple[int, int] | None:
    parts = dict(p.split("=", 1) for p in rel.split("/") if "=" in p)
    if "year" in parts and "month" in parts:
        return int(parts["year"]), int(parts["month"])
    return None
