"""Pure SQL builders, one per report: `build_<name>(params) -> (sql, params)`.

The SQL is written once, in the subset of DuckDB SQL that sqlglot transpiles to Spark SQL:
CTEs, ROW_NUMBER windows, GROUP BY, JOINs, IN lists, named parameters (`$name`, Spark
`:name`). No QUALIFY, no `->>`, no list functions; percentiles are computed from ordered rows.

Speed (docs/reports.md, "How the state is computed"): states come from `state_counts`, which
groups builds by (project, payload) instead of ranking every build; `ranked` is kept for other
callers (publish) and as the plain statement of the rule.

Counting rules (docs/reports.md): in the window [since, until) a project's *state* is its
latest successful build (latest build with include_failed); `projects` counts states,
`builds` counts every matching build in the window, duplicates included.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from buildcensus.errors import QueryError
from buildcensus.reports._params import (
    EXTENSION_KINDS,
    PERIODS,
    SET_COLUMNS,
    InList,
    ReportParams,
    set_column,
)
from buildcensus.reports._where import Condition, parse_where

Sql = tuple[str, dict[str, Any]]

DEFAULT_LIMITS = {"top": 50, "build-time": 50}

#: `breakdown --by` values that are plain `builds` columns.
BREAKDOWN_COLUMNS = ("python", "os", "trigger", "doctool", "config_version", "theme", "builder")

# Latest build first; equal start times fall to the larger build id (numeric ids compare by
# length first, so "10" > "9").
STATE_ORDER = "start DESC, LENGTH(build_id) DESC, build_id DESC"
IS_STATE = "CASE WHEN rn = 1 THEN 1 ELSE 0 END"


def window_filter(p: ReportParams) -> Sql:
    """WHERE clause of the builds in the window (successful only unless include_failed)."""
    sql = (
        "start >= $since AND start < $until AND year >= $y0 AND year <= $y1 "
        "AND (year > $y0 OR month >= $m0) AND (year < $y1 OR month <= $m1)"
    )
    if not p.include_failed:
        sql += " AND success = TRUE"
    # `year`/`month` are the hive partition columns: filtering on them lets both engines skip
    # the files of months outside the window without opening them.
    last = p.until - timedelta(microseconds=1)
    params = {
        "since": p.since,
        "until": p.until,
        "y0": p.since.year,
        "y1": last.year,
        "m0": p.since.month,
        "m1": last.month,
    }
    return sql, params


def project_names(keys: str) -> str:
    """CTE `nm`: the slug of each project key that `keys` (a query of `project_key`s) lists.

    Reports group builds by key and read the few names they print from the small `projects`
    table, not `builds.project` for every build of the window (MIN: a slug listed twice).
    """
    return (
        "nm AS (SELECT project_key, MIN(project) AS project FROM projects "
        f"WHERE project_key IN ({keys}) GROUP BY project_key)"
    )


#: Output column of every state-based report: how many projects had a tie at their latest
#: start (several payloads). The runner drops it; see `ReportParams.tie_rescan`.
TIES = "tie.ties AS ties_"


def state_counts(
    p: ReportParams, payload: dict[str, str], period: str | None = None, builds: bool = True
) -> Sql:
    """CTEs ending in `g`: per distinct payload, `builds` (window builds) and `projects` (states).

    `payload` maps output names to SQL expressions over `builds`; with `period` (an expression
    over `start`) the state is taken per project and period. Same counting rules as `ranked`,
    without ranking every build: builds are grouped by (project, payload) keeping the count and
    the latest start; a project's state is its group holding the latest start. Only projects
    where several groups share that latest start (a tie, rare) are resolved on their builds at
    that start, by the larger build id — the rows `ranked` would order first.
    With `builds=False`, `g` has only `projects` and only the payloads of some state.
    CTE `tie` counts the tied keys. With `p.tie_rescan` False the ties are not resolved (no
    second read of the builds, which costs a fifth of a report): the answer is exact only when
    `tie.ties` is 0, and the runner then re-runs the report with the rescan.
    """
    where, params = window_filter(p)
    keys = ["project_key"] + (["period"] if period else [])
    names = list(payload)
    if {"project_key", "period", "start", "n", "ms", "pm", "ng", "n_latest"} & set(names):
        raise ValueError(f"internal: payload names {names} clash with state_counts columns")
    cols = ", ".join(f"{e} AS {n}" for n, e in payload.items())
    kcols = ", ".join(keys)
    if period:
        cols = f"{period} AS period, {cols}"
    on = " AND ".join(f"pm.{k} = ps.{k}" for k in keys)
    on_t = " AND ".join(f"t.{k} = b.{k}" for k in keys)
    out = (["period"] if period else []) + names  # the columns of `g`
    plain = ", ".join(names)
    g_cols = ", ".join(out)
    if p.tie_rescan:
        tb = f"""tb AS (SELECT {", ".join(f"b.{n}" for n in out)}, ROW_NUMBER() OVER (
        PARTITION BY {", ".join(f"b.{k}" for k in keys)}
        ORDER BY LENGTH(b.build_id) DESC, b.build_id DESC) AS rn
      FROM (SELECT project_key, start, build_id, {cols} FROM builds WHERE {where}) b
      JOIN cc t ON {on_t} AND t.pm = b.start WHERE t.n_latest > 1),"""
    else:
        tb = f"tb AS (SELECT {g_cols}, 1 AS rn FROM cc WHERE 1 = 0),"
    # cc: per key, the groups holding the latest start (n_latest); with 1, MIN(x) is that group's x
    ps_keys = ", ".join(f"ps.{k}" for k in keys)
    joined = f"""SELECT {", ".join(f"ps.{k} AS {k}" for k in keys)}, MIN(pm.pm) AS pm,
        COUNT(*) AS n_latest, {", ".join(f"MIN(ps.{n}) AS {n}" for n in names)}
      FROM ps JOIN pm ON {on} AND pm.pm = ps.ms"""
    pm_cc = f"""pm AS (SELECT {kcols}, MAX(ms) AS pm FROM ps GROUP BY {kcols}),
