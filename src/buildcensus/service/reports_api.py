"""HTTP: `GET /api/v1/reports/<name>` for every named report (same JSON as the CLI).

The app mounts `router` with the read-scope dependency (service.app.OPTIONAL_ROUTERS). One
route per report name, so `/api/v1/reports/regressions` (explain_api) is not shadowed.
Queries run in a worker thread under a time limit (`app.state.reports_timeout`, default 30 s;
the DuckDB query is interrupted when it expires) and return at most `app.state.reports_max_rows`
rows (default 10,000; `X-Row-Cap-Reached: true` when cut).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from buildcensus.errors import QueryError, WarehouseError
from buildcensus.reports import REPORTS, ReportParams, connect_warehouse, make_params, run_report
from buildcensus.service.http_errors import ERROR_RESPONSES, ApiError, ErrorBody, json_response

router = APIRouter()

QUERY_SECONDS = 30.0
MAX_ROWS = 10_000
NAMES = (
    "versions", "top", "adoption", "extensions", "themes", "breakdown", "config-keys", "impact",
    "build-time",
)  # fmt: skip


def _execute(
    con: Any, name: str, params: ReportParams, max_rows: int
) -> list[dict[str, Any]] | dict[str, Any]:
    try:
        return run_report(name, params, con, max_rows=max_rows + 1)
    finally:
        con.close()


async def _run(request: Request, name: str, options: dict[str, Any]) -> Response:
    state = request.app.state
    timeout = float(getattr(state, "reports_timeout", QUERY_SECONDS))
    cap = int(getattr(state, "reports_max_rows", MAX_ROWS))
    try:
        params = make_params(**options)
        con = await run_in_threadpool(connect_warehouse, state.warehouse_url)
    except QueryError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    except WarehouseError as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    try:
        result = await asyncio.wait_for(
            run_in_threadpool(_execute, con, name, params, cap), timeout
        )
    except TimeoutError:
        con.interrupt()  # the worker thread then fails fast and closes the connection
        raise ApiError(503, "timeout", f"report took longer than {timeout:g} s") from None
    except QueryError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    except WarehouseError as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    rows = result["affected"] if isinstance(result, dict) else result
    capped = len(rows) > cap
    if capped:
        del rows[cap:]
    response = json_response(result)
    if capped:
        response.headers["X-Row-Cap-Reached"] = "true"
    return response


def _endpoint(name: str) -> Callable[..., Awaitable[Response]]:
    async def report(
        request: Request,
        since: str | None = Query(None, description="Window start, inclusive (UTC date or ISO)."),
        until: str | None = Query(None, description="Window end, exclusive (default: now)."),
        last: str | None = Query(None, description="Window length: 90d, 12w, 36h."),
        now: str | None = Query(None, description="Pin 'now' (ISO time)."),
        include_failed: bool = Query(False, description="Count failed builds too."),
        ecosystem: str | None = Query(None, description="pip, conda or apt."),
        package: str | None = Query(None, description="Package name."),
        scope: str | None = Query(None, description="all, top_level or user."),
        limit: int | None = Query(None, ge=0, le=1_000_000, description="At most N rows."),
        by: str | None = Query(
            None, description="breakdown: column/tool:NAME/config:KEY; adoption: week or month."
        ),
        kind: str | None = Query(None, description="extensions: extension, plugin, ..."),
        where: list[str] | None = Query(None, description="impact: condition (repeatable, AND)."),
    ) -> Response:
        options = {
            "since": since, "until": until, "last": last, "now": now,
            "include_failed": include_failed, "ecosystem": ecosystem, "package": package,
            "scope": scope, "limit": limit, "by": by, "kind": kind, "where": where,
        }  # fmt: skip
        return await _run(request, name, options)

    report.__name__ = f"report_{name.replace('-', '_')}"
    report.__doc__ = REPORTS[name].summary
    return report


for _name in NAMES:
    router.add_api_route(
        f"/api/v1/reports/{_name}",
        _endpoint(_name),
        methods=["GET"],
        summary=REPORTS[_name].summary,
        responses={
            **{k: v for k, v in ERROR_RESPONSES.items() if k in (400, 401, 403, 404, 422)},
            503: {"model": ErrorBody, "description": "query time limit"},
        },
    )
