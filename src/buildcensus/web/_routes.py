"""HTTP edge of the dashboard: login, pages, CSV, static files and the public statistics.

Pages are rendered on the server (charts are inline SVG from `_charts`), so a page needs one
request for its HTML and two cached, local static files; nothing is ever loaded from another
host, and the Content-Security-Policy forbids it anyway.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import duckdb
import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from buildcensus import __version__
from buildcensus.errors import QueryError, WarehouseError
from buildcensus.service.http_errors import ApiError
from buildcensus.web import _data
from buildcensus.web._charts import fmt
from buildcensus.web._session import COOKIE, LIFETIME, SessionStore

router = APIRouter(include_in_schema=False)

HERE = Path(__file__).parent
STATIC_PREFIX = "/_dashboard/static"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
QUERY_SECONDS = 30.0
PUBLIC_TTL = 300.0  # seconds the public documents are reused (windows move with the clock)
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

#: (path, nav label, private only)
NAV = (
    ("/", "Overview", False),
    ("/packages", "Packages", False),
    ("/extensions", "Extensions & themes", False),
    ("/environment", "Python / OS / tools", False),
    ("/config-keys", "Config keys", False),
    ("/build-time", "Build time", True),
    ("/impact", "Deprecation impact", False),
    ("/regressions", "Regressions", False),
)

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return fmt(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return str(value)


_env.filters["cell"] = _cell


@lru_cache(maxsize=16)
def _static(name: str) -> tuple[bytes, str] | None:
    path = HERE / "static" / name
    if "/" in name or name.startswith(".") or path.suffix not in STATIC_TYPES:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data, hashlib.sha256(data).hexdigest()[:12]


def static_url(name: str) -> str:
    """URL of a static file, versioned by its content so it can be cached for long."""
    found = _static(name)
    return f"{STATIC_PREFIX}/{name}?v={found[1] if found else __version__}"


# ---------------------------------------------------------------------------- auth


def _sessions(request: Request) -> SessionStore:
    state = request.app.state
    store = getattr(state, "web_sessions", None)
    if store is None:
        store = state.web_sessions = SessionStore()
    return store


def _now(request: Request) -> datetime:
    """The clock of the windows: `app.state.clock()` when set (tests), else the current time."""
    clock = getattr(request.app.state, "clock", None)
    now = clock() if clock is not None else datetime.now(UTC)
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now


def _public(request: Request) -> bool:
    return bool(getattr(request.app.state, "public", False))


def _k(request: Request) -> int:
    return int(getattr(request.app.state, "min_projects", 10))


def _has_read(request: Request, token: str | None) -> bool:
    if not token:
        return False
    scopes = request.app.state.tokens.scopes_of(token)
    return scopes is not None and "read" in scopes


def _authorized(request: Request) -> bool:
    """Public mode, a live session whose token still has read scope, or a bearer read token."""
    if _public(request):
        return True
    if _has_read(request, _sessions(request).token(request.cookies.get(COOKIE))):
        return True
    header = request.headers.get("authorization", "")
    return header[:7].lower() == "bearer " and _has_read(request, header[7:].strip())


def _safe_next(value: str | None) -> str:
    """Only same-site paths: never `//host` or a scheme (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)


# ------------------------------------------------------------------------- rendering


def _headers(request: Request) -> dict[str, str]:
    return {
        "content-security-policy": CSP,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "cache-control": "no-store" if not _public(request) else "public, max-age=60",
    }


def _days(request: Request) -> int:
    try:
        days = int(request.query_params.get("days", _data.DEFAULT_DAYS))
    except ValueError:
        return _data.DEFAULT_DAYS
    return days if days in _data.WINDOWS else _data.DEFAULT_DAYS


def _window_links(request: Request, days: int) -> list[dict[str, Any]]:
    links = []
    for d in _data.WINDOWS:
        q = [(k, v) for k, v in request.query_params.multi_items() if k != "days"]
        q.append(("days", str(d)))
        links.append({"days": d, "href": request.url.path + "?" + urlencode(q), "on": d == days})
    return links