cc AS ({joined} GROUP BY {ps_keys}),"""
    if period:
        # Per period almost every key has one group, which is then its state: pm also counts
        # the groups (ng), and only keys with several are joined back (~15% faster there;
        # without periods, where keys often have several groups, the extra branch costs more).
        pm_cc = f"""pm AS (SELECT {kcols}, COUNT(*) AS ng, MAX(ms) AS pm,
        {", ".join(f"MIN({n}) AS {n}" for n in names)} FROM ps GROUP BY {kcols}),
cc AS (SELECT {kcols}, pm, 1 AS n_latest, {plain} FROM pm WHERE ng = 1
      UNION ALL
      {joined} WHERE pm.ng > 1 GROUP BY {ps_keys}),"""
    sql = f"""ps AS (SELECT {kcols}, {plain}, COUNT(*) AS n, MAX(start) AS ms FROM (
        SELECT project_key, start, {cols} FROM builds WHERE {where}) x
      GROUP BY {kcols}, {plain}),
{pm_cc}
tie AS (SELECT COUNT(*) AS ties FROM cc WHERE n_latest > 1),
{tb}
st AS (SELECT {g_cols} FROM cc WHERE n_latest = 1
      UNION ALL SELECT {g_cols} FROM tb WHERE rn = 1),
g AS (SELECT {g_cols}, SUM(builds) AS builds, SUM(projects) AS projects FROM (
        SELECT {g_cols}, n AS builds, 0 AS projects FROM ps
        UNION ALL SELECT {g_cols}, 0 AS builds, 1 AS projects FROM st) y
      GROUP BY {g_cols})"""
    if not builds:
        sql = sql[: sql.rindex("g AS (")]
        sql += f"g AS (SELECT {g_cols}, COUNT(*) AS projects FROM st GROUP BY {g_cols})"
    return sql, params


def ranked(p: ReportParams, columns: str, partition: str = "project") -> Sql:
    """CTE `r`: window builds with `rn` = 1 on each project's state."""
    where, params = window_filter(p)
    sql = (
        f"r AS (SELECT {columns}, ROW_NUMBER() OVER (PARTITION BY {partition} "
        f"ORDER BY {STATE_ORDER}) AS rn FROM builds WHERE {where})"
    )
    return sql, params


