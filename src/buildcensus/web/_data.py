"""What each dashboard page shows: report rows, the K-project rule, charts. No HTTP here.

Every page function takes a `View` (a warehouse connection, the window and the mode) and
returns a `Page` of panels; each panel is a chart and the rows it was drawn from. The numbers
come from the named reports (`buildcensus.reports`, `buildcensus.explain`), so the dashboard,
the CLI and the JSON API agree.

Public mode keeps only rows used by at least `k` projects and never shows project names: the
build-time page and the impact list are private-only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from buildcensus.errors import QueryError
from buildcensus.reports import make_params, run_report, window_filter
from buildcensus.reports._params import ECOSYSTEMS, PERIODS, ReportParams
from buildcensus.reports._runner import _fetch
from buildcensus.web._charts import Series, bar_chart, column_chart

WINDOWS = (15, 30, 90, 365)
DEFAULT_DAYS = 30
CHART_ROWS = 30  # bars per category chart (the table and the reports API have the rest)
ADOPTION_SERIES = 8  # versions drawn separately in the adoption chart; the rest is "other"
MAX_CONDITIONS = 8
NONE_LABEL = "(none)"


@dataclass
class View:
    """One request's window and mode, with an open warehouse connection."""

    conn: Any
    now: datetime
    days: int = DEFAULT_DAYS
    public: bool = False
    k: int = 10

    def params(self, **options: Any) -> ReportParams:
        """Report parameters over this view's window."""
        return make_params(last=f"{self.days}d", now=self.now, **options)

    def report(self, name: str, **options: Any) -> list[dict[str, Any]]:
        """Rows of a named report over this view's window."""
        rows = run_report(name, self.params(**options), self.conn)
        assert isinstance(rows, list)
        return rows

    def keep(self, rows: list[dict[str, Any]], key: str = "projects") -> list[dict[str, Any]]:
        """Public mode: only rows used by at least k projects."""
        if not self.public:
            return rows
        return [r for r in rows if (r.get(key) or 0) >= self.k]


@dataclass
class Panel:
    """A chart and the table it was drawn from."""

    id: str
    title: str
    columns: list[str]
    rows: list[dict[str, Any]]
    chart: str = ""
    note: str = ""


@dataclass
class Page:
    """Headline figures, panels, and form state of one page."""

    title: str
    stats: list[tuple[str, str]] = field(default_factory=list)
    panels: list[Panel] = field(default_factory=list)
    form: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    status: int = 200


def label(value: Any) -> str:
    """A category label (NULL reads as `(none)`)."""
    return NONE_LABEL if value is None or value == "" else str(value)


def _hidden_note(view: View, before: int, after: int) -> str:
    hidden = before - after
    if not view.public or hidden <= 0:
        return ""
    return f"{hidden} value(s) used by fewer than {view.k} projects are not shown."


def category_panel(
    view: View,
    pid: str,
    title: str,
    rows: list[dict[str, Any]],
    key: str,
    columns: Sequence[str],
    value: str = "projects",
) -> Panel:
    """Rows of (category, projects[, builds]) as horizontal bars of `value`."""
    kept = [{**r, key: label(r[key])} for r in view.keep(rows)]
    shown = kept[:CHART_ROWS]
    chart = bar_chart(
        [r[key] for r in shown],
        [Series(value, [r[value] for r in shown])],
        title,
        x_label=value,
    )
    return Panel(pid, title, list(columns), kept, chart, _hidden_note(view, len(rows), len(kept)))


# ------------------------------------------------------------------------------ overview


def daily_sql(p: ReportParams) -> tuple[str, dict[str, Any]]:
    """Builds, successes, failures and distinct projects per UTC day of the window."""
    where, params = window_filter(p)
    sql = f"""SELECT CAST(day AS VARCHAR) AS day, COUNT(*) AS builds,
  SUM(CASE WHEN success = TRUE THEN 1 ELSE 0 END) AS succeeded,
  SUM(CASE WHEN success = FALSE THEN 1 ELSE 0 END) AS failed,
  COUNT(DISTINCT project) AS projects
FROM builds WHERE {where}
GROUP BY day ORDER BY day"""
    return sql, params