def _render(request: Request, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    public = _public(request)
    nav = [
        {"href": href, "label": label, "on": request.url.path == href}
        for href, label, private in NAV
        if not (private and public)
    ]
    html = _env.get_template(template).render(
        css=static_url("dashboard.css"),
        js=static_url("dashboard.js"),
        nav=nav,
        public=public,
        k=_k(request),
        logged_in=not public and COOKIE in request.cookies,
        version=__version__,
        **ctx,
    )
    return HTMLResponse(html, status_code=status, headers=_headers(request))


def _compute(request: Request, days: int, build: Callable[..., Any]) -> Any:
    """Open the warehouse, run `build(view, warehouse)` under the time limit, close."""
    from buildcensus.warehouse import open_warehouse

    wh = open_warehouse(request.app.state.warehouse_url)
    con = wh.connect()
    timer = threading.Timer(QUERY_SECONDS, con.interrupt)
    timer.start()
    view = _data.View(con, _now(request), days, _public(request), _k(request))
    try:
        return build(view, wh)
    except duckdb.InterruptException:
        raise QueryError(f"the page took longer than {QUERY_SECONDS:.0f} s") from None
    finally:
        timer.cancel()
        con.close()


def _echo(request: Request) -> dict[str, Any]:
    """The form values of a failed request, shown again next to the error."""
    q = request.query_params
    form: dict[str, Any] = {k: q[k] for k in ("ecosystem", "package", "by", "min_builds") if k in q}
    if "where" in q:
        form["where"] = "\n".join(q.getlist("where"))
    return form


async def _page(request: Request, title: str, build: Callable[..., _data.Page]) -> Response:
    if not _authorized(request):
        return _to_login(request)
    days = _days(request)
    try:
        page = await run_in_threadpool(_compute, request, days, build)
    except QueryError as exc:
        page = _data.Page(title, form=_echo(request), error=str(exc), status=400)
    except WarehouseError as exc:
        page = _data.Page(title, form=_echo(request), error=str(exc), status=503)
    panels = [
        {"panel": p, "chart": Markup(p.chart), "file": f"{p.id}-{days}d"} for p in page.panels
    ]
    return _render(
        request,
        "page.html",
        status=page.status,
        page=page,
        panels=panels,
        days=days,
        windows=_window_links(request, days),
        path=request.url.path,
        csv_href="/impact.csv?" + urlencode(request.query_params.multi_items()),
    )


# ----------------------------------------------------------------------------- pages


@router.get("/", response_class=HTMLResponse)
async def overview_page(request: Request) -> Response:
    """Builds per day, active projects, success rate, doctool split, last import time."""
    return await _page(request, "Overview", lambda v, wh: _data.overview(v, wh.last_import_time()))


@router.get("/packages", response_class=HTMLResponse)
async def packages_page(request: Request) -> Response:
    """Package explorer: versions in ecosystem order, adoption over time."""
    q = request.query_params
    return await _page(
        request,
        "Package explorer",
        lambda v, wh: _data.packages(v, q.get("ecosystem"), q.get("package"), q.get("by")),
    )


@router.get("/extensions", response_class=HTMLResponse)
async def extensions_page(request: Request) -> Response:
    """Sphinx extensions, MkDocs plugins, themes."""
    return await _page(request, "Extensions and themes", lambda v, wh: _data.extensions(v))


@router.get("/environment", response_class=HTMLResponse)
async def environment_page(request: Request) -> Response:
    """Python, OS, build image, build tools."""
    return await _page(
        request, "Python, OS, build image and tools", lambda v, wh: _data.environment(v)
    )


@router.get("/config-keys", response_class=HTMLResponse)
async def config_keys_page(request: Request) -> Response:
    """Config keys users set."""
    return await _page(request, "Config keys users set", lambda v, wh: _data.config_keys(v))


@router.get("/build-time", response_class=HTMLResponse)
async def build_time_page(request: Request) -> Response:
    """Build length per project (private mode only)."""
    return await _page(request, "Build time per project", lambda v, wh: _data.build_time(v))


@router.get("/impact", response_class=HTMLResponse)
async def impact_page(request: Request) -> Response:
    """Deprecation impact of one or more conditions."""
    where = request.query_params.getlist("where")

    def build(v: _data.View, wh: Any) -> _data.Page:
        return _data.impact(v, _data.parse_conditions(where))

    return await _page(request, "Deprecation impact", build)


@router.get("/impact.csv")
async def impact_csv(request: Request) -> Response:
    """The affected projects as CSV (private mode only)."""
    if _public(request):
        raise ApiError(404, "not_found", "not available in public mode")
    if not _authorized(request):
        return _to_login(request)
    days = _days(request)
    try:
        where = _data.parse_conditions(request.query_params.getlist("where"))
        if not where:
            raise QueryError("give at least one condition, e.g. where=pip:sphinx<2")
        text = await run_in_threadpool(
            _compute, request, days, lambda v, wh: _data.impact_csv(v, where)
        )
    except QueryError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    except WarehouseError as exc:
        raise ApiError(503, "unavailable", str(exc)) from None
    return PlainTextResponse(
        text,
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="impact-{days}d.csv"',
            "cache-control": "no-store",
        },
    )