def _limit(name: str, p: ReportParams) -> str:
    n = DEFAULT_LIMITS.get(name) if p.limit is None else p.limit
    return f" LIMIT {int(n)}" if n else ""


def _need(p: ReportParams, *names: str) -> None:
    for n in names:
        if getattr(p, n) in (None, ""):
            raise QueryError(f"this report needs --{n}")


def _version_keys() -> str:
    # `versions` may repeat a row across import parts; keep one sort key per version.
    return (
        "vk AS (SELECT version, MAX(sort_key) AS sort_key FROM versions "
        "WHERE ecosystem = $ecosystem GROUP BY version)"
    )


def build_versions(p: ReportParams) -> Sql:
    """Per installed version of one package: projects (by state) and builds; newest first."""
    _need(p, "ecosystem", "package")
    col = set_column(p.ecosystem, p.scope or "all")
    st, params = state_counts(p, {"set_key": f"{col}_key"})
    sql = f"""WITH {st},
pk AS (SELECT DISTINCT set_key, version FROM package_sets
       WHERE ecosystem = $ecosystem AND normalized = $package),
agg AS (SELECT pk.version AS version, SUM(g.projects) AS projects, SUM(g.builds) AS builds
        FROM g JOIN pk ON pk.set_key = g.set_key GROUP BY pk.version),
{_version_keys()}
SELECT agg.version AS version, agg.projects AS projects, agg.builds AS builds, {TIES}
FROM agg LEFT JOIN vk ON vk.version = agg.version CROSS JOIN tie
ORDER BY vk.sort_key DESC NULLS LAST, agg.version DESC"""
    return sql, {**params, "ecosystem": p.ecosystem, "package": p.package}


def build_top(p: ReportParams) -> Sql:
    """Most used packages of an ecosystem (normalized names) by projects, then builds."""
    _need(p, "ecosystem")
    col = set_column(p.ecosystem, p.scope or "all")
    st, params = state_counts(p, {"set_key": f"{col}_key"})
    sql = f"""WITH {st},
pk AS (SELECT DISTINCT set_key, normalized FROM package_sets WHERE ecosystem = $ecosystem)
SELECT pk.normalized AS package, SUM(g.projects) AS projects, SUM(g.builds) AS builds, {TIES}
FROM g JOIN pk ON pk.set_key = g.set_key CROSS JOIN tie
GROUP BY pk.normalized, tie.ties
ORDER BY projects DESC, builds DESC, package ASC{_limit("top", p)}"""
    return sql, {**params, "ecosystem": p.ecosystem}


def period_expr(by: str) -> str:
    """SQL for the first day of the week (Monday) or month of `start`, as an ISO date string."""
    if by not in PERIODS:
        raise QueryError(f"--by: expected one of {', '.join(PERIODS)}, got {by!r}")
    return f"CAST(CAST(DATE_TRUNC('{by}', start) AS DATE) AS VARCHAR)"


def build_adoption(p: ReportParams) -> Sql:
    """Per period and version: projects whose state in that period used the version."""
    _need(p, "ecosystem", "package")
    col = set_column(p.ecosystem, p.scope or "all")
    period_expr(p.by or "month")  # validates --by
    # Group on the truncated timestamp; the ISO date text is made for the output rows only.
    period = f"DATE_TRUNC('{p.by or 'month'}', start)"
    st, params = state_counts(p, {"set_key": f"{col}_key"}, period=period, builds=False)
    sql = f"""WITH {st},
pk AS (SELECT DISTINCT set_key, version FROM package_sets
       WHERE ecosystem = $ecosystem AND normalized = $package),
agg AS (SELECT CAST(CAST(g.period AS DATE) AS VARCHAR) AS period, pk.version AS version,
          SUM(g.projects) AS projects
        FROM g JOIN pk ON pk.set_key = g.set_key
        GROUP BY g.period, pk.version),
{_version_keys()}
SELECT agg.period AS period, agg.version AS version, agg.projects AS projects, {TIES}
FROM agg LEFT JOIN vk ON vk.version = agg.version CROSS JOIN tie
ORDER BY agg.period ASC, vk.sort_key DESC NULLS LAST, agg.version DESC"""
    return sql, {**params, "ecosystem": p.ecosystem, "package": p.package}