def totals_sql(p: ReportParams) -> tuple[str, dict[str, Any]]:
    """Builds, successes, failures and active projects (any build) in the window."""
    where, params = window_filter(p)
    sql = f"""SELECT COUNT(*) AS builds,
  COALESCE(SUM(CASE WHEN success = TRUE THEN 1 ELSE 0 END), 0) AS succeeded,
  COALESCE(SUM(CASE WHEN success = FALSE THEN 1 ELSE 0 END), 0) AS failed,
  COUNT(DISTINCT project) AS projects
FROM builds WHERE {where}"""
    return sql, params


def _days(p: ReportParams) -> list[str]:
    first, last = p.since.date(), (p.until - timedelta(microseconds=1)).date()
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def overview(view: View, last_import: datetime | None) -> Page:
    """Builds per day, active projects, success rate, doctool split, last import time."""
    p = view.params(include_failed=True)
    tot = _fetch(view.conn, *totals_sql(p))[0]
    small = view.public and tot["projects"] < view.k
    decided = tot["succeeded"] + tot["failed"]
    rate = f"{100 * tot['succeeded'] / decided:.1f} %" if decided and not small else "–"
    page = Page("Overview")
    page.stats = [
        ("builds", "–" if small else f"{tot['builds']:,}"),
        ("active projects", f"fewer than {view.k}" if small else f"{tot['projects']:,}"),
        ("success rate", rate),
        ("last import", last_import.strftime("%Y-%m-%d %H:%M UTC") if last_import else "never"),
    ]
    raw = _fetch(view.conn, *daily_sql(p))
    daily = view.keep(raw)
    by_day = {r["day"]: r for r in daily}
    days = _days(p)
    chart = column_chart(
        days,
        [
            Series("succeeded", [(by_day.get(d) or {}).get("succeeded") for d in days]),
            Series("failed", [(by_day.get(d) or {}).get("failed") for d in days]),
        ],
        "Builds per day",
        "builds",
    )
    cols = ["day", "builds", "succeeded", "failed", "projects"]
    note = _hidden_note(view, len(raw), len(daily)).replace("value(s)", "day(s)")
    page.panels.append(Panel("builds-per-day", "Builds per day", cols, daily, chart, note))
    doctools = view.report("breakdown", by="doctool")
    page.panels.append(
        category_panel(
            view, "doctools", "Doctool split", doctools, "value", ["value", "projects", "builds"]
        )
    )
    return page


# ------------------------------------------------------------------------ package explorer


def packages(view: View, ecosystem: str | None, package: str | None, by: str | None) -> Page:
    """Top packages; one package's versions (ecosystem order) and adoption over time."""
    eco = ecosystem if ecosystem in ECOSYSTEMS else "pip"
    period = by if by in PERIODS else ("week" if view.days <= 90 else "month")
    top = view.report("top", ecosystem=eco, limit=200)
    top_kept = view.keep(top)
    pkg = (package or "").strip() or (top_kept[0]["package"] if top_kept else "")
    page = Page("Package explorer")
    page.form = {
        "ecosystem": eco,
        "package": pkg,
        "by": period,
        "choices": [r["package"] for r in top_kept],
    }
    page.panels.append(
        category_panel(
            view,
            "top-packages",
            f"Most used {eco} packages",
            top_kept[:CHART_ROWS],
            "package",
            ["package", "projects", "builds"],
        )
    )
    if not pkg:
        return page
    versions = view.report("versions", ecosystem=eco, package=pkg)
    kept = view.keep(versions)
    ordered = list(reversed(kept))  # the report is newest first; charts read old -> new
    title = f"{eco}:{pkg}: projects per installed version"
    chart = column_chart(
        [r["version"] for r in ordered],
        [Series("projects", [r["projects"] for r in ordered])],
        title,
        "projects",
    )
    page.panels.append(
        Panel(
            "versions",
            title,
            ["version", "projects", "builds"],
            ordered,
            chart,
            _hidden_note(view, len(versions), len(kept)),
        )
    )
    adoption = view.report("adoption", ecosystem=eco, package=pkg, by=period)
    akept = view.keep(adoption)
    title = f"{eco}:{pkg}: adoption per {period} (projects by version)"
    page.panels.append(
        Panel(
            "adoption",
            title,
            ["period", "version", "projects"],
            akept,
            adoption_chart(akept, [r["version"] for r in versions], title),
            _hidden_note(view, len(adoption), len(akept)),
        )
    )
    return page


