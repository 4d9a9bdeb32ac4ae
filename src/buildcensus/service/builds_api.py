"""The ingest API: post records (one or a batch), read one back, health and metrics."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from buildcensus import __version__
from buildcensus.errors import NotFoundError
from buildcensus.names import is_build_id
from buildcensus.service.auth import require_scope
from buildcensus.service.http_errors import ERROR_RESPONSES, ApiError, ErrorDetail, json_response
from buildcensus.service.ingest import Ingestor, batch_answer
from buildcensus.service.metrics import CONTENT_TYPE

router = APIRouter()

RECORD_REF = {"$ref": "#/components/schemas/BuildRecord"}
EXAMPLE_RECORD = {
    "schema_version": 1,
    "project": {"slug": "demo"},
    "version": {"slug": "latest"},
    "build": {"id": 42, "start": "2026-12-01T10:00:00Z", "length": 30, "success": True},
    "config": {"user": {"version": 2, "build": {"os": "ubuntu-24.04"}}},
    "python": "3.12.13",
    "packages": {"pip": {"all": [{"name": "Sphinx", "version": "7.4.7"}]}},
    "doctool": {"name": "sphinx", "extensions": ["sphinx.ext.autodoc"], "theme": "furo"},
}


class StoreResponse(BaseModel):
    """One record accepted: `stored` (201) or already in the lake, `duplicate` (200)."""

    status: Literal["stored", "duplicate"]
    http_status: int
    key: str
    build_id: int | str
    duplicate: bool
    duplicate_of: str | None = None


class BatchItem(BaseModel):
    """The outcome of one batch item, in input order; `error` (with a path inside the item)
    is set when rejected."""

    index: int
    status: Literal["stored", "duplicate", "rejected"]
    http_status: int
    key: str | None = None
    build_id: int | str | None = None
    duplicate: bool | None = None
    duplicate_of: str | None = None
    error: ErrorDetail | None = None


class BatchResponse(BaseModel):
    """Per-item results and counts."""

    results: list[BatchItem]
    stored: int
    duplicates: int
    rejected: int


class Health(BaseModel):
    """Liveness."""

    status: Literal["ok"]
    version: str


def _ingestor(request: Request) -> Ingestor:
    return request.app.state.ingestor


@router.post(
    "/api/v1/builds",
    status_code=201,
    summary="Store one build record",
    responses={201: {"model": StoreResponse}, 200: {"model": StoreResponse}, **ERROR_RESPONSES},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": RECORD_REF, "example": EXAMPLE_RECORD}},
        }
    },
    dependencies=[Depends(require_scope("write"))],
)
async def post_build(request: Request) -> Response:
    """Validate and durably store one record: 201 `stored`, or 200 `duplicate` (a retry)."""
    return (await _ingestor(request).handle_one(request)).response()


@router.post(
    "/api/v1/builds/batch",
    summary="Store many build records",
    responses={200: {"model": BatchResponse}, **ERROR_RESPONSES},
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A JSON array of records, or NDJSON (one record per line).",
            "content": {
                "application/json": {
                    "schema": {"type": "array", "items": RECORD_REF},
                    "example": [EXAMPLE_RECORD],
                },
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
    dependencies=[Depends(require_scope("write"))],
)
async def post_batch(request: Request) -> Response:
    """Store each record of a batch; 200 with one result per item, in input order."""
    return batch_answer(await _ingestor(request).handle_batch(request))


@router.get(
    "/api/v1/builds/{build_id}",
    summary="One build's full record",
    responses={
        200: {
            "content": {"application/json": {"schema": RECORD_REF, "example": EXAMPLE_RECORD}},
        },
        **ERROR_RESPONSES,
    },
    dependencies=[Depends(require_scope("read"))],
)
async def get_build(request: Request, build_id: str) -> Response:
    """The raw record of one build, with its blobs re-hydrated."""
    if not is_build_id(build_id):
        raise ApiError(422, "invalid_build_id", "letters, digits, '-' and '_' only", "build_id")
    try:
        record = await run_in_threadpool(_ingestor(request).lake.get, build_id)
    except NotFoundError as exc:
        raise ApiError(404, "not_found", str(exc), "build_id") from None
    return json_response(record)


@router.get("/api/v1/health", summary="Liveness", response_model=Health)
async def health() -> Response:
    """`{"status": "ok"}` while the service runs."""
    return json_response({"status": "ok", "version": __version__})


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    """Requests, stored/duplicate/rejected records and latency, in Prometheus text format."""
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE)