def build_extensions(p: ReportParams) -> Sql:
    """Doctool extensions (Sphinx extensions; MkDocs plugins with --kind plugin) by projects."""
    kind = p.kind or "extension"
    if kind not in EXTENSION_KINDS:
        raise QueryError(f"--kind: expected one of {', '.join(EXTENSION_KINDS)}, got {kind!r}")
    st, params = state_counts(p, {"set_key": "doctool_set_key"}, builds=False)
    sql = f"""WITH {st},
ds AS (SELECT DISTINCT set_key, name FROM doctool_sets WHERE kind = $kind)
SELECT ds.name AS extension, SUM(g.projects) AS projects, {TIES}
FROM g JOIN ds ON ds.set_key = g.set_key CROSS JOIN tie
GROUP BY ds.name, tie.ties
ORDER BY projects DESC, extension ASC{_limit("extensions", p)}"""
    return sql, {**params, "kind": kind}


def build_themes(p: ReportParams) -> Sql:
    """Doctool themes by projects."""
    st, params = state_counts(p, {"theme": "theme"}, builds=False)
    sql = f"""WITH {st}
SELECT g.theme AS theme, g.projects AS projects, {TIES} FROM g CROSS JOIN tie
WHERE g.theme IS NOT NULL
ORDER BY projects DESC, theme ASC{_limit("themes", p)}"""
    return sql, params


def build_breakdown(p: ReportParams) -> Sql:
    """Projects and builds per value of a column, a build tool or a config key."""
    _need(p, "by")
    by = p.by or ""
    order = f"ORDER BY projects DESC, builds DESC, value ASC NULLS LAST{_limit('breakdown', p)}"
    if by in BREAKDOWN_COLUMNS:
        st, params = state_counts(p, {"value": by})
        sql = f"""WITH {st}
SELECT g.value AS value, g.projects AS projects, g.builds AS builds, {TIES}
FROM g CROSS JOIN tie
{order}"""
        return sql, params
    if by.startswith("tool:") and len(by) > 5:
        st, params = state_counts(p, {"k": "tools_set_key"})
        sql = f"""WITH {st},
t AS (SELECT set_key, MIN(version) AS value FROM tools_sets WHERE name = $tool GROUP BY set_key)
SELECT t.value AS value, SUM(g.projects) AS projects, SUM(g.builds) AS builds, {TIES}
FROM g LEFT JOIN t ON t.set_key = g.k CROSS JOIN tie
GROUP BY t.value, tie.ties
{order}"""
        return sql, {**params, "tool": by[5:].lower()}
    if by.startswith("config:") and len(by) > 7:
        st, params = state_counts(p, {"k": "config_key"})
        sql = f"""WITH {st},
cv AS (SELECT config_key, value FROM (
         SELECT config_key, value, ROW_NUMBER() OVER (PARTITION BY config_key
           ORDER BY CASE WHEN source = 'final' THEN 0 ELSE 1 END, value) AS vn
         FROM config_values WHERE key = $key) x
       WHERE vn = 1)
SELECT cv.value AS value, SUM(g.projects) AS projects, SUM(g.builds) AS builds, {TIES}
FROM g LEFT JOIN cv ON cv.config_key = g.k CROSS JOIN tie
GROUP BY cv.value, tie.ties
{order}"""
        return sql, {**params, "key": by[7:]}
    raise QueryError(
        f"--by: expected one of {', '.join(BREAKDOWN_COLUMNS)}, tool:NAME or config:KEY, got {by!r}"
    )