@router.get("/regressions", response_class=HTMLResponse)
async def regressions_page(request: Request) -> Response:
    """Releases after which builds fail more often."""
    try:
        min_builds = max(1, min(1_000_000, int(request.query_params.get("min_builds", 5))))
    except ValueError:
        min_builds = 5
    return await _page(request, "Regressions", lambda v, wh: _data.regressions(v, min_builds))


# ----------------------------------------------------------------------------- login


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    """The login page: paste a read-scope token."""
    if _public(request):
        return RedirectResponse("/", status_code=303)
    return _render(
        request, "login.html", next=_safe_next(request.query_params.get("next")), error=None
    )


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Check the token; on success keep a session id in an HttpOnly cookie."""
    if _public(request):
        return RedirectResponse("/", status_code=303)
    form = await request.form()
    token = str(form.get("token") or "").strip()
    target = _safe_next(str(form.get("next") or "/"))
    scopes = request.app.state.tokens.scopes_of(token) if token else None
    if scopes is None or "read" not in scopes:
        error = "invalid token" if scopes is None else "this token has no read scope"
        return _render(request, "login.html", status=401, next=target, error=error)
    sid = _sessions(request).create(token)
    resp = RedirectResponse(target, status_code=303)
    resp.set_cookie(
        COOKIE,
        sid,
        max_age=LIFETIME,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return resp


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session."""
    _sessions(request).delete(request.cookies.get(COOKIE))
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp


# ---------------------------------------------------------------------------- static


@router.get(STATIC_PREFIX + "/{name}")
async def static_file(name: str) -> Response:
    """The dashboard's CSS and JS (long-cached; the URL carries a content hash)."""
    found = _static(name)
    if found is None:
        raise ApiError(404, "not_found", f"no static file {name!r}")
    data, _ = found
    return Response(
        data,
        media_type=STATIC_TYPES[Path(name).suffix],
        headers={"cache-control": "public, max-age=604800", "x-content-type-options": "nosniff"},
    )


# ------------------------------------------------------------------ public statistics

_public_lock = threading.Lock()


def _public_docs(request: Request) -> dict[str, dict[str, Any]]:
    """The `buildcensus publish` documents, recomputed at most every PUBLIC_TTL seconds."""
    from buildcensus.publish import build_public
    from buildcensus.warehouse import open_warehouse

    state = request.app.state
    clocked = getattr(state, "clock", None) is not None
    key = (state.warehouse_url, _k(request))
    with _public_lock:
        cached = getattr(state, "web_public_cache", None)
        if cached and cached[0] == key and cached[1] > time.monotonic() and not clocked:
            return cached[2]
        con = open_warehouse(state.warehouse_url).connect()
        try:
            docs = build_public(con, _now(request), _k(request))
        finally:
            con.close()
        state.web_public_cache = (key, time.monotonic() + PUBLIC_TTL, docs)
        return docs


async def _public_response(request: Request, rel: str) -> Response:
    from buildcensus.publish import dumps

    try:
        docs = await run_in_threadpool(_public_docs, request)
    except WarehouseError as exc:
        raise ApiError(503, "unavailable", str(exc)) from None
    doc = docs.get(rel)
    if doc is None:
        raise ApiError(404, "not_found", f"no public statistics at {rel}")
    return Response(
        dumps(doc),
        media_type="application/json",
        headers={"cache-control": "public, max-age=300", "access-control-allow-origin": "*"},
    )


@router.get("/api/v1/public/index.json")
async def public_index(request: Request) -> Response:
    """Every published package (the same document as `buildcensus publish` writes)."""
    return await _public_response(request, "index.json")


@router.get("/api/v1/public/{ecosystem}/{filename}")
async def public_package(request: Request, ecosystem: str, filename: str) -> Response:
    """One package's public statistics, e.g. `/api/v1/public/pip/sphinx.json`."""
    return await _public_response(request, f"{ecosystem}/{filename}")