def adoption_chart(rows: list[dict[str, Any]], version_order: list[str], title: str) -> str:
    """Stacked columns per period: the most used versions, the rest summed as `other`."""
    periods = sorted({r["period"] for r in rows})
    totals: dict[str, int] = {}
    for r in rows:
        totals[r["version"]] = totals.get(r["version"], 0) + r["projects"]
    rank = {v: i for i, v in enumerate(version_order)}
    top = sorted(totals, key=lambda v: -totals[v])[:ADOPTION_SERIES]
    top.sort(key=lambda v: rank.get(v, len(rank)))
    cells = {(r["period"], r["version"]): r["projects"] for r in rows}
    series = [Series(v, [cells.get((p, v)) for p in periods]) for v in top]
    rest = [v for v in totals if v not in top]
    if rest:
        other = [sum(cells.get((p, v), 0) for v in rest) or None for p in periods]
        series.append(Series("other", other))
    return column_chart(periods, series, title, "projects")


# ---------------------------------------------------------------- categories pages


def extensions(view: View) -> Page:
    """Sphinx extensions, MkDocs plugins and themes by projects."""
    page = Page("Extensions and themes")
    for kind, pid, title in (
        ("extension", "extensions", "Sphinx extensions"),
        ("plugin", "plugins", "MkDocs plugins"),
    ):
        rows = view.report("extensions", kind=kind, limit=100)
        page.panels.append(
            category_panel(view, pid, title, rows, "extension", ["extension", "projects"])
        )
    rows = view.report("themes", limit=100)
    page.panels.append(
        category_panel(view, "themes", "Themes", rows, "theme", ["theme", "projects"])
    )
    return page


def tool_names(view: View, limit: int = 6) -> list[str]:
    """Build tools (build.tools) seen in the warehouse, most common first."""
    sql = (
        "SELECT name, COUNT(*) AS n FROM tools_sets GROUP BY name ORDER BY n DESC, name "
        f"LIMIT {int(limit)}"
    )
    return [r["name"] for r in _fetch(view.conn, sql, {})]


def environment(view: View) -> Page:
    """Python, OS, build image (config build.os) and build tools by projects."""
    page = Page("Python, OS, build image and tools")
    cols = ["value", "projects", "builds"]
    for by, pid, title in (
        ("python", "python", "Python versions"),
        ("os", "os", "Operating systems"),
        ("config:build.os", "build-image", "Build image (config build.os)"),
    ):
        rows = view.report("breakdown", by=by, limit=100)
        page.panels.append(category_panel(view, pid, title, rows, "value", cols))
    for tool in tool_names(view):
        rows = view.report("breakdown", by=f"tool:{tool}", limit=100)
        page.panels.append(
            category_panel(
                view, f"tool-{tool}", f"Build tool {tool}: versions", rows, "value", cols
            )
        )
    return page


def config_keys(view: View) -> Page:
    """Config keys users set, by projects."""
    page = Page("Config keys users set")
    rows = view.report("config-keys", limit=200)
    page.panels.append(
        category_panel(
            view, "config-keys", "Config keys users set", rows, "key", ["key", "projects"]
        )
    )
    return page


def build_time(view: View) -> Page:
    """Build length per project: p50 and p95 (private mode only: it names projects)."""
    page = Page("Build time per project")
    if view.public:
        return _private_only(page)
    rows = view.report("build-time", limit=50)
    shown = rows[:CHART_ROWS]
    chart = bar_chart(
        [r["project"] for r in shown],
        [Series("p50", [r["p50"] for r in shown]), Series("p95", [r["p95"] for r in shown])],
        "Build length per project (seconds), slowest p95 first",
        "seconds",
    )
    page.panels.append(
        Panel(
            "build-time",
            "Build length per project (seconds)",
            ["project", "builds", "p50", "p95", "max"],
            rows,
            chart,
        )
    )
    return page


def _private_only(page: Page) -> Page:
    page.error = "Not available in public mode: this page names projects."
    page.status = 404
    return page


# ------------------------------------------------------------------------------ impact


def parse_conditions(values: Sequence[str]) -> list[str]:
    """Conditions from form values: one per value or per line, blanks dropped."""
    out = [line.strip() for v in values for line in v.splitlines() if line.strip()]
    if len(out) > MAX_CONDITIONS:
        raise QueryError(f"at most {MAX_CONDITIONS} conditions")
    return out