def build_config_keys(p: ReportParams) -> Sql:
    """Config keys the users set (dotted paths), by projects."""
    st, params = state_counts(p, {"k": "config_key"}, builds=False)
    sql = f"""WITH {st},
ck AS (SELECT DISTINCT config_key, key FROM config_keys)
SELECT ck.key AS key, SUM(g.projects) AS projects, {TIES}
FROM g JOIN ck ON ck.config_key = g.k CROSS JOIN tie
GROUP BY ck.key, tie.ties
ORDER BY projects DESC, key ASC{_limit("config-keys", p)}"""
    return sql, params


def _percentile(pct: int) -> tuple[str, str, str]:
    """Lower row, upper row and fraction of the linear-interpolated pct% quantile of `n` rows.

    Integer arithmetic: h = (n - 1) * pct / 100, so FLOOR/CEIL are exact (a non-integer h is at
    least 0.01 away from an integer) and the fraction is (n - 1) * pct % 100 / 100.
    """
    m = f"(n - 1) * {int(pct)}"
    return (
        f"MAX(CASE WHEN i = FLOOR({m} / 100) + 1 THEN length END)",
        f"MAX(CASE WHEN i = CEIL({m} / 100) + 1 THEN length END)",
        f"MAX(({m} % 100) / 100)",
    )


def round3(expr: str) -> str:
    """`expr` (DOUBLE) rounded to 3 decimals, half away from zero, the same on every engine.

    ROUND on a DOUBLE is not portable at ties (x.xxx5, common once p50 interpolates lengths
    with 3 decimals): DuckDB rounds the binary product x * 1000, Spark the shortest decimal
    text of x. Both cast a DOUBLE to DECIMAL(38, 9) alike, and ROUND on a DECIMAL is exact.
    """
    return f"CAST(ROUND(CAST({expr} AS DECIMAL(38, 9)), 3) AS DOUBLE)"


def _quantile_rows(name: str, source: str) -> str:
    """CTE `name`: per project_key of `source` (project_key, length rows): builds, max and
    the rows/fraction of the linear-interpolated p50 and p95."""
    lo50, hi50, f50 = _percentile(50)
    lo95, hi95, f95 = _percentile(95)
    return f"""{name} AS (SELECT project_key, COUNT(*) AS builds,
        MAX(length) AS mx, {lo50} AS lo50, {hi50} AS hi50, {f50} AS f50,
        {lo95} AS lo95, {hi95} AS hi95, {f95} AS f95
      FROM (SELECT project_key, length,
          ROW_NUMBER() OVER (PARTITION BY project_key ORDER BY length ASC NULLS LAST) AS i,
          COUNT(length) OVER (PARTITION BY project_key) AS n
        FROM {source}) r
      GROUP BY project_key)"""


