"""HTTP: `GET /api/v1/builds/{a}/diff/{b}` and `GET /api/v1/reports/regressions` (read scope).

The app mounts `router` with the read-scope dependency (see `service.app.OPTIONAL_ROUTERS`).
Warehouse queries run in a worker thread under a time limit and return at most `limit` rows.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from buildcensus.errors import NotFoundError, QueryError, WarehouseError
from buildcensus.explain import COLUMNS, EXTRA_COLUMNS, RegressionQuery, diff_builds, parse_when
from buildcensus.explain import find_regressions as _find
from buildcensus.explain._sources import require_warehouse, warehouse_connection
from buildcensus.lake import Lake, open_lake
from buildcensus.names import is_build_id
from buildcensus.service.http_errors import ERROR_RESPONSES, ApiError, ErrorBody, json_response

router = APIRouter()

QUERY_SECONDS = 30.0
MAX_ROWS = 1000


def _check_id(value: str, name: str) -> None:
    if not is_build_id(value):
        raise ApiError(422, "invalid_build_id", "letters, digits, '-' and '_' only", name)


def _diff(lake: Lake, warehouse_url: str, a: str, b: str) -> dict[str, Any]:
    """The diff, finding the builds through the warehouse when it knows them."""
    con = warehouse_connection(warehouse_url)
    try:
        return diff_builds(lake, a, b, con)
    finally:
        if con is not None:
            con.close()


@router.get(
    "/api/v1/builds/{a}/diff/{b}",
    summary="What changed between two builds",
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 403, 404, 422)},
)
async def build_diff(request: Request, a: str, b: str) -> Response:
    """Packages added/removed/upgraded/downgraded, config keys, Python, OS, tools, doctool."""
    _check_id(a, "a")
    _check_id(b, "b")
    lake = open_lake(request.app.state.lake_url)
    try:
        result = await run_in_threadpool(_diff, lake, request.app.state.warehouse_url, a, b)
    except NotFoundError as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    return json_response(result)


def _regressions(url: str, query: RegressionQuery) -> list[dict[str, Any]]:
    con = require_warehouse(url, ("builds", "package_sets"))
    try:
        return _find(con, query)
    finally:
        con.close()


@router.get(
    "/api/v1/reports/regressions",
    summary="Package releases after which builds fail more often",
    responses={
        **{k: v for k, v in ERROR_RESPONSES.items() if k in (400, 401, 403, 404, 422)},
        503: {"model": ErrorBody, "description": "query time limit"},
    },
)
async def regressions(
    request: Request,
    since: str | None = Query(None, description="YYYY-MM-DD, ISO time, or 7d/36h/2w ago."),
    until: str | None = Query(None, description="Window end (exclusive)."),
    min_builds: int = Query(5, ge=1, le=1_000_000, description="Minimum moved builds."),
    alpha: float = Query(0.01, gt=0, lt=1, description="Significance level (Holm-adjusted)."),
    significant: bool = Query(False, description="Only rows above the threshold."),
    limit: int = Query(100, ge=1, le=MAX_ROWS, description="At most this many rows."),
) -> Response:
    """`[{ecosystem, package, from, to, moved_builds, ..., score}]`, strongest signal first."""
    now = datetime.now(UTC)
    try:
        query = RegressionQuery(
            since=parse_when(since, now) if since else None,
            until=parse_when(until, now) if until else None,
            min_builds=min_builds,
            alpha=alpha,
        )
        rows = await asyncio.wait_for(
            run_in_threadpool(_regressions, request.app.state.warehouse_url, query),
            QUERY_SECONDS,
        )
    except QueryError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    except WarehouseError as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except TimeoutError:
        raise ApiError(503, "timeout", f"query took longer than {QUERY_SECONDS:.0f} s") from None
    if significant:
        rows = [r for r in rows if r["significant"]]
    columns = COLUMNS + EXTRA_COLUMNS
    return json_response([{k: r[k] for k in columns} for r in rows[:limit]])