def trend_windows(view: View) -> list[tuple[datetime, datetime]]:
    """Consecutive periods covering the window: weeks up to 90 days, else 30-day periods."""
    p = view.params()
    step = timedelta(days=7 if view.days <= 90 else 30)
    out: list[tuple[datetime, datetime]] = []
    start = p.since
    while start < p.until:
        out.append((start, min(start + step, p.until)))
        start += step
    return out


def impact_result(view: View, where: list[str]) -> dict[str, Any]:
    """The impact report over the view's window (all affected projects)."""
    result = run_report("impact", view.params(where=where), view.conn)
    assert isinstance(result, dict)
    return result


def impact(view: View, where: list[str]) -> Page:
    """Affected projects count, trend per period and (private mode) the list."""
    page = Page("Deprecation impact")
    page.form = {"where": "\n".join(where)}
    if not where:
        return page
    result = impact_result(view, where)
    small = view.public and result["projects"] < view.k
    page.stats = [
        ("affected projects", f"fewer than {view.k}" if small else f"{result['projects']:,}"),
        ("matching builds", "–" if small else f"{result['builds']:,}"),
    ]
    trend: list[dict[str, Any]] = []
    for since, until in trend_windows(view):
        p = make_params(since=since.isoformat(), until=until.isoformat(), where=where, limit=1)
        r = run_report("impact", p, view.conn)
        assert isinstance(r, dict)
        trend.append({"period": since.date().isoformat(), "projects": r["projects"]})
    kept = view.keep(trend)
    cells = {r["period"]: r["projects"] for r in kept}
    periods = [r["period"] for r in trend]
    title = "Affected projects per period (" + (" AND ".join(where)) + ")"
    chart = column_chart(
        periods, [Series("projects", [cells.get(p) for p in periods])], title, "projects"
    )
    page.panels.append(
        Panel(
            "impact-trend",
            "Affected projects per period",
            ["period", "projects"],
            kept,
            chart,
            _hidden_note(view, len(trend), len(kept)).replace("value(s)", "period(s)"),
        )
    )
    if not view.public:
        rows = [
            {
                "project": a["project"],
                "last_build": a["last_build"],
                "matched": "; ".join(a["matched"]),
            }
            for a in result["affected"]
        ]
        page.panels.append(
            Panel("impact-list", "Affected projects", ["project", "last_build", "matched"], rows)
        )
    return page


def impact_csv(view: View, where: list[str]) -> str:
    """The affected projects as CSV: project, last_build, matched."""
    result = impact_result(view, where)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["project", "last_build", "matched"])
    for a in result["affected"]:
        w.writerow([a["project"], a["last_build"], "; ".join(a["matched"])])
    return buf.getvalue()


# ------------------------------------------------------------------------- regressions

REGRESSION_COLUMNS = [
    "ecosystem",
    "package",
    "from",
    "to",
    "moved_builds",
    "moved_failures",
    "moved_projects",
    "moved_failure_rate",
    "stayed_builds",
    "stayed_failure_rate",
    "p_adjusted",
    "score",
    "significant",
]


def regressions(view: View, min_builds: int = 5) -> Page:
    """Package releases after which builds fail more often (`buildcensus report regressions`)."""
    from buildcensus.explain import RegressionQuery, find_regressions

    page = Page("Regressions")
    page.form = {"min_builds": min_builds}
    p = view.params()
    rows = find_regressions(
        view.conn, RegressionQuery(since=p.since, until=p.until, min_builds=min_builds)
    )
    kept = view.keep(rows, "moved_projects")
    shown = kept[:CHART_ROWS]
    labels = [f"{r['ecosystem']}:{r['package']} {r['from'] or '?'} → {r['to']}" for r in shown]
    chart = bar_chart(
        labels,
        [
            Series("builds that moved to the release", [r["moved_builds"] for r in shown]),
            Series("of which failed", [r["moved_failures"] for r in shown]),
        ],
        "Builds that moved to each new release, and their failures (strongest signal first)",
        "builds",
    )
    note = _hidden_note(view, len(rows), len(kept)).replace("value(s)", "release(s)")
    page.panels.append(
        Panel(
            "regressions",
            "Releases after which builds fail more often",
            REGRESSION_COLUMNS,
            [{c: r.get(c) for c in REGRESSION_COLUMNS} for r in kept],
            chart,
            note,
        )
    )
    return page


PageFunction = Callable[..., Page]