def build_build_time(p: ReportParams) -> Sql:
    """Per project: builds in the window and p50/p95/max build length (seconds).

    Slowest p95 first, so with a limit L only projects that can reach the top L need their
    percentiles (a sort of their builds). One pass gives each project a lower bound of its p95
    from its count, shortest and longest build (with n ≤ 21 lengths the p95 interpolates
    towards the longest one: p95 ≥ min + f·(max − min), f the interpolation fraction); the L-th
    largest bound `t` is at most the L-th best p95, and a p95 never exceeds the longest build,
    so only projects whose longest build reaches `t` (less 1 ms, so that ties after rounding to
    ms keep their order by name) can reach the top; of those, a p95 ≥ t needs the builds above
    the interpolated pair (n − 1 − ⌊0.95 (n − 1)⌋ of them) to reach it too, counted in one more
    pass over just those projects. Only the rest are ranked: the head of the full ranking.
    That pass filters the builds by length before joining them to the candidates (as written,
    not left to the optimizer, which joined all builds first: a third of the report's time).
    Names are read from `projects` for the ranked projects only.
    """
    where, params = window_filter(p)
    n = DEFAULT_LIMITS["build-time"] if p.limit is None else int(p.limit)
    w = f"w AS (SELECT project_key, length FROM builds WHERE {where})"
    if n:
        cand = f"""m AS (SELECT project_key, COUNT(length) AS n, MIN(length) AS mn,
        MAX(length) AS mx FROM w GROUP BY project_key),
b AS (SELECT CASE WHEN n = 1 THEN mx WHEN n <= 21 THEN mn + ((n - 1) * 95 % 100) / 100 * (mx - mn)
        ELSE mn END AS lb FROM m WHERE n > 0),
t AS (SELECT CASE WHEN COUNT(*) >= {n} THEN MIN(lb) END AS t FROM (
        SELECT lb FROM b ORDER BY lb DESC LIMIT {n}) x),
c0 AS (SELECT m.project_key AS project_key, m.n AS n FROM m CROSS JOIN t
      WHERE t.t IS NULL OR m.mx >= t.t - 0.001),
h AS (SELECT x.project_key AS project_key, COUNT(*) AS hi FROM (
        SELECT w.project_key AS project_key FROM w CROSS JOIN t
        WHERE t.t IS NULL OR w.length >= t.t - 0.001) x
      JOIN c0 ON c0.project_key = x.project_key GROUP BY x.project_key),
c AS (SELECT c0.project_key AS project_key FROM c0 JOIN h ON h.project_key = c0.project_key
      WHERE h.hi >= c0.n - 1 - ((c0.n - 1) * 95 - (c0.n - 1) * 95 % 100) / 100),
{_quantile_rows("q", "w WHERE project_key IN (SELECT project_key FROM c)")}"""
    else:
        cand = _quantile_rows("q", "w")
    sql = f"""WITH {w},
{cand},
{project_names("SELECT project_key FROM q")}
SELECT nm.project AS project, q.builds AS builds,
  {round3("lo50 + f50 * (hi50 - lo50)")} AS p50,
  {round3("lo95 + f95 * (hi95 - lo95)")} AS p95,
  {round3("mx")} AS max
FROM q LEFT JOIN nm ON nm.project_key = q.project_key
ORDER BY p95 DESC NULLS LAST, project ASC{_limit("build-time", p)}"""
    return sql, params


# ------------------------------------------------------------------------------------ impact


def impact_conditions(p: ReportParams) -> list[Condition]:
    """The parsed `--where` expressions of an impact request (at least one)."""
    if not p.where:
        raise QueryError("impact needs at least one --where EXPR (e.g. --where 'pip:sphinx<2')")
    return [parse_where(w) for w in p.where]


def resolve_sql(cond: Condition, prefix: str = "r") -> Sql | None:
    """Query listing the distinct versions (column `version`) a condition's specifier is
    checked against; its parameters are named `<prefix>_...` (see `resolve_all_sql`)."""
    if not cond.needs_versions:
        return None
    if cond.kind == "package":
        return (
            f"SELECT DISTINCT version FROM package_sets WHERE ecosystem = ${prefix}_e "
            f"AND normalized = ${prefix}_n AND version IS NOT NULL",
            {f"{prefix}_e": cond.ecosystem, f"{prefix}_n": cond.name},
        )
    if cond.kind == "python":
        # Every `builds.python` value is in `versions` (a small table): some may have no build
        # in the window, which only lengthens the IN list, not the answer.
        return (
            "SELECT DISTINCT version FROM versions WHERE ecosystem = 'python' "
            "AND version IS NOT NULL",
            {},
        )
    if cond.kind == "tool":
        return (
            f"SELECT DISTINCT version FROM tools_sets WHERE name = ${prefix}_n "
            "AND version IS NOT NULL",
            {f"{prefix}_n": cond.name},
        )
    return None


def resolve_queries(conds: list[Condition]) -> list[Sql | None]:
    """`resolve_sql` of each condition (parameters named apart), None where none is needed."""
    return [resolve_sql(cond, f"r{i}") for i, cond in enumerate(conds)]


def resolve_all_sql(queries: list[Sql | None]) -> Sql | None:
    """The `resolve_queries` as one query (one round trip, one plan): rows (`i`, `version`)
    with `i` the condition's index, ordered; None when no condition needs one."""
    parts: list[str] = []
    params: dict[str, Any] = {}
    for i, q in enumerate(queries):
        if q is not None:
            parts.append(f"SELECT {i} AS i, version FROM ({q[0]}) v{i}")
            params.update(q[1])
    if not parts:
        return None
    return " UNION ALL ".join(parts) + " ORDER BY i, version", params


def _in_list(prefix: str, values: InList | None, params: dict[str, Any]) -> str:
    if values is None:
        raise QueryError("internal: specifier not resolved before building the query")
    if not values.values:
        return "1 = 0"
    names = []
    for j, v in enumerate(values.values):
        params[f"{prefix}_v{j}"] = v
        names.append(f"${prefix}_v{j}")
    return f"IN ({', '.join(names)})"


def _condition_sql(
    i: int, cond: Condition, resolved: InList | None, scope: str, params: dict[str, Any]
) -> tuple[str | None, str | None, str, str, set[str]]:
    """(cte, join, predicate, matched expr, builds columns needed) for condition i."""
    c = f"c{i}"
    pre = f"w{i}"
    if cond.kind in ("package", "tool"):
        if cond.kind == "package":
            col = set_column(cond.ecosystem or "", scope)
            params[f"{pre}_e"] = cond.ecosystem
            params[f"{pre}_n"] = cond.name
            filt = f"ecosystem = ${pre}_e AND normalized = ${pre}_n"
            table = "package_sets"
        else:
            col = "tools_set"
            params[f"{pre}_n"] = cond.name
            filt = f"name = ${pre}_n"
            table = "tools_sets"
        if cond.needs_versions:
            lst = _in_list(pre, resolved, params)
            filt += " AND 1 = 0" if lst == "1 = 0" else f" AND version {lst}"
        cte = (
            f"{c} AS (SELECT set_key, MIN(version) AS m FROM {table} WHERE {filt} GROUP BY set_key)"
        )
        join = f"LEFT JOIN {c} ON {c}.set_key = w.{col}_key"
        return cte, join, f"{c}.set_key IS NOT NULL", f"{c}.m", {f"{col}_key"}
    if cond.kind == "any_package":
        cols = sorted(v for (e, _), v in SET_COLUMNS.items() if e == cond.ecosystem)
        pred = "(" + " OR ".join(f"w.{x}_key IS NOT NULL" for x in cols) + ")"
        return None, None, pred, "CAST(NULL AS VARCHAR)", {f"{x}_key" for x in cols}
    if cond.kind == "python":
        if cond.needs_versions:
            lst = _in_list(pre, resolved, params)
            pred = "1 = 0" if lst == "1 = 0" else f"w.python {lst}"
        else:
            pred = "w.python IS NOT NULL"
        return None, None, pred, "w.python", {"python"}
    if cond.kind == "config_value":
        params[f"{pre}_k"] = cond.name
        params[f"{pre}_v"] = cond.value
        cte = (
            f"{c} AS (SELECT DISTINCT config_key FROM config_values "
            f"WHERE key = ${pre}_k AND value = ${pre}_v)"
        )
        join = f"LEFT JOIN {c} ON {c}.config_key = w.config_key"
        return cte, join, f"{c}.config_key IS NOT NULL", "CAST(NULL AS VARCHAR)", {"config_key"}
    if cond.kind == "config_key":
        params[f"{pre}_k"] = cond.name
        params[f"{pre}_p"] = f"{cond.name}."
        params[f"{pre}_l"] = len(cond.name or "") + 1
        cte = (
            f"{c} AS (SELECT DISTINCT config_key FROM config_keys "
            f"WHERE key = ${pre}_k OR SUBSTR(key, 1, ${pre}_l) = ${pre}_p)"
        )
        join = f"LEFT JOIN {c} ON {c}.config_key = w.config_key"
        return cte, join, f"{c}.config_key IS NOT NULL", "CAST(NULL AS VARCHAR)", {"config_key"}
    # column = value
    params[f"{pre}_v"] = cond.value
    return None, None, f"w.{cond.name} = ${pre}_v", f"w.{cond.name}", {cond.name or ""}


def build_impact(p: ReportParams) -> Sql:
    """Projects whose state matches every `--where`, builds matching, and the affected list.

    One row per affected project (project, last_build, m0..mN = what each condition matched),
    each carrying the totals `projects` and `builds`; a single row with NULL project when no
    project is affected. The runner shapes it into {"projects", "builds", "affected"}.
    """
    conds = impact_conditions(p)
    resolved = p.resolved or tuple(None for _ in conds)
    if len(resolved) != len(conds):
        raise QueryError("internal: resolved value lists do not match the --where expressions")
    where, params = window_filter(p)
    ctes: list[str] = []
    joins: list[str] = []
    preds: list[str] = []
    matched: list[str] = []
    columns: set[str] = set()
    for i, (cond, res) in enumerate(zip(conds, resolved, strict=True)):
        cte, join, pred, m, cols = _condition_sql(i, cond, res, p.scope or "all", params)
        if cte:
            ctes.append(cte)
        if join:
            joins.append(join)
        preds.append(pred)
        matched.append(f"{m} AS m{i}")
        columns |= cols
    wcols = ", ".join(["project_key", "build_id", "start", *sorted(columns)])
    ms = ", ".join(f"m{i}" for i in range(len(conds)))
    limit = _limit("impact", p)
    cte_sql = "".join(f"{c},\n" for c in ctes)
    src = f"(SELECT {wcols} FROM builds WHERE {where}) w"
    hit = f"CASE WHEN {' AND '.join(preds)} THEN 1 ELSE 0 END AS hit"
    # Per project: matching builds, the latest start and the latest start of a matching build;
    # only projects where a build at their latest start matched are re-read (their builds at
    # that start) to pick the state build by the larger build id, and what it matched.
    # Projects are grouped by their integer key; names come from `projects`, for the
    # affected projects only.
    sql = f"""WITH {cte_sql}ps AS (SELECT project_key, SUM(hit) AS n, MAX(start) AS pm,
        MAX(CASE WHEN hit = 1 THEN start END) AS hm
      FROM (SELECT w.project_key AS project_key, w.start AS start, {hit}
        FROM {src} {" ".join(joins)}) x
      GROUP BY project_key),
need AS (SELECT project_key, pm FROM ps WHERE hm = pm),
r AS (SELECT w.project_key AS project_key, w.build_id AS build_id, {", ".join(matched)}, {hit},
        ROW_NUMBER() OVER (PARTITION BY w.project_key
          ORDER BY LENGTH(w.build_id) DESC, w.build_id DESC) AS rn
      FROM {src} JOIN need t ON t.project_key = w.project_key AND t.pm = w.start
      {" ".join(joins)}),
tot AS (SELECT COALESCE(SUM(n), 0) AS builds FROM ps),
{project_names("SELECT project_key FROM r WHERE rn = 1 AND hit = 1")},
aff AS (SELECT nm.project AS project, r.build_id AS last_build, {ms}
      FROM r LEFT JOIN nm ON nm.project_key = r.project_key WHERE r.rn = 1 AND r.hit = 1),
cnt AS (SELECT COUNT(*) AS projects FROM aff),
lim AS (SELECT project, last_build, {ms} FROM aff ORDER BY project ASC{limit})
SELECT cnt.projects AS projects, tot.builds AS builds, lim.project AS project,
  lim.last_build AS last_build, {", ".join(f"lim.m{i} AS m{i}" for i in range(len(conds)))}
FROM cnt CROSS JOIN tot LEFT JOIN lim ON 1 = 1
ORDER BY lim.project ASC"""
    return sql, params
